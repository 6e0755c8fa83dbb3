"""Every scalar op of theanolite/scalar/basic.py, in C, against perform and numpy.

Table-driven: the ops are collected from the module itself (plus Cast to each dtype), so
a new scalar op without C, or with C that disagrees with ``perform``, fails here. One
function per dtype holds every op (one compile per dtype); inputs are grids of special
values (NaN, +-Inf, -0.0, subnormals, integer extremes), so binary ops see every pair.
C must equal perform exactly, except libm functions, which may differ by a few ulps
(SIMD libm) but never on special values' NaN/Inf/zero-sign pattern.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import theanolite.tensor as T
from theanolite.ccodegen.scalar_c import ROWS
from theanolite.scalar import basic as S
from theanolite.tensor.elemwise import Elemwise

from ccodegen_support import PY_RAW, assert_same, c_function, session_cache  # noqa: F401
from op_table import OP_TABLE

import theanolite as theano

ALL_OPS = [op for op in vars(S).values() if isinstance(op, S.ScalarOp)]
CAST_TARGETS = ("bool", "int8", "int64", "uint8", "uint64", "float32", "float64")
LIBM = (S.UnaryFloat, S.ArcTan2, S.Pow)
FLOAT_SPECIAL = [np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5,
                 3.0, -7.0, 1e300, -1e300, 5e-324, 0.49999999999999994, 710.0, -745.5]


def special_values(dtype: str) -> np.ndarray:
    if dtype == "bool":
        return np.array([False, True])
    if dtype.startswith("float"):
        with np.errstate(over="ignore"):
            return np.array(FLOAT_SPECIAL).astype(dtype)
    info = np.iinfo(dtype)
    raw = [info.min, info.max, info.max - 1, 0, 1, 2, 3, 7, 64, -1, -3, -7, -64, info.min + 1]
    return np.array([v for v in raw if info.min <= v <= info.max], dtype=dtype)


def test_every_scalar_op_has_a_c_row():
    missing = sorted({type(op).__name__ for op in ALL_OPS} - {cls.__name__ for cls in ROWS})
    assert not missing, f"scalar ops without C: {missing}"


def _grid(values: np.ndarray, nin: int) -> list[np.ndarray]:
    return [g.ravel().copy() for g in np.meshgrid(*([values] * nin), indexing="ij")]


def _cases(dtype: str) -> list[tuple[str, S.ScalarOp, list[np.ndarray]]]:
    """(label, op, input arrays) for every op that perform accepts on ``dtype``."""
    values = special_values(dtype)
    cases = []
    ops = list(ALL_OPS) + [S.Cast(t) for t in CAST_TARGETS if t != dtype]
    if dtype not in ("float32", "float64", "bool"):  # int -> float ops: the cast path is the same
        ops = [op for op in ops if not isinstance(op, S.UnaryFloat) or op in (S.exp, S.sigmoid)]
    for op in ops:
        nin = 2 if op.nin == -1 else op.nin
        arrays = _grid(values, nin)
        if isinstance(op, S.Pow) and dtype.startswith("int"):
            arrays[1] = np.clip(arrays[1], 0, 70).astype(dtype)  # negative: see the error test
        if isinstance(op, S.Cast) and dtype.startswith("float") and np.dtype(op.o_type).kind in "iu":
            ok = np.isfinite(arrays[0]) & (np.abs(arrays[0]) < 100)  # C leaves others undefined
            arrays = [arrays[0][ok]]
            if op.o_type.startswith("u"):
                arrays = [np.abs(arrays[0])]
        xs = [T.vector(dtype=dtype) for _ in range(nin)]
        try:
            out = Elemwise(op)(*xs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theano.function(xs, out, mode=PY_RAW)(*arrays)
        except (TypeError, ValueError):
            continue  # perform rejects this dtype (e.g. bool - bool): no C expected either
        cases.append((str(op), op, xs, out, arrays))
    return cases


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int8", "uint8", "bool"])
def test_scalar_ops_c_equals_perform_and_numpy(dtype):
    cases = _cases(dtype)
    inputs = [x for case in cases for x in case[2]]
    outputs = [case[3] for case in cases]
    values = [a for case in cases for a in case[4]]
    f_c = c_function(inputs, outputs, on_unused_input="ignore")
    f_py = theano.function(inputs, outputs, mode=PY_RAW, on_unused_input="ignore")
    in_c = {str(n.op) for seg in f_c.maker.program.partition.segments for n in seg.nodes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = f_c(*values), f_py(*values)
    for (label, op, _, out, arrays), c, ref in zip(cases, got, want):
        assert str(out.owner.op) in in_c, f"{label} on {dtype} ran in Python"
        ulps = 0
        if isinstance(op, LIBM) and out.dtype.startswith("float"):
            ulps = 256 if isinstance(op, S.Erfc) else 8
        assert_same(c, ref, ulps, where=f"{label}({dtype})")
        spec = next((s for s in OP_TABLE if s.name == op.name and dtype in s.dtypes), None)
        if spec is not None and not isinstance(op, (S.Erf, S.Erfc)):  # erf: perform uses scipy
            with np.errstate(all="ignore"):
                expected = np.asarray(spec.ref(*arrays)).astype(out.dtype)
            assert_same(c, expected, ulps, where=f"{label}({dtype}) vs numpy")

@pytest.mark.parametrize("dtype", ["int64", "int8"])
def test_integer_pow_negative_exponent_raises_like_numpy(dtype):
    x, y = T.vector(dtype=dtype), T.vector(dtype=dtype)
    f = c_function([x, y], x ** y)
    a = np.array([2, 3], dtype)
    np.testing.assert_array_equal(f(a, np.array([3, 2], dtype)), np.power(a, np.array([3, 2], dtype)))
    with pytest.raises(ValueError) as info:
        np.power(a, np.array([1, -1], dtype))
    with pytest.raises(ValueError, match="negative integer powers") as mine:
        f(a, np.array([1, -1], dtype))
    assert str(info.value) in str(mine.value)


def test_integer_division_by_zero_defines_a_result_and_never_crashes():
    x, y = T.lvector(), T.lvector()
    f = c_function([x, y], [x // y, x % y])
    lo = np.iinfo(np.int64).min
    a = np.array([7, -7, 0, lo, lo, 5], np.int64)
    b = np.array([0, 0, 0, -1, 0, -1], np.int64)
    q, r = f(a, b)
    np.testing.assert_array_equal(q, [0, 0, 0, lo, 0, -5])  # numpy: x // 0 == 0, MIN // -1 == MIN
    np.testing.assert_array_equal(r, [0, 0, 0, 0, 0, 0])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(q, np.floor_divide(a, b))
        np.testing.assert_array_equal(r, np.mod(a, b))
