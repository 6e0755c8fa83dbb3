"""Fresh-process measurements: ``import theanolite`` time, cold and warm ``function()``.

Parent side: ``import_seconds`` and ``compile_seconds`` start child interpreters (same
Python, same thread variables, the source tree first on ``PYTHONPATH``) and return
the median of what the children report.

Child side (``python -m theanolite.tools.bench.fresh compile GRAPH LINKER SPEC``): build
the graph (not timed), time ``theano.function(...)`` alone, print one JSON line
``{"seconds": ..., "linker": ...}``. Cold = a new, empty ``THEANOLITE_CACHE_DIR`` per
child; warm = children sharing a cache directory that an earlier child filled.

Bytecode: children may always write ``.pyc`` files, into a private ``PYTHONPYCACHEPREFIX``
(nothing is written into the source tree), and one discarded child runs first, so every
measured child imports compiled bytecode as an installed package does; otherwise
``PYTHONDONTWRITEBYTECODE`` in the environment would make each child recompile every
module whose ``__pycache__`` happens to be missing or stale.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from typing import Any

_IMPORT_PROBE = ("import time; _t = time.perf_counter(); {statement}; "
                 "print(repr(time.perf_counter() - _t))")


def _source_root() -> str:
    import theanolite
    return os.path.dirname(os.path.dirname(os.path.abspath(theanolite.__file__)))


def _child_env(cache_dir: str | None, pycache: str) -> dict[str, str]:
    env = dict(os.environ)
    root = _source_root()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    if cache_dir is not None:
        env["THEANOLITE_CACHE_DIR"] = cache_dir
    return env


def _run(argv: list[str], env: dict[str, str], cwd: str) -> str:
    proc = subprocess.run([sys.executable, *argv], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"child process failed ({proc.returncode}): {' | '.join(tail)}")
    lines = [line for line in proc.stdout.strip().splitlines() if line.strip()]
    if not lines:
        raise RuntimeError("child process printed nothing")
    return lines[-1]


def import_seconds(statement: str, runs: int) -> float:
    """Median seconds of ``statement`` (an import) in ``runs`` fresh interpreters, after
    one discarded run (it may write ``.pyc`` files)."""
    with tempfile.TemporaryDirectory(prefix="tl-bench-import-") as cwd:
        env = _child_env(None, os.path.join(cwd, "pycache"))
        argv = ["-c", _IMPORT_PROBE.format(statement=statement)]
        _run(argv, env, cwd)
        return statistics.median(float(_run(argv, env, cwd)) for _ in range(runs))


def compile_seconds(graph: str, linker: str, spec: Any, logistic_shape: tuple[int, int],
                    runs: int) -> dict[str, Any]:
    """Cold and warm ``function()`` seconds (medians of ``runs`` children each) for
    ``graph`` (``logistic`` or ``mlp``) under ``linker`` (``C``: FAST_RUN with the default
    linker, ``py``: the Python linker). Returns ``{"cold", "warm", "linker"}``."""
    payload = json.dumps({"spec": asdict(spec), "shape": list(logistic_shape)})
    argv = ["-m", "theanolite.tools.bench.fresh", "compile", graph, linker, payload]
    cold, warm, described = [], [], ""
    with tempfile.TemporaryDirectory(prefix="tl-bench-compile-") as base:
        pycache = os.path.join(base, "pycache")
        cache = os.path.join(base, "discarded")
        os.mkdir(cache, 0o700)
        _run(argv, _child_env(cache, pycache), base)  # writes the bytecode
        for k in range(runs):
            cache = os.path.join(base, f"cold{k}")
            os.mkdir(cache, 0o700)
            result = json.loads(_run(argv, _child_env(cache, pycache), base))
            cold.append(result["seconds"])
            described = result["linker"]
        # The last cold child left ``cache`` warm: every warm child starts from it.
        for _ in range(runs):
            warm.append(json.loads(_run(argv, _child_env(cache, pycache), base))["seconds"])
    return {"cold": statistics.median(cold), "warm": statistics.median(warm), "linker": described}


# ----------------------------------------------------------------------------- child side

def _child_compile(graph: str, linker: str, payload: str) -> None:
    from theanolite.compile.mode import Mode
    from theanolite.tools.bench.graphs import MLPSpec, build_named, compile_built, describe_linker
    data = json.loads(payload)
    built = build_named(graph, MLPSpec(**data["spec"]), tuple(data["shape"]))
    mode = "FAST_RUN" if linker == "C" else Mode(linker="py")
    start = time.perf_counter()
    f = compile_built(built, mode)
    seconds = time.perf_counter() - start
    f(*built.args)  # the function must work, but its first call is not part of the time
    print(json.dumps({"seconds": seconds, "linker": describe_linker(f)}))


def main(argv: list[str]) -> None:
    if len(argv) == 4 and argv[0] == "compile":
        _child_compile(*argv[1:])
        return
    raise SystemExit("usage: python -m theanolite.tools.bench.fresh compile GRAPH C|py SPEC_JSON")


if __name__ == "__main__":
    main(sys.argv[1:])
