"""Small helpers shared by the local rewrites."""
from __future__ import annotations

from typing import Any

import numpy as np

from theanolite.graph.basic import Constant, Variable
from theanolite.scalar import basic as scal
from theanolite.tensor.basic import (NotScalarConstantError, cast, get_scalar_constant_value,
                                     patternbroadcast)
from theanolite.tensor.elemwise import DimShuffle, Elemwise
from theanolite.tensor.type import TensorType


def scalar_op_of(var_or_node: Any) -> Any:
    """The scalar op of an Elemwise node (or of a variable's owner), else None."""
    node = getattr(var_or_node, "owner", var_or_node)
    if node is None or not isinstance(getattr(node, "op", None), Elemwise):
        return None
    return node.op.scalar_op


def is_elemwise(var_or_node: Any, *scalar_classes: type) -> bool:
    op = scalar_op_of(var_or_node)
    return op is not None and isinstance(op, scalar_classes)


def constant_value(var: Variable) -> np.ndarray | None:
    """The value of a scalar constant (possibly broadcast/cast), else None. No computation
    through other elementwise ops: rewrites must only match literal constants."""
    try:
        return get_scalar_constant_value(var, elemwise=False)
    except NotScalarConstantError:
        return None


def is_constant_equal(var: Variable, value: float) -> bool:
    found = constant_value(var)
    return found is not None and bool(np.all(found == value))


def as_type_of(new: Variable, old: Variable) -> Variable | None:
    """``new`` converted to ``old``'s type (dtype cast, broadcastable fixed), or None when
    the static types cannot show it has the same shape."""
    if new.type == old.type:
        return new
    if not isinstance(new.type, TensorType) or not isinstance(old.type, TensorType):
        return None
    if new.ndim < old.ndim:
        pad = old.ndim - new.ndim
        if not all(old.broadcastable[:pad]):
            return None
        new = DimShuffle(new.broadcastable, ["x"] * pad + list(range(new.ndim)))(new)
    if new.ndim != old.ndim:
        return None
    if new.dtype != old.dtype:
        new = cast(new, old.dtype)
    if new.broadcastable != old.broadcastable:
        for nb, ob in zip(new.broadcastable, old.broadcastable):
            if nb and not ob:
                return None  # new is size 1 where old may be larger: shapes differ
        new = patternbroadcast(new, old.broadcastable)
    return new


def literal_source(var: Variable) -> Constant | None:
    """The size-1 Constant that ``var`` is, seen through DimShuffles and casts, else None."""
    v = var
    while v.owner is not None and (isinstance(v.owner.op, DimShuffle) or is_elemwise(v, scal.Cast)):
        v = v.owner.inputs[0]
    if isinstance(v, Constant) and np.asarray(v.data).size == 1:
        return v
    return None


def literal(value: Any, dtype: str) -> Constant:
    from theanolite.tensor.basic import constant
    return constant(np.asarray(value, dtype=dtype))
