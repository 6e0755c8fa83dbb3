"""Reductions over axes: the ``CAReduce`` family (``Sum``, ``Prod``, ``Max``, ``Min``,
``All``, ``Any``), ``Argmax``, and the functions built on them (``mean``, ``var``, ...).

Contracts (Theano's):
- ``axis`` of an op is None (every axis) or a sorted tuple of distinct non-negative ints;
  the functions also accept an int, a negative int or a list, and normalize it.
- ``keepdims=True`` is the reduction followed by a ``DimShuffle`` that puts back the
  reduced axes as broadcastable length-1 dims.
- ``Sum``/``Prod`` accumulate in ``acc_dtype`` and return ``dtype``. Defaults: small ints
  and bool accumulate and return int64 (unsigned: uint64); float16 accumulates in
  float32 and float32 in float64, returning the input dtype.
- Zero-size inputs: sum is 0, prod is 1; max/min raise ValueError naming the op.
"""
from __future__ import annotations

import builtins
from typing import Sequence

import numpy as np

from theanolite.configparser import config
from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op
from theanolite.scalar import basic as scal
from theanolite.tensor.basic import as_tensor_variable, cast, constant, fill, zeros_like
from theanolite.tensor.elemwise import DimShuffle
from theanolite.tensor.type import TensorType

__all__ = [
    "CAReduce", "CAReduceDtype", "Sum", "Prod", "ProdWithoutZeros", "Max", "Min", "All", "Any",
    "Argmax", "Argmin", "sum", "prod", "mean", "var", "std", "max", "min", "argmax", "argmin",
    "max_and_argmax", "all", "any",
]


# ----------------------------------------------------------------------------- axis helpers

def normalize_axis(ndim: int, axis: object, opname: str = "reduction") -> tuple[int, ...] | None:
    """``axis`` as None (all axes) or a sorted tuple of distinct non-negative ints.

    Accepts None, an int (negative counts from the end), a list/tuple of ints, or a
    constant tensor holding them. Raises ValueError for out-of-range or repeated axes.
    """
    if axis is None:
        return None
    if isinstance(axis, Variable):
        data = getattr(axis, "data", None)
        if data is None:
            raise TypeError(f"{opname}: axis must be known when the graph is built, got {axis}")
        axis = np.asarray(data).tolist()
    if isinstance(axis, (int, np.integer)):
        axis = [axis]
    axes = []
    for a in axis:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{opname}: axis entries must be ints, got {a!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{opname}: axis {a} is out of range for a {ndim}-d input")
        axes.append(a % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{opname}: repeated axis in {list(axis)}")
    return tuple(sorted(axes))


def _reduced_axes(ndim: int, axis: tuple[int, ...] | None) -> tuple[int, ...]:
    return tuple(range(ndim)) if axis is None else axis


def _restore_dims(r: Variable, ndim: int, axes: Sequence[int]) -> Variable:
    """Put the reduced ``axes`` back into ``r`` as broadcastable length-1 dims."""
    order: list[object] = []
    k = 0
    for d in range(ndim):
        if d in axes:
            order.append("x")
        else:
            order.append(k)
            k += 1
    if order == list(range(ndim)):
        return r
    return DimShuffle(r.broadcastable, order)(r)


# ----------------------------------------------------------------------------- CAReduce

# numpy reductions of the scalar ops a plain ``CAReduce(scalar_op, axis)`` accepts.
_UFUNCS = {"add": np.add, "mul": np.multiply, "maximum": np.maximum, "minimum": np.minimum,
           "and_": np.bitwise_and, "or_": np.bitwise_or, "xor": np.bitwise_xor}


class CAReduce(Op):
    """Reduce ``axis`` of a tensor with a commutative, associative scalar op.

    Subclasses set ``ufunc`` (numpy's reduction); a plain ``CAReduce`` takes it from the
    scalar op. Ops without an identity (max, min) raise ValueError on empty reductions.
    """

    __props__ = ("scalar_op", "axis")
    ufunc: object = None

    def __init__(self, scalar_op: scal.ScalarOp, axis: object = None) -> None:
        self.scalar_op = scalar_op
        self.axis = _check_axis_prop(axis)
        if type(self).ufunc is None:
            name = getattr(scalar_op, "name", "")
            if name not in _UFUNCS:
                raise TypeError(f"CAReduce: no reduction known for scalar op {scalar_op}; "
                                f"expected one of {sorted(_UFUNCS)}")
            self.ufunc = _UFUNCS[name]

    # -- dtypes (overridden by CAReduceDtype and the boolean reductions) ---------------
    def _output_dtype(self, idtype: str) -> str:
        return self.scalar_op.output_dtype(idtype, idtype)

    def _prepare_input(self, x: Variable) -> Variable:
        return x

    def make_node(self, x: object) -> Apply:
        x = self._prepare_input(as_tensor_variable(x))
        if self.axis is not None and self.axis and self.axis[-1] >= x.ndim:
            raise ValueError(f"{self}: axis {self.axis[-1]} is out of range for the "
                             f"{x.ndim}-d input {x}")
        axes = _reduced_axes(x.ndim, self.axis)
        bcast = tuple(b for d, b in enumerate(x.broadcastable) if d not in axes)
        out = TensorType(self._output_dtype(x.dtype), bcast)()
        return Apply(self, [x], [out])

    def infer_shape(self, fgraph: object, node: Apply, shapes: list) -> list:
        axes = _reduced_axes(node.inputs[0].ndim, self.axis)
        return [tuple(s for d, s in enumerate(shapes[0]) if d not in axes)]

    def _reduce(self, x: np.ndarray, axis: tuple[int, ...] | None, node: Apply) -> np.ndarray:
        return self.ufunc.reduce(x, axis=axis)

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x = inputs[0]
        axis = self.axis
        try:
            with np.errstate(all="ignore"):
                result = self._reduce(x, axis, node)
        except ValueError as exc:
            raise ValueError(f"{self}: cannot reduce an input of shape {x.shape}: {exc}") from None
        dtype = node.outputs[0].type.dtype
        output_storage[0][0] = np.asarray(result, dtype=dtype)

    def __str__(self) -> str:
        name = getattr(self, "_name", None) or f"CAReduce{{{self.scalar_op}}}"
        if self.axis is None:
            return name
        return f"{name}{{axis={self.axis}}}"

    def pp(self, args: Sequence[str]) -> str:
        # Needed: the printer would otherwise show the scalar op, as for an Elemwise.
        return f"{self}({', '.join(args)})"


def _check_axis_prop(axis: object) -> tuple[int, ...] | None:
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)):
        axis = [axis]
    axes = tuple(sorted(int(a) for a in axis))
    if builtins.any(a < 0 for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"reduction op: axis must be distinct non-negative ints, got {axis!r}"
                         " (the functions sum/max/... accept negative axes)")
    return axes


