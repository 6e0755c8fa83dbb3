"""``TensorVariable`` and ``TensorConstant``: Python operators and methods on tensors.

Every operator builds graph through the functions of ``theanolite.tensor``; nothing here
computes values. ``==`` is identity (as in Theano): use ``T.eq`` for elementwise equality.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from theanolite.graph.basic import Constant, Variable


def _T():
    import theanolite.tensor as T
    return T


class _TensorPy:
    """Operators and methods shared by tensor variables and constants."""

    # numpy must hand binary operators with a tensor on the right back to us.
    __array_ufunc__ = None
    __array_priority__ = 1000

    # -- arithmetic ------------------------------------------------------------------
    def __add__(self, other): return _T().add(self, other)
    def __radd__(self, other): return _T().add(other, self)
    def __sub__(self, other): return _T().sub(self, other)
    def __rsub__(self, other): return _T().sub(other, self)
    def __mul__(self, other): return _T().mul(self, other)
    def __rmul__(self, other): return _T().mul(other, self)
    def __truediv__(self, other): return _T().true_div(self, other)
    def __rtruediv__(self, other): return _T().true_div(other, self)
    def __floordiv__(self, other): return _T().floor_div(self, other)
    def __rfloordiv__(self, other): return _T().floor_div(other, self)
    def __mod__(self, other): return _T().mod(self, other)
    def __rmod__(self, other): return _T().mod(other, self)
    def __pow__(self, other): return _T().pow(self, other)
    def __rpow__(self, other): return _T().pow(other, self)
    def __neg__(self): return _T().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _T().abs_(self)
    def __matmul__(self, other): return _T().dot(self, other)
    def __rmatmul__(self, other): return _T().dot(other, self)

    # -- comparisons and bit logic -----------------------------------------------------
    def __lt__(self, other): return _T().lt(self, other)
    def __le__(self, other): return _T().le(self, other)
    def __gt__(self, other): return _T().gt(self, other)
    def __ge__(self, other): return _T().ge(self, other)
    def __and__(self, other): return _T().and_(self, other)
    def __rand__(self, other): return _T().and_(other, self)
    def __or__(self, other): return _T().or_(self, other)
    def __ror__(self, other): return _T().or_(other, self)
    def __xor__(self, other): return _T().xor(self, other)
    def __rxor__(self, other): return _T().xor(other, self)
    def __invert__(self): return _T().invert(self)

    def __bool__(self):
        raise TypeError("a symbolic tensor has no truth value: use T.switch or theanolite.ifelse "
                        "for conditions, and `is` to compare variables")

    def __iter__(self):
        try:
            n = self.type.ndim and int(_T().get_scalar_constant_value(self.shape[0]))
        except Exception:
            raise TypeError("a symbolic tensor of unknown length cannot be iterated") from None
        for i in range(n or 0):
            yield self[i]

    def __len__(self):
        raise TypeError("len() of a symbolic tensor is not defined; use x.shape[0]")

    # -- indexing ------------------------------------------------------------------------
    def __getitem__(self, index):
        return _T().subtensor.getitem(self, index)

    # -- attributes ----------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def shape(self):
        return _T().shape(self)

    @property
    def size(self):
        return _T().prod(self.shape)

    @property
    def T(self):
        return _T().transpose(self)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        return _T().transpose(self, axes or None)

    def dimshuffle(self, *pattern):
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = tuple(pattern[0])
        return _T().dimshuffle(self, pattern)

    def reshape(self, shape, ndim=None):
        return _T().reshape(self, shape, ndim=ndim)

    def flatten(self, ndim=1, outdim=None):
        return _T().flatten(self, outdim if outdim is not None else ndim)

    def astype(self, dtype):
        return _T().cast(self, dtype)

    def copy(self, name=None):
        out = _T().tensor_copy(self)
        out.name = name
        return out

    # -- reductions and friends ------------------------------------------------------------
    def sum(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _T().sum(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def prod(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _T().prod(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def mean(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _T().mean(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def var(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return _T().var(self, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected)

    def std(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return _T().std(self, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected)

    def max(self, axis=None, keepdims=False):
        return _T().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _T().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _T().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _T().argmin(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return _T().all(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return _T().any(self, axis=axis, keepdims=keepdims)

    def norm(self, L, axis=None):
        T = _T()
        if L == 1:
            return T.sum(abs(self), axis=axis)
        return T.pow(T.sum(T.pow(abs(self), L), axis=axis), 1.0 / L)

    def dot(self, other):
        return _T().dot(self, other)

    def clip(self, a_min, a_max):
        return _T().clip(self, a_min, a_max)

    def round(self, mode=None):
        return _T().round(self, mode)

    def zeros_like(self, dtype=None):
        return _T().zeros_like(self, dtype=dtype)

    def ones_like(self, dtype=None):
        return _T().ones_like(self, dtype=dtype)

    def nonzero(self, return_matrix=False):
        return _T().nonzero(self, return_matrix=return_matrix)

    def sort(self, axis=-1, kind="quicksort", order=None):
        return _T().sort(self, axis, kind, order)

    def argsort(self, axis=-1, kind="quicksort", order=None):
        return _T().argsort(self, axis, kind, order)

    def cumsum(self, axis=None):
        return _T().cumsum(self, axis)

    def squeeze(self):
        return _T().squeeze(self)

    def repeat(self, repeats, axis=None):
        return _T().repeat(self, repeats, axis)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return _T().diagonal(self, offset, axis1, axis2)

    def trace(self):
        return _T().trace(self)

    def fill(self, value):
        return _T().fill(self, value)

    def exp(self): return _T().exp(self)
    def log(self): return _T().log(self)
    def sqrt(self): return _T().sqrt(self)
    def tanh(self): return _T().tanh(self)
    def conj(self): return self

    @property
    def real(self):
        return self


class TensorVariable(_TensorPy, Variable):
    """A symbolic tensor: the value of a graph node or a function input."""

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> bool:
        return self is other


class TensorConstant(_TensorPy, Constant):
    """A tensor with a fixed value ``data``."""

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        arr = np.asarray(self.data)
        if arr.size > 10:
            return f"TensorConstant{{{arr.dtype}, shape={arr.shape}}}"
        text = str(arr) if arr.ndim else _scalar_text(arr)
        return "TensorConstant{" + text.replace("\n", "") + "}"


def _scalar_text(arr: np.ndarray) -> str:
    value = arr.item()
    if isinstance(value, float):
        return repr(value)
    return str(value)


# Theano's import path for the class users subclass and isinstance-check.
_tensor_py_operators = _TensorPy
