"""Canonicalization: one normal form for arithmetic, so later phases see fewer patterns.

``add``/``mul`` chains are flattened with their constants folded into one constant placed
first; identities (``x * 1``, ``x + 0``, ``x - x``, ``--x``) disappear; fills that
broadcasting already implies are removed; powers by constants become ``sqr``/``sqrt``/
products; division by a constant becomes multiplication.
"""
from __future__ import annotations

import numpy as np

from theanolite.graph.basic import Constant
from theanolite.rewriting.db import register
from theanolite.rewriting.utils import (as_type_of, constant_value, is_constant_equal, is_elemwise, literal,
                                        literal_source)
from theanolite.scalar import basic as scal
from theanolite.tensor import math as tm
from theanolite.tensor.basic import fill


@register("canonicalize", "fill", tracks=[scal.Second])
def local_useless_fill(fgraph, node):
    """fill(a, b) -> b when b already has the output's broadcast pattern."""
    out = node.outputs[0]
    value = node.inputs[1]
    if value.ndim == out.ndim and value.broadcastable == out.broadcastable:
        return [as_type_of(value, out)]
    return None


@register("canonicalize", "fill", tracks=[scal.ScalarOp])
def local_fill_sink(fgraph, node):
    """op(fill(a, c), y) -> op(c, y) when the other inputs already give the output's
    shape, else fill(a, op(c, y)): fills move towards the outputs, where the first form
    or local_useless_fill removes them, and the constants they carried meet and fold.

    Gradients start as fill(cost, 1.0): this is what turns them into plain arithmetic.
    """
    if isinstance(node.op.scalar_op, scal.Second) or len(node.outputs) != 1:
        return None
    out = node.outputs[0]
    for k, inp in enumerate(node.inputs):
        if not is_elemwise(inp, scal.Second) or len(fgraph.clients.get(inp, [])) != 1:
            continue
        model, value = inp.owner.inputs
        new_inputs = list(node.inputs)
        new_inputs[k] = value
        new = node.op(*new_inputs)
        converted = as_type_of(new, out) if new.ndim == out.ndim else None
        if converted is None:
            converted = as_type_of(fill(model, new), out)
        if converted is not None:
            return [converted]
    return None


def _flatten(fgraph, node, scalar_class) -> list:
    """Inputs of nested same-op nodes used only here, spliced in place."""
    terms = []
    for inp in node.inputs:
        if (is_elemwise(inp, scalar_class) and len(fgraph.clients.get(inp, [])) == 1
                and inp.dtype == node.outputs[0].dtype):
            terms.extend(_flatten(fgraph, inp.owner, scalar_class))
        else:
            terms.append(inp)
    return terms


def _scalar_literal(var):
    """The value of a size-1 constant seen through DimShuffle/Cast, else None."""
    return None if literal_source(var) is None else np.asarray(constant_value(var))


def _canonize(fgraph, node, scalar_class, combine, identity):
    out = node.outputs[0]
    terms = _flatten(fgraph, node, scalar_class)
    values = [_scalar_literal(t) for t in terms]
    others = [t for t, v in zip(terms, values) if v is None]
    consts = [v for v in values if v is not None]
    if not others:
        return None  # all constant: constant folding's job
    unchanged = len(terms) == len(node.inputs) and all(a is b for a, b in zip(terms, node.inputs))
    if unchanged and (not consts or (len(consts) == 1 and values[0] is not None
                                     and not np.all(consts[0] == identity))):
        return None  # already canonical: at most one constant, first, not the identity
    new_terms = list(others)
    if consts:
        with np.errstate(all="ignore"):
            combined = consts[0].astype(out.dtype)
            for v in consts[1:]:
                combined = np.asarray(combine(combined, v.astype(out.dtype)), dtype=out.dtype)
        if not np.all(combined == identity):
            new_terms.insert(0, literal(combined, out.dtype))
    new = new_terms[0] if len(new_terms) == 1 else node.op(*new_terms)
    return [as_type_of(new, out)]


@register("canonicalize", "arith", tracks=[scal.Mul])
def local_mul_canonizer(fgraph, node):
    """Flatten mul chains, fold their constants into one leading constant, drop ``* 1``."""
    return _canonize(fgraph, node, scal.Mul, np.multiply, 1)


@register("canonicalize", "arith", tracks=[scal.Add])
def local_add_canonizer(fgraph, node):
    """Flatten add chains, fold their constants into one leading constant, drop ``+ 0``."""
    return _canonize(fgraph, node, scal.Add, np.add, 0)


