"""``1/(1+exp(-x))*x + tanh(x)**2`` at 1e3..1e7 float64: theanolite-C vs numpy, one thread.

Usage: ``python -m theanolite.tools.bench.bench_elemwise [--sizes 1e3,1e6] [--min-time S]
[--hand-composite]``. The process re-executes itself with every BLAS/OpenMP pool pinned to
one thread (numpy's OpenBLAS reads the variables when it loads). For each size it prints
the median seconds per call of the compiled function, of hand-written numpy, and their
ratio (numpy / theanolite: above 1 means theanolite is faster), measured side by side.

By default the graph goes through the FAST_RUN rewrites (fusion makes one Composite);
``--hand-composite`` builds the ``Elemwise(Composite)`` by hand with no rewrites, which
isolates the C backend from the optimizer.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from theanolite.tools.bench.harness import measure_side_by_side, pin_threads_or_reexec


def numpy_version(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x)) * x + np.tanh(x) ** 2


def build(hand_composite: bool):
    """The compiled function of the workload, and a description of how it was built."""
    import theanolite as theano
    import theanolite.tensor as T
    from theanolite.compile.mode import Mode
    from theanolite.scalar import basic as S
    from theanolite.scalar.composite import Composite
    from theanolite.tensor.elemwise import Elemwise

    x = T.dvector("x")
    if hand_composite:
        s = S.ScalarType("float64")("s")
        one = S.as_scalar(np.float64(1.0))
        expr = S.add(S.mul(S.true_div(one, S.add(one, S.exp(S.neg(s)))), s),
                     S.pow(S.tanh(s), S.as_scalar(np.int8(2))))
        out = Elemwise(Composite([s], [expr]))(x)
        f = theano.function([x], out, mode=Mode(linker="cvm", optimizer=None))
    else:
        f = theano.function([x], 1 / (1 + T.exp(-x)) * x + T.tanh(x) ** 2)
    nodes = [str(n.op) for seg in f.maker.program.partition.segments for n in seg.nodes] \
        if hasattr(f.maker.program, "partition") else ["(Python program)"]
    return f, nodes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e3,1e4,1e5,1e6,1e7")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds of samples per case")
    parser.add_argument("--hand-composite", action="store_true")
    args = parser.parse_args(argv)
    pin_threads_or_reexec("theanolite.tools.bench.bench_elemwise", sys.argv[1:] if argv is None else argv)
    f, nodes = build(args.hand_composite)
    print(f"graph in C: {'; '.join(nodes)}")
    print(f"{'n':>10} {'theanolite-C':>14} {'numpy':>14} {'numpy/C':>9}")
    rng = np.random.default_rng(0)
    for n in [int(float(s)) for s in args.sizes.split(",")]:
        x = rng.standard_normal(n)
        np.testing.assert_allclose(f(x), numpy_version(x), rtol=1e-12, atol=1e-12)
        timing = measure_side_by_side({"c": (f, (x,)), "numpy": (numpy_version, (x,))},
                                      min_time=args.min_time, min_samples=5)
        c, ref = timing["c"].median, timing["numpy"].median
        print(f"{n:>10.0e} {c * 1e3:>11.4f} ms {ref * 1e3:>11.4f} ms {ref / c:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
