"""C for every scalar op: one table, op class -> C expression per dtype kind.

Contract (the same as ``Elemwise.perform``): the arguments are first cast to the op's
compute dtype (``Switch`` keeps its condition as it is), the expression is evaluated in
that C type, and the result is cast to the output dtype with numpy's ``astype`` rules.
The expressions and the helpers of ``tl_runtime.h`` reproduce numpy exactly, NaN/Inf/-0.0
included; integer arithmetic wraps; ``x // 0 == 0`` and ``x % 0 == 0`` for integers (as
numpy defines them), and a negative integer exponent raises ValueError as numpy does.
Transcendentals may differ from numpy by a few ulps (SIMD libm); special values agree.

Templates: ``{0}``, ``{1}``... the arguments (already of the compute C type), ``{T}`` the
compute C type, ``{s}`` its helper suffix (``f64``, ``i32``...), ``{f}`` the libm suffix
(``f`` for float32, empty for float64). Kinds: ``b`` bool, ``i`` signed, ``u`` unsigned,
``f`` float. A missing kind (or dtype) means "no C": the node runs ``perform``.

Bump ``SCALAR_C_VERSION`` whenever an emitted expression or ``tl_runtime.h`` changes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from theanolite.scalar import basic as S

SCALAR_C_VERSION = 1

C_TYPES = {
    "bool": "tl_bool", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
    "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t",
    "uint64": "uint64_t", "float32": "float", "float64": "double",
}
_SUFFIX = {"bool": "b", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
           "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
           "float32": "f32", "float64": "f64"}


def c_type(dtype: str) -> str | None:
    """The C type of ``dtype``'s elements, or None when C does not handle it."""
    return C_TYPES.get(dtype)


def kind(dtype: str) -> str:
    return "b" if dtype == "bool" else np.dtype(dtype).kind


@dataclass(frozen=True)
class Row:
    """C of one scalar op: ``templates`` maps kind letters (e.g. ``"iu"``) to a template;
    ``nary`` folds a binary template left to right over any number of arguments;
    ``bad`` is a condition (a template) that sets TL_BAD_NEGPOW, per kind."""

    templates: dict[str, str]
    nary: bool = False
    bad: dict[str, str] | None = None

    def template(self, k: str) -> str | None:
        for kinds, text in self.templates.items():
            if k in kinds:
                return text
        return None


def _unary(fn: str) -> Row:
    return Row({"f": fn + "{f}({0})"})


