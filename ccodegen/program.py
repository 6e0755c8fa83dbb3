"""Run a partitioned graph: C segments through their entry, other nodes through perform.

``SegmentRunner`` is the thin Python boundary of one segment (the ABI is in segment.py):
per call it writes each input's shape and strides into a preallocated ``meta`` array,
asks the C for output shapes only when the input geometry changed since the last call
(phase 0 is a pure function of shapes and strides), allocates the outputs with
``np.empty`` (numpy owns them: no copy, no destructor), and runs phase 1.

Why Python allocates: measured per output, ``np.empty`` + ``ffi.from_buffer`` costs
~0.5 us against ~1.2 us for adopting a C ``malloc`` (``ffi.gc`` + ``ffi.buffer`` +
``np.frombuffer`` + reshape), the arrays are ordinary numpy-owned arrays, and the C side
never allocates, so it cannot leak on an error path.

``CProgram``: a graph that is one segment calls the runner directly; otherwise every
segment becomes one ``CSegmentOp`` node of a rewired graph run by ``PyProgram``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theanolite.ccodegen.partition import Partition, Segment
from theanolite.ccodegen.segment import entry_name, layout
from theanolite.compile.linker import PyProgram
from theanolite.graph.basic import Apply, Variable
from theanolite.graph.fg import FunctionGraph
from theanolite.graph.op import Op

_ERRORS = {1: ValueError, 2: IndexError, 3: MemoryError, 4: RuntimeError}


class SegmentRunner:
    """Calls segment ``seg`` of a loaded module on numpy arrays."""

    def __init__(self, module: Any, seg: Segment, keep_workspace: bool = False) -> None:
        ffi = module.ffi
        lay = layout(seg)
        self.ffi = ffi
        self.fn = getattr(module.lib, entry_name(seg))
        self.meta = ffi.new(f"int64_t[{lay.meta_size}]")
        self.err = ffi.new("char[512]")
        self.in_slices = [(off, off + 2 * nd) for off, nd in lay.inputs]
        self.outs = [(off, off + nd, np.dtype(dt)) for (off, nd), dt in zip(lay.outputs, lay.out_dtypes)]
        self.alias = dict(seg.out_alias)
        self.destroyed = frozenset(seg.destroyed_inputs)
        self.nodes = seg.nodes
        self.null_outs = (ffi.NULL,) * len(self.outs)
        self.keep_workspace = keep_workspace
        self._geometry: list | None = None
        self._out_shapes: list[tuple[tuple[int, ...], np.dtype]] = []
        self._ws_size = 0
        self._ws: np.ndarray | None = None

    def __call__(self, values: Sequence[Any]) -> list[np.ndarray]:
        from_buffer = self.ffi.from_buffer
        arrays = list(values)
        ptrs = []
        geometry = []
        for j, x in enumerate(arrays):
            if type(x) is not np.ndarray or j in self.destroyed:
                x = arrays[j] = self._prepare(x, j)
            flags = x.flags
            if flags.c_contiguous and flags.aligned:
                ptrs.append(from_buffer(x))
            else:
                x = arrays[j] = self._prepare(x, j)
                ptrs.append(from_buffer(x) if x.flags.c_contiguous else
                            self.ffi.cast("char *", x.ctypes.data))
            geometry.append(x.shape + x.strides)
        if geometry != self._geometry:
            self._plan(arrays, geometry, ptrs)
        results = []
        for k, (shape, dtype) in enumerate(self._out_shapes):
            if k in self.alias:
                results.append(arrays[self.alias[k]])
                ptrs.append(self.ffi.NULL)
            else:
                out = np.empty(shape, dtype)
                results.append(out)
                ptrs.append(from_buffer(out))
        rc = self.fn(1, *ptrs, self.meta, self._workspace(), self.err)
        if rc:
            self._geometry = None
            self._raise(rc, arrays)
        return results

    def _prepare(self, x: Any, j: int) -> np.ndarray:
        """The rare cases: not an ndarray, misaligned, or overwritten but read-only."""
        x = np.asarray(x)
        if not x.flags.aligned or (j in self.destroyed and not x.flags.writeable):
            x = x.copy()
        return x

    def _plan(self, arrays: list[np.ndarray], geometry: list[tuple], ptrs: list) -> None:
        """Phase 0: output shapes and workspace size for this input geometry."""
        meta = self.meta
        for (a, b), g in zip(self.in_slices, geometry):
            if b > a:
                meta[a:b] = g
        rc = self.fn(0, *ptrs, *self.null_outs, meta, self.ffi.NULL, self.err)
        if rc:
            self._geometry = None
            self._raise(rc, arrays)
        self._out_shapes = [(tuple(meta[a:b]), dtype) for a, b, dtype in self.outs]
        self._ws_size = meta[1]
        self._geometry = geometry

    def _workspace(self) -> Any:
        size = self._ws_size
        if not size:
            return self.ffi.NULL
        ws = self._ws
        if ws is None or ws.size < size:
            ws = np.empty(size, np.uint8)
            if self.keep_workspace:
                self._ws = ws
        return self.ffi.from_buffer(ws)

    def _raise(self, rc: int, arrays: list[np.ndarray]) -> None:
        message = self.ffi.string(self.err).decode("utf-8", "replace")
        exc = _ERRORS.get(rc, RuntimeError)(message)
        index = self.meta[0]
        if 0 <= index < len(self.nodes):
            node = self.nodes[index]
            exc.add_note(f"Apply node that caused the error (run in C): {node}")
        exc.add_note("Segment input shapes: " + ", ".join(str(a.shape) for a in arrays))
        raise exc


class CSegmentOp(Op):
    """A C segment as one node, so ``PyProgram`` can schedule it among Python nodes."""

    def __init__(self, runner: SegmentRunner, seg: Segment) -> None:
        self.runner = runner
        self.seg = seg
        self.destroy_map = {k: [j] for k, j in seg.out_alias.items()}

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        for cell, value in zip(output_storage, self.runner(inputs)):
            cell[0] = value

    def __str__(self) -> str:
        ops = ", ".join(str(n.op) for n in self.seg.nodes[:6])
        more = ", ..." if len(self.seg.nodes) > 6 else ""
        return f"CSegment{self.seg.index}{{{ops}{more}}}"


class CProgram:
    """``values -> results`` for a partitioned graph (the linker's program protocol)."""

    def __init__(self, fgraph: FunctionGraph, part: Partition, module: Any,
                 keep_workspace: bool = False) -> None:
        self.fgraph = fgraph
        self.partition = part
        self.module = module
        self.runners = [SegmentRunner(module, seg, keep_workspace) for seg in part.segments]
        if len(part.steps) == 1:
            self._plan_direct(part.segments[0])
            self._call = self._call_direct
        else:
            self.pyprogram = PyProgram(_rewire(fgraph, part, self.runners))
            self._call = self.pyprogram

    def _plan_direct(self, seg: Segment) -> None:
        where = {id(v): k for k, v in enumerate(self.fgraph.inputs)}
        self._seg_args = [("in", where[id(v)]) if id(v) in where else ("const", v.data)
                          for v in seg.inputs]
        out_pos = {id(v): k for k, v in enumerate(seg.outputs)}
        picks = []
        for v in self.fgraph.outputs:
            if id(v) in out_pos:
                picks.append(("seg", out_pos[id(v)]))
            elif id(v) in where:
                picks.append(("in", where[id(v)]))
            else:
                picks.append(("const", np.asarray(v.data)))
        self._picks = picks
        self._simple_args = all(kind == "in" for kind, _ in self._seg_args)
        self._arg_index = [k for _, k in self._seg_args]
        self._simple_out = [k for _, k in picks] if all(kind == "seg" for kind, _ in picks) else None

    def _call_direct(self, values: list) -> list:
        if self._simple_args:
            args = [values[k] for k in self._arg_index]
        else:
            args = [values[x] if kind == "in" else x for kind, x in self._seg_args]
        outs = self.runners[0](args)
        if self._simple_out is not None:
            return [outs[k] for k in self._simple_out]
        return [outs[x] if kind == "seg" else (values[x] if kind == "in" else x)
                for kind, x in self._picks]

    def __call__(self, values: list) -> list:
        return self._call(values)


def _rewire(fgraph: FunctionGraph, part: Partition, runners: list[SegmentRunner]) -> FunctionGraph:
    """A copy of ``fgraph``'s structure where each segment is one CSegmentOp node (the
    optimized graph itself is left untouched)."""
    mapping: dict[int, Variable] = {}

    def get(v: Variable) -> Variable:
        return mapping.get(id(v), v)

    runner_of = {seg.index: r for seg, r in zip(part.segments, runners)}
    for step in part.steps:
        if isinstance(step, Segment):
            outs = [v.clone() for v in step.outputs]
            Apply(CSegmentOp(runner_of[step.index], step), [get(v) for v in step.inputs], outs)
            for old, new in zip(step.outputs, outs):
                mapping[id(old)] = new
        else:
            outs = [v.clone() for v in step.outputs]
            Apply(step.op, [get(v) for v in step.inputs], outs)
            for old, new in zip(step.outputs, outs):
                mapping[id(old)] = new
    return FunctionGraph(list(fgraph.inputs), [get(v) for v in fgraph.outputs], clone=False)

