"""Structural tensor ops (theanolite.tensor.shape_ops / alloc_ops): values against numpy,
dtypes, broadcastable flags, errors, infer_shape, gradients and R_op/L_op consistency."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.gradient import Lop, Rop, verify_grad
from theanolite.tensor import alloc_ops, shape_ops

RNG = np.random.default_rng(1234)


def _f(inputs, outputs):
    return theano.function(inputs, outputs, on_unused_input="ignore")


def _rand(shape, dtype="float64", rng=RNG):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _check_infer_shape(out, inputs, values):
    """Every output's infer_shape, evaluated from constant input shapes, equals its shape."""
    node = out.owner
    in_vals = _f(inputs, node.inputs)(*values)
    shapes = [tuple(T.constant(s, dtype="int64") for s in np.shape(v)) for v in in_vals]
    inferred = node.op.infer_shape(None, node, shapes)
    actual = _f(inputs, node.outputs)(*values)
    assert len(inferred) == len(node.outputs)
    for entries, value in zip(inferred, actual):
        entries = [T.as_tensor_variable(e) for e in entries]
        got = tuple(int(v) for v in _f(inputs, entries)(*values)) if entries else ()
        assert got == np.shape(value)
        assert all(e.dtype == "int64" for e in entries if not isinstance(e, T.TensorConstant))


