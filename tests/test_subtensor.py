"""Indexing (theanolite.tensor.subtensor / subtensor_advanced): values against numpy for
basic and advanced indices, set/inc, errors, infer_shape, gradients, R_op/L_op
consistency, x.shape[i] and printing."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.gradient import DisconnectedInputError, Lop, Rop, verify_grad
from theanolite.tensor.subtensor import (AdvancedIncSubtensor, AdvancedIncSubtensor1,
                                         AdvancedSubtensor, AdvancedSubtensor1, IncSubtensor,
                                         Subtensor, slice_length)

RNG = np.random.default_rng(2024)
PY = theano.Mode(linker="py")  # all rewrites (the shape ones use infer_shape), no C compile


def _f(inputs, outputs, mode=PY):
    return theano.function(inputs, outputs, on_unused_input="ignore", mode=mode)


def _var(value, name="x"):
    value = np.asarray(value)
    return T.TensorType(str(value.dtype), [False] * value.ndim)(name)


def _rand(shape, dtype="float64"):
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(-5, 6, size=shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def _check(fn, value, index_desc=""):
    """fn(x) compiled equals fn(value) in numpy, with its dtype, shape and inferred shape."""
    x = _var(value)
    out = fn(x)
    got, shape = _f([x], [out, out.shape])(value)
    want = fn(value)
    assert got.dtype == value.dtype, index_desc
    np.testing.assert_array_equal(got, want, err_msg=str(index_desc))
    assert tuple(shape) == np.shape(want), index_desc
    return out


def _check_infer_shape(out, inputs, values):
    """Each output's infer_shape, evaluated from constant input shapes, equals its shape."""
    node = out.owner
    in_vals = _f(inputs, node.inputs)(*values)
    shapes = [tuple(T.constant(s, dtype="int64") for s in np.shape(v)) for v in in_vals]
    inferred = node.op.infer_shape(None, node, shapes)
    actual = _f(inputs, node.outputs)(*values)
    for entries, value in zip(inferred, actual):
        assert all(isinstance(e, int) or e.dtype == "int64" for e in entries)
        entries = [T.as_tensor_variable(e) for e in entries]
        got = tuple(int(v) for v in _f(inputs, entries)(*values)) if entries else ()
        assert got == np.shape(value)


def _dot_consistency(fn, x_val):
    """<v, J u> from Rop equals <J^T v, u> from Lop (a linear-map identity)."""
    x = _var(x_val)
    out = fn(x)
    u, v = _var(x_val, "u"), out.type("v")
    jv, vj = Rop(out, x, u), Lop(out, x, v)
    out_val = _f([x], out)(x_val)
    u_val, v_val = _rand(x_val.shape), _rand(out_val.shape)
    jv_val, vj_val = _f([x, u, v], [jv, vj])(x_val, u_val, v_val)
    assert jv_val.shape == out_val.shape and vj_val.shape == x_val.shape
    np.testing.assert_allclose(np.sum(v_val * jv_val), np.sum(vj_val * u_val), rtol=1e-10, atol=1e-10)


def _grad(fn, *values):
    verify_grad(fn, list(values), rng=np.random.default_rng(0), mode=PY)


# ----------------------------------------------------------------------------- basic indexing

_BOUND = st.none() | st.integers(-6, 6)
_STEP = st.none() | st.integers(-3, 3).filter(lambda s: s != 0)