ANY = "biuf"
ROWS: dict[type, Row] = {
    S.Add: Row({"b": "({0} | {1})", "iu": "tl_add_{s}({0}, {1})", "f": "({0} + {1})"}, nary=True),
    S.Sub: Row({"iu": "tl_sub_{s}({0}, {1})", "f": "({0} - {1})"}),
    S.Mul: Row({"b": "({0} & {1})", "iu": "tl_mul_{s}({0}, {1})", "f": "({0} * {1})"}, nary=True),
    S.TrueDiv: Row({"f": "({0} / {1})"}),
    S.IntDiv: Row({"b": "({0} & {1})", "iuf": "tl_floordiv_{s}({0}, {1})"}),
    S.Mod: Row({"b": "((tl_bool)0)", "iuf": "tl_mod_{s}({0}, {1})"}),
    S.Pow: Row({"b": "({0} | !{1})", "iu": "tl_pow_{s}({0}, {1})", "f": "pow{f}({0}, {1})"},
               bad={"i": "({1} < 0)"}),
    S.Neg: Row({"b": "(!{0})", "iu": "tl_neg_{s}({0})", "f": "(-{0})"}),
    S.Abs: Row({"b": "{0}", "iu": "tl_abs_{s}({0})", "f": "fabs{f}({0})"}),
    S.Sgn: Row({"iuf": "tl_sgn_{s}({0})"}),
    S.Sqr: Row({"b": "{0}", "iu": "tl_mul_{s}({0}, {0})", "f": "({0} * {0})"}),
    S.Maximum: Row({"b": "({0} | {1})", "iuf": "tl_max_{s}({0}, {1})"}, nary=True),
    S.Minimum: Row({"b": "({0} & {1})", "iuf": "tl_min_{s}({0}, {1})"}, nary=True),
    S.Second: Row({ANY: "{1}"}),
    S.Identity: Row({ANY: "{0}"}),
    S.Cast: Row({ANY: "{0}"}),
    S.LT: Row({ANY: "({0} < {1})"}),
    S.GT: Row({ANY: "({0} > {1})"}),
    S.LE: Row({ANY: "({0} <= {1})"}),
    S.GE: Row({ANY: "({0} >= {1})"}),
    S.EQ: Row({ANY: "({0} == {1})"}),
    S.NEQ: Row({ANY: "({0} != {1})"}),
    S.IsNan: Row({"f": "({0} != {0})", "biu": "0"}),
    S.IsInf: Row({"f": "(fabs{f}({0}) == ({T})INFINITY)", "biu": "0"}),
    S.AND: Row({"biu": "({0} & {1})"}, nary=True),
    S.OR: Row({"biu": "({0} | {1})"}, nary=True),
    S.XOR: Row({"biu": "({0} ^ {1})"}, nary=True),
    S.Invert: Row({"b": "(!{0})", "iu": "(~{0})"}),
    S.Exp: _unary("exp"), S.Exp2: _unary("exp2"), S.Expm1: _unary("expm1"),
    S.Log: _unary("log"), S.Log2: _unary("log2"), S.Log10: _unary("log10"),
    S.Log1p: _unary("log1p"), S.Sqrt: _unary("sqrt"), S.Sin: _unary("sin"),
    S.Cos: _unary("cos"), S.Tan: _unary("tan"), S.ArcSin: _unary("asin"),
    S.ArcCos: _unary("acos"), S.ArcTan: _unary("atan"), S.Sinh: _unary("sinh"),
    S.Cosh: _unary("cosh"), S.Tanh: _unary("tanh"), S.ArcSinh: _unary("asinh"),
    S.ArcCosh: _unary("acosh"), S.ArcTanh: _unary("atanh"), S.Erf: _unary("erf"),
    S.Erfc: _unary("erfc"),
    # perform's formula, 1/(1+exp(-x)): already free of overflow to NaN (exp(-x) = inf
    # gives exactly 0, the right limit), so the C keeps it for exact agreement.
    S.Sigmoid: Row({"f": "(({T})1 / (({T})1 + exp{f}(-{0})))"}),
    S.Softplus: Row({"f": "tl_softplus_{s}({0})"}),  # numpy's logaddexp(0, x): stable
    S.Floor: _unary("floor"), S.Ceil: _unary("ceil"), S.Trunc: _unary("trunc"),
    S.RoundHalfToEven: _unary("rint"),
    S.RoundHalfAwayFromZero: Row({"f": "tl_round_away_{s}({0})"}),
    S.ArcTan2: Row({"f": "atan2{f}({0}, {1})"}),
    S.Switch: Row({ANY: "(({0}) != 0 ? {1} : {2})"}),
    S.Clip: Row({"b": "(({0} | {1}) & {2})", "iuf": "tl_clip_{s}({0}, {1}, {2})"}),
}


def c_literal(value: Any, dtype: str) -> str:
    """An exact C literal of ``value`` as ``dtype`` (hex floats, so nothing rounds)."""
    ct = C_TYPES[dtype]
    if dtype == "bool":
        return f"(({ct}){int(bool(value))})"
    if kind(dtype) == "f":
        x = float(np.asarray(value, dtype=dtype))
        if math.isnan(x):
            text = "(-__builtin_nan(\"\"))" if math.copysign(1.0, x) < 0 else "__builtin_nan(\"\")"
        elif math.isinf(x):
            text = "__builtin_inf()" if x > 0 else "(-__builtin_inf())"
        else:
            text = x.hex()
        return f"(({ct}){text})"
    x = int(value)
    if kind(dtype) == "u":
        return f"(({ct}){x}ULL)"
    if x == -2**63:
        return "INT64_MIN"
    return f"(({ct}){x}LL)"


def cast_expr(expr: str, src: str, dst: str) -> str:
    """``expr`` (of dtype ``src``) converted like numpy's ``astype(dst)``."""
    if src == dst:
        return expr
    if dst == "bool":
        return f"((tl_bool)(({expr}) != 0))"
    return f"(({C_TYPES[dst]})({expr}))"


def result_dtype(op: S.ScalarOp, compute: str) -> str:
    """The dtype the expression yields before the cast to the output dtype."""
    return "bool" if op.dtype_rule == "bool" and not isinstance(op, S.Cast) else compute


