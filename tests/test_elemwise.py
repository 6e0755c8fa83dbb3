"""Elementwise ops, driven by the op table: values, broadcasting, layouts, dtypes, gradients."""
from __future__ import annotations

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.gradient import Lop, Rop, verify_grad
from op_table import OP_TABLE, OpSpec

SPECS = {s.name: s for s in OP_TABLE}


def _inputs(spec: OpSpec, dtype: str, bcasts: list[tuple[bool, ...]]):
    dtypes = ["int8" if (spec.name == "switch" and k == 0) else dtype for k in range(spec.nin)]
    return [T.TensorType(d, b)(f"in{k}") for k, (d, b) in enumerate(zip(dtypes, bcasts))], dtypes


def _values(spec: OpSpec, rng, shapes, dtypes):
    return [spec.domain[k](rng, shape, dtypes[k]) for k, shape in enumerate(shapes)]


def _check(spec: OpSpec, dtype: str, bcasts, shapes, layout=None):
    rng = np.random.default_rng(abs(hash((spec.name, dtype, str(shapes)))) % 2**32)
    syms, dtypes = _inputs(spec, dtype, bcasts)
    out = spec.fn(*syms)
    f = theano.function(syms, out)
    vals = _values(spec, rng, shapes, dtypes)
    if layout is not None:
        vals = [layout(v) for v in vals]
    got = f(*vals)
    with np.errstate(all="ignore"):
        want = spec.ref(*vals)
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.dtype(out.dtype)
    assert got.shape == np.shape(want)
    tol = 1e-5 if "float32" in (dtype, out.dtype) else 1e-12
    np.testing.assert_allclose(got.astype("float64"), np.asarray(want, dtype="float64"),
                               rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("spec", OP_TABLE, ids=lambda s: s.name)
def test_matches_numpy_on_random_matrices(spec: OpSpec) -> None:
    for dtype in spec.dtypes:
        _check(spec, dtype, [(False, False)] * spec.nin, [(3, 4)] * spec.nin)


@pytest.mark.parametrize("spec", OP_TABLE, ids=lambda s: s.name)
def test_broadcasting_zero_d_and_zero_size(spec: OpSpec) -> None:
    dtype = spec.dtypes[0]
    # row against col: every input broadcasts along one axis
    bcasts = [(True, False) if k % 2 == 0 else (False, True) for k in range(spec.nin)]
    shapes = [(1, 5) if k % 2 == 0 else (4, 1) for k in range(spec.nin)]
    _check(spec, dtype, bcasts, shapes)
    _check(spec, dtype, [()] * spec.nin, [()] * spec.nin)
    _check(spec, dtype, [(False, False)] * spec.nin, [(0, 3)] * spec.nin)
    # lower-rank inputs are padded on the left
    if spec.nin >= 2:
        bcasts = [(False,)] + [(False, False)] * (spec.nin - 1)
        _check(spec, dtype, bcasts, [(4,)] + [(3, 4)] * (spec.nin - 1))


@pytest.mark.parametrize("spec", OP_TABLE, ids=lambda s: s.name)
def test_non_contiguous_inputs(spec: OpSpec) -> None:
    dtype = spec.dtypes[0]
    _check(spec, dtype, [(False, False)] * spec.nin, [(4, 3)] * spec.nin, layout=lambda v: v.T)
    _check(spec, dtype, [(False, False)] * spec.nin, [(6, 8)] * spec.nin, layout=lambda v: v[::-2, ::3])


FLOAT_SPECIALS = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, 1e308, -1e308, 5e-324])


@pytest.mark.parametrize("spec", [s for s in OP_TABLE if s.special and "float64" in s.dtypes],
                         ids=lambda s: s.name)
def test_special_values_match_numpy(spec: OpSpec) -> None:
    syms = [T.dvector() if not (spec.name == "switch" and k == 0) else T.bvector() for k in range(spec.nin)]
    f = theano.function(syms, spec.fn(*syms))
    grid = np.meshgrid(*[FLOAT_SPECIALS] * min(spec.nin, 2), indexing="ij")
    vals = [g.ravel() for g in grid]
    while len(vals) < spec.nin:
        vals.append(vals[-1])
    if spec.name == "switch":
        vals[0] = (np.arange(vals[0].size) % 2).astype("int8")
    got = f(*vals)
    with np.errstate(all="ignore"):
        want = np.asarray(spec.ref(*vals), dtype=got.dtype)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = ~np.isnan(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-12, atol=0)
    zeros = finite & (want == 0)
    np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]))


