"""``sort`` and ``argsort`` (Theano's ``theano.tensor.sort``), re-exported by extra_ops.

Sorting permutes its input, so its gradient permutes the output gradient back:
``SortPermute`` applies the sorting permutation of ``x`` (gather) or its inverse
(scatter) to another tensor; the two modes are each other's transpose.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op
from theanolite.scalar.basic import discrete_dtypes
from theanolite.tensor.basic import as_tensor_variable, zeros_like
from theanolite.tensor.type import TensorType

__all__ = ["SortOp", "ArgSortOp", "SortPermute", "sort", "argsort"]

_KINDS = ("quicksort", "mergesort", "heapsort", "stable")


class _SortBase(Op):
    """Shared checks: ``axis`` None (sort the flattened input) or an int; numpy's kinds."""

    __props__ = ("axis", "kind")

    def __init__(self, axis: int | None = -1, kind: str = "quicksort") -> None:
        if kind not in _KINDS:
            raise ValueError(f"{type(self).__name__}: kind must be one of {_KINDS}, got {kind!r}")
        self.axis = None if axis is None else int(axis)
        self.kind = kind

    def _out_bcast(self, x: Variable) -> tuple[bool, ...]:
        if self.axis is None:
            return (False,)
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"{self}: axis {self.axis} is out of bounds for a {x.ndim}-d input "
                             "(use axis=None to sort the flattened input)")
        return x.broadcastable

    def infer_shape(self, fgraph, node, input_shapes):
        shp = list(input_shapes[0])
        if self.axis is None:
            total: Any = 1
            for s in shp:
                total = total * s
            return [(total,)]
        return [tuple(shp)]

    def _argsort(self, x: np.ndarray) -> np.ndarray:
        if self.axis is None:
            return np.argsort(x, axis=None, kind=self.kind)
        return np.argsort(x, axis=self.axis, kind=self.kind)


class SortOp(_SortBase):
    """``numpy.sort(x, axis, kind)``; the gradient scatters back through the permutation."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, self._out_bcast(x))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.sort(inputs[0], axis=self.axis, kind=self.kind)

    def L_op(self, inputs, outputs, output_grads):
        x = inputs[0]
        if x.dtype in discrete_dtypes:
            from theanolite.configparser import config
            return [zeros_like(x, dtype=config.floatX)]
        return [SortPermute(self.axis, self.kind, scatter=True)(x, output_grads[0])]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [SortPermute(self.axis, self.kind, scatter=False)(inputs[0], eval_points[0])]

    def __str__(self) -> str:
        return f"SortOp{{{self.kind}, axis={self.axis}}}"


class ArgSortOp(_SortBase):
    """``numpy.argsort(x, axis, kind)`` as int64; not differentiable (integer output)."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", self._out_bcast(x))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = self._argsort(inputs[0]).astype("int64")

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        return [DisconnectedType()()]

    def connection_pattern(self, node):
        return [[False]]

    def R_op(self, inputs, eval_points):
        return [None]

    def __str__(self) -> str:
        return f"ArgSortOp{{{self.kind}, axis={self.axis}}}"


class SortPermute(_SortBase):
    """Apply the permutation that sorts ``x`` to ``h``: gather (``h`` shaped like ``x``,
    result shaped like ``sort(x)``) or, with ``scatter``, its inverse (``h`` shaped like
    ``sort(x)``, result shaped like ``x``). The permutation is locally constant in ``x``,
    so the gradient with respect to ``x`` is zero."""

    __props__ = ("axis", "kind", "scatter")

    def __init__(self, axis: int | None, kind: str, scatter: bool) -> None:
        super().__init__(axis, kind)
        self.scatter = bool(scatter)

    def make_node(self, x: Any, h: Any) -> Apply:
        x, h = as_tensor_variable(x), as_tensor_variable(h)
        bcast = x.broadcastable if self.scatter else self._out_bcast(x)
        return Apply(self, [x, h], [TensorType(h.dtype, bcast)()])

    def infer_shape(self, fgraph, node, input_shapes):
        if self.scatter:
            return [tuple(input_shapes[0])]
        return super().infer_shape(fgraph, node, input_shapes)

    def perform(self, node, inputs, output_storage):
        x, h = inputs
        idx = self._argsort(x)
        if self.axis is None:
            if self.scatter:
                flat = np.zeros(x.size, dtype=h.dtype)
                flat[idx] = h.reshape(-1)
                out = flat.reshape(x.shape)
            else:
                out = h.reshape(-1)[idx]
        elif self.scatter:
            out = np.zeros(x.shape, dtype=h.dtype)
            np.put_along_axis(out, idx, h, axis=self.axis)
        else:
            out = np.take_along_axis(h, idx, axis=self.axis)
        output_storage[0][0] = np.ascontiguousarray(out)

    def L_op(self, inputs, outputs, output_grads):
        x = inputs[0]
        back = SortPermute(self.axis, self.kind, not self.scatter)(x, output_grads[0])
        return [zeros_like(x) if x.dtype not in discrete_dtypes else _disconnected(), back]

    def R_op(self, inputs, eval_points):
        if eval_points[1] is None:
            return [None]
        return [self(inputs[0], eval_points[1])]

    def __str__(self) -> str:
        return f"SortPermute{{{'scatter' if self.scatter else 'gather'}, axis={self.axis}}}"


def _disconnected() -> Variable:
    from theanolite.gradient import DisconnectedType
    return DisconnectedType()()


def sort(a: Any, axis: int | None = -1, kind: str = "quicksort", order: Any = None) -> Variable:
    """A sorted copy of ``a`` along ``axis`` (of the flattened ``a`` when None)."""
    if order is not None:
        raise ValueError("sort: order= applies to structured arrays, which tensors are not")
    return SortOp(axis, kind)(a)


def argsort(a: Any, axis: int | None = -1, kind: str = "quicksort", order: Any = None) -> Variable:
    """The int64 indices that sort ``a`` along ``axis`` (of the flattened ``a`` when None)."""
    if order is not None:
        raise ValueError("argsort: order= applies to structured arrays, which tensors are not")
    return ArgSortOp(axis, kind)(a)
