"""Softmax + categorical cross-entropy: the fused stable op, its gradient, and the shape of
the optimized MLP training step."""
from __future__ import annotations

from collections import Counter

import numpy as np

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile.mode import Mode
from theanolite.gradient import verify_grad
from theanolite.tensor.nnet.fused import (CrossentropySoftmax1Hot, CrossentropySoftmax1HotDx,
                                          crossentropy_softmax_1hot_dx, crossentropy_softmax_1hot_fused)

RNG = np.random.default_rng(0)


def test_crossentropy_of_softmax_is_finite_and_correct_for_huge_scores() -> None:
    x, y = T.dmatrix("x"), T.lvector("y")
    cost = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(x), y))
    f = theano.function([x, y], [cost, T.grad(cost, x)])
    scores = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]])
    loss, grad = f(scores, np.array([1, 1]))
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss, 1000.0)  # (2000 + 0) / 2
    np.testing.assert_allclose(grad, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-12)
    types = Counter(type(n.op) for n in f.maker.fgraph.apply_nodes)
    assert types[CrossentropySoftmax1Hot] == 1 and types[CrossentropySoftmax1HotDx] == 1


def test_fused_ops_match_the_unfused_graph() -> None:
    x, y = T.dmatrix("x"), T.lvector("y")
    sm = T.nnet.softmax(x)
    cost = T.sum(T.nnet.categorical_crossentropy(sm, y) * T.arange(3))
    outs = [cost, T.grad(cost, x), sm]
    fast = theano.function([x, y], outs)
    slow = theano.function([x, y], outs, mode=Mode(optimizer=None))
    xv, yv = RNG.normal(size=(3, 4)), np.array([0, 3, 1])
    for a, b in zip(fast(xv, yv), slow(xv, yv)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_fused_op_gradients_and_bad_labels() -> None:
    labels = np.array([2, 0])
    verify_grad(lambda x: crossentropy_softmax_1hot_fused(x, labels)[0], [RNG.normal(size=(2, 3))], rng=RNG)
    verify_grad(lambda x: crossentropy_softmax_1hot_fused(x, labels)[1], [RNG.normal(size=(2, 3))], rng=RNG)
    sm = np.exp(RNG.normal(size=(2, 3)))
    sm /= sm.sum(axis=1, keepdims=True)
    verify_grad(lambda d, s: crossentropy_softmax_1hot_dx(d, s, labels), [RNG.normal(size=2), sm], rng=RNG)
    x = T.dmatrix("x")
    f = theano.function([x], crossentropy_softmax_1hot_fused(x, np.array([0, 5]))[0])
    try:
        f(np.zeros((2, 3)))
    except IndexError as exc:
        assert "label 5" in str(exc) and "3 classes" in str(exc)
    else:
        raise AssertionError("an out-of-range label must raise IndexError")


def test_mlp_training_step_optimizes_to_blas_and_few_fused_nodes() -> None:
    x, y = T.dmatrix("x"), T.lvector("y")
    w1 = theano.shared(RNG.normal(size=(20, 16)) * 0.1, name="w1")
    b1 = theano.shared(np.zeros(16), name="b1")
    w2 = theano.shared(RNG.normal(size=(16, 5)) * 0.1, name="w2")
    b2 = theano.shared(np.zeros(5), name="b2")
    h = T.tanh(T.dot(x, w1) + b1)
    p = T.nnet.softmax(T.dot(h, w2) + b2)
    cost = T.mean(T.nnet.categorical_crossentropy(p, y))
    params = [w1, b1, w2, b2]
    grads = T.grad(cost, params)
    f = theano.function([x, y], cost, updates=[(q, q - 0.1 * g) for q, g in zip(params, grads)])
    kinds = Counter(type(n.op).__name__ for n in f.maker.fgraph.apply_nodes)
    assert kinds["Gemm"] == 2                      # both weight updates
    assert kinds["Dot"] == 3                       # two forward products, one backward
    assert kinds["CrossentropySoftmax1Hot"] == 1 and kinds["CrossentropySoftmax1HotDx"] == 1
    assert kinds["Sum"] == 3                       # the loss and the two bias gradients
    # tanh(xW1+b1); +b2; the mean's 1/n and division; the backward tanh'; two bias updates
    assert kinds["Elemwise"] == 7
    assert sum(kinds.values()) - kinds["DimShuffle"] == 18
    xv, yv = RNG.normal(size=(8, 20)), RNG.integers(0, 5, size=8)
    losses = [float(f(xv, yv)) for _ in range(30)]
    assert losses[-1] < losses[0]