@st.composite
def _basic_case(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    entries = []
    for n in shape:
        if n > 0 and draw(st.booleans()):
            entries.append(draw(st.integers(-n, n - 1)))
        else:
            entries.append(slice(draw(_BOUND), draw(_BOUND), draw(_STEP)))
    entries = entries[: draw(st.integers(0, ndim))]  # fewer indices than dims
    if entries and draw(st.booleans()):  # a run of whole dims becomes `...`
        j = draw(st.integers(0, len(entries)))
        m = draw(st.integers(0, len(entries) - j))
        entries = entries[:j] + [Ellipsis] + entries[j + m:]
    for _ in range(draw(st.integers(0, 2))):
        entries.insert(draw(st.integers(0, len(entries))), None)
    return shape, tuple(entries)


@settings(max_examples=25, deadline=None)
@given(_basic_case())
def test_basic_indexing_matches_numpy(case):
    shape, index = case
    value = _rand(shape)
    try:
        value[index]
    except IndexError:  # e.g. an int after `...` landing on a shorter dim: we must agree
        x = _var(value)
        with pytest.raises(IndexError):
            _f([x], x[index])(value)
        return
    out = _check(lambda t: t[index], value, index)
    if isinstance(out.owner.op, Subtensor):
        x = out.owner.inputs[0]
        if x.owner is None:
            _check_infer_shape(out, [x], [value])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 6), parts=st.tuples(*[st.sampled_from(["none", "const", "sym"])] * 3),
       values=st.tuples(st.integers(-8, 8), st.integers(-8, 8), st.integers(-3, 3).filter(lambda s: s != 0)))
def test_symbolic_slice_bounds(n, parts, values):
    """Symbolic start/stop/step (negative too): values and the slice-length arithmetic."""
    value = np.arange(n, dtype="float64") * 1.5
    x = _var(value)
    syms = [T.lscalar(k) for k in "abc"]
    bounds = [None if p == "none" else v if p == "const" else s for p, v, s in zip(parts, values, syms)]
    ref = slice(*[None if p == "none" else v for p, v in zip(parts, values)])
    out = x[bounds[0]:bounds[1]:bounds[2]]
    got, shape = _f([x] + syms, [out, out.shape])(value, *values)
    np.testing.assert_array_equal(got, value[ref])
    assert tuple(shape) == value[ref].shape
    n_sym = T.lscalar("n")
    length = slice_length(*bounds, n_sym)
    assert int(_f([n_sym] + syms, T.as_tensor_variable(length))(n, *values)) == len(value[ref])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8"])
def test_basic_dtypes_and_noncontiguous(dtype):
    base = _rand((5, 6), dtype)
    for value in (base, base.T, base[::2, ::-1]):
        for index in [(1,), (-1, slice(None, None, 2)), (slice(1, -1), 3), (Ellipsis, 0), (None, slice(2, None))]:
            _check(lambda t: t[index], value, index)


def test_zero_d_zero_size_and_empty_results():
    s = np.asarray(2.5)
    _check(lambda t: t[...], s)
    _check(lambda t: t[None], s)
    _check(lambda t: t[()], s)
    empty = _rand((0, 3))
    _check(lambda t: t[:, 1], empty)
    _check(lambda t: t[1:], empty)
    value = _rand((4, 3))
    _check(lambda t: t[3:1], value)
    _check(lambda t: t[:, 5:], value)
    _check(lambda t: t[::-1, ::-2], value)


def test_symbolic_integer_index_and_scalar_result():
    x, i = T.dmatrix("x"), T.iscalar("i")
    value = _rand((3, 4))
    f = _f([x, i], [x[i], x[i, -1], x[-1, i]])
    for k in (-3, 0, 2):
        a, b, c = f(value, k)
        np.testing.assert_array_equal(a, value[k])
        assert b.shape == () and isinstance(b, np.ndarray) and b == value[k, -1]
        assert c == value[-1, k]
    assert str(x[i].owner.op) == "Subtensor{int32}"
    _check_infer_shape(x[i, 1:], [x, i], [value, 1])


