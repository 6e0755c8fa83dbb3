"""Tensor construction: variables, constants, casts, fill, shapes and dimshuffle."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theanolite.configparser import config
from theanolite.graph.basic import Apply, Constant, Variable
from theanolite.graph.op import Op
from theanolite.scalar import basic as scal
from theanolite.tensor.elemwise import DimShuffle, Elemwise
from theanolite.tensor.type import TensorType
from theanolite.tensor.var import TensorConstant, TensorVariable

__all__ = [
    "as_tensor_variable", "as_tensor", "constant", "cast", "fill", "second", "zeros_like",
    "ones_like", "tensor_copy", "shape", "Shape", "Shape_i", "shape_i", "dimshuffle",
    "transpose", "specify_broadcastable", "specify_broadcastable_like", "patternbroadcast",
    "get_scalar_constant_value", "NotScalarConstantError", "TensorType", "TensorVariable",
    "TensorConstant", "tensor", "scalar", "vector", "matrix", "row", "col", "tensor3",
    "tensor4", "tensor5", "autocast", "Rebroadcast", "addbroadcast", "unbroadcast",
]


class NotScalarConstantError(ValueError):
    """The variable is not a constant scalar known at graph-building time."""


# ----------------------------------------------------------------------------- constants

def autocast(value: Any) -> np.ndarray:
    """Theano's dtype for a Python number: the narrowest exact int, float32 when exact."""
    if isinstance(value, (bool, np.bool_)):
        return np.asarray(value, dtype="bool")
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.generic):
        for dtype in ("int8", "int16", "int32", "int64"):
            if np.iinfo(dtype).min <= value <= np.iinfo(dtype).max:
                return np.asarray(value, dtype=dtype)
        return np.asarray(value, dtype="uint64")
    if isinstance(value, float):
        if config.floatX != "float64" or config.cast_policy == "numpy+floatX":
            return np.asarray(value, dtype=config.floatX)
        # Compare as Python floats: numpy 2 would cast `value` down to float32 first.
        if float(np.float32(value)) == value or value != value:
            return np.asarray(value, dtype="float32")
        return np.asarray(value, dtype="float64")
    return np.asarray(value)


def constant(x: Any, name: str | None = None, ndim: int | None = None, dtype: str | None = None) -> TensorConstant:
    if isinstance(x, TensorConstant) and dtype is None and ndim is None:
        return x
    if dtype is not None:
        data = np.asarray(x, dtype=dtype)
    elif isinstance(x, (int, float, bool)) and not isinstance(x, np.generic):
        data = autocast(x)
    elif isinstance(x, (list, tuple)):
        data = _autocast_sequence(x)
    else:
        data = np.asarray(x)
    if data.dtype.kind not in "biufc":
        raise TypeError(f"cannot make a tensor constant from {type(x).__name__} {x!r:.60} "
                        f"(dtype {data.dtype})")
    if ndim is not None:
        if data.ndim > ndim:
            raise ValueError(f"constant {x!r:.60} has {data.ndim} dims, more than ndim={ndim}")
        data = data.reshape((1,) * (ndim - data.ndim) + data.shape)
    bcast = tuple(s == 1 for s in data.shape)
    return TensorConstant(TensorType(str(data.dtype), bcast), data, name)


def _autocast_sequence(x: Sequence) -> np.ndarray:
    data = np.asarray(x)
    if data.dtype == np.int64:
        for dtype in ("int8", "int16", "int32"):
            if data.size == 0 or (data.min() >= np.iinfo(dtype).min and data.max() <= np.iinfo(dtype).max):
                return data.astype(dtype)
    if data.dtype == np.float64 and config.floatX == "float32":
        return data.astype("float32")
    return data


