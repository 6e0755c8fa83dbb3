"""In-place rewrites, guarded by a conservative destroy check.

An op may overwrite an input only when nothing else can observe that buffer: the input
is computed inside the graph (never a user input, a shared value or a constant), by a
node that does not return a view, it is not a graph output, and this node is its only
client. Every value still needed therefore lives in another buffer.
"""
from __future__ import annotations

from typing import Any

from theanolite.graph.basic import Constant, Variable
from theanolite.graph.fg import FunctionGraph
from theanolite.rewriting.db import register
from theanolite.tensor.elemwise import Elemwise


def can_destroy(fgraph: FunctionGraph, var: Variable, node: Any) -> bool:
    """True if ``node`` may overwrite ``var`` without anyone else noticing."""
    if isinstance(var, Constant) or var.owner is None or var in fgraph.inputs:
        return False
    clients = fgraph.clients.get(var, [])
    if len(clients) != 1 or clients[0][0] is not node:
        return False
    producer = var.owner.op
    if getattr(producer, "view_map", {}).get(var.index) or getattr(producer, "destroy_map", {}).get(var.index):
        return False  # a view (or an in-place result) shares a buffer with something else
    return not any(c[0] == "output" for c in clients)


@register("inplace", "inplace", "inplace_elemwise", tracks=[Elemwise])
def local_elemwise_inplace(fgraph, node):
    """Let an elementwise op write its result into the buffer of a dead input."""
    op = node.op
    if op.inplace_pattern:
        return None
    out = node.outputs[0]
    for i, inp in enumerate(node.inputs):
        if (inp.type == out.type or (inp.dtype == out.dtype and inp.broadcastable == out.broadcastable)) \
                and can_destroy(fgraph, inp, node):
            new_op = Elemwise(op.scalar_op, {0: i})
            return new_op.make_node(*node.inputs).outputs
    return None
