"""``ifelse``: a lazy conditional on a scalar condition.

Unlike ``T.switch`` (elementwise; both sides computed), ``ifelse(c, a, b)`` computes only
the branch it returns. The ``IfElse`` op declares its branches to the linker
(``lazy_branches``/``choose_branch``, see ``theanolite.compile.linker``); nodes whose
results only the untaken branch uses are skipped. A node used by both branches, by the
condition or by anything else outside the branch always runs.
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op

__all__ = ["IfElse", "ifelse"]


class IfElse(Op):
    """Inputs ``[condition] + then_values + else_values`` (``n_outs`` each); outputs the
    then-values when the scalar condition is nonzero (NaN counts as true), else the
    else-values. Outputs are copies unless ``as_view``, where output i is a view of
    input ``1 + i`` or ``1 + n_outs + i``. ``name`` labels the op and is not a property.
    """

    __props__ = ("n_outs", "as_view")

    def __init__(self, n_outs: int, as_view: bool = False, gpu: bool = False,
                 name: str | None = None) -> None:
        self.n_outs = int(n_outs)
        self.as_view = bool(as_view)
        self.name = name
        if self.as_view:
            self.view_map = {i: [1 + i, 1 + self.n_outs + i] for i in range(self.n_outs)}

    def __str__(self) -> str:
        args = [a for a in (self.name, "inplace" if self.as_view else None) if a]
        return f"if{{{','.join(args)}}}"

    def make_node(self, c: Any, *args: Any) -> Apply:
        from theanolite.tensor.basic import as_tensor_variable
        if len(args) != 2 * self.n_outs:
            raise TypeError(f"{self}: expected a condition and {2 * self.n_outs} branch values, "
                            f"got {len(args)} branch values")
        c = as_tensor_variable(c)
        if c.ndim != 0:
            raise TypeError(f"{self}: the condition must be a scalar (0 is false, anything else "
                            f"true), got {c} of type {c.type}")
        args = [a if isinstance(a, Variable) else as_tensor_variable(a) for a in args]
        ts, fs = args[: self.n_outs], args[self.n_outs:]
        for k, (t, f) in enumerate(zip(ts, fs)):
            if t.type != f.type:
                raise TypeError(_mismatch_message(k, t, f))
        return Apply(self, [c] + args, [t.type() for t in ts])

    # -- laziness (read by the linker) --------------------------------------------------
    def lazy_branches(self, node: Apply) -> list[tuple[int, ...]]:
        n = self.n_outs
        return [tuple(range(1, 1 + n)), tuple(range(1 + n, 1 + 2 * n))]

    def choose_branch(self, node: Apply, inputs: Sequence[Any]) -> int:
        return 0 if bool(np.asarray(inputs[0]) != 0) else 1

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        from theanolite.tensor.basic import as_tensor_variable, cast
        n = self.n_outs
        ts_shapes, fs_shapes = input_shapes[1: 1 + n], input_shapes[1 + n:]
        pending: list[tuple[int, int]] = []
        pairs_t, pairs_f = [], []
        result = [list(t) for t in ts_shapes]
        for i, (ts, fs) in enumerate(zip(ts_shapes, fs_shapes)):
            for d, (t, f) in enumerate(zip(ts, fs)):
                if t is f or (isinstance(t, int) and isinstance(f, int) and t == f):
                    continue
                pending.append((i, d))
                pairs_t.append(cast(as_tensor_variable(t), "int64"))
                pairs_f.append(cast(as_tensor_variable(f), "int64"))
        if pending:
            # One lazy node for every dimension that differs: each side's shape graph is
            # then only computed when its branch is taken.
            name = "shape" if self.name is None else f"shape_{self.name}"
            chosen = IfElse(len(pending), name=name).make_node(node.inputs[0], *pairs_t, *pairs_f).outputs
            for (i, d), var in zip(pending, chosen):
                result[i][d] = var
        return [tuple(r) for r in result]

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        n = self.n_outs
        first = 1 + n * self.choose_branch(node, inputs)
        for k, cell in enumerate(output_storage):
            value = inputs[first + k]
            if not self.as_view:
                value = value.copy() if isinstance(value, np.ndarray) else copy.deepcopy(value)
            cell[0] = value

    # -- derivatives ------------------------------------------------------------------
    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        n = self.n_outs
        # The condition picks a branch but, taken as constant near its value, does not
        # change any output: it is disconnected. Branch value i feeds output i only.
        pattern = [[False] * n]
        for side in range(2):
            pattern += [[j == i for j in range(n)] for i in range(n)]
        return pattern

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        from theanolite.tensor.basic import zeros_like
        n = self.n_outs
        c, ts = inputs[0], inputs[1: 1 + n]
        grads = [_like_input(g, t) for g, t in zip(output_grads, ts)]
        zeros = [zeros_like(g) for g in grads]
        suffix = (lambda s: None) if self.name is None else (lambda s: f"{self.name}_grad_{s}")
        if n:
            then_g = IfElse(n, name=suffix("t")).make_node(c, *grads, *zeros).outputs
            else_g = IfElse(n, name=suffix("f")).make_node(c, *zeros, *grads).outputs
        else:
            then_g = else_g = []
        result: list[Variable] = [DisconnectedType()()]
        for side in (then_g, else_g):
            for g, x in zip(side, ts):
                result.append(_float_zeros(x) if _discrete(x) else g)
        return result

    def R_op(self, inputs, eval_points):
        from theanolite.tensor.basic import zeros_like
        n = self.n_outs
        branch_points = eval_points[1:]
        if all(e is None for e in branch_points):
            return [None] * n
        points = [zeros_like(x) if e is None else _like_input(e, x)
                  for x, e in zip(inputs[1:], branch_points)]
        return self.make_node(inputs[0], *points).outputs


def _discrete(x: Variable) -> bool:
    from theanolite.scalar.basic import discrete_dtypes
    return getattr(x.type, "dtype", None) in discrete_dtypes


def _float_zeros(x: Variable) -> Variable:
    from theanolite.configparser import config
    from theanolite.tensor.basic import zeros_like
    return zeros_like(x, dtype=config.floatX)


def _like_input(g: Variable, x: Variable) -> Variable:
    """``g`` with ``x``'s dtype and broadcastable flags, so both branches type-check."""
    from theanolite.tensor.basic import as_tensor_variable, cast, patternbroadcast
    g = as_tensor_variable(g)
    if not _discrete(x) and g.dtype != x.dtype:
        g = cast(g, x.dtype)
    if g.broadcastable != x.broadcastable:
        g = patternbroadcast(g, x.broadcastable)
    return g