def scalar_expr(op: S.ScalarOp, args: Sequence[tuple[str, str]]) -> tuple[str, str, str | None] | None:
    """(expression, its dtype, error condition or None) for one plain scalar op applied to
    ``args`` (C expression, dtype) pairs, or None when there is no C for these dtypes."""
    dtypes = [d for _, d in args]
    if any(d not in C_TYPES for d in dtypes):
        return None
    try:
        compute = op.output_dtype(*dtypes) if isinstance(op, S.Switch) else op.compute_dtype(*dtypes)
    except (TypeError, NotImplementedError):
        return None
    if compute not in C_TYPES:
        return None
    row = ROWS.get(type(op))
    if row is None:
        return _user_expr(op, args, compute)
    k = kind(compute)
    text = row.template(k)
    if text is None:
        return None
    fill = _filler(compute)
    if isinstance(op, S.Switch):
        cast = [args[0][0]] + [cast_expr(e, d, compute) for e, d in args[1:]]
    else:
        cast = [cast_expr(e, d, compute) for e, d in args]
    if row.nary and len(cast) != 2:
        expr = cast[0]
        for nxt in cast[1:]:
            expr = fill(text, [expr, nxt])
    else:
        expr = fill(text, cast)
    bad = row.bad.get(k) if row.bad else None
    return expr, result_dtype(op, compute), (fill(bad, cast) if bad else None)


def _filler(compute: str) -> Callable[[str, list[str]], str]:
    extra = {"T": C_TYPES[compute], "s": _SUFFIX[compute], "f": "f" if compute == "float32" else ""}

    def fill(text: str, args: list[str]) -> str:
        return text.format(*args, **extra)
    return fill


def _user_expr(op: S.ScalarOp, args: Sequence[tuple[str, str]], compute: str):
    """A scalar op outside the table may bring ``c_expr`` (floats only)."""
    template = getattr(op, "c_expr", None)
    if not template or kind(compute) != "f" or op.nout != 1:
        return None
    cast = [cast_expr(e, d, compute) for e, d in args]
    expr = template.format(*cast, out=C_TYPES[compute])
    return f"(({C_TYPES[compute]}){expr})", result_dtype(op, compute), None


def scalar_c_lines(op: S.ScalarOp, ins: Sequence[tuple[str, str]], outs: Sequence[tuple[str, str]],
                   prefix: str = "t") -> list[str] | None:
    """C statements declaring and computing ``outs`` ((name, dtype) pairs) from ``ins``
    ((expression, dtype) pairs); inner temporaries are named ``<prefix>_<n>``. Error
    conditions OR bits into ``tl_bad`` (an int in scope). None if any part has no C."""
    from theanolite.scalar.composite import Composite
    if isinstance(op, Composite):
        return _composite_lines(op, ins, outs, prefix)
    found = scalar_expr(op, ins)
    if found is None or len(outs) != 1:
        return None
    expr, rdtype, bad = found
    name, odtype = outs[0]
    if odtype not in C_TYPES:
        return None
    lines = [f"const {C_TYPES[odtype]} {name} = {cast_expr(expr, rdtype, odtype)};"]
    if bad:
        lines.append(f"tl_bad |= TL_BAD_NEGPOW * (int)({bad});")
    return lines


def _composite_lines(op: Any, ins: Sequence[tuple[str, str]], outs: Sequence[tuple[str, str]],
                     prefix: str) -> list[str] | None:
    lines: list[str] = []
    node_vals: list[list[tuple[str, str]]] = []

    def value(ref: tuple) -> tuple[str, str]:
        if ref[0] == "i":
            return ins[ref[1]]
        if ref[0] == "n":
            return node_vals[ref[1]][ref[2]]
        if ref[1] not in C_TYPES:
            raise KeyError(ref[1])
        return c_literal(ref[2], ref[1]), ref[1]

    try:
        for j, (inner, in_refs, _, out_dtypes) in enumerate(op.nodes):
            names = [(f"{prefix}_{j}_{o}", d) for o, d in enumerate(out_dtypes)]
            body = scalar_c_lines(inner, [value(r) for r in in_refs], names, f"{prefix}_{j}")
            if body is None:
                return None
            lines.extend(body)
            node_vals.append(names)
        for (name, odtype), ref in zip(outs, op.out_refs):
            expr, dtype = value(ref)
            lines.append(f"const {C_TYPES[odtype]} {name} = {cast_expr(expr, dtype, odtype)};")
    except KeyError:
        return None
    return lines


def op_c_version(op: S.ScalarOp) -> tuple:
    """What the key records for a scalar op's C: the table version, plus the op's own
    ``c_code_version()`` when it defines one (user ops with ``c_expr`` must)."""
    own = getattr(op, "c_code_version", None)
    return (SCALAR_C_VERSION,) + (tuple(own()) if callable(own) else ())
