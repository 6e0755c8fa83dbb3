"""Linkers: turn an optimized ``FunctionGraph`` into a program ``values -> results``.

The Python linker runs each node's ``perform`` in topological order. Storage is one
list cell per variable, allocated once per function; a call fills the input cells,
runs the thunks and reads the output cells.

Lazy evaluation (``ifelse``): an Op is *lazy* when it defines

- ``lazy_branches(node) -> list[tuple[int, ...]]``: the input positions of each branch;
- ``choose_branch(node, inputs) -> int``: the branch to compute, from the values of its
  other inputs (branch inputs may still be None when it is called).

For each lazy node and branch, ``lazy_regions`` finds the nodes whose results are used
only by that branch (every path from them to an output of the graph enters the lazy
node through that branch). Such a node runs only when its branch is chosen; anything
also used elsewhere (by both branches, by the condition, as an output) always runs.
Graphs without a lazy node use the plain ``PyProgram``, unchanged.
"""
from __future__ import annotations

import heapq
from typing import Any, Callable

import numpy as np

from theanolite.graph.basic import Apply, Constant
from theanolite.graph.fg import FunctionGraph


def make_program(fgraph: FunctionGraph, mode: Any) -> Callable[[list], list]:
    """The callable for ``fgraph`` under ``mode`` (every linker takes and returns lists)."""
    if getattr(mode, "linker", "py") == "debug":
        from theanolite.compile.debugmode import DebugProgram  # C and Python, compared
        return DebugProgram(fgraph, mode)
    if any(is_lazy(node) for node in fgraph.apply_nodes):
        return LazyPyProgram(fgraph)
    if getattr(mode, "linker", "py") in ("cvm", "c", "vm", "c|py"):
        # C where ops have it (theanolite.ccodegen); Python when no compiler is configured.
        from theanolite.configparser import config
        from theanolite.ccodegen import linker as c_linker
        # Without a compiler, modules built elsewhere (a bundle) still serve.
        program = c_linker.make_c_program(fgraph, mode)
        if program is not None:
            return program
        if not config.cxx:
            c_linker.warn_no_compiler()
    return PyProgram(fgraph)


class PyProgram:
    """Evaluate a graph with numpy ``perform`` calls (the reference and the fallback)."""

    def __init__(self, fgraph: FunctionGraph) -> None:
        self.fgraph = fgraph
        cells: dict[Any, list] = {}
        for var in fgraph.inputs:
            cells[var] = [None]
        nodes = fgraph.toposort()
        for node in nodes:
            for inp in node.inputs:
                if inp not in cells:
                    if not isinstance(inp, Constant):
                        raise AssertionError(f"linker: {inp} has no storage")
                    cells[inp] = [inp.data]
            for out in node.outputs:
                cells[out] = [None]
        for out in fgraph.outputs:
            if out not in cells:
                cells[out] = [out.data if isinstance(out, Constant) else None]
        self.input_cells = [cells[v] for v in fgraph.inputs]
        self.output_cells = [cells[v] for v in fgraph.outputs]
        self.thunks = [(node, node.op.perform, [cells[i] for i in node.inputs],
                        [cells[o] for o in node.outputs]) for node in nodes]
        # Intermediate cells are cleared after the call so big temporaries are freed.
        keep = {id(c) for c in self.output_cells} | {id(c) for c in self.input_cells}
        self.temp_cells = [c for node in nodes for c in (cells[o] for o in node.outputs) if id(c) not in keep]

    def __call__(self, values: list) -> list:
        for cell, value in zip(self.input_cells, values):
            cell[0] = value
        try:
            for node, perform, in_cells, out_cells in self.thunks:
                try:
                    perform(node, [c[0] for c in in_cells], out_cells)
                except Exception as exc:
                    _annotate(exc, node, [c[0] for c in in_cells])
                    raise
            results = []
            for cell in self.output_cells:
                value = cell[0]
                results.append(value if type(value) is np.ndarray or not _is_tensor_value(value)
                               else np.asarray(value))
            return results
        finally:
            for cell in self.temp_cells:
                cell[0] = None
            for cell in self.input_cells:
                cell[0] = None


def _is_tensor_value(value: Any) -> bool:
    return isinstance(value, (np.generic, int, float, bool))


def _annotate(exc: Exception, node: Apply, values: list) -> None:
    shapes = ", ".join(str(getattr(v, "shape", type(v).__name__)) for v in values)
    exc.add_note(f"Apply node that caused the error: {node}\n"
                 f"Input shapes: {shapes}")


# ----------------------------------------------------------------------------- lazy evaluation

def is_lazy(node: Apply) -> bool:
    """True if ``node``'s op computes only some of its inputs (see the module docstring)."""
    return getattr(node.op, "lazy_branches", None) is not None


def lazy_regions(fgraph: FunctionGraph, nodes: list[Apply]) -> dict[Apply, tuple[Apply, int]]:
    """Map each node that runs only for one branch of a lazy node to ``(lazy node, branch)``.

    Regions of different lazy nodes are nested or disjoint; a node in several regions maps
    to the innermost one (the lazy node that is itself inside the others' regions).
    """
    position = {node: k for k, node in enumerate(nodes)}
    hazards = _destroy_hazards(nodes)
    owner: dict[Apply, tuple[Apply, int]] = {}
    lazy_nodes = [node for node in nodes if is_lazy(node)]
    # Outer lazy nodes come later in topological order: visit them first, so the regions
    # of inner ones (which they contain) overwrite them.
    for lazy in reversed(lazy_nodes):
        for b, slots in enumerate(lazy.op.lazy_branches(lazy)):
            for member in _branch_region(fgraph, lazy, set(slots), nodes, position, hazards):
                owner[member] = (lazy, b)
    return owner


