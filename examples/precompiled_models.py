"""Functions declared for offline precompilation (see README, "Precompiling for deployment").

Build machine (has gcc):   theanolite-precompile examples/precompiled_models.py --bundle models.tar.gz
Target (no compiler):      theanolite-cache import models.tar.gz
                           THEANOLITE_FLAGS=cxx= python examples/precompiled_models.py
CI gate:                   theanolite-precompile examples/precompiled_models.py --check

At run time the application calls the same builders: the graphs, hence the cache keys, are
the same, so every module loads from the cache and runs in C without a compiler.
"""
from __future__ import annotations

import numpy as np

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile.function import Function
from theanolite.precompile import register

N_FEATURES = 784


# The parameters live at module level: both functions share them.
w = theano.shared(np.zeros(N_FEATURES), name="w")
b = theano.shared(0.0, name="b")


def _model() -> tuple:
    x = T.dmatrix("x")
    y = T.dvector("y")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    return x, y, p_1


@register
def train_step() -> Function:
    """One SGD step of an L2-regularized logistic regression; returns the cost."""
    x, y, p_1 = _model()
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    return theano.function([x, y], cost, updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)],
                           name="train_step")


@register
def predict() -> Function:
    x, _, p_1 = _model()
    return theano.function([x], p_1 > 0.5, name="predict")


if __name__ == "__main__":
    from theanolite.ccodegen import stats
    train, classify = train_step(), predict()
    rng = np.random.default_rng(0)
    data_x = rng.normal(size=(200, N_FEATURES))
    data_y = (data_x[:, 0] > 0).astype("float64")
    for _ in range(50):
        cost = train(data_x, data_y)
    print(f"cost {float(cost):.4f}; accuracy {np.mean(classify(data_x) == data_y):.1%}")
    s = stats.snapshot()
    print(f"C modules: {s['compiles']} compiled, {s['disk_hits']} from the cache, "
          f"{s['fallbacks']} Python fallbacks")
