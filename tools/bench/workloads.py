"""The benchmark workloads: one function per workload, each returning table rows.

Every in-process workload compiles the graph twice — ``mode='FAST_RUN'`` with the
default linker (column ``C``; ``Row.linker`` says what actually ran) and the Python
linker (column ``py``) — checks both against the hand-written numpy reference
(``Row.check``), then times them side by side with the reference and any installed
competitor. Targets and the competitor anchors come from the benchmark issue; a target
is attached only to the row whose size is the one the issue specifies.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from theanolite.compile.mode import Mode
from theanolite.tools.bench import competitors, fresh
from theanolite.tools.bench.graphs import (MLPSpec, build_elemwise, build_logistic, build_mlp,
                                           build_overhead, compile_built, describe_linker,
                                           elemwise_expr, mlp_initial)
from theanolite.tools.bench.harness import Row, Target, measure_side_by_side
from theanolite.tools.bench.mlp_numpy import check_mlp_reference, numpy_mlp_step, tolerance


@dataclass(frozen=True)
class Settings:
    """Sizes and effort. ``min_time``: seconds of samples per measurement; ``fresh_runs``:
    child processes per fresh-process median; ``fresh_py``: also time ``function()``
    with the Python linker in fresh processes; ``competitors``: time installed ones."""
    min_time: float = 0.2
    min_samples: int = 5
    elemwise_sizes: tuple[int, ...] = (10**3, 10**4, 10**5, 10**6, 10**7)
    logistic_shape: tuple[int, int] = (1000, 1000)
    mlp: MLPSpec = field(default_factory=MLPSpec)
    fresh_runs: int = 5
    fresh_py: bool = True
    competitors: bool = True


NORMAL = Settings()
QUICK = Settings(min_time=0.01, min_samples=3, elemwise_sizes=(10**3, 10**4),
                 logistic_shape=(64, 64), mlp=MLPSpec(n_in=64, n_hidden=32, n_out=10, batch=16),
                 fresh_runs=1, fresh_py=False)

ISSUE_ELEMWISE_SIZE = 10**6
ISSUE_LOGISTIC_SHAPE = (1000, 1000)
ISSUE_MLP = MLPSpec()

ANCHORS: dict[str, str] = {
    "elemwise": "n=1e6: numpy 6.2 ms, PyTensor-C 19.3 ms, JAX 2.3 ms",
    "overhead": "bare lambda 0.53 us, PyTensor-C 1.9 us, JAX 4.1 us",
    "logistic": "numpy 3.2 ms, JAX 1.6 ms, PyTensor 7.7 ms",
    "mlp": "f64: numpy 5.5 ms, torch 4.6 ms, PyTensor-C 9.5 ms",
    "compile": "MLP cold: PyTensor-C 11.3 s, JAX 0.39 s; warm function() in a fresh process: "
               "PyTensor 0.46 s, JAX persistent cache 0.11 s",
    "import": "PyTensor 0.19 s",
}

PY = Mode(linker="py")


def _compile_pair(built_c: Any, built_py: Any | None = None) -> tuple[Any, Any]:
    """``(FAST_RUN function, Python-linker function)``; graphs with updates need one
    ``Built`` each (their own shared variables), pure graphs can share one."""
    return compile_built(built_c, "FAST_RUN"), compile_built(built_py or built_c, PY)


def _check(results: dict[str, Any], expected: np.ndarray, rtol: float, atol: float) -> str:
    """``ok`` or ``FAIL <column> ...`` comparing each column's result with ``expected``."""
    for column, value in results.items():
        value = np.asarray(value)
        if value.shape != expected.shape or not np.allclose(value, expected, rtol=rtol, atol=atol):
            err = float(np.max(np.abs(value - expected))) if value.shape == expected.shape else float("inf")
            return f"FAIL {column} (max abs err {err:.2g})"
    return "ok"


def _timed_row(workload: str, name: str, cases: dict[str, tuple[Callable, tuple]],
               competitor: tuple[dict, list[str]], settings: Settings, **row: Any) -> Row:
    """Measure ``cases`` plus the competitor cases side by side into one ``Row``."""
    extra, notes = competitor
    timings = measure_side_by_side({**cases, **extra}, settings.min_time, settings.min_samples)
    result = Row(workload, name, times={k: t.median for k, t in timings.items()}, **row)
    result.samples = {k: {"calls_per_sample": t.number, "samples": t.samples, "seconds_sampled": t.total}
                      for k, t in timings.items()}
    result.notes.extend(notes)
    return result


