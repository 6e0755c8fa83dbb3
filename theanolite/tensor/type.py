"""``TensorType``: n-d arrays of one dtype with per-dimension broadcastable flags."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theanolite.configparser import config
from theanolite.graph.op import Type
from theanolite.scalar.basic import upcast


class TensorType(Type):
    """The type of tensor variables: ``dtype`` and ``broadcastable`` (True = always size 1).

    ``filter`` applies Theano's call-time conversion rules: exact arrays pass, lossless
    conversions (Python scalars, lists, narrower dtypes) are made, lossy ones raise unless
    ``allow_downcast`` is set; Python floats may always become floatX.
    """

    def __init__(self, dtype: str, broadcastable: Sequence[bool] | None = None,
                 name: str | None = None, shape: Sequence[int | None] | None = None) -> None:
        try:
            self.dtype = str(np.dtype(dtype))
        except TypeError:
            raise TypeError(f"TensorType: unknown dtype {dtype!r}") from None
        if self.dtype == "object" or np.dtype(self.dtype).kind not in "biufc":
            raise TypeError(f"TensorType: unsupported dtype {dtype!r}")
        if broadcastable is None:
            if shape is None:
                raise TypeError("TensorType needs broadcastable (or shape)")
            broadcastable = [s == 1 for s in shape]
        self.broadcastable = tuple(bool(b) for b in broadcastable)
        self.name = name

    ndim = property(lambda self: len(self.broadcastable))

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def clone(self, dtype: str | None = None, broadcastable: Sequence[bool] | None = None) -> "TensorType":
        return TensorType(dtype or self.dtype,
                          self.broadcastable if broadcastable is None else broadcastable)

    # -- values --------------------------------------------------------------------
    def filter(self, data: Any, strict: bool = False, allow_downcast: bool | None = None) -> np.ndarray:
        if isinstance(data, np.ndarray) and data.dtype == self.numpy_dtype:
            pass
        elif strict:
            if not isinstance(data, np.ndarray):
                raise TypeError(f"expected a numpy.ndarray of dtype {self.dtype}, got {type(data).__name__}")
            raise TypeError(f"expected dtype {self.dtype}, got {data.dtype}")
        elif allow_downcast:
            data = np.asarray(data, dtype=self.dtype)
        elif isinstance(data, (np.ndarray, np.generic)):
            src = np.asarray(data)
            if src.dtype.kind not in "biufc":
                raise TypeError(f"expected a numeric array of dtype {self.dtype}, got dtype {src.dtype}")
            if upcast(self.dtype, str(src.dtype)) != self.dtype:
                raise TypeError(
                    f"{self} cannot store a value of dtype {src.dtype} without risking loss of "
                    f"precision; cast it to {self.dtype} or pass allow_input_downcast=True")
            data = src.astype(self.dtype)
        elif allow_downcast is None and type(data) is float and self.dtype == config.floatX:
            data = np.asarray(data, dtype=self.dtype)
        else:
            data = self._convert_exactly(data)
        if data.ndim != self.ndim:
            raise TypeError(f"expected {self.ndim} dimensions ({_kind(self.ndim)}), "
                            f"got {data.ndim} with shape {data.shape}")
        for i, b in enumerate(self.broadcastable):
            if b and data.shape[i] != 1:
                raise TypeError(f"dimension {i} is broadcastable and must have length 1, "
                                f"got shape {data.shape}")
        return data

    def _convert_exactly(self, data: Any) -> np.ndarray:
        try:
            original = np.asarray(data)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"expected a numeric array-like for {self}, got {type(data).__name__}: {exc}") from None
        if original.dtype.kind not in "biufc":
            raise TypeError(f"expected numeric data for {self}, got {type(data).__name__} "
                            f"{_short(data)} (dtype {original.dtype})")
        with np.errstate(all="ignore"):
            converted = original.astype(self.dtype)
            same = np.array_equal(converted, original, equal_nan=original.dtype.kind in "fc")
        if not same:
            raise TypeError(f"{self} cannot store {_short(data)} accurately (it would become "
                            f"{_short(converted)}); pass a {self.dtype} array or allow_input_downcast=True")
        return converted

    def value_zeros(self, shape: Sequence[int]) -> np.ndarray:
        return np.zeros(shape, dtype=self.dtype)

    def values_eq(self, a: Any, b: Any, force_same_dtype: bool = True) -> bool:
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or (force_same_dtype and a.dtype != b.dtype):
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))

    def values_eq_approx(self, a: Any, b: Any, rtol: float | None = None, atol: float | None = None) -> bool:
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind not in "fc":
            return bool(np.array_equal(a, b))
        loose = a.dtype == np.float32 or b.dtype == np.float32 or a.dtype == np.float16
        rtol = rtol if rtol is not None else (1e-4 if loose else 1e-5)
        atol = atol if atol is not None else (1e-5 if loose else 1e-8)
        return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))

    # -- type relations --------------------------------------------------------------
    def is_super(self, other: Any) -> bool:
        """True if every value of ``other`` is a value of self (same dtype, fewer constraints)."""
        return (isinstance(other, TensorType) and other.dtype == self.dtype
                and other.ndim == self.ndim
                and all(ob or not sb for sb, ob in zip(self.broadcastable, other.broadcastable)))

    def convert_variable(self, var: Any) -> Any:
        if var.type == self:
            return var
        if self.is_super(var.type):
            return var
        if isinstance(var.type, TensorType) and var.type.dtype == self.dtype and var.type.ndim == self.ndim:
            from theanolite.tensor.basic import specify_broadcastable_like
            return specify_broadcastable_like(var, self)
        return None

    def __eq__(self, other: Any) -> bool:
        return (type(self) is type(other) and self.dtype == other.dtype
                and self.broadcastable == other.broadcastable)

    def __hash__(self) -> int:
        return hash((TensorType, self.dtype, self.broadcastable))

    def __str__(self) -> str:
        if self.name:
            return self.name
        bcast = {(): "scalar", (False,): "vector", (False, True): "col", (True, False): "row",
                 (False, False): "matrix"}.get(self.broadcastable, str(self.broadcastable))
        return f"TensorType({self.dtype}, {bcast})"

    __repr__ = __str__

    def make_variable(self, name: str | None = None) -> Any:
        from theanolite.tensor.var import TensorVariable
        return TensorVariable(self, None, None, name)

    def make_constant(self, data: Any, name: str | None = None) -> Any:
        from theanolite.tensor.var import TensorConstant
        return TensorConstant(self, data, name)


def _kind(ndim: int) -> str:
    return {0: "a scalar", 1: "a vector", 2: "a matrix"}.get(ndim, f"a {ndim}-d tensor")


def _short(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 80 else text[:75] + "(...)"
