"""Apply local rewrites to a FunctionGraph until nothing changes (a fixed point)."""
from __future__ import annotations

from typing import Any, Sequence

from theanolite.configparser import config
from theanolite.graph.basic import Apply, Variable
from theanolite.graph.fg import FunctionGraph
from theanolite.rewriting.db import LocalRewrite, TrackIndex, rewrite_db

MAX_PASSES = 50


def apply_local_rewrites(fgraph: FunctionGraph, rewrites: Sequence[LocalRewrite]) -> int:
    """Run ``rewrites`` over every node, in topological order, until none fires.

    Returns how many rewrites fired. Node order comes from ``fgraph.toposort()`` and
    rewrites run in registration order, so the result is the same in every process.
    """
    if not rewrites:
        return 0
    index = TrackIndex(rewrites)
    total = 0
    for _ in range(MAX_PASSES):
        fired = 0
        for node in fgraph.toposort():
            if node not in fgraph.apply_nodes:
                continue  # removed by an earlier rewrite of this pass
            for rw in index.for_node(node):
                if try_rewrite(fgraph, node, rw):
                    fired += 1
                    break
        total += fired
        if not fired:
            break
    return total


def try_rewrite(fgraph: FunctionGraph, node: Apply, rw: LocalRewrite) -> bool:
    result = rw(fgraph, node)
    if result is None or result is False:
        return False
    pairs = _pairs(node, result)
    pairs = [(old, new) for old, new in pairs if new is not old and old in fgraph.clients]
    if not pairs:
        return False
    for old, new in pairs:
        if old.type != new.type:
            converted = old.type.convert_variable(new)
            if converted is None:
                raise TypeError(f"rewrite {rw.name} replaced {old} ({old.type}) with {new} ({new.type})")
    if config.optimizer_verbose:
        for old, new in pairs:
            print(f"rewriting: rewrite {rw.name} replaces {old} of {node.op} with {new}")
    fgraph.replace_all(pairs, reason=rw.name)
    rewrite_db.fired[rw.name] += 1
    return True


def _pairs(node: Apply, result: Any) -> list[tuple[Variable, Variable]]:
    if isinstance(result, dict):
        return list(result.items())
    if isinstance(result, Variable):
        result = [result]
    if len(result) != len(node.outputs):
        raise ValueError(f"a rewrite of {node.op} returned {len(result)} outputs for {len(node.outputs)}")
    return [(o, n) for o, n in zip(node.outputs, result) if n is not None]