def _competitors(settings: Settings, make: Callable[[], tuple[dict, list[str]]]) -> tuple[dict, list[str]]:
    return make() if settings.competitors else ({}, [])


def _size_text(n: int) -> str:
    exponent = int(round(np.log10(n)))
    return f"1e{exponent}" if 10**exponent == n else str(n)


# ----------------------------------------------------------------------------- workloads

def run_elemwise(settings: Settings) -> list[Row]:
    """``1/(1+exp(-x))*x + tanh(x)**2`` on float64 vectors of each size."""
    rows = []
    for n in settings.elemwise_sizes:
        built = build_elemwise(n)
        fc, fp = _compile_pair(built)
        (x,) = built.args

        def ref(v: np.ndarray) -> np.ndarray:
            return elemwise_expr(v, np.exp, np.tanh)
        check = _check({"C": fc(x), "py": fp(x)}, ref(x), rtol=1e-10, atol=1e-12)
        target = (Target("ratio", 2.5, ">=2.5x numpy") if n == ISSUE_ELEMWISE_SIZE else None)
        rows.append(_timed_row("elemwise", f"fused elemwise n={_size_text(n)}",
                               {"C": (fc, (x,)), "py": (fp, (x,)), "ref": (ref, (x,))},
                               _competitors(settings, lambda: competitors.elemwise_cases(x)),
                               settings, ref_label="numpy", linker=describe_linker(fc),
                               target=target, check=check))
    return rows


def run_overhead(settings: Settings) -> list[Row]:
    """Call overhead: ``x*2+1`` on a 0-d float64 array against a bare lambda."""
    built = build_overhead()
    fc, fp = _compile_pair(built)
    (x,) = built.args
    bare = lambda v: v * 2 + 1  # noqa: E731 - the baseline is literally a bare lambda
    check = _check({"C": fc(x), "py": fp(x)}, np.asarray(bare(x)), rtol=1e-15, atol=0)
    return [_timed_row("overhead", "call overhead x*2+1 (0-d)",
                       {"C": (fc, (x,)), "py": (fp, (x,)), "ref": (bare, (x,))},
                       _competitors(settings, lambda: competitors.overhead_cases(x)),
                       settings, ref_label="lambda", linker=describe_linker(fc),
                       target=Target("ratio", 0.5, ">=0.5x (C <= 2x lambda)"), check=check)]


def numpy_logistic_grad(x: np.ndarray) -> np.ndarray:
    """d sum(sigmoid(x)) / dx, by hand."""
    s = 1 / (1 + np.exp(-x))
    return s * (1 - s)


def run_logistic(settings: Settings) -> list[Row]:
    """The seed's logistic gradient ``T.grad(T.sum(1/(1+T.exp(-x))), x)``."""
    shape = settings.logistic_shape
    built = build_logistic(shape)
    fc, fp = _compile_pair(built)
    (x,) = built.args
    check = _check({"C": fc(x), "py": fp(x)}, numpy_logistic_grad(x), rtol=1e-10, atol=1e-12)
    target = Target("ratio", 2.0, ">=2x numpy") if tuple(shape) == ISSUE_LOGISTIC_SHAPE else None
    return [_timed_row("logistic", f"logistic grad {shape[0]}x{shape[1]}",
                       {"C": (fc, (x,)), "py": (fp, (x,)), "ref": (numpy_logistic_grad, (x,))},
                       _competitors(settings, lambda: competitors.logistic_cases(x)),
                       settings, ref_label="numpy", linker=describe_linker(fc),
                       target=target, check=check)]


def _mlp_check(spec: MLPSpec, dtype: str) -> str:
    """Numpy reference against theanolite (both linkers) over two steps; ``ok (...)``
    with the worst relative difference, or ``FAIL ...``."""
    worst = 0.0
    for column, mode in (("C", "FAST_RUN"), ("py", PY)):
        diff = check_mlp_reference(spec, dtype, mode)
        err = max(diff.values())
        if not err <= tolerance(dtype):
            return f"FAIL {column} (rel err {err:.2g})"
        worst = max(worst, err)
    return f"ok (rel {worst:.0e})"


