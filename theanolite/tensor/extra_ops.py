"""numpy-style array functions: cumulative ops, ``diff``, ``repeat``, ``nonzero``,
``bincount``, ``unique``; re-exports ``sort``/``argsort`` (``tensor/sort.py``) and the
diagonal functions ``diag``, ``diagonal``, ``trace``, ``fill_diagonal`` (``tensor/diag_ops.py``).

Each linear op's gradient is its adjoint, written as a small Op whose own gradient is
the original op again, so derivatives of any order exist. Ops whose output shape
depends on the data (``nonzero``, ``bincount``, ``unique``) define no ``infer_shape``:
their shapes are only known after they run.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op
from theanolite.scalar.basic import discrete_dtypes, int_dtypes, uint_dtypes
from theanolite.tensor import math as tm
from theanolite.tensor.basic import (NotScalarConstantError, as_tensor_variable, cast,
                                     get_scalar_constant_value, zeros_like)
from theanolite.tensor.diag_ops import (AllocDiag, ExtractDiag, FillDiagonal,  # noqa: F401 (re-exported)
                                        FillDiagonalOffset, alloc_diag, diag, diagonal,
                                        extract_diag, fill_diagonal, fill_diagonal_offset, trace)
from theanolite.tensor.sort import ArgSortOp, SortOp, argsort, sort  # noqa: F401 (re-exported)
from theanolite.tensor.type import TensorType

__all__ = [
    "CumOp", "cumsum", "cumprod", "DiffOp", "diff", "RepeatOp", "repeat", "SortOp", "ArgSortOp",
    "sort", "argsort", "ExtractDiag", "AllocDiag", "extract_diag", "alloc_diag", "diag",
    "diagonal", "trace", "Nonzero", "nonzero", "flatnonzero", "FillDiagonal", "fill_diagonal",
    "FillDiagonalOffset", "fill_diagonal_offset", "BinCount", "bincount", "Unique", "unique",
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


def _prod(dims: Sequence[Any]) -> Any:
    return functools.reduce(lambda a, b: a * b, dims, 1) if dims else 1


def _rsum(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    from theanolite.tensor.reduction import sum as tsum
    return tsum(x, axis=axis, keepdims=keepdims)


def _reshape_like(v: Variable, like: Variable) -> Variable:
    from theanolite.tensor.shape_ops import reshape
    return reshape(v, like.shape, ndim=like.ndim)


# ----------------------------------------------------------------------------- cumsum / cumprod

class CumOp(Op):
    """Cumulative sum (``mode='add'``) or product (``'mul'``) along ``axis``; None means
    along the flattened input (a vector result). ``reverse`` accumulates from the end
    (the adjoint of the forward cumulative sum)."""

    __props__ = ("axis", "mode", "reverse")

    def __init__(self, axis: int | None = None, mode: str = "add", reverse: bool = False) -> None:
        if mode not in ("add", "mul"):
            raise ValueError(f"CumOp: mode must be 'add' or 'mul', got {mode!r}")
        self.axis = None if axis is None else int(axis)
        self.mode, self.reverse = mode, bool(reverse)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        dtype = "int64" if x.dtype == "bool" else x.dtype
        if self.axis is None:
            return Apply(self, [x], [TensorType(dtype, (False,))()])
        _norm_axis(self, self.axis, x.ndim)
        return Apply(self, [x], [TensorType(dtype, x.broadcastable)()])

    def infer_shape(self, fgraph, node, input_shapes):
        if self.axis is None:
            return [(_prod(list(input_shapes[0])),)]
        return [tuple(input_shapes[0])]

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        axis = 0 if self.axis is None else self.axis
        if self.axis is None:
            x = x.reshape(-1)
        fn = np.cumsum if self.mode == "add" else np.cumprod
        dtype = node.outputs[0].dtype
        if self.reverse:
            out = np.flip(fn(np.flip(x, axis), axis=axis, dtype=dtype), axis)
        else:
            out = fn(x, axis=axis, dtype=dtype)
        output_storage[0][0] = np.ascontiguousarray(out)

    def L_op(self, inputs, outputs, output_grads):
        x, g = inputs[0], output_grads[0]
        if x.dtype in discrete_dtypes:
            return [_float_zeros(x)]
        back = CumOp(self.axis, "add", not self.reverse)
        if self.mode == "add":
            gx = back(g)
        else:
            # d prod_{j<=i} x_j / d x_k = prod_{j<=i} x_j / x_k: undefined where x_k == 0.
            gx = back(outputs[0] * g)
        if self.axis is None:
            gx = _reshape_like(gx, x)
        return [gx / x if self.mode == "mul" else gx]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        if self.mode == "add":
            return [self(eval_points[0])]
        x = inputs[0]
        return [self(x) * CumOp(self.axis, "add", self.reverse)(eval_points[0] / x)]

    def __str__(self) -> str:
        return f"CumOp{{{self.axis}, {self.mode}{', reverse' if self.reverse else ''}}}"


def cumsum(x: Any, axis: int | None = None) -> Variable:
    """Cumulative sum of ``x`` along ``axis`` (flattened when None), as ``numpy.cumsum``."""
    return CumOp(axis, "add")(x)


def cumprod(x: Any, axis: int | None = None) -> Variable:
    """Cumulative product of ``x`` along ``axis`` (flattened when None). Its gradient
    divides by ``x``, so it is not defined where ``x`` is 0 (as in Theano)."""
    return CumOp(axis, "mul")(x)


# ----------------------------------------------------------------------------- diff

def _moved(a: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(a, axis, 0)


class DiffOp(Op):
    """``numpy.diff(x, n, axis)``: the n-th discrete difference along ``axis``."""

    __props__ = ("n", "axis")

    def __init__(self, n: int = 1, axis: int = -1) -> None:
        if int(n) != n or n < 0:
            raise ValueError(f"diff: n must be a non-negative integer, got {n!r}")
        self.n, self.axis = int(n), int(axis)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        axis = _norm_axis(self, self.axis, x.ndim)
        bcast = list(x.broadcastable)
        if self.n:
            bcast[axis] = False
        return Apply(self, [x], [TensorType(x.dtype, bcast)()])

    def infer_shape(self, fgraph, node, input_shapes):
        shp = list(input_shapes[0])
        axis = self.axis % len(shp)
        if self.n:
            shp[axis] = tm.maximum(shp[axis] - self.n, 0)
        return [tuple(shp)]

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        out = np.diff(x, self.n, axis=self.axis) if self.n else x.copy()
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        x = inputs[0]
        if x.dtype in discrete_dtypes:
            return [_float_zeros(x)]
        return [DiffAdjoint(self.n, self.axis % x.ndim)(output_grads[0], x)]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


class DiffAdjoint(Op):
    """The transpose of ``DiffOp(n, axis)``: maps a gradient of the difference back to the
    shape of ``like`` (only its shape is read)."""

    __props__ = ("n", "axis")

    def __init__(self, n: int, axis: int) -> None:
        self.n, self.axis = int(n), int(axis)

    def make_node(self, g: Any, like: Any) -> Apply:
        g, like = as_tensor_variable(g), as_tensor_variable(like)
        if g.ndim != like.ndim:
            raise TypeError(f"{self}: gradient and input ranks differ ({g.ndim} vs {like.ndim})")
        return Apply(self, [g, like], [TensorType(g.dtype, like.broadcastable)()])

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[1])]

    def perform(self, node, inputs, output_storage):
        g, like = inputs
        lengths = [like.shape[self.axis]]
        for _ in range(self.n):
            lengths.append(max(lengths[-1] - 1, 0))
        cur = _moved(g, self.axis)
        for k in range(self.n, 0, -1):
            # One step of the transpose: length lengths[k] -> lengths[k-1].
            nxt = np.zeros((lengths[k - 1],) + cur.shape[1:], dtype=g.dtype)
            if lengths[k - 1]:
                nxt[:-1] -= cur
                nxt[1:] += cur
            cur = nxt
        output_storage[0][0] = np.ascontiguousarray(np.moveaxis(cur, 0, self.axis), dtype=g.dtype)

    def L_op(self, inputs, outputs, output_grads):
        return [DiffOp(self.n, self.axis)(output_grads[0]), _disconnected()]

    def connection_pattern(self, node):
        return [[True], [False]]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0], inputs[1])]


def diff(x: Any, n: int = 1, axis: int = -1) -> Variable:
    """The ``n``-th discrete difference of ``x`` along ``axis`` (``numpy.diff``)."""
    return DiffOp(n, axis)(x)


# ----------------------------------------------------------------------------- repeat

def _repeats_var(op: Op, repeats: Any) -> Variable:
    repeats = as_tensor_variable(repeats)
    if repeats.dtype not in _INT_DTYPES:
        raise TypeError(f"{op}: repeats must be integers, got {repeats} of dtype {repeats.dtype}")
    if repeats.ndim > 1:
        raise ValueError(f"{op}: repeats must be a scalar or a vector, got {repeats.ndim} dimensions")
    return repeats


class RepeatOp(Op):
    """``numpy.repeat(x, repeats, axis)``; ``repeats`` is an int scalar or one count per
    element along ``axis`` (of the flattened input when ``axis`` is None)."""

    __props__ = ("axis",)

    def __init__(self, axis: int | None = None) -> None:
        self.axis = None if axis is None else int(axis)

    def make_node(self, x: Any, repeats: Any) -> Apply:
        x = as_tensor_variable(x)
        repeats = _repeats_var(self, repeats)
        if self.axis is None:
            bcast: Sequence[bool] = (False,)
        else:
            axis = _norm_axis(self, self.axis, x.ndim)
            try:
                one = repeats.ndim == 0 and int(get_scalar_constant_value(repeats)) == 1
            except NotScalarConstantError:
                one = False
            bcast = list(x.broadcastable)
            if not one:
                bcast[axis] = False
        return Apply(self, [x, repeats], [TensorType(x.dtype, bcast)()])

    def infer_shape(self, fgraph, node, input_shapes):
        repeats = node.inputs[1]
        shp = list(input_shapes[0])
        if self.axis is None:
            n = _prod(shp)
            return [(n * repeats if repeats.ndim == 0 else _rsum(repeats),)]
        axis = self.axis % len(shp)
        total = shp[axis] * repeats if repeats.ndim == 0 else _rsum(repeats)
        shp[axis] = cast(total, "int64")
        return [tuple(shp)]

    def perform(self, node, inputs, output_storage):
        x, repeats = inputs
        try:
            out = np.repeat(x, repeats, axis=self.axis)
        except ValueError as exc:
            raise ValueError(f"{self}: cannot repeat an input of shape {x.shape} with repeats of "
                             f"shape {np.shape(repeats)} (values must be non-negative and one "
                             f"per element along the axis): {exc}") from None
        output_storage[0][0] = out

    def L_op(self, inputs, outputs, output_grads):
        x, repeats = inputs
        gx = _float_zeros(x) if x.dtype in discrete_dtypes else \
            RepeatGrad(self.axis)(output_grads[0], x, repeats)
        return [gx, _disconnected()]

    def connection_pattern(self, node):
        return [[True], [False]]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0], inputs[1])]


class RepeatGrad(Op):
    """The transpose of ``RepeatOp(axis)``: sums each group of repeated entries of ``g``
    back into one entry shaped like ``like``."""

    __props__ = ("axis",)

    def __init__(self, axis: int | None) -> None:
        self.axis = None if axis is None else int(axis)

    def make_node(self, g: Any, like: Any, repeats: Any) -> Apply:
        g, like = as_tensor_variable(g), as_tensor_variable(like)
        repeats = _repeats_var(self, repeats)
        return Apply(self, [g, like, repeats], [TensorType(g.dtype, like.broadcastable)()])

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[1])]

    def perform(self, node, inputs, output_storage):
        g, like, repeats = inputs
        axis = 0 if self.axis is None else self.axis % like.ndim
        n = like.size if self.axis is None else like.shape[axis]
        counts = np.broadcast_to(np.asarray(repeats, dtype="int64"), (n,))
        gm = _moved(g, axis)
        out = np.zeros((n,) + gm.shape[1:], dtype=g.dtype)
        live = counts > 0
        if live.any():
            starts = np.cumsum(counts) - counts
            # Groups are contiguous in g; empty groups get no slice and stay 0.
            out[live] = np.add.reduceat(gm, starts[live], axis=0)
        if self.axis is None:
            out = out.reshape(like.shape)
        else:
            out = np.moveaxis(out, 0, axis)
        output_storage[0][0] = np.ascontiguousarray(out)

    def L_op(self, inputs, outputs, output_grads):
        return [RepeatOp(self.axis)(output_grads[0], inputs[2]), _disconnected(), _disconnected()]

    def connection_pattern(self, node):
        return [[True], [False], [False]]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0], *inputs[1:])]


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Variable:
    """Repeat the elements of ``x`` (``numpy.repeat``); flattened when ``axis`` is None."""
    return RepeatOp(axis)(x, repeats)


# ----------------------------------------------------------------------------- nonzero

class Nonzero(Op):
    """Indices of the nonzero entries of ``a`` (int64). ``mode`` is ``'tuple'`` (one vector
    per dimension), ``'matrix'`` (those vectors stacked, ndim x nnz) or ``'flat'`` (indices
    into the flattened input). Output lengths depend on the data: no ``infer_shape``."""

    __props__ = ("mode",)

    def __init__(self, mode: str = "tuple") -> None:
        if mode not in ("tuple", "matrix", "flat"):
            raise ValueError(f"Nonzero: mode must be 'tuple', 'matrix' or 'flat', got {mode!r}")
        self.mode = mode

    def make_node(self, a: Any) -> Apply:
        a = as_tensor_variable(a)
        if a.ndim == 0:
            raise ValueError(f"{self}: nonzero only supports non-scalar arrays, got a scalar {a}")
        if self.mode == "matrix":
            outs = [TensorType("int64", (False, False))()]
        elif self.mode == "flat":
            outs = [TensorType("int64", (False,))()]
        else:
            outs = [TensorType("int64", (False,))() for _ in range(a.ndim)]
        return Apply(self, [a], outs)

    def perform(self, node, inputs, output_storage):
        a = inputs[0]
        if self.mode == "flat":
            output_storage[0][0] = np.flatnonzero(a).astype("int64")
            return
        idx = np.nonzero(a)
        if self.mode == "matrix":
            output_storage[0][0] = np.array(idx, dtype="int64").reshape(a.ndim, -1)
            return
        for cell, ix in zip(output_storage, idx):
            cell[0] = ix.astype("int64")

    def L_op(self, inputs, outputs, output_grads):
        return [_disconnected()]

    def connection_pattern(self, node):
        return [[False] * len(node.outputs)]

    def R_op(self, inputs, eval_points):
        return [None] * (inputs[0].ndim if self.mode == "tuple" else 1)


def nonzero(a: Any, return_matrix: bool = False) -> Any:
    """Indices of the nonzero elements: a tuple of vectors, one per dimension, or with
    ``return_matrix`` an (ndim, nnz) matrix."""
    node = Nonzero("matrix" if return_matrix else "tuple").make_node(a)
    return node.outputs[0] if return_matrix else tuple(node.outputs)


def flatnonzero(a: Any) -> Variable:
    """Indices of the nonzero elements of the flattened ``a``."""
    return Nonzero("flat")(a)


# ----------------------------------------------------------------------------- bincount / unique

class BinCount(Op):
    """``numpy.bincount``: occurrences of each value of the non-negative int vector ``x``
    (or the sum of ``weights`` per value). The length is ``max(max(x) + 1, minlength)``.
    The result has ``x``'s dtype, or ``weights``' dtype when weights are given (Theano's
    rule)."""

    __props__ = ("minlength",)

    def __init__(self, minlength: int | None = None) -> None:
        self.minlength = None if minlength is None else int(minlength)

    def make_node(self, x: Any, weights: Any = None) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != 1 or x.dtype not in _INT_DTYPES:
            raise TypeError(f"{self}: x must be an integer vector, got {x} of type {x.type}")
        ins = [x]
        dtype = x.dtype
        if weights is not None:
            weights = as_tensor_variable(weights)
            if weights.ndim != 1:
                raise TypeError(f"{self}: weights must be a vector, got {weights.type}")
            ins.append(weights)
            dtype = weights.dtype
        return Apply(self, ins, [TensorType(dtype, (False,))()])

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        weights = inputs[1] if len(inputs) > 1 else None
        if x.size and x.min() < 0:
            raise ValueError(f"{self}: x holds the negative value {x.min()}; bincount counts "
                             "non-negative integers only")
        if weights is not None and weights.shape != x.shape:
            raise ValueError(f"{self}: weights have shape {weights.shape} but x has {x.shape}")
        out = np.bincount(x.astype("int64"), weights, minlength=self.minlength or 0)
        output_storage[0][0] = out.astype(node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        if len(inputs) == 1:
            return [_disconnected()]
        # d out[x[i]] / d weights[i] = 1: gather the output gradient at x.
        return [_disconnected(), output_grads[0][inputs[0]]]

    def connection_pattern(self, node):
        return [[False]] + [[True]] * (len(node.inputs) - 1)


def bincount(x: Any, weights: Any = None, minlength: int | None = None,
             assert_nonneg: bool = False) -> Variable:
    """Count each value of the non-negative int vector ``x`` (``numpy.bincount``).

    Negative values always raise ValueError (``assert_nonneg`` is accepted for Theano
    compatibility)."""
    return BinCount(minlength)(x, weights) if weights is not None else BinCount(minlength)(x)


class Unique(Op):
    """``numpy.unique``: the sorted distinct values (over the flattened input, or the
    distinct slices along ``axis``), optionally with first indices, the inverse map and
    counts (int64). The inverse is a vector for ``axis=None``, as in Theano."""

    __props__ = ("return_index", "return_inverse", "return_counts", "axis")

    def __init__(self, return_index: bool = False, return_inverse: bool = False,
                 return_counts: bool = False, axis: int | None = None) -> None:
        self.return_index, self.return_inverse = bool(return_index), bool(return_inverse)
        self.return_counts = bool(return_counts)
        self.axis = None if axis is None else int(axis)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.axis is None:
            outs = [TensorType(x.dtype, (False,))()]
        else:
            axis = _norm_axis(self, self.axis, x.ndim)
            outs = [TensorType(x.dtype, [False if d == axis else b for d, b in enumerate(x.broadcastable)])()]
        n_extra = self.return_index + self.return_inverse + self.return_counts
        outs += [TensorType("int64", (False,))() for _ in range(n_extra)]
        return Apply(self, [x], outs)

    def perform(self, node, inputs, output_storage):
        results = np.unique(inputs[0], return_index=self.return_index,
                            return_inverse=self.return_inverse, return_counts=self.return_counts,
                            axis=self.axis)
        if not isinstance(results, tuple):
            results = (results,)
        output_storage[0][0] = np.asarray(results[0])
        for cell, value in zip(output_storage[1:], results[1:]):
            cell[0] = np.asarray(value, dtype="int64").reshape(-1)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import grad_not_implemented
        return [grad_not_implemented(self, 0, inputs[0])]


def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None) -> Any:
    """Sorted distinct values of ``ar`` (``numpy.unique``); a list of variables when any of
    the ``return_*`` flags is set."""
    return Unique(return_index, return_inverse, return_counts, axis)(ar)
