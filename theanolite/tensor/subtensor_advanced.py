"""Advanced indexing (integer arrays, boolean masks) with numpy semantics, and ``take``.

* ``AdvancedSubtensor1``: ``x[ilist]``, one integer vector on the first axis;
  ``AdvancedIncSubtensor1`` writes into / adds to those rows (duplicates accumulate).
* ``AdvancedSubtensor``: any mix of integer arrays, boolean masks, ints and slices
  (``x[x > 0]``, ``x[[0, 2], 1:]``); ``AdvancedIncSubtensor`` is its Inc twin.

Their ``idx_list`` uses the structure of ``subtensor`` (ints, dtype placeholders,
``SliceSpec``); an ``AdvancedSubtensor`` placeholder outside a slice may stand for a
tensor of any rank (an int array or a bool mask), read from the node's input. The
output layout follows numpy: the broadcast shape of the advanced indices (a mask counts
as its ``nonzero()``) replaces the indexed axes in place when those indices are adjacent,
and comes first otherwise. Results are copies, never views.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op
from theanolite.scalar.basic import discrete_dtypes
from theanolite.tensor import math as tm
from theanolite.tensor.basic import as_tensor_variable, cast, constant, shape_i, zeros_like
from theanolite.tensor.elemwise import DimShuffle
from theanolite.tensor.subtensor import (IncSubtensorGrads, SliceSpec, check_index_inputs,
                                         check_value_shape,
                                         disconnected, fill_index, float_zeros,
                                         grad_like, inc_label, index_error, index_text,
                                         is_advanced, keeps_single, normalize_idx_list,
                                         placeholders, slice_length)
from theanolite.tensor.type import TensorType

__all__ = [
    "AdvancedSubtensor1", "AdvancedIncSubtensor1", "AdvancedSubtensor", "AdvancedIncSubtensor",
    "advanced_subtensor1", "advanced_inc_subtensor1", "advanced_set_subtensor1", "take",
]


def _check_bounds(op: Any, idx: np.ndarray, shape: tuple) -> None:
    """IndexError naming the op, the bad index and the shape (never a wrapped read)."""
    n = shape[0]
    if idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    if lo < -n or hi >= n:
        bad = lo if lo < -n else hi
        raise IndexError(f"{op}: index {bad} is out of bounds for axis 0 with size {n} "
                         f"(input shape {shape})")


def _int_vector(v: Any, op: Any) -> Variable:
    v = as_tensor_variable(v)
    if v.ndim != 1 or np.dtype(v.dtype).kind not in "iu":
        raise TypeError(f"{op}: the index must be an integer vector, got {v} ({v.ndim}-d {v.dtype})")
    return v


# ----------------------------------------------------------------------------- AdvancedSubtensor1

class AdvancedSubtensor1(Op):
    """``x[ilist]`` for an integer vector ``ilist`` on the first axis (a copy).

    Duplicates repeat rows; negative entries count from the end; any entry outside
    ``[-len(x), len(x))`` raises IndexError.
    """

    __props__ = ()

    def make_node(self, x: Any, ilist: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise TypeError(f"{self}: cannot index the 0-d tensor {x} with a vector")
        ilist = _int_vector(ilist, self)
        bcast = (ilist.broadcastable[0],) + x.broadcastable[1:]
        return Apply(self, [x, ilist], [TensorType(x.dtype, bcast)()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        return [(input_shapes[1][0],) + tuple(input_shapes[0][1:])]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x, ilist = inputs
        _check_bounds(self, ilist, x.shape)
        output_storage[0][0] = np.take(x, ilist.astype(np.intp, copy=False), axis=0)

    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list:
        x, ilist = inputs
        if x.dtype in discrete_dtypes:
            return [float_zeros(x), disconnected()]
        gx = AdvancedIncSubtensor1()(zeros_like(x), grad_like(output_grads[0], x), ilist)
        return [gx, disconnected()]

    def R_op(self, inputs: Sequence[Variable], eval_points: Sequence[Variable | None]) -> list:
        return [None if eval_points[0] is None else self(eval_points[0], inputs[1])]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True], [False]]

    def pp(self, input_strings: Sequence[str]) -> str:
        return f"{input_strings[0]}[{input_strings[1]}]"


advanced_subtensor1 = AdvancedSubtensor1()


class AdvancedIncSubtensor1(IncSubtensorGrads, Op):
    """A copy of ``x`` with ``y`` added to the rows ``ilist`` (duplicates accumulate, as
    ``np.add.at``) or, with ``set_instead_of_inc``, written into them (the last
    duplicate wins). Inputs ``(x, y, ilist)``; ``y`` broadcasts to ``x[ilist]``."""

    __props__ = ("inplace", "set_instead_of_inc")

    def __init__(self, inplace: bool = False, set_instead_of_inc: bool = False) -> None:
        self.inplace = bool(inplace)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def make_node(self, x: Any, y: Any, ilist: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim == 0:
            raise TypeError(f"{self}: cannot index the 0-d tensor {x} with a vector")
        ilist = _int_vector(ilist, self)
        if y.ndim > x.ndim:
            raise TypeError(f"{self}: cannot {inc_label(self.set_instead_of_inc)} rows of the {x.ndim}-d "
                            f"{x} with the {y.ndim}-d value {y}")
        return Apply(self, [x, y, ilist], [x.type()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        return [tuple(input_shapes[0])]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x, y, ilist = inputs
        _check_bounds(self, ilist, x.shape)
        check_value_shape(self, (ilist.shape[0],) + x.shape[1:], y, node.inputs[1].broadcastable)
        out = x if self.inplace else x.copy()
        idx = ilist.astype(np.intp, copy=False)
        y = np.asarray(y).astype(out.dtype, copy=False)
        if self.set_instead_of_inc:
            out[idx] = y
        else:
            np.add.at(out, idx, y)
        output_storage[0][0] = out

    def read_region(self, x: Variable, index_inputs: list) -> Variable:
        return advanced_subtensor1(x, *index_inputs)

    def with_mode(self, set_instead_of_inc: bool) -> "AdvancedIncSubtensor1":
        return AdvancedIncSubtensor1(set_instead_of_inc=set_instead_of_inc)

    def __str__(self) -> str:
        return (f"AdvancedIncSubtensor1{{{'inplace' if self.inplace else 'no_inplace'},"
                f"{'set' if self.set_instead_of_inc else 'inc'}}}")

    def pp(self, input_strings: Sequence[str]) -> str:
        x, y, i = input_strings
        return f"{inc_label(self.set_instead_of_inc)}({x}[{i}], {y})"


advanced_inc_subtensor1 = AdvancedIncSubtensor1()
advanced_set_subtensor1 = AdvancedIncSubtensor1(set_instead_of_inc=True)


# ----------------------------------------------------------------------------- layout

def _adv_ndim(e: Any) -> int:
    if not isinstance(e, Variable):
        return 0
    return 1 if e.dtype == "bool" else e.ndim


def advanced_layout(idx_list: Sequence[Any], pieces: Sequence[Variable], x_ndim: int) -> tuple[list, list]:
    """``(out_dims, adv)`` of ``x[idx]``: ``adv`` lists the advanced indices in order
    (ints, int tensors, bool masks); ``out_dims`` gives each output dimension as
    ``("slice", axis, (start, stop, step))`` or ``("adv", k)`` (dim k of the broadcast
    index shape), placed by numpy's adjacency rule."""
    index = fill_index(idx_list, pieces)
    sliced: list[tuple] = []
    adv: list[Any] = []
    adv_pos: list[int] = []
    axis = 0
    for pos, e in enumerate(index):
        if isinstance(e, slice):
            sliced.append((pos, axis, (e.start, e.stop, e.step)))
            axis += 1
        else:
            adv.append(e)
            adv_pos.append(pos)
            axis += e.ndim if isinstance(e, Variable) and e.dtype == "bool" else 1
    if axis > x_ndim:
        raise IndexError(f"too many indices for a {x_ndim}-d tensor: the index uses {axis} dimensions")
    sliced += [(len(index), a, (None, None, None)) for a in range(axis, x_ndim)]
    adv_dims = [("adv", k) for k in range(max((_adv_ndim(e) for e in adv), default=0))]
    as_slice = [("slice", a, parts) for _, a, parts in sliced]
    if adv_pos and adv_pos == list(range(adv_pos[0], adv_pos[-1] + 1)):
        split = sum(1 for pos, _, _ in sliced if pos < adv_pos[0])
        return as_slice[:split] + adv_dims + as_slice[split:], adv
    return adv_dims + as_slice, adv


