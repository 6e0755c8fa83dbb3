"""Specialized sums: constants factored out of sums, sums of broadcast values counted."""
from __future__ import annotations

from theanolite.rewriting.db import register
from theanolite.rewriting.utils import as_type_of, is_elemwise
from theanolite.scalar import basic as scal
from theanolite.tensor import math as tm
from theanolite.tensor.basic import cast
from theanolite.tensor.elemwise import DimShuffle
from theanolite.tensor.reduction import Sum, prod


def _scalar_factor(var):
    """``var`` as a 0-d variable when every dimension is broadcastable, else None."""
    if not all(var.broadcastable):
        return None
    return DimShuffle(var.broadcastable, ())(var) if var.ndim else var


@register("specialize", "sum", tracks=[Sum])
def local_sum_of_scaled(fgraph, node):
    """sum(c * x) -> c * sum(x) for a scalar c: one multiply instead of one per element."""
    x = node.inputs[0]
    if not is_elemwise(x, scal.Mul) or len(fgraph.clients.get(x, [])) != 1:
        return None
    factors = [_scalar_factor(f) for f in x.owner.inputs]
    scalars = [f for f in factors if f is not None]
    rest = [i for i, f in zip(x.owner.inputs, factors) if f is None]
    if not scalars or not rest:
        return None
    inner = rest[0] if len(rest) == 1 else tm.mul(*rest)
    if inner.ndim != x.ndim:
        return None
    out = node.outputs[0]
    summed = node.op(inner)
    return [as_type_of(tm.mul(summed, *[cast(s, out.dtype) for s in scalars]), out)]


@register("specialize", "sum", tracks=[Sum])
def local_sum_of_fill(fgraph, node):
    """sum(fill(x, c)) over all axes, c a scalar -> c * size(x): nothing to add up."""
    x = node.inputs[0]
    if node.op.axis is not None and tuple(node.op.axis) != tuple(range(x.ndim)):
        return None
    if not is_elemwise(x, scal.Second):
        return None
    model, value = x.owner.inputs
    c = _scalar_factor(value)
    if c is None:
        return None
    out = node.outputs[0]
    size = prod(model.shape) if model.ndim else 1
    return [as_type_of(cast(c, out.dtype) * cast(size, out.dtype), out)]


__all__ = ["local_sum_of_scaled", "local_sum_of_fill"]