def as_tensor_variable(x: Any, name: str | None = None, ndim: int | None = None) -> TensorVariable:
    """Turn a tensor variable, number, list or array into a tensor variable."""
    if isinstance(x, Variable) and isinstance(x.type, TensorType):
        if ndim is not None and x.ndim != ndim:
            if x.ndim > ndim and all(x.broadcastable[: x.ndim - ndim]):
                return DimShuffle(x.broadcastable, list(range(x.ndim - ndim, x.ndim)))(x)
            raise ValueError(f"{x} has {x.ndim} dimensions, expected {ndim}")
        return x
    if isinstance(x, Apply):
        return as_tensor_variable(x.default_output(), name, ndim)
    if isinstance(x, Variable):
        convert = getattr(x.type, "to_tensor", None)
        if convert is not None:
            return convert(x)
        raise TypeError(f"cannot use {x} of type {x.type} as a tensor")
    if isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in _flatten(x)):
        from theanolite.tensor import shape_ops
        return shape_ops.stack([as_tensor_variable(e) for e in x])
    try:
        return constant(x, name=name, ndim=ndim)
    except TypeError as exc:
        raise TypeError(f"cannot convert {type(x).__name__} {x!r:.60} to a tensor: {exc}") from None


as_tensor = as_tensor_variable


def _flatten(seq: Any) -> list:
    out = []
    for e in seq:
        if isinstance(e, (list, tuple)):
            out.extend(_flatten(e))
        else:
            out.append(e)
    return out


def get_scalar_constant_value(v: Any, elemwise: bool = True, only_process_constants: bool = False) -> np.ndarray:
    """The value of ``v`` if it is a constant scalar known now, else NotScalarConstantError."""
    if isinstance(v, (int, float, np.number, np.bool_)):
        return np.asarray(v)
    if isinstance(v, np.ndarray):
        if v.size == 1:
            return v.reshape(())
        raise NotScalarConstantError(v)
    if isinstance(v, Constant):
        data = np.asarray(v.data)
        if data.size == 1:
            return data.reshape(())
        flat = data.ravel()
        if flat.size and np.all(flat == flat[0]):
            return flat[0].copy()
        raise NotScalarConstantError(v)
    owner = getattr(v, "owner", None)
    if owner is None or only_process_constants:
        raise NotScalarConstantError(v)
    op = owner.op
    if isinstance(op, Shape_i):
        dim = owner.inputs[0].broadcastable[op.i]
        if dim:
            return np.asarray(1, dtype="int64")
    if isinstance(op, DimShuffle) or (isinstance(op, Elemwise) and isinstance(op.scalar_op, scal.Cast)):
        value = get_scalar_constant_value(owner.inputs[0], elemwise, only_process_constants)
        return np.asarray(value, dtype=v.dtype)
    if isinstance(op, Elemwise) and elemwise and isinstance(op.scalar_op, (scal.Second, scal.Identity)):
        return get_scalar_constant_value(owner.inputs[-1], elemwise)
    if isinstance(op, Elemwise) and elemwise:
        args = [get_scalar_constant_value(i, elemwise) for i in owner.inputs]
        storage = [[None]]
        op.perform(owner, [np.asarray(a, dtype=i.dtype).reshape((1,) * i.ndim)
                           for a, i in zip(args, owner.inputs)], storage)
        return np.asarray(storage[0][0]).reshape(())
    hook = getattr(op, "get_scalar_constant_value", None)
    if hook is not None:
        return hook(owner, v)
    raise NotScalarConstantError(v)


# ----------------------------------------------------------------------------- variables

def _make_constructor(ndim: int, bcast: tuple[bool, ...] | None, kind: str):
    def constructor(name: str | None = None, dtype: str | None = None) -> TensorVariable:
        dtype = dtype or config.floatX
        pattern = bcast if bcast is not None else (False,) * ndim
        return TensorType(dtype, pattern)(name)
    constructor.__name__ = kind
    constructor.__doc__ = f"A symbolic {kind} (dtype defaults to config.floatX)."
    return constructor


scalar = _make_constructor(0, (), "scalar")
vector = _make_constructor(1, None, "vector")
matrix = _make_constructor(2, None, "matrix")
row = _make_constructor(2, (True, False), "row")
col = _make_constructor(2, (False, True), "col")
tensor3 = _make_constructor(3, None, "tensor3")
tensor4 = _make_constructor(4, None, "tensor4")
tensor5 = _make_constructor(5, None, "tensor5")


def tensor(dtype: str | None = None, broadcastable: Sequence[bool] | None = None, name: str | None = None,
           shape: Sequence[int | None] | None = None) -> TensorVariable:
    """``T.tensor(dtype, broadcastable, name)``; ``shape=`` gives broadcastable from 1s."""
    if isinstance(dtype, (list, tuple)) and broadcastable is None:
        dtype, broadcastable = config.floatX, dtype
    return TensorType(dtype or config.floatX, broadcastable, shape=shape)(name)


