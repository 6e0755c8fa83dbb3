"""Elementwise fusion: connected Elemwise nodes become one ``Elemwise(Composite)``.

A cluster grows from a node towards its inputs. A producer joins when its output has
the cluster's broadcast pattern (so fusing never repeats work on broadcast data) and
either every client of its output is already in the cluster, or the value is also
needed outside — then it becomes an extra output of the fused node, computed once,
provided no outside consumer of it feeds the cluster (that would make a cycle).
Scalar constants are inlined; broadcasting DimShuffles stay as cheap view inputs.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from theanolite.graph.basic import Apply, Variable, ancestors, clone_replace
from theanolite.graph.fg import FunctionGraph
from theanolite.rewriting.db import rewrite_db
from theanolite.rewriting.utils import literal_source
from theanolite.scalar.basic import Cast, ScalarConstant, ScalarType, Second
from theanolite.scalar.composite import Composite
from theanolite.tensor.elemwise import Elemwise

MAX_FUSED_INPUTS = 32  # keeps generated C functions' argument lists reasonable


def _fusable(node: Any) -> bool:
    return (isinstance(node, Apply) and isinstance(node.op, Elemwise) and not node.op.inplace_pattern
            and len(node.outputs) == 1)


def fuse_elemwise(fgraph: FunctionGraph) -> int:
    """Fuse every cluster of two or more elementwise nodes; returns the number of fusions."""
    fused = 0
    for node in reversed(fgraph.toposort()):
        if node not in fgraph.apply_nodes or not _fusable(node):
            continue
        cluster, extra = _grow(fgraph, node)
        if len(cluster) < 2:
            continue
        _replace_cluster(fgraph, node, cluster, extra)
        fused += 1
    rewrite_db.fired["fuse_elemwise"] += fused
    return fused


def _grow(fgraph: FunctionGraph, root: Apply) -> tuple[list[Apply], list[Variable]]:
    pattern = root.outputs[0].broadcastable
    members: dict[Apply, None] = {root: None}
    extra: list[Variable] = []
    consumers: list[Apply] = []  # nodes outside the cluster that read an extra output
    changed = True
    while changed:
        changed = False
        for node in list(members):
            for inp in node.inputs:
                producer = inp.owner
                if producer is None or producer in members or not _fusable(producer):
                    continue
                if inp.broadcastable != pattern or literal_source(inp) is not None:
                    continue
                outside = [c for c, _ in fgraph.clients.get(inp, []) if c not in members and c != "output"]
                is_output = any(c == "output" for c, _ in fgraph.clients.get(inp, []))
                candidate = list(members) + [producer]
                if _feeds(consumers + outside, candidate):
                    continue
                if len(_leaves(candidate)) > MAX_FUSED_INPUTS:
                    continue
                if outside or is_output:
                    extra.append(inp)
                    consumers.extend(outside)
                members[producer] = None
                changed = True
    order = [n for n in fgraph.toposort() if n in members]
    return order, extra


def _feeds(consumers: list[Apply], cluster: list[Apply]) -> bool:
    """True if an outside consumer of a fused value is an ancestor of the cluster's inputs
    (fusing would then make a cycle)."""
    if not consumers:
        return False
    produced = {id(o) for c in consumers for o in c.outputs}
    return any(id(v) in produced for v in ancestors(_leaves(cluster)))


def _leaves(nodes: list[Apply]) -> list[Variable]:
    inside = {id(o) for n in nodes for o in n.outputs}
    seen: dict[int, Variable] = {}
    for n in nodes:
        for i in n.inputs:
            if id(i) not in inside and literal_source(i) is None:
                seen.setdefault(id(i), i)
    return list(seen.values())


def _scalar_literal(var: Variable) -> ScalarConstant:
    value = np.asarray(literal_source(var).data).reshape(())
    return ScalarConstant(ScalarType(var.dtype), value.astype(var.dtype))


def _replace_cluster(fgraph: FunctionGraph, root: Apply, cluster: list[Apply], extra: list[Variable]) -> None:
    leaves = _leaves(cluster)
    scalar_of: dict[int, Variable] = {}
    scalar_inputs = []
    for leaf in leaves:
        s = ScalarType(leaf.dtype)()
        scalar_of[id(leaf)] = s
        scalar_inputs.append(s)
    for node in cluster:
        args = []
        for inp in node.inputs:
            if id(inp) not in scalar_of:
                scalar_of[id(inp)] = _scalar_literal(inp)
            args.append(scalar_of[id(inp)])
        op = node.op.scalar_op
        if isinstance(op, Second):
            # second(a, b) only borrows a's shape, which the fused node's inputs already give.
            value = args[1]
            outs = [value if value.type.dtype == node.outputs[0].dtype
                    else Cast(node.outputs[0].dtype).make_node(value).outputs[0]]
        elif isinstance(op, Composite):
            outs = clone_replace(list(op.outputs), dict(zip(op.inputs, args)))
        else:
            outs = op.make_node(*args).outputs
        for out, s in zip(node.outputs, outs):
            scalar_of[id(out)] = s
    targets = [root.outputs[0]] + extra
    composite = Composite(scalar_inputs, [scalar_of[id(t)] for t in targets])
    new_outputs = Elemwise(composite).make_node(*leaves).outputs
    pairs = []
    for old, new in zip(targets, new_outputs):
        if new.type != old.type:
            new = old.type.convert_variable(new)
        pairs.append((old, new))
    fgraph.replace_all(pairs, reason="fuse_elemwise")
