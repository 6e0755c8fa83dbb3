"""Small pieces shared by scan's front end, op and gradients.

``until`` (the stopping condition a step function may return), ``OrderedUpdates`` (the
update dictionary scan returns), the parser of a step function's return value, and a
few graph helpers.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

from theanolite.graph.basic import Constant, Variable


class until:  # noqa: N801 - Theano's public name
    """Returned by a step function to stop scan once ``condition`` is true.

    The step on which the condition becomes true is still part of the outputs.
    """

    def __init__(self, condition: Any) -> None:
        from theanolite.tensor.basic import as_tensor_variable
        condition = as_tensor_variable(condition)
        if condition.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar, got a {condition.ndim}-d tensor")
        self.condition = condition


class OrderedUpdates(OrderedDict):
    """An ordered ``{shared variable: new value}`` mapping (Theano's ``OrderedUpdates``).

    Keys must be shared variables; merging two update dicts that give the same shared
    variable different values raises KeyError.
    """

    def __setitem__(self, key: Any, value: Any) -> None:
        from theanolite.compile.sharedvalue import SharedVariable
        if not isinstance(key, SharedVariable):
            raise TypeError(f"OrderedUpdates keys must be shared variables, got {key!r:.60}")
        super().__setitem__(key, value)

    def update(self, other: Any = None, **kwargs: Any) -> None:  # type: ignore[override]
        if kwargs:
            raise TypeError("OrderedUpdates.update takes no keyword arguments")
        if other is None:
            return
        items = other.items() if isinstance(other, dict) else other
        for key, value in items:
            if key in self:
                if self[key] is value:
                    continue
                raise KeyError(f"OrderedUpdates: collision, {key} is already updated")
            self[key] = value

    def __add__(self, other: Any) -> "OrderedUpdates":
        result = OrderedUpdates()
        result.update(self)
        result.update(other)
        return result

    def __radd__(self, other: Any) -> "OrderedUpdates":
        result = OrderedUpdates()
        result.update(other)
        result.update(self)
        return result


# ----------------------------------------------------------------------------- return values

def _is_outputs(elem: Any) -> bool:
    if isinstance(elem, Variable):
        return True
    return isinstance(elem, (list, tuple)) and all(isinstance(x, Variable) for x in elem)


def _is_updates(elem: Any) -> bool:
    if isinstance(elem, dict):
        if not isinstance(elem, OrderedDict) and len(elem) > 1 and type(elem) is not dict:
            warnings.warn("scan: expected an OrderedDict of updates; a plain mapping may make "
                          "the update order non-deterministic", stacklevel=4)
        return True
    return isinstance(elem, (list, tuple)) and len(elem) > 0 and all(
        isinstance(x, (list, tuple)) and len(x) == 2 and not isinstance(x[0], (list, tuple))
        and isinstance(x[0], Variable) and getattr(x[0], "_is_shared_storage", False)
        for x in elem)


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _numbers_to_tensors(value: Any) -> Any:
    """Python numbers / arrays a step function returns become tensor constants."""
    from theanolite.tensor.basic import as_tensor_variable
    if isinstance(value, (int, float, np.ndarray, np.number)) and not isinstance(value, bool):
        return as_tensor_variable(value)
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (Variable, int, float, np.ndarray, np.number)) for v in value):
        return type(value)(_numbers_to_tensors(v) for v in value)
    return value


def parse_step_return(ret: Any) -> tuple[Variable | None, list, OrderedDict]:
    """Split what a step function returned into (condition, outputs, updates).

    Accepted forms (Theano's): outputs; updates; (outputs, updates); (outputs, until);
    (updates, until); (outputs, updates, until). Outputs may be one variable or a list.
    """
    message = ("scan: cannot understand the return value of the step function; return the "
               "outputs (a variable or a list), then optionally a dict of updates, then "
               f"optionally an until(...) condition, in that order. Got: {ret!r:.200}")
    if ret is None:
        return None, [], OrderedDict()
    if isinstance(ret, until):
        return ret.condition, [], OrderedDict()
    ret = _numbers_to_tensors(ret)
    if _is_outputs(ret):
        return None, _as_list(ret), OrderedDict()
    if _is_updates(ret):
        return None, [], OrderedDict(ret)
    if not isinstance(ret, (list, tuple)):
        raise ValueError(message)
    parts = [_numbers_to_tensors(p) for p in ret]
    if len(parts) == 2:
        first, second = parts
        if _is_outputs(first) or first == []:
            if _is_updates(second) or second == {} or second == []:
                return None, _as_list(first), OrderedDict(second)
            if isinstance(second, until):
                return second.condition, _as_list(first), OrderedDict()
        elif _is_updates(first):
            if isinstance(second, until):
                return second.condition, [], OrderedDict(first)
            if _is_outputs(second):
                raise ValueError("scan: the step function must return the outputs first and "
                                 "the updates after them, not the other way round")
    elif len(parts) == 3:
        first, second, third = parts
        if (_is_outputs(first) or first == []) and (_is_updates(second) or second == {}) \
                and isinstance(third, until):
            return third.condition, _as_list(first), OrderedDict(second)
    raise ValueError(message)


# ----------------------------------------------------------------------------- graph helpers

def is_zero_grad(g: Any) -> bool:
    """True when ``g`` is the all-zeros gradient ``grad`` supplies for an unused output
    (``zeros_like(x)``, i.e. ``second(x, 0)``) or a zero constant."""
    from theanolite.scalar import basic as scal
    from theanolite.tensor.elemwise import Elemwise
    if g is None:
        return True
    if isinstance(g, Constant):
        return not np.any(np.asarray(g.data))
    owner = g.owner
    if owner is None or not isinstance(owner.op, Elemwise) or not isinstance(owner.op.scalar_op, scal.Second):
        return False
    value = owner.inputs[-1]
    return isinstance(value, Constant) and not np.any(np.asarray(value.data))


def is_float(var: Variable) -> bool:
    dtype = getattr(var.type, "dtype", None)
    return dtype is not None and np.dtype(dtype).kind == "f"


def is_tensor(var: Variable) -> bool:
    from theanolite.tensor.type import TensorType
    return isinstance(var.type, TensorType)


def placeholder_like(var: Variable, name: str | None = None, drop_first: bool = False) -> Variable:
    """A fresh free variable of ``var``'s type (minus its first dimension if asked)."""
    from theanolite.tensor.type import TensorType
    if drop_first:
        return TensorType(var.type.dtype, var.type.broadcastable[1:])(name)
    return var.type(name)


def fit_to_type(value: Variable, like: Variable, what: str) -> Variable:
    """``value`` with the type of ``like``: same dtype required, broadcast flags adapted."""
    from theanolite.tensor.basic import patternbroadcast
    if value.type == like.type:
        return value
    if not is_tensor(value) or not is_tensor(like):
        raise TypeError(f"scan: {what} has type {value.type} but {like.type} was expected")
    if value.type.dtype != like.type.dtype or value.ndim != like.ndim:
        raise TypeError(
            f"scan: {what} is a {value.ndim}-d {value.type.dtype} tensor but its initial state / "
            f"target is a {like.ndim}-d {like.type.dtype} tensor; the step function must keep the "
            f"dtype and number of dimensions (cast the result, e.g. T.cast(expr, '{like.type.dtype}'))")
    return patternbroadcast(value, like.type.broadcastable)


def graph_signature(inputs: list, outputs: list) -> str:
    """A deterministic digest of the graph between ``inputs`` and ``outputs``: op classes
    and props, types, topology by position and constant data (never ids or names)."""
    import hashlib
    from theanolite.graph.basic import io_toposort
    index: dict[int, str] = {id(v): f"i{k}" for k, v in enumerate(inputs)}
    lines = [";".join(str(v.type) for v in inputs)]
    for n, node in enumerate(io_toposort(inputs, outputs)):
        refs = []
        for inp in node.inputs:
            if id(inp) not in index:
                if isinstance(inp, Constant):
                    index[id(inp)] = "c" + inp.signature()[1][:16] + str(inp.type)
                else:
                    index[id(inp)] = f"free{len(index)}"
            refs.append(index[id(inp)])
        for k, out in enumerate(node.outputs):
            index[id(out)] = f"n{n}.{k}"
        op = node.op
        props = op._props() if op.__props__ else ()
        lines.append(f"{type(op).__module__}.{type(op).__qualname__}{tuple(str(p) for p in props)}"
                     f"({','.join(refs)})->{','.join(str(o.type) for o in node.outputs)}")
    out_refs = []
    for out in outputs:
        if id(out) not in index and isinstance(out, Constant):
            index[id(out)] = "c" + out.signature()[1][:16] + str(out.type)
        out_refs.append(index.get(id(out), "?"))
    lines.append(",".join(out_refs))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