def _adv_dim_entries(adv: list, k: int, ndim: int) -> list:
    """For broadcast dim ``k``: (index, its own dim) of each advanced index that has one
    there and is not broadcastable there (the others have length 1)."""
    out = []
    for e in adv:
        own = _adv_ndim(e)
        d = k - (ndim - own)
        if d < 0:
            continue
        if e.dtype == "bool" or not e.broadcastable[d]:
            out.append((e, d))
    return out


def _bcast_dim(a: Any, b: Any) -> Any:
    """The broadcast of two valid lengths: ``b`` where ``a`` is 1, else ``a``."""
    if isinstance(a, int) and isinstance(b, int):
        return b if a == 1 else a
    a, b = (constant(v, dtype="int64") if isinstance(v, int) else v for v in (a, b))
    return tm.switch(tm.eq(a, 1), b, a)


# ----------------------------------------------------------------------------- AdvancedSubtensor

def _check_advanced_pieces(op: Any, idx_list: Sequence[Any], inputs: Sequence[Any]) -> list[Variable]:
    pieces = check_index_inputs(op, placeholders(idx_list), inputs, scalar_only=False)
    in_slices = {id(p) for e in fill_index(idx_list, pieces) if isinstance(e, slice)
                 for p in (e.start, e.stop, e.step) if isinstance(p, Variable)}
    for p in pieces:
        if id(p) in in_slices and p.ndim != 0:
            raise TypeError(f"{op}: slice bound {p} must be an integer scalar")
        if p.dtype == "bool" and p.ndim == 0:
            raise TypeError(f"{op}: boolean scalar indices are not supported ({p})")
    return pieces


