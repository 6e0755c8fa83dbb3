"""Structural tensor ops: reshape, flatten, squeeze, padding, specify_shape, join /
concatenate / stack, split and roll (Theano names and semantics).

Primitives are ``Reshape``, ``SpecifyShape``, ``Join`` and ``Split``; ``flatten``,
``stack`` and ``roll`` are compositions of them (their gradients come for free).
The ops that create tensors from shapes (``alloc``, ``zeros``, ``eye``, ``arange``,
``tile``, ...) live in ``alloc_ops`` and are re-exported here.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from theanolite.configparser import config
from theanolite.graph.basic import Apply, Constant, Variable
from theanolite.graph.op import Op
from theanolite.scalar import basic as scal
from theanolite.tensor import alloc_ops
from theanolite.tensor.alloc_ops import *  # noqa: F401,F403
from theanolite.tensor.alloc_ops import (MakeVector, as_int_scalar, as_int_vector,
                                         constant_entries, get_vector_length, vector_entries)
from theanolite.tensor.basic import (Shape_i, as_tensor_variable, cast, constant,
                                     patternbroadcast, shape_i, zeros_like)
from theanolite.tensor.elemwise import DimShuffle, Elemwise
from theanolite.tensor.math import eq, int_div, lt, maximum, mul, switch
from theanolite.tensor.type import TensorType
from theanolite.tensor.var import TensorVariable

__all__ = list(alloc_ops.__all__) + [
    "Reshape", "reshape", "flatten", "squeeze", "shape_padleft", "shape_padright",
    "shape_padaxis", "SpecifyShape", "specify_shape", "Join", "join", "concatenate", "stack",
    "Split", "split", "horizontal_stack", "vertical_stack", "roll",
]

AxisError = np.exceptions.AxisError  # both an IndexError and a ValueError, as in numpy


def _disconnected() -> Variable:
    from theanolite.gradient import DisconnectedType
    return DisconnectedType()()


def _float_zeros(x: Variable) -> Variable:
    return zeros_like(x, dtype=config.floatX)


def _shape_of(x: Variable) -> list[TensorVariable]:
    """``x``'s shape as int64 scalars; broadcastable dims are the constant 1."""
    return [shape_i(x, d) for d in range(x.ndim)]


def _prod(items: Sequence[Any]) -> Any:
    result: Any = 1
    for item in items:
        both_int = isinstance(result, int) and isinstance(item, int)
        result = result * item if both_int else mul(result, item)
    return result


def _normalize_axis(axis: int, ndim: int, opname: str) -> int:
    if not -ndim <= axis < ndim:
        raise AxisError(axis, ndim, opname)
    return axis % ndim if ndim else axis


def _as_axis(axis: Any, ndim: int, opname: str) -> tuple[TensorVariable, int | None]:
    """(axis as an int64 scalar, its normalized value when known at build time)."""
    var = as_int_scalar(axis, "axis", opname)
    if isinstance(var, Constant):
        value = _normalize_axis(int(var.data), ndim, opname)
        return constant(value, dtype="int64"), value
    return var, None


def _dim_at(x: Variable, axis_var: Variable, axis: int | None) -> TensorVariable:
    """Length of ``x`` along ``axis`` (symbolic axes pick among the dims with switch)."""
    if axis is not None:
        return shape_i(x, axis)
    axis_n = _nonneg_axis(axis_var, x.ndim)
    result = shape_i(x, x.ndim - 1)
    for d in range(x.ndim - 2, -1, -1):
        result = switch(eq(axis_n, d), shape_i(x, d), result)
    return result


def _nonneg_axis(axis_var: Variable, ndim: int) -> TensorVariable:
    return switch(lt(axis_var, 0), axis_var + ndim, axis_var)


# ----------------------------------------------------------------------------- Reshape

