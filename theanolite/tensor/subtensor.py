"""Indexing tensors with numpy semantics: ``x[...]``, ``set_subtensor``, ``inc_subtensor``.

Basic indexing (ints, symbolic integer scalars, slices, ``None``, ``...``) is the view op
``Subtensor``; writing into such a region is ``IncSubtensor``. Integer-array and boolean
indexing are in ``subtensor_advanced``. ``getitem`` (what ``TensorVariable.__getitem__``
calls) classifies an index and builds the right op.

**Index structure** (the ``idx_list`` prop, as Theano's): one entry per indexed dimension,

* an ``int``: a constant index, folded into the op (``x[2]``);
* a dtype name such as ``"int64"``: a symbolic index, read from the next extra input;
* ``SliceSpec(start, stop, step)``: a slice whose parts are each ``None``, an ``int`` or
  a dtype name (a symbolic part, read from the next extra input).

The extra inputs follow ``x`` (and ``y`` for the Inc ops) in the order their placeholders
appear, each slice contributing start, stop, step. Dimensions past ``idx_list`` are whole.
``None`` and ``...`` never reach an op: ``getitem`` expands ``...`` and turns ``None`` into
a ``DimShuffle`` that adds the broadcastable dimension, indexed with ``:``.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from theanolite.configparser import config
from theanolite.graph.basic import Apply, Constant, Variable
from theanolite.graph.op import Op
from theanolite.scalar.basic import discrete_dtypes
from theanolite.tensor import math as tm
from theanolite.tensor.basic import (NotScalarConstantError, Shape, Shape_i, addbroadcast,
                                     as_tensor_variable, cast, constant,
                                     get_scalar_constant_value, zeros_like)
from theanolite.tensor.elemwise import DimShuffle, sum_to_broadcastable
from theanolite.tensor.type import TensorType

__all__ = [
    "Subtensor", "IncSubtensor", "SliceSpec", "set_subtensor", "inc_subtensor", "get_idx_list",
    "slice_length",
]

_INDEX_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_NEWAXIS_TAG = "subtensor_newaxis_pattern"


class SliceSpec(NamedTuple):
    """A slice in an ``idx_list``: each part ``None``, an int, or a dtype (symbolic)."""

    start: int | str | None
    stop: int | str | None
    step: int | str | None



# ----------------------------------------------------------------------------- idx_list

def _norm_part(p: Any, what: str, allow_bool: bool = False) -> int | str | None:
    if p is None:
        return None
    if isinstance(p, (bool, np.bool_)):
        raise TypeError(f"idx_list: {what} is the bool {p!r}, expected an int or a dtype name")
    if isinstance(p, (int, np.integer)):
        return int(p)
    if isinstance(p, str) and (p in _INDEX_DTYPES or (allow_bool and p == "bool")):
        return p
    raise TypeError(f"idx_list: {what} is {p!r}, expected None, an int or an integer dtype name")


def normalize_idx_list(idx_list: Sequence[Any], allow_bool: bool = False) -> tuple:
    """``idx_list`` with slices as ``SliceSpec`` and numpy ints as ints; ValueError on a
    constant zero step (numpy's rule), TypeError on anything that is not an entry.
    ``allow_bool``: entries outside slices may be "bool" (advanced indexing masks)."""
    out: list = []
    for k, e in enumerate(idx_list):
        if isinstance(e, (slice, SliceSpec)):
            spec = SliceSpec(*(_norm_part(p, f"entry {k}") for p in (e.start, e.stop, e.step)))
            if spec.step == 0:
                raise ValueError("slice step cannot be zero")
            out.append(spec)
        elif e is None:
            raise TypeError(f"idx_list: entry {k} is None; newaxis is handled by getitem")
        else:
            out.append(_norm_part(e, f"entry {k}", allow_bool))
    return tuple(out)


def placeholders(idx_list: Sequence[Any]) -> list[str]:
    """The dtype of each symbolic piece, in the order of the op's extra inputs."""
    out: list[str] = []
    for e in idx_list:
        parts = tuple(e) if isinstance(e, SliceSpec) else (e,)
        out.extend(p for p in parts if isinstance(p, str))
    return out


def fill_index(idx_list: Sequence[Any], values: Sequence[Any], item: Callable | None = None,
               part: Callable | None = None) -> tuple:
    """``idx_list`` with each placeholder replaced by the next of ``values`` (passed
    through ``part`` inside slices, through ``item`` elsewhere); SliceSpecs become slices."""
    it = iter(values)

    def take(p: Any, conv: Callable | None) -> Any:
        if isinstance(p, str):
            v = next(it)
            return conv(v) if conv is not None else v
        return p

    out: list = []
    for e in idx_list:
        if isinstance(e, SliceSpec):
            out.append(slice(take(e.start, part), take(e.stop, part), take(e.step, part)))
        else:
            out.append(take(e, item))
    return tuple(out)


def get_idx_list(inputs: Sequence[Variable], idx_list: Sequence[Any]) -> tuple:
    """Theano's helper: the index of a node, from its inputs after the first (``x``)."""
    return fill_index(idx_list, list(inputs[1:]))


def index_text(idx_list: Sequence[Any], pieces: Sequence[str]) -> str:
    """``idx_list`` as Python index text, symbolic pieces spelled by ``pieces``."""
    it = iter(pieces)

    def text(p: Any) -> str:
        return "" if p is None else next(it) if isinstance(p, str) else str(p)

    out = []
    for e in idx_list:
        if isinstance(e, SliceSpec):
            start, stop = text(e.start), text(e.stop)
            step = text(e.step)
            out.append(f"{start}:{stop}" + (f":{step}" if e.step is not None else ""))
        else:
            out.append(text(e))
    return ", ".join(out)


def concrete_text(index: Sequence[Any]) -> str:
    """A run-time index tuple as readable text (large arrays summarized)."""
    out = []
    for e in index:
        if isinstance(e, slice):
            parts = ["" if p is None else str(p) for p in (e.start, e.stop, e.step)]
            out.append(":".join(parts[:2]) + (f":{parts[2]}" if e.step is not None else ""))
        elif isinstance(e, np.ndarray) and e.dtype == bool:
            out.append(f"<bool mask of shape {e.shape}>")
        elif isinstance(e, np.ndarray) and e.ndim:
            out.append(np.array2string(e, threshold=8, separator=", ").replace("\n", ""))
        else:
            out.append(str(int(e)))
    return "[" + ", ".join(out) + "]"


def index_error(op: Any, index: Sequence[Any], shape: tuple, exc: Exception) -> IndexError:
    return IndexError(f"{op}: index {concrete_text(index)} is out of bounds for an input of "
                      f"shape {shape} ({exc})")


def check_index_inputs(op: Any, expected: Sequence[str], inputs: Sequence[Any],
                       scalar_only: bool = True) -> list[Variable]:
    """The symbolic index pieces as tensors; TypeError unless each matches its placeholder."""
    if len(inputs) != len(expected):
        raise TypeError(f"{op}: expected {len(expected)} index input(s) ({', '.join(expected) or 'none'}), "
                        f"got {len(inputs)}")
    out = []
    for k, (v, dtype) in enumerate(zip(inputs, expected)):
        v = as_tensor_variable(v)
        if scalar_only and v.ndim != 0:
            raise TypeError(f"{op}: index input {k} ({v}) must be an integer scalar, got {v.ndim}-d")
        if v.dtype != dtype:
            raise TypeError(f"{op}: index input {k} ({v}) has dtype {v.dtype}, expected {dtype}")
        out.append(v)
    return out


def check_value_shape(op: Any, region: tuple, y: np.ndarray, y_bcast: Sequence[bool]) -> None:
    """``y`` must fit the indexed ``region``: equal lengths, or 1 on a broadcastable dim.

    Broadcasting only where y's type allows keeps the gradient w.r.t. y the shape of y.
    """
    offset = len(region) - y.ndim  # >= 0: make_node checked the ranks
    for d in range(y.ndim):
        n, want = y.shape[d], region[offset + d]
        if n != want and not (n == 1 and y_bcast[d]):
            hint = (f"; dimension {d} of the value has length 1 but its type is not "
                    "broadcastable (use T.addbroadcast)") if n == 1 else ""
            raise ValueError(f"{op}: cannot {'set' if getattr(op, 'set_instead_of_inc', False) else 'increment'} "
                             f"a region of shape {region} with a value of shape {y.shape}{hint}")


def disconnected() -> Variable:
    from theanolite.gradient import DisconnectedType
    return DisconnectedType()()


def float_zeros(x: Variable) -> Variable:
    """Theano's gradient for an integer input: zeros of floatX."""
    return zeros_like(x, dtype=config.floatX)


def grad_like(g: Variable, x: Variable) -> Variable:
    return g if g.dtype == x.dtype else cast(g, x.dtype)


# ----------------------------------------------------------------------------- slice arithmetic

def _known(v: Any) -> int | None:
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, Constant) and np.ndim(v.data) == 0:
        return int(v.data)
    return None