def _branch_region(fgraph: FunctionGraph, lazy: Apply, slots: set[int], nodes: list[Apply],
                   position: dict[Apply, int], hazards: dict[Apply, list[Apply]]) -> list[Apply]:
    """Nodes all of whose clients are in the region or are ``lazy`` at one of ``slots``.

    Candidates are examined from the latest to the earliest in topological order, so all
    clients of a candidate are decided before it; the walk climbs only through members.
    """
    region: set[Apply] = set()
    heap: list[int] = []  # negated positions: the latest node pops first
    pushed: set[Apply] = set()

    def push(var: Any) -> None:
        node = var.owner
        if node is not None and node in position and node not in pushed:
            pushed.add(node)
            heapq.heappush(heap, -position[node])

    for slot in slots:
        push(lazy.inputs[slot])
    while heap:
        node = nodes[-heapq.heappop(heap)]
        if not all((client is lazy and i in slots) or client in region
                   for out in node.outputs for client, i in fgraph.clients.get(out, [])):
            continue
        if node in hazards and not _all_ordered(fgraph, node, hazards[node]):
            continue
        region.add(node)
        for inp in node.inputs:
            push(inp)
    return sorted(region, key=position.__getitem__)


def _destroy_hazards(nodes: list[Apply]) -> dict[Apply, list[Apply]]:
    """For each node reading a buffer that another node destroys: those destroyers."""
    root: dict[Any, Any] = {}
    destroyers: dict[Any, list[Apply]] = {}
    for node in nodes:
        op = node.op
        for o, ins in list(getattr(op, "view_map", {}).items()) + list(getattr(op, "destroy_map", {}).items()):
            for i in ins:
                root[node.outputs[o]] = root.get(node.inputs[i], node.inputs[i])
        for ins in getattr(op, "destroy_map", {}).values():
            for i in ins:
                r = root.get(node.inputs[i], node.inputs[i])
                destroyers.setdefault(r, []).append(node)
    if not destroyers:
        return {}
    hazards: dict[Apply, list[Apply]] = {}
    for node in nodes:
        found = [d for inp in node.inputs for d in destroyers.get(root.get(inp, inp), []) if d is not node]
        if found:
            hazards[node] = found
    return hazards


def _all_ordered(fgraph: FunctionGraph, node: Apply, destroyers: list[Apply]) -> bool:
    """True if each destroyer is an ancestor or a descendant of ``node``.

    Delaying ``node`` to its branch keeps it after its ancestors and before its
    descendants; only a destroyer unrelated to it could end up running in between.
    """
    remaining = set(destroyers)
    seen: set[Apply] = set()
    stack = list(node.outputs)
    while stack and remaining:  # descendants
        for client, _ in fgraph.clients.get(stack.pop(), []):
            if client != "output" and client not in seen:
                seen.add(client)
                remaining.discard(client)
                stack.extend(client.outputs)
    stack = list(node.inputs)
    while stack and remaining:  # ancestors
        owner = stack.pop().owner
        if owner is not None and owner not in seen:
            seen.add(owner)
            remaining.discard(owner)
            stack.extend(owner.inputs)
    return not remaining


class LazyPyProgram(PyProgram):
    """``PyProgram`` for graphs with lazy nodes: each branch region is a block of thunks
    run by its lazy node, just before that node, only when its branch is chosen."""

    def __init__(self, fgraph: FunctionGraph) -> None:
        super().__init__(fgraph)
        nodes = [t[0] for t in self.thunks]
        owner = lazy_regions(fgraph, nodes)
        blocks: dict[tuple[Apply, int], list] = {}
        self.steps: list = []
        for node, perform, in_cells, out_cells in self.thunks:
            branches = None
            if is_lazy(node):
                branches = [blocks.setdefault((node, b), [])
                            for b in range(len(node.op.lazy_branches(node)))]
            step = (node, perform, in_cells, out_cells, branches)
            key = owner.get(node)
            (self.steps if key is None else blocks.setdefault(key, [])).append(step)

    def _run(self, steps: list) -> None:
        for node, perform, in_cells, out_cells, branches in steps:
            try:
                if branches is not None:
                    chosen = node.op.choose_branch(node, [c[0] for c in in_cells])
                    self._run(branches[chosen])
                perform(node, [c[0] for c in in_cells], out_cells)
            except Exception as exc:
                if not getattr(exc, "_theanolite_annotated", False):
                    _annotate(exc, node, [c[0] for c in in_cells])
                    exc._theanolite_annotated = True  # type: ignore[attr-defined]
                raise

    def __call__(self, values: list) -> list:
        for cell, value in zip(self.input_cells, values):
            cell[0] = value
        try:
            self._run(self.steps)
            results = []
            for cell in self.output_cells:
                value = cell[0]
                results.append(value if type(value) is np.ndarray or not _is_tensor_value(value)
                               else np.asarray(value))
            return results
        finally:
            for cell in self.temp_cells:
                cell[0] = None
            for cell in self.input_cells:
                cell[0] = None
