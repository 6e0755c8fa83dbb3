"""Run a partitioned graph: C segments through their entry, other nodes through perform.

``SegmentRunner`` is the Python side of one segment (the ABI is in segment.py), with two
boundaries to the same entry:

* the C fast call (tl_fastcall.h, linked into every module by build.py), tried
  first: one builtin call taking the numpy arrays themselves, which checks them, runs
  phase 0 and 1 and returns numpy-allocated outputs (~0.3 us for a 0-d elementwise call,
  against ~2 us through cffi). It answers ``NotImplemented`` for anything it does not
  handle exactly (a non-ndarray, another dtype object, misaligned or read-only where C
  writes, a segment error), and the call takes the path below;
* the cffi path (``_call_py``): converts any value with ``np.asarray`` (copying misaligned
  arrays), writes each input's shape and strides into a preallocated ``meta`` array, runs
  phase 0 only for a geometry not seen before (phase 0 is a pure function of shapes and
  strides: its result is remembered per geometry), allocates the outputs with
  ``np.empty``, runs phase 1 and raises a segment error with the failing node named.

Why numpy allocates the outputs: measured per output, ``np.empty`` + ``ffi.from_buffer``
costs ~0.5 us against ~1.2 us for adopting a C ``malloc`` (``ffi.gc`` + ``ffi.buffer`` +
``np.frombuffer`` + reshape), the arrays are ordinary numpy-owned arrays, and the entry
never allocates, so it cannot leak on an error path.

``CProgram``: a graph that is one segment calls the runner directly (and offers
``Function`` the fast call itself, ``fast_entry``); otherwise every segment becomes one
``CSegmentOp`` node of a rewired graph run by ``PyProgram``.
"""
from __future__ import annotations

import ctypes
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from theanolite.ccodegen.partition import Partition, Segment
from theanolite.ccodegen.segment import argv_name, entry_name, layout
from theanolite.compile.linker import PyProgram
from theanolite.graph.basic import Apply, Variable
from theanolite.graph.fg import FunctionGraph
from theanolite.graph.op import Op

_ERRORS = {1: ValueError, 2: IndexError, 3: MemoryError, 4: RuntimeError}

# numpy's ndarray.flags.num bits (NPY_ARRAY_* in numpy's C API; stable across versions).
_C_CONTIGUOUS = 0x0001
_ALIGNED = 0x0100
_WRITEABLE = 0x0400
_MAX_PLANS = 16  # geometries remembered per segment (phase 0 results)
_ndarray = np.ndarray
_empty = np.empty


