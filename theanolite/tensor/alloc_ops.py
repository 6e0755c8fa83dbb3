"""Ops that create tensors from shapes: ``Alloc`` (zeros, ones, full), ``Eye``, ``ARange``
and ``MakeVector`` (a vector from scalars), ``tile`` (an alloc reshaped), plus the helpers that read symbolic shape
vectors (``get_vector_length``, ``vector_entries``).

Shapes are int64 everywhere: every shape argument is converted to an int64 scalar (or
vector) when the node is built, so ``infer_shape`` entries are always int64.
``theanolite.tensor.shape_ops`` re-exports everything public here.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theanolite.configparser import config
from theanolite.graph.basic import Apply, Constant, Variable
from theanolite.graph.op import Op
from theanolite.scalar import basic as scal
from theanolite.tensor.basic import (NotScalarConstantError, Shape, as_tensor_variable, cast,
                                     constant, get_scalar_constant_value, shape_i, zeros_like)
from theanolite.tensor.elemwise import Elemwise, sum_to_broadcastable
from theanolite.tensor.math import ceil, maximum, sub, true_div
from theanolite.tensor.type import TensorType
from theanolite.tensor.var import TensorVariable

__all__ = [
    "Alloc", "alloc", "zeros", "ones", "full", "Eye", "eye", "identity_like", "ARange",
    "arange", "MakeVector", "get_vector_length", "tile",
]

_INT_KINDS = "iu"


def _disconnected() -> Variable:
    from theanolite.gradient import DisconnectedType
    return DisconnectedType()()


def _tsum(x: Variable, axis: Any = None) -> Variable:
    # A sibling module that may come to import this one: import it at call time.
    from theanolite.tensor.reduction import sum as tsum
    return tsum(x, axis=axis)


def _float_zeros(x: Variable) -> Variable:
    """Theano's gradient for an integer input: zeros of floatX."""
    return zeros_like(x, dtype=config.floatX)


# ----------------------------------------------------------------------------- shape arguments