def _dot_consistency(fn, x_val, rng):
    """<v, J u> from Rop equals <J^T v, u> from Lop (a linear-map identity)."""
    x = T.TensorType(x_val.dtype, [False] * x_val.ndim)("x")
    out = fn(x)
    u = T.TensorType(x_val.dtype, [False] * x_val.ndim)("u")
    v = out.type("v")
    jv = Rop(out, x, u)
    vj = Lop(out, x, v)
    out_val = _f([x], out)(x_val)
    u_val, v_val = _rand(x_val.shape, rng=rng), _rand(out_val.shape, rng=rng)
    jv_val, vj_val = _f([x, u, v], [jv, vj])(x_val, u_val, v_val)
    assert jv_val.shape == out_val.shape and vj_val.shape == x_val.shape
    np.testing.assert_allclose(np.sum(v_val * jv_val), np.sum(vj_val * u_val), rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------- alloc family

@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_alloc_broadcasts_value_into_symbolic_shape(dtype):
    v = T.TensorType(dtype, (False,))("v")
    n = T.iscalar("n")
    out = T.alloc(v, n, 2, T.shape_i(v, 0))
    assert out.dtype == dtype and out.broadcastable == (False, False, False)
    val = _rand((3,), dtype)
    got = _f([v, n], out)(val, 4)
    np.testing.assert_array_equal(got, np.broadcast_to(val, (4, 2, 3)))
    assert got.dtype == dtype and got.flags.writeable
    _check_infer_shape(out, [v, n], [val, 4])


def test_alloc_zero_d_zero_size_broadcastable_and_noncontiguous():
    s = T.dscalar("s")
    assert float(_f([s], T.alloc(s))(2.5)) == 2.5
    assert _f([s], T.alloc(s, 0, 3))(1.0).shape == (0, 3)
    r = T.drow("r")
    out = T.alloc(r, 3, 1, 4)
    assert out.broadcastable == (False, True, False)
    val = _rand((1, 4))
    np.testing.assert_array_equal(_f([r], out)(val), np.broadcast_to(val, (3, 1, 4)))
    m = T.dmatrix("m")
    base = _rand((4, 3))
    np.testing.assert_array_equal(_f([m], T.alloc(m, 2, 3, 4))(base.T), np.broadcast_to(base.T, (2, 3, 4)))


def test_alloc_errors_name_the_problem():
    v = T.dvector("v")
    f = _f([v], T.alloc(v, 2, 4))
    with pytest.raises(ValueError, match=r"Alloc.*\(2, 4\).*\(3,\)"):
        f(np.zeros(3))
    with pytest.raises(ValueError, match="only if its type is broadcastable"):
        f(np.zeros(1))
    with pytest.raises(TypeError, match="shape.*integer"):
        T.alloc(v, 2.0)
    with pytest.raises(TypeError, match="more than"):
        T.alloc(T.dmatrix(), 3)
    with pytest.raises(ValueError, match="negative"):
        T.alloc(v, -1, 3)
    n = T.lscalar("n")
    with pytest.raises(ValueError, match="negative"):
        _f([n], T.alloc(1.0, n))(-2)


def test_alloc_gradient_sums_back_to_the_value_shape():
    rng = np.random.default_rng(0)
    verify_grad(lambda v: T.alloc(v, 4, 3), [rng.random(3)], rng=rng)
    verify_grad(lambda s: T.alloc(s, 2, 3), [np.asarray(0.7)], rng=rng)
    verify_grad(lambda r: T.alloc(T.addbroadcast(r, 0), 2, 5, 3), [rng.random((1, 3))], rng=rng)
    v = T.dvector("v")
    g = T.grad(T.alloc(v, 5, 3).sum(), v)
    np.testing.assert_allclose(_f([v], g)(np.ones(3)), [5.0, 5.0, 5.0])
    _dot_consistency(lambda x: T.alloc(x, 3, 2, 4), rng.random((2, 4)), rng)


def test_zeros_ones_full_dtypes_and_shapes():
    x = T.dmatrix("x")
    val = _rand((2, 3))
    z, o = T.zeros(x.shape), T.ones((2, T.shape_i(x, 1)), dtype="int8")
    got_z, got_o = _f([x], [z, o])(val)
    assert got_z.dtype == theano.config.floatX and got_z.shape == (2, 3) and not got_z.any()
    assert got_o.dtype == np.int8 and (got_o == 1).all()
    assert T.zeros(4).eval().shape == (4,)
    assert T.zeros(()).eval().shape == ()
    np.testing.assert_array_equal(T.full((2, 2), 7, dtype="int16").eval(), np.full((2, 2), 7, "int16"))
    assert T.full([3], T.constant(1.5, dtype="float32")).dtype == "float32"
    with theano.config.change_flags(floatX="float32"):
        assert T.zeros((2,)).dtype == "float32" and T.ones(3).dtype == "float32"
    assert float(T.get_scalar_constant_value(T.zeros((3, 4)))) == 0.0


def test_eye_and_identity_like_match_numpy():
    n, m, k = T.lscalar("n"), T.lscalar("m"), T.lscalar("k")
    out = T.eye(n, m, k)
    f = _f([n, m, k], out)
    for args in [(3, 3, 0), (2, 5, 1), (4, 2, -1), (0, 3, 0), (3, 3, 5)]:
        np.testing.assert_array_equal(f(*args), np.eye(*args))
        _check_infer_shape(out, [n, m, k], list(args))
    assert out.dtype == theano.config.floatX
    assert T.eye(3, dtype="int32").eval().dtype == np.int32
    x = T.fmatrix("x")
    ident = T.identity_like(x)
    assert ident.dtype == "float32"
    np.testing.assert_array_equal(_f([x], ident)(np.zeros((2, 4), "float32")), np.eye(2, 4, dtype="float32"))
    with pytest.raises(TypeError, match="n must be an integer"):
        T.eye(2.0)
    with pytest.raises(TypeError, match="matrix"):
        T.identity_like(T.dvector())
    with pytest.raises(ValueError, match="negative"):
        f(-1, 2, 0)


@pytest.mark.parametrize("args, dtype", [
    ((T.iscalar(),), "int64"), ((T.bscalar(), T.wscalar()), "int64"),
    ((T.constant(3, dtype="uint8"),), "int64"),
    (tuple(T.constant(v, dtype="uint8") for v in (0, 3, 1)), "uint64"), ((T.fscalar(),), "float32"),
    ((T.dscalar(),), "float64"), ((1, T.fscalar(), 2), "float32"),
    ((0, 5.5), "float32"), ((0, T.dscalar(), T.fscalar()), "float64"),
])
def test_arange_dtype_rules(args, dtype):
    assert T.arange(*args).dtype == dtype


def test_arange_dtype_under_numpy_floatx_cast_policy():
    with theano.config.change_flags(cast_policy="numpy+floatX", floatX="float32"):
        assert T.arange(T.fscalar()).dtype == "float32"
        assert T.arange(T.iscalar()).dtype == "int64"
        assert T.arange(T.dscalar()).dtype == "float64"
    assert T.arange(5, dtype="int32").dtype == "int32"


def test_arange_values_and_infer_shape_match_numpy():
    start, stop, step = T.dscalar("a"), T.dscalar("b"), T.dscalar("c")
    out = T.arange(start, stop, step)
    f = _f([start, stop, step], out)
    for args in [(0, 5, 1), (1.5, 7.2, 0.7), (5, 0, -1.5), (3, 3, 1), (4, 1, 1), (-2, 2, 0.5)]:
        np.testing.assert_allclose(f(*args), np.arange(*args))
        _check_infer_shape(out, [start, stop, step], list(args))
    i, j = T.lscalar("i"), T.lscalar("j")
    cases = [(T.arange(j), lambda a, b: np.arange(b)), (T.arange(i, j), np.arange),
             (T.arange(i, j, 3), lambda a, b: np.arange(a, b, 3)),
             (T.arange(i, j, -2), lambda a, b: np.arange(a, b, -2))]
    for sym, ref in cases:
        g = _f([i, j], sym)
        for args in [(2, 9), (9, 2), (0, 0), (-3, 4), (4, -3)]:
            got = g(*args)
            np.testing.assert_array_equal(got, ref(*args))
            assert got.dtype == np.int64
            _check_infer_shape(sym, [i, j], list(args))
    with pytest.raises(ValueError, match="step must not be zero"):
        f(0, 5, 0)
    with pytest.raises(TypeError, match="scalar"):
        T.arange(T.dvector())


def test_arange_gradient_and_rop():
    rng = np.random.default_rng(1)
    verify_grad(lambda a: T.arange(a, 10.0, 1.5), [np.asarray(1.3)], rng=rng)
    verify_grad(lambda c: T.arange(0.0, 10.0, c), [np.asarray(1.3)], rng=rng)
    a, c = T.dscalar("a"), T.dscalar("c")
    out = T.arange(a, 5.0, c)
    jv = Rop(out, [a, c], [T.constant(1.0), T.constant(2.0)])
    np.testing.assert_allclose(_f([a, c], jv)(0.0, 1.0), 1.0 + 2.0 * np.arange(5))
    i = T.lscalar("i")
    assert T.grad(T.arange(i).sum() * 1.0, i, disconnected_inputs="ignore").dtype == theano.config.floatX


# ----------------------------------------------------------------------------- reshape / flatten

@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_reshape_matches_numpy(dtype):
    x = T.TensorType(dtype, (False, False, False))("x")
    val = _rand((2, 3, 4), dtype)
    for shape in [(6, 4), (4, -1), (-1,), (2, 2, 3, 2), (24, 1), (1, 2, 12)]:
        out = T.reshape(x, shape)
        assert out.ndim == len(shape) and out.dtype == dtype
        assert out.broadcastable == tuple(s == 1 for s in shape)
        got = _f([x], out)(val)
        np.testing.assert_array_equal(got, val.reshape(shape))
        _check_infer_shape(out, [x], [val])
    # non-contiguous input and the method form
    np.testing.assert_array_equal(_f([x], x.reshape((4, 6)))(val.transpose(2, 0, 1)),
                                  val.transpose(2, 0, 1).reshape(4, 6))


def test_reshape_zero_d_and_zero_size():
    s = T.dscalar("s")
    out = T.reshape(s, (1, 1))
    assert out.broadcastable == (True, True)
    assert _f([s], out)(3.0).shape == (1, 1)
    _check_infer_shape(out, [s], [3.0])
    m = T.dmatrix("m")
    back = T.reshape(m, [], ndim=0)
    assert _f([m], back)(np.ones((1, 1))).shape == ()
    with pytest.raises(ValueError, match="cannot reshape"):  # as numpy: -1 is ambiguous here
        _f([m], T.reshape(m, (0, -1)))(np.zeros((0, 4)))
    zz = T.reshape(m, (5, 0))
    assert _f([m], zz)(np.zeros((0, 4))).shape == (5, 0)
    _check_infer_shape(zz, [m], [np.zeros((0, 4))])


def test_reshape_with_symbolic_entries_and_vectors():
    x = T.dvector("x")
    n = T.iscalar("n")
    val = np.arange(12.0)
    out = T.reshape(x, (n, -1))
    assert out.ndim == 2 and out.broadcastable == (False, False)
    np.testing.assert_array_equal(_f([x, n], out)(val, 3), val.reshape(3, 4))
    _check_infer_shape(out, [x, n], [val, 3])
    # a symbolic entry that is itself -1 at run time
    mixed = T.reshape(x, (n, 2, 3))
    np.testing.assert_array_equal(_f([x, n], mixed)(val, -1), val.reshape(-1, 2, 3))
    _check_infer_shape(mixed, [x, n], [val, -1])
    _check_infer_shape(mixed, [x, n], [val, 2])
    shp = T.lvector("shp")
    out = T.reshape(x, shp, ndim=2)
    np.testing.assert_array_equal(_f([x, shp], out)(val, [6, 2]), val.reshape(6, 2))
    m = T.dmatrix("m")
    like = T.reshape(x, m.shape)  # length known from shape(m)
    np.testing.assert_array_equal(_f([x, m], like)(val, np.zeros((4, 3))), val.reshape(4, 3))
    assert T.reshape(x, (T.constant(1), 12)).broadcastable == (True, False)


def test_reshape_jacobian_style_concatenated_shape():
    """gradient.jacobian calls reshape(j, concatenate([e.shape, w.shape]), ndim=...)."""
    e, w, j = T.dmatrix("e"), T.dvector("w"), T.dmatrix("j")
    shp = T.concatenate([e.shape, w.shape])
    assert T.get_vector_length(shp) == 3
    out = T.reshape(j, shp, ndim=3)
    jv = np.arange(24.0).reshape(6, 4)
    got = _f([e, w, j], out)(np.zeros((2, 3)), np.zeros(4), jv)
    np.testing.assert_array_equal(got, jv.reshape(2, 3, 4))
    _check_infer_shape(out, [e, w, j], [np.zeros((2, 3)), np.zeros(4), jv])
    np.testing.assert_array_equal(_f([e], T.arange(T.shape_i(T.flatten(e), 0)))(np.zeros((2, 3))), np.arange(6))


def test_reshape_errors():
    x = T.dmatrix("x")
    f = _f([x], T.reshape(x, (4, 2)))
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*shape \(4, 2\)"):
        f(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="more than one -1"):
        T.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match="negative entry"):
        T.reshape(x, (-2, 3))
    with pytest.raises(ValueError, match="pass ndim"):
        T.reshape(x, T.lvector())
    with pytest.raises(TypeError, match="integers"):
        T.reshape(x, T.dvector())
    with pytest.raises(TypeError, match="integer"):
        T.reshape(x, (2.0, 3))
    with pytest.raises(ValueError, match="entries"):
        shape_ops.Reshape(3)(x, [2, 3])
    n = T.lscalar("n")
    with pytest.raises(ValueError, match="cannot reshape"):
        _f([x, n], T.reshape(x, (n, -1)))(np.zeros((2, 3)), -3)


