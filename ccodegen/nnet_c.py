"""C for the neural-network ops of ``theanolite/tensor/nnet/``: ``Softmax``, ``LogSoftmax``,
``CrossentropySoftmax1Hot`` and its gradient ``CrossentropySoftmax1HotDx``.

Kernels come from ``nnet.c`` (one file, one section per kernel family, each section a
strict template). Every kernel evaluates the formulas of its op's ``perform`` in the
same order and dtype: max shift (NaN propagates like ``np.max``), ``exp``/``log`` of the
same arguments, a division where perform divides. Sums are reassociated (vectorized), so
results agree with perform to rounding; NaN/Inf rows give what perform gives.

Integer labels (any integer dtype) are checked before anything is written: an
out-of-range label is perform's ``IndexError`` with perform's message; a label count
that does not match the rows is its ``ValueError``. Softmax over an axis that is not
innermost in memory keeps one running max and sum per slice in node scratch (workspace),
never in a ``malloc``.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable

import numpy as np

from theanolite.ccodegen import template
from theanolite.ccodegen.elemwise_c import _block
from theanolite.ccodegen.scalar_c import C_TYPES
from theanolite.graph.basic import Apply, Variable
from theanolite.ccodegen.registry import CEntry

_FLOATS = ("float32", "float64")
_SECTION = re.compile(r"^/\* ---- section: (\w+) ---- \*/\n", re.M)


@functools.lru_cache(maxsize=None)
def _sections() -> dict[str, str]:
    """``nnet.c`` split at its ``/* ---- section: NAME ---- */`` lines."""
    parts = _SECTION.split(template.load("nnet.c"))
    return dict(zip(parts[1::2], parts[2::2]))


def _fill(section: str, **values: str) -> str:
    return template.fill(_sections()[section], **values)


def _libm_suffix(dtype: str) -> str:
    return "f" if dtype == "float32" else ""


def _is_label(var: Variable) -> bool:
    dtype = var.type.dtype
    return dtype in C_TYPES and dtype != "bool" and np.dtype(dtype).kind in "iu"


def _comment(node: Apply) -> str:
    sig = ", ".join(v.type.dtype for v in node.inputs) + " -> " + ", ".join(v.type.dtype for v in node.outputs)
    return f"{node.op} ({sig})".replace("*/", "* /")


class _NnetEntry(CEntry):
    version = (1,)


# ----------------------------------------------------------------------------- labels

def _labels_code(node: Apply, name: str) -> str:
    """The label check of ``node`` (its last input), named ``<name>_labels``."""
    dtype = node.inputs[-1].type.dtype
    ct = C_TYPES[dtype]
    if np.dtype(dtype).kind == "u":
        bad = "(uint64_t)v >= (uint64_t)cols"
    else:
        bad = "(int64_t)v < 0 || (int64_t)v >= cols"
    return _fill("labels", name=f"{name}_labels", label_type=ct, label_bad=bad)


def _check_labels(node: Apply, ctx: Any, cols: str) -> list[str]:
    """C lines failing with perform's IndexError at the first label outside [0, cols)."""
    labels = node.inputs[-1]
    dtype = labels.type.dtype
    fmt, cast = ("%llu", "unsigned long long") if np.dtype(dtype).kind == "u" else ("%lld", "long long")
    d, st = ctx.d(labels), ctx.st(labels)
    value = f"({cast})*(const {C_TYPES[dtype]} *)({d} + bad * {st}[0])"
    return [
        f"const int64_t bad = {ctx.kernel_name(node)}_labels({ctx.sh(labels)}[0], {d}, {st}[0], {cols});",
        "if (bad >= 0) " + ctx.fail("TL_INDEX_ERROR", f"label {fmt} at position %lld is out of range "
                                    "for %lld classes", value, "(long long)bad", f"(long long)({cols})"),
    ]


def _check_label_count(node: Apply, ctx: Any, mat: Variable) -> str:
    """perform's ValueError when the labels do not match the rows of ``mat``."""
    labels = node.inputs[-1]
    nl, nr = f"{ctx.sh(labels)}[0]", f"{ctx.sh(mat)}[0]"
    return f"if ({nl} != {nr}) " + ctx.fail("TL_VALUE_ERROR", "%lld labels for %lld rows",
                                            f"(long long){nl}", f"(long long){nr}")


# ----------------------------------------------------------------------------- softmax

class SoftmaxC(_NnetEntry):
    """``Softmax(axis)`` on any float array, any axis and layout."""

    log = False

    def supports(self, node: Apply) -> bool:
        x, out = node.inputs[0], node.outputs[0]
        return x.type.dtype in _FLOATS and out.type.dtype == x.type.dtype and x.ndim >= 1

    @staticmethod
    def _axis(node: Apply) -> int:
        return node.op.axis % node.inputs[0].ndim

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        dtype = node.inputs[0].type.dtype
        return _fill("softmax", name=name, comment=_comment(node), ct=C_TYPES[dtype],
                     f=_libm_suffix(dtype), log=str(int(self.log)), nd=str(node.inputs[0].ndim))

    def shape_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        return _block([f"{ctx.sh(out)}[{d}] = {ctx.sh(x)}[{d}];" for d in range(x.ndim)])

    def scratch_code(self, node: Apply, ctx: Any) -> str:
        x = node.inputs[0]
        axis = self._axis(node)
        lanes = " * ".join(f"{ctx.sh(x)}[{d}]" for d in range(x.ndim) if d != axis) or "1"
        size = np.dtype(x.type.dtype).itemsize
        return f"{ctx.scratch_var()} = 2 * tl_align(({lanes}) * {size});"

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        return (f"{ctx.kernel_name(node)}({ctx.sh(x)}, {self._axis(node)}, {ctx.d(x)}, {ctx.st(x)}, "
                f"{ctx.d(out)}, {ctx.st(out)}, {ctx.scratch_begin()});")


