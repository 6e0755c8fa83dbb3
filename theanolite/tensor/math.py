"""Elementwise tensor functions: one ``Elemwise`` per scalar op, wrapped by name."""
from __future__ import annotations

from typing import Any

from theanolite.scalar import basic as scal
from theanolite.tensor.basic import as_tensor_variable, cast
from theanolite.tensor.elemwise import Elemwise
from theanolite.tensor.var import TensorVariable

__all__: list[str] = []


def _wrap(scalar_op: scal.ScalarOp, name: str) -> Elemwise:
    """The Elemwise op is itself the user-facing function: ``T.exp(x)`` calls ``make_node``."""
    __all__.append(name)
    return Elemwise(scalar_op, name=name)


# n-ary, with Python operators on tensors
add = _wrap(scal.add, "add")
mul = _wrap(scal.mul, "mul")
sub = _wrap(scal.sub, "sub")
true_div = _wrap(scal.true_div, "true_div")
int_div = _wrap(scal.int_div, "int_div")
mod = _wrap(scal.mod, "mod")
pow = _wrap(scal.pow, "pow")
neg = _wrap(scal.neg, "neg")
abs_ = _wrap(scal.abs_, "abs_")
floor_div = int_div
__all__ += ["floor_div"]

sgn = _wrap(scal.sgn, "sgn")
sqr = _wrap(scal.sqr, "sqr")
maximum = _wrap(scal.maximum, "maximum")
minimum = _wrap(scal.minimum, "minimum")
lt = _wrap(scal.lt, "lt")
gt = _wrap(scal.gt, "gt")
le = _wrap(scal.le, "le")
ge = _wrap(scal.ge, "ge")
eq = _wrap(scal.eq, "eq")
neq = _wrap(scal.neq, "neq")
isnan = _wrap(scal.isnan, "isnan")
isinf = _wrap(scal.isinf, "isinf")
and_ = _wrap(scal.and_, "and_")
or_ = _wrap(scal.or_, "or_")
xor = _wrap(scal.xor, "xor")
invert = _wrap(scal.invert, "invert")
bitwise_and, bitwise_or, bitwise_xor, bitwise_not = and_, or_, xor, invert
__all__ += ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not"]

exp = _wrap(scal.exp, "exp")
exp2 = _wrap(scal.exp2, "exp2")
expm1 = _wrap(scal.expm1, "expm1")
log = _wrap(scal.log, "log")
log2 = _wrap(scal.log2, "log2")
log10 = _wrap(scal.log10, "log10")
log1p = _wrap(scal.log1p, "log1p")
sqrt = _wrap(scal.sqrt, "sqrt")
sin = _wrap(scal.sin, "sin")
cos = _wrap(scal.cos, "cos")
tan = _wrap(scal.tan, "tan")
arcsin = _wrap(scal.arcsin, "arcsin")
arccos = _wrap(scal.arccos, "arccos")
arctan = _wrap(scal.arctan, "arctan")
arctan2 = _wrap(scal.arctan2, "arctan2")
sinh = _wrap(scal.sinh, "sinh")
cosh = _wrap(scal.cosh, "cosh")
tanh = _wrap(scal.tanh, "tanh")
arcsinh = _wrap(scal.arcsinh, "arcsinh")
arccosh = _wrap(scal.arccosh, "arccosh")
arctanh = _wrap(scal.arctanh, "arctanh")
sigmoid = _wrap(scal.sigmoid, "sigmoid")
softplus = _wrap(scal.softplus, "softplus")
erf = _wrap(scal.erf, "erf")
erfc = _wrap(scal.erfc, "erfc")
floor = _wrap(scal.floor, "floor")
ceil = _wrap(scal.ceil, "ceil")
trunc = _wrap(scal.trunc, "trunc")
round_half_to_even = _wrap(scal.round_half_to_even, "round_half_to_even")
round_half_away_from_zero = _wrap(scal.round_half_away_from_zero, "round_half_away_from_zero")
switch = _wrap(scal.switch, "switch")
_clip = Elemwise(scal.clip, name="clip")


def clip(x: Any, min: Any, max: Any) -> TensorVariable:
    """``x`` limited to [min, max] (the gradient flows where min <= x <= max)."""
    return _clip(x, min, max)


def where(cond: Any, ift: Any = None, iff: Any = None) -> TensorVariable:
    """``switch`` under numpy's name (the 3-argument form only)."""
    if ift is None or iff is None:
        raise TypeError("T.where needs three arguments (cond, ift, iff)")
    return switch(cond, ift, iff)


def round(a: Any, mode: str | None = None) -> TensorVariable:
    """Round; ``mode`` is 'half_away_from_zero' (Theano's default) or 'half_to_even'."""
    mode = mode or "half_away_from_zero"
    if mode == "half_away_from_zero":
        return round_half_away_from_zero(a)
    if mode == "half_to_even":
        return round_half_to_even(a)
    raise ValueError(f"round: mode must be 'half_away_from_zero' or 'half_to_even', got {mode!r}")


def iround(a: Any, mode: str | None = None) -> TensorVariable:
    return cast(round(a, mode), "int64")


def inv(x: Any) -> TensorVariable:
    return true_div(1.0, x)


def deg2rad(x: Any) -> TensorVariable:
    return mul(x, 3.141592653589793 / 180.0)


def rad2deg(x: Any) -> TensorVariable:
    return mul(x, 180.0 / 3.141592653589793)


def real(x: Any) -> TensorVariable:
    return as_tensor_variable(x)


def abs(x: Any) -> TensorVariable:  # noqa: A001 - Theano exposes T.abs as well as T.abs_
    return abs_(x)


def true_divide(x: Any, y: Any) -> TensorVariable:
    return true_div(x, y)


def xlogx(x: Any) -> TensorVariable:
    """x * log(x) with the limit 0 at x = 0."""
    return switch(eq(x, 0), 0.0, mul(x, log(x)))


__all__ += ["clip", "where", "round", "iround", "inv", "deg2rad", "rad2deg", "real", "abs",
            "true_divide", "xlogx"]
