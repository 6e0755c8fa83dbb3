"""``theanolite-precompile``: build declared functions into the cache or a bundle.

    theanolite-precompile [--jobs N] [--bundle OUT] [--check] [--cache-dir DIR] [--json]
                          TARGET [TARGET ...]

TARGET is a dotted module name or a ``.py`` file declaring builders (see
``theanolite.precompile``). Each builder runs in a worker process (``--jobs``, default
the number of cores) with the compiled-module cache of this machine (or ``--cache-dir``);
one line per function says its name, the key of its module(s), how long building took,
whether the modules were ``built`` or already ``cached``, and whether it runs in C.
``--bundle`` exports exactly the modules the functions use (for a machine without a
compiler: ``theanolite-cache import``). ``--check`` compiles nothing and exits 1 if any
function would need compiling (for CI). Exit codes: 0 ok, 1 a function failed or is
missing, 2 bad usage or targets that cannot be imported.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from typing import Any


@dataclass
class Result:
    """What building one declared function did."""

    target: str
    name: str
    status: str = "error"      # built | cached | missing | python | error
    backend: str = "-"         # C | Python | C+Python
    seconds: float = 0.0
    keys: list[str] = field(default_factory=list)
    compiles: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("built", "cached", "python")


def _functions_of(value: Any) -> list[Any]:
    from theanolite.compile.function import Function
    if isinstance(value, Function):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Function) for v in value):
        return list(value)
    raise TypeError("a builder must return a compiled function (theanolite.function) or a "
                    f"list/tuple/dict of them, not {type(value).__name__}")


def build_one(target: str, name: str, cache_dir: str | None, check: bool) -> Result:
    """Run builder ``name`` of ``target`` in this process and report (never raises)."""
    from theanolite.ccodegen import stats
    from theanolite.configparser import config
    from theanolite.precompile import builders_of, load_target
    result = Result(target, name)
    flags: dict[str, Any] = {"compile_on_cache_miss": not check}
    if cache_dir:
        flags["compiledir"] = cache_dir
    try:
        module = load_target(target)
        builder = {b.name: b for b in builders_of(module)}[name]
        before = stats.snapshot()
        n_keys = len(stats.served_keys)
        start = time.perf_counter()
        with config.change_flags(**flags), warnings.catch_warnings():
            if check:  # a miss is what --check reports; the runtime warning would repeat it
                warnings.filterwarnings("ignore", "theanolite: a function is not in the")
            _functions_of(builder.func())
        result.seconds = time.perf_counter() - start
        after = stats.snapshot()
    except Exception as exc:  # report the builder's own error, keep going with the rest
        result.error = "".join(traceback.format_exception_only(exc)).strip()
        return result
    result.keys = list(dict.fromkeys(stats.served_keys[n_keys:]))
    result.compiles = after["compiles"] - before["compiles"]
    fallbacks = after["fallbacks"] - before["fallbacks"]
    if check and fallbacks:
        result.status, result.backend = "missing", "Python"
    elif not result.keys:
        result.status, result.backend = "python", "Python"
    else:
        result.status = "built" if result.compiles else "cached"
        result.backend = "C+Python" if fallbacks else "C"
    return result


def _declared(targets: Sequence[str]) -> list[tuple[str, str]]:
    from theanolite.precompile import builders_of, load_target
    jobs = []
    for target in targets:
        module = load_target(target)
        names = [b.name for b in builders_of(module)]
        if not names:
            raise LookupError(f"{target} declares no functions (use @theanolite.precompile."
                              "register or a THEANOLITE_PRECOMPILE list)")
        jobs += [(target, n) for n in names]
    return jobs


class _Progress:
    """A one-line progress bar on a terminal's stderr; silent otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled and sys.stderr.isatty()

    def step(self, label: str) -> None:
        self.done += 1
        if self.enabled:
            width = 24
            filled = width * self.done // max(self.total, 1)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                             f"{self.done}/{self.total} {label[:40]:<40}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 80 + "\r")
            sys.stderr.flush()


def _line(r: Result) -> str:
    key = r.keys[0][:12] if r.keys else "-"
    if len(r.keys) > 1:
        key += f" +{len(r.keys) - 1}"
    text = f"{r.name:<24} {key:<16} {r.seconds * 1e3:8.0f} ms  {r.status:<8} {r.backend}"
    return text + (f"\n    {r.error}" if r.error else "")