def _sym(v: Any) -> Variable:
    k = _known(v)
    if k is not None:
        return constant(k, dtype="int64")
    return v if v.dtype == "int64" else cast(v, "int64")


def _fold(fn: Callable, sym: Callable, *args: Any) -> Any:
    known = [_known(a) for a in args]
    if all(k is not None for k in known):
        return fn(*known)
    return sym(*[_sym(a) for a in args])


def _add(a: Any, b: Any) -> Any:
    return _fold(lambda x, y: x + y, tm.add, a, b)


def _sub(a: Any, b: Any) -> Any:
    return _fold(lambda x, y: x - y, tm.sub, a, b)


def _min(a: Any, b: Any) -> Any:
    return _fold(min, tm.minimum, a, b)


def _max(a: Any, b: Any) -> Any:
    return _fold(max, tm.maximum, a, b)


def _floordiv(a: Any, b: Any) -> Any:
    return _fold(lambda x, y: x // y, tm.int_div, a, b)


def _bound(v: Any, n: Any, default: Any, lo: Any, hi: Any) -> Any:
    """Python's clamping of a slice bound ``v`` into [lo, hi] for a length-``n`` axis."""
    if v is None:
        return default
    k = _known(v)
    if k is not None:
        return _max(_add(n, k), lo) if k < 0 else _min(k, hi)
    v = _sym(v)
    return tm.switch(tm.lt(v, 0), _sym(_max(_add(n, v), lo)), _sym(_min(v, hi)))


def _length_up(start: Any, stop: Any, step: Any, n: Any) -> Any:
    b = _bound(start, n, 0, 0, n)
    e = _bound(stop, n, n, 0, n)
    span = _max(_sub(e, b), 0)
    return span if _known(step) == 1 else _floordiv(_add(span, _sub(step, 1)), step)


def _length_down(start: Any, stop: Any, step: Any, n: Any) -> Any:
    last = _sub(n, 1)
    b = _bound(start, n, last, -1, last)
    e = _bound(stop, n, -1, -1, last)
    span = _max(_sub(b, e), 0)
    stride = _sub(0, step)
    return span if _known(stride) == 1 else _floordiv(_add(span, _sub(stride, 1)), stride)


def slice_length(start: Any, stop: Any, step: Any, n: Any) -> Any:
    """``len(range(n)[start:stop:step])`` by Python's slice rules (Theano's canonical-slice
    arithmetic). Arguments are None, ints or int scalars; the result is a Python int when
    everything is known, else an int64 scalar graph."""
    k_step = 1 if step is None else _known(step)
    k_n = _known(n)
    if k_step is not None and k_n is not None and all(p is None or _known(p) is not None for p in (start, stop)):
        if k_step == 0:
            raise ValueError("slice step cannot be zero")
        return len(range(*slice(_known(start), _known(stop), k_step).indices(k_n)))
    if k_step is not None:
        if k_step == 0:
            raise ValueError("slice step cannot be zero")
        return (_length_up if k_step > 0 else _length_down)(start, stop, k_step, n)
    step = _sym(step)
    up, down = _sym(_length_up(start, stop, step, n)), _sym(_length_down(start, stop, step, n))
    return tm.switch(tm.gt(step, 0), up, down)


def keeps_single(start: Any, stop: Any, step: Any) -> bool:
    """True if the slice surely keeps the one element of a length-1 axis (so a
    broadcastable input dimension stays broadcastable)."""
    parts = (start, stop, step)
    if any(p is not None and _known(p) is None for p in parts):
        return False
    start, stop, step = (None if p is None else _known(p) for p in parts)
    if step is None or step > 0:
        return start in (None, 0) and (stop is None or stop >= 1)
    return start is None and stop is None


# ----------------------------------------------------------------------------- Subtensor

def _region_ndim(idx_list: Sequence[Any], ndim: int) -> int:
    return ndim - sum(1 for e in idx_list if not isinstance(e, SliceSpec))


def _check_length(op: Any, idx_list: Sequence[Any], x: Variable) -> None:
    if len(idx_list) > x.ndim:
        raise IndexError(f"{op}: too many indices ({len(idx_list)}) for the {x.ndim}-d tensor {x}")


class Subtensor(Op):
    """Basic indexing ``x[idx_list]`` (numpy semantics): a view of ``x``.

    Ints drop their dimension, slices keep it; see the module docstring for ``idx_list``.
    Out-of-range indices raise IndexError naming the op, the index and the shape.
    """

    __props__ = ("idx_list",)
    view_map = {0: [0]}

    def __init__(self, idx_list: Sequence[Any]) -> None:
        self.idx_list = normalize_idx_list(idx_list)

    def make_node(self, x: Any, *inputs: Any) -> Apply:
        x = as_tensor_variable(x)
        _check_length(self, self.idx_list, x)
        pieces = check_index_inputs(self, placeholders(self.idx_list), inputs)
        index = fill_index(self.idx_list, pieces)
        bcast = []
        for d, b in enumerate(x.broadcastable):
            e = index[d] if d < len(index) else slice(None)
            if isinstance(e, slice):
                bcast.append(b and keeps_single(e.start, e.stop, e.step))
        return Apply(self, [x] + pieces, [TensorType(x.dtype, bcast)()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        xshp = input_shapes[0]
        index = fill_index(self.idx_list, node.inputs[1:])
        out = []
        for d, n in enumerate(xshp):
            e = index[d] if d < len(index) else slice(None)
            if isinstance(e, slice):
                out.append(slice_length(e.start, e.stop, e.step, n))
        return [tuple(out)]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x = inputs[0]
        index = fill_index(self.idx_list, inputs[1:], int, int)
        try:
            # The trailing Ellipsis makes an all-int index return a 0-d view, not a scalar.
            output_storage[0][0] = x[index + (Ellipsis,)]
        except IndexError as exc:
            raise index_error(self, index, x.shape, exc) from None
        except ValueError as exc:
            raise ValueError(f"{self}: bad index {concrete_text(index)} for shape {x.shape}: {exc}") from None

    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list:
        x, rest = inputs[0], list(inputs[1:])
        if x.dtype in discrete_dtypes:
            gx = float_zeros(x)
        else:
            gx = IncSubtensor(self.idx_list)(zeros_like(x), grad_like(output_grads[0], x), *rest)
        return [gx] + [disconnected() for _ in rest]

    def R_op(self, inputs: Sequence[Variable], eval_points: Sequence[Variable | None]) -> list:
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], *inputs[1:])]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True]] + [[False] for _ in node.inputs[1:]]

    def get_scalar_constant_value(self, node: Apply, v: Variable) -> np.ndarray:
        """Hook of ``get_scalar_constant_value``: constant-int indexing of a constant or of
        a ``MakeVector`` (e.g. a stacked shape) is known at graph-building time."""
        from theanolite.tensor.alloc_ops import MakeVector
        x = node.inputs[0]
        if len(node.inputs) == 1 and node.outputs[0].ndim == 0:
            try:
                if isinstance(x, Constant):
                    return np.asarray(np.asarray(x.data)[self.idx_list])
                if x.owner is not None and isinstance(x.owner.op, MakeVector) and len(self.idx_list) == 1:
                    return np.asarray(get_scalar_constant_value(x.owner.inputs[self.idx_list[0]]),
                                      dtype=v.dtype)
            except IndexError:
                pass
        raise NotScalarConstantError(v)

    def __str__(self) -> str:
        return f"Subtensor{{{index_text(self.idx_list, placeholders(self.idx_list))}}}"

    def pp(self, input_strings: Sequence[str]) -> str:
        return f"{input_strings[0]}[{index_text(self.idx_list, input_strings[1:])}]"