# Theano's defaults: accumulate small ints in int64, float16 in float32, float32 in float64.
_DEFAULT_ACC = {"bool": "int64", "int8": "int64", "int16": "int64", "int32": "int64",
                "uint8": "uint64", "uint16": "uint64", "uint32": "uint64",
                "float16": "float32", "float32": "float64", "complex64": "complex128"}
_DEFAULT_OUT = {"bool": "int64", "int8": "int64", "int16": "int64", "int32": "int64",
                "uint8": "uint64", "uint16": "uint64", "uint32": "uint64"}


class CAReduceDtype(CAReduce):
    """A ``CAReduce`` that accumulates in ``acc_dtype`` and returns ``dtype``.

    None means "Theano's default for the input dtype"; ``make_node`` resolves both, so
    the op in a built graph always has concrete dtypes (and a precise cache key).
    """

    __props__ = ("scalar_op", "axis", "dtype", "acc_dtype")

    def __init__(self, scalar_op: scal.ScalarOp, axis: object = None, dtype: str | None = None,
                 acc_dtype: str | None = None) -> None:
        super().__init__(scalar_op, axis)
        self.dtype = None if dtype is None else _dtype_name(dtype)
        self.acc_dtype = None if acc_dtype is None else _dtype_name(acc_dtype)

    def _output_dtype(self, idtype: str) -> str:
        if self.dtype is None:
            return _DEFAULT_OUT.get(idtype, idtype)
        return self.dtype

    def _resolve_acc_dtype(self, idtype: str) -> str:
        if self.acc_dtype is None:
            return _DEFAULT_ACC.get(idtype, idtype)
        if self.acc_dtype in scal.continuous_dtypes and idtype in scal.discrete_dtypes:
            return self.acc_dtype
        if scal.upcast(idtype, self.acc_dtype) != self.acc_dtype:
            raise TypeError(
                f"{type(self).__name__}: accumulating a {idtype} input in acc_dtype="
                f"{self.acc_dtype} would lose precision; use an acc_dtype at least as precise "
                f"as {scal.upcast(idtype, self.acc_dtype)}, or give dtype= (the result is cast "
                "at the end), or cast the input first")
        return self.acc_dtype

    def _resolved(self, idtype: str) -> "CAReduceDtype":
        dtype, acc = self._output_dtype(idtype), self._resolve_acc_dtype(idtype)
        if dtype == self.dtype and acc == self.acc_dtype:
            return self
        props = self._props_dict()
        props.update(dtype=dtype, acc_dtype=acc)
        return type(self)(**props)

    def make_node(self, x: object) -> Apply:
        x = as_tensor_variable(x)
        op = self._resolved(x.dtype)
        if op is not self:
            return op.make_node(x)
        return super().make_node(x)

    def _reduce(self, x: np.ndarray, axis: tuple[int, ...] | None, node: Apply) -> np.ndarray:
        acc = self.acc_dtype or _DEFAULT_ACC.get(x.dtype.name, x.dtype.name)
        return self.ufunc.reduce(x, axis=axis, dtype=acc)

    def __str__(self) -> str:
        name = type(self).__name__
        parts = [] if self.axis is None else [f"axis={self.axis}"]
        if self.acc_dtype is not None and self.acc_dtype != self.dtype:
            parts.append(f"acc_dtype={self.acc_dtype}")
        return f"{name}{{{', '.join(parts)}}}" if parts else name


