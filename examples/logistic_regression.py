"""Train a logistic regression with theanolite, the way Theano's tutorial does.

Run: python examples/logistic_regression.py
Prints the loss as it falls, the accuracy, and how long compiling and training took.
"""
from __future__ import annotations

import time

import numpy as np

import theanolite as theano
import theanolite.tensor as T


def main(n_samples: int = 400, n_features: int = 784, steps: int = 200, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    true_w = rng.normal(size=n_features)
    data_x = rng.normal(size=(n_samples, n_features))
    data_y = (data_x @ true_w + rng.normal(scale=0.5, size=n_samples) > 0).astype("float64")

    x = T.dmatrix("x")
    y = T.dvector("y")
    w = theano.shared(rng.normal(scale=0.01, size=n_features), name="w")
    b = theano.shared(0.0, name="b")

    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))          # probability that the target is 1
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)  # cross-entropy loss
    cost = xent.mean() + 0.01 * (w ** 2).sum()        # with L2 weight decay
    gw, gb = T.grad(cost, [w, b])

    from theanolite.cache import default_cache_dir
    from theanolite.ccodegen import stats
    before = stats.snapshot()
    start = time.perf_counter()
    train = theano.function([x, y], [prediction, cost],
                            updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)], name="train")
    predict = theano.function([x], prediction, name="predict")
    compile_seconds = time.perf_counter() - start
    after = stats.snapshot()
    built = {k: after[k] - before[k] for k in after}

    start = time.perf_counter()
    first_cost = None
    for step in range(steps):
        _, step_cost = train(data_x, data_y)
        first_cost = step_cost if first_cost is None else first_cost
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d}  cost {float(step_cost):.4f}")
    train_seconds = time.perf_counter() - start

    accuracy = float(np.mean(predict(data_x) == data_y))
    print(f"cost {float(first_cost):.4f} -> {float(step_cost):.4f}; training accuracy {accuracy:.1%}")
    print(f"compile {compile_seconds * 1e3:.1f} ms; {steps} steps in {train_seconds * 1e3:.1f} ms "
          f"({train_seconds / steps * 1e6:.0f} us/step)")
    cache_dir, why = default_cache_dir(theano.config.compiledir or None)
    print(f"C modules: {built['compiles']} compiled, {built['disk_hits']} loaded from the disk cache, "
          f"{built['fallbacks']} Python fallbacks; cache {cache_dir} ({why})")
    print("run it again: the second run loads every module from the cache and compiles nothing")
    return float(step_cost)


if __name__ == "__main__":
    main()
