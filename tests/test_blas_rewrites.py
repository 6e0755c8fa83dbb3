"""Specialization onto BLAS-shaped ops (gemm, gemv, ger) and their reference perform."""
from __future__ import annotations

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile.mode import Mode
from theanolite.gradient import verify_grad
from theanolite.tensor.blas import Gemm, Gemv, Ger, gemm_no_inplace, gemv_no_inplace, ger_no_inplace

RNG = np.random.default_rng(0)


def op_types(f) -> set[type]:
    return {type(n.op) for n in f.maker.fgraph.apply_nodes}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sgd_update_becomes_one_gemm(dtype) -> None:
    W = theano.shared(RNG.normal(size=(3, 2)).astype(dtype), name="W")
    h, g = T.TensorType(dtype, (False, False))("h"), T.TensorType(dtype, (False, False))("g")
    w0 = W.get_value()
    hv, gv = RNG.normal(size=(4, 3)).astype(dtype), RNG.normal(size=(4, 2)).astype(dtype)
    f = theano.function([h, g], [], updates=[(W, W - np.asarray(0.1, dtype) * T.dot(h.T, g))])
    assert Gemm in op_types(f)
    f(hv, gv)
    np.testing.assert_allclose(W.get_value(), w0 - 0.1 * hv.T @ gv, rtol=1e-5)


def test_gemv_and_ger_patterns() -> None:
    y, v = T.dvectors("y", "v")
    A = T.dmatrix("A")
    f = theano.function([y, A, v], [y + 2 * T.dot(A, v), 3 * T.dot(v, A.T) - y])
    assert Gemv in op_types(f)
    yv, Av, vv = RNG.normal(size=3), RNG.normal(size=(3, 2)), RNG.normal(size=2)
    a, b = f(yv, Av, vv)
    np.testing.assert_allclose(a, yv + 2 * Av @ vv)
    np.testing.assert_allclose(b, 3 * vv @ Av.T - yv)
    g = theano.function([A, y, v], A + 2 * T.outer(y, v))
    assert Ger in op_types(g)
    np.testing.assert_allclose(g(Av, yv, vv), Av + 2 * np.outer(yv, vv))


def test_bias_rows_are_not_turned_into_gemm() -> None:
    x, w = T.dmatrices("x", "w")
    b = T.drow("b")
    f = theano.function([x, w, b], T.dot(x, w) + b)
    assert Gemm not in op_types(f)


def test_blas_ops_reference_and_gradients() -> None:
    z, x, y = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 4)), RNG.normal(size=(4, 3))
    a, b = np.asarray(0.5), np.asarray(2.0)
    out = theano.function([], gemm_no_inplace(z, a, x, y, b), mode=Mode(optimizer=None))()
    np.testing.assert_allclose(out, b * z + a * x @ y)
    verify_grad(lambda Z, A, X, Y, B: gemm_no_inplace(Z, A, X, Y, B), [z, a, x, y, b], rng=RNG)
    verify_grad(lambda Z, A, M, V, B: gemv_no_inplace(Z, A, M, V, B),
                [RNG.normal(size=2), a, RNG.normal(size=(2, 3)), RNG.normal(size=3), b], rng=RNG)
    verify_grad(lambda Z, A, U, V: ger_no_inplace(Z, A, U, V),
                [RNG.normal(size=(2, 3)), a, RNG.normal(size=2), RNG.normal(size=3)], rng=RNG)
    with pytest.raises(ValueError, match="do not agree"):
        theano.function([], gemm_no_inplace(z, a, x, x.T, b), mode=Mode(optimizer=None))()
    with pytest.raises(TypeError, match="float32/float64"):
        gemm_no_inplace(np.ones((2, 2), "int64"), 1, np.ones((2, 2), "int64"), np.ones((2, 2), "int64"), 1)


def test_inplace_gemm_only_on_dead_intermediates() -> None:
    x, w = T.dmatrices("x", "w")
    z = T.exp(x)                       # an intermediate nobody else needs
    f = theano.function([x, w], z + 0.5 * T.dot(x, w))
    inplace = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Gemm) and n.op.inplace]
    assert inplace
    xv, wv = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 3))
    before = xv.copy()
    np.testing.assert_allclose(f(xv, wv), np.exp(xv) + 0.5 * xv @ wv)
    np.testing.assert_array_equal(xv, before)
    g = theano.function([x, w], x + 0.5 * T.dot(x, w))  # x is a user input: never destroyed
    assert not any(getattr(n.op, "inplace", False) for n in g.maker.fgraph.apply_nodes)


def test_logsumexp_is_stable() -> None:
    x = T.dmatrix("x")
    f = theano.function([x], T.log(T.sum(T.exp(x), axis=1)))
    got = f(np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [0.0, 0.0]]))
    np.testing.assert_allclose(got, [1000 + np.log(2), -1000 + np.log(2), np.log(2)])