def test_reshape_gradient_rop_and_lop():
    rng = np.random.default_rng(2)
    verify_grad(lambda x: T.reshape(x, (3, -1)), [rng.random((2, 3))], rng=rng)
    verify_grad(lambda x: T.reshape(x, (1, 6, 1)), [rng.random((6,))], rng=rng)
    verify_grad(lambda x: T.reshape(x, (2, 3)).T, [rng.random((3, 2)).astype("float32")], rng=rng)
    _dot_consistency(lambda x: T.reshape(x, (4, 3)), rng.random((2, 6)), rng)
    r = T.drow("r")
    g = T.grad(T.reshape(r, (-1,)).sum(), r)
    assert g.broadcastable == (True, False)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_flatten_keeps_leading_dims(ndim):
    x = T.dtensor3("x")
    val = _rand((2, 3, 4)).transpose(1, 0, 2)  # non-contiguous (3, 2, 4)
    out = T.flatten(x, ndim)
    assert out.ndim == ndim
    got = _f([x], out)(val)
    np.testing.assert_array_equal(got, val.reshape(val.shape[: ndim - 1] + (-1,)))
    _check_infer_shape(out, [x], [val])
    verify_grad(lambda v: T.flatten(v, ndim), [_rand((2, 1, 3))], rng=np.random.default_rng(3))


