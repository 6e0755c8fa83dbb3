"""Scalar types and scalar ops: the elementwise vocabulary.

A scalar op is one class holding everything about one elementwise function: its output
dtype rule, its numpy implementation (``impl``, applied to whole arrays by ``Elemwise``),
its derivative (``tensor_grad``, written on the tensor variables of the ``Elemwise`` node),
and its C expression (``c_expr``, a format string over the argument names, used by the
loop emitter). ``Elemwise`` wraps each one into a tensor op; fusion builds ``Composite``
ops out of their scalar graphs.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from theanolite.graph.basic import Apply, Constant, Variable
from theanolite.graph.op import Op, Type

int_dtypes = ("int8", "int16", "int32", "int64")
uint_dtypes = ("uint8", "uint16", "uint32", "uint64")
float_dtypes = ("float16", "float32", "float64")
complex_dtypes = ("complex64", "complex128")
discrete_dtypes = ("bool",) + int_dtypes + uint_dtypes
continuous_dtypes = float_dtypes + complex_dtypes
all_dtypes = discrete_dtypes + continuous_dtypes


def upcast(*dtypes: str) -> str:
    """Theano's dtype upcast: numpy array promotion, never value-based."""
    result = np.dtype(dtypes[0])
    for d in dtypes[1:]:
        result = np.promote_types(result, d)
    return str(result)


# Integer inputs to float functions (exp, true_div, ...) become the smallest float that
# holds them exactly enough; small ints go to float32, as in Theano.
_TO_FLOAT = {
    "bool": "float32", "int8": "float32", "int16": "float32", "uint8": "float32",
    "uint16": "float32", "int32": "float64", "int64": "float64", "uint32": "float64",
    "uint64": "float64",
}


def upgrade_to_float(*dtypes: str) -> str:
    out = upcast(*dtypes)
    return _TO_FLOAT.get(out, out)


class ScalarType(Type):
    """0-d values of one dtype, the input type of scalar ops inside ``Composite`` graphs."""

    def __init__(self, dtype: str) -> None:
        self.dtype = str(np.dtype(dtype))

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None) -> Any:
        return np.asarray(value, dtype=self.dtype)[()]

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and self.dtype == other.dtype

    def __hash__(self) -> int:
        return hash((ScalarType, self.dtype))

    def __str__(self) -> str:
        return self.dtype

    def make_variable(self, name: str | None = None) -> Variable:
        return ScalarVariable(self, None, None, name)


class ScalarVariable(Variable):
    pass


class ScalarConstant(Constant):
    pass


def as_scalar(x: Any) -> Variable:
    if isinstance(x, Variable):
        if isinstance(x.type, ScalarType):
            return x
        raise TypeError(f"expected a scalar variable, got {x} of type {x.type}")
    arr = np.asarray(x)
    return ScalarConstant(ScalarType(str(arr.dtype)), arr)


# ----------------------------------------------------------------------------- ScalarOp