class Reshape(Op):
    """``x`` with a new shape of ``ndim`` dims (one entry may be -1); returns a view.

    The shape is an int64 vector; output dims whose entry is the constant 1 are
    broadcastable.
    """

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim: int) -> None:
        self.ndim = int(ndim)
        if self.ndim < 0:
            raise ValueError(f"Reshape: ndim must be >= 0, got {ndim}")

    def make_node(self, x: Any, shp: Any) -> Apply:
        x = as_tensor_variable(x)
        shp = as_int_vector(shp, "the new shape", "Reshape")
        try:
            length = get_vector_length(shp)
        except ValueError:
            length = self.ndim
        if length != self.ndim:
            raise ValueError(f"Reshape{{{self.ndim}}}: the new shape {shp} has {length} entries, "
                             f"expected {self.ndim}")
        known = constant_entries(shp, self.ndim)
        if sum(k == -1 for k in known) > 1:
            raise ValueError(f"Reshape: the new shape {tuple(known)} has more than one -1 entry")
        if any(k is not None and k < -1 for k in known):
            raise ValueError(f"Reshape: the new shape {tuple(known)} has a negative entry other than -1")
        return Apply(self, [x, shp], [TensorType(x.dtype, [k == 1 for k in known])()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        if not input_shapes[0]:
            return [(1,) * self.ndim]  # a 0-d input has one element
        size = _prod([as_int_scalar(s, "input length", "Reshape") for s in input_shapes[0]])
        entries = vector_entries(node.inputs[1], self.ndim)
        known = constant_entries(node.inputs[1], self.ndim)
        if -1 in known:
            others = _prod([e for e, k in zip(entries, known) if k != -1])
            missing = int_div(size, maximum(others, 1))
            return [tuple(missing if k == -1 else e for e, k in zip(entries, known))]
        if all(k is not None or _is_shape_entry(e) for e, k in zip(entries, known)):
            return [tuple(entries)]
        # A symbolic entry may be -1: the product of all entries is then minus the product
        # of the others (exactly one -1 is allowed).
        missing = int_div(size, maximum(-_prod(entries), 1))
        return [tuple(e if (k is not None or _is_shape_entry(e)) else switch(eq(e, -1), missing, e)
                      for e, k in zip(entries, known))]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x, shp = inputs
        shp = tuple(int(s) for s in shp)
        if len(shp) != self.ndim:
            raise ValueError(f"Reshape{{{self.ndim}}}: the new shape {shp} has {len(shp)} entries, "
                             f"expected {self.ndim}")
        try:
            output_storage[0][0] = np.reshape(x, shp)
        except ValueError:
            raise ValueError(f"Reshape: cannot reshape an input of shape {x.shape} (size {x.size}) "
                             f"to shape {shp}") from None

    def L_op(self, inputs, outputs, output_grads):
        x = inputs[0]
        if x.dtype in scal.discrete_dtypes:
            return [_float_zeros(x), _disconnected()]
        return [reshape(output_grads[0], _shape_of(x), ndim=x.ndim), _disconnected()]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], inputs[1])]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True], [False]]

    def __str__(self) -> str:
        return f"Reshape{{{self.ndim}}}"


def _is_shape_entry(e: Variable) -> bool:
    """True if ``e`` is a length (Shape_i, or a product of lengths): never -1."""
    if isinstance(e, Constant):
        return int(e.data) >= 0
    if e.owner is None:
        return False
    op = e.owner.op
    if isinstance(op, Shape_i):
        return True
    return (isinstance(op, Elemwise) and isinstance(op.scalar_op, scal.Mul)
            and all(_is_shape_entry(i) for i in e.owner.inputs))


def reshape(x: Any, newshape: Any, ndim: int | None = None) -> TensorVariable:
    """``x`` reshaped to ``newshape``: an int vector, or a list/tuple of ints and int
    scalars (one entry may be -1). ``ndim`` is needed when the length of a symbolic
    ``newshape`` cannot be determined."""
    shp = as_int_vector(newshape, "the new shape", "reshape")
    if ndim is None:
        try:
            ndim = get_vector_length(shp)
        except ValueError:
            raise ValueError(f"reshape: the length of the new shape {shp} cannot be determined "
                             "at graph-building time; pass ndim=") from None
    return Reshape(ndim)(x, shp)