def test_flatten_broadcastable_zero_d_and_errors():
    r = T.TensorType("float64", (False, True, True))("r")
    assert T.flatten(r, 2).broadcastable == (False, True)
    assert T.flatten(r, 1).broadcastable == (False,)
    assert T.flatten(T.drow(), 1).broadcastable == (False,)
    assert T.dtensor3().flatten(outdim=2).ndim == 2
    s = T.dscalar("s")
    assert _f([s], T.flatten(s))(2.0).shape == (1,)
    m = T.dmatrix()
    with pytest.raises(ValueError, match="out of bounds"):
        T.flatten(m, 3)
    with pytest.raises(ValueError, match="out of bounds"):
        T.flatten(m, 0)
    assert m.flatten().ndim == 1


def test_squeeze_and_padding():
    x = T.TensorType("float32", (True, False, True))("x")
    val = _rand((1, 3, 1), "float32")
    sq = T.squeeze(x)
    assert sq.broadcastable == (False,)
    np.testing.assert_array_equal(_f([x], sq)(val), val.squeeze())
    m = T.fmatrix("m")
    sq1 = T.squeeze(m, axis=1)
    np.testing.assert_array_equal(_f([m], sq1)(val[0]), val[0].squeeze(1))
    with pytest.raises(ValueError, match="dimension 1"):
        _f([m], sq1)(np.zeros((3, 2), "float32"))
    v = T.fvector("v")
    assert T.shape_padleft(v, 2).broadcastable == (True, True, False)
    assert T.shape_padright(v).broadcastable == (False, True)
    assert T.shape_padaxis(m, 1).broadcastable == (False, True, False)
    assert T.shape_padaxis(m, -1).broadcastable == (False, False, True)
    assert _f([m], T.shape_padaxis(m, 1))(val[0]).shape == (3, 1, 1)
    with pytest.raises(IndexError, match="out of bounds"):
        T.shape_padaxis(m, 3)