class SegmentRunner:
    """Calls segment ``seg`` of a loaded module on numpy arrays.

    ``runner(values) -> outputs``: ``values`` is a sequence with one value per segment
    input (arrays of the input's dtype and ndim; anything else goes through ``np.asarray``);
    the outputs are fresh C-contiguous arrays (an in-place output is its input's array).
    """

    def __init__(self, module: Any, seg: Segment, keep_workspace: bool = False) -> None:
        ffi = module.ffi
        lay = layout(seg)
        self.ffi = ffi
        self.fn = getattr(module.lib, entry_name(seg))
        self.meta = ffi.new(f"int64_t[{lay.meta_size}]")
        self.meta_size = lay.meta_size
        self.err = ffi.new("char[512]")
        self.in_slices = [(off, off + 2 * nd) for off, nd in lay.inputs]
        self.in_ndims = tuple(nd for _, nd in lay.inputs)
        self.outs = [(off, off + nd, np.dtype(dt)) for (off, nd), dt in zip(lay.outputs, lay.out_dtypes)]
        self.alias = dict(seg.out_alias)
        self.destroyed = frozenset(seg.destroyed_inputs)
        self.nodes = seg.nodes
        self.null_outs = (ffi.NULL,) * len(self.outs)
        self.keep_workspace = keep_workspace
        # Per input, the flags that let the caller's array go to C as it is: C-contiguous
        # (so ffi.from_buffer accepts it), aligned, and writeable when C overwrites it.
        self._masks = tuple(_C_CONTIGUOUS | _ALIGNED | (_WRITEABLE if j in self.destroyed else 0)
                            for j in range(len(seg.inputs)))
        self._from_buffer = ffi.from_buffer
        self._null = ffi.NULL
        self._plans: dict[tuple, tuple[list, int]] = {}
        self._geometry: list | None = None   # the input geometry now written in meta
        self._out_plan: list[tuple[tuple[int, ...], np.dtype, int]] = []
        self._ws_size = 0
        self._ws: np.ndarray | None = None
        self._seg = seg
        self._kit = _fast_kit(module, seg)
        self._cfast = self.make_fast_call()

    def make_fast_call(self, bcast: Sequence[int] | None = None,
                       unwrap: bool = False) -> Callable[..., Any] | None:
        """The segment's C fast call (tl_fastcall.h), or None when unavailable.

        ``fast(*arrays)`` returns the outputs (a list, or the only output when ``unwrap``)
        or ``NotImplemented`` when the call must take the Python path: an argument that
        is not an ndarray of exactly the input's dtype object and ndim, misaligned, read-
        only where C writes, not of length 1 on a dimension set in ``bcast[j]`` (a
        bitmask per input), or a segment error (the Python path raises it, op named).
        """
        if self._kit is None:
            return None
        seg = self._seg
        try:
            in_dtypes = tuple(np.dtype(v.type.dtype) for v in seg.inputs)
            out_dtypes = tuple(np.dtype(v.type.dtype) for v in seg.outputs)
        except (AttributeError, TypeError):
            return None
        masks = tuple(_ALIGNED | (_WRITEABLE if j in self.destroyed else 0) for j in range(len(in_dtypes)))
        make, _, entry = self._kit
        out_ndims = tuple(v.ndim for v in seg.outputs)
        try:
            return make(entry, len(in_dtypes), len(out_dtypes), self.meta_size, _ndarray, _empty,
                        in_dtypes, self.in_ndims, tuple(d.itemsize for d in in_dtypes), masks,
                        tuple(bcast) if bcast is not None else (0,) * len(in_dtypes),
                        out_dtypes, out_ndims, tuple(d.itemsize for d in out_dtypes),
                        tuple(self.alias.get(k, -1) for k in range(len(out_dtypes))),
                        int(unwrap), int(self.keep_workspace))
        except (TypeError, ValueError):  # too many arrays or dims for C; a foreign module
            return None

    def __call__(self, values: Sequence[Any]) -> list[np.ndarray]:
        cfast = self._cfast
        if cfast is not None:
            results = cfast(*values)
            if results is not NotImplemented:
                return results
        return self._call_py(values)

    def _call_py(self, values: Sequence[Any]) -> list[np.ndarray]:
        """The Python boundary (through cffi): any values, errors raised with the node."""
        from_buffer = self._from_buffer
        arrays = values
        ptrs = []
        geometry = []
        for x, mask in zip(values, self._masks):
            if type(x) is _ndarray and x.flags.num & mask == mask:
                ptrs.append(from_buffer(x))
            else:
                if arrays is values:
                    arrays = list(values)
                j = len(ptrs)
                x = arrays[j] = self._prepare(x, j)
                ptrs.append(from_buffer(x) if x.flags.c_contiguous else
                            self.ffi.cast("char *", x.ctypes.data))
            geometry.append(x.shape + x.strides)
        if geometry != self._geometry:
            self._select(geometry, arrays, ptrs)
        results = []
        for shape, dtype, source in self._out_plan:
            if source < 0:
                out = _empty(shape, dtype)
                results.append(out)
                ptrs.append(from_buffer(out))
            else:
                results.append(arrays[source])
                ptrs.append(self._null)
        rc = self.fn(1, *ptrs, self.meta, self._workspace() if self._ws_size else self._null, self.err)
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

    def _select(self, geometry: list[tuple], arrays: Sequence[Any], ptrs: list) -> None:
        """Write a new input geometry into ``meta`` and take its plan (output shapes and
        workspace size): remembered, or computed by phase 0, a pure function of the
        input shapes and strides."""
        self._geometry = None
        if len(arrays) != len(self.in_ndims):
            raise TypeError(f"{self._label()}: expected {len(self.in_ndims)} inputs, got {len(arrays)}")
        meta = self.meta
        for j, ((a, b), g) in enumerate(zip(self.in_slices, geometry)):
            if len(g) != b - a:
                raise ValueError(f"{self._label()}: input {j} has {len(g) // 2} dimensions "
                                 f"(shape {arrays[j].shape}), expected {self.in_ndims[j]}")
            if b > a:
                meta[a:b] = g
        key = tuple(geometry)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._phase0(arrays, ptrs)
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[key] = plan
        self._out_plan, self._ws_size = plan
        self._geometry = geometry

    def _phase0(self, arrays: Sequence[Any], ptrs: list) -> tuple[list, int]:
        """Phase 0 on the geometry in ``meta``: ``(output plan, workspace bytes)``; each
        output's plan is ``(shape, dtype, input it overwrites or -1)``."""
        meta = self.meta
        rc = self.fn(0, *ptrs, *self.null_outs, meta, self._null, self.err)
        if rc:
            self._raise(rc, arrays)
        out_plan = [(tuple(meta[a:b]), dtype, self.alias.get(k, -1))
                    for k, (a, b, dtype) in enumerate(self.outs)]
        return out_plan, int(meta[1])

    def _label(self) -> str:
        ops = ", ".join(str(n.op) for n in self.nodes[:3])
        return f"C segment ({ops}{', ...' if len(self.nodes) > 3 else ''})"

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