class ScalarOp(Op):
    """Base of elementwise scalar functions.

    Subclasses set ``nin``, ``name``, ``output_dtype`` (a rule on input dtypes),
    ``impl`` (numpy on arrays, already cast to the compute dtype), ``tensor_grad`` and
    ``c_expr``.
    """

    nin: int = 1
    nout: int = 1
    name: str = ""
    # "same": inputs upcast together; "float": as "same", then ints become floats;
    # "bool": comparisons; a callable for anything else.
    dtype_rule: str = "same"
    # The C expression; {0}, {1}, ... are the arguments, {out} the output C type.
    c_expr: str | None = None
    identity: Any = None
    commutative = False
    associative = False

    __props__: tuple[str, ...] = ()

    def output_dtype(self, *dtypes: str) -> str:
        if self.dtype_rule == "same":
            return upcast(*dtypes)
        if self.dtype_rule == "float":
            return upgrade_to_float(*dtypes)
        if self.dtype_rule == "bool":
            return "bool"
        if self.dtype_rule == "float_of_first":
            return upgrade_to_float(dtypes[0])
        raise NotImplementedError(self.dtype_rule)

    def compute_dtype(self, *dtypes: str) -> str:
        """The dtype the inputs are cast to before ``impl`` (comparisons: their upcast)."""
        if self.dtype_rule == "bool":
            return upcast(*dtypes)
        return self.output_dtype(*dtypes)

    def impl(self, *args: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.impl")

    def tensor_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                    output_grads: Sequence[Variable]) -> list[Variable | None]:
        """Gradients w.r.t. each input, as tensor graphs; None means 'zero'."""
        from theanolite.gradient import grad_not_implemented
        return [grad_not_implemented(self, i, x) for i, x in enumerate(inputs)]

    def tensor_rop(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                   eval_points: Sequence[Variable | None]) -> Variable | None:
        """Forward-mode derivative; the default sums ``L_op`` partials times eval points
        (valid because an elementwise Jacobian is diagonal)."""
        return None

    def make_node(self, *inputs: Any) -> Apply:
        if len(inputs) != self.nin and self.nin != -1:
            raise TypeError(f"{self.name} takes {self.nin} inputs, got {len(inputs)}")
        ins = [as_scalar(i) for i in inputs]
        dtype = self.output_dtype(*[i.type.dtype for i in ins])
        return Apply(self, ins, [ScalarVariable(ScalarType(dtype)) for _ in range(self.nout)])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        dtype = self.compute_dtype(*[i.type.dtype for i in node.inputs])
        args = [np.asarray(a, dtype=dtype) for a in inputs]
        with np.errstate(all="ignore"):
            out = self.impl(*args)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].type.dtype)[()]

    def __str__(self) -> str:
        return self.name or type(self).__name__.lower()

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and self._props() == other._props()

    def __hash__(self) -> int:
        return hash((type(self), self._props()))


def _T():
    # The derivative rules are tensor graphs; import lazily to keep scalar below tensor.
    import theanolite.tensor as T
    return T


def _zero_grads(inputs: Sequence[Variable]) -> list[None]:
    return [None] * len(inputs)


# ----------------------------------------------------------------------------- arithmetic

class Add(ScalarOp):
    nin, name, c_expr, identity = -1, "add", "({0} + {1})", 0
    commutative = associative = True

    def impl(self, *args):
        out = args[0]
        for a in args[1:]:
            out = out + a
        return out

    def tensor_grad(self, inputs, outputs, gz):
        return [gz[0] for _ in inputs]

    def tensor_rop(self, inputs, outputs, ev):
        terms = [e for e in ev if e is not None]
        return _T().add(*terms) if terms else None


class Sub(ScalarOp):
    nin, name, c_expr = 2, "sub", "({0} - {1})"

    def impl(self, a, b):
        return a - b

    def tensor_grad(self, inputs, outputs, gz):
        return [gz[0], -gz[0]]


class Mul(ScalarOp):
    nin, name, c_expr, identity = -1, "mul", "({0} * {1})", 1
    commutative = associative = True

    def impl(self, *args):
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out

    def tensor_grad(self, inputs, outputs, gz):
        T = _T()
        grads = []
        for i in range(len(inputs)):
            others = [x for j, x in enumerate(inputs) if j != i]
            grads.append(T.mul(gz[0], *others) if others else gz[0])
        return grads


class TrueDiv(ScalarOp):
    nin, name, dtype_rule, c_expr = 2, "true_div", "float", "({0} / {1})"

    def impl(self, a, b):
        return np.true_divide(a, b)

    def tensor_grad(self, inputs, outputs, gz):
        x, y = inputs
        return [gz[0] / y, -(gz[0] * x) / (y * y)]


class IntDiv(ScalarOp):
    nin, name = 2, "int_div"

    def impl(self, a, b):
        return np.floor_divide(a, b)

    def tensor_grad(self, inputs, outputs, gz):
        return _zero_grads(inputs)