def run_mlp(settings: Settings) -> list[Row]:
    """One SGD training step of the MLP, float64 and float32, against numpy."""
    spec = settings.mlp
    rows = []
    for dtype in ("float64", "float32"):
        check = _mlp_check(spec, dtype)
        initial = mlp_initial(spec, dtype)
        built_c, built_py = build_mlp(spec, dtype, initial), build_mlp(spec, dtype, initial)
        fc, fp = _compile_pair(built_c, built_py)
        x, y = built_c.args
        params = [p.copy() for p in initial]

        def ref(xb: np.ndarray, yb: np.ndarray, params: list = params) -> np.ndarray:
            return numpy_mlp_step(params, xb, yb, spec.lr)
        dims = f"{spec.n_in}-{spec.n_hidden}-{spec.n_out} b{spec.batch}"
        short = "f64" if dtype == "float64" else "f32"
        target = (Target("ratio", 1.1, ">=1.1x numpy")
                  if dtype == "float64" and spec == ISSUE_MLP else None)
        rows.append(_timed_row("mlp", f"MLP step {short} {dims}",
                               {"C": (fc, (x, y)), "py": (fp, (x, y)), "ref": (ref, (x, y))},
                               _competitors(settings, lambda: competitors.mlp_cases(spec, initial, x, y)),
                               settings, ref_label="numpy", linker=describe_linker(fc),
                               target=target, check=check))
    return rows


_COMPILE_TARGETS = {  # graph -> (label, cold limit s, warm limit s)
    "logistic": ("logistic grad", 0.25, 0.030),
    "mlp": ("MLP step f64", 1.0, 0.060),
}


def run_compile(settings: Settings) -> list[Row]:
    """Cold (empty cache) and warm ``function()`` seconds, each in a fresh process."""
    rows = []
    for graph, (label, cold_limit, warm_limit) in _COMPILE_TARGETS.items():
        cold = Row("compile", f"cold function(): {label}",
                   target=Target("seconds", cold_limit, f"<{cold_limit:g} s"))
        warm = Row("compile", f"warm function() fresh proc: {label}",
                   target=Target("seconds", warm_limit, f"<{warm_limit * 1e3:g} ms"))
        linkers = ("C", "py") if settings.fresh_py else ("C",)
        for linker in linkers:
            try:
                r = fresh.compile_seconds(graph, linker, settings.mlp, settings.logistic_shape,
                                          settings.fresh_runs)
            except Exception as exc:  # report a broken probe in the table, keep going
                cold.notes.append(f"{linker} probe failed: {exc}"[:300])
                continue
            cold.times[linker], warm.times[linker] = r["cold"], r["warm"]
            if linker == "C":
                cold.linker = warm.linker = r["linker"]
        rows += [cold, warm]
    rows[-1].notes.append("competitor compile times are not re-measured here: see the anchors")
    return rows


def run_import(settings: Settings) -> list[Row]:
    """``import theanolite`` (and installed competitors) in fresh interpreters."""
    row = Row("import", "import theanolite (fresh proc)", linker="-",
              target=Target("seconds", 0.15, "<0.15 s"))
    runs = max(settings.fresh_runs, 3)
    row.times["C"] = fresh.import_seconds("import theanolite", runs)
    if settings.competitors:
        for column, statement in competitors.import_statements().items():
            try:
                row.times[column] = fresh.import_seconds(statement, runs)
            except Exception as exc:
                row.notes.append(f"{column} import failed: {exc}"[:200])
    row.notes.append("the time is in the theanolite-C column: importing does not depend on the linker")
    return [row]


WORKLOADS: dict[str, Callable[[Settings], list[Row]]] = {
    "elemwise": run_elemwise,
    "overhead": run_overhead,
    "logistic": run_logistic,
    "mlp": run_mlp,
    "compile": run_compile,
    "import": run_import,
}


def run(settings: Settings = NORMAL, only: list[str] | None = None,
        progress: Callable[[str], None] | None = None) -> list[Row]:
    """Run the workloads named in ``only`` (all by default), in table order."""
    names = list(WORKLOADS) if not only else only
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    rows: list[Row] = []
    for name in WORKLOADS:
        if name in names:
            if progress:
                progress(name)
            rows += WORKLOADS[name](settings)
    return rows