# ----------------------------------------------------------------------------- IncSubtensor

def inc_label(set_instead_of_inc: bool) -> str:
    return "set_subtensor" if set_instead_of_inc else "inc_subtensor"


class IncSubtensorGrads:
    """L_op, R_op and connection pattern of an inc/set-subtensor op, shared by every kind
    (IncSubtensor, AdvancedIncSubtensor, AdvancedIncSubtensor1). Inputs are
    ``(x, y, *index_inputs)``; the kinds differ only in ``read_region`` (the op reading the
    same region: ``read_op(idx_list)`` by default) and ``with_mode`` (a fresh op of the
    same kind, inc or set)."""

    read_op: type
    idx_list: tuple
    set_instead_of_inc: bool

    def read_region(self, x: Variable, index_inputs: list) -> Variable:
        return self.read_op(self.idx_list)(x, *index_inputs)

    def with_mode(self, set_instead_of_inc: bool) -> Any:
        return type(self)(self.idx_list, set_instead_of_inc=set_instead_of_inc)

    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list:
        x, y, rest = inputs[0], inputs[1], list(inputs[2:])
        gz = output_grads[0]
        if x.dtype in discrete_dtypes:
            gx = float_zeros(x)
        elif self.set_instead_of_inc:
            gx = self.with_mode(True)(gz, constant(0, dtype=gz.dtype), *rest)
        else:
            gx = gz
        if y.dtype in discrete_dtypes:
            gy = float_zeros(y)
        else:
            gy = grad_like(sum_to_broadcastable(self.read_region(gz, rest), y), y)
        return [gx, gy] + [disconnected() for _ in rest]

    def R_op(self, inputs: Sequence[Variable], eval_points: Sequence[Variable | None]) -> list:
        ex, ey = eval_points[0], eval_points[1]
        if ex is None and ey is None:
            return [None]
        ex = zeros_like(inputs[0]) if ex is None else ex
        ey = zeros_like(inputs[1]) if ey is None else ey
        return [self.with_mode(self.set_instead_of_inc)(ex, ey, *inputs[2:])]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True], [True]] + [[False] for _ in node.inputs[2:]]