def as_int_scalar(value: Any, what: str, opname: str) -> TensorVariable:
    """``value`` as an int64 scalar variable; TypeError naming ``what`` if it is not an int."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{opname}: {what} must be an integer, got the bool {value!r}")
    if isinstance(value, (int, np.integer)):
        return constant(int(value), dtype="int64")
    var = as_tensor_variable(value)
    if var.ndim != 0:
        raise TypeError(f"{opname}: {what} must be an integer scalar, got the {var.ndim}-d tensor {var}")
    if np.dtype(var.dtype).kind not in _INT_KINDS:
        raise TypeError(f"{opname}: {what} must be an integer, got {var} of dtype {var.dtype}")
    if isinstance(var, Constant):
        return constant(int(var.data), dtype="int64")
    return var if var.dtype == "int64" else cast(var, "int64")


def as_int_vector(value: Any, what: str, opname: str) -> TensorVariable:
    """A shape-like argument as an int64 vector.

    Accepts a list/tuple mixing Python ints and integer scalars (all-constant lists become
    one constant, others a ``MakeVector``), a Python int or integer scalar (a vector of
    one), or an integer vector.
    """
    if isinstance(value, (list, tuple)):
        items = [as_int_scalar(v, f"{what}[{k}]", opname) for k, v in enumerate(value)]
        if all(isinstance(i, Constant) for i in items):
            return constant(np.asarray([int(i.data) for i in items], dtype="int64").reshape(len(items)))
        return MakeVector("int64")(*items)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return constant(np.asarray([int(value)], dtype="int64"))
    var = as_tensor_variable(value)
    if var.ndim == 0:
        return as_int_vector([var], what, opname)
    if var.ndim != 1:
        raise TypeError(f"{opname}: {what} must be a vector or a list of integers, got the "
                        f"{var.ndim}-d tensor {var}")
    if isinstance(var, Constant) and var.data.size == 0:
        return constant(np.zeros(0, dtype="int64"))
    if np.dtype(var.dtype).kind not in _INT_KINDS:
        raise TypeError(f"{opname}: {what} must contain integers, got {var} of dtype {var.dtype}")
    if isinstance(var, Constant):
        return constant(np.asarray(var.data, dtype="int64"))
    return var if var.dtype == "int64" else cast(var, "int64")


def get_vector_length(v: Any) -> int:
    """The length of the vector ``v`` if it is known at graph-building time.

    Known for constants, ``MakeVector`` outputs, ``shape(x)``, casts of those, joins of
    those along axis 0, and vectors whose type is broadcastable. Else ValueError.
    """
    v = as_tensor_variable(v)
    if v.ndim != 1:
        raise TypeError(f"get_vector_length: expected a vector, got the {v.ndim}-d tensor {v}")
    if v.broadcastable[0]:
        return 1
    if isinstance(v, Constant):
        return int(np.asarray(v.data).shape[0])
    owner = v.owner
    if owner is not None:
        op = owner.op
        if isinstance(op, MakeVector):
            return len(owner.inputs)
        if isinstance(op, Shape):
            return owner.inputs[0].ndim
        if isinstance(op, Elemwise) and isinstance(op.scalar_op, scal.Cast):
            return get_vector_length(owner.inputs[0])
        if _is_join_axis0(owner):
            return sum(get_vector_length(t) for t in owner.inputs[1:])
    raise ValueError(f"get_vector_length: the length of the vector {v} is not known at "
                     "graph-building time")


def _is_join_axis0(node: Apply) -> bool:
    from theanolite.tensor.shape_ops import Join
    return (isinstance(node.op, Join) and isinstance(node.inputs[0], Constant)
            and int(node.inputs[0].data) == 0)


def vector_entries(v: Variable, n: int | None = None) -> list[TensorVariable]:
    """The entries of the integer vector ``v`` as int64 scalars.

    Constant, ``MakeVector``, ``shape(x)`` and joined vectors are read directly; anything
    else is split into its entries, which needs its length (``n`` or ``get_vector_length``).
    """
    owner = v.owner
    if isinstance(v, Constant):
        return [constant(int(e), dtype="int64") for e in np.asarray(v.data).reshape(-1)]
    if owner is not None:
        op = owner.op
        if isinstance(op, MakeVector):
            return [as_int_scalar(i, "entry", "vector_entries") for i in owner.inputs]
        if isinstance(op, Shape):
            x = owner.inputs[0]
            return [shape_i(x, d) for d in range(x.ndim)]
        if isinstance(op, Elemwise) and isinstance(op.scalar_op, scal.Cast):
            return vector_entries(owner.inputs[0], n)
        if _is_join_axis0(owner):
            return [e for t in owner.inputs[1:] for e in vector_entries(t)]
    length = n if n is not None else get_vector_length(v)
    return [as_int_scalar(e, "entry", "vector_entries") for e in _split_entries(v, length)]


def _split_entries(v: Variable, n: int) -> list[Variable]:
    """The ``n`` entries of ``v`` as scalars, via Split into length-1 pieces (this module
    must not depend on Subtensor)."""
    from theanolite.tensor.shape_ops import Split, reshape
    if n == 0:
        return []
    ones = constant(np.ones(n, dtype="int64"))
    pieces = Split(n).make_node(v, 0, ones).outputs
    return [reshape(p, [], ndim=0) for p in pieces]


def constant_entries(v: Variable, n: int) -> list[int | None]:
    """Entries of the vector ``v`` known at graph-building time (None where unknown)."""
    if isinstance(v, Constant):
        return [int(e) for e in np.asarray(v.data).reshape(-1)]
    owner = v.owner
    if owner is not None and isinstance(owner.op, (MakeVector, Shape)):
        result: list[int | None] = []
        for e in vector_entries(v):
            try:
                result.append(int(get_scalar_constant_value(e)))
            except NotScalarConstantError:
                result.append(None)
        return result
    return [None] * n


def _shape_args(shape: Sequence[Any], opname: str) -> list[TensorVariable]:
    """``*shape`` of alloc/zeros: ints, int scalars, or a single list/tuple/int vector."""
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = tuple(shape[0])
    elif len(shape) == 1 and np.ndim(shape[0]) == 1:  # an int vector (variable or array)
        vec = as_int_vector(shape[0], "shape", opname)
        shape = tuple(vector_entries(vec))
    return [as_int_scalar(s, f"shape[{k}]", opname) for k, s in enumerate(shape)]


# ----------------------------------------------------------------------------- MakeVector

class MakeVector(Op):
    """A vector of ``dtype`` from scalars (what ``as_tensor_variable([a, b])`` builds).

    Inputs are cast to ``dtype``, which must not lose precision.
    """

    __props__ = ("dtype",)

    def __init__(self, dtype: str = "int64") -> None:
        self.dtype = str(np.dtype(dtype))

    def make_node(self, *inputs: Any) -> Apply:
        ins = []
        for k, inp in enumerate(inputs):
            var = as_tensor_variable(inp)
            if var.ndim != 0:
                raise TypeError(f"MakeVector: input {k} ({var}) is a {var.ndim}-d tensor, expected a scalar")
            if scal.upcast(self.dtype, var.dtype) != self.dtype:
                raise TypeError(f"MakeVector{{{self.dtype}}}: input {k} ({var}) of dtype {var.dtype} "
                                f"cannot be cast to {self.dtype} without loss")
            ins.append(var if var.dtype == self.dtype else cast(var, self.dtype))
        return Apply(self, ins, [TensorType(self.dtype, (False,))()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        return [(constant(len(node.inputs), dtype="int64"),)]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        output_storage[0][0] = np.array(inputs, dtype=self.dtype).reshape(len(inputs))

    def L_op(self, inputs, outputs, output_grads):
        if self.dtype in scal.discrete_dtypes:
            return [_float_zeros(i) for i in inputs]
        pieces = _split_entries(output_grads[0], len(inputs))
        return [_float_zeros(inp) if inp.dtype in scal.discrete_dtypes else cast(piece, inp.dtype)
                for inp, piece in zip(inputs, pieces)]

    def R_op(self, inputs, eval_points):
        if all(e is None for e in eval_points):
            return [None]
        evs = [zeros_like(i) if e is None else e for i, e in zip(inputs, eval_points)]
        return [self(*[cast(e, self.dtype) for e in evs])]

    def pp(self, input_strings: list[str]) -> str:
        return "[" + ", ".join(input_strings) + "]"


# ----------------------------------------------------------------------------- Alloc

class Alloc(Op):
    """``value`` broadcast into a new array of shape ``shape`` (one int scalar per dim).

    ``value`` fills the trailing dimensions. As in ``Elemwise``, a dimension of ``value``
    broadcasts only where its type says it is broadcastable; any other length must equal
    the requested one. Output dimensions whose requested length is the constant 1 are
    broadcastable. The gradient sums the output gradient back to ``value``'s shape.
    """

    __props__ = ()

    def make_node(self, value: Any, *shape: Any) -> Apply:
        v = as_tensor_variable(value)
        sh = [as_int_scalar(s, f"shape[{k}]", "Alloc") for k, s in enumerate(shape)]
        if v.ndim > len(sh):
            raise TypeError(f"Alloc: the value {v} has {v.ndim} dimensions, more than the "
                            f"{len(sh)} of the requested shape")
        bcast = []
        for k, s in enumerate(sh):
            if isinstance(s, Constant):
                n = int(s.data)
                if n < 0:
                    raise ValueError(f"Alloc: shape[{k}] is negative ({n})")
                bcast.append(n == 1)
            else:
                bcast.append(False)
        return Apply(self, [v] + sh, [TensorType(v.dtype, bcast)()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        return [tuple(node.inputs[1:])]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        v = inputs[0]
        sh = tuple(int(s) for s in inputs[1:])
        if any(s < 0 for s in sh):
            raise ValueError(f"Alloc: negative dimension in the requested shape {sh}")
        offset = len(sh) - v.ndim
        for d in range(v.ndim):
            n, want = v.shape[d], sh[offset + d]
            if n == want or (n == 1 and node.inputs[0].broadcastable[d]):
                continue
            hint = " (a length-1 dimension broadcasts only if its type is broadcastable)" if n == 1 else ""
            raise ValueError(f"Alloc: cannot fill shape {sh} with a value of shape {v.shape}: "
                             f"dimension {d} of the value has length {n}, expected {want}{hint}")
        out = np.empty(sh, dtype=node.outputs[0].dtype)
        out[...] = v
        output_storage[0][0] = out

    def L_op(self, inputs, outputs, output_grads):
        x, gz = inputs[0], output_grads[0]
        rest = [_disconnected() for _ in inputs[1:]]
        if x.dtype in scal.discrete_dtypes:
            return [_float_zeros(x)] + rest
        gx = sum_to_broadcastable(gz, x)
        return [gx if gx.dtype == x.dtype else cast(gx, x.dtype)] + rest

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], *inputs[1:])]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True]] + [[False] for _ in node.inputs[1:]]

    def do_constant_folding(self, fgraph: Any, node: Apply) -> bool:
        # A folded Alloc that is a graph output would be copied on every call.
        clients = getattr(fgraph, "clients", None) or {}
        return not any(c[0] == "output" for c in clients.get(node.outputs[0], []))

    def get_scalar_constant_value(self, node: Apply, v: Variable) -> np.ndarray:
        """Every element of an Alloc of a constant is that constant."""
        return np.asarray(get_scalar_constant_value(node.inputs[0]), dtype=v.dtype)

    def __str__(self) -> str:
        return "Alloc"


_alloc = Alloc()


def alloc(value: Any, *shape: Any) -> TensorVariable:
    """``value`` broadcast to ``shape``: ``alloc(v, 3, n)`` or ``alloc(v, (3, n))``."""
    return _alloc(value, *_shape_args(shape, "Alloc"))


def _as_shape_args(shape: Any) -> tuple:
    if isinstance(shape, (list, tuple)):
        return (list(shape),)
    return (shape,)


def zeros(shape: Any, dtype: str | None = None) -> TensorVariable:
    """A tensor of zeros of ``shape`` (an int, a list/tuple, or an int vector such as x.shape)."""
    dtype = config.floatX if dtype in (None, "floatX") else dtype
    return alloc(np.zeros((), dtype=dtype), *_as_shape_args(shape))


def ones(shape: Any, dtype: str | None = None) -> TensorVariable:
    """A tensor of ones of ``shape`` (an int, a list/tuple, or an int vector such as x.shape)."""
    dtype = config.floatX if dtype in (None, "floatX") else dtype
    return alloc(np.ones((), dtype=dtype), *_as_shape_args(shape))


def full(shape: Any, fill_value: Any, dtype: str | None = None) -> TensorVariable:
    """A tensor of ``shape`` filled with ``fill_value`` (of its dtype unless ``dtype``)."""
    value = as_tensor_variable(fill_value)
    if dtype is not None:
        value = cast(value, config.floatX if dtype == "floatX" else dtype)
    return alloc(value, *_as_shape_args(shape))


# ----------------------------------------------------------------------------- Eye

class Eye(Op):
    """An ``n`` x ``m`` matrix with ones on diagonal ``k`` (numpy.eye)."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str | None = None) -> None:
        self.dtype = str(np.dtype(config.floatX if dtype in (None, "floatX") else dtype))

    def make_node(self, n: Any, m: Any, k: Any) -> Apply:
        ins = [as_int_scalar(a, name, "Eye") for a, name in ((n, "n"), (m, "m"), (k, "k"))]
        return Apply(self, ins, [TensorType(self.dtype, (False, False))()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        return [(node.inputs[0], node.inputs[1])]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        n, m, k = (int(i) for i in inputs)
        if n < 0 or m < 0:
            raise ValueError(f"Eye: negative dimension in the requested shape ({n}, {m})")
        output_storage[0][0] = np.eye(n, m, k, dtype=self.dtype)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import grad_undefined
        return [grad_undefined(self, i, inp) for i, inp in enumerate(inputs)]

    def R_op(self, inputs, eval_points):
        return [None]


def eye(n: Any, m: Any = None, k: Any = 0, dtype: str | None = None) -> TensorVariable:
    """Identity-like matrix: ``n`` rows, ``m`` (default ``n``) columns, ones on diagonal ``k``."""
    return Eye(dtype)(n, n if m is None else m, k)


def identity_like(x: Any) -> TensorVariable:
    """An identity matrix of the shape and dtype of the matrix ``x``."""
    x = as_tensor_variable(x)
    if x.ndim != 2:
        raise TypeError(f"identity_like: expected a matrix, got the {x.ndim}-d tensor {x}")
    return eye(shape_i(x, 0), shape_i(x, 1), 0, dtype=x.dtype)


# ----------------------------------------------------------------------------- ARange

class ARange(Op):
    """``numpy.arange(start, stop, step)`` of ``dtype`` with scalar (symbolic) bounds."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = str(np.dtype(dtype))

    def make_node(self, start: Any, stop: Any, step: Any) -> Apply:
        ins = []
        for value, name in ((start, "start"), (stop, "stop"), (step, "step")):
            var = as_tensor_variable(value)
            if var.ndim != 0:
                raise TypeError(f"ARange: {name} must be a scalar, got the {var.ndim}-d tensor {var}")
            if np.dtype(var.dtype).kind not in "biuf":
                raise TypeError(f"ARange: {name} must be real, got {var} of dtype {var.dtype}")
            ins.append(var)
        return Apply(self, ins, [TensorType(self.dtype, (False,))()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        start, stop, step = node.inputs
        if _constant_equals(step, 1) and all(np.dtype(v.dtype).kind in "biu" for v in (start, stop)):
            if _constant_equals(start, 0):
                return [(maximum(cast(stop, "int64"), 0),)]
            return [(maximum(sub(cast(stop, "int64"), cast(start, "int64")), 0),)]
        # numpy's length rule: ceil((stop - start) / step), never negative; in float64
        # from the arguments' own values, as numpy computes it.
        span = sub(cast(stop, "float64"), cast(start, "float64"))
        return [(maximum(cast(ceil(true_div(span, cast(step, "float64"))), "int64"), 0),)]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        start, stop, step = (i.item() for i in inputs)
        if step == 0:
            raise ValueError(f"ARange: step must not be zero (start={start}, stop={stop})")
        output_storage[0][0] = np.arange(start, stop, step, dtype=self.dtype)

    def L_op(self, inputs, outputs, output_grads):
        start, stop, step = inputs
        gz = output_grads[0]
        if self.dtype in scal.discrete_dtypes:
            return [_float_zeros(start), _disconnected(), _float_zeros(step)]
        steps = arange(shape_i(outputs[0], 0), dtype=self.dtype)
        g_start, g_step = _tsum(gz), _tsum(gz * steps)
        return [_cast_grad(g_start, start), _disconnected(), _cast_grad(g_step, step)]

    def R_op(self, inputs, eval_points):
        ev_start, _, ev_step = eval_points
        if self.dtype in scal.discrete_dtypes or (ev_start is None and ev_step is None):
            return [None]
        out = self(*inputs)
        result = zeros_like(out)
        if ev_start is not None:
            result = result + ev_start
        if ev_step is not None:
            result = result + arange(shape_i(out, 0), dtype=self.dtype) * ev_step
        return [cast(result, self.dtype)]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True], [False], [True]]


def _cast_grad(g: Variable, x: Variable) -> Variable:
    if x.dtype in scal.discrete_dtypes:
        return _float_zeros(x)
    return g if g.dtype == x.dtype else cast(g, x.dtype)


def _constant_equals(v: Variable, value: int) -> bool:
    try:
        return bool(get_scalar_constant_value(v) == value)
    except NotScalarConstantError:
        return False


_ARANGES: dict[str, ARange] = {}


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: str | None = None) -> TensorVariable:
    """Theano's ``arange``: ``arange(stop)`` or ``arange(start, stop, step)``, symbolic bounds.

    Without ``dtype``: integer arguments give int64 (uint64 for unsigned), float arguments
    their upcast dtype; under ``cast_policy='numpy+floatX'`` numpy's result dtype, except
    float32 instead of float64 when floatX is float32 and no argument is float64.
    """
    if stop is None:
        start, stop = 0, start
    start, stop, step = (as_tensor_variable(a) for a in (start, stop, step))
    if dtype is None:
        dtype = _arange_dtype(start.dtype, stop.dtype, step.dtype)
    elif dtype == "floatX":
        dtype = config.floatX
    dtype = str(np.dtype(dtype))
    op = _ARANGES.get(dtype)
    if op is None:
        op = _ARANGES[dtype] = ARange(dtype)
    return op(start, stop, step)


def _arange_dtype(*dtypes: str) -> str:
    dtype = scal.upcast(*dtypes)
    if dtype in scal.int_dtypes or dtype == "bool":
        dtype = "int64"
    elif dtype in scal.uint_dtypes:
        dtype = "uint64"
    if config.cast_policy == "numpy+floatX":
        try:
            numpy_dtype = str(np.arange(*[np.full((), v, dtype=d) for v, d in zip((0, 1, 1), dtypes)]).dtype)
        except (TypeError, ValueError):
            numpy_dtype = dtype
        if numpy_dtype != dtype:
            if (config.floatX == "float32" and numpy_dtype == "float64"
                    and "float64" not in dtypes):
                dtype = "float32"
            else:
                dtype = numpy_dtype
    return dtype


# ----------------------------------------------------------------------------- tile

def tile(x: Any, reps: Any, ndim: int | None = None) -> TensorVariable:
    """``numpy.tile``: ``x`` repeated ``reps`` times along each dimension.

    ``reps`` is an int, an int scalar, a list of those, or an int vector (whose length must
    be known, or ``ndim`` given). Built from alloc, dimshuffle and reshape.
    """
    x = as_tensor_variable(x)
    if ndim is not None and ndim < x.ndim:
        raise ValueError(f"tile: ndim={ndim} is smaller than the input's {x.ndim} dimensions")
    if isinstance(reps, (list, tuple)):
        reps_list = [as_int_scalar(r, f"reps[{k}]", "tile") for k, r in enumerate(reps)]
    else:
        vec = as_int_vector(reps, "reps", "tile")
        reps_list = vector_entries(vec, _length_or(vec, ndim))
    for k, r in enumerate(reps_list):
        if isinstance(r, Constant) and int(r.data) < 0:
            raise ValueError(f"tile: reps[{k}] is negative ({int(r.data)})")
    if ndim is not None and len(reps_list) > ndim:
        raise ValueError(f"tile: {len(reps_list)} repetitions for ndim={ndim}")
    ndim = max(len(reps_list), x.ndim) if ndim is None else ndim
    reps_list = [constant(1, dtype="int64")] * (ndim - len(reps_list)) + reps_list
    shape = [constant(1, dtype="int64")] * (ndim - x.ndim) + [shape_i(x, d) for d in range(x.ndim)]
    y = alloc(x, *(reps_list + shape))
    y = y.dimshuffle([i for d in range(ndim) for i in (d, ndim + d)])
    from theanolite.tensor.shape_ops import reshape
    return reshape(y, [_const_mul(s, r) for s, r in zip(shape, reps_list)], ndim=ndim)


def _length_or(vec: Variable, ndim: int | None) -> int:
    try:
        return get_vector_length(vec)
    except ValueError:
        if ndim is None:
            raise ValueError("tile: the length of the symbolic reps vector is unknown; "
                             "pass ndim=") from None
        return ndim


def _const_mul(a: Variable, b: Variable) -> Any:
    try:
        return int(get_scalar_constant_value(a)) * int(get_scalar_constant_value(b))
    except NotScalarConstantError:
        return a * b
