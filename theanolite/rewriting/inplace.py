"""In-place rewrites, guarded by a conservative destroy check.

An op may overwrite an input only when nothing else can observe that buffer afterwards:

* the buffer is the graph's to destroy: computed inside the graph by a node that does not
  return a view, or an input the function owns (``fgraph.destroyable_inputs``: shared
  variables it updates, ``In(mutable=True)``) — never a constant or another input;
* it is not a graph output;
* every other reader, and every reader of a view of it, is an ancestor of the destroying
  node, so it has run before the buffer changes in every topological order (this is what
  lets ``W - lr * dot(h.T, d)`` become an in-place gemm on ``W`` while ``dot(x, W)`` in
  the forward pass still reads the old ``W``).
"""
from __future__ import annotations

from typing import Any

from theanolite.graph.basic import Constant, Variable
from theanolite.graph.fg import FunctionGraph
from theanolite.rewriting.db import register
from theanolite.tensor.elemwise import Elemwise


def can_destroy(fgraph: FunctionGraph, var: Variable, node: Any) -> bool:
    """True if ``node`` may overwrite ``var`` without anyone else noticing."""
    if isinstance(var, Constant):
        return False
    if var.owner is None or var in fgraph.inputs:
        if var not in fgraph.destroyable_inputs:
            return False
    else:
        producer = var.owner.op
        if getattr(producer, "view_map", {}).get(var.index) or \
                getattr(producer, "destroy_map", {}).get(var.index):
            return False  # a view (or an in-place result) shares a buffer with something else
    found = _readers(fgraph, var)
    if found is None:
        return False  # an output, or a view of it is one, or someone destroys it already
    readers, uses = found
    if uses.get(node, 0) != 1 or not any(c is node for c, _ in fgraph.clients[var]):
        return False  # the node would read what it overwrites (twice, or through a view)
    others = readers - {node}
    return not others or others <= _ancestors(node)


def _readers(fgraph: FunctionGraph, var: Variable) -> tuple[set, dict] | None:
    """Nodes reading ``var``'s buffer directly or through views, and how many times each
    does; None if the buffer (or a view of it) is a graph output or already destroyed."""
    uses: dict = {}
    stack = [var]
    while stack:
        v = stack.pop()
        for client, i in fgraph.clients.get(v, []):
            if client == "output":
                return None
            uses[client] = uses.get(client, 0) + 1
            op = client.op
            if any(i in ins for ins in getattr(op, "destroy_map", {}).values()):
                return None
            for o, ins in getattr(op, "view_map", {}).items():
                if i in ins:
                    stack.append(client.outputs[o])
    return set(uses), uses


def _ancestors(node: Any) -> set:
    seen: set = set()
    stack = [v.owner for v in node.inputs if v.owner is not None]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(v.owner for v in n.inputs if v.owner is not None)
    return seen


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
