"""C for ``Sum``, ``Prod``, ``ProdWithoutZeros``, ``Max``, ``Min``, ``Argmax`` and ``Argmin``
over any set of axes (theanolite/tensor/reduction.py). ``mean`` is ``Sum`` divided by a
count (no op of its own); ``max_and_argmax`` is a ``Max`` and an ``Argmax`` node.

One kernel per node from ``reduce.c``: a single pass over the input in memory order,
accumulating into an array whose strides are 0 on the reduced axes. ``Sum`` accumulates in
the op's ``acc_dtype`` (in node scratch when it differs from the output dtype, then cast
like numpy's ``astype``); ``Max``/``Min`` keep the input dtype, propagate NaN and raise
perform's ValueError on an empty reduction. Float sums and products are reassociated
(vectorized), so they agree with numpy to rounding, not bit for bit. ``Prod`` is ``Sum``
with 1 as the identity. The arg-reductions have their own kernel (``reduce_arg.c``, see
``ArgmaxC``).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from theanolite.ccodegen import template
from theanolite.ccodegen.elemwise_c import _block
from theanolite.ccodegen.scalar_c import C_TYPES, _SUFFIX, c_literal, cast_expr
from theanolite.graph.basic import Apply
from theanolite.ccodegen.registry import CEntry
from theanolite.ccodegen.registry import CEntry


def _reduced(node: Apply) -> tuple[int, ...]:
    axis = node.op.axis
    return tuple(range(node.inputs[0].ndim)) if axis is None else tuple(axis)


def _empty_reduction_check(ctx: Any, node: Apply, count: str, head: str, tail: str) -> str:
    """C raising perform's ValueError when ``count`` (elements reduced) is 0: the op, then
    ``head``, the input's shape, ``tail``."""
    x = node.inputs[0]
    return (f"if (({count}) == 0) {{ snprintf(err, TL_ERRLEN, \"%s: {head}\", {ctx.op_literal(node)}); "
            f"tl_append_shape(err, {x.ndim}, {ctx.sh(x)}); size_t n_ = strlen(err); "
            f"snprintf(err + n_, TL_ERRLEN - n_, \"{tail}\"); rc = TL_VALUE_ERROR; {ctx.fail_here()} }}")


