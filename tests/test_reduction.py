"""Reductions: values vs numpy over axes/keepdims/dtypes/layouts, dtype rules, empty and
special inputs, gradients (verify_grad, Prod with zeros, Max ties), R_op, shapes, errors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.gradient import DisconnectedInputError, verify_grad
from theanolite.tensor.elemwise import DimShuffle
from theanolite.tensor.reduction import (All, Any, Argmax, Max, Min, Prod, ProdWithoutZeros,
                                         Sum, normalize_axis)


@dataclass
class RedSpec:
    name: str
    fn: Callable            # fn(x, axis=..., keepdims=...)
    ref: Callable           # numpy, same signature
    grad: bool = True
    multi_axis: bool = True  # accepts a tuple of axes


def _np_argmax(x, axis=None, keepdims=False):
    return np.argmax(x, axis=axis, keepdims=keepdims)


REDUCTIONS = [
    RedSpec("sum", T.sum, np.sum),
    RedSpec("prod", T.prod, np.prod),
    RedSpec("max", T.max, np.max),
    RedSpec("min", T.min, np.min),
    RedSpec("mean", T.mean, np.mean),
    RedSpec("var", T.var, np.var),
    RedSpec("std", T.std, np.std),
    RedSpec("all", T.all, np.all, grad=False),
    RedSpec("any", T.any, np.any, grad=False),
    RedSpec("argmax", T.argmax, _np_argmax, grad=False, multi_axis=False),
    RedSpec("argmin", T.argmin, np.argmin, grad=False, multi_axis=False),
]
AXES = [None, 0, 1, -1, (0, 2), [2, 0, 1], ()]


def _run(fn, *values):
    syms = [T.TensorType(str(v.dtype), [False] * v.ndim)(f"x{k}") for k, v in enumerate(values)]
    return theano.function(syms, fn(*syms))(*values)


def _compare(got, want, dtype):
    want = np.asarray(want)
    assert isinstance(got, np.ndarray)
    assert got.shape == want.shape
    tol = 1e-5 if dtype in ("float32", "float16") else 1e-12
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got.astype("float64"), want.astype("float64"),
                                   rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("spec", REDUCTIONS, ids=lambda s: s.name)
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_values_match_numpy(spec: RedSpec, axis, keepdims: bool) -> None:
    if not spec.multi_axis and isinstance(axis, (tuple, list)):
        pytest.skip("numpy's argmax takes one axis")
    x = np.random.default_rng(1).normal(size=(2, 3, 4))
    got = _run(lambda v: spec.fn(v, axis=axis, keepdims=keepdims), x)
    ax = tuple(axis) if isinstance(axis, list) else axis
    _compare(got, spec.ref(x, axis=ax, keepdims=keepdims), "float64")


@pytest.mark.parametrize("spec", REDUCTIONS, ids=lambda s: s.name)
@pytest.mark.parametrize("dtype", ["float32", "int32", "int8", "uint8", "bool"])
def test_values_for_other_dtypes(spec: RedSpec, dtype: str) -> None:
    rng = np.random.default_rng(2)
    x = (rng.integers(0, 3, size=(3, 4)) if dtype != "float32" else rng.normal(size=(3, 4))).astype(dtype)
    for axis in (None, 1):
        got = _run(lambda v: spec.fn(v, axis=axis), x)
        want = spec.ref(x, axis=axis)
        if spec.name in ("sum", "prod") and dtype in ("int8", "int32", "bool"):
            want = np.asarray(want).astype("int64")
        _compare(got, want, dtype)


@pytest.mark.parametrize("spec", REDUCTIONS, ids=lambda s: s.name)
@pytest.mark.parametrize("layout", ["transposed", "strided", "negative"])
def test_non_contiguous_inputs(spec: RedSpec, layout: str) -> None:
    base = np.random.default_rng(3).normal(size=(4, 6))
    x = {"transposed": base.T, "strided": base[::2, ::3], "negative": base[::-1, ::-2]}[layout]
    for axis in (None, 0, 1):
        _compare(_run(lambda v: spec.fn(v, axis=axis), x), spec.ref(x, axis=axis), "float64")


@pytest.mark.parametrize("spec", REDUCTIONS, ids=lambda s: s.name)
def test_scalar_input(spec: RedSpec) -> None:
    x = np.asarray(2.5)
    _compare(_run(spec.fn, x), spec.ref(x), "float64")


# ----------------------------------------------------------------------------- dtypes

@pytest.mark.parametrize("idtype, out, acc", [
    ("int8", "int64", "int64"), ("int16", "int64", "int64"), ("int32", "int64", "int64"),
    ("int64", "int64", "int64"), ("uint8", "uint64", "uint64"), ("bool", "int64", "int64"),
    ("float16", "float16", "float32"), ("float32", "float32", "float64"),
    ("float64", "float64", "float64")])
@pytest.mark.parametrize("fn", [T.sum, T.prod])
def test_default_dtype_and_acc_dtype_follow_theano(fn, idtype: str, out: str, acc: str) -> None:
    y = fn(T.TensorType(idtype, (False,))())
    assert y.dtype == out
    assert (y.owner.op.dtype, y.owner.op.acc_dtype) == (out, acc)


def test_float32_sum_accumulates_in_float64() -> None:
    x = np.asarray([1e8, 1.0, -1e8], dtype="float32")
    assert float(np.add.reduce(x)) == 0.0  # float32 accumulation loses the 1
    got = _run(T.sum, x)
    assert got.dtype == np.float32 and float(got) == 1.0
    assert float(_run(lambda v: T.sum(v, acc_dtype="float32"), x)) == 0.0
    assert float(_run(T.mean, x)) == pytest.approx(1 / 3)


def test_int8_sum_does_not_overflow() -> None:
    x = np.full(100, 100, dtype="int8")
    got = _run(T.sum, x)
    assert got.dtype == np.int64 and int(got) == 10000
    assert _run(lambda v: T.sum(v, dtype="int8"), x).dtype == np.int8


def test_explicit_dtype_and_acc_dtype() -> None:
    x = T.dvector()
    assert T.sum(x, dtype="float32").dtype == "float32"
    assert T.sum(T.ivector(), acc_dtype="float64").owner.op.acc_dtype == "float64"
    with pytest.raises(TypeError, match="lose precision"):
        T.sum(x, acc_dtype="float32")
    with pytest.raises(TypeError, match="lose precision"):
        T.prod(T.lvector(), acc_dtype="int8")


def test_mean_dtypes() -> None:
    assert T.mean(T.ivector()).dtype == "float64"
    assert T.mean(T.bvector()).dtype == "float64"
    assert T.mean(T.fvector()).dtype == "float32"
    assert T.mean(T.TensorType("float16", (False,))()).dtype == "float16"
    got = _run(T.mean, np.asarray([1, 2], dtype="int32"))
    assert got.dtype == np.float64 and float(got) == 1.5


def test_max_min_argmax_all_any_dtypes() -> None:
    x = T.bmatrix()
    assert T.max(x).dtype == "int8" and T.min(x).dtype == "int8"
    assert T.argmax(x).dtype == "int64" and T.argmin(x, axis=0).dtype == "int64"
    assert T.all(x).dtype == "bool" and T.any(T.dmatrix()).dtype == "bool"


# ----------------------------------------------------------------------------- empty, NaN, Inf

def test_zero_size_inputs() -> None:
    e = np.zeros((0, 3))
    assert float(_run(T.sum, e)) == 0.0
    assert float(_run(T.prod, e)) == 1.0
    assert bool(_run(T.all, e)) is True and bool(_run(T.any, e)) is False
    _compare(_run(lambda v: T.sum(v, axis=0), e), np.zeros(3), "float64")
    _compare(_run(lambda v: T.max(v, axis=1), e), np.zeros(0), "float64")
    for fn, name in ((T.max, "Max"), (T.min, "Min"), (T.argmax, "Argmax"), (T.argmin, "Argmin")):
        with pytest.raises(ValueError, match=name):
            _run(fn, e)
    with pytest.raises(ValueError, match="Max"):
        _run(lambda v: T.max(v, axis=0), e)


@pytest.mark.parametrize("spec", REDUCTIONS, ids=lambda s: s.name)
def test_nan_and_inf_propagate_as_numpy(spec: RedSpec) -> None:
    x = np.asarray([[1.0, np.nan, 3.0], [np.inf, -np.inf, 2.0], [np.inf, 1.0, -0.0]])
    with np.errstate(all="ignore"):
        for axis in (None, 0, 1):
            _compare(_run(lambda v: spec.fn(v, axis=axis), x), spec.ref(x, axis=axis), "float64")


# ----------------------------------------------------------------------------- gradients

GRAD_SPECS = [s for s in REDUCTIONS if s.grad]


@pytest.mark.parametrize("spec", GRAD_SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("axis, keepdims", [(None, False), (1, False), (-1, True),
                                            ((0, 2), False), ((0, 2), True), ((), False)])
def test_verify_grad(spec: RedSpec, axis, keepdims: bool) -> None:
    if spec.name == "std" and axis == ():
        pytest.skip("std over no axis is sqrt(0): not differentiable")
    rng = np.random.default_rng(4)
    x = rng.uniform(0.5, 2.0, size=(2, 3, 2)) * rng.choice([-1, 1], size=(2, 3, 2))
    verify_grad(lambda v: spec.fn(v, axis=axis, keepdims=keepdims), [x], rng=rng)


@pytest.mark.parametrize("spec", GRAD_SPECS, ids=lambda s: s.name)
def test_verify_grad_float32(spec: RedSpec) -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(0.5, 2.0, size=(3, 2)).astype("float32")
    verify_grad(lambda v: spec.fn(v, axis=0), [x], rng=rng)


def test_var_std_ddof_and_corrected() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 4, 2))
    for axis in (None, 1, (0, 2)):
        for ddof in (0, 1):
            ax = axis
            _compare(_run(lambda v: T.var(v, axis=ax, ddof=ddof), x), np.var(x, axis=ax, ddof=ddof), "float64")
            _compare(_run(lambda v: T.std(v, axis=ax, ddof=ddof, corrected=True), x),
                     np.std(x, axis=ax, ddof=ddof), "float64")
            verify_grad(lambda v: T.var(v, axis=ax, ddof=ddof, corrected=True), [x], rng=rng)
    with pytest.raises(ValueError, match="keepdims"):
        T.var(T.dvector(), None, True)


@pytest.mark.parametrize("x", [
    [[2.0, 0.0, 3.0], [1.5, -2.0, 0.5]],    # one zero in a row
    [[0.0, 0.0, 3.0], [1.5, -2.0, 0.5]],    # two zeros in a row
    [[0.0, 1.0, 3.0], [1.5, 0.0, 0.5]],     # a zero in every row and column pair
])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_prod_gradient_with_zeros(x, axis) -> None:
    verify_grad(lambda v: T.prod(v, axis=axis), [np.asarray(x)], rng=np.random.default_rng(7))


def test_prod_gradient_exact_values_with_zeros() -> None:
    x = T.dvector()
    g = theano.function([x], T.grad(T.prod(x), x))
    np.testing.assert_array_equal(g([2.0, 0.0, 3.0]), [0.0, 6.0, 0.0])
    np.testing.assert_array_equal(g([0.0, 0.0, 3.0]), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(g([2.0, 4.0, 3.0]), [12.0, 6.0, 8.0])
    fast = theano.function([x], T.grad(T.prod(x, no_zeros_in_input=True), x))
    np.testing.assert_allclose(fast([2.0, 4.0, 3.0]), [12.0, 6.0, 8.0])
    # ProdWithoutZeros jumps at zeros; away from them it is an ordinary product.
    verify_grad(lambda v: ProdWithoutZeros((0,))(v), [np.asarray([[2.0, 0.5], [1.5, -3.0]])])
    pwz = theano.function([x], [ProdWithoutZeros()(x), T.grad(ProdWithoutZeros()(x), x)])
    value, grad = pwz([2.0, 0.0, 3.0])
    assert float(value) == 6.0
    np.testing.assert_array_equal(grad, [3.0, 0.0, 2.0])


def test_max_min_gradient_goes_to_every_tie() -> None:
    x = T.dmatrix()
    g = theano.function([x], [T.grad(T.sum(T.max(x, axis=1)), x), T.grad(T.min(x), x)])
    gmax, gmin = g([[1.0, 3.0, 3.0], [5.0, 2.0, 2.0]])
    np.testing.assert_array_equal(gmax, [[0, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(gmin, [[1, 0, 0], [0, 0, 0]])


def test_integer_inputs_get_zero_float_gradients() -> None:
    x = T.ivector()
    for op in (Sum(), Prod(), Max(), Min(), All(), Any()):
        node = op.make_node(x)
        (g,) = op.L_op(node.inputs, node.outputs, [T.dscalar()])
        assert g.dtype == theano.config.floatX and g.ndim == 1
        np.testing.assert_array_equal(theano.function([x], g)([1, 2, 3]), [0, 0, 0])


def test_argmax_gradient_is_disconnected() -> None:
    x = T.dvector()
    with pytest.raises(DisconnectedInputError):
        T.grad(T.cast(T.argmax(x), "float64"), x)
    g = T.grad(T.max(x) + T.cast(T.argmin(x), "float64"), x)
    np.testing.assert_array_equal(theano.function([x], g)([1.0, 4.0, 2.0]), [0, 1, 0])
    zeros = T.grad(T.cast(T.argmax(x), "float64"), x, disconnected_inputs="ignore")
    np.testing.assert_array_equal(theano.function([x], zeros)([1.0, 2.0]), [0, 0])


def test_all_any_gradients_are_zero() -> None:
    x = T.dvector()
    cost = T.cast(T.all(x), "float64") + T.sum(x)
    np.testing.assert_array_equal(theano.function([x], T.grad(cost, x))([1.0, 0.0]), [1, 1])


@pytest.mark.parametrize("fn", [T.sum, T.max, T.min, T.mean])
@pytest.mark.parametrize("axis", [None, 0, (0, 1), 2])
def test_r_op_matches_finite_differences_and_l_op(fn, axis) -> None:
    rng = np.random.default_rng(8)
    xv, vv = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    x, v = T.dtensor3("x"), T.dtensor3("v")
    y = fn(x, axis=axis)
    u = y.type("u")
    jv = T.Rop(y, x, v)
    vj = T.Lop(y, x, u)
    f = theano.function([x, v, u], [jv, vj, y])
    yv = theano.function([x], y)(xv)
    uv = rng.normal(size=yv.shape)
    got_jv, got_vj, _ = f(xv, vv, uv)
    eps = 1e-6
    fy = theano.function([x], y)
    numeric = (fy(xv + eps * vv) - fy(xv - eps * vv)) / (2 * eps)
    np.testing.assert_allclose(got_jv, numeric, rtol=1e-6, atol=1e-6)
    assert np.sum(uv * got_jv) == pytest.approx(np.sum(got_vj * vv))


def test_sum_and_max_r_op_are_direct() -> None:
    x, v = T.dmatrix(), T.dmatrix()
    assert isinstance(T.Rop(T.sum(x, axis=0), x, v).owner.op, Sum)
    assert Max((0,)).R_op([x], [v])[0] is not None
    assert Max((0,)).R_op([x], [None]) == [None]


# ----------------------------------------------------------------------------- seed tutorial

def test_seed_tutorial_sum_examples() -> None:
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = T.grad(s, x)
    dlogistic = theano.function([x], gs)
    np.testing.assert_allclose(dlogistic([[0, 1], [-1, -2]]),
                               [[0.25, 0.19661193], [0.19661193, 0.10499359]], rtol=1e-7)
    x, v = T.dvector("x"), T.dvector("v")
    y = T.sum(x ** 2)
    gy = T.grad(y, x)
    vH = T.grad(T.sum(gy * v), x)
    np.testing.assert_array_equal(theano.function([x, v], vH)([4, 4], [2, 2]), [4.0, 4.0])
    Hv = T.Rop(gy, x, v)
    np.testing.assert_array_equal(theano.function([x, v], Hv)([4, 4], [2, 2]), [4.0, 4.0])


# ----------------------------------------------------------------------------- graph, shapes, errors

def test_ops_and_keepdims_structure() -> None:
    x = T.TensorType("float64", (False, True, False))("x")
    y = T.sum(x, axis=-1)
    assert isinstance(y.owner.op, Sum) and y.owner.op.axis == (2,)
    assert y.broadcastable == (False, True)
    k = T.max(x, axis=[2, 0], keepdims=True)
    assert isinstance(k.owner.op, DimShuffle) and k.broadcastable == (True, True, True)
    assert isinstance(k.owner.inputs[0].owner.op, Max) and k.owner.inputs[0].owner.op.axis == (0, 2)
    assert T.sum(x, axis=None, keepdims=True).broadcastable == (True, True, True)
    assert Sum((0,)) == Sum([0]) and hash(Sum((0,))) == hash(Sum([0])) and Sum((0,)) != Sum((1,))
    assert Sum((0,), dtype="float64") != Prod((0,), dtype="float64")
    assert T.sum(x).owner.op == Sum(None, "float64", "float64")


def test_method_forms() -> None:
    x = np.random.default_rng(9).normal(size=(3, 4))
    v = T.dmatrix()
    f = theano.function([v], [v.sum(axis=0), v.prod(1), v.mean(), v.max(0, keepdims=True),
                              v.min(), v.argmax(1), v.argmin(), v.var(1), v.std(), v.all(), v.any(0)])
    want = [x.sum(0), x.prod(1), x.mean(), x.max(0, keepdims=True), x.min(), x.argmax(1),
            x.argmin(), x.var(1), x.std(), x.all(), x.any(0)]
    for got, w in zip(f(x), want):
        _compare(got, w, "float64")


@pytest.mark.parametrize("op", [Sum((0, 2)), Prod((1,)), Max(None), Min((2,)), All((0,)),
                                Any(None), Argmax((1,)), Sum(())])
def test_infer_shape(op) -> None:
    x = T.dtensor3()
    node = op.make_node(x)
    shapes = (T.constant(2, dtype="int64"), T.constant(3, dtype="int64"), T.constant(4, dtype="int64"))
    inferred = op.infer_shape(None, node, [shapes])
    assert len(inferred) == 1
    got = tuple(int(s.eval()) if hasattr(s, "eval") else int(s) for s in inferred[0])
    out = theano.function([x], node.outputs[0])(np.zeros((2, 3, 4)))
    assert got == out.shape


def test_axis_errors() -> None:
    x = T.dmatrix()
    for fn in (T.sum, T.prod, T.max, T.min, T.argmax, T.all, T.mean, T.var):
        with pytest.raises(ValueError, match="out of range"):
            fn(x, axis=2)
        with pytest.raises(ValueError, match="out of range"):
            fn(x, axis=-3)
    with pytest.raises(ValueError, match="repeated"):
        T.sum(x, axis=[0, -2])
    with pytest.raises(TypeError, match="ints"):
        T.sum(x, axis=[0.5])
    with pytest.raises(ValueError, match="non-negative"):
        Sum((-1,))
    with pytest.raises(ValueError, match="out of range"):
        Sum((3,))(x)
    assert normalize_axis(3, T.constant([2, -3])) == (0, 2)


def test_plain_careduce_from_a_scalar_op() -> None:
    from theanolite.scalar import basic as scal
    from theanolite.tensor.reduction import CAReduce
    x = np.asarray([[1, 6, 3], [4, 5, 2]], dtype="int16")
    for sop, ref in ((scal.add, np.add), (scal.maximum, np.maximum), (scal.or_, np.bitwise_or)):
        op = CAReduce(sop, (1,))
        got = _run(op, x)
        assert got.dtype == np.int16
        np.testing.assert_array_equal(got, ref.reduce(x, axis=1))
    with pytest.raises(TypeError, match="no reduction known"):
        CAReduce(scal.exp)
    with pytest.raises(TypeError, match="integer or bool"):
        CAReduce(scal.and_)(T.dvector())


def test_printing() -> None:
    x = T.dmatrix("x")
    assert theano.pp(T.sum(x, axis=0)) == "Sum{axis=(0,)}(x)"
    assert theano.pp(T.sum(x)) == "Sum(x)"
    assert str(T.sum(T.fmatrix("f")).owner.op) == "Sum{acc_dtype=float64}"
    assert theano.pp(T.max(x, axis=1)) == "Max{axis=(1,)}(x)"
    assert str(Argmax((0,))) == "Argmax{axis=(0,)}"


# ----------------------------------------------------------------------------- properties

@st.composite
def _array_and_axis(draw):
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    seed = draw(st.integers(0, 2**31 - 1))
    x = np.random.default_rng(seed).normal(size=shape)
    axes = draw(st.lists(st.integers(0, max(ndim - 1, 0)), unique=True, max_size=ndim)) if ndim else []
    signed = [a - ndim if draw(st.booleans()) else a for a in axes]
    axis = draw(st.sampled_from([None, tuple(signed)] + ([signed[0]] if signed else [])))
    return x, axis, draw(st.booleans())


@settings(max_examples=25, deadline=None)
@given(_array_and_axis())
def test_sum_and_max_over_random_axes(case) -> None:
    x, axis, keepdims = case
    xs = T.TensorType("float64", [False] * x.ndim)("x")
    f = theano.function([xs], [T.sum(xs, axis=axis, keepdims=keepdims),
                               T.max(xs, axis=axis, keepdims=keepdims)])
    got_sum, got_max = f(x)
    _compare(got_sum, np.sum(x, axis=axis, keepdims=keepdims), "float64")
    _compare(got_max, np.max(x, axis=axis, keepdims=keepdims), "float64")
