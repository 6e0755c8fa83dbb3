"""DebugMode: run a graph in C and in Python and raise on any difference.

``DebugProgram`` is the program of ``mode.linker == "debug"`` (``mode='DebugMode'``). Per
call it

* gives the C program (when a compiler is configured and the graph has C) and the Python
  reference (``PyProgram`` / ``LazyPyProgram``) each their own deep copy of the inputs, so
  a kernel writing into its inputs cannot change what the other run sees;
* checks, node by node in the Python run, that ``perform`` returned a value of the
  output's type (ndarray of the exact dtype and ndim, size 1 on broadcastable dims) and
  left inputs it does not declare in ``destroy_map`` untouched;
* checks that neither program modified its copy of any graph input other than those the
  function owns (``fgraph.destroyable_inputs``, see
  ``theanolite.rewriting.inplace.can_destroy``);
* compares every output of the two runs: same shape and dtype, NaN at the same positions,
  the same infinities, finite values within a dtype-aware tolerance (exact for ints/bools).

Any problem raises ``DebugModeError`` (an ``AssertionError``) saying which output, variable,
op and where. The Python results are returned.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from theanolite.compile.linker import LazyPyProgram, PyProgram, is_lazy
from theanolite.graph.basic import Apply
from theanolite.graph.fg import FunctionGraph
from theanolite.tensor.type import TensorType

__all__ = ["DebugModeError", "DebugProgram", "TOLERANCES", "compare_values"]

# (rtol, atol) per float dtype kind/size; complex uses its component's entry.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (1e-2, 1e-3),
    "float32": (1e-4, 1e-5),
    "float64": (1e-7, 1e-10),
}


class DebugModeError(AssertionError):
    """C and Python disagree, or a program broke a contract (modified an input, wrong type)."""


class DebugProgram:
    """``values -> results`` running ``fgraph`` through C and Python and comparing them."""

    def __init__(self, fgraph: FunctionGraph, mode: Any = None) -> None:
        self.fgraph = fgraph
        self.c_program = _make_c_program(fgraph, mode)
        lazy = any(is_lazy(node) for node in fgraph.apply_nodes)
        self.py_program: PyProgram = LazyPyProgram(fgraph) if lazy else PyProgram(fgraph)
        _install_node_checks(self.py_program)

    def __call__(self, values: list) -> list:
        originals = list(values)
        c_results = None
        if self.c_program is not None:
            c_inputs = _copy_values(originals)
            c_results = self.c_program(c_inputs)
            self._check_inputs_kept(originals, c_inputs, "the C program")
        py_inputs = _copy_values(originals)
        py_results = self.py_program(py_inputs)
        self._check_inputs_kept(originals, py_inputs, "the Python program")
        if c_results is not None:
            for k, (c, p) in enumerate(zip(c_results, py_results)):
                var = self.fgraph.outputs[k]
                if isinstance(var.type, TensorType):
                    problem = compare_values(c, p)
                    if problem:
                        raise DebugModeError(f"DebugMode: output {k} ({_describe(var)}) differs "
                                             f"between C and Python: {problem}")
        return py_results

    def _check_inputs_kept(self, originals: list, copies: list, who: str) -> None:
        owned = self.fgraph.destroyable_inputs
        for k, (orig, seen) in enumerate(zip(originals, copies)):
            if k < len(self.fgraph.inputs) and self.fgraph.inputs[k] in owned:
                continue  # the function owns this buffer (an updated shared variable)
            if isinstance(orig, np.ndarray) and not _same_bits(orig, seen):
                var = self.fgraph.inputs[k] if k < len(self.fgraph.inputs) else None
                raise DebugModeError(f"DebugMode: {who} modified graph input {k} ({var}), "
                                     f"which no node may overwrite: {_first_change(orig, seen)}")


def _make_c_program(fgraph: FunctionGraph, mode: Any) -> Any | None:
    """The C program, or None (no compiler: warn once; no C node; lazy graph; compile error)."""
    from theanolite.configparser import config
    from theanolite.ccodegen import linker as c_linker
    if not config.cxx:
        c_linker.warn_no_compiler()
        return None
    return c_linker.make_c_program(fgraph, mode)


def _copy_values(values: list) -> list:
    """Independent copies: arrays keep their strides' layout class, other values deep-copied."""
    out = []
    for v in values:
        if isinstance(v, np.ndarray):
            out.append(v.copy(order="K"))
        elif isinstance(v, (int, float, bool, complex, str, type(None), np.generic)):
            out.append(v)
        else:
            out.append(copy.deepcopy(v))
    return out


def _same_bits(a: np.ndarray, b: Any) -> bool:
    return (isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
            and a.tobytes() == b.tobytes())


def _first_change(before: np.ndarray, after: Any) -> str:
    if not isinstance(after, np.ndarray) or after.shape != before.shape or after.dtype != before.dtype:
        return f"now {type(after).__name__} {getattr(after, 'shape', '')} {getattr(after, 'dtype', '')}"
    flat_b, flat_a = before.reshape(-1), after.reshape(-1)
    width = before.dtype.itemsize
    bytes_b = np.ascontiguousarray(flat_b).view(np.uint8).reshape(flat_b.size, width)
    bytes_a = np.ascontiguousarray(flat_a).view(np.uint8).reshape(flat_a.size, width)
    diff = np.flatnonzero((bytes_b != bytes_a).any(axis=1))
    if diff.size == 0:
        return "contents changed"
    where = np.unravel_index(int(diff[0]), before.shape)
    return (f"{diff.size} element(s) changed, first at {tuple(int(i) for i in where)}: "
            f"{flat_b[diff[0]]!r} -> {flat_a[diff[0]]!r}")