class Mod(ScalarOp):
    nin, name = 2, "mod"

    def impl(self, a, b):
        return np.mod(a, b)

    def tensor_grad(self, inputs, outputs, gz):
        T = _T()
        x, y = inputs
        return [gz[0], -gz[0] * T.floor_div(x, y)]


class Pow(ScalarOp):
    nin, name, c_expr = 2, "pow", "pow({0}, {1})"

    def impl(self, a, b):
        return np.power(a, b)

    def tensor_grad(self, inputs, outputs, gz):
        T = _T()
        x, y = inputs
        first = gz[0] * y * x ** (y - 1)
        if y.type.dtype in discrete_dtypes:
            return [first, None]
        return [first, gz[0] * T.log(x) * outputs[0]]


class Neg(ScalarOp):
    name, c_expr = "neg", "(-{0})"

    def impl(self, a):
        return np.negative(a) if a.dtype != bool else ~a

    def tensor_grad(self, inputs, outputs, gz):
        return [-gz[0]]


class Abs(ScalarOp):
    name, c_expr = "abs", "fabs({0})"

    def impl(self, a):
        return np.abs(a)

    def tensor_grad(self, inputs, outputs, gz):
        return [gz[0] * _T().sgn(inputs[0])]


class Sgn(ScalarOp):
    name = "sgn"

    def impl(self, a):
        return np.sign(a)

    def tensor_grad(self, inputs, outputs, gz):
        return _zero_grads(inputs)


class Sqr(ScalarOp):
    name, c_expr = "sqr", "({0} * {0})"

    def impl(self, a):
        return a * a

    def tensor_grad(self, inputs, outputs, gz):
        return [gz[0] * inputs[0] * 2]


class Maximum(ScalarOp):
    nin, name = 2, "maximum"
    commutative = associative = True

    def impl(self, a, b):
        return np.maximum(a, b)

    def tensor_grad(self, inputs, outputs, gz):
        T = _T()
        x, y = inputs
        # Ties send the gradient to both sides, as Theano does.
        return [gz[0] * T.eq(outputs[0], x), gz[0] * T.eq(outputs[0], y)]


class Minimum(ScalarOp):
    nin, name = 2, "minimum"
    commutative = associative = True

    def impl(self, a, b):
        return np.minimum(a, b)

    def tensor_grad(self, inputs, outputs, gz):
        T = _T()
        x, y = inputs
        return [gz[0] * T.eq(outputs[0], x), gz[0] * T.eq(outputs[0], y)]


class Second(ScalarOp):
    """``second(a, b)``: b broadcast to the shape of a (Theano's ``fill``)."""
    nin, name = 2, "second"

    def output_dtype(self, a, b):
        return b

    def compute_dtype(self, a, b):
        return b

    def impl(self, a, b):
        return np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape))

    def tensor_grad(self, inputs, outputs, gz):
        return [None, gz[0]]


class Identity(ScalarOp):
    name, c_expr = "identity", "{0}"

    def impl(self, a):
        return a.copy()

    def tensor_grad(self, inputs, outputs, gz):
        return [gz[0]]


class Cast(ScalarOp):
    __props__ = ("o_type",)
    name = "cast"

    def __init__(self, dtype: str) -> None:
        self.o_type = str(np.dtype(dtype))

    def output_dtype(self, *dtypes):
        return self.o_type

    def compute_dtype(self, *dtypes):
        return dtypes[0]

    def impl(self, a):
        return a.astype(self.o_type)

    def tensor_grad(self, inputs, outputs, gz):
        x = inputs[0]
        if x.type.dtype in discrete_dtypes:
            return [None]
        return [_T().cast(gz[0], x.type.dtype)]

    def __str__(self) -> str:
        return f"Cast{{{self.o_type}}}"


# ----------------------------------------------------------------------------- comparisons

class _Compare(ScalarOp):
    nin, dtype_rule = 2, "bool"
    ufunc: Callable = staticmethod(np.equal)

    def impl(self, a, b):
        return self.ufunc(a, b)

    def tensor_grad(self, inputs, outputs, gz):
        return _zero_grads(inputs)


