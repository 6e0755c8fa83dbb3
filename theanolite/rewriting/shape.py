"""Shape inference over a FunctionGraph, and the rewrites that use it.

``ShapeFeature.shape_of(var)`` is a tuple of int64 scalar graphs computing ``var``'s shape
from the shapes of the graph's inputs, built with each op's ``infer_shape``; so
``x.shape`` never forces computing ``x``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from theanolite.graph.basic import Constant, Variable, ancestors
from theanolite.rewriting.db import register
from theanolite.tensor.basic import Shape, Shape_i, cast, constant


class ShapeFeature:
    """Memoized symbolic shapes of the variables of one FunctionGraph."""

    def __init__(self) -> None:
        self._memo: dict[Variable, tuple] = {}

    def shape_of(self, fgraph: Any, var: Variable) -> tuple:
        found = self._memo.get(var)
        if found is not None:
            return found
        shape = self._infer(fgraph, var)
        self._memo[var] = shape
        return shape

    def _infer(self, fgraph: Any, var: Variable) -> tuple:
        ndim = var.type.ndim
        if isinstance(var, Constant):
            return tuple(_int64(s) for s in np.shape(var.data))
        node = var.owner
        default = tuple(_int64(1) if var.broadcastable[d] else Shape_i(d)(var) for d in range(ndim))
        if node is None or not hasattr(node.op, "infer_shape"):
            return default
        input_shapes = [self.shape_of(fgraph, i) if hasattr(i.type, "ndim") else None for i in node.inputs]
        try:
            shapes = node.op.call_infer_shape(fgraph, node, input_shapes)
        except (NotImplementedError, AttributeError):
            return default
        out = shapes[var.index]
        if out is None or len(out) != ndim:
            return default
        return tuple(_int64(1) if var.broadcastable[d] else _int64(s) for d, s in enumerate(out))


def _int64(value: Any) -> Variable:
    if isinstance(value, Variable):
        return value if value.dtype == "int64" else cast(value, "int64")
    return constant(int(value), dtype="int64")


def shape_feature(fgraph: Any) -> ShapeFeature:
    feature = getattr(fgraph, "shape_feature", None)
    if feature is None:
        feature = ShapeFeature()
        fgraph.shape_feature = feature
    return feature


@register("canonicalize", "shape", tracks=[Shape_i])
def local_shape_i_from_infer_shape(fgraph, node):
    """Shape_i(x) -> the shape computed from the inputs' shapes (x itself is not needed)."""
    x = node.inputs[0]
    if x.broadcastable[node.op.i]:
        return [_int64(1)]
    if x.owner is None:
        return None
    value = shape_feature(fgraph).shape_of(fgraph, x)[node.op.i]
    if value is node.outputs[0] or any(v is x for v in ancestors([value])):
        return None
    if value.owner is not None and isinstance(value.owner.op, Shape_i) and value.owner.inputs[0] is x:
        return None
    return [value]


@register("canonicalize", "shape", tracks=[Shape])
def local_shape_to_shape_i(fgraph, node):
    """Shape(x) -> a vector of per-dimension shapes, each then simplified on its own."""
    from theanolite.tensor.shape_ops import stack
    x = node.inputs[0]
    if x.ndim == 0:
        return [constant(np.zeros(0, dtype="int64"))]
    dims = [_int64(1) if x.broadcastable[d] else Shape_i(d)(x) for d in range(x.ndim)]
    out = stack(dims)
    return [out] if out.type == node.outputs[0].type else None