class IncSubtensor(IncSubtensorGrads, Op):
    """A copy of ``x`` with ``y`` added to (or, with ``set_instead_of_inc``, written into)
    the region ``x[idx_list]``; inputs ``(x, y, *index pieces)``.

    ``y`` broadcasts to the region where its type is broadcastable. ``inplace`` ops
    (made by a rewrite) overwrite ``x``; otherwise ``perform`` copies it first.
    """

    __props__ = ("idx_list", "inplace", "set_instead_of_inc")

    read_op = Subtensor

    def __init__(self, idx_list: Sequence[Any], inplace: bool = False, set_instead_of_inc: bool = False,
                 destroyhandler_tolerate_aliased: Any = None) -> None:
        self.idx_list = normalize_idx_list(idx_list)
        self.inplace = bool(inplace)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def make_node(self, x: Any, y: Any, *inputs: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        _check_length(self, self.idx_list, x)
        pieces = check_index_inputs(self, placeholders(self.idx_list), inputs)
        region = _region_ndim(self.idx_list, x.ndim)
        if y.ndim > region:
            raise TypeError(f"{self}: cannot {inc_label(self.set_instead_of_inc)} a {region}-d region "
                            f"of {x} with the {y.ndim}-d value {y}")
        return Apply(self, [x, y] + pieces, [x.type()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        return [tuple(input_shapes[0])]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x, y = inputs[0], inputs[1]
        out = x if self.inplace else x.copy()
        index = fill_index(self.idx_list, inputs[2:], int, int)
        try:
            region = out[index + (Ellipsis,)]
        except IndexError as exc:
            raise index_error(self, index, x.shape, exc) from None
        check_value_shape(self, region.shape, y, node.inputs[1].broadcastable)
        if self.set_instead_of_inc:
            region[...] = y
        else:
            np.add(region, y, out=region, casting="unsafe")
        output_storage[0][0] = out

    def __str__(self) -> str:
        mode = ("Inplace" if self.inplace else "") + ("Set" if self.set_instead_of_inc else "Inc")
        return f"IncSubtensor{{{mode};{index_text(self.idx_list, placeholders(self.idx_list))}}}"

    def pp(self, input_strings: Sequence[str]) -> str:
        x, y, pieces = input_strings[0], input_strings[1], input_strings[2:]
        return f"{inc_label(self.set_instead_of_inc)}({x}[{index_text(self.idx_list, pieces)}], {y})"


# ----------------------------------------------------------------------------- getitem

def _index_var(e: Any, what: str) -> Variable:
    try:
        return as_tensor_variable(e)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} {e!r:.60} is not a valid index: {exc}") from None


def _slice_part(p: Any) -> int | Variable | None:
    if p is None:
        return None
    if isinstance(p, (bool, np.bool_)):
        raise TypeError(f"slice bound {p!r} is a bool; slice bounds must be integers")
    if isinstance(p, (int, np.integer)):
        return int(p)
    v = _index_var(p, "slice bound")
    if v.ndim != 0 or np.dtype(v.dtype).kind not in "iu":
        raise TypeError(f"slice bound {v} must be an integer scalar, got a {v.ndim}-d {v.dtype} tensor")
    k = _known(v)
    return v if k is None else k


def _convert_entry(e: Any) -> Any:
    """One index entry as: int, slice (int/var/None parts), None, Ellipsis, or a tensor
    (a symbolic int scalar, an int array, or a bool array)."""
    if e is None or e is Ellipsis:
        return e
    if isinstance(e, slice):
        return slice(_slice_part(e.start), _slice_part(e.stop), _slice_part(e.step))
    if isinstance(e, (bool, np.bool_)):
        raise TypeError(f"the boolean scalar index {e!r} is not supported; index with a boolean array")
    if isinstance(e, (int, np.integer)):
        return int(e)
    if (isinstance(e, (list, tuple)) and len(e) == 0) or (
            isinstance(e, np.ndarray) and e.size == 0 and e.dtype.kind not in "iub"):
        return constant(np.zeros(np.shape(e), dtype="int64"))  # numpy reads [] as an int index
    v = _index_var(e, "index")
    kind = np.dtype(v.dtype).kind
    if kind == "b":
        if v.ndim == 0:
            raise TypeError(f"the boolean scalar index {v} is not supported; index with a boolean array")
        return v
    if kind not in "iu":
        raise TypeError(f"index {v} has dtype {v.dtype}: indices must be integers, slices, None, "
                        "Ellipsis or boolean arrays")
    if v.ndim == 0:
        k = _known(v)
        return v if k is None else k
    return v


def _is_bool(e: Any) -> bool:
    return isinstance(e, Variable) and e.dtype == "bool"


def _dims_used(e: Any) -> int:
    if e is None:
        return 0
    return e.ndim if _is_bool(e) else 1


def is_advanced(e: Any) -> bool:
    return isinstance(e, Variable) and (e.ndim > 0 or e.dtype == "bool")


def _expand_ellipsis(entries: list, ndim: int) -> list:
    spots = [k for k, e in enumerate(entries) if e is Ellipsis]
    if not spots:
        return entries
    if len(spots) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    fill = max(ndim - sum(_dims_used(e) for e in entries if e is not Ellipsis), 0)
    k = spots[0]
    return entries[:k] + [slice(None)] * fill + entries[k + 1:]


def getitem(x: Any, index: Any) -> Variable:
    """``x[index]`` with numpy semantics: basic indices give a ``Subtensor`` view, integer
    or boolean arrays an advanced-indexing op (a single int vector on the first axis is
    ``AdvancedSubtensor1``). Raises IndexError for too many indices, TypeError for
    non-integer indices."""
    x = as_tensor_variable(x)
    entries = [_convert_entry(e) for e in (index if isinstance(index, tuple) else (index,))]
    entries = _expand_ellipsis(entries, x.ndim)
    used = sum(_dims_used(e) for e in entries)
    if used > x.ndim:
        raise IndexError(f"too many indices for the {x.ndim}-d tensor {x}: the index uses {used} dimensions")
    if any(e is None for e in entries):
        return _getitem_newaxis(x, entries)
    if any(is_advanced(e) for e in entries):
        from theanolite.tensor.subtensor_advanced import advanced_getitem
        return advanced_getitem(x, entries)
    return _basic_getitem(x, entries)


def _getitem_newaxis(x: Variable, entries: list) -> Variable:
    """Insert the new axes with a DimShuffle, then index them with ``:`` (as Theano)."""
    pattern: list[Any] = []
    rest: list[Any] = []
    d = 0
    for e in entries:
        if e is None:
            pattern.append("x")
            rest.append(slice(None))
        else:
            n = _dims_used(e)
            pattern.extend(range(d, d + n))
            d += n
            rest.append(e)
    pattern.extend(range(d, x.ndim))
    view = DimShuffle(x.broadcastable, pattern)(x)
    # set_subtensor on the result must drop these axes again (see _undo_newaxis).
    view.tag[_NEWAXIS_TAG] = tuple(pattern)
    return getitem(view, tuple(rest))


def _basic_getitem(x: Variable, entries: list) -> Variable:
    if len(entries) == 1 and isinstance(entries[0], int) and x.owner is not None \
            and isinstance(x.owner.op, Shape):
        # shape(x)[i] is Shape_i(i)(x), as Theano's rewrite would make it.
        base, i = x.owner.inputs[0], entries[0]
        if not -base.ndim <= i < base.ndim:
            raise IndexError(f"index {i} is out of range for the shape of the {base.ndim}-d tensor {base}")
        return Shape_i(i % base.ndim)(base)
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
    return Subtensor(idx_list)(x, *pieces)


# ----------------------------------------------------------------------------- set / inc

def inc_subtensor(x: Any, y: Any, inplace: bool = False, set_instead_of_inc: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Variable:
    """The tensor that ``x`` indexes, with ``y`` added to the region ``x`` selects.

    ``x`` must be an indexing result ``t[idx]`` (Theano's API): ``t`` and ``idx`` are read
    from its owner, and the result has ``t``'s shape. Duplicate advanced indices
    accumulate (like ``np.add.at``). ``y`` broadcasts to the region. TypeError if ``x`` is
    not an indexing result or ``y`` has more dimensions than the region.
    """
    from theanolite.tensor import subtensor_advanced as adv
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    label = inc_label(set_instead_of_inc)
    node = x.owner
    op = node.op if node is not None else None
    if not isinstance(op, (Subtensor, adv.AdvancedSubtensor1, adv.AdvancedSubtensor)):
        how = f"computed by {op}" if op is not None else "not computed by indexing"
        raise TypeError(f"{label}: the first argument must be an indexing result such as x[i], "
                        f"but {x} is {how}")
    if y.ndim > x.ndim:
        raise TypeError(f"{label}: cannot write the {y.ndim}-d value {y} into the {x.ndim}-d subtensor {x}")
    offset = x.ndim - y.ndim
    forced = [d for d in range(y.ndim) if x.broadcastable[offset + d] and not y.broadcastable[d]]
    if forced:
        # The region is length 1 there: y must be too (checked at run time by Rebroadcast).
        y = addbroadcast(y, *forced)
    base, rest = node.inputs[0], list(node.inputs[1:])
    if isinstance(op, Subtensor):
        out = IncSubtensor(op.idx_list, inplace, set_instead_of_inc)(base, y, *rest)
    elif isinstance(op, adv.AdvancedSubtensor1):
        out = adv.AdvancedIncSubtensor1(inplace, set_instead_of_inc)(base, y, *rest)
    else:
        out = adv.AdvancedIncSubtensor(op.idx_list, inplace, set_instead_of_inc)(base, y, *rest)
    return _undo_newaxis(base, out)


def set_subtensor(x: Any, y: Any, inplace: bool = False, tolerate_inplace_aliasing: bool = False) -> Variable:
    """The tensor that ``x`` indexes, with the region ``x`` selects replaced by ``y``
    (``x`` must be an indexing result ``t[idx]``; see ``inc_subtensor``)."""
    return inc_subtensor(x, y, inplace, set_instead_of_inc=True,
                         tolerate_inplace_aliasing=tolerate_inplace_aliasing)


def _undo_newaxis(base: Variable, out: Variable) -> Variable:
    """If ``base`` is getitem's newaxis view of some ``t``, drop the added axes so the
    result has ``t``'s shape (they are broadcastable, of length 1)."""
    pattern = base.tag.get(_NEWAXIS_TAG)
    if pattern is None or base.owner is None or not isinstance(base.owner.op, DimShuffle) \
            or base.owner.op.new_order != pattern:
        return out
    keep = [k for k, p in enumerate(pattern) if p != "x"]
    return DimShuffle(out.broadcastable, keep)(out)


from theanolite.tensor.subtensor_advanced import *  # noqa: E402,F401,F403 (re-exported)
from theanolite.tensor import subtensor_advanced as _adv  # noqa: E402

__all__ += list(_adv.__all__)