def test_index_expressions_from_shapes():
    x = T.dvector("x")
    value = np.arange(5.0)
    f = _f([x], [x[x.shape[0] - 1], x[: x.shape[0] // 2], x[T.constant(1):]])
    last, half, tail = f(value)
    assert last == 4.0
    np.testing.assert_array_equal(half, value[:2])
    np.testing.assert_array_equal(tail, value[1:])


def test_output_is_a_view_but_callers_get_safe_arrays():
    x = T.dmatrix("x")
    assert x[1].owner.op.view_map == {0: [0]}
    value = _rand((3, 4))
    got = _f([x], x[1])(value)
    got[:] = 0
    assert not np.all(value[1] == 0)


def test_broadcastable_flags():
    r = T.drow("r")
    assert r[0:1].broadcastable == (True, False)
    assert r[:, 1:].broadcastable == (True, False)
    assert r[::-1].broadcastable == (True, False)
    assert r[1:].broadcastable == (False, False)
    x = T.dmatrix("x")
    assert x[0:1].broadcastable == (False, False)
    assert x[None, 0].broadcastable == (True, False)
    assert x[[0, 1]].broadcastable == (False, False)


def test_shape_indexing():
    x = T.dtensor3("x")
    value = _rand((2, 3, 4))
    assert isinstance(x.shape[0].owner.op, T.Shape_i) and x.shape[0].owner.op.i == 0
    assert x.shape[-1].owner.op.i == 2
    assert x.shape[0].dtype == "int64" and x.shape[0].ndim == 0
    i = T.lscalar("i")
    f = _f([x, i], [x.shape[0], x.shape[-1], x.shape[i], x.shape[1:]])
    a, b, c, d = f(value, 1)
    assert (int(a), int(b), int(c)) == (2, 4, 3) and d.tolist() == [3, 4]
    with pytest.raises(IndexError, match="out of range for the shape"):
        x.shape[3]
    with pytest.raises(IndexError, match=r"Subtensor\{int64\}.*out of bounds"):
        _f([x, i], x.shape[i])(value, 5)


# ----------------------------------------------------------------------------- errors

def test_index_errors():
    x, i = T.dmatrix("x"), T.lscalar("i")
    value = _rand((3, 4))
    with pytest.raises(IndexError, match=r"Subtensor\{int64\}: index \[7\] is out of bounds.*\(3, 4\)"):
        _f([x, i], x[i])(value, 7)
    with pytest.raises(IndexError, match=r"Subtensor\{:, int64\}.*\[:, -5\].*\(3, 4\)"):
        _f([x, i], x[:, i])(value, -5)
    with pytest.raises(IndexError, match="too many indices"):
        x[1, 2, 3]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 1, ...]
    with pytest.raises(TypeError, match="float64"):
        x[T.dscalar()]
    with pytest.raises(TypeError, match="integer"):
        x[1.5]
    with pytest.raises(TypeError, match="slice bound"):
        x[T.dscalar():]
    with pytest.raises(TypeError, match="boolean scalar"):
        x[True]
    with pytest.raises(ValueError, match="step cannot be zero"):
        x[::0]
    with pytest.raises(ValueError, match="step cannot be zero"):
        _f([x, i], x[::i])(value, 0)


def test_advanced_index_errors_name_op_index_and_shape():
    x = T.dmatrix("x")
    value = _rand((3, 4))
    v = T.lvector("v")
    with pytest.raises(IndexError, match=r"AdvancedSubtensor1: index 3 is out of bounds.*size 3.*\(3, 4\)"):
        _f([x, v], x[v])(value, [0, 3])
    with pytest.raises(IndexError, match=r"AdvancedSubtensor1: index -4"):
        _f([x, v], x[v])(value, [-4])
    with pytest.raises(IndexError, match=r"AdvancedSubtensor\{:, int64\}.*\(3, 4\)"):
        _f([x, v], x[:, v])(value, [1, 9])
    with pytest.raises(IndexError, match=r"AdvancedIncSubtensor1.*index 5"):
        _f([x, v], T.inc_subtensor(x[v], 1.0))(value, [5])
    with pytest.raises(IndexError, match=r"AdvancedIncSubtensor\{.*\(3, 4\)"):
        _f([x, v], T.set_subtensor(x[1, v], 1.0))(value, [4])
    with pytest.raises(IndexError, match=r"AdvancedSubtensor\{bool\}.*bool mask of shape \(2, 2\).*\(3, 4\)"):
        _f([x], x[T.constant(np.ones((2, 2), dtype=bool))])(value)
    with pytest.raises(TypeError, match="integer vector"):
        AdvancedSubtensor1()(x, T.dvector())


# ----------------------------------------------------------------------------- advanced

@pytest.mark.parametrize("dtype", ["float64", "int16"])
def test_advanced_subtensor1(dtype):
    value = _rand((5, 3), dtype)
    out = _check(lambda t: t[[4, 0, 0, -1]], value)
    assert isinstance(out.owner.op, AdvancedSubtensor1)
    _check(lambda t: t[np.array([], dtype="int64")], value)
    _check(lambda t: t[[]], value)
    _check(lambda t: t[[2, 1], :], value.T)
    x, v = _var(value), T.ivector("v")
    _check_infer_shape(x[v], [x, v], [value, np.array([1, 1, 0], dtype="int32")])


_ADVANCED = [
    lambda t: t[[0, 2], [1, 3]],
    lambda t: t[[[0, 1], [2, 2]]],
    lambda t: t[:, [3, 0, 3]],
    lambda t: t[1:, [0, 2]],
    lambda t: t[[0, 2], 1:],
    lambda t: t[[[1], [2]], [0, 3]],          # broadcast index arrays
    lambda t: t[t > 0],
    lambda t: t[(t > 0)[:, 0]],
    lambda t: t[(t > 0)[:, 0], ::-1],
    lambda t: t[:, (t > 0)[0]],
    lambda t: t[[2, 0], None],
    lambda t: t[..., [1, 1]],
    lambda t: t[-1, [0, -1]],
]


@pytest.mark.parametrize("k", range(len(_ADVANCED)))
def test_advanced_indexing_matches_numpy(k):
    fn = _ADVANCED[k]
    for value in (_rand((3, 4)), _rand((4, 3)).T):
        _check(fn, value, k)


def test_advanced_3d_layout_rules():
    value = _rand((3, 4, 5))
    cases = [
        lambda t: t[[0, 1], :, [2, 3]],          # separated: broadcast dims go first
        lambda t: t[:, [0, 1], [2, 3]],          # adjacent: stay in place
        lambda t: t[1, :, [0, 4]],               # an int counts as advanced here
        lambda t: t[:, 1, [0, 4]],
        lambda t: t[[[0], [2]], 1:3, [[1, 2, 3]]],
        lambda t: t[t[:, :, 0] > 0],             # a 2-d mask
        lambda t: t[0, t[0, :, 0] > 0],
        lambda t: t[:, [True, False, True, True]],
    ]
    for k, fn in enumerate(cases):
        _check(fn, value, k)


def test_advanced_symbolic_pieces_and_infer_shape():
    x, v, i, m = T.dtensor3("x"), T.lmatrix("v"), T.lscalar("i"), T.dmatrix("m")
    value = _rand((3, 4, 5))
    idx = np.array([[0, 2], [1, 1], [2, 0]])
    outs = [x[v, i:], x[i, :, v], x[:, m > 0], x[v[0], ::-1, v[1]]]
    mval = _rand((4, 5))
    f = _f([x, v, i, m], outs)
    want = [value[idx, 1:], value[1, :, idx], value[:, mval > 0], value[idx[0], ::-1, idx[1]]]
    for got, ref in zip(f(value, idx, 1, mval), want):
        np.testing.assert_array_equal(got, ref)
    for out in outs:
        assert isinstance(out.owner.op, AdvancedSubtensor)
        _check_infer_shape(out, [x, v, i, m], [value, idx, 1, mval])


def test_take():
    a = T.dmatrix("a")
    value = _rand((3, 4))
    idx = np.array([[0, 2], [-1, 1]])
    cases = [
        (lambda t: T.take(t, idx), lambda n: np.take(n, idx)),
        (lambda t: T.take(t, [2, 0], axis=0), lambda n: np.take(n, [2, 0], axis=0)),
        (lambda t: T.take(t, [3, 3, 1], axis=1), lambda n: np.take(n, [3, 3, 1], axis=1)),
        (lambda t: T.take(t, idx, axis=-1), lambda n: np.take(n, idx, axis=-1)),
        (lambda t: T.take(t, 2, axis=1), lambda n: np.take(n, 2, axis=1)),
        (lambda t: T.take(t, [7, -9], axis=1, mode="clip"), lambda n: np.take(n, [7, -9], axis=1, mode="clip")),
        (lambda t: T.take(t, [7, -9], axis=1, mode="wrap"), lambda n: np.take(n, [7, -9], axis=1, mode="wrap")),
    ]
    for fn, ref in cases:
        np.testing.assert_array_equal(_f([a], fn(a))(value), ref(value))
    with pytest.raises(IndexError, match="out of bounds"):
        _f([a], T.take(a, [5], axis=1))(value)
    with pytest.raises(TypeError, match="integers"):
        T.take(a, T.dvector())
    _grad(lambda t: T.take(t, [2, 2, 0], axis=1), value)


# ----------------------------------------------------------------------------- set / inc

# Each row: the index as a function of the tensor (numpy or symbolic), and a value y.
_WRITES = [
    (lambda t: (1,), 5.0),
    (lambda t: (slice(1, None), slice(None, None, 2)), np.array([1.0, 2.0])),
    (lambda t: (slice(None, None, -1), 2), np.array([1.0, 2.0, 3.0])),
    (lambda t: (Ellipsis, -1), 7.0),
    (lambda t: ([0, 2, 0],), np.array([[1.0, 2.0, 3.0, 4.0]])),
    (lambda t: ([0, 2, 0],), np.array([1.0, 2.0, 3.0, 4.0])),
    (lambda t: ([0, 2, 0], [1, 1, 1]), np.array([1.0, 2.0, 3.0])),
    (lambda t: (slice(None), [3, 3]), np.array([[1.0], [2.0], [3.0]])),
    (lambda t: (t > 0,), -1.0),
    (lambda t: (slice(1, None), [0, 0]), np.ones((2, 2))),
]


@pytest.mark.parametrize("k", range(len(_WRITES)))
@pytest.mark.parametrize("inc", [False, True])
def test_set_and_inc_match_numpy(k, inc):
    index, y_val = _WRITES[k]
    value = _rand((3, 4))
    x = _var(value)
    y = T.TensorType("float64", [n == 1 for n in np.shape(y_val)])("y")
    out = (T.inc_subtensor if inc else T.set_subtensor)(x[index(x)], y)
    keep = value.copy()
    got, shape = _f([x, y], [out, out.shape])(value, y_val)
    want = value.copy()
    if inc:
        np.add.at(want, index(value), y_val)
    else:
        want[index(value)] = y_val
    np.testing.assert_allclose(got, want)
    np.testing.assert_array_equal(value, keep)  # not in place
    assert tuple(shape) == value.shape and got.dtype == value.dtype
    _check_infer_shape(out, [x, y], [value, y_val])


def test_inc_accumulates_duplicates_and_set_keyword():
    x, v = T.dvector("x"), T.lvector("v")
    f = _f([x, v], [T.inc_subtensor(x[v], 1.0), T.inc_subtensor(x[v], 2.0, set_instead_of_inc=True)])
    inc, put = f(np.zeros(4), [1, 1, 3, 1])
    np.testing.assert_array_equal(inc, [0, 3, 0, 1])
    np.testing.assert_array_equal(put, [0, 2, 0, 2])
    out = T.inc_subtensor(x[v], 1.0)
    assert isinstance(out.owner.op, AdvancedIncSubtensor1) and not out.owner.op.inplace
    assert out.owner.op.destroy_map == {}


def test_set_subtensor_symbolic_slice_and_newaxis():
    x, i = T.dmatrix("x"), T.lscalar("i")
    value = _rand((3, 4))
    out = T.set_subtensor(x[i:, None, 1], T.constant(np.zeros((1, 1))))
    assert out.ndim == 2
    want = value.copy()
    want[2:, 1] = 0
    np.testing.assert_array_equal(_f([x, i], out)(value, 2), want)
    assert str(T.set_subtensor(x[i], 1.0).owner.op) == "IncSubtensor{Set;int64}"


def test_set_inc_types_and_errors():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    with pytest.raises(TypeError, match="indexing result"):
        T.set_subtensor(x, 1.0)
    with pytest.raises(TypeError, match="indexing result"):
        T.inc_subtensor(x + 1, 1.0)
    with pytest.raises(TypeError, match="2-d value"):
        T.set_subtensor(x[0], y)
    value = _rand((3, 4))
    with pytest.raises(ValueError, match=r"region of shape \(4,\) with a value of shape \(3,\)"):
        _f([x, (v := T.dvector("v"))], T.set_subtensor(x[0], v))(value, np.ones(3))
    with pytest.raises(ValueError, match="not broadcastable"):
        _f([x, v], T.inc_subtensor(x[0], v))(value, np.ones(1))
    with pytest.raises(ValueError, match="increment"):
        _f([x, y], T.inc_subtensor(x[[0, 1]], y))(value, np.ones((3, 4)))
    # A region dim of length 1 forces the value's dim to be broadcastable (checked at run time).
    r = T.drow("r")
    np.testing.assert_array_equal(_f([r, y], T.set_subtensor(r[:, :2], y))(np.zeros((1, 3)), np.ones((1, 2))),
                                  [[1, 1, 0]])
    with pytest.raises(ValueError):
        _f([r, y], T.set_subtensor(r[:, :2], y))(np.zeros((1, 3)), np.ones((2, 2)))
    # A lower-precision/ integer x takes a value of another dtype (numpy's assignment).
    ix = T.ivector("ix")
    np.testing.assert_array_equal(_f([ix], T.inc_subtensor(ix[1:], 2.0))(np.zeros(3, dtype="int32")), [0, 2, 2])


# ----------------------------------------------------------------------------- gradients

def test_subtensor_gradients():
    value = _rand((4, 5))
    _grad(lambda t: t[1], value)
    _grad(lambda t: t[1:3, ::-2], value)
    _grad(lambda t: t[-1, 2], value)
    _grad(lambda t: t[None, ..., 1:], value)
    x, i = T.dmatrix("x"), T.lscalar("i")
    g = T.grad(x[i, i:].sum(), x)
    want = np.zeros((4, 5))
    want[2, 2:] = 1
    np.testing.assert_array_equal(_f([x, i], g)(value, 2), want)
    with pytest.raises(DisconnectedInputError):
        T.grad(x[i].sum(), i)
    ig = T.grad(x[i].sum(), i, disconnected_inputs="ignore")
    assert int(_f([i], ig)(1)) == 0


def test_advanced_gradients_accumulate_duplicates():
    value = _rand((4, 3))
    _grad(lambda t: t[[0, 0, 3, 0]], value)
    _grad(lambda t: t[[1, 1], [2, 2]], value)
    _grad(lambda t: t[:, [2, 0, 2]], value)
    _grad(lambda t: t[t[:, 0] > 0], value)
    x = T.dvector("x")
    g = T.grad(x[[1, 1, 2]].sum(), x)
    np.testing.assert_array_equal(_f([x], g)(np.zeros(4)), [0, 2, 1, 0])


def test_inc_and_set_gradients():
    _grad(lambda x, y: T.inc_subtensor(x[::2], y), _rand((4, 3), "float32"), _rand((3,), "float32"))
    x_val, y_val = _rand((4, 3)), _rand((2, 3))
    _grad(lambda x, y: T.inc_subtensor(x[1:3], y), x_val, y_val)
    _grad(lambda x, y: T.set_subtensor(x[::-2], y), x_val, y_val)
    _grad(lambda x, y: T.set_subtensor(x[1:3, 0], y[0, :2]), x_val, y_val)
    row = _rand((3,))
    _grad(lambda x, y: T.inc_subtensor(x[1:3], y), x_val, row)       # y broadcast over rows
    _grad(lambda x, y: T.inc_subtensor(x[[0, 2, 0]], y), x_val, row)  # duplicates in inc
    _grad(lambda x, y: T.set_subtensor(x[[0, 2]], y), x_val, y_val)
    _grad(lambda x, y: T.inc_subtensor(x[[0, 0, 1], [2, 2, 2]], y[0]), x_val, y_val)
    _grad(lambda x, y: T.set_subtensor(x[1:3, [0, 2]], y[:, :2]), x_val, y_val)
    _grad(lambda x, y: T.inc_subtensor(x[1, 1], y[0, 0]), x_val, y_val)


def test_gradient_through_set_zeroes_the_region():
    x, y = T.dvector("x"), T.dscalar("y")
    out = T.set_subtensor(x[1:3], y) * np.arange(1.0, 5.0)
    gx, gy = T.grad(out.sum(), [x, y])
    a, b = _f([x, y], [gx, gy])(np.zeros(4), 1.0)
    np.testing.assert_array_equal(a, [1, 0, 0, 4])
    assert float(b) == 5.0


# ----------------------------------------------------------------------------- R_op

_LINEAR = [
    lambda t: t[1:, ::-1],
    lambda t: t[2],
    lambda t: t[[0, 0, 2]],
    lambda t: t[[1, 2], [0, 0]],
    lambda t: T.inc_subtensor(t[1:3], np.ones(4)),
    lambda t: T.set_subtensor(t[:, 1], 0.0),
    lambda t: T.inc_subtensor(t[[0, 0]], t[1]),
    lambda t: T.set_subtensor(t[[0, 1], [3, 3]], t[2, :2]),
]


@pytest.mark.parametrize("k", range(len(_LINEAR)))
def test_rop_lop_consistency(k):
    _dot_consistency(_LINEAR[k], _rand((3, 4)))


def test_rop_values():
    x, u = T.dmatrix("x"), T.dmatrix("u")
    value, tangent = _rand((3, 4)), _rand((3, 4))
    for fn in (lambda t: t[1:], lambda t: t[[2, 0]], lambda t: T.set_subtensor(t[0], 1.0)):
        got = _f([x, u], Rop(fn(x), x, u))(value, tangent)
        # Each map is affine in x: its directional derivative is f(u) - f(0).
        want = _f([x], fn(x))(tangent) - _f([x], fn(x))(np.zeros_like(tangent))
        np.testing.assert_allclose(got, want)


# ----------------------------------------------------------------------------- ops directly

def test_ops_infer_shape_and_props():
    x, y, v = T.dmatrix("x"), T.dvector("y"), T.lvector("v")
    value, y_val, v_val = _rand((4, 3)), _rand((3,)), np.array([3, 0, 3])
    for out in (AdvancedIncSubtensor1()(x, y, v), IncSubtensor([slice(1, None)])(x, y),
                AdvancedIncSubtensor(["int64", slice(None)])(x, y, v)):
        _check_infer_shape(out, [x, y, v], [value, y_val, v_val])
    assert Subtensor([slice(1, 3)]) == Subtensor((slice(1, 3, None),))
    assert hash(Subtensor([1, "int64"])) == hash(Subtensor([1, "int64"]))
    assert Subtensor([1]) != Subtensor([2])
    assert IncSubtensor([1], inplace=True).destroy_map == {0: [0]}
    with pytest.raises(TypeError, match="dtype int32, expected int64"):
        Subtensor(["int64"])(x, T.iscalar())
    with pytest.raises(TypeError, match="expected 1 index input"):
        Subtensor(["int64"])(x)
    with pytest.raises(IndexError, match="too many"):
        Subtensor([1, 1, 1])(x)


def test_constant_folding_and_scalar_constant_value():
    c = T.constant(np.arange(6).reshape(2, 3))
    assert int(T.get_scalar_constant_value(c[1, 2])) == 5
    a, b = T.lscalar("a"), T.lscalar("b")
    vec = T.as_tensor_variable([a, 7])
    assert int(T.get_scalar_constant_value(vec[1])) == 7
    with pytest.raises(T.NotScalarConstantError):
        T.get_scalar_constant_value(vec[0])
    with pytest.raises(T.NotScalarConstantError):
        T.get_scalar_constant_value(c[b, 0])


def test_indexing_inside_scan_with_the_counter():
    x = T.dvector("x")
    out, _ = theano.scan(lambda i, t: t[i] * t[-1 - i], sequences=T.arange(x.shape[0]), non_sequences=x)
    value = np.arange(1.0, 5.0)
    np.testing.assert_array_equal(_f([x], out)(value), value * value[::-1])


# ----------------------------------------------------------------------------- printing

def test_printing():
    x, i, v = T.dmatrix("x"), T.lscalar("i"), T.lvector("v")
    assert theano.pp(x[i]) == "x[i]"
    assert theano.pp(x[1:3]) == "x[1:3]"
    assert theano.pp(x[::-1, i:]) == "x[::-1, i:]"
    assert theano.pp(x[v]) == "x[v]"
    assert theano.pp(x[1:, v]) == "x[1:, v]"
    assert theano.pp(T.set_subtensor(x[i], 0.0).owner.outputs[0]).startswith("set_subtensor(x[i], ")
    assert theano.pp(T.inc_subtensor(x[v], x[0])) == "inc_subtensor(x[v], x[0])"
    assert str(x[1:3].owner.op) == "Subtensor{1:3}"
    assert str(x[i:, 2].owner.op) == "Subtensor{int64:, 2}"
    assert "Subtensor{int64}" in theano.printing.debugprint(x[i], file="str")


# ----------------------------------------------------------------------------- linkers, views

def test_default_mode_mixes_python_indexing_with_c_kernels():
    x, i = T.dmatrix("x"), T.lscalar("i")
    value = _rand((4, 5))
    out = (x[1:, ::-1] * 2 + x[i]).sum() + T.set_subtensor(x[i, 1:3], 0.0).sum() + x[[0, 0]].sum()
    want = (value[1:, ::-1] * 2 + value[2]).sum() + value.sum() - value[2, 1:3].sum() + 2 * value[0].sum()
    np.testing.assert_allclose(_f([x, i], out, mode=None)(value, 2), want)


def test_perform_views_and_inplace_contracts():
    x, y = T.dmatrix("x"), T.dvector("y")
    value, y_val = _rand((3, 4)), np.ones(4)
    node = x[1:, 2].owner
    storage = [[None]]
    node.op.perform(node, [value], storage)
    assert np.shares_memory(storage[0][0], value)  # declared in view_map
    for op in (IncSubtensor([1]), IncSubtensor([1], inplace=True)):
        node = op.make_node(x, y)
        target = value.copy()
        node.op.perform(node, [target, y_val], storage)
        assert np.shares_memory(storage[0][0], target) == op.inplace
        assert np.array_equal(target, value) != op.inplace
    node = x[[0, 1], [1, 2]].owner
    node.op.perform(node, [value] + [i.data for i in node.inputs[1:]], storage)
    assert not np.shares_memory(storage[0][0], value) and not node.op.view_map