class LT(_Compare):
    name, ufunc, c_expr = "lt", staticmethod(np.less), "({0} < {1})"


class GT(_Compare):
    name, ufunc, c_expr = "gt", staticmethod(np.greater), "({0} > {1})"


class LE(_Compare):
    name, ufunc, c_expr = "le", staticmethod(np.less_equal), "({0} <= {1})"


class GE(_Compare):
    name, ufunc, c_expr = "ge", staticmethod(np.greater_equal), "({0} >= {1})"


class EQ(_Compare):
    name, ufunc, c_expr = "eq", staticmethod(np.equal), "({0} == {1})"


class NEQ(_Compare):
    name, ufunc, c_expr = "neq", staticmethod(np.not_equal), "({0} != {1})"


class IsNan(ScalarOp):
    name, dtype_rule = "isnan", "bool"

    def impl(self, a):
        return np.isnan(a)

    def tensor_grad(self, inputs, outputs, gz):
        return _zero_grads(inputs)


class IsInf(ScalarOp):
    name, dtype_rule = "isinf", "bool"

    def impl(self, a):
        return np.isinf(a)

    def tensor_grad(self, inputs, outputs, gz):
        return _zero_grads(inputs)


class _Bitwise(ScalarOp):
    nin = 2
    ufunc: Callable = staticmethod(np.bitwise_and)

    def output_dtype(self, *dtypes):
        out = upcast(*dtypes)
        if out not in discrete_dtypes:
            raise TypeError(f"{self.name} needs integer or bool inputs, got {', '.join(dtypes)}")
        return out

    def impl(self, a, b):
        return self.ufunc(a, b)

    def tensor_grad(self, inputs, outputs, gz):
        return _zero_grads(inputs)


class AND(_Bitwise):
    name, ufunc, c_expr = "and_", staticmethod(np.bitwise_and), "({0} & {1})"
    commutative = associative = True


class OR(_Bitwise):
    name, ufunc, c_expr = "or_", staticmethod(np.bitwise_or), "({0} | {1})"
    commutative = associative = True


class XOR(_Bitwise):
    name, ufunc, c_expr = "xor", staticmethod(np.bitwise_xor), "({0} ^ {1})"
    commutative = associative = True


class Invert(_Bitwise):
    nin, name = 1, "invert"

    def impl(self, a):
        return np.invert(a)


# ----------------------------------------------------------------------------- float functions

