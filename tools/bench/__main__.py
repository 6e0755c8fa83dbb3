"""``python -m theanolite.tools.bench``: run the benchmark suite and print one table.

Options: ``--quick`` (tiny sizes, short measurements: a smoke run), ``--only NAME``
(repeatable or comma-separated: elemwise, overhead, logistic, mlp, compile, import),
``--json PATH`` (also write the rows and metadata as JSON). Exit status 1 if any
correctness check failed.

Threads: the process re-executes itself with OMP/OPENBLAS/MKL_NUM_THREADS=1 (and
friends) unless they are already 1, because numpy's BLAS reads them when it loads. If
``threadpoolctl`` is installed, already-loaded pools are limited to one thread as well.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

MODULE = "theanolite.tools.bench"


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, short measurements")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only these workloads (repeatable, or comma-separated)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--no-competitors", action="store_true",
                        help="do not time PyTensor/JAX/torch even if installed")
    return parser.parse_args(list(argv))


def header_lines(settings_name: str, min_time: float, pools: str) -> list[str]:
    """Run conditions for the top of the report."""
    from theanolite.configparser import config
    from theanolite.tools.bench import competitors
    from theanolite.tools.bench.harness import THREAD_VARS, environment_info
    env = environment_info()
    pinned = "pinned to 1" if env["threads_pinned"] else "NOT pinned: " + ", ".join(
        f"{k}={v}" for k, v in env["threads"].items())
    missing = competitors.missing_note()
    return [
        f"theanolite benchmarks ({settings_name} mode): median seconds per call, "
        f">={min_time:g} s of samples per measurement, columns measured side by side",
        f"threads: {'/'.join(v.split('_')[0] for v in THREAD_VARS)} {pinned}; {pools}",
        f"python {env['python']}, numpy {env['numpy']}, {env['cpu']} ({env['cpu_count']} cpus), "
        f"cxx={config.cxx or '(none)'}",
        "ratios are reference / theanolite (>1: theanolite faster); 'C column ran' is the "
        "linker the FAST_RUN function actually used",
        *([f"competitors: {missing}"] if missing else []),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(argv)
    from theanolite.tools.bench.harness import (format_report, limit_loaded_pools,
                                                pin_threads_or_reexec, write_json)
    pin_threads_or_reexec(MODULE, argv)
    pools = limit_loaded_pools()
    import dataclasses

    from theanolite.tools.bench import competitors, workloads
    settings = workloads.QUICK if args.quick else workloads.NORMAL
    if args.no_competitors:
        settings = dataclasses.replace(settings, competitors=False)
    only = [name.strip() for item in args.only for name in item.split(",") if name.strip()]
    rows = workloads.run(settings, only or None,
                         progress=lambda name: print(f"running {name} ...", file=sys.stderr, flush=True))
    columns = competitors.available() if settings.competitors else []
    header = header_lines("quick" if args.quick else "normal", settings.min_time, pools)
    print(format_report(rows, header, workloads.ANCHORS, columns))
    if args.json:
        from theanolite.tools.bench.harness import environment_info
        meta = {"mode": "quick" if args.quick else "normal", "header": header,
                "environment": environment_info(), "settings": dataclasses.asdict(settings),
                "anchors": workloads.ANCHORS}
        write_json(args.json, rows, meta)
    return 1 if any(row.check.startswith("FAIL") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
