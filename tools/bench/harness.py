"""Benchmark harness: single-thread pinning, adaptive timing, result rows, the table.

Timing contract (``measure_side_by_side``): every case is called once as a warmup, then
calibrated to a number of calls per sample (a sample lasts at least ``min_time / 10``,
so timer resolution and loop overhead are negligible); samples of all cases are then
taken in interleaved rounds (C, Python, numpy, C, ...) so machine drift hits every
column alike, until each case has at least ``min_samples`` samples and ``min_time``
seconds of samples. The reported time is the median over samples of seconds per call.
Garbage collection is disabled inside a sample, as ``timeit`` does.

Ratios are ``reference / theanolite``: above 1 means theanolite is faster.
"""
from __future__ import annotations

import gc
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

# Thread pools read these when the library loads, so they must be in the environment
# before numpy (and its OpenBLAS) is imported: the CLI re-executes itself with them.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
_REEXEC_MARK = "THEANOLITE_BENCH_REEXEC"


def threads_pinned() -> bool:
    """True if every thread-count variable of ``THREAD_VARS`` is ``1``."""
    return all(os.environ.get(name) == "1" for name in THREAD_VARS)


def pin_threads_or_reexec(module: str, argv: Sequence[str]) -> None:
    """Re-execute ``python -m module argv...`` with one thread per pool, unless pinned.

    numpy is already imported when a ``-m theanolite...`` entry point runs (the package
    imports it), so setting the variables now would not reach OpenBLAS: a fresh process
    is the reliable way. A marker variable stops a second re-exec if something resets
    the variables. If ``threadpoolctl`` is installed it additionally limits the pools
    that are already loaded (see ``limit_loaded_pools``).
    """
    if threads_pinned() or os.environ.get(_REEXEC_MARK):
        return
    env = dict(os.environ)
    env.update({name: "1" for name in THREAD_VARS})
    env.setdefault("XLA_FLAGS", _XLA_ONE_THREAD)
    env[_REEXEC_MARK] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)


def limit_loaded_pools() -> str:
    """Limit already-loaded BLAS/OpenMP pools to one thread with threadpoolctl, if present.

    Returns a short description for the table header. The limiter object is kept alive
    for the life of the process (dropping it would restore the old limits).
    """
    import importlib.util
    if importlib.util.find_spec("threadpoolctl") is None:
        return "threadpoolctl not installed"
    import threadpoolctl
    global _limiter
    _limiter = threadpoolctl.threadpool_limits(1)
    pools = threadpoolctl.threadpool_info()
    return "threadpoolctl: " + ", ".join(f"{p.get('internal_api')}={p.get('num_threads')}" for p in pools)


_limiter: Any = None


# ----------------------------------------------------------------------------- timing

@dataclass
class Timing:
    """Median seconds per call over ``samples`` samples of ``number`` calls each."""
    median: float
    number: int
    samples: int
    total: float


def _sample(fn: Callable, args: tuple, number: int) -> float:
    """Seconds for ``number`` calls of ``fn(*args)`` (loops specialized by arity so the
    bare-lambda baseline is not inflated by argument unpacking)."""
    loop = itertools.repeat(None, number)
    enabled = gc.isenabled()
    gc.disable()
    try:
        if len(args) == 1:
            (a,) = args
            start = time.perf_counter()
            for _ in loop:
                fn(a)
        elif len(args) == 2:
            a, b = args
            start = time.perf_counter()
            for _ in loop:
                fn(a, b)
        else:
            start = time.perf_counter()
            for _ in loop:
                fn(*args)
        return time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


def _calibrate(fn: Callable, args: tuple, sample_time: float) -> int:
    """Calls per sample so one sample lasts at least ``sample_time`` (doubles as warmup)."""
    number = 1
    while True:
        elapsed = _sample(fn, args, number)
        if elapsed >= sample_time or number >= 10**7:
            return number
        grow = sample_time / max(elapsed, 1e-9) * 1.3
        number = int(min(max(2 * number, number * grow), number * 100))


def measure_side_by_side(cases: dict[str, tuple[Callable, tuple]], min_time: float,
                         min_samples: int = 5) -> dict[str, Timing]:
    """Time each ``name -> (fn, args)`` case, interleaved (see the module docstring)."""
    sample_time = max(min_time / 10, 1e-4)
    numbers = {}
    for name, (fn, args) in cases.items():
        fn(*args)
        numbers[name] = _calibrate(fn, args, sample_time)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    totals = dict.fromkeys(cases, 0.0)
    pending = list(cases)
    while pending:
        for name in pending:
            fn, args = cases[name]
            elapsed = _sample(fn, args, numbers[name])
            samples[name].append(elapsed / numbers[name])
            totals[name] += elapsed
        pending = [n for n in pending if len(samples[n]) < min_samples or totals[n] < min_time]
    return {name: Timing(statistics.median(samples[name]), numbers[name], len(samples[name]),
                         totals[name]) for name in cases}


