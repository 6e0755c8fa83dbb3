"""One C function per segment: the C entry ABI, its memory plan and its emitter.

The entry of segment k (all arrays are numpy's: byte strides, any sign)::

    int tl_seg<k>(int phase, char *in0, ..., char *out0, ..., int64_t *meta, char *ws, char *err)

``meta`` (int64) holds, from ``META_HEAD`` on, each input's shape then strides (ndim
values each), then each output's shape; ``meta[0]`` receives the index (within the
segment) of the node that failed and ``meta[1]`` the workspace size in bytes.

* phase 0: validate every shape (the same checks ``perform`` makes), fill the output
  shapes and the workspace size; pointers may be NULL. Nothing is written elsewhere.
* phase 1: the same validation, then compute. ``out<k>`` are C-contiguous buffers of the
  shapes phase 0 gave (a result written in place into input j, ``Segment.out_alias``,
  ignores its ``out`` pointer); ``ws`` is a scratch buffer of at least the size phase 0
  gave (64-byte aligned inside), holding every intermediate value.

Returns 0, or a TL_* error code with a NUL-terminated message in ``err`` (TL_ERRLEN
bytes). C never aborts and never allocates: Python owns every buffer, so nothing leaks on
any path. Intermediates share workspace slots when their lifetimes do not overlap.

Each entry also gets a trampoline ``int tl_seg<k>_argv(int phase, char **in, char **out,
int64_t *meta, char *ws, char *err)`` (in the cdef), through which the module's CPython
"fast call" (tl_fastcall.h, linked into every module) runs it on numpy arrays: that
boundary, not the entry, allocates outputs (numpy) and the workspace (freed on every
path); program.py decides when it is used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from theanolite.ccodegen import template
from theanolite.ccodegen.elemwise_c import _c_string
from theanolite.ccodegen.partition import Segment
from theanolite.ccodegen.scalar_c import C_TYPES, c_literal
from theanolite.graph.basic import Apply, Variable

META_HEAD = 2


@dataclass(frozen=True)
class Layout:
    """Where each boundary array's numbers live in ``meta`` (what Python needs)."""

    meta_size: int
    inputs: tuple[tuple[int, int], ...]   # (offset, ndim)
    outputs: tuple[tuple[int, int], ...]  # (offset, ndim)
    out_dtypes: tuple[str, ...]


def layout(seg: Segment) -> Layout:
    off = META_HEAD
    ins = []
    for v in seg.inputs:
        ins.append((off, v.ndim))
        off += 2 * v.ndim
    outs = []
    for v in seg.outputs:
        outs.append((off, v.ndim))
        off += v.ndim
    return Layout(off, tuple(ins), tuple(outs), tuple(v.type.dtype for v in seg.outputs))


def entry_name(seg: Segment) -> str:
    return f"tl_seg{seg.index}"


def cdef(seg: Segment) -> str:
    """The cffi declarations of segment ``seg``: its entry and its argv trampoline."""
    params = ["int phase"] + [f"char *in{j}" for j in range(len(seg.inputs))]
    params += [f"char *out{k}" for k in range(len(seg.outputs))] + ["int64_t *meta", "char *ws", "char *err"]
    return (f"int {entry_name(seg)}({', '.join(params)});\n"
            f"int {argv_name(seg)}(int phase, char **in, char **out, int64_t *meta, char *ws, char *err);")


def argv_name(seg: Segment) -> str:
    """The entry's trampoline taking pointer arrays (what tl_fastcall.h calls)."""
    return f"{entry_name(seg)}_argv"


# The module-wide CPython fast call (tl_fastcall.h, under Python.h): build.py compiles it
# into every module and adds this declaration to the cdef.
FASTCALL_CDEF = "void *tl_fast_kit(void);"


def fastcall_source() -> str:
    return template.load("tl_fastcall.h")


def _argv_trampoline(seg: Segment) -> str:
    args = (["phase"] + [f"in[{j}]" for j in range(len(seg.inputs))]
            + [f"out[{k}]" for k in range(len(seg.outputs))] + ["meta", "ws", "err"])
    return "\n".join([
        cdef(seg).split("\n")[1][:-1],
        "{",
        "    (void)in; (void)out;",
        f"    return {entry_name(seg)}({', '.join(args)});",
        "}",
    ])


# ----------------------------------------------------------------------------- memory plan