def _mismatch_message(k: int, t: Variable, f: Variable) -> str:
    return (f"ifelse: the two branches must have identical types, but value {k} is {t} of type "
            f"{t.type} on the then branch and {f} of type {f.type} on the else branch; cast "
            "one of them (T.cast) or fix its broadcastable pattern (T.patternbroadcast)")


def _as_branch_value(value: Any, other: Any) -> Variable:
    """A branch value as a variable; a plain number or array takes the type of the
    variable on the other branch when it fits (a Python float may be rounded to it)."""
    from theanolite.tensor.basic import as_tensor_variable
    from theanolite.tensor.type import TensorType
    if isinstance(value, Variable):
        return value
    if isinstance(other, Variable) and isinstance(other.type, TensorType):
        python_scalar = isinstance(value, (int, float, bool)) and not isinstance(value, np.generic)
        try:
            data = other.type.filter(value, allow_downcast=True if python_scalar else None)
        except (TypeError, ValueError):
            return as_tensor_variable(value)  # the type check names the mismatch
        return other.type.make_constant(data)
    return as_tensor_variable(value)


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None) -> Any:
    """``then_branch`` if the scalar ``condition`` is nonzero, else ``else_branch``; only
    the chosen branch is computed.

    The branches are single variables or equally long lists/tuples of variables with
    pairwise identical types (TypeError otherwise, naming the pair). The result has the
    form of ``then_branch``: a variable, a list or a tuple.
    """
    rval_type = list if isinstance(then_branch, list) else tuple if isinstance(then_branch, tuple) else None
    thens = list(then_branch) if isinstance(then_branch, (list, tuple)) else [then_branch]
    elses = list(else_branch) if isinstance(else_branch, (list, tuple)) else [else_branch]
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: the then branch has {len(thens)} values but the else branch "
                         f"has {len(elses)}; they must pair up one to one")
    new_thens, new_elses = [], []
    for t, f in zip(thens, elses):
        t, f = _as_branch_value(t, f), _as_branch_value(f, t)
        new_thens.append(t)
        new_elses.append(f)
    outs = IfElse(len(thens), name=name).make_node(condition, *new_thens, *new_elses).outputs
    if rval_type is None:
        return outs[0]
    return rval_type(outs)