def flatten(x: Any, ndim: int | None = None, outdim: int | None = None) -> TensorVariable:
    """Keep the first ``ndim - 1`` dimensions of ``x`` and flatten the rest into one."""
    if ndim is not None and outdim is not None:
        raise ValueError("flatten: give ndim only (outdim is its deprecated name)")
    ndim = outdim if ndim is None else ndim
    ndim = 1 if ndim is None else int(ndim)
    x = as_tensor_variable(x)
    if ndim < 1 or (ndim > 1 and ndim > x.ndim):
        raise ValueError(f"flatten: ndim={ndim} is out of bounds [1, {max(x.ndim, 1)}] for the "
                         f"{x.ndim}-d input {x}")
    # The last length is the product of the flattened ones, not -1: numpy cannot infer a
    # -1 when the other lengths multiply to 0.
    shape = _shape_of(x)
    out = reshape(x, shape[: ndim - 1] + [_prod(shape[ndim - 1:])], ndim=ndim)
    if all(x.broadcastable[ndim - 1:]) and x.ndim:
        out = patternbroadcast(out, out.broadcastable[:-1] + (True,))
    return out


def squeeze(x: Any, axis: Any = None) -> TensorVariable:
    """``x`` without its broadcastable dims (or the given ``axis``, checked to be length 1)."""
    x = as_tensor_variable(x)
    if axis is None:
        drop = [d for d in range(x.ndim) if x.broadcastable[d]]
    else:
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        drop = sorted({_normalize_axis(int(a), x.ndim, "squeeze") for a in axes})
        x = patternbroadcast(x, [b or d in drop for d, b in enumerate(x.broadcastable)])
    if not drop:
        return x
    return DimShuffle(x.broadcastable, [d for d in range(x.ndim) if d not in drop])(x)


def shape_padleft(t: Any, n_ones: int = 1) -> TensorVariable:
    """``t`` with ``n_ones`` broadcastable dims added on the left."""
    t = as_tensor_variable(t)
    return DimShuffle(t.broadcastable, ["x"] * n_ones + list(range(t.ndim)))(t)


def shape_padright(t: Any, n_ones: int = 1) -> TensorVariable:
    """``t`` with ``n_ones`` broadcastable dims added on the right."""
    t = as_tensor_variable(t)
    return DimShuffle(t.broadcastable, list(range(t.ndim)) + ["x"] * n_ones)(t)


def shape_padaxis(t: Any, axis: int) -> TensorVariable:
    """``t`` with a broadcastable dim inserted at ``axis`` (negative counts from the end)."""
    t = as_tensor_variable(t)
    axis = _normalize_axis(int(axis), t.ndim + 1, "shape_padaxis")
    pattern: list[Any] = list(range(t.ndim))
    pattern.insert(axis, "x")
    return DimShuffle(t.broadcastable, pattern)(t)


# ----------------------------------------------------------------------------- SpecifyShape

class SpecifyShape(Op):
    """``x`` unchanged, with its shape asserted (at run time) to be ``shape``.

    Lets shape inference use the given shape. A mismatch raises ValueError.
    """

    __props__ = ()
    view_map = {0: [0]}

    def make_node(self, x: Any, shape: Any) -> Apply:
        x = as_tensor_variable(x)
        shape = as_int_vector(shape, "shape", "SpecifyShape")
        try:
            length = get_vector_length(shape)
        except ValueError:
            length = x.ndim
        if length != x.ndim:
            raise ValueError(f"SpecifyShape: the shape {shape} has {length} entries but {x} has "
                             f"{x.ndim} dimensions")
        return Apply(self, [x, shape], [x.type()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        return [tuple(vector_entries(node.inputs[1], node.inputs[0].ndim))]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x, shape = inputs
        want = tuple(int(s) for s in shape)
        if x.shape != want:
            raise ValueError(f"SpecifyShape: the input has shape {x.shape}, expected {want}")
        output_storage[0][0] = x

    def L_op(self, inputs, outputs, output_grads):
        x = inputs[0]
        if x.dtype in scal.discrete_dtypes:
            return [_float_zeros(x), _disconnected()]
        return [self(output_grads[0], inputs[1]), _disconnected()]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], inputs[1])]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True], [False]]

    def __str__(self) -> str:
        return "SpecifyShape"


_specify_shape = SpecifyShape()


def specify_shape(x: Any, shape: Any) -> TensorVariable:
    """``x``, asserted at run time to have ``shape`` (a list of ints/scalars or an int vector)."""
    return _specify_shape(x, shape)


# ----------------------------------------------------------------------------- Join

