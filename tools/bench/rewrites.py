"""Rewrite time: how long the FAST_RUN pipeline takes on the project's reference graphs.

Run: ``python -m theanolite.tools.bench.rewrites`` — prints, per graph, the node count
before and after and the median time of FunctionGraph construction + rewriting.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile.mode import get_mode
from theanolite.graph.fg import FunctionGraph
from theanolite.rewriting import run_pipeline


def seed_square_gradient() -> tuple[list, list]:
    x = T.dscalar("x")
    return [x], [T.grad(x ** 2, x)]


def seed_logistic_gradient() -> tuple[list, list]:
    x = T.dmatrix("x")
    return [x], [T.grad(T.sum(1 / (1 + T.exp(-x))), x)]


def seed_hessian_vector() -> tuple[list, list]:
    x, v = T.dvectors("x", "v")
    gy = T.grad(T.sum(x ** 2), x)
    return [x, v], [T.grad(T.sum(gy * v), x), T.Rop(gy, x, v)]


def mlp_training_step(dtype: str = "float64") -> tuple[list, list]:
    rng = np.random.default_rng(0)
    x = T.TensorType(dtype, (False, False))("x")
    y = T.lvector("y")
    shapes = [(784, 512), (512,), (512, 10), (10,)]
    params = [theano.shared((rng.normal(size=s) * 0.01).astype(dtype), name=f"p{k}") for k, s in enumerate(shapes)]
    w1, b1, w2, b2 = params
    h = T.tanh(T.dot(x, w1) + b1)
    p = T.nnet.softmax(T.dot(h, w2) + b2)
    cost = T.mean(T.nnet.categorical_crossentropy(p, y))
    grads = T.grad(cost, params)
    lr = np.asarray(0.1, dtype=dtype)
    updates = [param - lr * g for param, g in zip(params, grads)]
    return [x, y] + params, [cost] + updates


GRAPHS: dict[str, Callable[[], tuple[list, list]]] = {
    "seed x**2 gradient": seed_square_gradient,
    "seed logistic gradient": seed_logistic_gradient,
    "seed Hessian-vector": seed_hessian_vector,
    "MLP training step": mlp_training_step,
}


def measure(build: Callable[[], tuple[list, list]], repeats: int = 15) -> dict:
    times, before, after = [], 0, 0
    mode = get_mode("FAST_RUN")
    for _ in range(repeats):
        inputs, outputs = build()
        fg = FunctionGraph(inputs, outputs)
        before = len(fg.apply_nodes)
        start = time.perf_counter()
        run_pipeline(fg, mode)
        times.append(time.perf_counter() - start)
        after = len(fg.apply_nodes)
    return {"nodes_before": before, "nodes_after": after, "median_ms": statistics.median(times) * 1e3}


def main() -> None:
    print(f"{'graph':<26} {'nodes before':>12} {'nodes after':>11} {'rewrite ms (median)':>20}")
    for name, build in GRAPHS.items():
        r = measure(build)
        print(f"{name:<26} {r['nodes_before']:>12} {r['nodes_after']:>11} {r['median_ms']:>20.2f}")
    print("target: the MLP training graph optimizes in well under 100 ms")


if __name__ == "__main__":
    main()