def run(targets: Sequence[str], jobs: int, cache_dir: str | None, check: bool,
        as_json: bool) -> tuple[list[Result], int]:
    """Build every declared function; return the results (declaration order) and the
    exit code."""
    todo = _declared(targets)
    progress = _Progress(len(todo), not as_json)
    if not as_json:
        print(f"{'function':<24} {'key':<16} {'time':>11}  {'status':<8} backend")
    results: dict[tuple[str, str], Result] = {}

    def done(r: Result) -> None:
        results[(r.target, r.name)] = r
        progress.step(r.name)
        if not as_json:
            if progress.enabled:
                sys.stderr.write("\r" + " " * 80 + "\r")
            print(_line(r), flush=True)

    if jobs <= 1 or len(todo) == 1:
        for target, name in todo:
            done(build_one(target, name, cache_dir, check))
    else:
        # spawn: a forked child could inherit a BLAS thread pool in a locked state.
        with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(build_one, t, n, cache_dir, check): (t, n) for t, n in todo}
            for fut in as_completed(futures):
                try:
                    done(fut.result())
                except Exception as exc:  # the worker died (e.g. killed): say so
                    t, n = futures[fut]
                    done(Result(t, n, error=f"worker failed: {exc}"))
    progress.close()
    ordered = [results[k] for k in todo]
    return ordered, 0 if all(r.ok for r in ordered) else 1


def _export(results: list[Result], bundle: str, cache_dir: str | None) -> str:
    from theanolite.cache import CacheStore, default_cache_dir, export_bundle
    from theanolite.configparser import config
    keys = list(dict.fromkeys(k for r in results for k in r.keys))
    root, _ = default_cache_dir(cache_dir or config.compiledir or None)
    report = export_bundle(CacheStore(root), bundle, keys)
    return f"bundle {report.path}: {len(report.keys)} module(s)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="theanolite-precompile",
        description="Build the functions declared in TARGETs (modules or .py files using "
                    "theanolite.precompile.register) into the compiled-module cache.")
    p.add_argument("targets", nargs="+", metavar="TARGET", help="module name or .py file")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                   help="parallel builds (default: the number of cores)")
    p.add_argument("--bundle", metavar="OUT", help="also export the modules used to this "
                   ".tar.gz/.zip bundle")
    p.add_argument("--check", action="store_true", help="build nothing; exit 1 if any "
                   "function is not in the cache")
    p.add_argument("--cache-dir", metavar="DIR", help="cache directory (default: as "
                   "`theanolite-cache dir` says)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.jobs < 1:
        print("theanolite-precompile: --jobs must be at least 1", file=sys.stderr)
        return 2
    if args.check and args.bundle:
        print("theanolite-precompile: --check builds nothing, so it cannot --bundle",
              file=sys.stderr)
        return 2
    if args.cache_dir:
        args.cache_dir = os.path.abspath(os.path.expanduser(args.cache_dir))
    try:
        results, code = run(args.targets, args.jobs, args.cache_dir, args.check, args.json)
    except (ImportError, LookupError, TypeError, ValueError, SyntaxError) as exc:
        print(f"theanolite-precompile: {exc}", file=sys.stderr)
        return 2
    message = ""
    if args.bundle and code == 0:
        from theanolite.cache import CacheError
        try:
            message = _export(results, args.bundle, args.cache_dir)
        except (CacheError, OSError) as exc:
            print(f"theanolite-precompile: cannot write the bundle: {exc}", file=sys.stderr)
            return 1
    elif args.bundle:
        message = "bundle not written: some functions failed"
    if args.json:
        print(json.dumps({"results": [asdict(r) for r in results], "exit": code,
                          "bundle": args.bundle if code == 0 else None}, indent=1))
    else:
        bad = [r for r in results if not r.ok]
        verdict = (f"{len(results)} function(s): " +
                   (f"{len(bad)} {'missing from the cache' if args.check else 'failed'}"
                    if bad else "all ready"))
        print(verdict + (f"; {message}" if message else ""))
    return code


if __name__ == "__main__":
    sys.exit(main())
