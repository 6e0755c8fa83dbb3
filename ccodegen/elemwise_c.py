"""C for ``Elemwise`` (any scalar op or ``Composite``) and ``DimShuffle`` nodes.

Each entry tells the segment emitter (segment.py), for one node: whether it has C
(``supports``), which outputs are views or in-place results of which inputs, its static
support code (the kernel, from the ``elemwise.c`` template), its shape code (validate
input shapes, fill output shapes; views also fill strides) and its run code (call the
kernel; views bind their data pointer). ``version`` is part of the cache key: bump it
whenever the emitted C changes.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from theanolite.ccodegen import template
from theanolite.ccodegen.scalar_c import C_TYPES, SCALAR_C_VERSION, op_c_version, scalar_c_lines
from theanolite.graph.basic import Apply
from theanolite.tensor.elemwise import DimShuffle, Elemwise


def _c_string(text: str) -> str:
    """``text`` as a C string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class ElemwiseC:
    """C of ``Elemwise``: one kernel per node, generated from ``elemwise.c``."""

    version = (1, SCALAR_C_VERSION)

    def node_version(self, node: Apply) -> tuple:
        return self.version + op_c_version(node.op.scalar_op)

    def supports(self, node: Apply) -> bool:
        return self._body(node) is not None

    def views(self, node: Apply) -> dict[int, int]:
        return {}

    def destroys(self, node: Apply) -> dict[int, int]:
        return dict(node.op.inplace_pattern)

    def _body(self, node: Apply) -> list[str] | None:
        dtypes = [v.type.dtype for v in node.inputs + node.outputs]
        if any(d not in C_TYPES for d in dtypes):
            return None
        ins = [(f"x{k}", v.type.dtype) for k, v in enumerate(node.inputs)]
        outs = [(f"y{k}", v.type.dtype) for k, v in enumerate(node.outputs)]
        return scalar_c_lines(node.op.scalar_op, ins, outs)

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        """The kernel ``name``. ``aliased`` lists operand positions (inputs, then
        outputs) that share memory with another operand: they lose ``restrict``."""
        body = self._body(node)
        assert body is not None
        nin, nout = len(node.inputs), len(node.outputs)
        nd = max(node.outputs[0].ndim, 1)
        operands = list(node.inputs) + list(node.outputs)
        inner_bcast = [bool(v.broadcastable[-1]) if v.ndim and k < nin else False
                       for k, v in enumerate(operands)]
        cts = [C_TYPES[v.type.dtype] for v in operands]
        hoist, cloads, sloads, cstores, sstores = [], [], [], [], []
        cparams, sparams = [], []
        for k in range(nin):
            ct = cts[k]
            qual = "" if k in aliased else " restrict"
            cparams.append(f"const {ct} *{qual} a{k}")
            sparams.append(f"const char *a{k}, int64_t s{k}")
            if inner_bcast[k]:
                hoist.append(f"    const {ct} x{k} = *a{k};")
            else:
                cloads.append(f"        const {ct} x{k} = a{k}[i];")
            sloads.append(f"        const {ct} x{k} = *(const {ct} *)(a{k} + i * s{k});")
        for j in range(nout):
            k = nin + j
            qual = "" if k in aliased else " restrict"
            cparams.append(f"{cts[k]} *{qual} o{j}")
            sparams.append(f"char *o{j}, int64_t s{k}")
            cstores.append(f"        o{j}[i] = y{j};")
            sstores.append(f"        *({cts[k]} *)(o{j} + i * s{k}) = y{j};")
        bcast_rows = []
        for k, v in enumerate(operands):
            flags = [int(k < nin and b) for b in v.broadcastable] or [0]
            bcast_rows.append("{" + ", ".join(map(str, flags)) + "}")
        has_bad = any("tl_bad" in line for line in body)
        return template.fill(
            template.load("elemwise.c"),
            name=name, comment=_comment(node), nd=str(nd), nops=str(nin + nout),
            contig_params="".join(", " + p for p in cparams),
            strided_params="".join(", " + p for p in sparams),
            hoist="\n".join(hoist), contig_loads="\n".join(cloads),
            strided_loads="\n".join(sloads),
            body="\n".join("        " + line for line in body),
            contig_stores="\n".join(cstores), strided_stores="\n".join(sstores),
            reduction=" reduction(|:tl_bad)" if has_bad else "",
            itemsizes=", ".join(str(np.dtype(v.type.dtype).itemsize) for v in operands),
            bcast=", ".join(bcast_rows),
            inner_bcast=", ".join(str(int(b)) for b in inner_bcast),
            contig_args=", ".join(f"({cts[k]} *)p[{k}]" for k in range(nin + nout)),
            strided_args=", ".join(f"p[{k}], st[{k}][nd - 1]" for k in range(nin + nout)),
        )

    def shape_code(self, node: Apply, ctx: Any) -> str:
        nd = node.outputs[0].ndim
        out0 = node.outputs[0]
        lines = []
        if nd:
            nin = len(node.inputs)
            flags = [str(int(b)) for v in node.inputs for b in v.broadcastable]
            lines += [
                f"const int64_t *shp[{nin}] = {{{', '.join(ctx.sh(v) for v in node.inputs)}}};",
                f"static const unsigned char bc[{nin * nd}] = {{{', '.join(flags)}}};",
                f"rc = tl_broadcast({nd}, {nin}, shp, bc, {ctx.sh(out0)}, err, {ctx.op_literal(node)});",
                f"if (rc) {ctx.fail_here()}",
            ]
            for out in node.outputs[1:]:
                lines.append(f"memcpy({ctx.sh(out)}, {ctx.sh(out0)}, sizeof(int64_t) * {nd});")
        return _block(lines)

    def run_code(self, node: Apply, ctx: Any) -> str:
        operands = list(node.inputs) + list(node.outputs)
        lines = [
            f"char *const ptrs[{len(operands)}] = {{{', '.join(ctx.d(v) for v in operands)}}};",
            f"const int64_t *const strs[{len(operands)}] = {{{', '.join(ctx.st(v) for v in operands)}}};",
            f"if ({ctx.kernel_name(node)}({ctx.sh(node.outputs[0])}, ptrs, strs))",
            "    " + ctx.fail("TL_VALUE_ERROR", "Integers to negative integer powers are not allowed."),
        ]
        return _block(lines)


