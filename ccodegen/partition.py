"""Partition an optimized graph into C segments and Python nodes.

Nodes are scheduled in a dependency-respecting order that keeps C nodes together as long
as possible (a deterministic Kahn walk that prefers staying on the current kind, ties
broken by the graph's own topological order); each maximal run of C nodes becomes one
``Segment``, i.e. one C function. For each segment this module decides, from structure
alone, what crosses the Python boundary:

* ``inputs``: arrays passed at run time (values from outside the segment and large
  constants); constants holding one element are inlined into the C instead;
* ``outputs``: values the rest of the graph needs, in fresh C-contiguous arrays that
  Python allocates (or the segment input they overwrite in place, see ``out_alias``);
* ``py_after``: view nodes (DimShuffle) whose result is needed outside: C uses the view
  internally and Python recomputes the view (no copy) from an exported base;
* ``inplace``: in-place elementwise results actually written in place (when the
  destroyed value is a segment input, or an internal value nobody outside needs).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theanolite.ccodegen.registry import c_entry
from theanolite.ccodegen.scalar_c import C_TYPES
from theanolite.graph.basic import Apply, Constant, Variable
from theanolite.graph.fg import FunctionGraph


@dataclass
class Segment:
    index: int
    nodes: list[Apply]
    entries: list[Any]
    inputs: list[Variable] = field(default_factory=list)
    consts: list[Constant] = field(default_factory=list)
    outputs: list[Variable] = field(default_factory=list)
    out_alias: dict[int, int] = field(default_factory=dict)  # output k is input j's buffer
    inplace: dict[Variable, Variable] = field(default_factory=dict)  # result -> overwritten
    py_after: list[Apply] = field(default_factory=list)

    @property
    def destroyed_inputs(self) -> list[int]:
        return sorted({self.inputs.index(v) for v in self.inplace.values() if v in self.inputs})


@dataclass
class Partition:
    steps: list[Segment | Apply]

    @property
    def segments(self) -> list[Segment]:
        return [s for s in self.steps if isinstance(s, Segment)]


def is_inlined(const: Constant) -> bool:
    data = np.asarray(const.data)
    return data.size == 1 and str(data.dtype) in C_TYPES


def partition(fgraph: FunctionGraph) -> Partition:
    """The steps of ``fgraph``: ``Segment``s and plain nodes, in execution order."""
    nodes = fgraph.toposort()
    entries = {node: c_entry(node) for node in nodes}
    order = _schedule(nodes, entries)
    steps: list[Segment | Apply] = []
    run: list[Apply] = []
    for node in order + [None]:
        if node is not None and entries[node] is not None:
            run.append(node)
            continue
        if run:
            seg = Segment(len([s for s in steps if isinstance(s, Segment)]), run, [entries[n] for n in run])
            steps.append(seg)
            run = []
        if node is not None:
            steps.append(node)
    position = {id(n): i for i, n in enumerate(order)}
    for seg in [s for s in steps if isinstance(s, Segment)]:
        _boundary(fgraph, seg, position)
    _place_py_after(steps)
    steps = [s for s in steps if not (isinstance(s, Segment) and not s.nodes)]
    for k, seg in enumerate(s for s in steps if isinstance(s, Segment)):
        seg.index = k
    return Partition(steps)


def _schedule(nodes: list[Apply], entries: dict) -> list[Apply]:
    pos = {id(n): i for i, n in enumerate(nodes)}
    producer = {id(o): n for n in nodes for o in n.outputs}
    waiting = {id(n): len({id(producer[id(v)]) for v in n.inputs if id(v) in producer}) for n in nodes}
    users: dict[int, list[Apply]] = {}
    for n in nodes:
        for p in {id(producer[id(v)]): producer[id(v)] for v in n.inputs if id(v) in producer}.values():
            users.setdefault(id(p), []).append(n)
    ready = {True: [], False: []}  # is-C -> heap of (position, node index)
    for n in nodes:
        if waiting[id(n)] == 0:
            heapq.heappush(ready[entries[n] is not None], (pos[id(n)], id(n)))
    by_id = {id(n): n for n in nodes}
    order: list[Apply] = []
    current = True
    while ready[True] or ready[False]:
        if not ready[current]:
            current = not current
        _, nid = heapq.heappop(ready[current])
        node = by_id[nid]
        order.append(node)
        for user in users.get(nid, []):
            waiting[id(user)] -= 1
            if waiting[id(user)] == 0:
                heapq.heappush(ready[entries[user] is not None], (pos[id(user)], id(user)))
    return order


def _boundary(fgraph: FunctionGraph, seg: Segment, position: dict[int, int]) -> None:
    inside = {id(n) for n in seg.nodes}
    produced = {id(o): n for n in seg.nodes for o in n.outputs}
    entry_of = {id(n): e for n, e in zip(seg.nodes, seg.entries)}
    for node in seg.nodes:
        for v in node.inputs:
            if id(v) in produced:
                continue
            if isinstance(v, Constant) and is_inlined(v):
                if v not in seg.consts:
                    seg.consts.append(v)
            elif v not in seg.inputs:
                seg.inputs.append(v)
    graph_outputs = {id(v) for v in fgraph.outputs}
    exported: list[Variable] = []
    py_after: list[Apply] = []

    def export(var: Variable) -> None:
        node = produced.get(id(var))
        if node is None:
            return  # a segment input: Python has it already
        if var.index in entry_of[id(node)].views(node):
            if node not in py_after:
                py_after.append(node)
            export(node.inputs[entry_of[id(node)].views(node)[var.index]])
        elif var not in exported:
            exported.append(var)

    for node in seg.nodes:
        for out in node.outputs:
            outside = id(out) in graph_outputs or any(
                client == "output" or id(client) not in inside for client, _ in fgraph.clients.get(out, []))
            if outside:
                export(out)
    _drop_outside_views(seg, entry_of)
    _decide_inplace(seg, produced, entry_of, exported)
    seg.outputs = sorted(exported, key=lambda v: (position[id(v.owner)], v.index))
    seg.py_after = sorted(py_after, key=lambda n: position[id(n)])
    for k, out in enumerate(seg.outputs):
        target = seg.inplace.get(out)
        if target is not None and target in seg.inputs:
            seg.out_alias[k] = seg.inputs.index(target)


def _drop_outside_views(seg: Segment, entry_of: dict) -> None:
    """A view nobody inside the segment reads is only needed by Python (py_after)."""
    changed = True
    while changed:
        changed = False
        used = {id(v) for n in seg.nodes for v in n.inputs}
        for k in range(len(seg.nodes) - 1, -1, -1):
            node = seg.nodes[k]
            views = entry_of[id(node)].views(node)
            if views and len(views) == len(node.outputs) and not any(id(o) in used for o in node.outputs):
                del seg.nodes[k], seg.entries[k]
                changed = True
    seg.inputs[:] = [v for v in seg.inputs if any(v in n.inputs for n in seg.nodes)]
    seg.consts[:] = [v for v in seg.consts if any(v in n.inputs for n in seg.nodes)]


def _decide_inplace(seg: Segment, produced: dict, entry_of: dict, exported: list[Variable]) -> None:
    for node in seg.nodes:
        entry = entry_of[id(node)]
        for o, i in entry.destroys(node).items():
            out, target = node.outputs[o], node.inputs[i]
            if out.type.dtype != target.type.dtype or out.broadcastable != target.broadcastable:
                continue
            if target in seg.inputs:
                seg.inplace[out] = target
                continue
            owner = produced.get(id(target))
            if owner is None or target in exported or out in exported:
                continue  # a constant, or a buffer Python must hand back separately
            if target.index in entry_of[id(owner)].views(owner) or target in seg.inplace:
                continue  # never overwrite a view, nor chain in-place buffers
            seg.inplace[out] = target


def _place_py_after(steps: list) -> None:
    """Insert each segment's py_after view nodes right after it (they read its outputs)."""
    i = 0
    while i < len(steps):
        step = steps[i]
        if isinstance(step, Segment) and step.py_after:
            steps[i + 1:i + 1] = list(step.py_after)
            i += len(step.py_after)
        i += 1