class AdvancedSubtensor(Op):
    """numpy advanced indexing ``x[idx]`` mixing integer arrays, boolean masks, ints and
    slices (a copy). Inputs ``(x, *pieces)``; see the module docstring for the layout."""

    __props__ = ("idx_list",)

    def __init__(self, idx_list: Sequence[Any]) -> None:
        self.idx_list = normalize_idx_list(idx_list, allow_bool=True)

    def make_node(self, x: Any, *inputs: Any) -> Apply:
        x = as_tensor_variable(x)
        pieces = _check_advanced_pieces(self, self.idx_list, inputs)
        out_dims, adv = advanced_layout(self.idx_list, pieces, x.ndim)
        adv_ndim = max((_adv_ndim(e) for e in adv), default=0)
        bcast = []
        for dim in out_dims:
            if dim[0] == "slice":
                bcast.append(x.broadcastable[dim[1]] and keeps_single(*dim[2]))
            else:
                bcast.append(not _adv_dim_entries(adv, dim[1], adv_ndim))
        return Apply(self, [x] + pieces, [TensorType(x.dtype, bcast)()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        from theanolite.tensor.reduction import sum as tsum
        x, pieces = node.inputs[0], node.inputs[1:]
        shape_of = {id(p): s for p, s in zip(pieces, input_shapes[1:])}
        out_dims, adv = advanced_layout(self.idx_list, pieces, x.ndim)
        adv_ndim = max((_adv_ndim(e) for e in adv), default=0)
        out = []
        for dim in out_dims:
            if dim[0] == "slice":
                out.append(slice_length(*dim[2], input_shapes[0][dim[1]]))
                continue
            length: Any = 1
            for k, (e, d) in enumerate(_adv_dim_entries(adv, dim[1], adv_ndim)):
                n = tsum(cast(e, "int64")) if e.dtype == "bool" else shape_of[id(e)][d]
                length = n if k == 0 else _bcast_dim(length, n)
            out.append(length)
        return [tuple(out)]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x = inputs[0]
        index = fill_index(self.idx_list, inputs[1:], None, int)
        try:
            out = np.asarray(x[index])
        except IndexError as exc:
            raise index_error(self, index, x.shape, exc) from None
        if np.may_share_memory(out, x):  # only ints and slices: numpy made a view
            out = out.copy()
        output_storage[0][0] = out

    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list:
        x, rest = inputs[0], list(inputs[1:])
        if x.dtype in discrete_dtypes:
            gx = float_zeros(x)
        else:
            gx = AdvancedIncSubtensor(self.idx_list)(zeros_like(x), grad_like(output_grads[0], x), *rest)
        return [gx] + [disconnected() for _ in rest]

    def R_op(self, inputs: Sequence[Variable], eval_points: Sequence[Variable | None]) -> list:
        return [None if eval_points[0] is None else self(eval_points[0], *inputs[1:])]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True]] + [[False] for _ in node.inputs[1:]]

    def __str__(self) -> str:
        return f"AdvancedSubtensor{{{index_text(self.idx_list, placeholders(self.idx_list))}}}"

    def pp(self, input_strings: Sequence[str]) -> str:
        return f"{input_strings[0]}[{index_text(self.idx_list, input_strings[1:])}]"


def _region_shape(x: np.ndarray, index: tuple) -> tuple:
    # Index a zero-strided stand-in: only the result's shape is wanted, not x's data.
    return np.broadcast_to(np.zeros((), dtype=np.int8), x.shape)[index].shape