def test_specify_shape():
    x = T.dmatrix("x")
    n = T.lscalar("n")
    out = T.specify_shape(x, (n, 3))
    val = _rand((2, 3))
    np.testing.assert_array_equal(_f([x, n], out)(val, 2), val)
    _check_infer_shape(out, [x, n], [val, 2])
    with pytest.raises(ValueError, match=r"shape \(2, 3\), expected \(4, 3\)"):
        _f([x, n], out)(val, 4)
    with pytest.raises(ValueError, match="2 dimensions"):
        T.specify_shape(x, (2, 3, 4))
    verify_grad(lambda v: T.specify_shape(v, (2, 3)) * 2, [val], rng=np.random.default_rng(4))


# ----------------------------------------------------------------------------- join / stack

@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_join_matches_numpy(axis):
    rng = np.random.default_rng(abs(axis))
    shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
    for k, n in enumerate((1, 0, 3)):  # a zero-size piece on the join axis
        shapes[k][axis] = n
    syms = [T.dtensor3(f"x{k}") for k in range(3)]
    vals = [_rand(s, rng=rng) for s in shapes]
    vals[2] = np.asfortranarray(vals[2])
    out = T.concatenate(syms, axis=axis)
    np.testing.assert_array_equal(_f(syms, out)(*vals), np.concatenate(vals, axis=axis))
    _check_infer_shape(out, syms, vals)


def test_join_dtypes_broadcastable_and_symbolic_axis():
    a, b = T.bmatrix("a"), T.fmatrix("b")
    out = T.join(0, a, b)
    assert out.dtype == "float32"
    va, vb = _rand((2, 3), "int8"), _rand((1, 3), "float32")
    got = _f([a, b], out)(va, vb)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.concatenate([va, vb]).astype("float32"))
    r, m = T.drow("r"), T.dmatrix("m")
    assert T.join(1, r, m).broadcastable == (True, False)
    assert T.join(0, r, m).broadcastable == (False, False)
    assert T.join(0, r) is r
    ax = T.lscalar("ax")
    x, y = T.dmatrix("x"), T.dmatrix("y")
    sym = T.join(ax, x, y)
    vx, vy = _rand((2, 3)), _rand((2, 3))
    f = _f([ax, x, y], sym)
    for axis in (0, 1, -1):
        np.testing.assert_array_equal(f(axis, vx, vy), np.concatenate([vx, vy], axis=axis))
        _check_infer_shape(sym, [ax, x, y], [axis, vx, vy])
    with pytest.raises(IndexError, match="out of bounds"):
        f(2, vx, vy)


