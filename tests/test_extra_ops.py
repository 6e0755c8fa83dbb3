"""extra_ops (and tensor/sort.py) against numpy: values, dtypes, layouts, shapes, gradients."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.gradient import Lop, Rop, verify_grad
from theanolite.tensor import extra_ops as xo
from theanolite.tensor.sort import SortPermute

RNG = np.random.default_rng(1234)


def _run(fn, *values, mode=None):
    syms = [T.TensorType(np.asarray(v).dtype, [False] * np.ndim(v))(f"in{k}") for k, v in enumerate(values)]
    out = fn(*syms)
    return theano.function(syms, out, mode=mode)(*values)


def _inferred_shape(fn, *values):
    """Evaluate ``op.infer_shape`` with constant input shapes; compare to the real shape."""
    syms = [T.TensorType(np.asarray(v).dtype, [False] * np.ndim(v))(f"in{k}") for k, v in enumerate(values)]
    out = fn(*syms)
    node = out.owner
    shapes = [tuple(T.constant(d, dtype="int64") for d in np.shape(v)) for v in values]
    inferred = node.op.infer_shape(None, node, shapes)[out.index]
    f = theano.function(syms, [T.as_tensor_variable(s) for s in inferred] + [out], on_unused_input="ignore")
    *dims, value = f(*values)
    assert tuple(int(d) for d in dims) == value.shape
    return value


def _adjoint_check(fn, x_value, rtol=1e-10):
    """<u, J v> computed with Rop equals <J^T u, v> computed with Lop."""
    x = T.TensorType(x_value.dtype, [False] * x_value.ndim)("x")
    y = fn(x)
    v = T.TensorType(x_value.dtype, [False] * x_value.ndim)("v")
    u = y.type()
    f = theano.function([x, u, v], [(u * Rop(y, x, v)).sum(), (Lop(y, x, u) * v).sum()], on_unused_input="ignore")
    y_shape = theano.function([x], y)(x_value).shape
    left, right = f(x_value, RNG.normal(size=y_shape), RNG.normal(size=x_value.shape))
    np.testing.assert_allclose(left, right, rtol=rtol)


# ----------------------------------------------------------------------------- cumsum / cumprod

@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_cumsum_cumprod_values(axis, mode):
    a = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(_run(lambda x: T.cumsum(x, axis), a, mode=mode), np.cumsum(a, axis))
    np.testing.assert_allclose(_run(lambda x: T.cumprod(x, axis), a, mode=mode), np.cumprod(a, axis))
    np.testing.assert_allclose(_run(lambda x: x.cumsum(axis), a.T, mode=mode), np.cumsum(a.T, axis))


def test_cumsum_dtypes_zero_size_and_zero_d():
    for dtype in ("int8", "float32", "int64"):
        a = np.arange(6, dtype=dtype).reshape(2, 3)
        got = _run(lambda x: T.cumsum(x, 1), a)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, np.cumsum(a, 1, dtype=dtype))
    b = np.array([True, False, True])
    assert _run(lambda x: T.cumsum(x), b).dtype == np.int64
    assert _run(lambda x: T.cumsum(x, 0), np.zeros((0, 2))).shape == (0, 2)
    np.testing.assert_array_equal(_run(lambda x: T.cumprod(x), np.array(3.0)), [3.0])
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        T.cumsum(T.dmatrix(), 2)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_cum_gradients_rop_and_shapes(axis):
    a = RNG.uniform(0.5, 1.5, size=(3, 4))
    for fn in (lambda x: T.cumsum(x, axis), lambda x: T.cumprod(x, axis)):
        verify_grad(fn, [a], rng=RNG)
        _inferred_shape(fn, a)
    _adjoint_check(lambda x: T.cumsum(x, axis), a)
    _adjoint_check(lambda x: T.cumprod(x, axis), a)


# ----------------------------------------------------------------------------- diff

@pytest.mark.parametrize("n,axis", [(0, -1), (1, -1), (2, 0), (3, 1), (6, 1)])
def test_diff_values_grads_and_shapes(n, axis):
    a = RNG.normal(size=(4, 5))
    np.testing.assert_allclose(_run(lambda x: T.diff(x, n, axis), a), np.diff(a, n, axis))
    np.testing.assert_allclose(_inferred_shape(lambda x: T.diff(x, n, axis), a), np.diff(a, n, axis))
    verify_grad(lambda x: T.diff(x, n, axis), [a], rng=RNG)
    _adjoint_check(lambda x: T.diff(x, n, axis), a)


def test_diff_edge_cases():
    np.testing.assert_array_equal(_run(lambda x: T.diff(x), np.zeros(0)), np.zeros(0))
    np.testing.assert_array_equal(_run(lambda x: T.diff(x), np.ones(1)), np.zeros(0))
    assert _run(lambda x: T.diff(x), np.array([1, 4, 9], dtype="int32")).dtype == np.int32
    verify_grad(lambda x: T.diff(x, 2), [np.ones(1)], rng=RNG)  # every output is empty
    # the second derivative exists: the adjoint of the adjoint is diff again
    verify_grad(lambda x: T.grad((T.diff(x, 2) ** 2).sum(), x), [RNG.normal(size=6)], rng=RNG)
    with pytest.raises(ValueError, match="non-negative integer"):
        T.diff(T.dvector(), -1)
    # a broadcastable axis stops being broadcastable (its diff has length 0)
    assert T.diff(T.drow(), axis=0).broadcastable == (False, False)


# ----------------------------------------------------------------------------- repeat

@pytest.mark.parametrize("repeats,axis", [(2, None), (3, 0), (0, 1), ([1, 0, 2], 0), ([2, 1, 0, 3], 1),
                                          (list(range(12)), None)])
def test_repeat_values_grads_and_shapes(repeats, axis):
    a = RNG.normal(size=(3, 4))
    reps = np.asarray(repeats, dtype="int64")
    want = np.repeat(a, reps, axis)
    np.testing.assert_allclose(_run(lambda x: T.repeat(x, reps, axis), a), want)
    np.testing.assert_allclose(_run(lambda x, r: x.repeat(r, axis), a, reps), want)
    np.testing.assert_allclose(_inferred_shape(lambda x, r: T.repeat(x, r, axis), a, reps), want)
    verify_grad(lambda x: T.repeat(x, reps, axis), [a], rng=RNG)
    _adjoint_check(lambda x: T.repeat(x, reps, axis), a)


def test_repeat_types_and_errors():
    x = T.drow("x")
    assert T.repeat(x, 1, axis=0).broadcastable == (True, False)
    assert T.repeat(x, 2, axis=0).broadcastable == (False, False)
    assert T.repeat(x, 2).broadcastable == (False,)
    with pytest.raises(TypeError, match="repeats must be integers"):
        T.repeat(x, 1.5)
    with pytest.raises(ValueError, match="scalar or a vector"):
        T.repeat(x, np.ones((2, 2), dtype="int32"))
    m = T.dmatrix("m")
    r = T.lvector("r")
    f = theano.function([m, r], T.repeat(m, r, axis=0))
    with pytest.raises(ValueError, match=r"RepeatOp\{axis=0\}: cannot repeat an input of shape \(2, 2\)"):
        f(np.ones((2, 2)), np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="non-negative"):
        f(np.ones((2, 2)), np.array([1, -1]))
    assert _run(lambda v: T.repeat(v, 2), np.array([1, 2], dtype="int16")).dtype == np.int16


# ----------------------------------------------------------------------------- sort / argsort

@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_sort_argsort_values_grads_and_shapes(axis):
    a = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(_run(lambda x: T.sort(x, axis), a), np.sort(a, axis))
    np.testing.assert_allclose(_run(lambda x: x.sort(axis), a[:, ::-1]), np.sort(a[:, ::-1], axis))
    got = _run(lambda x: T.argsort(x, axis, kind="stable"), a)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.argsort(a, axis, kind="stable"))
    _inferred_shape(lambda x: T.sort(x, axis), a)
    _inferred_shape(lambda x: T.argsort(x, axis), a)
    verify_grad(lambda x: T.sort(x, axis), [a], rng=RNG)
    _adjoint_check(lambda x: T.sort(x, axis), a)


def test_sort_details():
    ints = np.array([[3, 1, 2], [0, 0, -1]], dtype="int32")
    got = _run(lambda x: T.sort(x, kind="mergesort"), ints)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.sort(ints))
    with_nan = np.array([2.0, np.nan, -1.0])
    np.testing.assert_array_equal(_run(T.sort, with_nan), np.sort(with_nan))
    # ties: the gradient is still a permutation of the output gradient
    x = T.dvector("x")
    w = np.array([10.0, 20.0, 30.0])
    g = theano.function([x], T.grad((T.sort(x) * w).sum(), x))(np.array([1.0, 1.0, 0.0]))
    assert g[2] == 10.0 and sorted(g[:2]) == [20.0, 30.0]
    # the gather/scatter pair are each other's gradient (second order)
    verify_grad(lambda x: T.grad((T.sort(x) ** 3).sum(), x), [RNG.normal(size=5)], rng=RNG)
    assert SortPermute(0, "quicksort", True) != SortPermute(0, "quicksort", False)
    with pytest.raises(ValueError, match="order="):
        T.sort(T.dvector(), order="f")
    with pytest.raises(ValueError, match="kind must be one of"):
        T.argsort(T.dvector(), kind="bogo")
    with pytest.raises(ValueError, match="axis 1 is out of bounds"):
        T.sort(T.dvector(), 1)
    x = T.dvector("x")
    g = T.grad(T.argsort(x).sum() * 0 + x.sum(), x)
    np.testing.assert_array_equal(theano.function([x], g)(np.zeros(2)), [1.0, 1.0])


# ----------------------------------------------------------------------------- diagonals

@pytest.mark.parametrize("shape,offset,axis1,axis2", [((4, 4), 0, 0, 1), ((3, 5), 2, 0, 1), ((5, 3), -1, 0, 1),
                                                      ((3, 4), 7, 0, 1), ((2, 3, 4), 1, 1, 2), ((2, 3, 4), -1, 2, 0)])
def test_diagonal_values_grads_and_shapes(shape, offset, axis1, axis2):
    a = RNG.normal(size=shape)
    want = np.diagonal(a, offset, axis1, axis2)
    np.testing.assert_allclose(_run(lambda x: T.diagonal(x, offset, axis1, axis2), a), want)
    np.testing.assert_allclose(_inferred_shape(lambda x: x.diagonal(offset, axis1, axis2), a), want)
    np.testing.assert_allclose(_run(lambda x: T.trace(x, offset, axis1, axis2), a), np.trace(a, offset, axis1, axis2))
    verify_grad(lambda x: T.diagonal(x, offset, axis1, axis2), [a], rng=RNG)
    verify_grad(lambda x: T.trace(x, offset, axis1, axis2), [a], rng=RNG)
    _adjoint_check(lambda x: T.diagonal(x, offset, axis1, axis2), a)


@pytest.mark.parametrize("k", [0, 2, -1])
def test_diag_and_alloc_diag(k):
    v = RNG.normal(size=3)
    m = RNG.normal(size=(4, 4))
    np.testing.assert_allclose(_run(lambda x: T.diag(x, k), v), np.diag(v, k))
    np.testing.assert_allclose(_run(lambda x: T.diag(x, k), m), np.diag(m, k))
    np.testing.assert_allclose(_inferred_shape(lambda x: T.diag(x, k), v), np.diag(v, k))
    verify_grad(lambda x: T.diag(x, k), [v], rng=RNG)
    _adjoint_check(lambda x: T.diag(x, k), v)
    batch = RNG.normal(size=(2, 3))
    got = _inferred_shape(lambda x: xo.alloc_diag(x, k, 1, 2), batch)
    for i in range(2):
        np.testing.assert_allclose(got[i], np.diag(batch[i], k))
    got = _run(lambda x: xo.alloc_diag(x, k, 2, 0), batch)
    np.testing.assert_allclose(np.diagonal(got, k, 2, 0), batch)
    verify_grad(lambda x: xo.alloc_diag(x, k, 2, 0), [batch], rng=RNG)


def test_diag_errors_and_dtypes():
    with pytest.raises(ValueError, match="vector or a matrix"):
        T.diag(T.dscalar())
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        T.diagonal(T.dvector())
    with pytest.raises(ValueError, match="same axis"):
        T.diagonal(T.dmatrix(), 0, 1, -1)
    got = _run(T.trace, np.arange(9, dtype="int32").reshape(3, 3))
    assert got == 12
    a = np.arange(4.0).reshape(2, 2)
    node = T.diagonal(T.dmatrix()).owner
    storage = [[None]]
    node.op.perform(node, [a], storage)
    assert not np.shares_memory(storage[0][0], a)  # a copy: the op declares no view_map


# ----------------------------------------------------------------------------- nonzero

def test_nonzero_forms():
    a = np.array([[0, 1.5, 0], [2.0, 0, -1.0]])
    got = _run(lambda x: T.nonzero(x), a)
    assert isinstance(got, list) and len(got) == 2
    for g, w in zip(got, np.nonzero(a)):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(_run(lambda x: x.nonzero(return_matrix=True), a), np.array(np.nonzero(a)))
    np.testing.assert_array_equal(_run(T.flatnonzero, a), np.flatnonzero(a))
    np.testing.assert_array_equal(_run(T.flatnonzero, np.array([True, False, True])), [0, 2])
    empty = _run(lambda x: T.nonzero(x, return_matrix=True), np.zeros((0, 3)))
    assert empty.shape == (2, 0)
    (only,) = _run(lambda x: list(T.nonzero(x)), np.array([0.0, 3.0]))
    np.testing.assert_array_equal(only, [1])
    with pytest.raises(ValueError, match="non-scalar"):
        T.nonzero(T.dscalar())
    with pytest.raises(ValueError, match="non-scalar"):
        T.flatnonzero(T.dscalar())


# ----------------------------------------------------------------------------- fill_diagonal

@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (5, 2), (3, 3, 3)])
def test_fill_diagonal(shape):
    a = RNG.normal(size=shape)
    want = a.copy()
    np.fill_diagonal(want, 7.0)
    np.testing.assert_allclose(_run(lambda x: T.fill_diagonal(x, 7.0), a), want)
    _inferred_shape(lambda x, v: T.fill_diagonal(x, v), a, np.array(7.0))
    verify_grad(T.fill_diagonal, [a, np.array(2.0)], rng=RNG)


def test_fill_diagonal_errors_and_input_untouched():
    a = np.zeros((2, 2))
    _run(lambda x: T.fill_diagonal(x, 1.0), a)
    assert not a.any()
    with pytest.raises(TypeError, match="at least 2 dimensions"):
        T.fill_diagonal(T.dvector(), 1.0)
    with pytest.raises(TypeError, match="must be a scalar"):
        T.fill_diagonal(T.dmatrix(), T.dvector())
    with pytest.raises(TypeError, match="does not fit"):
        T.fill_diagonal(T.fmatrix(), T.dscalar())
    with pytest.raises(ValueError, match="same length, got shape"):
        _run(lambda x: T.fill_diagonal(x, 1.0), np.zeros((2, 3, 2)))


@pytest.mark.parametrize("offset", [0, 1, 3, -2, 9, -9])
def test_fill_diagonal_offset(offset):
    a = RNG.normal(size=(4, 5))
    want = a.copy()
    rows, cols = np.nonzero(np.eye(4, 5, offset))
    want[rows, cols] = 3.0
    np.testing.assert_allclose(_run(lambda x, k: T.fill_diagonal_offset(x, 3.0, k), a, np.array(offset)), want)
    verify_grad(lambda x, v: T.fill_diagonal_offset(x, v, offset), [a, np.array(1.5)], rng=RNG)
    _inferred_shape(lambda x: T.fill_diagonal_offset(x, 3.0, offset), a)
    with pytest.raises(TypeError, match="offset must be an integer scalar"):
        T.fill_diagonal_offset(T.dmatrix(), 1.0, 0.5)


# ----------------------------------------------------------------------------- bincount / unique

def test_bincount():
    x = np.array([0, 1, 1, 3, 1], dtype="int32")
    w = np.array([0.5, 1.0, 2.0, -1.0, 0.25])
    got = _run(T.bincount, x)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.bincount(x))
    np.testing.assert_array_equal(_run(lambda v: T.bincount(v, minlength=7), x), np.bincount(x, minlength=7))
    np.testing.assert_allclose(_run(lambda v, ww: T.bincount(v, ww), x, w), np.bincount(x, w))
    np.testing.assert_array_equal(_run(lambda v: T.bincount(v, minlength=3), np.zeros(0, dtype="int64")), [0, 0, 0])
    with pytest.raises(ValueError, match="negative value -2"):
        _run(T.bincount, np.array([1, -2]))
    with pytest.raises(ValueError, match="weights have shape"):
        _run(lambda v, ww: T.bincount(v, ww), x, w[:2])
    with pytest.raises(TypeError, match="integer vector"):
        T.bincount(T.dvector())


def test_bincount_weights_gradient():
    x = np.array([0, 2, 2, 1])  # the gradient gathers with x (integer indexing, subtensor.py)
    verify_grad(lambda w: T.bincount(x, w), [RNG.normal(size=4)], rng=RNG)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_unique(axis):
    a = np.array([[3, 1, 3], [3, 1, 3], [0, 2, 0]], dtype="int16")
    outs = _run(lambda x: T.unique(x, True, True, True, axis=axis), a)
    want = np.unique(a, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    assert outs[0].dtype == np.int16
    np.testing.assert_array_equal(outs[0], want[0])
    for got, ref in zip(outs[1:], want[1:]):
        assert got.dtype == np.int64 and got.ndim == 1
        np.testing.assert_array_equal(got, np.asarray(ref).reshape(-1))
    np.testing.assert_array_equal(_run(T.unique, np.array([2.0, np.nan, 2.0])), np.unique([2.0, np.nan, 2.0]))


LAYOUT_CASES = [
    ("cumsum", lambda x: T.cumsum(x, 0), lambda a: np.cumsum(a, 0)),
    ("cumprod", lambda x: T.cumprod(x, None), lambda a: np.cumprod(a)),
    ("diff", lambda x: T.diff(x, 1, 0), lambda a: np.diff(a, 1, 0)),
    ("repeat", lambda x: T.repeat(x, 2, 1), lambda a: np.repeat(a, 2, 1)),
    ("sort", lambda x: T.sort(x, 0), lambda a: np.sort(a, 0)),
    ("diagonal", lambda x: T.diagonal(x, 1), lambda a: np.diagonal(a, 1)),
    ("fill_diagonal", lambda x: T.fill_diagonal(x, 2), lambda a: _filled(a, 2)),
]


def _filled(a, v):
    out = a.copy()
    np.fill_diagonal(out, v)
    return out


@pytest.mark.parametrize("name,fn,ref", LAYOUT_CASES, ids=[c[0] for c in LAYOUT_CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtypes_and_strided_layouts(name, fn, ref, dtype):
    base = RNG.normal(size=(6, 5)).astype(dtype)
    for a in (base, base.T, base[::-2, 1:], base[:, ::-1]):
        got = _run(fn, a)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref(a), rtol=1e-5 if dtype == "float32" else 1e-12)


# ----------------------------------------------------------------------------- properties

@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=3), seed=st.integers(0, 2**16),
       data=st.data())
def test_cumsum_and_sort_match_numpy(shape, seed, data):
    a = np.random.default_rng(seed).normal(size=shape)
    axis = data.draw(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
    np.testing.assert_allclose(_cached(("cumsum", len(shape), axis), lambda x: T.cumsum(x, axis), a)(a),
                               np.cumsum(a, axis))
    np.testing.assert_array_equal(_cached(("sort", len(shape), axis), lambda x: T.sort(x, axis), a)(a),
                                  np.sort(a, axis))


_CACHE: dict = {}


def _cached(key, fn, example):
    if key not in _CACHE:
        x = T.TensorType(example.dtype, [False] * example.ndim)("x")
        _CACHE[key] = theano.function([x], fn(x))
    return _CACHE[key]
