"""``Op``: the base class of every operation, and ``Type``: the base of variable types.

An Op is defined in one place: ``__props__`` (equality, hash, cache key), ``make_node``,
``infer_shape``, ``perform`` (numpy: the reference and the fallback), ``L_op``, ``R_op``
and, where speed matters, its C. Ops are immutable values: two Ops with equal props are
interchangeable everywhere (merging, cache keys).
"""
from __future__ import annotations

import inspect
from typing import Any, Sequence

from theanolite.graph.basic import Apply, Variable


class Type:
    """A set of values (e.g. float64 matrices). Subclasses implement ``filter``."""

    variable_type: type = Variable
    constant_type: type | None = None

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None) -> Any:
        raise NotImplementedError

    def is_valid_value(self, value: Any) -> bool:
        try:
            self.filter(value, strict=True)
            return True
        except (TypeError, ValueError):
            return False

    def make_variable(self, name: str | None = None) -> Variable:
        return self.variable_type(self, None, None, name)

    def __call__(self, name: str | None = None) -> Variable:
        return self.make_variable(name)

    def values_eq(self, a: Any, b: Any) -> bool:
        return a == b

    def values_eq_approx(self, a: Any, b: Any) -> bool:
        return self.values_eq(a, b)

    def convert_variable(self, var: Variable) -> Variable | None:
        return var if var.type == self else None


class Op:
    """Base class of all Ops.

    Subclasses list their parameters in ``__props__``; equality and hashing follow them,
    and so does the cache key. ``perform(node, inputs, output_storage)`` stores each
    result in ``output_storage[i][0]`` (Theano's contract, kept for user-defined Ops).
    """

    __props__: tuple[str, ...] = ()
    default_output: int | None = None
    view_map: dict[int, list[int]] = {}
    destroy_map: dict[int, list[int]] = {}

    # -- identity -----------------------------------------------------------------
    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def _props_dict(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self.__props__}

    def __eq__(self, other: Any) -> bool:
        if type(self) is not type(other):
            return False
        if not _declares_props(type(self)):
            # An Op class that declares no props compares by identity, as in Theano.
            return self is other
        return self._props() == other._props()

    def __hash__(self) -> int:
        if not _declares_props(type(self)):
            return id(self)
        return hash((type(self), self._props()))

    def __str__(self) -> str:
        if self.__props__:
            inside = ", ".join(f"{p}={getattr(self, p)}" for p in self.__props__)
            return f"{type(self).__name__}{{{inside}}}"
        return type(self).__name__

    __repr__ = __str__

    # -- graph building -------------------------------------------------------------
    def make_node(self, *inputs: Variable) -> Apply:
        raise NotImplementedError(f"{type(self).__name__}.make_node")

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        node = self.make_node(*inputs, **kwargs)
        if self.default_output is not None:
            return node.outputs[self.default_output]
        if len(node.outputs) == 1:
            return node.outputs[0]
        return node.outputs

    # -- evaluation ------------------------------------------------------------------
    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list[Any]]) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no perform")

    def do_constant_folding(self, fgraph: Any, node: Apply) -> bool:
        return True

    # -- shapes ------------------------------------------------------------------------
    def call_infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        """Call ``infer_shape`` whether it takes (fgraph, node, shapes) or Theano's (node, shapes)."""
        method = self.infer_shape
        nparams = _nparams(type(self), "infer_shape")
        if nparams == 2:
            return method(node, input_shapes)
        return method(fgraph, node, input_shapes)

    # -- derivatives ----------------------------------------------------------------
    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list[Variable]:
        """Vector-Jacobian product: gradients of the cost w.r.t. each input."""
        return self.grad(inputs, output_grads)

    def grad(self, inputs: Sequence[Variable], output_grads: Sequence[Variable]) -> list[Variable]:
        from theanolite.gradient import grad_not_implemented
        return [grad_not_implemented(self, i, inp) for i, inp in enumerate(inputs)]

    def R_op(self, inputs: Sequence[Variable], eval_points: Sequence[Variable | None]) -> list[Variable]:
        """Jacobian-vector product. The default is the double-L_op trick (gradient.Rop)."""
        raise NotImplementedError

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True] * len(node.outputs) for _ in node.inputs]


_DECLARES_PROPS: dict[type, bool] = {}


def _declares_props(cls: type) -> bool:
    found = _DECLARES_PROPS.get(cls)
    if found is None:
        found = any("__props__" in c.__dict__ for c in cls.__mro__ if c is not Op)
        _DECLARES_PROPS[cls] = found
    return found


_NPARAMS_CACHE: dict[tuple[type, str], int] = {}


def _nparams(cls: type, name: str) -> int:
    key = (cls, name)
    if key not in _NPARAMS_CACHE:
        params = inspect.signature(getattr(cls, name)).parameters
        _NPARAMS_CACHE[key] = len([p for p in params if p != "self"])
    return _NPARAMS_CACHE[key]


class PureOp(Op):
    pass


class COp(Op):
    """An Op that brings C code (see ccodegen); kept as a separate name for Theano users."""