class Join(Op):
    """Concatenate tensors along ``axis`` (the first input: an int scalar, usually constant).

    The output dtype is the inputs' upcast. A constant axis is normalized (negative counts
    from the end); a dimension other than the axis is broadcastable in the output if it is
    in any input. All dims but the axis must agree at run time.
    """

    __props__ = ()

    def make_node(self, axis: Any, *tensors: Any) -> Apply:
        if not tensors:
            raise ValueError("Join: cannot join an empty list of tensors")
        ts = [as_tensor_variable(t) for t in tensors]
        if any(t.ndim == 0 for t in ts):
            raise TypeError("Join: cannot join 0-d tensors (scalars); use stack to make a vector "
                            f"of scalars (got {', '.join(str(t) for t in ts)})")
        ndims = [t.ndim for t in ts]
        if len(set(ndims)) != 1:
            raise TypeError(f"Join: all tensors must have the same number of dimensions, got {ndims}")
        ndim = ndims[0]
        axis_var, ax = _as_axis(axis, ndim, "Join")
        if len(ts) == 1:
            bcast = list(ts[0].broadcastable)
        elif ax is None:
            bcast = [False] * ndim
        else:
            bcast = [d != ax and any(t.broadcastable[d] for t in ts) for d in range(ndim)]
        dtype = scal.upcast(*[t.dtype for t in ts])
        return Apply(self, [axis_var] + ts, [TensorType(dtype, bcast)()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        axis_var, tensors = node.inputs[0], node.inputs[1:]
        shapes = input_shapes[1:]
        ax = int(axis_var.data) if isinstance(axis_var, Constant) else None
        out = []
        for d in range(tensors[0].ndim):
            total = shapes[0][d]
            for shp in shapes[1:]:
                total = total + shp[d]
            other = 1 if node.outputs[0].broadcastable[d] else shapes[0][d]
            if ax is None:
                axis_n = _nonneg_axis(axis_var, tensors[0].ndim)
                out.append(switch(eq(axis_n, d), total, other))
            else:
                out.append(total if d == ax else other)
        return [tuple(out)]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        tensors = inputs[1:]
        ndim = tensors[0].ndim
        axis = _normalize_axis(int(inputs[0]), ndim, "Join")
        first = tensors[0].shape
        for t in tensors[1:]:
            if t.ndim != ndim or any(t.shape[d] != first[d] for d in range(ndim) if d != axis):
                shapes = ", ".join(str(a.shape) for a in tensors)
                raise ValueError(f"Join: cannot join along axis {axis} tensors of shapes {shapes}: "
                                 "all dimensions except the axis must agree")
        dtype = node.outputs[0].dtype
        output_storage[0][0] = np.concatenate(tensors, axis=axis, dtype=dtype, casting="unsafe")

    def L_op(self, inputs, outputs, output_grads):
        axis_var, tensors = inputs[0], inputs[1:]
        if outputs[0].dtype in scal.discrete_dtypes:
            return [_disconnected()] + [_float_zeros(t) for t in tensors]
        ax = int(axis_var.data) if isinstance(axis_var, Constant) else None
        sizes = stack([_dim_at(t, axis_var, ax) for t in tensors])
        pieces = Split(len(tensors)).make_node(output_grads[0], axis_var, sizes).outputs
        grads = [_disconnected()]
        for t, g in zip(tensors, pieces):
            if t.dtype in scal.discrete_dtypes:
                grads.append(_float_zeros(t))
                continue
            g = g if g.dtype == t.dtype else cast(g, t.dtype)
            grads.append(patternbroadcast(g, t.broadcastable))
        return grads

    def R_op(self, inputs, eval_points):
        if all(e is None for e in eval_points[1:]):
            return [None]
        evs = [zeros_like(t) if e is None else e for t, e in zip(inputs[1:], eval_points[1:])]
        out = self(inputs[0], *evs)
        dtype = scal.upcast(*[t.dtype for t in inputs[1:]])
        return [out if out.dtype == dtype else cast(out, dtype)]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[False]] + [[True] for _ in node.inputs[1:]]

    def __str__(self) -> str:
        return "Join"


_join = Join()


def join(axis: Any, *tensors_list: Any) -> TensorVariable:
    """Concatenate tensors along ``axis``; a single tensor is returned unchanged."""
    if len(tensors_list) == 1:
        return as_tensor_variable(tensors_list[0])
    return _join(axis, *tensors_list)


def concatenate(tensor_list: Sequence[Any], axis: Any = 0) -> TensorVariable:
    """``join(axis, *tensor_list)``; ``tensor_list`` must be a list or tuple."""
    if not isinstance(tensor_list, (list, tuple)):
        raise TypeError("concatenate: the tensors must be given as one list or tuple, e.g. "
                        f"concatenate([x, y]); got {type(tensor_list).__name__}")
    return join(axis, *tensor_list)


def stack(*args: Any, **kwargs: Any) -> TensorVariable:
    """Stack tensors of one shape along a new ``axis``: ``stack([x, y], axis=0)``.

    Scalars (and Python numbers) give a vector of their upcast dtype. Theano's older form
    ``stack(x, y, z)`` is accepted with a DeprecationWarning.
    """
    tensors, axis = _stack_args(args, kwargs)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    if all(_is_scalar_like(t) for t in tensors) and axis in (0, -1):
        ts = [as_tensor_variable(t) for t in tensors]
        return MakeVector(scal.upcast(*[t.dtype for t in ts]))(*ts)
    ts = [as_tensor_variable(t) for t in tensors]
    return join(axis, *[shape_padaxis(t, axis) for t in ts])


def _stack_args(args: tuple, kwargs: dict) -> tuple[list, Any]:
    unknown = set(kwargs) - {"tensors", "axis"}
    if unknown:
        raise TypeError(f"stack: unexpected keyword arguments {sorted(unknown)}")
    if "tensors" in kwargs:
        if args:
            raise TypeError("stack: tensors given both positionally and as tensors=")
        return list(kwargs["tensors"]), kwargs.get("axis", 0)
    if args and isinstance(args[0], (list, tuple)):
        if len(args) > 2 or (len(args) == 2 and "axis" in kwargs):
            raise TypeError("stack: expected stack(tensors, axis=0)")
        return list(args[0]), args[1] if len(args) == 2 else kwargs.get("axis", 0)
    if args and not kwargs:
        warnings.warn("stack(*tensors) is deprecated; use stack(tensors, axis=0)",
                      DeprecationWarning, stacklevel=3)
    return list(args), kwargs.get("axis", 0)


def _is_scalar_like(t: Any) -> bool:
    if isinstance(t, (int, float, complex, np.number, np.bool_)):
        return True
    if isinstance(t, np.ndarray):
        return t.ndim == 0
    return isinstance(t, Variable) and isinstance(t.type, TensorType) and t.ndim == 0


def horizontal_stack(*args: Any) -> TensorVariable:
    """Matrices joined side by side (axis 1)."""
    return concatenate(_matrices(args, "horizontal_stack"), axis=1)


def vertical_stack(*args: Any) -> TensorVariable:
    """Matrices joined one above the other (axis 0)."""
    return concatenate(_matrices(args, "vertical_stack"), axis=0)


def _matrices(args: tuple, opname: str) -> list[TensorVariable]:
    if len(args) < 2:
        raise TypeError(f"{opname}: needs at least two matrices, got {len(args)}")
    ts = [as_tensor_variable(a) for a in args]
    for k, t in enumerate(ts):
        if t.ndim != 2:
            raise TypeError(f"{opname}: argument {k} ({t}) is {t.ndim}-d, expected a matrix")
    return ts


# ----------------------------------------------------------------------------- Split

class Split(Op):
    """Cut ``x`` along ``axis`` into ``len_splits`` pieces of the lengths in ``splits``.

    Outputs are views of ``x``. The lengths must be non-negative and sum to x's length
    along the axis.
    """

    __props__ = ("len_splits",)

    def __init__(self, len_splits: int) -> None:
        self.len_splits = int(len_splits)
        if self.len_splits < 1:
            raise ValueError(f"Split: len_splits must be >= 1, got {len_splits}")
        self.view_map = {i: [0] for i in range(self.len_splits)}

    def make_node(self, x: Any, axis: Any, splits: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise TypeError(f"Split: cannot split the 0-d tensor {x}")
        axis_var, ax = _as_axis(axis, x.ndim, "Split")
        splits = as_int_vector(splits, "splits", "Split")
        try:
            length = get_vector_length(splits)
        except ValueError:
            length = self.len_splits
        if length != self.len_splits:
            raise ValueError(f"Split{{{self.len_splits}}}: got {length} split sizes, expected "
                             f"{self.len_splits}")
        bcast = [False if ax is None or d == ax else b for d, b in enumerate(x.broadcastable)]
        outs = [TensorType(x.dtype, bcast)() for _ in range(self.len_splits)]
        return Apply(self, [x, axis_var, splits], outs)

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        x, axis_var, splits = node.inputs
        ax = int(axis_var.data) if isinstance(axis_var, Constant) else None
        sizes = vector_entries(splits, self.len_splits)
        xshape = input_shapes[0]
        result = []
        for size in sizes:
            if ax is not None:
                result.append(tuple(size if d == ax else xshape[d] for d in range(x.ndim)))
            else:
                axis_n = _nonneg_axis(axis_var, x.ndim)
                result.append(tuple(switch(eq(axis_n, d), size, xshape[d]) for d in range(x.ndim)))
        return result

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x, axis, splits = inputs
        axis = _normalize_axis(int(axis), x.ndim, "Split")
        sizes = [int(s) for s in splits]
        if len(sizes) != self.len_splits:
            raise ValueError(f"Split{{{self.len_splits}}}: got {len(sizes)} split sizes {tuple(sizes)}")
        if any(s < 0 for s in sizes):
            raise ValueError(f"Split: negative split size in {tuple(sizes)}")
        if sum(sizes) != x.shape[axis]:
            raise ValueError(f"Split: the split sizes {tuple(sizes)} sum to {sum(sizes)}, but the "
                             f"input of shape {x.shape} has length {x.shape[axis]} on axis {axis}")
        index: list[Any] = [slice(None)] * x.ndim
        start = 0
        for i, size in enumerate(sizes):
            index[axis] = slice(start, start + size)
            output_storage[i][0] = x[tuple(index)]
            start += size

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import _is_disconnected
        x, axis_var, _ = inputs
        rest = [_disconnected(), _disconnected()]
        if all(_is_disconnected(g) for g in output_grads):
            return [_disconnected()] + rest
        if x.dtype in scal.discrete_dtypes:
            return [_float_zeros(x)] + rest
        gs = [zeros_like(o) if _is_disconnected(g) else g for o, g in zip(outputs, output_grads)]
        g = _join.make_node(axis_var, *gs).outputs[0] if len(gs) > 1 else gs[0]
        g = g if g.dtype == x.dtype else cast(g, x.dtype)
        return [patternbroadcast(g, x.broadcastable)] + rest

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None] * self.len_splits
        return self.make_node(eval_points[0], *inputs[1:]).outputs

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        n = self.len_splits
        return [[True] * n, [False] * n, [False] * n]

    def __str__(self) -> str:
        return f"Split{{{self.len_splits}}}"


def split(x: Any, splits_size: Any, n_splits: int, axis: Any = 0) -> Any:
    """``x`` cut along ``axis`` into ``n_splits`` pieces of lengths ``splits_size``.

    Returns the list of pieces (a single variable when ``n_splits == 1``, as in Theano).
    """
    return Split(n_splits)(x, axis, splits_size)


# ----------------------------------------------------------------------------- roll

def roll(x: Any, shift: Any, axis: Any = None) -> TensorVariable:
    """``numpy.roll``: elements shifted by ``shift`` along ``axis`` (the flattened array if
    None), wrapping around. ``shift`` and ``axis`` may be sequences."""
    x = as_tensor_variable(x)
    if isinstance(shift, (list, tuple)) or isinstance(axis, (list, tuple)):
        shifts = list(shift) if isinstance(shift, (list, tuple)) else None
        axes = list(axis) if isinstance(axis, (list, tuple)) else None
        if axes is None or (shifts is not None and len(shifts) != len(axes)):
            raise ValueError("roll: shift and axis must be sequences of the same length")
        for k, a in enumerate(axes):
            x = roll(x, shifts[k] if shifts is not None else shift, a)
        return x
    if axis is None:
        if x.ndim != 1:
            if x.ndim == 0:
                return x
            return reshape(roll(flatten(x), shift, 0), _shape_of(x), ndim=x.ndim)
        axis = 0
    axis = _normalize_axis(int(axis), x.ndim, "roll")
    n = shape_i(x, axis)
    s = as_int_scalar(shift, "shift", "roll") % maximum(n, 1)
    front, back = Split(2).make_node(x, axis, stack([n - s, s])).outputs
    return patternbroadcast(join(axis, back, front), x.broadcastable)