def _dtype_name(dtype: str) -> str:
    if dtype == "floatX":
        return config.floatX
    return str(np.dtype(dtype))


# ----------------------------------------------------------------------------- Sum

class Sum(CAReduceDtype):
    """Sum over ``axis`` (None: all), accumulating in ``acc_dtype``, returning ``dtype``."""

    __props__ = ("axis", "dtype", "acc_dtype")
    ufunc = np.add

    def __init__(self, axis: object = None, dtype: str | None = None, acc_dtype: str | None = None) -> None:
        super().__init__(scal.add, axis, dtype, acc_dtype)

    def L_op(self, inputs, outputs, output_grads):
        (x,), (gz,) = inputs, output_grads
        if x.dtype in scal.discrete_dtypes or outputs[0].dtype in scal.discrete_dtypes:
            return [zeros_like(x, dtype=config.floatX)]
        axes = _reduced_axes(x.ndim, self.axis)
        g = fill(x, _restore_dims(gz, x.ndim, axes))
        return [cast(g, x.dtype)]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0])]


def sum(input: object, axis: object = None, dtype: str | None = None, keepdims: bool = False,
        acc_dtype: str | None = None) -> Variable:
    """Sum of ``input`` over ``axis``; see the module docstring for dtypes and keepdims."""
    x = as_tensor_variable(input)
    axes = normalize_axis(x.ndim, axis, "sum")
    out = Sum(axes, dtype=dtype, acc_dtype=acc_dtype)(x)
    if keepdims:
        out = _restore_dims(out, x.ndim, _reduced_axes(x.ndim, axes))
    return out


# ----------------------------------------------------------------------------- Prod

class Prod(CAReduceDtype):
    """Product over ``axis``. Its gradient is right where the input has zeros (one zero in
    a group: the product of the others there, 0 elsewhere; two or more: all 0), unless
    ``no_zeros_in_input`` promises there are none (a cheaper ``prod / x``)."""

    __props__ = ("axis", "dtype", "acc_dtype", "no_zeros_in_input")
    ufunc = np.multiply

    def __init__(self, axis: object = None, dtype: str | None = None, acc_dtype: str | None = None,
                 no_zeros_in_input: bool = False) -> None:
        super().__init__(scal.mul, axis, dtype, acc_dtype)
        self.no_zeros_in_input = bool(no_zeros_in_input)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.tensor.math import eq, switch, true_div
        (x,), (gz,) = inputs, output_grads
        if x.dtype in scal.discrete_dtypes or outputs[0].dtype in scal.discrete_dtypes:
            return [zeros_like(x, dtype=config.floatX)]
        axes = _reduced_axes(x.ndim, self.axis)
        gz_pad = _restore_dims(gz, x.ndim, axes)
        out_pad = _restore_dims(outputs[0], x.ndim, axes)
        if self.no_zeros_in_input:
            return [cast(gz_pad * true_div(out_pad, x), x.dtype)]
        zeros = eq(x, 0)
        n_zeros = _restore_dims(Sum(self.axis, dtype="int64")(zeros), x.ndim, axes)
        without = _restore_dims(ProdWithoutZeros(self.axis, dtype=self.dtype,
                                                 acc_dtype=self.acc_dtype)(x), x.ndim, axes)
        x_safe = switch(zeros, constant(1, dtype=x.dtype), x)
        one_zero = switch(zeros, without, constant(0, dtype=without.dtype))
        g = switch(eq(n_zeros, 0), true_div(out_pad, x_safe),
                   switch(eq(n_zeros, 1), one_zero, constant(0, dtype=x.dtype)))
        return [cast(gz_pad * g, x.dtype)]


