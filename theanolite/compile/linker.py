"""Linkers: turn an optimized ``FunctionGraph`` into a program ``values -> results``.

The Python linker runs each node's ``perform`` in topological order. Storage is one
list cell per variable, allocated once per function; a call fills the input cells,
runs the thunks and reads the output cells.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from theanolite.graph.basic import Apply, Constant
from theanolite.graph.fg import FunctionGraph


def make_program(fgraph: FunctionGraph, mode: Any) -> Callable[[list], list]:
    """The callable for ``fgraph`` under ``mode`` (every linker takes and returns lists)."""
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