class AdvancedIncSubtensor(IncSubtensorGrads, Op):
    """A copy of ``x`` with ``y`` added to (duplicates accumulate, as ``np.add.at``) or
    written into (``set_instead_of_inc``) the region ``x[idx]`` of ``AdvancedSubtensor``.
    Inputs ``(x, y, *pieces)``; ``y`` broadcasts to the region."""

    __props__ = ("idx_list", "inplace", "set_instead_of_inc")

    read_op = AdvancedSubtensor

    def __init__(self, idx_list: Sequence[Any], inplace: bool = False, set_instead_of_inc: bool = False) -> None:
        self.idx_list = normalize_idx_list(idx_list, allow_bool=True)
        self.inplace = bool(inplace)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def make_node(self, x: Any, y: Any, *inputs: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        pieces = _check_advanced_pieces(self, self.idx_list, inputs)
        out_dims, _ = advanced_layout(self.idx_list, pieces, x.ndim)
        if y.ndim > len(out_dims):
            raise TypeError(f"{self}: cannot {inc_label(self.set_instead_of_inc)} a {len(out_dims)}-d "
                            f"region of {x} with the {y.ndim}-d value {y}")
        return Apply(self, [x, y] + pieces, [x.type()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        return [tuple(input_shapes[0])]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x, y = inputs[0], inputs[1]
        index = fill_index(self.idx_list, inputs[2:], None, int)
        try:
            region = _region_shape(x, index)
        except IndexError as exc:
            raise index_error(self, index, x.shape, exc) from None
        check_value_shape(self, region, y, node.inputs[1].broadcastable)
        out = x if self.inplace else x.copy()
        y = np.asarray(y).astype(out.dtype, copy=False)
        if self.set_instead_of_inc:
            out[index] = y
        else:
            np.add.at(out, index, y)
        output_storage[0][0] = out

    def __str__(self) -> str:
        return (f"AdvancedIncSubtensor{{{'inplace' if self.inplace else 'no_inplace'},"
                f"{'set' if self.set_instead_of_inc else 'inc'};"
                f"{index_text(self.idx_list, placeholders(self.idx_list))}}}")

    def pp(self, input_strings: Sequence[str]) -> str:
        x, y, pieces = input_strings[0], input_strings[1], input_strings[2:]
        return f"{inc_label(self.set_instead_of_inc)}({x}[{index_text(self.idx_list, pieces)}], {y})"


# ----------------------------------------------------------------------------- getitem, take

def _is_full(e: Any) -> bool:
    return isinstance(e, slice) and e.start is None and e.stop is None and e.step is None


def advanced_getitem(x: Variable, entries: list) -> Variable:
    """``x[entries]`` for entries already converted by ``subtensor.getitem`` (no None, no
    Ellipsis) that contain at least one array or mask."""
    first = entries[0]
    if (is_advanced(first) and first.dtype != "bool" and first.ndim == 1
            and all(_is_full(e) for e in entries[1:])):
        return advanced_subtensor1(x, first)
    idx_list: list[Any] = []
    pieces: list[Variable] = []

    def piece(p: Any) -> Any:
        if isinstance(p, Variable):
            pieces.append(p)
            return p.dtype
        return p

    for e in entries:
        if isinstance(e, slice):
            idx_list.append(SliceSpec(piece(e.start), piece(e.stop), piece(e.step)))
        else:
            idx_list.append(piece(e))
    return AdvancedSubtensor(idx_list)(x, *pieces)


def take(a: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Variable:
    """``numpy.take``: elements of ``a`` at integer ``indices`` along ``axis`` (the
    flattened ``a`` when None). ``mode``: 'raise' (IndexError when out of range), 'wrap'
    (modulo the length) or 'clip' (to the valid range)."""
    from theanolite.tensor.shape_ops import flatten, reshape
    a, indices = as_tensor_variable(a), as_tensor_variable(indices)
    if np.dtype(indices.dtype).kind not in "iu":
        raise TypeError(f"take: indices must be integers, got {indices} of dtype {indices.dtype}")
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if axis is None:
        a, axis = flatten(a), 0
    if not -a.ndim <= axis < a.ndim:
        raise np.exceptions.AxisError(axis, a.ndim)
    axis %= a.ndim
    n = shape_i(a, axis)
    if mode == "clip":
        indices = tm.clip(indices, 0, n - 1)
    elif mode == "wrap":
        indices = tm.mod(indices, n)
    if indices.ndim != 1:
        shape = ([shape_i(a, d) for d in range(axis)] + [shape_i(indices, d) for d in range(indices.ndim)]
                 + [shape_i(a, d) for d in range(axis + 1, a.ndim)])
        flat = take(a, flatten(indices), axis)
        return reshape(flat, shape, ndim=a.ndim + indices.ndim - 1)
    if axis == 0:
        return advanced_subtensor1(a, indices)
    swap = list(range(a.ndim))
    swap[0], swap[axis] = axis, 0
    out = advanced_subtensor1(DimShuffle(a.broadcastable, swap)(a), indices)
    return DimShuffle(out.broadcastable, swap)(out)