@register("canonicalize", "arith", tracks=[scal.Mul])
def local_mul_zero(fgraph, node):
    """x * 0 -> zeros of the output's shape (float NaN*0 is 0 here, as in Theano)."""
    out = node.outputs[0]
    for inp in node.inputs:
        if is_constant_equal(inp, 0) and not out.dtype.startswith("complex"):
            others = [i for i in node.inputs if i is not inp]
            if not others:
                return None
            template = others[0] if len(others) == 1 else node.op(*others)
            return [as_type_of(fill(template, literal(0, out.dtype)), out)]
    return None


@register("canonicalize", "arith", tracks=[scal.Sub])
def local_sub_canonical(fgraph, node):
    """x - x -> 0, x - 0 -> x, 0 - x -> -x."""
    x, y = node.inputs
    out = node.outputs[0]
    if x is y:
        return [as_type_of(fill(x, literal(0, out.dtype)), out)]
    if is_constant_equal(y, 0):
        return [as_type_of(x, out)]
    if is_constant_equal(x, 0):
        return [as_type_of(tm.neg(y), out)]
    return None


@register("canonicalize", "arith", tracks=[scal.Neg])
def local_neg_neg(fgraph, node):
    """--x -> x."""
    x = node.inputs[0]
    if is_elemwise(x, scal.Neg):
        return [as_type_of(x.owner.inputs[0], node.outputs[0])]
    return None


@register("canonicalize", "arith", tracks=[scal.Neg])
def local_neg_of_constant_product(fgraph, node):
    """-(c * x) -> (-c) * x, so the sign joins the constant."""
    x = node.inputs[0]
    if is_elemwise(x, scal.Mul) and len(fgraph.clients.get(x, [])) == 1:
        first = x.owner.inputs[0]
        value = constant_value(first)
        if value is not None and isinstance(first, Constant):
            rest = x.owner.inputs[1:]
            return [as_type_of(tm.mul(literal(-value, first.dtype), *rest), node.outputs[0])]
    return None


@register("canonicalize", "arith", tracks=[scal.Pow])
def local_pow_specialize(fgraph, node):
    """x ** c for constant c: 0 -> 1, 1 -> x, 2 -> sqr, 0.5 -> sqrt, -1 -> 1/x,
    small integers -> products of squares."""
    x, y = node.inputs
    out = node.outputs[0]
    value = constant_value(y)
    if value is None or value.size != 1:
        return None
    c = float(value)
    xo = as_type_of(x, out) if x.dtype != out.dtype else x
    if xo is None:
        return None
    if c == 0:
        return [as_type_of(fill(x, literal(1, out.dtype)), out)]
    if c == 1:
        return [as_type_of(xo, out)]
    if c == 0.5:
        return [as_type_of(tm.sqrt(xo), out)]
    if c == -0.5 and out.dtype.startswith("float"):
        return [as_type_of(tm.true_div(literal(1, out.dtype), tm.sqrt(xo)), out)]
    if c == -1 and out.dtype.startswith("float"):
        return [as_type_of(tm.true_div(literal(1, out.dtype), xo), out)]
    if c == int(c) and 2 <= abs(c) <= 16:
        product = _power_by_squaring(xo, int(abs(c)))
        if c < 0:
            if not out.dtype.startswith("float"):
                return None
            product = tm.true_div(literal(1, out.dtype), product)
        return [as_type_of(product, out)]
    return None


def _power_by_squaring(x, n):
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else tm.mul(result, base)
        n >>= 1
        if n:
            base = tm.sqr(base)
    return result


@register("canonicalize", "arith", tracks=[scal.TrueDiv])
def local_div_by_constant_to_mul(fgraph, node):
    """x / c -> x * (1/c) for a float constant c (a multiply is several times cheaper)."""
    x, y = node.inputs
    out = node.outputs[0]
    value = constant_value(y)
    if value is None or not out.dtype.startswith("float") or value == 0:
        return None
    with np.errstate(all="ignore"):
        inverse = np.asarray(1.0, dtype=out.dtype) / np.asarray(value, dtype=out.dtype)
    if not np.isfinite(inverse):
        return None
    return [as_type_of(tm.mul(literal(inverse, out.dtype), x), out)]


@register("canonicalize", "arith", tracks=[scal.TrueDiv])
def local_div_one(fgraph, node):
    """x / 1 -> x."""
    x, y = node.inputs
    if is_constant_equal(y, 1):
        return [as_type_of(x, node.outputs[0])]
    return None