class LogSoftmaxC(SoftmaxC):
    """``LogSoftmax(axis)``: the same kernel, finishing with ``(x - m) - log(sum)``."""

    log = True


# ----------------------------------------------------------------------------- cross-entropy

class CrossentropySoftmax1HotC(_NnetEntry):
    """``(nll, softmax(x))`` of a float matrix ``x`` and integer labels."""

    def supports(self, node: Apply) -> bool:
        x, labels = node.inputs
        dtype = x.type.dtype
        return (dtype in _FLOATS and _is_label(labels)
                and all(o.type.dtype == dtype for o in node.outputs))

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        dtype = node.inputs[0].type.dtype
        kernel = _fill("xent", name=name, comment=_comment(node), ct=C_TYPES[dtype],
                       f=_libm_suffix(dtype), label_type=C_TYPES[node.inputs[1].type.dtype])
        return _labels_code(node, name) + "\n" + kernel

    def shape_code(self, node: Apply, ctx: Any) -> str:
        x = node.inputs[0]
        nll, sm = node.outputs
        sx = ctx.sh(x)
        # With rows, 0 classes makes every label out of range (perform's IndexError,
        # raised at run time); only an empty batch reaches perform's "no classes".
        no_classes = f"if ({sx}[1] == 0 && {sx}[0] == 0) " + ctx.fail(
            "TL_VALUE_ERROR", "x has no classes (shape (0, 0))")
        return _block([_check_label_count(node, ctx, x), no_classes,
                       f"{ctx.sh(nll)}[0] = {sx}[0];",
                       f"{ctx.sh(sm)}[0] = {sx}[0]; {ctx.sh(sm)}[1] = {sx}[1];"])

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, labels = node.inputs
        nll, sm = node.outputs
        sx, tx = ctx.sh(x), ctx.st(x)
        call = (f"{ctx.kernel_name(node)}({sx}[0], {sx}[1], {ctx.d(x)}, {tx}[0], {tx}[1], "
                f"{ctx.d(labels)}, {ctx.st(labels)}[0], {ctx.d(nll)}, {ctx.st(nll)}[0], "
                f"{ctx.d(sm)}, {ctx.st(sm)}[0], {ctx.st(sm)}[1]);")
        return _block(_check_labels(node, ctx, f"{sx}[1]") + [call])


class CrossentropySoftmax1HotDxC(_NnetEntry):
    """``dnll[:, None] * (sm - onehot(labels))`` in the output's float dtype."""

    def supports(self, node: Apply) -> bool:
        dnll, sm, labels = node.inputs
        return (node.outputs[0].type.dtype in _FLOATS and dnll.type.dtype in C_TYPES
                and sm.type.dtype in C_TYPES and _is_label(labels))

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        dnll, sm, labels = node.inputs
        kernel = _fill("xent_dx", name=name, comment=_comment(node),
                       ct=C_TYPES[node.outputs[0].type.dtype], sm_type=C_TYPES[sm.type.dtype],
                       dnll_type=C_TYPES[dnll.type.dtype], label_type=C_TYPES[labels.type.dtype])
        return _labels_code(node, name) + "\n" + kernel

    def shape_code(self, node: Apply, ctx: Any) -> str:
        dnll, sm, _ = node.inputs
        out = node.outputs[0]
        nd, ns = f"{ctx.sh(dnll)}[0]", f"{ctx.sh(sm)}[0]"
        # perform broadcasts dnll to the rows with np.broadcast_to: length n or 1.
        bcast = f"if ({nd} != {ns} && {nd} != 1) " + ctx.fail(
            "TL_VALUE_ERROR", "dnll of shape (%lld,) cannot be broadcast to the %lld rows of sm",
            f"(long long){nd}", f"(long long){ns}")
        return _block([_check_label_count(node, ctx, sm), bcast,
                       f"{ctx.sh(out)}[0] = {ns}; {ctx.sh(out)}[1] = {ctx.sh(sm)}[1];"])

    def run_code(self, node: Apply, ctx: Any) -> str:
        dnll, sm, labels = node.inputs
        out = node.outputs[0]
        ss, ts, to = ctx.sh(sm), ctx.st(sm), ctx.st(out)
        ds = f"({ctx.sh(dnll)}[0] == 1 ? 0 : {ctx.st(dnll)}[0])"
        call = (f"{ctx.kernel_name(node)}({ss}[0], {ss}[1], {ctx.d(dnll)}, {ds}, {ctx.d(sm)}, "
                f"{ts}[0], {ts}[1], {ctx.d(labels)}, {ctx.st(labels)}[0], {ctx.d(out)}, {to}[0], {to}[1]);")
        return _block(_check_labels(node, ctx, f"{ss}[1]") + [call])


def register_entries(register: Callable[[type, Any], None]) -> None:
    from theanolite.tensor.nnet.basic import LogSoftmax, Softmax
    from theanolite.tensor.nnet.fused import CrossentropySoftmax1Hot, CrossentropySoftmax1HotDx
    register(Softmax, SoftmaxC())
    register(LogSoftmax, LogSoftmaxC())
    register(CrossentropySoftmax1Hot, CrossentropySoftmax1HotC())
    register(CrossentropySoftmax1HotDx, CrossentropySoftmax1HotDxC())
