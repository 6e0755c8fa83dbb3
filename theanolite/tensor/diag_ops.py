"""Diagonals: ``diagonal``/``extract_diag``, ``diag``, ``alloc_diag``, ``trace``,
``fill_diagonal`` and ``fill_diagonal_offset`` (re-exported by ``extra_ops``).

Extraction and placement on a diagonal are each other's transpose, so each one's
gradient is the other and derivatives of any order exist.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op
from theanolite.scalar.basic import discrete_dtypes, int_dtypes, uint_dtypes
from theanolite.tensor import math as tm
from theanolite.tensor.basic import as_tensor_variable, cast, constant, zeros_like
from theanolite.tensor.type import TensorType

__all__ = [
    "ExtractDiag", "DiagScatter", "AllocDiag", "extract_diag", "alloc_diag", "diag", "diagonal",
    "trace", "FillDiagonal", "FillDiagonalOffset", "OffsetDiagSum", "fill_diagonal",
    "fill_diagonal_offset",
]

_INT_DTYPES = int_dtypes + uint_dtypes


def _disconnected() -> Variable:
    from theanolite.gradient import DisconnectedType
    return DisconnectedType()()


def _float_zeros(x: Variable) -> Variable:
    # Integer inputs get zero gradients of floatX, as Elemwise gives them.
    from theanolite.configparser import config
    return zeros_like(x, dtype=config.floatX)


def _norm_axis(op: Any, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of bounds for a {ndim}-d input")
    return axis % ndim


def _rsum(x: Any, axis: Any = None) -> Variable:
    from theanolite.tensor.reduction import sum as tsum
    return tsum(x, axis=axis)


# ----------------------------------------------------------------------------- diagonals

def _diag_len(offset: int, rows: Any, cols: Any) -> Any:
    if offset >= 0:
        return tm.maximum(tm.minimum(rows, cols - offset), 0)
    return tm.maximum(tm.minimum(rows + offset, cols), 0)


def _diag_index(offset: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(n)
    return i + max(-offset, 0), i + max(offset, 0)


class ExtractDiag(Op):
    """``numpy.diagonal(x, offset, axis1, axis2)`` as a copy: the two axes are removed and
    the diagonal becomes the last axis."""

    __props__ = ("offset", "axis1", "axis2")

    def __init__(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> None:
        self.offset, self.axis1, self.axis2 = int(offset), int(axis1), int(axis2)

    def _axes(self, ndim: int) -> tuple[int, int]:
        if ndim < 2:
            raise ValueError(f"{self}: the input must have at least 2 dimensions, got {ndim}")
        a1, a2 = _norm_axis(self, self.axis1, ndim), _norm_axis(self, self.axis2, ndim)
        if a1 == a2:
            raise ValueError(f"{self}: axis1 and axis2 are the same axis ({a1})")
        return a1, a2

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        a1, a2 = self._axes(x.ndim)
        bcast = [b for d, b in enumerate(x.broadcastable) if d not in (a1, a2)] + [False]
        return Apply(self, [x], [TensorType(x.dtype, bcast)()])

    def infer_shape(self, fgraph, node, input_shapes):
        shp = list(input_shapes[0])
        a1, a2 = self._axes(len(shp))
        rest = [s for d, s in enumerate(shp) if d not in (a1, a2)]
        return [tuple(rest) + (_diag_len(self.offset, shp[a1], shp[a2]),)]

    def perform(self, node, inputs, output_storage):
        out = np.diagonal(inputs[0], self.offset, self.axis1, self.axis2)
        output_storage[0][0] = out.copy()

    def L_op(self, inputs, outputs, output_grads):
        x = inputs[0]
        if x.dtype in discrete_dtypes:
            return [_float_zeros(x)]
        return [DiagScatter(self.offset, self.axis1, self.axis2)(output_grads[0], x)]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


class DiagScatter(Op):
    """The transpose of ``ExtractDiag``: zeros shaped like ``like`` with ``d`` (diagonal
    on its last axis) written on the chosen diagonal."""

    __props__ = ("offset", "axis1", "axis2")

    def __init__(self, offset: int, axis1: int, axis2: int) -> None:
        self.offset, self.axis1, self.axis2 = int(offset), int(axis1), int(axis2)

    def make_node(self, d: Any, like: Any) -> Apply:
        d, like = as_tensor_variable(d), as_tensor_variable(like)
        if d.ndim != like.ndim - 1:
            raise TypeError(f"{self}: a {like.ndim}-d input has a {like.ndim - 1}-d diagonal, got {d.type}")
        return Apply(self, [d, like], [TensorType(d.dtype, like.broadcastable)()])

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[1])]

    def perform(self, node, inputs, output_storage):
        d, like = inputs
        out = np.zeros(like.shape, dtype=d.dtype)
        view = np.moveaxis(out, [self.axis1, self.axis2], [-2, -1])
        rows, cols = _diag_index(self.offset, d.shape[-1])
        view[..., rows, cols] = d
        output_storage[0][0] = out

    def L_op(self, inputs, outputs, output_grads):
        return [ExtractDiag(self.offset, self.axis1, self.axis2)(output_grads[0]), _disconnected()]

    def connection_pattern(self, node):
        return [[True], [False]]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0], inputs[1])]


class AllocDiag(Op):
    """A tensor of zeros with ``v``'s last axis on its ``offset`` diagonal of the new axes
    ``axis1``/``axis2`` (a vector gives a square matrix, as ``numpy.diag``)."""

    __props__ = ("offset", "axis1", "axis2")

    def __init__(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> None:
        self.offset, self.axis1, self.axis2 = int(offset), int(axis1), int(axis2)

    def _axes(self, out_ndim: int) -> tuple[int, int]:
        a1, a2 = _norm_axis(self, self.axis1, out_ndim), _norm_axis(self, self.axis2, out_ndim)
        if a1 == a2:
            raise ValueError(f"{self}: axis1 and axis2 are the same axis ({a1})")
        return a1, a2

    def make_node(self, v: Any) -> Apply:
        v = as_tensor_variable(v)
        if v.ndim < 1:
            raise ValueError(f"{self}: the input must have at least 1 dimension, got a scalar {v}")
        self._axes(v.ndim + 1)
        return Apply(self, [v], [TensorType(v.dtype, (False,) * (v.ndim + 1))()])

    def infer_shape(self, fgraph, node, input_shapes):
        shp = list(input_shapes[0])
        a1, a2 = self._axes(len(shp) + 1)
        m = shp[-1] + abs(self.offset)
        rest = iter(shp[:-1])
        return [tuple(m if d in (a1, a2) else next(rest) for d in range(len(shp) + 1))]

    def perform(self, node, inputs, output_storage):
        v = inputs[0]
        n = v.shape[-1]
        m = n + abs(self.offset)
        out = np.zeros(v.shape[:-1] + (m, m), dtype=v.dtype)
        rows, cols = _diag_index(self.offset, n)
        out[..., rows, cols] = v
        a1, a2 = self._axes(v.ndim + 1)
        output_storage[0][0] = np.ascontiguousarray(np.moveaxis(out, [-2, -1], [a1, a2]))

    def L_op(self, inputs, outputs, output_grads):
        v = inputs[0]
        if v.dtype in discrete_dtypes:
            return [_float_zeros(v)]
        return [ExtractDiag(self.offset, self.axis1, self.axis2)(output_grads[0])]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


def extract_diag(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Variable:
    return ExtractDiag(offset, axis1, axis2)(x)


diagonal = extract_diag
diagonal.__doc__ = "The diagonal of ``x`` over ``axis1``/``axis2`` (``numpy.diagonal``, a copy)."


def alloc_diag(v: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Variable:
    return AllocDiag(offset, axis1, axis2)(v)


def diag(v: Any, k: int = 0) -> Variable:
    """``numpy.diag``: a vector becomes a diagonal matrix, a matrix gives its diagonal."""
    v = as_tensor_variable(v)
    if v.ndim == 1:
        return AllocDiag(k)(v)
    if v.ndim >= 2:
        return ExtractDiag(k)(v)
    raise ValueError(f"diag: the input must be a vector or a matrix, got a scalar {v}")


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Variable:
    """Sum of the diagonal (``numpy.trace``)."""
    return _rsum(ExtractDiag(offset, axis1, axis2)(a), axis=-1)


# ----------------------------------------------------------------------------- fill_diagonal

def _fill_value(op: Op, a: Variable, val: Any) -> Variable:
    val = as_tensor_variable(val)
    if val.ndim != 0:
        raise TypeError(f"{op}: the value must be a scalar, got {val} of type {val.type}")
    from theanolite.scalar.basic import upcast
    if upcast(a.dtype, val.dtype) != a.dtype:
        raise TypeError(f"{op}: the value's dtype {val.dtype} does not fit the array's dtype "
                        f"{a.dtype} without loss; cast it first")
    return cast(val, a.dtype)


class FillDiagonal(Op):
    """A copy of ``a`` with its main diagonal set to the scalar ``val`` (numpy's
    ``fill_diagonal`` without wrap; beyond 2-d every dimension must have one length)."""

    __props__ = ()

    def make_node(self, a: Any, val: Any) -> Apply:
        a = as_tensor_variable(a)
        if a.ndim < 2:
            raise TypeError(f"{self}: the array must have at least 2 dimensions, got {a.type}")
        val = _fill_value(self, a, val)
        return Apply(self, [a, val], [a.type()])

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]

    def perform(self, node, inputs, output_storage):
        a, val = inputs
        if a.ndim > 2 and len(set(a.shape)) > 1:
            raise ValueError(f"{self}: every dimension of a {a.ndim}-d array must have the same "
                             f"length, got shape {a.shape}")
        out = a.copy()
        np.fill_diagonal(out, val)
        output_storage[0][0] = out

    def L_op(self, inputs, outputs, output_grads):
        a, val = inputs
        g = output_grads[0]
        if a.dtype in discrete_dtypes:
            return [_float_zeros(a), _float_zeros(val)]
        ga = self(g, constant(0, dtype=g.dtype))
        d = g
        for _ in range(a.ndim - 1):
            # Each extraction folds two axes into one; the last leaves g[i, i, ..., i].
            d = ExtractDiag(0, 0, 1)(d)
        return [ga, _rsum(d)]

    def R_op(self, inputs, eval_points):
        if all(e is None for e in eval_points):
            return [None]
        ea = eval_points[0] if eval_points[0] is not None else zeros_like(inputs[0])
        ev = eval_points[1] if eval_points[1] is not None else zeros_like(inputs[1])
        return [self(ea, cast(ev, inputs[0].dtype))]


fill_diagonal_ = FillDiagonal()


def fill_diagonal(a: Any, val: Any) -> Variable:
    """``a`` with its main diagonal replaced by the scalar ``val``."""
    return fill_diagonal_(a, val)


class FillDiagonalOffset(Op):
    """A copy of the matrix ``a`` with its ``offset`` diagonal set to ``val`` (positions
    as ``numpy.diagonal(a, offset)``; ``offset`` is an int scalar, maybe symbolic)."""

    __props__ = ()

    def make_node(self, a: Any, val: Any, offset: Any) -> Apply:
        a = as_tensor_variable(a)
        if a.ndim != 2:
            raise TypeError(f"{self}: the array must be a matrix, got {a.type}")
        val = _fill_value(self, a, val)
        offset = as_tensor_variable(offset)
        if offset.ndim != 0 or offset.dtype not in _INT_DTYPES:
            raise TypeError(f"{self}: offset must be an integer scalar, got {offset.type}")
        return Apply(self, [a, val, offset], [a.type()])

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]

    def perform(self, node, inputs, output_storage):
        a, val, offset = inputs
        out = a.copy()
        k = int(offset)
        n = max(0, min(a.shape[0], a.shape[1] - k) if k >= 0 else min(a.shape[0] + k, a.shape[1]))
        rows, cols = _diag_index(k, n)
        out[rows, cols] = val
        output_storage[0][0] = out

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import grad_undefined
        a, val, offset = inputs
        g = output_grads[0]
        undefined = grad_undefined(self, 2, offset, "the offset is an integer position")
        if a.dtype in discrete_dtypes:
            return [_float_zeros(a), _float_zeros(val), undefined]
        ga = self(g, constant(0, dtype=g.dtype), offset)
        return [ga, OffsetDiagSum()(g, offset), undefined]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None and eval_points[1] is None:
            return [None]
        ea = eval_points[0] if eval_points[0] is not None else zeros_like(inputs[0])
        ev = eval_points[1] if eval_points[1] is not None else zeros_like(inputs[1])
        return [self(ea, cast(ev, inputs[0].dtype), inputs[2])]


class OffsetDiagSum(Op):
    """Sum of the ``offset`` diagonal of a matrix (``offset`` a symbolic int scalar): the
    gradient of ``fill_diagonal_offset`` with respect to its value."""

    __props__ = ()

    def make_node(self, g: Any, offset: Any) -> Apply:
        g, offset = as_tensor_variable(g), as_tensor_variable(offset)
        return Apply(self, [g, offset], [TensorType(g.dtype, ())()])

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]

    def perform(self, node, inputs, output_storage):
        g, offset = inputs
        output_storage[0][0] = np.asarray(np.trace(g, int(offset)), dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        g, offset = inputs
        return [FillDiagonalOffset()(zeros_like(g), output_grads[0], offset), _disconnected()]

    def connection_pattern(self, node):
        return [[True], [False]]


def fill_diagonal_offset(a: Any, val: Any, offset: Any) -> Variable:
    """The matrix ``a`` with its ``offset`` diagonal replaced by the scalar ``val``."""
    return FillDiagonalOffset()(a, val, offset)