class ProdWithoutZeros(CAReduceDtype):
    """Product of the non-zero elements over ``axis`` (used by ``Prod``'s gradient)."""

    __props__ = ("axis", "dtype", "acc_dtype")
    ufunc = np.multiply

    def __init__(self, axis: object = None, dtype: str | None = None, acc_dtype: str | None = None) -> None:
        super().__init__(scal.mul, axis, dtype, acc_dtype)

    def _reduce(self, x, axis, node):
        acc = self.acc_dtype or _DEFAULT_ACC.get(x.dtype.name, x.dtype.name)
        return np.multiply.reduce(np.where(x == 0, np.ones((), x.dtype), x), axis=axis, dtype=acc)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.tensor.math import eq, switch, true_div
        (x,), (gz,) = inputs, output_grads
        if x.dtype in scal.discrete_dtypes:
            return [zeros_like(x, dtype=config.floatX)]
        # Zeros count as the constant 1: their own derivative is 0.
        axes = _reduced_axes(x.ndim, self.axis)
        zeros = eq(x, 0)
        x_safe = switch(zeros, constant(1, dtype=x.dtype), x)
        ratio = true_div(_restore_dims(outputs[0], x.ndim, axes), x_safe)
        g = switch(zeros, constant(0, dtype=ratio.dtype), ratio)
        return [cast(_restore_dims(gz, x.ndim, axes) * g, x.dtype)]


def prod(input: object, axis: object = None, dtype: str | None = None, keepdims: bool = False,
         acc_dtype: str | None = None, no_zeros_in_input: bool = False) -> Variable:
    """Product of ``input`` over ``axis`` (dtypes as ``sum``); the empty product is 1."""
    x = as_tensor_variable(input)
    axes = normalize_axis(x.ndim, axis, "prod")
    out = Prod(axes, dtype=dtype, acc_dtype=acc_dtype, no_zeros_in_input=no_zeros_in_input)(x)
    return _restore_dims(out, x.ndim, _reduced_axes(x.ndim, axes)) if keepdims else out


# ----------------------------------------------------------------------------- Max, Min

class _Extremum(CAReduce):
    """Max or Min over ``axis``; NaN propagates; an empty reduction raises ValueError."""

    __props__ = ("axis",)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.tensor.math import eq
        (x,), (gz,) = inputs, output_grads
        if x.dtype in scal.discrete_dtypes:
            return [zeros_like(x, dtype=config.floatX)]
        # Every position equal to the extremum gets the gradient (ties included, as Theano).
        axes = _reduced_axes(x.ndim, self.axis)
        mask = eq(x, _restore_dims(outputs[0], x.ndim, axes))
        return [cast(_restore_dims(gz, x.ndim, axes) * mask, x.dtype)]

    def R_op(self, inputs, eval_points):
        """The transpose of ``L_op``: the tangent summed over the positions of the extremum."""
        from theanolite.tensor.math import eq
        x, ev = inputs[0], eval_points[0]
        if ev is None or x.dtype in scal.discrete_dtypes:
            return [None]
        axes = _reduced_axes(x.ndim, self.axis)
        mask = eq(x, _restore_dims(self(x), x.ndim, axes))
        return [cast(Sum(self.axis, acc_dtype=ev.dtype)(ev * mask), x.dtype)]


class Max(_Extremum):
    ufunc = np.maximum
    _name = "Max"

    def __init__(self, axis: object = None) -> None:
        super().__init__(scal.maximum, axis)


class Min(_Extremum):
    ufunc = np.minimum
    _name = "Min"

    def __init__(self, axis: object = None) -> None:
        super().__init__(scal.minimum, axis)


def max(x: object, axis: object = None, keepdims: bool = False) -> Variable:
    """Maximum over ``axis`` (NaN propagates); ValueError at run time if it is empty."""
    x = as_tensor_variable(x)
    axes = normalize_axis(x.ndim, axis, "max")
    out = Max(axes)(x)
    return _restore_dims(out, x.ndim, _reduced_axes(x.ndim, axes)) if keepdims else out


