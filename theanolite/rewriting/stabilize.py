"""Numerical stability: rewrite formulas that overflow or lose precision into stable ones."""
from __future__ import annotations

from theanolite.rewriting.db import register
from theanolite.rewriting.utils import as_type_of, is_constant_equal, is_elemwise
from theanolite.scalar import basic as scal
from theanolite.tensor import math as tm


def _one_plus(var):
    """x when var is 1 + x (two terms, one of them the constant 1), else None."""
    if not is_elemwise(var, scal.Add) or len(var.owner.inputs) != 2:
        return None
    a, b = var.owner.inputs
    if is_constant_equal(a, 1):
        return b
    if is_constant_equal(b, 1):
        return a
    return None


def _neg_of(var):
    if is_elemwise(var, scal.Neg):
        return var.owner.inputs[0]
    if is_elemwise(var, scal.Mul) and len(var.owner.inputs) == 2 and is_constant_equal(var.owner.inputs[0], -1):
        return var.owner.inputs[1]
    return None


@register("stabilize", "log1p", tracks=[scal.Log])
def local_log1p(fgraph, node):
    """log(1 + x) -> log1p(x); log(1 - x) -> log1p(-x): exact for tiny x."""
    arg = node.inputs[0]
    x = _one_plus(arg)
    if x is not None:
        return [as_type_of(tm.log1p(x), node.outputs[0])]
    if is_elemwise(arg, scal.Sub) and is_constant_equal(arg.owner.inputs[0], 1):
        return [as_type_of(tm.log1p(tm.neg(arg.owner.inputs[1])), node.outputs[0])]
    return None


@register("stabilize", "sigmoid", tracks=[scal.TrueDiv])
def local_sigmoid_from_division(fgraph, node):
    """1 / (1 + exp(-x)) -> sigmoid(x): one stable op instead of an overflowing exp."""
    num, den = node.inputs
    if not is_constant_equal(num, 1):
        return None
    e = _one_plus(den)
    if e is None or not is_elemwise(e, scal.Exp):
        return None
    inner = e.owner.inputs[0]
    x = _neg_of(inner)
    if x is not None:
        return [as_type_of(tm.sigmoid(x), node.outputs[0])]
    return [as_type_of(tm.sigmoid(tm.neg(inner)), node.outputs[0])]


@register("stabilize", "sigmoid", tracks=[scal.Sub])
def local_one_minus_sigmoid(fgraph, node):
    """1 - sigmoid(x) -> sigmoid(-x) (no cancellation for large x)."""
    a, b = node.inputs
    if is_constant_equal(a, 1) and is_elemwise(b, scal.Sigmoid):
        return [as_type_of(tm.sigmoid(tm.neg(b.owner.inputs[0])), node.outputs[0])]
    return None


@register("stabilize", "sigmoid", tracks=[scal.Log])
def local_log_sigmoid(fgraph, node):
    """log(sigmoid(x)) -> -softplus(-x): finite for x = -1000."""
    x = node.inputs[0]
    if is_elemwise(x, scal.Sigmoid):
        return [as_type_of(tm.neg(tm.softplus(tm.neg(x.owner.inputs[0]))), node.outputs[0])]
    return None


@register("stabilize", "logsumexp", tracks=[scal.Log])
def local_logsumexp(fgraph, node):
    """log(sum(exp(x), axis)) -> m + log(sum(exp(x - m), axis)) with m = max(x, axis):
    no overflow for x = 1000 (the max is subtracted before exponentiating)."""
    from theanolite.tensor.reduction import Sum, max as tmax, sum as tsum
    s = node.inputs[0]
    if s.owner is None or not isinstance(s.owner.op, Sum) or not is_elemwise(s.owner.inputs[0], scal.Exp):
        return None
    x = s.owner.inputs[0].owner.inputs[0]
    axis = s.owner.op.axis
    m = tmax(x, axis=axis, keepdims=True)
    # All -inf rows would give -inf - -inf = NaN: shift those by 0 instead.
    m = tm.switch(tm.isinf(m), 0, m)
    shifted = tsum(tm.exp(x - m), axis=axis)
    m_out = tsum(m, axis=axis)  # drops the kept size-1 dims
    return [as_type_of(m_out + tm.log(shifted), node.outputs[0])]