def plan_memory(seg: Segment) -> tuple[dict[int, int], int]:
    """Workspace slot of each intermediate that owns memory (id(var) -> slot), and the
    number of slots. A slot is reused once every value living in it is dead."""
    node_pos = {id(n): j for j, n in enumerate(seg.nodes)}
    entry_of = {id(n): e for n, e in zip(seg.nodes, seg.entries)}
    exported = {id(v) for v in seg.outputs}
    root: dict[int, Variable] = {}

    def root_of(var: Variable) -> Variable:
        return root.get(id(var), var)

    owners: list[Variable] = []
    for node in seg.nodes:
        views = entry_of[id(node)].views(node)
        for out in node.outputs:
            if out.index in views:
                root[id(out)] = root_of(node.inputs[views[out.index]])
            elif out in seg.inplace:
                root[id(out)] = root_of(seg.inplace[out])
            elif id(out) not in exported:
                owners.append(out)
    last_use = {id(v): node_pos[id(v.owner)] for v in owners}
    for j, node in enumerate(seg.nodes):
        for v in node.inputs + node.outputs:
            r = root_of(v)
            if id(r) in last_use:
                last_use[id(r)] = max(last_use[id(r)], j)
    slot_of: dict[int, int] = {}
    free: list[int] = []
    nslots = 0
    owned = {id(v) for v in owners}
    for j, node in enumerate(seg.nodes):
        for out in node.outputs:
            if id(out) in owned:
                if free:
                    free.sort()
                    slot_of[id(out)] = free.pop(0)
                else:
                    slot_of[id(out)] = nslots
                    nslots += 1
        for v in owners:
            if last_use[id(v)] == j and node_pos[id(v.owner)] <= j:
                free.append(slot_of[id(v)])
    return slot_of, nslots


# ----------------------------------------------------------------------------- emitter

class _Ctx:
    """Names the segment's C variables for the op entries (see elemwise_c.py)."""

    def __init__(self, seg: Segment, index: dict[int, int]) -> None:
        self.seg = seg
        self.index = index
        self.node_index = -1

    def _i(self, var: Variable) -> int:
        return self.index[id(var)]

    def d(self, var: Variable) -> str:
        return f"d{self._i(var)}"

    def sh(self, var: Variable) -> str:
        return f"sh{self._i(var)}"

    def st(self, var: Variable) -> str:
        return f"st{self._i(var)}"

    def kernel_name(self, node: Apply) -> str:
        return f"tl_s{self.seg.index}_n{self.seg.nodes.index(node)}"

    def op_literal(self, node: Apply) -> str:
        return _c_string(str(node.op))

    def fail(self, code: str, fmt: str, *args: str) -> str:
        """A C statement: set the message ("<op>: " + fmt % args) and the code, jump out."""
        node = self.seg.nodes[self.node_index]
        text = _c_string("%s: " + fmt)
        rest = "".join(", " + a for a in args)
        return (f"{{ snprintf(err, TL_ERRLEN, {text}, {self.op_literal(node)}{rest}); "
                f"tl_node = {self.node_index}; rc = {code}; goto fail; }}")

    def is_inplace(self, var: Variable) -> bool:
        """True when ``var`` is written into the buffer of the input it destroys."""
        return var in self.seg.inplace

    def scratch_var(self) -> str:
        """The int64 a ``scratch_code`` sets: bytes of scratch the current node needs."""
        return f"scr{self.node_index}"

    def scratch_begin(self) -> str:
        return "(ws + tl_scratch_off)"

    def scratch_end(self) -> str:
        return f"(ws + tl_scratch_off + scr{self.node_index})"

    def fail_here(self) -> str:
        """Jump out after a helper already set ``rc`` and ``err``."""
        return f"{{ tl_node = {self.node_index}; goto fail; }}"


def emit(seg: Segment) -> tuple[str, str]:
    """(support code: constants and kernels, the entry function) of ``seg``."""
    variables = list(seg.inputs) + list(seg.consts)
    for node in seg.nodes:
        variables.extend(node.outputs)
    index = {id(v): i for i, v in enumerate(variables)}
    ctx = _Ctx(seg, index)
    lay = layout(seg)
    slot_of, nslots = plan_memory(seg)
    support, body = [], []
    for c, const in enumerate(seg.consts):
        data = np.asarray(const.data)
        support.append(f"static const {C_TYPES[str(data.dtype)]} tl_s{seg.index}_k{c}[1] = "
                       f"{{{c_literal(data.item(), str(data.dtype))}}};")
    for j, (node, entry) in enumerate(zip(seg.nodes, seg.entries)):
        aliased = _aliased_operands(seg, node)
        code = entry.support_code(node, ctx.kernel_name(node), aliased)
        if code:
            support.append(code)
    body += _declare(variables)
    scratch_nodes = [j for j, e in enumerate(seg.entries) if hasattr(e, "scratch_code")]
    body += [f"int64_t scr{j} = 0;" for j in scratch_nodes]
    body += _unpack_inputs(seg, index, lay)
    for c, const in enumerate(seg.consts):
        i = index[id(const)]
        body.append(f"d{i} = (char *)tl_s{seg.index}_k{c};")
        for d, n in enumerate(np.shape(const.data)):
            body.append(f"sh{i}[{d}] = {n}; st{i}[{d}] = 0;")
    body.append("/* ---- shapes (both phases) */")
    for j, (node, entry) in enumerate(zip(seg.nodes, seg.entries)):
        ctx.node_index = j
        body.append(f"/* node {j}: {_comment(node)} */")
        code = entry.shape_code(node, ctx)
        if code:
            body.append(code)
        body += _size_outputs(seg, node, entry, index)
        if j in scratch_nodes:
            body.append(entry.scratch_code(node, ctx))
    body += _workspace(seg, index, slot_of, nslots, lay, scratch_nodes)
    body.append("/* ---- compute (phase 1) */")
    for k, out in enumerate(seg.outputs):
        if k not in seg.out_alias and out not in seg.inplace:
            body.append(f"d{index[id(out)]} = out{k};")
    for v in variables:
        if id(v) in slot_of:
            body.append(f"d{index[id(v)]} = ws + off[{slot_of[id(v)]}];")
    for j, (node, entry) in enumerate(zip(seg.nodes, seg.entries)):
        ctx.node_index = j
        body.append(f"/* node {j}: {_comment(node)} */")
        for out in node.outputs:
            if out in seg.inplace:
                body.append(f"d{index[id(out)]} = d{index[id(seg.inplace[out])]};")
        body.append(entry.run_code(node, ctx))
    signature = cdef(seg).split(";")[0]
    func = "\n".join([
        signature,
        "{",
        "    int rc = TL_OK, tl_node = -1;",
        "    (void)ws;",
        *("    " + line.replace("\n", "\n    ") for line in body),
        "    return TL_OK;",
        "fail:",
        "    meta[0] = tl_node;",
        "    return rc;",
        "}",
        "",
        _argv_trampoline(seg),
    ])
    return "\n\n".join(support), func