def _erf(a: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf
        return erf(a)
    except ImportError:  # scipy is optional: math.erf is exact, just slower.
        return np.vectorize(math.erf, otypes=[a.dtype])(a)


def _erfc(a: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erfc
        return erfc(a)
    except ImportError:
        return np.vectorize(math.erfc, otypes=[a.dtype])(a)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # 1/(1+exp(-x)) overflows to exactly 0 for very negative x, which is the right limit.
    return 1.0 / (1.0 + np.exp(-a))


class UnaryFloat(ScalarOp):
    """A float-valued function of one argument: ``ufunc`` is its numpy implementation."""
    dtype_rule = "float"
    ufunc: Callable = staticmethod(np.exp)
    derivative: Callable | None = None  # f'(x, f(x)) as a tensor graph

    def impl(self, a):
        return self.ufunc(a)

    def tensor_grad(self, inputs, outputs, gz):
        x = inputs[0]
        if x.type.dtype in discrete_dtypes:
            return [None]
        return [gz[0] * self.derivative(_T(), x, outputs[0])]


def _unary(cls_name: str, name: str, ufunc: Callable, derivative: Callable | None,
           c_expr: str | None = None) -> type:
    return type(cls_name, (UnaryFloat,), {
        "name": name, "ufunc": staticmethod(ufunc), "c_expr": c_expr,
        "derivative": staticmethod(derivative) if derivative else None,
        "__module__": __name__,
    })


Exp = _unary("Exp", "exp", np.exp, lambda T, x, y: y, "exp({0})")
Exp2 = _unary("Exp2", "exp2", np.exp2, lambda T, x, y: y * math.log(2.0), "exp2({0})")
Expm1 = _unary("Expm1", "expm1", np.expm1, lambda T, x, y: y + 1, "expm1({0})")
Log = _unary("Log", "log", np.log, lambda T, x, y: 1.0 / x, "log({0})")
Log2 = _unary("Log2", "log2", np.log2, lambda T, x, y: 1.0 / (x * math.log(2.0)), "log2({0})")
Log10 = _unary("Log10", "log10", np.log10, lambda T, x, y: 1.0 / (x * math.log(10.0)), "log10({0})")
Log1p = _unary("Log1p", "log1p", np.log1p, lambda T, x, y: 1.0 / (1 + x), "log1p({0})")
Sqrt = _unary("Sqrt", "sqrt", np.sqrt, lambda T, x, y: 0.5 / y, "sqrt({0})")
Sin = _unary("Sin", "sin", np.sin, lambda T, x, y: T.cos(x), "sin({0})")
Cos = _unary("Cos", "cos", np.cos, lambda T, x, y: -T.sin(x), "cos({0})")
Tan = _unary("Tan", "tan", np.tan, lambda T, x, y: 1 + T.sqr(y), "tan({0})")
ArcSin = _unary("ArcSin", "arcsin", np.arcsin, lambda T, x, y: 1.0 / T.sqrt(1 - T.sqr(x)), "asin({0})")
ArcCos = _unary("ArcCos", "arccos", np.arccos, lambda T, x, y: -1.0 / T.sqrt(1 - T.sqr(x)), "acos({0})")
ArcTan = _unary("ArcTan", "arctan", np.arctan, lambda T, x, y: 1.0 / (1 + T.sqr(x)), "atan({0})")
Sinh = _unary("Sinh", "sinh", np.sinh, lambda T, x, y: T.cosh(x), "sinh({0})")
Cosh = _unary("Cosh", "cosh", np.cosh, lambda T, x, y: T.sinh(x), "cosh({0})")
Tanh = _unary("Tanh", "tanh", np.tanh, lambda T, x, y: 1 - T.sqr(y), "tanh({0})")
ArcSinh = _unary("ArcSinh", "arcsinh", np.arcsinh, lambda T, x, y: 1.0 / T.sqrt(T.sqr(x) + 1), "asinh({0})")
ArcCosh = _unary("ArcCosh", "arccosh", np.arccosh, lambda T, x, y: 1.0 / T.sqrt(T.sqr(x) - 1), "acosh({0})")
ArcTanh = _unary("ArcTanh", "arctanh", np.arctanh, lambda T, x, y: 1.0 / (1 - T.sqr(x)), "atanh({0})")
Sigmoid = _unary("Sigmoid", "sigmoid", _sigmoid, lambda T, x, y: y * (1 - y), None)
Softplus = _unary("Softplus", "softplus", lambda a: np.logaddexp(np.zeros((), a.dtype), a),
                  lambda T, x, y: T.sigmoid(x), None)
Erf = _unary("Erf", "erf", _erf,
             lambda T, x, y: T.exp(-T.sqr(x)) * (2.0 / math.sqrt(math.pi)), "erf({0})")
Erfc = _unary("Erfc", "erfc", _erfc,
              lambda T, x, y: T.exp(-T.sqr(x)) * (-2.0 / math.sqrt(math.pi)), "erfc({0})")


class _Rounding(ScalarOp):
    """Piecewise-constant float functions: zero gradient almost everywhere."""
    dtype_rule = "float"
    ufunc: Callable = staticmethod(np.floor)

    def impl(self, a):
        return self.ufunc(a)

    def tensor_grad(self, inputs, outputs, gz):
        return _zero_grads(inputs)


def _round_half_away(a: np.ndarray) -> np.ndarray:
    return np.sign(a) * np.floor(np.abs(a) + 0.5)


class Floor(_Rounding):
    name, ufunc, c_expr = "floor", staticmethod(np.floor), "floor({0})"


class Ceil(_Rounding):
    name, ufunc, c_expr = "ceil", staticmethod(np.ceil), "ceil({0})"


class Trunc(_Rounding):
    name, ufunc, c_expr = "trunc", staticmethod(np.trunc), "trunc({0})"


class RoundHalfToEven(_Rounding):
    name, ufunc, c_expr = "round_half_to_even", staticmethod(np.round), "nearbyint({0})"


class RoundHalfAwayFromZero(_Rounding):
    name, ufunc, c_expr = "round_half_away_from_zero", staticmethod(_round_half_away), "round({0})"


class ArcTan2(ScalarOp):
    nin, name, dtype_rule, c_expr = 2, "arctan2", "float", "atan2({0}, {1})"

    def impl(self, a, b):
        return np.arctan2(a, b)

    def tensor_grad(self, inputs, outputs, gz):
        y, x = inputs
        denom = x * x + y * y
        return [gz[0] * x / denom, -gz[0] * y / denom]


# ----------------------------------------------------------------------------- selection

class Switch(ScalarOp):
    """``switch(cond, a, b)``: a where cond is true, else b (both sides computed)."""
    nin, name = 3, "switch"

    def output_dtype(self, cond, a, b):
        return upcast(a, b)

    def compute_dtype(self, cond, a, b):
        return upcast(a, b)

    def perform(self, node, inputs, output_storage):
        cond, a, b = inputs
        dtype = node.outputs[0].type.dtype
        output_storage[0][0] = np.asarray(np.where(cond, a, b), dtype=dtype)[()]

    def impl(self, cond, a, b):
        return np.where(cond, a, b)

    def tensor_grad(self, inputs, outputs, gz):
        T = _T()
        cond, a, b = inputs
        zero = T.zeros_like(gz[0])
        return [None, T.switch(cond, gz[0], zero), T.switch(cond, zero, gz[0])]


class Clip(ScalarOp):
    nin, name = 3, "clip"

    def impl(self, x, lo, hi):
        return np.minimum(np.maximum(x, lo), hi)

    def tensor_grad(self, inputs, outputs, gz):
        T = _T()
        x, lo, hi = inputs
        inside = T.and_(T.ge(x, lo), T.le(x, hi))
        return [gz[0] * inside, gz[0] * T.lt(x, lo), gz[0] * T.gt(x, hi)]


# Singletons, used by the tensor wrappers and by rewrites for pattern matching.
add, sub, mul, true_div, int_div, mod, pow = Add(), Sub(), Mul(), TrueDiv(), IntDiv(), Mod(), Pow()
neg, abs_, sgn, sqr, maximum, minimum, second, identity = (
    Neg(), Abs(), Sgn(), Sqr(), Maximum(), Minimum(), Second(), Identity())
lt, gt, le, ge, eq, neq, isnan, isinf = LT(), GT(), LE(), GE(), EQ(), NEQ(), IsNan(), IsInf()
and_, or_, xor, invert = AND(), OR(), XOR(), Invert()
exp, exp2, expm1, log, log2, log10, log1p, sqrt = (
    Exp(), Exp2(), Expm1(), Log(), Log2(), Log10(), Log1p(), Sqrt())
sin, cos, tan, arcsin, arccos, arctan = Sin(), Cos(), Tan(), ArcSin(), ArcCos(), ArcTan()
sinh, cosh, tanh, arcsinh, arccosh, arctanh = Sinh(), Cosh(), Tanh(), ArcSinh(), ArcCosh(), ArcTanh()
sigmoid, softplus, erf, erfc = Sigmoid(), Softplus(), Erf(), Erfc()
floor, ceil, trunc = Floor(), Ceil(), Trunc()
round_half_to_even, round_half_away_from_zero = RoundHalfToEven(), RoundHalfAwayFromZero()
arctan2, switch, clip = ArcTan2(), Switch(), Clip()
