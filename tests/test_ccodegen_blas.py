"""Dot, gemm, gemv and ger in C through BLAS: every layout, zero sizes, errors."""
from __future__ import annotations

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.ccodegen.blas_c import find_blas
from theanolite.graph.basic import Apply
from theanolite.graph.op import Op
from theanolite.tensor.blas import gemm_inplace, gemm_no_inplace, gemv_no_inplace, ger_no_inplace

from ccodegen_support import C_OPT, PY_RAW, c_function, session_cache  # noqa: F401

pytestmark = pytest.mark.skipif(find_blas() is None, reason="no CBLAS found")


def _layout(a: np.ndarray, kind: str) -> np.ndarray:
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "negative":
        flip = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[flip])[flip]  # same values, negative strides
    if kind == "strided":
        big = np.zeros(tuple(3 * n for n in a.shape), a.dtype)
        view = big[tuple(slice(None, None, 3) for _ in a.shape)]
        view[...] = a
        return view
    return a


@pytest.fixture(scope="module", params=["float64", "float32"])
def dots(request):
    dt = request.param
    A, B, v, w = T.matrix(dtype=dt), T.matrix(dtype=dt), T.vector(dtype=dt), T.vector(dtype=dt)
    outs = [T.dot(A, B), T.dot(A, v), T.dot(v, B), T.dot(v, w)]
    f = c_function([A, B, v, w], outs)
    assert len(f.maker.program.partition.steps) == 1
    return dt, f, theano.function([A, B, v, w], outs, mode=PY_RAW)


@pytest.mark.parametrize("kind", ["c", "fortran", "negative", "strided"])
@pytest.mark.parametrize("mkn", [(3, 4, 5), (1, 1, 1), (0, 3, 2), (3, 0, 2), (4, 2, 0), (17, 9, 1)])
def test_dot_all_layouts_and_sizes(dots, kind, mkn):
    dt, f_c, f_py = dots
    m, k, n = mkn
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    args = [_layout(rng.standard_normal(s).astype(dt), kind) for s in ((m, k), (k, n), (k,), (k,))]
    tol = 1e-5 if dt == "float32" else 1e-13
    for c, p in zip(f_c(*args), f_py(*args)):
        assert c.dtype == p.dtype and c.shape == p.shape
        np.testing.assert_allclose(c, p, rtol=tol, atol=tol)


def test_dot_special_values_match_numpy(dots):
    dt, f_c, f_py = dots
    a = np.array([[np.nan, 1.0], [np.inf, -0.0]], dt)
    b = np.array([[1.0, 0.0], [-np.inf, 2.0]], dt)
    v = np.array([0.0, -0.0], dt)
    with np.errstate(all="ignore"):
        for c, p in zip(f_c(a, b, v, v), f_py(a, b, v, v)):
            np.testing.assert_array_equal(c, p)


def test_dot_shape_mismatch_is_a_value_error(dots):
    dt, f_c, _ = dots
    with pytest.raises(ValueError, match=r"Dot: shapes \(2, 3\) and \(4, 5\) are not aligned"):
        f_c(np.ones((2, 3), dt), np.ones((4, 5), dt), np.ones(3, dt), np.ones(3, dt))


class _FortranCopy(Op):
    __props__ = ()

    def make_node(self, x):
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, out):
        out[0][0] = np.asfortranarray(inputs[0] * 1.0)


def test_gemm_gemv_ger_in_place_and_not():
    rng = np.random.default_rng(3)
    Z, X, Y = T.dmatrix(), T.dmatrix(), T.dmatrix()
    z, x, y = T.dvector(), T.dvector(), T.dvector()
    a, b = T.dscalar(), T.fscalar()
    # gemm_inplace overwrites a Fortran-ordered array made by a Python node: BLAS writes
    # row-major, so C computes in scratch and copies back into that buffer.
    outs = [gemm_no_inplace(Z, a, X, Y, b), gemm_inplace(_FortranCopy()(Z), a, X, Y, b),
            gemv_no_inplace(z, a, X, x, b), ger_no_inplace(Z, a, z, y)]
    f = c_function([Z, X, Y, z, x, y, a, b], outs)
    g = theano.function([Z, X, Y, z, x, y, a, b], outs, mode=PY_RAW)
    assert any(seg.out_alias for seg in f.maker.program.partition.segments)
    for kind in ("c", "fortran", "negative", "strided"):
        for beta in (0.0, 0.5):
            m, k, n = 4, 3, 5
            args = [rng.standard_normal(s) for s in ((m, n), (m, k), (k, n), (m,), (k,), (n,))]
            args = [_layout(v, kind) if v.ndim == 2 else v for v in args]
            args[0][0, 0] = np.nan if beta == 0 else args[0][0, 0]  # beta=0 ignores Z
            args += [np.array(1.5), np.array(beta, np.float32)]
            with np.errstate(all="ignore"):
                for c, p in zip(f(*args), g(*args)):
                    np.testing.assert_allclose(c, p, rtol=1e-13, atol=1e-13)


def test_sgd_update_becomes_one_blas_call_in_c():
    W = theano.shared(np.random.default_rng(0).standard_normal((5, 3)), name="W")
    x, gy = T.dmatrix("x"), T.dmatrix("gy")
    f = theano.function([x, gy], [], updates=[(W, W - 0.1 * T.dot(x.T, gy))], mode=C_OPT)
    ops = [type(n.op).__name__ for s in f.maker.program.partition.segments for n in s.nodes]
    assert any(name in ("Gemm", "Dot") for name in ops), ops
    w0 = W.get_value().copy()
    a, b = np.random.default_rng(1).standard_normal((4, 5)), np.random.default_rng(2).standard_normal((4, 3))
    f(a, b)
    np.testing.assert_allclose(W.get_value(), w0 - 0.1 * a.T @ b, rtol=1e-13)
