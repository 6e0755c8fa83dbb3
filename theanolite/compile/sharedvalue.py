"""Shared variables: symbolic variables with a value that persists across calls."""
from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from theanolite.graph.basic import Variable
from theanolite.tensor.type import TensorType
from theanolite.tensor.var import _TensorPy


class Container:
    """The storage cell of a shared variable (functions read and update it in place)."""

    __slots__ = ("type", "value", "strict", "allow_downcast", "name")

    def __init__(self, type: Any, value: Any, name: str | None = None, strict: bool = False,
                 allow_downcast: bool | None = None) -> None:
        self.type, self.value, self.name = type, value, name
        self.strict, self.allow_downcast = strict, allow_downcast


class SharedVariable(Variable):
    """A variable whose value lives in ``container`` and is shared by every function using it."""

    _is_shared_storage = True

    def __init__(self, name: str | None, type: Any, value: Any, strict: bool,
                 allow_downcast: bool | None = None, container: Container | None = None) -> None:
        super().__init__(type, None, None, name)
        if container is None:
            container = Container(type, type.filter(value, strict=strict, allow_downcast=allow_downcast),
                                  name, strict, allow_downcast)
        self.container = container
        self.default_update: Variable | None = None

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> Any:
        value = self.container.value
        return value if borrow else copy.deepcopy(value)

    def set_value(self, new_value: Any, borrow: bool = False) -> None:
        try:
            value = self.type.filter(new_value, strict=self.container.strict,
                                     allow_downcast=self.container.allow_downcast)
        except TypeError as exc:
            raise TypeError(f"set_value of shared variable {self.name or self}: {exc}") from None
        if not borrow and value is new_value:
            value = copy.deepcopy(value)
        self.container.value = value

    value = property(lambda self: self.get_value(borrow=True))

    def zero(self, borrow: bool = False) -> None:
        self.set_value(np.zeros_like(self.container.value), borrow=True)

    def clone(self) -> "SharedVariable":
        cp = self.__class__(self.name, self.type, None, self.container.strict,
                            self.container.allow_downcast, container=self.container)
        cp.tag = dict(self.tag)
        return cp

    def __str__(self) -> str:
        return self.name if self.name else f"<{type(self).__name__} {self.type}>"


class TensorSharedVariable(_TensorPy, SharedVariable):
    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> bool:
        return self is other


_CONSTRUCTORS: list[Callable] = []


def shared_constructor(ctor: Callable) -> Callable:
    """Register a constructor tried by ``shared`` (latest first), as in Theano."""
    _CONSTRUCTORS.insert(0, ctor)
    return ctor


@shared_constructor
def tensor_constructor(value: Any, name: str | None = None, strict: bool = False,
                       allow_downcast: bool | None = None, borrow: bool = False,
                       broadcastable: Any = None, shape: Any = None) -> TensorSharedVariable:
    if isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise TypeError("not an array")
    if value.dtype.kind not in "biufc":
        raise TypeError("not numeric")
    if broadcastable is None:
        broadcastable = (False,) * value.ndim if shape is None else [s == 1 for s in shape]
    type_ = TensorType(str(value.dtype), broadcastable)
    data = value if borrow else value.copy()
    return TensorSharedVariable(name, type_, data, strict, allow_downcast)


def shared(value: Any, name: str | None = None, strict: bool = False, allow_downcast: bool | None = None,
           **kwargs: Any) -> SharedVariable:
    """A shared variable holding ``value`` (numpy arrays and numbers; RNG states via
    ``shared_constructor`` extensions). ``borrow=True`` keeps the caller's array."""
    if isinstance(value, Variable):
        raise TypeError("shared() takes a value, not a symbolic variable")
    errors = []
    for ctor in _CONSTRUCTORS:
        try:
            return ctor(value, name=name, strict=strict, allow_downcast=allow_downcast, **kwargs)
        except TypeError as exc:
            errors.append(str(exc))
    raise TypeError(f"shared: no shared variable type for value of type {type(value).__name__} "
                    f"({value!r:.60})")