# ----------------------------------------------------------------------------- results

@dataclass
class Target:
    """A speed goal: ``ratio`` (reference / theanolite-C at least ``value``) or
    ``seconds`` (theanolite-C at most ``value`` seconds)."""
    kind: str
    value: float
    text: str

    def met(self, row: "Row") -> bool | None:
        if self.kind == "ratio":
            ratio = row.ratio("C")
            return None if ratio is None else ratio >= self.value
        seconds = row.times.get("C")
        return None if seconds is None else seconds <= self.value


@dataclass
class Row:
    """One line of the table. ``times`` maps a column to seconds: ``C`` (theanolite,
    default linker), ``py`` (theanolite, Python linker), ``ref`` (hand-written baseline
    named ``ref_label``), and competitor names (``PyTensor``, ``JAX``, ``torch``)."""
    workload: str
    name: str
    times: dict[str, float] = field(default_factory=dict)
    ref_label: str = ""
    linker: str = ""
    target: Target | None = None
    check: str = ""
    notes: list[str] = field(default_factory=list)
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)  # column -> number, samples

    def ratio(self, column: str) -> float | None:
        ref, ours = self.times.get("ref"), self.times.get(column)
        if ref is None or not ours:
            return None
        return ref / ours

    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio_ref_over_C"] = self.ratio("C")
        data["ratio_ref_over_py"] = self.ratio("py")
        data["target_met"] = self.met()
        return data


CORE_COLUMNS = ("C", "py", "ref")


def format_seconds(seconds: float | None) -> str:
    """``1.23 ms``-style, three significant digits; ``-`` for a missing value."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            digits = 0 if value >= 100 else (1 if value >= 10 else 2)
            return f"{value:.{digits}f} {unit}"
    return "-"


def _ratio_text(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def _met_text(met: bool | None, linker: str) -> str:
    # A target met by a Python fallback is not the C backend meeting it: say so.
    text = {True: "yes", False: "NO", None: "-"}[met]
    return f"{text} (py)" if met is not None and linker.startswith("py") else text


def format_table(rows: Sequence[Row], competitors: Sequence[str] = ()) -> str:
    """The results as a fixed-width text table (one line per row)."""
    header = ["workload", "C column ran", "theanolite-C", "theanolite-py", "reference",
              "ref/C", "ref/py", "target", "met", "check", *competitors]
    lines = [header]
    for row in rows:
        ref = row.times.get("ref")
        ref_text = f"{row.ref_label} {format_seconds(ref)}" if ref is not None else "-"
        lines.append([row.name, row.linker or "-", format_seconds(row.times.get("C")),
                      format_seconds(row.times.get("py")), ref_text,
                      _ratio_text(row.ratio("C")), _ratio_text(row.ratio("py")),
                      row.target.text if row.target else "-", _met_text(row.met(), row.linker),
                      row.check or "-", *[format_seconds(row.times.get(c)) for c in competitors]])
    widths = [max(len(line[k]) for line in lines) for k in range(len(header))]
    right = {2, 3, 5, 6} | set(range(10, len(header)))
    out = []
    for n, line in enumerate(lines):
        cells = [cell.rjust(w) if k in right else cell.ljust(w)
                 for k, (cell, w) in enumerate(zip(line, widths))]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def format_notes(rows: Sequence[Row]) -> str:
    """Per-row notes (skipped competitors, failures), one line each."""
    lines = [f"  {row.name}: {note}" for row in rows for note in row.notes]
    return "notes:\n" + "\n".join(lines) if lines else ""


def environment_info() -> dict[str, Any]:
    """Machine and library facts printed above the table and stored in the JSON."""
    import numpy as np
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "threads": {name: os.environ.get(name) for name in THREAD_VARS},
        "threads_pinned": threads_pinned(),
    }


def write_json(path: str, rows: Sequence[Row], meta: dict[str, Any]) -> None:
    """Store ``rows`` and ``meta`` as JSON (times in seconds)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "rows": [row.to_dict() for row in rows]}, fh, indent=2, default=str)
        fh.write("\n")


def format_report(rows: Sequence[Row], header: Sequence[str], anchors: dict[str, str],
                  competitors: Sequence[str] = ()) -> str:
    """Header lines, the table, the issue's competitor anchors for the workloads that
    ran, and the notes."""
    ran = list(dict.fromkeys(row.workload for row in rows))
    parts = ["\n".join(header), format_table(rows, competitors)]
    anchor_lines = [f"  {name:<9} {anchors[name]}" for name in ran if name in anchors]
    if anchor_lines:
        parts.append("competitor anchors (from the issue; measured earlier on this machine, "
                     "1 thread, medians):\n" + "\n".join(anchor_lines))
    notes = format_notes(rows)
    if notes:
        parts.append(notes)
    return "\n\n".join(parts)
