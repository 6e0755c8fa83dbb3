"""``scan``: build a loop from a Python step function (Theano's front end).

The step function is called once, symbolically, with (in order) one placeholder per
sequence tap, one placeholder per recurrent-output tap (in ``outputs_info`` order), and
the non-sequences *as given* (the outer variables themselves, so the body may call
``T.grad`` on them). Afterwards every free variable the body depends on (outer inputs,
shared variables, the explicit non-sequences) is swapped for an inner placeholder; the
outer variables become the Scan node's inputs. Constants stay constants. Shared
variables with updates (returned by the body, or their ``default_update``) become
carries whose final values are returned as the scan's updates.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from theanolite.graph.basic import Constant, Variable, ancestors, clone_replace
from theanolite.scan_module.op import Scan
from theanolite.scan_module.utils import (
    OrderedUpdates, fit_to_type, parse_step_return, placeholder_like)


@dataclass
class _State:
    """One recurrent output: its initial value, taps, inner placeholders, outer buffer."""
    init: Variable
    taps: list[int]
    placeholders: list[Variable] = field(default_factory=list)
    buffer: Variable | None = None

    @property
    def span(self) -> int:
        return -min(self.taps)


def scan(fn: Callable, sequences: Any = None, outputs_info: Any = None, non_sequences: Any = None,
         n_steps: Any = None, truncate_gradient: int = -1, go_backwards: bool = False,
         mode: Any = None, name: str | None = None, profile: Any = False, allow_gc: Any = None,
         strict: bool = False, return_list: bool = False) -> tuple[Any, OrderedUpdates]:
    """Repeatedly apply ``fn``; returns ``(outputs, updates)`` as Theano's ``scan``.

    ``outputs`` stacks each step's results (recurrent outputs without their initial
    value): one variable when ``fn`` has one output and ``return_list`` is False, else a
    list (None when there are none). ``updates`` is an ``OrderedUpdates`` to pass to
    ``theano.function(..., updates=updates)``.
    """
    seqs = _normalize_sequences(sequences)
    infos = _normalize_outputs_info(outputs_info)
    non_seqs = [_as_variable(v) for v in _as_list(non_sequences)]
    n_steps, go_backwards = _normalize_n_steps(n_steps, go_backwards)
    truncate_gradient = int(truncate_gradient)
    if truncate_gradient == 0 or truncate_gradient < -1:
        raise ValueError(f"scan: truncate_gradient must be -1 (full) or positive, got {truncate_gradient}")

    seq_outer, seq_inner, owners = _slice_sequences(seqs, go_backwards)
    n, seq_outer = _number_of_steps(seq_outer, owners, n_steps)
    states = [_make_state(info) if info is not None else None for info in infos]

    args = list(seq_inner)
    for st in states:
        if st is not None:
            args.extend(st.placeholders)
    condition, outputs, updates = parse_step_return(fn(*args, *non_seqs))
    outputs = [_as_variable(o) for o in outputs]
    roles = _assign_roles(outputs, states, outputs_info is None or infos == [])
    live_states = [st for st in states if st is not None]

    state_outs = [fit_to_type(out, st.placeholders[0], f"the step function's output {i}")
                  for i, (out, st) in enumerate(zip(outputs, roles)) if st is not None]
    nit_outs = [out for out, st in zip(outputs, roles) if st is None]
    body = _Body(state_outs, nit_outs, updates, condition)
    body.close_over(non_seqs, set(map(id, seq_inner + [p for st in live_states for p in st.placeholders])),
                    strict)

    op = Scan(seq_inner + [p for st in live_states for p in st.placeholders] + body.carry_inner
              + body.ns_inner,
              body.state_outs + body.nit_outs + body.carry_outs
              + ([body.condition] if body.condition is not None else []),
              n_seqs=len(seq_inner), state_taps=[st.taps for st in live_states],
              n_nit_sot=len(nit_outs), n_carry=len(body.carry_inner), n_non_seqs=len(body.ns_inner),
              as_while=body.condition is not None, truncate_gradient=truncate_gradient,
              mode=mode, name=name)
    node_outs = op.make_node(n, *seq_outer, *[st.buffer for st in live_states],
                             *body.carry_outer, *body.ns_outer).outputs
    return _user_outputs(node_outs, roles, live_states, len(nit_outs), body.carry_outer, return_list)


# ----------------------------------------------------------------------------- normalizing

def _as_list(x: Any) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _as_variable(x: Any) -> Variable:
    from theanolite.tensor.basic import as_tensor_variable
    return x if isinstance(x, Variable) else as_tensor_variable(x)


def _normalize_sequences(sequences: Any) -> list[tuple[Variable, list[int]]]:
    result = []
    for k, seq in enumerate(_as_list(sequences)):
        if isinstance(seq, dict):
            if "input" not in seq:
                raise ValueError(f"scan: sequence {k} is a dict without an 'input' entry")
            var, taps = seq["input"], seq.get("taps", [0])
        else:
            var, taps = seq, [0]
        taps = [0] if taps is None else _as_list(taps)
        var = _as_variable(var)
        if getattr(var.type, "ndim", 0) < 1:
            raise TypeError(f"scan: sequence {k} ({var}) must have at least one dimension to "
                            f"iterate over, got type {var.type}")
        result.append((var, [int(t) for t in taps]))
    return result


def _normalize_outputs_info(outputs_info: Any) -> list[dict | None]:
    result: list[dict | None] = []
    for k, info in enumerate(_as_list(outputs_info)):
        if info is None:
            result.append(None)
            continue
        if isinstance(info, dict):
            if info.get("initial") is None:
                if info.get("taps"):
                    raise ValueError(f"scan: outputs_info[{k}] has taps but no 'initial' value")
                result.append(None)
                continue
            init, taps = info["initial"], _as_list(info.get("taps", [-1]) or [-1])
        else:
            init, taps = info, [-1]
        taps = [int(t) for t in taps]
        if any(t >= 0 for t in taps):
            raise ValueError(f"scan: outputs_info[{k}] uses taps {taps}; recurrent outputs can "
                             "only use past values (negative taps)")
        result.append({"initial": _as_variable(init), "taps": taps})
    return result


def _normalize_n_steps(n_steps: Any, go_backwards: bool) -> tuple[Variable | None, bool]:
    from theanolite.tensor.basic import NotScalarConstantError, as_tensor_variable, cast, \
        constant, get_scalar_constant_value
    if n_steps is None:
        return None, go_backwards
    if isinstance(n_steps, (int, np.integer)) and not isinstance(n_steps, bool):
        value = int(n_steps)
        # A negative constant n_steps runs the loop the other way, as in Theano.
        return constant(abs(value), dtype="int64"), go_backwards != (value < 0)
    var = as_tensor_variable(n_steps)
    if var.ndim != 0 or np.dtype(var.dtype).kind not in "iu":
        raise TypeError(f"scan: n_steps must be an integer scalar, got {var} of type {var.type}")
    try:
        value = int(get_scalar_constant_value(var))
        return constant(abs(value), dtype="int64"), go_backwards != (value < 0)
    except NotScalarConstantError:
        pass
    return (var if var.dtype == "int64" else cast(var, "int64")), go_backwards


def _slice_sequences(seqs: list, go_backwards: bool) -> tuple[list, list, list]:
    """One outer slice and one inner placeholder per (sequence, tap): row t of the slice
    for tap k is row t + k - min(taps, 0) of the sequence."""
    outer, inner, owners = [], [], []
    for j, (var, taps) in enumerate(seqs):
        if not taps:
            continue
        hi, lo = max(max(taps), 0), min(min(taps), 0)
        for tap in taps:
            start = tap - lo
            end = None if tap == hi else tap - hi
            piece = var if (start == 0 and end is None) else var[start:end]
            if go_backwards:
                piece = piece[::-1]
            outer.append(piece)
            label = None if var.name is None else f"{var.name}[t{tap:+d}]" if tap else f"{var.name}[t]"
            inner.append(placeholder_like(var, label, drop_first=True))
            owners.append(j)
    return outer, inner, owners


def _number_of_steps(outer: list, owners: list, n_steps: Variable | None) -> tuple[Variable, list]:
    from theanolite.tensor.basic import shape_i
    from theanolite.tensor.math import minimum
    if n_steps is not None:
        return n_steps, [s[:n_steps] for s in outer]
    if not outer:
        raise ValueError("scan: no information about the number of steps: provide n_steps or "
                         "at least one sequence")
    lengths = [shape_i(s, 0) for s in outer]
    if len(set(owners)) == 1:
        return lengths[0], outer  # all slices of one sequence have the same length
    n = lengths[0]
    for length in lengths[1:]:
        n = minimum(n, length)
    return n, [s[:n] for s in outer]


def _make_state(info: dict) -> _State:
    init, taps = info["initial"], info["taps"]
    st = _State(init, taps)
    base = init.name or "state"
    if taps == [-1]:
        st.placeholders = [placeholder_like(init, f"{base}[t-1]")]
        st.buffer = init.dimshuffle("x", *range(init.ndim))
        return st
    if init.ndim < 1:
        raise TypeError(f"scan: the initial value of an output with taps {taps} must stack the "
                        f"{st.span} previous values along its first axis; got a scalar {init}")
    st.placeholders = [placeholder_like(init, f"{base}[t{t:+d}]", drop_first=True) for t in taps]
    st.buffer = init[: st.span]
    return st


def _assign_roles(outputs: list, states: list, all_nit: bool) -> list:
    if all_nit:
        return [None] * len(outputs)
    if len(outputs) != len(states):
        raise ValueError(f"scan: the step function returned {len(outputs)} output(s) but "
                         f"outputs_info has {len(states)} entries; give one entry per output "
                         "(None for an output that is not fed back)")
    return states


# ----------------------------------------------------------------------------- the body

class _Body:
    """The inner graph's outputs while free variables are being turned into inputs."""

    def __init__(self, state_outs: list, nit_outs: list, updates: OrderedDict, condition: Any) -> None:
        from theanolite.compile.sharedvalue import SharedVariable
        from theanolite.tensor.basic import as_tensor_variable
        self.state_outs, self.nit_outs = list(state_outs), list(nit_outs)
        self.condition = condition
        self.updates: OrderedDict = OrderedDict()
        for var, expr in updates.items():
            if not isinstance(var, SharedVariable):
                raise TypeError(f"scan: the step function's updates must target shared variables, "
                                f"got {var!r:.60}")
            self.updates[var] = expr if isinstance(expr, Variable) else as_tensor_variable(expr)
        self.carry_inner: list = []
        self.carry_outer: list = []
        self.carry_outs: list = []
        self.ns_inner: list = []
        self.ns_outer: list = []

    def _targets(self) -> list:
        cond = [self.condition] if self.condition is not None else []
        return self.state_outs + self.nit_outs + list(self.updates.values()) + cond

    def _replace(self, mapping: dict) -> None:
        if not mapping:
            return
        keys = list(self.updates)
        new = clone_replace(self._targets(), mapping)
        a, b = len(self.state_outs), len(self.state_outs) + len(self.nit_outs)
        c = b + len(keys)
        self.state_outs, self.nit_outs = new[:a], new[a:b]
        self.updates = OrderedDict(zip(keys, new[b:c]))
        if self.condition is not None:
            self.condition = new[c]

    def close_over(self, non_seqs: list, placeholders: set[int], strict: bool) -> None:
        """Turn non-sequences and every other free variable into inner inputs."""
        from theanolite.compile.sharedvalue import SharedVariable
        explicit = []
        for v in non_seqs:
            if not isinstance(v, Constant) and all(v is not e for e in explicit):
                explicit.append(v)
        first = {}
        for v in explicit:
            if not isinstance(v, SharedVariable):
                first[v] = placeholder_like(v, v.name)
                self.ns_outer.append(v)
                self.ns_inner.append(first[v])
        self._replace(first)
        self._add_default_updates()
        second = {}
        for shared in self.updates:
            second[shared] = placeholder_like(shared, shared.name)
            self.carry_outer.append(shared)
            self.carry_inner.append(second[shared])
        known = placeholders | {id(p) for p in self.ns_inner} | {id(p) for p in self.carry_inner}
        roots = [v for v in ancestors(self._targets()) if v.owner is None
                 and not isinstance(v, Constant) and id(v) not in known and v not in second]
        explicit_ids = {id(v) for v in explicit}
        roots.sort(key=lambda v: id(v) not in explicit_ids)  # stable: explicit ones first
        missing = [v for v in roots if id(v) not in explicit_ids]
        if strict and missing:
            raise ValueError(f"scan(strict=True): the step function uses {missing} which "
                             "are not passed in sequences, outputs_info or non_sequences")
        for v in roots:
            second[v] = placeholder_like(v, v.name)
            self.ns_outer.append(v)
            self.ns_inner.append(second[v])
        self._replace(second)
        self.carry_outs = [self._fit_update(s, u) for s, u in self.updates.items()]

    def _add_default_updates(self) -> None:
        from theanolite.compile.sharedvalue import SharedVariable
        frontier = self._targets()
        while frontier:
            added = []
            for v in ancestors(frontier):
                if isinstance(v, SharedVariable) and v.default_update is not None and v not in self.updates:
                    self.updates[v] = v.default_update
                    added.append(v.default_update)
            frontier = added

    @staticmethod
    def _fit_update(shared: Variable, update: Variable) -> Variable:
        if update.type == shared.type:
            return update
        from theanolite.scan_module.utils import is_tensor
        if is_tensor(shared) and is_tensor(update):
            return fit_to_type(update, shared, f"the update of shared variable {shared}")
        converted = shared.type.convert_variable(update)
        if converted is None:
            raise TypeError(f"scan: the update of shared variable {shared} has type {update.type}, "
                            f"expected {shared.type}")
        return converted


# ----------------------------------------------------------------------------- outputs

def _user_outputs(node_outs: list, roles: list, states: list, n_nit: int, carry_outer: list,
                  return_list: bool) -> tuple[Any, OrderedUpdates]:
    n_states = len(states)
    result = []
    k = m = 0
    for st in roles:
        if st is not None:
            result.append(node_outs[k][st.span:])
            k += 1
        else:
            result.append(node_outs[n_states + m])
            m += 1
    updates = OrderedUpdates()
    for c, shared in enumerate(carry_outer):
        updates[shared] = node_outs[n_states + n_nit + c]
    if return_list:
        return result, updates
    if not result:
        return None, updates
    return (result[0] if len(result) == 1 else result), updates


__all__ = ["scan"]
