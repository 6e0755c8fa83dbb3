"""Global passes: merge common subexpressions and fold constants."""
from __future__ import annotations

from typing import Any

import numpy as np

from theanolite.graph.basic import Constant
from theanolite.graph.fg import FunctionGraph
from theanolite.rewriting.db import rewrite_db
from theanolite.tensor.var import TensorConstant


def merge(fgraph: FunctionGraph) -> int:
    """Replace duplicate constants and duplicate (op, inputs) nodes by their first copy."""
    merged = 0
    constants: dict[Any, Constant] = {}
    for var in _constants(fgraph):
        key = var.signature()
        first = constants.setdefault(key, var)
        if first is not var and var in fgraph.clients:
            fgraph.replace(var, first, reason="merge")
            merged += 1
    seen: dict[Any, Any] = {}
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes:
            continue
        key = (node.op, tuple(id(i) for i in node.inputs))
        first = seen.get(key)
        if first is None or first not in fgraph.apply_nodes:
            seen[key] = node
            continue
        if getattr(node.op, "destroy_map", None):
            continue  # two in-place nodes are never the same computation
        fgraph.replace_all(list(zip(node.outputs, first.outputs)), reason="merge")
        merged += 1
    rewrite_db.fired["merge"] += merged
    return merged


def _constants(fgraph: FunctionGraph) -> list[Constant]:
    result, seen = [], set()
    for node in fgraph.toposort():
        for inp in node.inputs:
            if isinstance(inp, Constant) and id(inp) not in seen:
                seen.add(id(inp))
                result.append(inp)
    return result


def fold_node(fgraph: FunctionGraph, node: Any) -> list | None:
    """Constants for ``node``'s outputs when all its inputs are constants (via ``perform``),
    else None. Also registered as a local rewrite, so folding follows every other rewrite."""
    if not node.inputs or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if not node.op.do_constant_folding(fgraph, node) or getattr(node.op, "destroy_map", None):
        return None
    if any(not hasattr(o.type, "dtype") for o in node.outputs):
        return None
    storage = [[None] for _ in node.outputs]
    try:
        with np.errstate(all="ignore"):
            node.op.perform(node, [i.data for i in node.inputs], storage)
    except Exception:
        return None  # keep the node: the error belongs to run time, where the user expects it
    return [TensorConstant(o.type, np.asarray(c[0], dtype=o.type.dtype)) for o, c in zip(node.outputs, storage)]


def constant_folding(fgraph: FunctionGraph) -> int:
    """Fold every node whose inputs are all constants, in topological order."""
    folded = 0
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes:
            continue
        constants = fold_node(fgraph, node)
        if constants is None:
            continue
        fgraph.replace_all(list(zip(node.outputs, constants)), reason="constant_folding")
        folded += 1
    rewrite_db.fired["constant_folding"] += folded
    return folded
