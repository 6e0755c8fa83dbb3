"""The hand-written numpy MLP training step (the baseline of the MLP workload).

Same model as ``graphs.build_mlp``: ``h = tanh(x W1 + b1)``, ``p = softmax(h W2 + b2)``,
``cost = mean(-log p[i, y_i])``, then ``param -= lr * d cost / d param`` in place.
Backward pass, for a batch of ``n`` rows::

    dz2 = (p - onehot(y)) / n       dW2 = h.T dz2     db2 = sum(dz2, 0)
    dz1 = (dz2 W2.T) * (1 - h**2)   dW1 = x.T dz1     db1 = sum(dz1, 0)

Written the way a careful numpy user would: in-place operations where they save a
temporary, ``lr / n`` folded into ``dz2`` once (it then flows linearly into every
gradient), ``dz1`` computed from ``W2`` before ``W2`` is updated.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from theanolite.tools.bench.graphs import MLPSpec, build_mlp, compile_built, mlp_data, mlp_initial


def numpy_mlp_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, lr: float) -> np.ndarray:
    """One SGD step updating ``params`` (``[W1, b1, W2, b2]``) in place; returns the cost
    (0-d array, before the update)."""
    w1, b1, w2, b2 = params
    n = x.shape[0]
    h = x @ w1
    h += b1
    np.tanh(h, out=h)
    z = h @ w2
    z += b2
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)  # z is the softmax p
    rows = np.arange(n)
    cost = -np.log(z[rows, y]).mean()
    z[rows, y] -= 1
    z *= lr / n  # z is lr * dcost/dlogits
    dz1 = z @ w2.T  # uses W2 before its update
    w2 -= h.T @ z
    b2 -= z.sum(axis=0)
    h *= h
    np.subtract(1, h, out=h)  # h is 1 - tanh**2
    dz1 *= h
    w1 -= x.T @ dz1
    b1 -= dz1.sum(axis=0)
    return np.asarray(cost)


def check_mlp_reference(spec: MLPSpec, dtype: str, mode: Any = "FAST_RUN",
                        steps: int = 2) -> dict[str, float]:
    """Run ``steps`` SGD steps with numpy and with theanolite (``mode``) from the same
    start; return the largest relative differences of the costs and of the parameters.

    Relative difference: ``max |a - b| / max(max |b|, tiny)`` per array, maximized over
    arrays and steps.
    """
    initial = mlp_initial(spec, dtype)
    x, y = mlp_data(spec, dtype)
    built = build_mlp(spec, dtype, initial)
    f = compile_built(built, mode)
    params = [p.copy() for p in initial]
    worst_cost, worst_param = 0.0, 0.0
    for _ in range(steps):
        cost_np = numpy_mlp_step(params, x, y, spec.lr)
        cost_tl = f(x, y)
        worst_cost = max(worst_cost, _rel(cost_tl, cost_np))
        for shared, ref in zip(built.shared, params):
            worst_param = max(worst_param, _rel(shared.get_value(), ref))
    return {"cost": worst_cost, "params": worst_param}


def tolerance(dtype: str) -> float:
    """Largest relative difference accepted between the numpy and theanolite steps."""
    return 1e-9 if dtype == "float64" else 2e-4


def _rel(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-30)
    return float(np.max(np.abs(a - b))) / scale if a.size else 0.0
