"""jacobian / hessian / Rop / Lop against analytic values and finite differences."""
from __future__ import annotations

import numpy as np

import theanolite as theano
import theanolite.tensor as T
from theanolite.gradient import hessian, jacobian

RNG = np.random.default_rng(3)


def numeric_jacobian(f, x, eps=1e-6):
    cols = []
    for j in range(x.size):
        d = np.zeros_like(x)
        d.flat[j] = eps
        cols.append((np.asarray(f(x + d)) - np.asarray(f(x - d))).ravel() / (2 * eps))
    return np.stack(cols, axis=-1)


def test_softmax_jacobian_is_diag_minus_outer() -> None:
    x = T.dvector("x")
    J = theano.function([x], jacobian(T.nnet.softmax(x), x))
    xv = RNG.normal(size=4)
    s = np.exp(xv - xv.max())
    s /= s.sum()
    np.testing.assert_allclose(J(xv), np.diag(s) - np.outer(s, s), atol=1e-12)


def test_x2_sin_x_jacobian_and_hessian() -> None:
    x = T.dvector("x")
    y = x ** 2 * T.sin(x)
    J = theano.function([x], jacobian(y, x))
    H = theano.function([x], hessian(T.sum(y), x))
    xv = RNG.normal(size=3)
    np.testing.assert_allclose(J(xv), np.diag(2 * xv * np.sin(xv) + xv ** 2 * np.cos(xv)), atol=1e-12)
    d2 = 2 * np.sin(xv) + 4 * xv * np.cos(xv) - xv ** 2 * np.sin(xv)
    np.testing.assert_allclose(H(xv), np.diag(d2), atol=1e-10)


def _mlp_cost(w, x, y):
    w1 = w[:12].reshape((4, 3))
    w2 = w[12:]
    h = T.tanh(T.dot(x, w1))
    p = T.nnet.softmax(T.dot(h, w2.reshape((3, 2))))
    return T.mean(T.nnet.categorical_crossentropy(p, y))


def test_small_mlp_hessian_vector_products_match_finite_differences() -> None:
    w, v = T.dvectors("w", "v")
    x = T.constant(RNG.normal(size=(5, 4)))
    y = T.constant(RNG.integers(0, 2, size=5))
    cost = _mlp_cost(w, x, y)
    g = T.grad(cost, w)
    hv_lop = T.grad(T.sum(g * v), w)
    hv_rop = T.Rop(g, w, v)
    f = theano.function([w, v], [hv_lop, hv_rop])
    grad_f = theano.function([w], g)
    wv, vv = RNG.normal(size=18) * 0.5, RNG.normal(size=18)
    a, b = f(wv, vv)
    eps = 1e-5
    numeric = (grad_f(wv + eps * vv) - grad_f(wv - eps * vv)) / (2 * eps)
    np.testing.assert_allclose(a, numeric, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(b, numeric, rtol=1e-5, atol=1e-8)
    Hf = theano.function([w], hessian(cost, w))
    np.testing.assert_allclose(Hf(wv) @ vv, numeric, rtol=1e-5, atol=1e-8)


def test_tanh_wx_jacobian_rop_lop_match_finite_differences() -> None:
    W = T.dmatrix("W")
    x, u, v = T.dvectors("x", "u", "v")
    y = T.tanh(T.dot(W, x))
    f = theano.function([W, x, u, v], [jacobian(y, x), T.Rop(y, x, u), T.Lop(y, x, v)])
    Wv, xv, uv, vv = RNG.normal(size=(3, 4)), RNG.normal(size=4), RNG.normal(size=4), RNG.normal(size=3)
    J, jv, vj = f(Wv, xv, uv, vv)
    Jn = numeric_jacobian(lambda z: np.tanh(Wv @ z), xv)
    np.testing.assert_allclose(J, Jn, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(jv, Jn @ uv, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(vj, vv @ Jn, rtol=1e-6, atol=1e-9)
