"""Removal of ops that change nothing, and constant folding as a local rewrite."""
from __future__ import annotations

from theanolite.graph.basic import Constant
from theanolite.rewriting.db import register
from theanolite.rewriting.merge import fold_node
from theanolite.rewriting.utils import as_type_of, is_elemwise
from theanolite.scalar import basic as scal
from theanolite.tensor.basic import Rebroadcast
from theanolite.tensor.alloc_ops import MakeVector
from theanolite.tensor.elemwise import DimShuffle
from theanolite.tensor.reduction import Sum
from theanolite.tensor.shape_ops import Reshape
from theanolite.tensor.subtensor import SliceSpec, Subtensor


local_constant_folding = register("canonicalize", "constant_folding", name="local_constant_folding")(fold_node)
register("specialize", "constant_folding", name="local_constant_folding_late")(fold_node)


@register("canonicalize", "useless", tracks=[scal.Identity])
def local_useless_copy(fgraph, node):
    """tensor_copy(x) -> x (copies are only needed around in-place ops, added later)."""
    return [as_type_of(node.inputs[0], node.outputs[0])]


@register("canonicalize", "useless", tracks=[scal.Cast])
def local_useless_cast(fgraph, node):
    """cast(x, x.dtype) -> x; cast(cast(x, wide), narrow) -> cast(x, narrow) when x fits wide."""
    x = node.inputs[0]
    out = node.outputs[0]
    if x.dtype == out.dtype:
        return [as_type_of(x, out)]
    return None


@register("canonicalize", "useless", tracks=[scal.Exp])
def local_exp_log(fgraph, node):
    """exp(log(x)) -> x."""
    x = node.inputs[0]
    if is_elemwise(x, scal.Log) and x.owner.inputs[0].dtype == node.outputs[0].dtype:
        return [as_type_of(x.owner.inputs[0], node.outputs[0])]
    return None


@register("canonicalize", "useless", tracks=[scal.Log])
def local_log_exp(fgraph, node):
    """log(exp(x)) -> x."""
    x = node.inputs[0]
    if is_elemwise(x, scal.Exp) and x.owner.inputs[0].dtype == node.outputs[0].dtype:
        return [as_type_of(x.owner.inputs[0], node.outputs[0])]
    return None


@register("canonicalize", "useless", tracks=[DimShuffle])
def local_useless_dimshuffle(fgraph, node):
    """A DimShuffle that keeps every dimension in place is the identity."""
    if node.op.new_order == tuple(range(node.inputs[0].ndim)):
        return [node.inputs[0]]
    return None


@register("canonicalize", "useless", tracks=[DimShuffle])
def local_dimshuffle_of_dimshuffle(fgraph, node):
    """Two DimShuffles in a row become one."""
    x = node.inputs[0]
    if x.owner is None or not isinstance(x.owner.op, DimShuffle):
        return None
    inner = x.owner.op.new_order
    order = ["x" if o == "x" else inner[o] for o in node.op.new_order]
    source = x.owner.inputs[0]
    kept = [o for o in order if o != "x"]
    dropped = [d for d in range(source.ndim) if d not in kept]
    if any(not source.broadcastable[d] for d in dropped):
        return None
    return [as_type_of(DimShuffle(source.broadcastable, order)(source), node.outputs[0])]


@register("canonicalize", "useless", tracks=[Rebroadcast])
def local_useless_rebroadcast(fgraph, node):
    """Rebroadcast that changes no flag, or of a variable that already has them."""
    x = node.inputs[0]
    if x.broadcastable == node.outputs[0].broadcastable:
        return [x]
    if x.owner is not None and isinstance(x.owner.op, Rebroadcast):
        return [as_type_of_rebroadcast(x.owner.inputs[0], node.outputs[0])]
    return None


def as_type_of_rebroadcast(x, like):
    from theanolite.tensor.basic import patternbroadcast
    return patternbroadcast(x, like.broadcastable)


def _same_dim(entry, x, d) -> bool:
    """True if the symbolic length ``entry`` is, by construction, dimension ``d`` of ``x``."""
    from theanolite.tensor.basic import Shape_i
    if entry.owner is not None and isinstance(entry.owner.op, Shape_i):
        return entry.owner.inputs[0] is x and entry.owner.op.i == d
    return False


@register("canonicalize", "useless", tracks=[Reshape])
def local_useless_reshape(fgraph, node):
    """reshape(x, shape) -> x when the new shape is, dimension by dimension, x's own
    shape (Shape_i of x, or 1 on a broadcastable dim); reshape(reshape(x, s1), s2) ->
    reshape(x, s2)."""
    x, shp = node.inputs
    out = node.outputs[0]
    if x.owner is not None and isinstance(x.owner.op, Reshape) and len(fgraph.clients.get(x, [])) == 1:
        return [as_type_of(node.op(x.owner.inputs[0], shp), out)]
    if x.ndim != out.ndim or shp.owner is None or not isinstance(shp.owner.op, MakeVector):
        return None
    for d, entry in enumerate(shp.owner.inputs):
        if _same_dim(entry, x, d):
            continue
        if x.broadcastable[d] and isinstance(entry, Constant) and int(entry.data) == 1:
            continue
        return None
    return [as_type_of(x, out)]


@register("canonicalize", "useless", tracks=[Sum])
def local_sum_over_no_axes(fgraph, node):
    """sum(x, axis=()) -> x (cast to the sum's dtype)."""
    if node.op.axis == ():
        return [as_type_of(node.inputs[0], node.outputs[0])]
    return None


@register("canonicalize", "useless", tracks=[Subtensor])
def local_useless_subtensor(fgraph, node):
    """x[:], x[:, :], ... (every entry a full slice with no step) -> x."""
    spec = node.op.idx_list
    if all(isinstance(s, SliceSpec) and s.start is None and s.stop is None and s.step in (None, 1)
           for s in spec) and len(node.inputs) == 1:
        return [as_type_of(node.inputs[0], node.outputs[0])]
    return None