def _describe(var: Any) -> str:
    op = var.owner.op if var.owner is not None else None
    made = f"produced by {op}" if op is not None else "a graph input or constant"
    return f"variable {var}, {made}"


# ----------------------------------------------------------------------------- comparison

def compare_values(c: Any, ref: Any) -> str | None:
    """None when ``c`` matches the reference ``ref``, else what differs (see module doc)."""
    c, ref = np.asarray(c), np.asarray(ref)
    if c.dtype != ref.dtype or c.shape != ref.shape:
        return f"C gave shape {c.shape} dtype {c.dtype}, Python shape {ref.shape} dtype {ref.dtype}"
    if c.size == 0:
        return None
    kind = ref.dtype.kind
    if kind not in "fc":
        bad = c != ref
        if not bad.any():
            return None
        pos = _pos(np.argmax(bad), ref.shape)
        return (f"{int(bad.sum())} of {ref.size} elements differ (exact for {ref.dtype}); first at "
                f"{pos}: C {c[pos]!r} vs Python {ref[pos]!r}; shape {ref.shape}")
    nan_c, nan_r = np.isnan(c), np.isnan(ref)
    if not np.array_equal(nan_c, nan_r):
        pos = _pos(np.argmax(nan_c != nan_r), ref.shape)
        return f"NaN positions differ, first at {pos}: C {c[pos]!r} vs Python {ref[pos]!r}; shape {ref.shape}"
    inf_r = np.isinf(ref)
    inf_mismatch = (np.isinf(c) | inf_r) & ~nan_r & (c != ref)
    if inf_mismatch.any():
        pos = _pos(np.argmax(inf_mismatch), ref.shape)
        return f"infinities differ, first at {pos}: C {c[pos]!r} vs Python {ref[pos]!r}; shape {ref.shape}"
    rtol, atol = TOLERANCES.get(str(np.empty(0, ref.dtype).real.dtype), (1e-7, 1e-10))
    fin = ~nan_r & ~inf_r
    wide = np.complex128 if kind == "c" else np.float64
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        abs_diff = np.where(fin, np.abs(c.astype(wide) - ref.astype(wide)), 0.0)
        scale = np.abs(ref).astype(np.float64)
        bad = abs_diff > atol + rtol * scale
        if not bad.any():
            return None
        rel = np.where(scale > 0, abs_diff / scale, np.where(abs_diff > 0, np.inf, 0.0))
    a_pos, r_pos = _pos(np.argmax(abs_diff), ref.shape), _pos(np.argmax(rel), ref.shape)
    return (f"{int(bad.sum())} of {ref.size} elements beyond rtol={rtol:g}, atol={atol:g} "
            f"(shape {ref.shape}, dtype {ref.dtype}); max abs diff {abs_diff[a_pos]:.6g} at {a_pos} "
            f"(C {c[a_pos]!r} vs Python {ref[a_pos]!r}); max rel diff {rel[r_pos]:.6g} at {r_pos}")


def _pos(flat: Any, shape: tuple) -> tuple:
    return tuple(int(i) for i in np.unravel_index(int(flat), shape))


# ----------------------------------------------------------------------------- per-node checks

def _install_node_checks(program: PyProgram) -> None:
    """Wrap each ``perform`` of ``program`` (and of its lazy branch blocks) in checks."""
    program.thunks = [(node, _checked(node, perform), ins, outs)
                      for node, perform, ins, outs in program.thunks]
    if isinstance(program, LazyPyProgram):
        seen: set[int] = set()

        def rewrap(steps: list) -> None:
            if id(steps) in seen:
                return
            seen.add(id(steps))
            for k, (node, perform, ins, outs, branches) in enumerate(steps):
                steps[k] = (node, _checked(node, perform), ins, outs, branches)
                for block in branches or ():
                    rewrap(block)

        rewrap(program.steps)


def _checked(node: Apply, perform: Callable) -> Callable:
    """``perform`` plus: declared-only input writes, outputs of the declared types."""
    destroyed = {i for ins in getattr(node.op, "destroy_map", {}).values() for i in ins}

    def run(node_: Apply, inputs: list, out_cells: list) -> None:
        kept = {i: v.copy() for i, v in enumerate(inputs)
                if i not in destroyed and isinstance(v, np.ndarray)}
        perform(node_, inputs, out_cells)
        for i, before in kept.items():
            if not _same_bits(before, inputs[i]):
                raise DebugModeError(f"DebugMode: {node.op}.perform modified its input {i} "
                                     f"({node.inputs[i]}) without declaring it in destroy_map: "
                                     f"{_first_change(before, inputs[i])}\nApply node: {node}")
        for o, (var, cell) in enumerate(zip(node.outputs, out_cells)):
            problem = _type_problem(var.type, cell[0])
            if problem:
                raise DebugModeError(f"DebugMode: {node.op}.perform output {o} ({var}): {problem}"
                                     f"\nApply node: {node}")

    return run


def _type_problem(t: Any, value: Any) -> str | None:
    if not isinstance(t, TensorType):
        return None
    if not isinstance(value, (np.ndarray, np.generic)):
        return f"expected an ndarray of {t.dtype}, got {type(value).__name__}"
    if str(value.dtype) != t.dtype:
        return f"dtype {value.dtype}, but the output type says {t.dtype}"
    if value.ndim != t.ndim:
        return f"ndim {value.ndim} (shape {value.shape}), but the output type has ndim {t.ndim}"
    bad = [d for d, b in enumerate(t.broadcastable) if b and value.shape[d] != 1]
    if bad:
        return f"shape {value.shape} has length != 1 on broadcastable dimension(s) {bad}"
    return None