class _ReduceC(CEntry):
    version = (1,)
    kind = "sum"

    def acc_dtype(self, node: Apply) -> str:
        return node.outputs[0].type.dtype

    def _identity(self, acc: str) -> str:
        if self.kind == "sum":  # +0.0, as numpy (its sum of [-0.0] is 0.0)
            return c_literal(0, acc)
        if self.kind in ("prod", "prod_nz"):
            return c_literal(1, acc)
        big = self.kind == "min"
        if np.dtype(acc).kind == "f":
            return f"(({C_TYPES[acc]}){'' if big else '-'}__builtin_inf())"
        info = np.iinfo(acc)
        return c_literal(info.max if big else info.min, acc)

    def _combine(self, acc: str) -> str:
        floating = np.dtype(acc).kind == "f"
        if self.kind == "sum":
            return "s + v" if acc == "bool" or floating else f"tl_add_{_SUFFIX[acc]}(s, v)"
        if self.kind == "prod":
            return "s * v" if floating else f"tl_mul_{_SUFFIX[acc]}(s, v)"
        if self.kind == "prod_nz":  # zeros count as 1 (ProdWithoutZeros)
            ct = C_TYPES[acc]
            return f"s * (v == ({ct})0 ? ({ct})1 : v)" if floating else f"(v == 0 ? s : tl_mul_{_SUFFIX[acc]}(s, v))"
        return f"tl_{'max' if self.kind == 'max' else 'min'}_{_SUFFIX[acc]}(s, v)"

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        x = node.inputs[0]
        acc = self.acc_dtype(node)
        simd = ""
        if self.kind == "sum":
            simd = "#pragma omp simd reduction(+:s)"
        elif self.kind in ("prod", "prod_nz") and np.dtype(acc).kind == "f":
            simd = "#pragma omp simd reduction(*:s)"  # reassociates, as sums do
        return template.fill(
            template.load("reduce.c"), name=name, comment=f"{node.op} ({x.type.dtype} -> {acc})",
            nd=str(max(x.ndim, 1)), acc_type=C_TYPES[acc], in_type=C_TYPES[x.type.dtype],
            simd_pragma=simd, combine=self._combine(acc))

    def shape_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        axes = _reduced(node)
        kept = [d for d in range(x.ndim) if d not in axes]
        lines = [f"{ctx.sh(out)}[{i}] = {ctx.sh(x)}[{d}];" for i, d in enumerate(kept)]
        if self.kind in ("max", "min"):
            count = " * ".join(f"{ctx.sh(x)}[{d}]" for d in axes) or "1"
            ufunc = "maximum" if self.kind == "max" else "minimum"
            lines.append(_empty_reduction_check(
                ctx, node, count, "cannot reduce an input of shape ",
                f": zero-size array to reduction operation {ufunc} which has no identity"))
        return _block(lines)

    def scratch_code(self, node: Apply, ctx: Any) -> str:
        out = node.outputs[0]
        acc = self.acc_dtype(node)
        if acc == out.type.dtype:
            return f"{ctx.scratch_var()} = 0;"
        count = " * ".join(f"{ctx.sh(out)}[{d}]" for d in range(out.ndim)) or "1"
        return f"{ctx.scratch_var()} = tl_align(({count}) * {np.dtype(acc).itemsize});"

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        axes = _reduced(node)
        acc = self.acc_dtype(node)
        act, isz = C_TYPES[acc], np.dtype(acc).itemsize
        nd = max(x.ndim, 1)
        count = " * ".join(f"{ctx.sh(out)}[{d}]" for d in range(out.ndim)) or "1"
        separate = acc != out.type.dtype
        lines = [f"int64_t nout = {count};",
                 f"char *acc = {ctx.scratch_begin() if separate else ctx.d(out)};",
                 f"int64_t ast[{nd}] = {{0}}, ost[{max(out.ndim, 1)}] = {{0}};"]
        if out.ndim:
            lines.append(f"tl_contiguous({out.ndim}, {ctx.sh(out)}, {isz}, ost);")
        kept = [d for d in range(x.ndim) if d not in axes]
        lines += [f"ast[{d}] = ost[{i}];" for i, d in enumerate(kept)]
        lines += [f"for (int64_t i = 0; i < nout; i++) (({act} *)acc)[i] = {self._identity(acc)};",
                  f"{ctx.kernel_name(node)}({ctx.sh(x)}, {ctx.d(x)}, {ctx.st(x)}, acc, ast);"]
        if separate:
            oct_ = C_TYPES[out.type.dtype]
            lines.append(f"for (int64_t i = 0; i < nout; i++) (({oct_} *){ctx.d(out)})[i] = "
                         f"{cast_expr(f'(({act} *)acc)[i]', acc, out.type.dtype)};")
        return _block(lines)


class SumC(_ReduceC):
    kind = "sum"

    def acc_dtype(self, node: Apply) -> str:
        return node.op.acc_dtype or node.outputs[0].type.dtype

    def supports(self, node: Apply) -> bool:
        dtypes = [node.inputs[0].type.dtype, node.outputs[0].type.dtype, self.acc_dtype(node)]
        return all(d in C_TYPES for d in dtypes) and dtypes[2] != "bool"


class MaxC(_ReduceC):
    kind = "max"

    def supports(self, node: Apply) -> bool:
        dtype = node.inputs[0].type.dtype
        return dtype in C_TYPES and dtype != "bool" and node.outputs[0].type.dtype == dtype


class MinC(MaxC):
    kind = "min"


class ProdC(SumC):
    """``Prod``: like ``Sum`` with 1 as the identity (an empty product is 1); integer
    products wrap as numpy's."""

    version = (1,)
    kind = "prod"


class ProdWithoutZerosC(ProdC):
    """``ProdWithoutZeros``: the product with zeros counted as 1."""

    kind = "prod_nz"


