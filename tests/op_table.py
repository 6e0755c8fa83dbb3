"""One table of elementwise op specs drives the elementwise tests.

Each row: the tensor function, its numpy reference, the input domain (a sampler), whether
it is differentiable, and the dtypes to try. Adding an elementwise op adds one row here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import theanolite.tensor as T


def _uniform(lo: float, hi: float) -> Callable:
    return lambda rng, shape, dtype: rng.uniform(lo, hi, size=shape).astype(dtype)


def _ints(lo: int, hi: int) -> Callable:
    return lambda rng, shape, dtype: rng.integers(lo, hi, size=shape).astype(dtype)


def _nonzero_ints(lo: int, hi: int) -> Callable:
    def sample(rng, shape, dtype):
        v = rng.integers(lo, hi, size=shape)
        return np.where(v == 0, 1, v).astype(dtype)
    return sample


def _away_from_zero(lo: float, hi: float) -> Callable:
    def sample(rng, shape, dtype):
        v = rng.uniform(lo, hi, size=shape)
        return (np.sign(v + 1e-12) * (np.abs(v) + 0.5)).astype(dtype)
    return sample


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


@dataclass
class OpSpec:
    name: str
    fn: Callable
    ref: Callable
    nin: int
    domain: list[Callable]
    grad: bool = True
    dtypes: tuple[str, ...] = ("float64", "float32")
    special: bool = True  # compare on NaN/Inf/-0.0 too
    grad_domain: list[Callable] | None = None
    extra: dict = field(default_factory=dict)


U = _uniform(-3, 3)
POS = _uniform(0.2, 3)
UNIT = _uniform(-0.9, 0.9)

OP_TABLE: list[OpSpec] = [
    OpSpec("add", T.add, np.add, 2, [U, U]),
    OpSpec("sub", T.sub, np.subtract, 2, [U, U]),
    OpSpec("mul", T.mul, np.multiply, 2, [U, U]),
    OpSpec("true_div", T.true_div, np.true_divide, 2, [U, _away_from_zero(-3, 3)]),
    OpSpec("int_div", T.int_div, np.floor_divide, 2, [_ints(-20, 20), _nonzero_ints(-5, 5)],
           grad=False, dtypes=("int64", "int32", "float64")),
    OpSpec("mod", T.mod, np.mod, 2, [_ints(-20, 20), _nonzero_ints(-5, 5)], grad=False,
           dtypes=("int64", "int8", "float64")),
    OpSpec("pow", T.pow, np.power, 2, [POS, U]),
    OpSpec("neg", T.neg, np.negative, 1, [U], dtypes=("float64", "float32", "int64")),
    OpSpec("abs_", T.abs_, np.abs, 1, [_away_from_zero(-3, 3)], dtypes=("float64", "float32", "int32")),
    OpSpec("sgn", T.sgn, np.sign, 1, [U], grad=False),
    OpSpec("sqr", T.sqr, np.square, 1, [U]),
    OpSpec("maximum", T.maximum, np.maximum, 2, [U, U]),
    OpSpec("minimum", T.minimum, np.minimum, 2, [U, U]),
    OpSpec("lt", T.lt, np.less, 2, [U, U], grad=False),
    OpSpec("gt", T.gt, np.greater, 2, [U, U], grad=False),
    OpSpec("le", T.le, np.less_equal, 2, [U, U], grad=False),
    OpSpec("ge", T.ge, np.greater_equal, 2, [U, U], grad=False),
    OpSpec("eq", T.eq, np.equal, 2, [_ints(0, 3), _ints(0, 3)], grad=False),
    OpSpec("neq", T.neq, np.not_equal, 2, [_ints(0, 3), _ints(0, 3)], grad=False),
    OpSpec("and_", T.and_, np.bitwise_and, 2, [_ints(0, 8), _ints(0, 8)], grad=False,
           dtypes=("int64", "bool", "uint8")),
    OpSpec("or_", T.or_, np.bitwise_or, 2, [_ints(0, 8), _ints(0, 8)], grad=False, dtypes=("int32", "bool")),
    OpSpec("xor", T.xor, np.bitwise_xor, 2, [_ints(0, 8), _ints(0, 8)], grad=False, dtypes=("int16", "bool")),
    OpSpec("invert", T.invert, np.invert, 1, [_ints(0, 8)], grad=False, dtypes=("int64", "bool")),
    OpSpec("exp", T.exp, np.exp, 1, [U]),
    OpSpec("exp2", T.exp2, np.exp2, 1, [U]),
    OpSpec("expm1", T.expm1, np.expm1, 1, [U]),
    OpSpec("log", T.log, np.log, 1, [POS]),
    OpSpec("log2", T.log2, np.log2, 1, [POS]),
    OpSpec("log10", T.log10, np.log10, 1, [POS]),
    OpSpec("log1p", T.log1p, np.log1p, 1, [POS]),
    OpSpec("sqrt", T.sqrt, np.sqrt, 1, [POS]),
    OpSpec("sin", T.sin, np.sin, 1, [U]),
    OpSpec("cos", T.cos, np.cos, 1, [U]),
    OpSpec("tan", T.tan, np.tan, 1, [UNIT]),
    OpSpec("arcsin", T.arcsin, np.arcsin, 1, [UNIT]),
    OpSpec("arccos", T.arccos, np.arccos, 1, [UNIT]),
    OpSpec("arctan", T.arctan, np.arctan, 1, [U]),
    OpSpec("arctan2", T.arctan2, np.arctan2, 2, [U, _away_from_zero(-3, 3)]),
    OpSpec("sinh", T.sinh, np.sinh, 1, [U]),
    OpSpec("cosh", T.cosh, np.cosh, 1, [U]),
    OpSpec("tanh", T.tanh, np.tanh, 1, [U]),
    OpSpec("arcsinh", T.arcsinh, np.arcsinh, 1, [U]),
    OpSpec("arccosh", T.arccosh, np.arccosh, 1, [_uniform(1.2, 4)]),
    OpSpec("arctanh", T.arctanh, np.arctanh, 1, [UNIT]),
    OpSpec("sigmoid", T.sigmoid, _sigmoid, 1, [U]),
    OpSpec("softplus", T.softplus, lambda x: np.logaddexp(0, x), 1, [U]),
    OpSpec("erf", T.erf, None, 1, [U]),
    OpSpec("erfc", T.erfc, None, 1, [U]),
    OpSpec("floor", T.floor, np.floor, 1, [U], grad=False),
    OpSpec("ceil", T.ceil, np.ceil, 1, [U], grad=False),
    OpSpec("trunc", T.trunc, np.trunc, 1, [U], grad=False),
    OpSpec("round_half_to_even", T.round_half_to_even, np.round, 1, [_uniform(-5, 5)], grad=False),
    OpSpec("round_half_away_from_zero", T.round_half_away_from_zero, _round_half_away, 1,
           [_uniform(-5, 5)], grad=False),
    OpSpec("switch", T.switch, np.where, 3, [_ints(0, 2), U, U]),
    OpSpec("clip", T.clip, lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), 3,
           [U, _uniform(-2, -0.5), _uniform(0.5, 2)]),
    OpSpec("isnan", T.isnan, np.isnan, 1, [U], grad=False),
    OpSpec("isinf", T.isinf, np.isinf, 1, [U], grad=False),
]


def _erf_ref(x):
    import math
    return np.vectorize(math.erf, otypes=["float64"])(x)


def _erfc_ref(x):
    import math
    return np.vectorize(math.erfc, otypes=["float64"])(x)


for _spec in OP_TABLE:
    if _spec.name == "erf":
        _spec.ref = _erf_ref
    elif _spec.name == "erfc":
        _spec.ref = _erfc_ref