class DimShuffleC:
    """``DimShuffle`` is a view: new shape and strides over the input's data, no copy."""

    version = (1,)

    def node_version(self, node: Apply) -> tuple:
        return self.version

    def supports(self, node: Apply) -> bool:
        return node.inputs[0].type.dtype in C_TYPES

    def views(self, node: Apply) -> dict[int, int]:
        return {0: 0}

    def destroys(self, node: Apply) -> dict[int, int]:
        return {}

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        return ""

    def shape_code(self, node: Apply, ctx: Any) -> str:
        op: DimShuffle = node.op
        x, out = node.inputs[0], node.outputs[0]
        lines = []
        for d in op.drop:
            lines.append(f"if ({ctx.sh(x)}[{d}] != 1) " + ctx.fail(
                "TL_VALUE_ERROR", f"dimension {d} has length %lld, expected 1 (it is dropped)",
                f"(long long){ctx.sh(x)}[{d}]"))
        for i, o in enumerate(op.new_order):
            if o == "x":
                lines.append(f"{ctx.sh(out)}[{i}] = 1; {ctx.st(out)}[{i}] = 0;")
            else:
                lines.append(f"{ctx.sh(out)}[{i}] = {ctx.sh(x)}[{o}]; {ctx.st(out)}[{i}] = {ctx.st(x)}[{o}];")
        return _block(lines)

    def run_code(self, node: Apply, ctx: Any) -> str:
        return f"{ctx.d(node.outputs[0])} = {ctx.d(node.inputs[0])};"


def _comment(node: Apply) -> str:
    text = str(node.op)
    sig = ", ".join(v.type.dtype for v in node.inputs) + " -> " + ", ".join(v.type.dtype for v in node.outputs)
    return (text[:200] + " (" + sig + ")").replace("*/", "* /")


def _block(lines: list[str]) -> str:
    if not lines:
        return ""
    return "{\n" + "\n".join("    " + line for line in lines) + "\n}"