def min(x: object, axis: object = None, keepdims: bool = False) -> Variable:
    """Minimum over ``axis`` (NaN propagates); ValueError at run time if it is empty."""
    x = as_tensor_variable(x)
    axes = normalize_axis(x.ndim, axis, "min")
    out = Min(axes)(x)
    return _restore_dims(out, x.ndim, _reduced_axes(x.ndim, axes)) if keepdims else out


# ----------------------------------------------------------------------------- All, Any

class _Logical(CAReduce):
    """Boolean reduction: non-bool inputs are compared with 0 first; the output is bool."""

    __props__ = ("axis",)

    def _prepare_input(self, x: Variable) -> Variable:
        if x.dtype == "bool":
            return x
        from theanolite.tensor.math import neq
        return neq(x, constant(0, dtype=x.dtype))

    def _output_dtype(self, idtype: str) -> str:
        return "bool"

    def L_op(self, inputs, outputs, output_grads):
        return [zeros_like(inputs[0], dtype=config.floatX)]

    def R_op(self, inputs, eval_points):
        return [None]


class All(_Logical):
    ufunc = np.logical_and
    _name = "All"

    def __init__(self, axis: object = None) -> None:
        super().__init__(scal.and_, axis)


class Any(_Logical):
    ufunc = np.logical_or
    _name = "Any"

    def __init__(self, axis: object = None) -> None:
        super().__init__(scal.or_, axis)


def all(x: object, axis: object = None, keepdims: bool = False) -> Variable:
    """True where every element over ``axis`` is non-zero (True for empty reductions)."""
    x = as_tensor_variable(x)
    axes = normalize_axis(x.ndim, axis, "all")
    out = All(axes)(x)
    return _restore_dims(out, x.ndim, _reduced_axes(x.ndim, axes)) if keepdims else out


def any(x: object, axis: object = None, keepdims: bool = False) -> Variable:
    """True where some element over ``axis`` is non-zero (False for empty reductions)."""
    x = as_tensor_variable(x)
    axes = normalize_axis(x.ndim, axis, "any")
    out = Any(axes)(x)
    return _restore_dims(out, x.ndim, _reduced_axes(x.ndim, axes)) if keepdims else out


# ----------------------------------------------------------------------------- Argmax

class Argmax(Op):
    """Index (int64) of the maximum over ``axis``; several axes count as one flattened
    axis (in C order). The first occurrence wins; a NaN counts as the maximum (numpy)."""

    __props__ = ("axis",)
    _pick = staticmethod(np.argmax)

    def __init__(self, axis: object = None) -> None:
        self.axis = _check_axis_prop(axis)

    def make_node(self, x: object) -> Apply:
        x = as_tensor_variable(x)
        if self.axis and self.axis[-1] >= x.ndim:
            raise ValueError(f"{self}: axis {self.axis[-1]} is out of range for the {x.ndim}-d input {x}")
        axes = _reduced_axes(x.ndim, self.axis)
        bcast = tuple(b for d, b in enumerate(x.broadcastable) if d not in axes)
        return Apply(self, [x], [TensorType("int64", bcast)()])

    def infer_shape(self, fgraph, node, shapes):
        axes = _reduced_axes(node.inputs[0].ndim, self.axis)
        return [tuple(s for d, s in enumerate(shapes[0]) if d not in axes)]

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        axes = _reduced_axes(x.ndim, self.axis)
        keep = [d for d in range(x.ndim) if d not in axes]
        keep_shape = tuple(x.shape[d] for d in keep)
        n = int(np.prod([x.shape[d] for d in axes], dtype="int64"))
        if n == 0:
            raise ValueError(f"{self}: cannot take the arg-extremum of an empty reduction "
                             f"(input shape {x.shape}, axis {self.axis})")
        flat = np.transpose(x, keep + list(axes)).reshape(keep_shape + (n,))
        output_storage[0][0] = np.asarray(self._pick(flat, axis=-1), dtype="int64")

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        return [DisconnectedType()()]

    def connection_pattern(self, node):
        return [[False]]

    def R_op(self, inputs, eval_points):
        return [None]

    def __str__(self) -> str:
        name = type(self).__name__
        return name if self.axis is None else f"{name}{{axis={self.axis}}}"


class Argmin(Argmax):
    """Index (int64) of the minimum over ``axis`` (see ``Argmax``)."""

    _pick = staticmethod(np.argmin)


