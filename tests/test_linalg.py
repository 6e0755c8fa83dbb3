"""dot / outer / tensordot / batched_dot / batched_tensordot / matmul: values vs numpy,
dtypes, layouts, empty and special inputs, gradients, R_op/L_op, shapes, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.gradient import verify_grad
from theanolite.tensor.linalg import Dot, TensorDot


def _sym(value, dtype=None):
    value = np.asarray(value)
    return T.TensorType(dtype or str(value.dtype), [False] * value.ndim)()


def _run(fn, *values):
    syms = [_sym(v) for v in values]
    return theano.function(syms, fn(*syms))(*values)


def _close(got, want, tol=1e-12):
    want = np.asarray(want)
    assert isinstance(got, np.ndarray) and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


DOT_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((), (3,)),
              ((2, 3), ()), ((), ()), ((2, 3, 4), (4,)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 5)),
              ((2, 3, 4), (5, 4, 2)), ((1, 3), (3, 1))]


@pytest.mark.parametrize("sa, sb", DOT_SHAPES, ids=str)
def test_dot_matches_numpy_and_verify_grad(sa, sb) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    _close(_run(T.dot, a, b), np.dot(a, b))
    verify_grad(T.dot, [a, b], rng=rng)


@pytest.mark.parametrize("sa, sb", DOT_SHAPES[:4], ids=str)
def test_dot_float32_and_matmul_operator(sa, sb) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=sa).astype("float32"), rng.normal(size=sb).astype("float32")
    got = _run(lambda x, y: x @ y, a, b)
    assert got.dtype == np.float32
    _close(got, np.dot(a, b), 1e-5)
    verify_grad(T.dot, [a, b], rng=rng)


def test_dot_uses_the_dot_op_for_1d_and_2d() -> None:
    assert isinstance(T.dot(T.dvector(), T.dmatrix()).owner.op, Dot)
    assert isinstance(T.dot(T.dmatrix(), T.dmatrix()).owner.op, Dot)
    assert isinstance(T.dot(T.dtensor3(), T.dmatrix()).owner.op, TensorDot)
    assert T.dot(T.dscalar(), T.dmatrix()).owner.op.scalar_op.name == "mul"


@pytest.mark.parametrize("da, db, out", [("int32", "int32", "int32"), ("int8", "int16", "int16"),
                                         ("float32", "float64", "float64"), ("int64", "float32", "float64"),
                                         ("int8", "float32", "float32")])
def test_dot_dtype_is_the_upcast(da: str, db: str, out: str) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.integers(-3, 4, size=(2, 3)).astype(da), rng.integers(-3, 4, size=(3, 2)).astype(db)
    assert T.dot(_sym(a), _sym(b)).dtype == out
    got = _run(T.dot, a, b)
    assert got.dtype == np.dtype(out)
    np.testing.assert_array_equal(got, np.dot(a.astype("float64"), b.astype("float64")))


@pytest.mark.parametrize("layout", ["transposed", "strided", "negative"])
def test_dot_non_contiguous_inputs(layout: str) -> None:
    rng = np.random.default_rng(3)
    a, b = {
        "transposed": (rng.normal(size=(4, 3)).T, rng.normal(size=(5, 4)).T),
        "strided": (rng.normal(size=(6, 8))[::2, ::2], rng.normal(size=(8, 10))[::2, ::2]),
        "negative": (rng.normal(size=(3, 8))[::-1, ::-2], rng.normal(size=(4, 5))[::-1, ::-1]),
    }[layout]
    assert not (a.flags.c_contiguous and b.flags.c_contiguous)
    _close(_run(T.dot, a, b), np.dot(a, b))
    _close(_run(T.dot, a[0], b), np.dot(a[0], b))
    _close(_run(T.dot, a, b[:, 0]), np.dot(a, b[:, 0]))


def test_dot_zero_size_and_special_values() -> None:
    _close(_run(T.dot, np.zeros((0, 3)), np.ones((3, 4))), np.zeros((0, 4)))
    _close(_run(T.dot, np.zeros((3, 0)), np.ones((0, 4))), np.zeros((3, 4)))
    _close(_run(T.dot, np.zeros(0), np.zeros(0)), 0.0)
    a = np.asarray([[1.0, np.nan], [np.inf, 1.0], [np.inf, -np.inf]])
    b = np.asarray([[1.0, 0.0], [2.0, 3.0]])
    with np.errstate(all="ignore"):
        _close(_run(T.dot, a, b), np.dot(a, b))


def test_dot_errors() -> None:
    f = theano.function(*(lambda a, b: ([a, b], T.dot(a, b)))(T.dmatrix(), T.dmatrix()))
    with pytest.raises(ValueError, match=r"(?i)dot: shapes \(2, 3\) and \(2, 3\) are not aligned"):
        f(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(TypeError, match="vector or a matrix"):
        Dot()(T.dtensor3(), T.dmatrix())
    g = theano.function(*(lambda a, b: ([a, b], T.tensordot(a, b, 1)))(T.dtensor3(), T.dmatrix()))
    with pytest.raises(ValueError, match="TensorDot.*mismatch"):
        g(np.ones((2, 3, 4)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="same length"):
        T.tensordot(T.dmatrix(), T.dmatrix(), [[0, 1], [0]])
    with pytest.raises(ValueError, match="out of range"):
        T.tensordot(T.dmatrix(), T.dmatrix(), [[2], [0]])
    with pytest.raises(ValueError, match="out of range"):
        T.tensordot(T.dmatrix(), T.dmatrix(), 3)
    with pytest.raises(TypeError, match="batch"):
        T.batched_dot(T.dscalar(), T.dmatrix())


@pytest.mark.parametrize("sa, sb", [((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((3,), (3,))])
def test_dot_infer_shape(sa, sb) -> None:
    a, b = _sym(np.zeros(sa)), _sym(np.zeros(sb))
    node = Dot().make_node(a, b)
    shapes = [tuple(T.constant(n, dtype="int64") for n in s) for s in (sa, sb)]
    (inferred,) = Dot().infer_shape(None, node, shapes)
    assert tuple(int(s.eval()) for s in inferred) == np.dot(np.zeros(sa), np.zeros(sb)).shape


def test_tensordot_infer_shape() -> None:
    a, b = T.tensor4(dtype="float64"), T.tensor4(dtype="float64")
    sa, sb = (2, 3, 5, 4), (2, 6, 3, 4)
    op = TensorDot(([1, 3], [2, 3]), nbatch=1)
    node = op.make_node(a, b)
    shapes = [tuple(T.constant(n, dtype="int64") for n in s) for s in (sa, sb)]
    (inferred,) = op.infer_shape(None, node, shapes)
    out = theano.function([a, b], node.outputs[0])(np.ones(sa), np.ones(sb))
    assert tuple(int(s.eval()) for s in inferred) == out.shape == (2, 5, 6)


def test_broadcastable_patterns() -> None:
    r, c = T.drow(), T.dcol()
    assert T.dot(r, c).broadcastable == (True, True)
    assert T.dot(c, r).broadcastable == (False, False)
    assert T.dot(T.dvector(), c).broadcastable == (True,)
    assert T.outer(T.dvector(), T.dvector()).broadcastable == (False, False)


# ----------------------------------------------------------------------------- R_op / L_op

def test_seed_tutorial_rop_and_lop() -> None:
    W, V, x = T.dmatrix("W"), T.dmatrix("V"), T.dvector("x")
    y = T.dot(x, W)
    JV = T.Rop(y, W, V)
    f = theano.function([W, V, x], JV)
    np.testing.assert_array_equal(f([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1]), [2.0, 2.0])
    v = T.dvector("v")
    VJ = T.Lop(y, W, v)
    f = theano.function([v, x], VJ)
    np.testing.assert_array_equal(f([2, 2], [0, 1]), [[0.0, 0.0], [2.0, 2.0]])


def test_grad_wrt_weights_of_vector_dot_matrix_is_outer() -> None:
    x, W = T.dvector(), T.dmatrix()
    g = T.grad(T.sum(T.dot(x, W) * [1.0, 2.0]), W)
    np.testing.assert_array_equal(theano.function([x, W], g)([3.0, 4.0], np.ones((2, 2))),
                                  np.outer([3.0, 4.0], [1.0, 2.0]))


PRODUCTS = [
    ("dot", T.dot, (2, 3), (3, 4)), ("dot", T.dot, (3,), (3, 4)), ("dot", T.dot, (2, 3), (3,)),
    ("dot", T.dot, (3,), (3,)), ("dot3", T.dot, (2, 3, 4), (4, 2)),
    ("tensordot", lambda a, b: T.tensordot(a, b, [[0, 2], [1, 0]]), (2, 3, 4), (4, 2, 5)),
    ("batched_dot", T.batched_dot, (2, 3, 4), (2, 4, 5)),
]


@pytest.mark.parametrize("name, fn, sa, sb", PRODUCTS,
                         ids=lambda p: p.__name__ if callable(p) else str(p))
def test_r_op_is_consistent_with_l_op_and_finite_differences(name, fn, sa, sb) -> None:
    rng = np.random.default_rng(4)
    av, bv, eav, ebv = (rng.normal(size=s) for s in (sa, sb, sa, sb))
    a, b, ea, eb = _sym(av), _sym(bv), _sym(eav), _sym(ebv)
    y = fn(a, b)
    u = y.type()
    jv = T.Rop(y, [a, b], [ea, eb])
    la, lb = T.Lop(y, [a, b], u)
    f = theano.function([a, b, ea, eb, u], [jv, la, lb], on_unused_input="ignore")
    fy = theano.function([a, b], y)
    uv = rng.normal(size=np.shape(fy(av, bv)))
    got_jv, got_la, got_lb = f(av, bv, eav, ebv, uv)
    eps = 1e-6
    numeric = (fy(av + eps * eav, bv + eps * ebv) - fy(av - eps * eav, bv - eps * ebv)) / (2 * eps)
    np.testing.assert_allclose(got_jv, numeric, rtol=1e-6, atol=1e-6)
    assert np.sum(uv * got_jv) == pytest.approx(np.sum(got_la * eav) + np.sum(got_lb * ebv))


def test_r_op_with_one_eval_point() -> None:
    a, b, e = T.dmatrix(), T.dmatrix(), T.dmatrix()
    (r,) = Dot().R_op([a, b], [None, e])
    assert r.owner.inputs[0] is a and r.owner.inputs[1] is e
    assert Dot().R_op([a, b], [None, None]) == [None]


def test_integer_inputs_get_zero_gradients() -> None:
    x, W = T.ivector(), T.dmatrix()
    gx, gW = Dot().L_op([x, W], [T.dot(x, W)], [T.dvector()])
    assert gx.dtype == theano.config.floatX
    np.testing.assert_array_equal(theano.function([x], gx)([1, 2]), [0, 0])


# ----------------------------------------------------------------------------- other products

def test_outer() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=3), rng.normal(size=4)
    _close(_run(T.outer, x, y), np.outer(x, y))
    verify_grad(T.outer, [x, y], rng=rng)


@pytest.mark.parametrize("sa, sb, axes", [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3), (4, 5), 0), ((2, 3, 4), (4, 3, 5), [[1, 2], [1, 0]]),
    ((2, 3, 4), (2, 5), [[0], [0]]), ((3, 4), (4, 3), [[-1, 0], [0, -1]]), ((2, 3), (3, 2), 1),
    ((3,), (3,), 1)])
def test_tensordot(sa, sb, axes) -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    _close(_run(lambda x, y: T.tensordot(x, y, axes), a, b), np.tensordot(a, b, axes))
    verify_grad(lambda x, y: T.tensordot(x, y, axes), [a, b], rng=rng)


@pytest.mark.parametrize("sa, sb", [((4, 2, 3), (4, 3, 5)), ((4, 3), (4, 3, 5)), ((4, 2, 3), (4, 3)),
                                    ((4, 3), (4, 3)), ((4,), (4, 3)), ((4, 3), (4,)),
                                    ((4, 2, 3, 3), (4, 3, 5)), ((4, 2, 3), (4, 5, 3, 2))])
def test_batched_dot(sa, sb) -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    want = np.stack([np.dot(a[i], b[i]) for i in range(sa[0])])
    _close(_run(T.batched_dot, a, b), want)
    verify_grad(T.batched_dot, [a, b], rng=rng)


def test_batched_tensordot_and_batch_mismatch() -> None:
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(3, 2, 4, 5)), rng.normal(size=(3, 5, 4, 2))
    axes = [[2, 3], [2, 1]]
    want = np.stack([np.tensordot(a[i], b[i], [[1, 2], [1, 0]]) for i in range(3)])
    _close(_run(lambda x, y: T.batched_tensordot(x, y, axes), a, b), want)
    verify_grad(lambda x, y: T.batched_tensordot(x, y, axes), [a, b], rng=rng)
    c, d = rng.normal(size=(3, 2, 4)), rng.normal(size=(3, 2, 4))
    want = np.stack([np.tensordot(c[i], d[i], 2) for i in range(3)])
    _close(_run(lambda x, y: T.batched_tensordot(x, y, 2), c, d), want)
    f = theano.function(*(lambda x, y: ([x, y], T.batched_dot(x, y)))(T.dtensor3(), T.dtensor3()))
    with pytest.raises(ValueError, match="mismatch"):
        f(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match="batch axis"):
        T.batched_tensordot(T.dtensor3(), T.dtensor3(), [[0], [1]])


@pytest.mark.parametrize("sa, sb", [((2, 3), (3, 4)), ((2, 3, 4), (2, 4, 5)), ((3,), (2, 3, 4)),
                                    ((2, 3, 4), (4,)), ((3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)),
                                    ((2, 2, 3, 4), (2, 2, 4, 1))])
def test_matmul(sa, sb) -> None:
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    _close(_run(T.matmul, a, b), np.matmul(a, b))
    verify_grad(T.matmul, [a, b], rng=rng)


def test_matmul_unsupported_cases() -> None:
    with pytest.raises(ValueError, match="scalar"):
        T.matmul(T.dscalar(), T.dmatrix())
    with pytest.raises(NotImplementedError, match="broadcasting"):
        T.matmul(T.dtensor3(), T.dtensor4())


def test_printing_and_props() -> None:
    x, W = T.dvector("x"), T.dmatrix("W")
    assert theano.pp(T.dot(x, W)) == "(x \\dot W)"
    assert TensorDot(([1], [0])) == TensorDot([[1], [0]])
    assert TensorDot(([2], [1])) != TensorDot(([2], [1]), nbatch=1)
    assert str(TensorDot(([2], [1]), 1)) == "TensorDot{axes=((2,), (1,)), nbatch=1}"


# ----------------------------------------------------------------------------- properties

@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.lists(st.integers(1, 3), max_size=2),
       st.integers(0, 2**31 - 1))
def test_tensordot_random_contractions(free_a, free_b, seed) -> None:
    """Contract a random subset of a's axes with a random permutation of b's matching axes."""
    rng = np.random.default_rng(seed)
    ncontract = int(rng.integers(0, len(free_a) + 1))
    axa = sorted(rng.choice(len(free_a), size=ncontract, replace=False).tolist())
    contracted = [free_a[i] for i in axa]
    b_axes = contracted + free_b
    perm = rng.permutation(len(b_axes)).tolist()
    sb = [b_axes[p] for p in perm]
    axb = [perm.index(k) for k in range(ncontract)]
    a, b = rng.normal(size=free_a), rng.normal(size=sb)
    _close(_run(lambda x, y: T.tensordot(x, y, [axa, axb]), a, b), np.tensordot(a, b, [axa, axb]))
