"""C for ``Shape_i`` and ``Shape`` (theanolite/tensor/basic.py): the segment already has
every shape in ``sh<k>``, so these nodes copy numbers and never read their input's data.

Keeping them in C matters beyond their own cost: a ``Shape_i`` between two C nodes (the
batch size of a mean, say) would otherwise split a segment in two.
"""
from __future__ import annotations

from typing import Any, Callable

from theanolite.ccodegen.elemwise_c import _block
from theanolite.ccodegen.scalar_c import C_TYPES
from theanolite.graph.basic import Apply
from theanolite.ccodegen.registry import CEntry


class _ShapeEntry(CEntry):
    version = (1,)

    def supports(self, node: Apply) -> bool:
        return node.inputs[0].type.dtype in C_TYPES and node.outputs[0].type.dtype == "int64"

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        return ""


class ShapeIC(_ShapeEntry):
    """``Shape_i(i)(x)``: ``x.shape[i]`` as an int64 scalar."""

    def shape_code(self, node: Apply, ctx: Any) -> str:
        return ""  # a 0-d output: nothing to size

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        return f"*(int64_t *){ctx.d(out)} = {ctx.sh(x)}[{node.op.i}];"


class ShapeC(_ShapeEntry):
    """``Shape()(x)``: ``x.shape`` as an int64 vector of length ``x.ndim``."""

    def shape_code(self, node: Apply, ctx: Any) -> str:
        return f"{ctx.sh(node.outputs[0])}[0] = {node.inputs[0].ndim};"

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        return _block([f"*(int64_t *)({ctx.d(out)} + {d} * {ctx.st(out)}[0]) = {ctx.sh(x)}[{d}];"
                       for d in range(x.ndim)])


def register_entries(register: Callable[[type, Any], None]) -> None:
    from theanolite.tensor.basic import Shape, Shape_i
    register(Shape_i, ShapeIC())
    register(Shape, ShapeC())