@pytest.mark.parametrize("spec", [s for s in OP_TABLE if s.grad], ids=lambda s: s.name)
def test_verify_grad(spec: OpSpec) -> None:
    rng = np.random.default_rng(1)
    vals = [d(rng, (2, 3), "float64") for d in spec.domain]
    if spec.name == "switch":
        cond = vals[0]
        verify_grad(lambda a, b: T.switch(T.as_tensor_variable(cond), a, b), vals[1:], rng=rng)
        return
    if spec.name in ("maximum", "minimum"):
        vals[1] = vals[0] + np.where(rng.random((2, 3)) > 0.5, 0.5, -0.5)  # no ties
    verify_grad(spec.fn, vals, rng=rng)


@pytest.mark.parametrize("spec", [s for s in OP_TABLE if s.grad and s.name != "switch"],
                         ids=lambda s: s.name)
def test_rop_and_lop_agree(spec: OpSpec) -> None:
    """<v, J u> computed forward (Rop) and backward (Lop) must be equal."""
    rng = np.random.default_rng(2)
    xs = [T.dmatrix(f"x{k}") for k in range(spec.nin)]
    us = [T.dmatrix(f"u{k}") for k in range(spec.nin)]
    v = T.dmatrix("v")
    y = spec.fn(*xs)
    jv = Rop(y, xs, us)
    vj = Lop(y, xs, v)
    forward = T.sum(jv * v)
    backward = sum(T.sum(g * u) for g, u in zip(vj, us))
    f = theano.function(xs + us + [v], [forward, backward], on_unused_input="ignore")
    vals = [d(rng, (3, 2), "float64") for d in spec.domain]
    if spec.name in ("maximum", "minimum"):
        vals[1] = vals[0] + 0.5
    fw, bw = f(*vals, *[rng.normal(size=(3, 2)) for _ in xs], rng.normal(size=(3, 2)))
    np.testing.assert_allclose(fw, bw, rtol=1e-10)


@pytest.mark.parametrize("expr, dtype", [
    (lambda: T.bvector() + T.bvector(), "int8"),
    (lambda: T.bvector() / T.bvector(), "float32"),
    (lambda: T.ivector() / T.ivector(), "float64"),
    (lambda: T.exp(T.lvector()), "float64"),
    (lambda: T.exp(T.wvector()), "float32"),
    (lambda: T.fvector() * T.dvector(), "float64"),
    (lambda: T.fvector() + 0.5, "float32"),
    (lambda: T.fvector() + 0.1, "float64"),
    (lambda: T.ivector() + 3, "int32"),
    (lambda: T.dvector() < 1, "bool"),
    (lambda: T.ivector() // 2, "int32"),
    (lambda: T.cast(T.dvector(), "int16"), "int16"),
])
def test_dtype_rules_follow_theano(expr, dtype) -> None:
    assert expr().dtype == dtype


def test_shape_mismatch_raises_value_error_naming_shapes() -> None:
    x, y = T.dvector("x"), T.dvector("y")
    f = theano.function([x, y], x + y)
    with pytest.raises(ValueError, match=r"mismatch.*\(3,\).*\(4,\)"):
        f(np.ones(3), np.ones(4))


def test_size_one_dim_does_not_broadcast_unless_typed_broadcastable() -> None:
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = theano.function([x, y], x * y)
    with pytest.raises(ValueError, match="mismatch"):
        f(np.ones((1, 3)), np.ones((2, 3)))
    r = T.drow("r")
    g = theano.function([r, y], r * y)
    np.testing.assert_array_equal(g(np.full((1, 3), 2.0), np.ones((2, 3))), np.full((2, 3), 2.0))


def test_broadcastable_flags_of_outputs() -> None:
    assert (T.drow() + T.dcol()).broadcastable == (False, False)
    assert (T.drow() + T.drow()).broadcastable == (True, False)
    assert (T.dscalar() + T.dvector()).broadcastable == (False,)


def test_python_operators_build_the_right_ops() -> None:
    x = T.lvector("x")
    f = theano.function([x], [x + 1, x - 1, x * 2, x // 2, x % 3, -x, abs(x), x ** 2,
                              x & 1, x | 1, x ^ 1, ~x, x < 1, x <= 1, x > 1, x >= 1])
    v = np.array([-3, 0, 5])
    want = [v + 1, v - 1, v * 2, v // 2, v % 3, -v, abs(v), v ** 2, v & 1, v | 1, v ^ 1, ~v,
            v < 1, v <= 1, v > 1, v >= 1]
    for got, exp in zip(f(v), want):
        np.testing.assert_array_equal(got, exp)


def test_reflected_operators_with_numpy_scalars_on_the_left() -> None:
    x = T.dvector("x")
    y = np.float64(2.0) * x + np.float64(1.0)
    assert isinstance(y, T.TensorVariable)
    np.testing.assert_allclose(theano.function([x], y)([1.0, 2.0]), [3.0, 5.0])