_PREFIX_DTYPES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
                  "d": "float64", "c": "complex64", "z": "complex128"}
_KINDS = {"scalar": (), "vector": (False,), "matrix": (False, False), "row": (True, False),
          "col": (False, True), "tensor3": (False,) * 3, "tensor4": (False,) * 4,
          "tensor5": (False,) * 5}


def _plural(kind: str) -> str:
    return "matrices" if kind == "matrix" else kind + "s"


def _typed_constructors() -> dict[str, Any]:
    made: dict[str, Any] = {}
    for prefix, dtype in _PREFIX_DTYPES.items():
        for kind, bcast in _KINDS.items():
            single_type = TensorType(dtype, bcast)

            def single(name: str | None = None, _t: TensorType = single_type) -> TensorVariable:
                return _t(name)

            def plural(*names: Any, _t: TensorType = single_type) -> Any:
                if len(names) == 1 and isinstance(names[0], int):
                    return [_t() for _ in range(names[0])]
                if len(names) == 1 and isinstance(names[0], str) and "," in names[0]:
                    names = tuple(n.strip() for n in names[0].split(","))
                vars_ = [_t(n) for n in names]
                return vars_[0] if len(vars_) == 1 else vars_

            single.__name__ = prefix + kind
            plural.__name__ = prefix + _plural(kind)
            made[prefix + kind] = single
            made[prefix + _plural(kind)] = plural
            made[prefix + kind[0:1] + "type"] = single_type
    for kind, bcast in _KINDS.items():
        def plural_default(*names: Any, _bcast: tuple = bcast) -> Any:
            if len(names) == 1 and isinstance(names[0], int):
                return [TensorType(config.floatX, _bcast)() for _ in range(names[0])]
            vars_ = [TensorType(config.floatX, _bcast)(n) for n in names]
            return vars_[0] if len(vars_) == 1 else vars_

        plural_default.__name__ = _plural(kind)
        made[_plural(kind)] = plural_default
    return made


_TYPED = _typed_constructors()
globals().update(_TYPED)
__all__ += sorted(k for k in _TYPED if not k.endswith("type"))


# ----------------------------------------------------------------------------- casts, fill

_CASTS: dict[str, Elemwise] = {}


def cast(x: Any, dtype: str) -> TensorVariable:
    """``x`` converted to ``dtype`` ('floatX' means config.floatX)."""
    if dtype == "floatX":
        dtype = config.floatX
    dtype = str(np.dtype(dtype))
    x = as_tensor_variable(x)
    if x.dtype == dtype:
        return x
    if x.dtype.startswith("complex") and not dtype.startswith("complex"):
        raise TypeError("casting a complex tensor to a real dtype: take T.real or T.abs_ first")
    op = _CASTS.get(dtype)
    if op is None:
        op = _CASTS[dtype] = Elemwise(scal.Cast(dtype), name=f"Cast{{{dtype}}}")
    return op(x)


_second = Elemwise(scal.second, name="second")
_identity = Elemwise(scal.identity, name="tensor_copy")


def fill(model: Any, value: Any) -> TensorVariable:
    """``value`` broadcast to the shape of ``model`` (Theano's ``fill``/``second``)."""
    return _second(model, value)


second = fill


def tensor_copy(x: Any) -> TensorVariable:
    return _identity(x)


def zeros_like(model: Any, dtype: str | None = None, opt: bool = False) -> TensorVariable:
    model = as_tensor_variable(model)
    dtype = dtype or model.dtype
    return fill(model, constant(0, dtype=dtype))


def ones_like(model: Any, dtype: str | None = None, opt: bool = False) -> TensorVariable:
    model = as_tensor_variable(model)
    dtype = dtype or model.dtype
    return fill(model, constant(1.0 if np.dtype(dtype).kind == "f" else 1, dtype=dtype))


# ----------------------------------------------------------------------------- shapes

