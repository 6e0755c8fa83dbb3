"""C for ``Sum``, ``Max`` and ``Min`` over any set of axes (theanolite/tensor/reduction.py).

One kernel per node from ``reduce.c``: a single pass over the input in memory order,
accumulating into an array whose strides are 0 on the reduced axes. ``Sum`` accumulates in
the op's ``acc_dtype`` (in node scratch when it differs from the output dtype, then cast
like numpy's ``astype``); ``Max``/``Min`` keep the input dtype, propagate NaN and raise
perform's ValueError on an empty reduction. Float sums are reassociated (vectorized), so
they agree with numpy's pairwise summation to rounding, not bit for bit.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from theanolite.ccodegen import template
from theanolite.ccodegen.elemwise_c import _block
from theanolite.ccodegen.scalar_c import C_TYPES, _SUFFIX, c_literal, cast_expr
from theanolite.graph.basic import Apply


def _reduced(node: Apply) -> tuple[int, ...]:
    axis = node.op.axis
    return tuple(range(node.inputs[0].ndim)) if axis is None else tuple(axis)


class _ReduceC:
    version = (1,)
    kind = "sum"

    def node_version(self, node: Apply) -> tuple:
        return self.version

    def views(self, node: Apply) -> dict[int, int]:
        return {}

    def destroys(self, node: Apply) -> dict[int, int]:
        return {}

    def acc_dtype(self, node: Apply) -> str:
        return node.outputs[0].type.dtype

    def _identity(self, acc: str) -> str:
        if self.kind == "sum":  # +0.0, as numpy (its sum of [-0.0] is 0.0)
            return c_literal(0, acc)
        big = self.kind == "min"
        if np.dtype(acc).kind == "f":
            return f"(({C_TYPES[acc]}){'' if big else '-'}__builtin_inf())"
        info = np.iinfo(acc)
        return c_literal(info.max if big else info.min, acc)

    def _combine(self, acc: str) -> str:
        if self.kind == "sum":
            return "s + v" if acc == "bool" or np.dtype(acc).kind == "f" else f"tl_add_{_SUFFIX[acc]}(s, v)"
        return f"tl_{'max' if self.kind == 'max' else 'min'}_{_SUFFIX[acc]}(s, v)"

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        x = node.inputs[0]
        acc = self.acc_dtype(node)
        simd = "#pragma omp simd reduction(+:s)" if self.kind == "sum" else ""
        return template.fill(
            template.load("reduce.c"), name=name, comment=f"{node.op} ({x.type.dtype} -> {acc})",
            nd=str(max(x.ndim, 1)), acc_type=C_TYPES[acc], in_type=C_TYPES[x.type.dtype],
            simd_pragma=simd, combine=self._combine(acc))

    def shape_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        axes = _reduced(node)
        kept = [d for d in range(x.ndim) if d not in axes]
        lines = [f"{ctx.sh(out)}[{i}] = {ctx.sh(x)}[{d}];" for i, d in enumerate(kept)]
        if self.kind != "sum":
            count = " * ".join(f"{ctx.sh(x)}[{d}]" for d in axes) or "1"
            ufunc = "maximum" if self.kind == "max" else "minimum"
            lines.append(f"if (({count}) == 0) {{ snprintf(err, TL_ERRLEN, \"%s: cannot reduce an input "
                         f"of shape \", {ctx.op_literal(node)}); tl_append_shape(err, {x.ndim}, {ctx.sh(x)});"
                         f" size_t n_ = strlen(err); snprintf(err + n_, TL_ERRLEN - n_, \": zero-size array to "
                         f"reduction operation {ufunc} which has no identity\"); rc = TL_VALUE_ERROR; "
                         f"{ctx.fail_here()} }}")
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


def register_entries(register: Callable[[type, Any], None]) -> None:
    from theanolite.tensor.reduction import Max, Min, Sum
    register(Sum, SumC())
    register(Max, MaxC())
    register(Min, MinC())
