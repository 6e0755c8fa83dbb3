"""Softmax with categorical cross-entropy: one fused, stable op in the forward pass.

``categorical_crossentropy(softmax(x), labels)`` divides by and logs probabilities that
underflow to 0 for large scores; the fused op works from the max-shifted log-sum-exp
and also yields the softmax, so the gradient (see Softmax.L_op) reuses it.
"""
from __future__ import annotations

from theanolite.rewriting.db import register
from theanolite.rewriting.utils import as_type_of, is_elemwise
from theanolite.scalar import basic as scal
from theanolite.tensor.nnet.basic import CrossentropyCategorical1Hot, Softmax
from theanolite.tensor.nnet.fused import (CrossentropySoftmax1HotDx, crossentropy_softmax_1hot_dx,
                                          crossentropy_softmax_1hot_fused)


@register("stabilize", "softmax_crossentropy", tracks=[CrossentropyCategorical1Hot])
def local_crossentropy_softmax_1hot(fgraph, node):
    """crossentropy_categorical_1hot(softmax(x), y) -> CrossentropySoftmax1Hot(x, y),
    whose second output also replaces every other use of softmax(x)."""
    coding, labels = node.inputs
    sm_node = coding.owner
    if sm_node is None or not isinstance(sm_node.op, Softmax) or sm_node.op.axis not in (-1, 1):
        return None
    x = sm_node.inputs[0]
    if x.ndim != 2:
        return None
    nll, sm = crossentropy_softmax_1hot_fused(x, labels)
    return {node.outputs[0]: nll, coding: sm}


@register("canonicalize", "softmax_crossentropy", tracks=[CrossentropySoftmax1HotDx])
def local_crossentropy_dx_of_fill(fgraph, node):
    """Dx(fill(nll, c), sm, y) -> Dx(c, sm, y): a mean's gradient is one value per row."""
    dnll, sm, labels = node.inputs
    if not is_elemwise(dnll, scal.Second) or len(fgraph.clients.get(dnll, [])) != 1:
        return None
    value = dnll.owner.inputs[1]
    if value.ndim != 1:
        return None
    return [as_type_of(crossentropy_softmax_1hot_dx(value, sm, labels), node.outputs[0])]