_layout_checked: bool | None = None


def _fast_kit(module: Any, seg: Segment) -> tuple | None:
    """``(make, probe, entry address)`` of ``seg``'s fast call in ``module``
    (tl_fastcall.h), or None when the module has none or the layout check failed."""
    lib, ffi = module.lib, module.ffi
    try:
        address = int(ffi.cast("uintptr_t", lib.tl_fast_kit()))
        entry = int(ffi.cast("uintptr_t", ffi.addressof(lib, argv_name(seg))))
    except AttributeError:  # a module built without the fast call
        return None
    if not address or not entry:
        return None
    # A reference the module keeps for the life of the process; .value adds ours.
    make, probe = ctypes.cast(address, ctypes.py_object).value
    return (make, probe, entry) if _layout_ok(probe) else None


def _layout_ok(probe: Callable[[np.ndarray, int], tuple]) -> bool:
    """Once per process: do the ndarray fields C reads match numpy's own view?"""
    global _layout_checked
    if _layout_checked is None:
        a = np.zeros((3, 4), np.float32)[:, ::2]
        data, nd, descr, flags = probe(a, 0)
        ok = (data == a.ctypes.data and nd == a.ndim and descr == id(a.dtype) and flags == a.flags.num
              and probe(a, 1) == (a.shape, a.strides))
        if not ok:
            warnings.warn("theanolite: numpy's array layout is not the one the C fast call "
                          "expects; compiled functions use the slower cffi boundary", RuntimeWarning)
        _layout_checked = ok
    return _layout_checked


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
            if self._identity:
                self._call = self.runners[0]
        else:
            self.pyprogram = PyProgram(_rewire(fgraph, part, self.runners))
            self._call = self.pyprogram
        # ``values -> results`` without this object's own dispatch (callers that call
        # the program per step, e.g. ``Function``, bind this once).
        self.fast_call = self._call

    def fast_entry(self, bcast: Sequence[int], unwrap: bool) -> Callable[..., Any] | None:
        """A C fast call taking the graph's inputs and returning its outputs (see
        ``SegmentRunner.make_fast_call``), when the graph is exactly one segment."""
        if not self.runners or self._call is not self.runners[0]:
            return None
        return self.runners[0].make_fast_call(bcast, unwrap)

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
        # The graph's inputs and outputs are exactly the segment's, in order: no remapping.
        self._identity = (self._simple_args and self._arg_index == list(range(len(self.fgraph.inputs)))
                          and self._simple_out == list(range(len(seg.outputs))))

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