class Shape(Op):
    """The shape of a tensor, as an int64 vector."""

    __props__ = ()

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (False,))()])

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        return [(constant(node.inputs[0].ndim, dtype="int64"),)]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        output_storage[0][0] = np.asarray(inputs[0].shape, dtype="int64")

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        return [DisconnectedType()()]

    def connection_pattern(self, node):
        return [[False]]

    def R_op(self, inputs, eval_points):
        return [None]

    def __str__(self) -> str:
        return "Shape"


_shape = Shape()


def shape(x: Any) -> TensorVariable:
    return _shape(x)


class Shape_i(Op):
    """The length of dimension ``i`` of a tensor, as an int64 scalar."""

    __props__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = int(i)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise IndexError(f"Shape_i({self.i}): {x} has only {x.ndim} dimensions")
        return Apply(self, [x], [TensorType("int64", ())()])

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        return [()]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        output_storage[0][0] = np.asarray(inputs[0].shape[self.i], dtype="int64")

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        return [DisconnectedType()()]

    def connection_pattern(self, node):
        return [[False]]

    def R_op(self, inputs, eval_points):
        return [None]

    def __str__(self) -> str:
        return f"Shape_i{{{self.i}}}"


def shape_i(x: Any, i: int) -> TensorVariable:
    x = as_tensor_variable(x)
    if x.broadcastable[i]:
        return constant(1, dtype="int64")
    return Shape_i(i)(x)


# ----------------------------------------------------------------------------- dimshuffle

def dimshuffle(x: Any, pattern: Sequence[Any]) -> TensorVariable:
    x = as_tensor_variable(x)
    return DimShuffle(x.broadcastable, pattern)(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> TensorVariable:
    x = as_tensor_variable(x)
    if axes is None:
        axes = list(range(x.ndim - 1, -1, -1))
    axes = [a % x.ndim if x.ndim else a for a in axes]
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {list(axes)} are not a permutation of {x.ndim} dims")
    if list(axes) == list(range(x.ndim)):
        return x
    return DimShuffle(x.broadcastable, axes)(x)


class Rebroadcast(Op):
    """Change broadcastable flags; checks at run time that forced dims have length 1."""

    __props__ = ("axis",)
    view_map = {0: [0]}

    def __init__(self, *axis: tuple[int, bool]) -> None:
        self.axis = tuple(sorted((int(a), bool(b)) for a, b in axis))

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        bcast = list(x.broadcastable)
        for a, b in self.axis:
            if a >= x.ndim:
                raise ValueError(f"Rebroadcast: axis {a} out of range for {x.ndim}-d {x}")
            bcast[a] = b
        return Apply(self, [x], [TensorType(x.dtype, bcast)()])

    def infer_shape(self, fgraph, node, shapes):
        shp = list(shapes[0])
        for a, b in self.axis:
            if b:
                shp[a] = constant(1, dtype="int64")
        return [tuple(shp)]

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        for a, b in self.axis:
            if b and x.shape[a] != 1:
                raise ValueError(f"Rebroadcast: dimension {a} of the input has length "
                                 f"{x.shape[a]}, expected 1 (it is marked broadcastable)")
        output_storage[0][0] = x

    def L_op(self, inputs, outputs, output_grads):
        g = output_grads[0]
        x = inputs[0]
        fix = [(a, b) for a, b in enumerate(x.broadcastable) if g.broadcastable[a] != b]
        return [Rebroadcast(*fix)(g) if fix else g]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


def patternbroadcast(x: Any, broadcastable: Sequence[bool]) -> TensorVariable:
    x = as_tensor_variable(x)
    changes = [(i, b) for i, b in enumerate(broadcastable) if x.broadcastable[i] != b]
    return Rebroadcast(*changes)(x) if changes else x


specify_broadcastable = patternbroadcast


def specify_broadcastable_like(x: Any, like_type: TensorType) -> TensorVariable:
    return patternbroadcast(x, like_type.broadcastable)


def addbroadcast(x: Any, *axes: int) -> TensorVariable:
    x = as_tensor_variable(x)
    bcast = list(x.broadcastable)
    for a in axes:
        bcast[a] = True
    return patternbroadcast(x, bcast)


def unbroadcast(x: Any, *axes: int) -> TensorVariable:
    x = as_tensor_variable(x)
    bcast = list(x.broadcastable)
    for a in axes:
        bcast[a] = False
    return patternbroadcast(x, bcast)