def _aliased_operands(seg: Segment, node: Apply) -> set[int]:
    aliased = set()
    nin = len(node.inputs)
    for o, out in enumerate(node.outputs):
        target = seg.inplace.get(out)
        if target is not None:
            aliased.add(nin + o)
            aliased.update(i for i, v in enumerate(node.inputs) if v is target)
    return aliased


def _declare(variables: list[Variable]) -> list[str]:
    lines = []
    for i, v in enumerate(variables):
        n = max(v.ndim, 1)
        one = "{1}" if v.ndim == 0 else "{0}"
        lines.append(f"char *d{i} = NULL; int64_t sh{i}[{n}] = {one}, st{i}[{n}] = {{0}}, sz{i} = 0;")
        lines.append(f"(void)d{i}; (void)sz{i};")
    return lines


def _unpack_inputs(seg: Segment, index: dict[int, int], lay: Layout) -> list[str]:
    lines = []
    for j, (v, (off, nd)) in enumerate(zip(seg.inputs, lay.inputs)):
        i = index[id(v)]
        lines.append(f"d{i} = in{j};")
        for d in range(nd):
            lines.append(f"sh{i}[{d}] = meta[{off + d}]; st{i}[{d}] = meta[{off + nd + d}];")
    return lines


def _size_outputs(seg: Segment, node: Apply, entry: Any, index: dict[int, int]) -> list[str]:
    lines = []
    views = entry.views(node)
    for out in node.outputs:
        i = index[id(out)]
        if out.index in views:
            continue
        target = seg.inplace.get(out)
        if target is not None:
            lines.append(f"memcpy(st{i}, st{index[id(target)]}, sizeof(st{i}));")
            continue
        size = np.dtype(out.type.dtype).itemsize
        lines.append(f"sz{i} = tl_contiguous({out.ndim}, sh{i}, {size}, st{i});")
    return lines


def _workspace(seg: Segment, index: dict[int, int], slot_of: dict[int, int], nslots: int,
               lay: Layout, scratch_nodes: list[int]) -> list[str]:
    lines = ["/* ---- workspace layout */"]
    n = max(nslots, 1)
    lines.append(f"int64_t slot[{n}] = {{0}}, off[{n}] = {{0}};")
    lines.append("(void)slot; (void)off;")
    for node in seg.nodes:
        for out in node.outputs:
            s = slot_of.get(id(out))
            if s is not None:
                i = index[id(out)]
                lines.append(f"if (tl_align(sz{i}) > slot[{s}]) slot[{s}] = tl_align(sz{i});")
    for s in range(1, nslots):
        lines.append(f"off[{s}] = off[{s - 1}] + slot[{s - 1}];")
    slots_total = f"off[{nslots - 1}] + slot[{nslots - 1}]" if nslots else "0"
    # Nodes run one at a time, so they share one scratch area after the slots.
    lines.append(f"int64_t tl_scratch_off = {slots_total}, tl_scratch = 0;")
    lines.append("(void)tl_scratch_off;")
    for j in scratch_nodes:
        lines.append(f"if (scr{j} > tl_scratch) tl_scratch = scr{j};")
    lines.append("if (phase == 0) {")
    lines.append("    meta[1] = tl_scratch_off + tl_scratch;")
    for out, (off, nd) in zip(seg.outputs, lay.outputs):
        i = index[id(out)]
        for d in range(nd):
            lines.append(f"    meta[{off + d}] = sh{i}[{d}];")
    lines.append("    return TL_OK;")
    lines.append("}")
    return lines


def _comment(node: Apply) -> str:
    return str(node.op)[:120].replace("*/", "* /")