class ArgmaxC(CEntry):
    """``Argmax``/``Argmin`` over any axes (several count as one flattened axis, in C
    order): one pass from ``reduce_arg.c`` keeping the best value in node scratch and its
    index in the output. An empty reduction raises perform's ValueError."""

    version = (1,)
    pick = "max"

    def supports(self, node: Apply) -> bool:
        return node.inputs[0].type.dtype in C_TYPES and node.outputs[0].type.dtype == "int64"

    def _identity(self, dtype: str) -> str:
        if dtype == "bool":
            return c_literal(self.pick == "min", dtype)
        if np.dtype(dtype).kind == "f":
            return f"(({C_TYPES[dtype]}){'' if self.pick == 'min' else '-'}__builtin_inf())"
        info = np.iinfo(dtype)
        return c_literal(info.max if self.pick == "min" else info.min, dtype)

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        x = node.inputs[0]
        dtype = x.type.dtype
        cmp = ">" if self.pick == "max" else "<"
        better = f"v {cmp} b"
        if np.dtype(dtype).kind == "f":
            better += " || (v != v && b == b)"
        return template.fill(
            template.load("reduce_arg.c"), name=name, comment=f"{node.op} ({dtype})",
            nd=str(max(x.ndim, 1)), type=C_TYPES[dtype], better=better)

    def shape_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        axes = _reduced(node)
        kept = [d for d in range(x.ndim) if d not in axes]
        lines = [f"{ctx.sh(out)}[{i}] = {ctx.sh(x)}[{d}];" for i, d in enumerate(kept)]
        count = " * ".join(f"{ctx.sh(x)}[{d}]" for d in axes) or "1"
        axis = str(node.op.axis)
        lines.append(_empty_reduction_check(
            ctx, node, count, "cannot take the arg-extremum of an empty reduction (input shape ",
            f", axis {axis})"))
        return _block(lines)

    def scratch_code(self, node: Apply, ctx: Any) -> str:
        out = node.outputs[0]
        count = " * ".join(f"{ctx.sh(out)}[{d}]" for d in range(out.ndim)) or "1"
        isz = np.dtype(node.inputs[0].type.dtype).itemsize
        return f"{ctx.scratch_var()} = tl_align(({count}) * {isz});"

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        dtype = x.type.dtype
        axes = _reduced(node)
        kept = [d for d in range(x.ndim) if d not in axes]
        nd = max(x.ndim, 1)
        ct, isz = C_TYPES[dtype], np.dtype(dtype).itemsize
        count = " * ".join(f"{ctx.sh(out)}[{d}]" for d in range(out.ndim)) or "1"
        lines = [f"int64_t nout = {count};",
                 f"char *best = {ctx.scratch_begin()};",
                 f"int64_t bst[{nd}] = {{0}}, ost[{nd}] = {{0}}, kst[{nd}] = {{0}}, cst[{max(out.ndim, 1)}] = {{0}};"]
        if out.ndim:
            lines.append(f"tl_contiguous({out.ndim}, {ctx.sh(out)}, 8, cst);")
        for i, d in enumerate(kept):  # the output is C-contiguous: best is it scaled by the itemsize
            lines.append(f"ost[{d}] = cst[{i}]; bst[{d}] = cst[{i}] / 8 * {isz};")
        # flat index over the reduced axes (C order among them)
        lines.append("int64_t kacc = 1;")
        for d in reversed(axes):
            lines.append(f"kst[{d}] = kacc; kacc *= {ctx.sh(x)}[{d}];")
        lines += [f"for (int64_t i = 0; i < nout; i++) {{ (({ct} *)best)[i] = {self._identity(dtype)}; "
                  f"((int64_t *){ctx.d(out)})[i] = 0; }}",
                  f"{ctx.kernel_name(node)}({ctx.sh(x)}, {ctx.d(x)}, {ctx.st(x)}, best, bst, {ctx.d(out)}, ost, kst);"]
        return _block(lines)


class ArgminC(ArgmaxC):
    pick = "min"


def register_entries(register: Callable[[type, Any], None]) -> None:
    from theanolite.tensor.reduction import Argmax, Argmin, Max, Min, Prod, ProdWithoutZeros, Sum
    register(Sum, SumC())
    register(Max, MaxC())
    register(Min, MinC())
    register(Prod, ProdC())
    register(ProdWithoutZeros, ProdWithoutZerosC())
    register(Argmax, ArgmaxC())
    register(Argmin, ArgminC())