def argmax(x: object, axis: object = None, keepdims: bool = False) -> Variable:
    """Index of the maximum over ``axis`` (int64); not differentiable (disconnected)."""
    x = as_tensor_variable(x)
    axes = normalize_axis(x.ndim, axis, "argmax")
    out = Argmax(axes)(x)
    return _restore_dims(out, x.ndim, _reduced_axes(x.ndim, axes)) if keepdims else out


def argmin(x: object, axis: object = None, keepdims: bool = False) -> Variable:
    """Index of the minimum over ``axis`` (int64); not differentiable (disconnected)."""
    x = as_tensor_variable(x)
    axes = normalize_axis(x.ndim, axis, "argmin")
    out = Argmin(axes)(x)
    return _restore_dims(out, x.ndim, _reduced_axes(x.ndim, axes)) if keepdims else out


def max_and_argmax(a: object, axis: object = None, keepdims: bool = False) -> list[Variable]:
    """``[max(a, axis), argmax(a, axis)]``."""
    return [max(a, axis, keepdims), argmax(a, axis, keepdims)]


# ----------------------------------------------------------------------------- mean, var, std

def _count(x: Variable, axes: Sequence[int], dtype: str) -> Variable:
    """The number of reduced elements, as a ``dtype`` scalar (1 when nothing is reduced)."""
    from theanolite.tensor.basic import shape_i
    from theanolite.tensor.math import mul
    dims = [cast(shape_i(x, d), dtype) for d in axes]
    if not dims:
        return constant(1, dtype=dtype)
    return dims[0] if len(dims) == 1 else mul(*dims)


def mean(input: object, axis: object = None, dtype: str | None = None, op: bool = False,
         keepdims: bool = False, acc_dtype: str | None = None) -> Variable:
    """Mean over ``axis``. Integer inputs give float64; float16 is summed in float32."""
    from theanolite.tensor.math import true_div
    x = as_tensor_variable(input)
    axes = normalize_axis(x.ndim, axis, "mean")
    sum_dtype = dtype
    if dtype is None and x.dtype == "float16":
        sum_dtype = "float32"
    s = sum(x, axes, dtype=sum_dtype, keepdims=keepdims, acc_dtype=acc_dtype)
    count_dtype = "float32" if s.dtype in ("float16", "float32", "complex64") else "float64"
    out = true_div(s, _count(x, _reduced_axes(x.ndim, axes), count_dtype))
    if out.dtype in scal.discrete_dtypes:
        out = cast(out, count_dtype)
    if dtype == "float16" or (dtype is None and x.dtype == "float16"):
        out = cast(out, "float16")
    out.name = "mean"
    return out


def var(input: object, axis: object = None, ddof: int = 0, keepdims: bool = False,
        corrected: bool = False) -> Variable:
    """Variance over ``axis``: the mean squared deviation, divided by N - ``ddof``
    (N = number of reduced elements). ``corrected`` subtracts the two-pass correction term
    (the squared mean deviation), which is ~0 but cancels rounding errors."""
    from theanolite.tensor.math import sub, true_div
    if isinstance(ddof, bool):
        raise ValueError("var: keepdims is the 4th parameter: var(input, axis=None, ddof=0, "
                         "keepdims=False, corrected=False)")
    x = as_tensor_variable(input)
    axes = normalize_axis(x.ndim, axis, "var")
    centered = x - mean(x, axes, keepdims=True)
    sq = centered * centered
    if ddof == 0:
        v = mean(sq, axes, keepdims=keepdims)
    else:
        s = sum(sq, axes, keepdims=keepdims)
        n = _count(x, _reduced_axes(x.ndim, axes), "float32" if s.dtype == "float32" else "float64")
        v = true_div(s, sub(n, ddof))
    if corrected:
        if ddof == 0:
            m = mean(centered, axes, keepdims=keepdims)
            v = v - m * m
        else:
            s1 = sum(centered, axes, keepdims=keepdims)
            n = _count(x, _reduced_axes(x.ndim, axes), "float32" if s1.dtype == "float32" else "float64")
            v = v - true_div(s1 * s1, (n - ddof) * n)
    v.name = "var"
    return v


def std(input: object, axis: object = None, ddof: int = 0, keepdims: bool = False,
        corrected: bool = False) -> Variable:
    """Standard deviation: ``sqrt(var(...))`` with the same arguments."""
    from theanolite.tensor.math import sqrt
    out = sqrt(var(input, axis, ddof, keepdims, corrected))
    out.name = "std"
    return out