def test_join_errors():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = _f([x, y], T.concatenate([x, y], axis=0))
    with pytest.raises(ValueError, match=r"Join.*\(2, 3\), \(2, 4\)"):
        f(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(TypeError, match="same number of dimensions"):
        T.concatenate([x, T.dvector()])
    for bad in (2, -3):
        with pytest.raises(IndexError):
            T.concatenate([x, y], axis=bad)
        with pytest.raises(ValueError, match="out of bounds"):
            T.concatenate([x, y], axis=bad)
    with pytest.raises(TypeError, match="0-d"):
        T.join(0, T.dscalar(), T.dscalar())
    with pytest.raises(TypeError, match="list or tuple"):
        T.concatenate(x, y)
    with pytest.raises(ValueError, match="empty"):
        shape_ops.Join()(0)
    with pytest.raises(TypeError, match="axis must be an integer"):
        T.join(0.5, x, y)


def test_join_gradient_rop_and_lop():
    rng = np.random.default_rng(5)
    verify_grad(lambda a, b: T.concatenate([a, b], axis=1), [rng.random((2, 3)), rng.random((2, 2))], rng=rng)
    verify_grad(lambda a, b, c: T.join(-1, a, b, c), [rng.random((2, 1)), rng.random((2, 0)), rng.random((2, 2))],
                rng=rng)
    verify_grad(lambda a, b: T.join(T.constant(0), a, b).astype("float64"),
                [rng.random((2, 2)).astype("float32"), rng.random((1, 2)).astype("float32")], rng=rng)
    ax = T.lscalar("ax")
    a, b = T.dmatrix("a"), T.dmatrix("b")
    ga, gb = T.grad((T.join(ax, a, b) ** 2).sum(), [a, b])
    va, vb = rng.random((2, 2)), rng.random((2, 2))
    for axis in (0, 1):
        got = _f([ax, a, b], [ga, gb])(axis, va, vb)
        np.testing.assert_allclose(got[0], 2 * va)
        np.testing.assert_allclose(got[1], 2 * vb)
    # mixed int/float join: the int input gets a zero gradient of floatX
    i = T.imatrix("i")
    gi = T.grad(T.join(0, a, i).sum(), [a, i])
    assert gi[1].dtype == theano.config.floatX
    # R_op joins the eval points (a missing one counts as zeros)
    u = T.dmatrix("u")
    jv = Rop(T.join(0, a, b), [a], [u])
    np.testing.assert_array_equal(_f([a, b, u], jv)(va, vb, np.ones((2, 2))),
                                  np.concatenate([np.ones((2, 2)), np.zeros((2, 2))]))
    _dot_consistency(lambda x: T.concatenate([x, 2 * x, x], axis=1), rng.random((2, 3)), rng)


def test_stack_forms_and_scalar_vectors():
    x, y = T.dvector("x"), T.dvector("y")
    vx, vy = _rand(3), _rand(3)
    for axis in (0, 1, -1, -2):
        out = T.stack([x, y], axis=axis)
        np.testing.assert_array_equal(_f([x, y], out)(vx, vy), np.stack([vx, vy], axis=axis))
    np.testing.assert_array_equal(_f([x, y], T.stack([x, y], 1))(vx, vy), np.stack([vx, vy], 1))
    np.testing.assert_array_equal(_f([x, y], T.stack(tensors=[x, y]))(vx, vy), np.stack([vx, vy]))
    with pytest.warns(DeprecationWarning):
        old = T.stack(x, y)
    np.testing.assert_array_equal(_f([x, y], old)(vx, vy), np.stack([vx, vy]))
    a, b = T.iscalar("a"), T.fscalar("b")
    vec = T.stack([a, b, 2])
    assert isinstance(vec.owner.op, T.MakeVector) and vec.dtype == "float64" and vec.ndim == 1
    np.testing.assert_array_equal(_f([a, b], vec)(1, 2.5), [1.0, 2.5, 2.0])
    _check_infer_shape(vec, [a, b], [1, 2.5])
    with pytest.raises(ValueError, match="at least one"):
        T.stack([])
    with pytest.raises(IndexError):
        T.stack([x, y], axis=2)


def test_as_tensor_variable_of_lists_with_variables():
    a, b = T.lscalar("a"), T.dscalar("b")
    v = T.as_tensor_variable([a, 3])
    assert v.ndim == 1 and v.dtype == "int64"
    np.testing.assert_array_equal(_f([a], v)(7), [7, 3])
    m = T.as_tensor_variable([[a, 1], [2, b]])
    assert m.ndim == 2 and m.dtype == "float64"
    np.testing.assert_array_equal(_f([a, b], m)(5, 0.5), [[5.0, 1.0], [2.0, 0.5]])
    x = T.fvector("x")
    rows = T.as_tensor_variable([x, x * 2])
    assert rows.ndim == 2 and rows.dtype == "float32"
    vx = _rand(3, "float32")
    np.testing.assert_array_equal(_f([x], rows)(vx), np.stack([vx, vx * 2]))
    assert T.as_tensor_variable([b, 1.5]).dtype == "float64"
    gb = T.grad(T.as_tensor_variable([b, b * 3]).sum(), b)
    assert float(_f([b], gb)(1.0)) == 4.0


def test_stack_gradients():
    rng = np.random.default_rng(6)
    verify_grad(lambda x, y: T.stack([x.sum(), y.sum(), 2.0]), [rng.random((2, 3)), rng.random(2)], rng=rng)
    verify_grad(lambda x, y: T.stack([x, y], axis=1), [rng.random((2, 3)), rng.random((2, 3))], rng=rng)
    verify_grad(lambda x: T.stack([x.sum(), x.max()]), [rng.random(3).astype("float32")], rng=rng)
    a = T.lscalar("a")
    assert T.grad(T.stack([a, a]).sum() * 1.0, a).dtype == theano.config.floatX


def test_horizontal_and_vertical_stack():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    vx, vy = _rand((2, 3)), _rand((2, 1))
    np.testing.assert_array_equal(_f([x, y], T.horizontal_stack(x, y))(vx, vy), np.hstack([vx, vy]))
    np.testing.assert_array_equal(_f([x, y], T.vertical_stack(x, y))(vx.T, vy.T), np.vstack([vx.T, vy.T]))
    with pytest.raises(TypeError, match="matrix"):
        T.horizontal_stack(x, T.dvector())
    with pytest.raises(TypeError, match="two"):
        T.vertical_stack(x)


# ----------------------------------------------------------------------------- split

def test_split_values_infer_shape_and_errors():
    x = T.dmatrix("x")
    sizes = T.lvector("sizes")
    parts = T.split(x, sizes, 3, axis=1)
    assert len(parts) == 3
    val = _rand((2, 6))
    got = _f([x, sizes], parts)(val, [1, 0, 5])
    for g, w in zip(got, np.split(val, [1, 1], axis=1)):
        np.testing.assert_array_equal(g, w)
    _check_infer_shape(parts[0], [x, sizes], [val, [1, 0, 5]])
    single = T.split(x, [2], 1, axis=0)
    assert isinstance(single, T.TensorVariable)
    f = _f([x, sizes], parts)
    with pytest.raises(ValueError, match=r"sum to 5.*shape \(2, 6\).*length 6"):
        f(val, [1, 1, 3])
    with pytest.raises(ValueError, match="negative"):
        f(val, [7, -1, 0])
    with pytest.raises(ValueError, match="split sizes"):
        T.split(x, [1, 2], 3)
    with pytest.raises(IndexError):
        T.split(x, [1, 1], 2, axis=2)
    ax = T.lscalar("ax")
    sym = T.split(x, [1, 1], 2, axis=ax)
    got = _f([x, ax], sym)(val[:, :2], -1)
    np.testing.assert_array_equal(got[1], val[:, 1:2])
    _check_infer_shape(sym[0], [x, ax], [val[:2, :2], 0])


def test_split_gradient_including_unused_pieces():
    rng = np.random.default_rng(7)
    verify_grad(lambda x: T.split(x, [1, 2], 2, axis=0)[1], [rng.random((3, 2))], rng=rng)
    verify_grad(lambda x: T.concatenate(T.split(x, [2, 1], 2, axis=1)[::-1], axis=1),
                [rng.random((2, 3))], rng=rng)
    _dot_consistency(lambda x: T.split(x, [3, 1], 2, axis=1)[0], rng.random((2, 4)), rng)


# ----------------------------------------------------------------------------- tile / roll

@pytest.mark.parametrize("reps", [2, (2, 3), (1, 2, 2), (3,), (0, 2)])
def test_tile_matches_numpy(reps):
    x = T.dmatrix("x")
    val = _rand((2, 3)).T
    out = T.tile(x, reps)
    np.testing.assert_array_equal(_f([x], out)(val), np.tile(val, reps))


def test_tile_symbolic_reps_gradient_and_errors():
    x = T.dvector("x")
    r = T.lscalar("r")
    out = T.tile(x, (r, 2))
    val = _rand(3)
    np.testing.assert_array_equal(_f([x, r], out)(val, 3), np.tile(val, (3, 2)))
    np.testing.assert_array_equal(_f([x, r], T.tile(x, T.stack([r, r])))(val, 2), np.tile(val, (2, 2)))
    rv = T.lvector("rv")
    with pytest.raises(ValueError, match="pass ndim"):
        T.tile(x, rv)
    with pytest.raises(ValueError, match="negative"):
        T.tile(x, -1)
    with pytest.raises(ValueError, match="smaller"):
        T.tile(T.dmatrix(), 2, ndim=1)
    with pytest.raises(TypeError, match="integer"):
        T.tile(x, 1.5)
    verify_grad(lambda v: T.tile(v, (2, 3)), [_rand((2, 2))], rng=np.random.default_rng(8))


@pytest.mark.parametrize("shift, axis", [(1, None), (-2, None), (7, 1), (-1, 0), (2, -1), (0, 1),
                                         ((1, -1), (0, 1))])
def test_roll_matches_numpy(shift, axis):
    x = T.dmatrix("x")
    val = _rand((3, 4)).T
    out = T.roll(x, shift, axis)
    assert out.broadcastable == x.broadcastable
    np.testing.assert_array_equal(_f([x], out)(val), np.roll(val, shift, axis))


def test_roll_symbolic_shift_zero_size_and_gradient():
    x = T.dvector("x")
    s = T.lscalar("s")
    f = _f([x, s], T.roll(x, s))
    val = _rand(5)
    for shift in (-7, -1, 0, 3, 12):
        np.testing.assert_array_equal(f(val, shift), np.roll(val, shift))
    assert f(np.zeros(0), 3).shape == (0,)
    r = T.drow("r")
    assert T.roll(r, 1, axis=0).broadcastable == (True, False)
    verify_grad(lambda v: T.roll(v, 2, axis=1), [_rand((2, 3))], rng=np.random.default_rng(9))
    verify_grad(lambda v: T.roll(v, -1), [_rand((2, 3))], rng=np.random.default_rng(9))
    with pytest.raises(IndexError):
        T.roll(x, 1, axis=1)


# ----------------------------------------------------------------------------- vector helpers, printing

def test_get_vector_length_and_make_vector():
    x = T.dtensor3("x")
    assert T.get_vector_length(x.shape) == 3
    assert T.get_vector_length([1, 2]) == 2
    assert T.get_vector_length(T.stack([T.lscalar(), 1])) == 2
    with pytest.raises(ValueError, match="not known"):
        T.get_vector_length(T.lvector())
    with pytest.raises(TypeError, match="vector"):
        T.get_vector_length(T.lmatrix())
    with pytest.raises(TypeError, match="without loss"):
        T.MakeVector("int8")(T.lscalar())
    with pytest.raises(TypeError, match="scalar"):
        T.MakeVector("float64")(T.dvector())
    a, b = T.dscalar("a"), T.dscalar("b")
    assert theano.printing.pp(T.stack([a, b])) == "[a, b]"
    assert str(T.reshape(T.dvector(), (2, 3)).owner.op) == "Reshape{2}"
    assert str(T.split(T.dvector(), [1, 1], 2)[0].owner.op) == "Split{2}"
    assert str(T.alloc(0.0, 3).owner.op) == "Alloc" and str(T.join(0, x, x).owner.op) == "Join"
    empty = T.MakeVector("int64")()
    assert empty.eval().shape == (0,) and empty.eval().dtype == np.int64


def test_ops_compare_by_props():
    assert shape_ops.Reshape(2) == shape_ops.Reshape(2) != shape_ops.Reshape(3)
    assert hash(shape_ops.Split(2)) == hash(shape_ops.Split(2))
    assert alloc_ops.ARange("int64") == alloc_ops.ARange("int64") != alloc_ops.ARange("float64")
    assert T.Eye("float32") != T.Eye("float64")


# ----------------------------------------------------------------------------- round trips

_dims = st.lists(st.integers(0, 4), min_size=1, max_size=4)


@settings(max_examples=25, deadline=None)
@given(shape=_dims, data=st.data())
def test_reshape_flatten_round_trips(shape, data):
    val = np.arange(int(np.prod(shape)), dtype="float64").reshape(shape)
    x = T.TensorType("float64", [False] * len(shape))("x")
    ndim = data.draw(st.integers(1, len(shape)))
    flat = T.flatten(x, ndim)
    back = T.reshape(flat, x.shape, ndim=len(shape))
    got_flat, got_back = _f([x], [flat, back])(val)
    flat_shape = val.shape[: ndim - 1] + (int(np.prod(val.shape[ndim - 1:])),)
    np.testing.assert_array_equal(got_flat, val.reshape(flat_shape))
    np.testing.assert_array_equal(got_back, val)
    _check_infer_shape(flat, [x], [val])
    perm = data.draw(st.permutations(range(len(shape))))
    shuffled = T.reshape(x, [T.shape_i(x, p) for p in perm])
    assert _f([x], shuffled)(val).shape == tuple(shape[p] for p in perm)


@settings(max_examples=25, deadline=None)
@given(shape=_dims, data=st.data())
def test_split_join_round_trips(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    cuts = sorted(data.draw(st.lists(st.integers(0, n), min_size=1, max_size=3)))
    sizes = np.diff([0] + cuts + [n]).tolist()
    val = np.arange(int(np.prod(shape)), dtype="float32").reshape(shape)
    x = T.TensorType("float32", [False] * len(shape))("x")
    pieces = T.split(x, sizes, len(sizes), axis=axis)
    pieces = pieces if isinstance(pieces, list) else [pieces]
    joined = T.concatenate(pieces, axis=axis)
    got = _f([x], [joined] + pieces)(val)
    np.testing.assert_array_equal(got[0], val)
    for g, w in zip(got[1:], np.split(val, np.cumsum(sizes)[:-1], axis=axis)):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("name, fn", [
    ("flatten", lambda x: T.flatten(x, 2)),
    ("tile", lambda x: T.tile(x, (2, 1, 2))),
    ("roll", lambda x: T.roll(x, 2)),
    ("stack", lambda x: T.stack([x, 3 * x], axis=1)),
    ("specify_shape", lambda x: T.specify_shape(x, (2, 3, 2))),
    ("squeeze_pad", lambda x: T.squeeze(T.shape_padaxis(x, 1))),
], ids=lambda v: v if isinstance(v, str) else "")
def test_rop_lop_dot_product_consistency(name, fn):
    rng = np.random.default_rng(10)
    _dot_consistency(fn, rng.random((2, 3, 2)), rng)
