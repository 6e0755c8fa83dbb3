"""Forward mode through ``Scan``: one loop carrying values and their tangents.

The new Scan runs the original body plus its Jacobian-vector product (``Rop`` of the
inner graph): every float state gets a tangent state with the same taps (initial value:
the tangent of the initial rows, or zeros), every float per-step output and carry a
tangent output or carry, and each sequence / non-sequence with an evaluation point a
tangent sequence / non-sequence.
"""
from __future__ import annotations

from typing import Any

from theanolite.graph.basic import Variable
from theanolite.scan_module.utils import is_float, is_tensor, placeholder_like


def _cast_like(value: Variable, like: Variable) -> Variable:
    from theanolite.tensor.basic import cast, patternbroadcast
    if value.type.dtype != like.type.dtype:
        value = cast(value, like.type.dtype)
    if value.type.broadcastable != like.type.broadcastable:
        value = patternbroadcast(value, like.type.broadcastable)
    return value


def scan_r_op(op: Any, inputs: list, eval_points: list) -> list:
    """Tangents of the Scan node's outputs given tangents of (some of) its inputs."""
    from theanolite.gradient import Rop
    from theanolite.scan_module.op import Scan
    from theanolite.tensor.basic import zeros_like
    n_outputs = op.n_states + op.n_nit_sot + op.n_carry
    if all(e is None for e in eval_points):
        return [None] * n_outputs
    n_steps, seqs, bufs, carries, non_seqs = op.split_outer_inputs(inputs)
    _, e_seqs, e_bufs, e_carries, e_ns = op.split_outer_inputs(eval_points)
    wrt, evs = [], []

    def tangent(inner: Variable, label: str, drop_first: bool = False) -> Variable:
        ph = placeholder_like(inner, label, drop_first)
        wrt.append(inner)
        evs.append(ph)
        return ph

    t_seq_in, t_seq_outer = [], []
    for j, (var, seq, ev) in enumerate(zip(op.inner_seqs(), seqs, e_seqs)):
        if ev is not None and is_float(var):
            t_seq_in.append(tangent(var, f"tangent_seq_{j}"))
            t_seq_outer.append(_cast_like(ev, seq))
    float_states = [k for k, out in enumerate(op.inner_state_outs()) if is_float(out)]
    t_tap_in, t_bufs = [], []
    for k in float_states:
        t_tap_in.extend(tangent(p, f"tangent_tap_{k}") for p in op.inner_taps()[k])
        ev = e_bufs[k]
        t_bufs.append(_cast_like(ev, bufs[k]) if ev is not None else zeros_like(bufs[k]))
    float_carries = [c for c, v in enumerate(op.inner_carries()) if is_float(v) and is_tensor(v)]
    t_carry_in, t_carries = [], []
    for c in float_carries:
        t_carry_in.append(tangent(op.inner_carries()[c], f"tangent_carry_{c}"))
        ev = e_carries[c]
        t_carries.append(_cast_like(ev, carries[c]) if ev is not None else zeros_like(carries[c]))
    t_ns_in, t_ns = [], []
    for n, (var, outer, ev) in enumerate(zip(op.inner_non_seqs(), non_seqs, e_ns)):
        if ev is not None and is_float(var):
            t_ns_in.append(tangent(var, f"tangent_ns_{n}"))
            t_ns.append(_cast_like(ev, outer))

    state_outs = [op.inner_state_outs()[k] for k in float_states]
    nit_idx = [m for m, out in enumerate(op.inner_nit_outs()) if is_float(out)]
    nit_outs = [op.inner_nit_outs()[m] for m in nit_idx]
    carry_outs = [op.inner_carry_outs()[c] for c in float_carries]
    targets = state_outs + nit_outs + carry_outs
    t_outs = Rop(targets, wrt, evs) if targets else []
    t_outs = list(t_outs)
    a, b = len(state_outs), len(state_outs) + len(nit_outs)
    t_state_outs = [_cast_like(t, op.inner_taps()[k][0]) for t, k in zip(t_outs[:a], float_states)]
    t_nit_outs = [_cast_like(t, out) for t, out in zip(t_outs[a:b], nit_outs)]
    t_carry_outs = [_cast_like(t, op.inner_carries()[c]) for t, c in zip(t_outs[b:], float_carries)]

    taps_flat = [p for taps in op.inner_taps() for p in taps]
    cond = [op.inner_condition()] if op.as_while else []
    new = Scan(op.inner_seqs() + t_seq_in + taps_flat + t_tap_in + op.inner_carries() + t_carry_in
               + op.inner_non_seqs() + t_ns_in,
               op.inner_state_outs() + t_state_outs + op.inner_nit_outs() + t_nit_outs
               + op.inner_carry_outs() + t_carry_outs + cond,
               n_seqs=op.n_seqs + len(t_seq_in),
               state_taps=list(op.state_taps) + [op.state_taps[k] for k in float_states],
               n_nit_sot=op.n_nit_sot + len(t_nit_outs), n_carry=op.n_carry + len(t_carry_in),
               n_non_seqs=op.n_non_seqs + len(t_ns_in), as_while=op.as_while,
               truncate_gradient=op.truncate_gradient, mode=op.mode, name=f"rop_of_{op.name}")
    outs = new.make_node(n_steps, *seqs, *t_seq_outer, *bufs, *t_bufs, *carries, *t_carries,
                         *non_seqs, *t_ns).outputs
    return _tangents_by_output(op, outs, float_states, nit_idx, float_carries)


def _tangents_by_output(op: Any, outs: list, float_states: list, nit_idx: list,
                        float_carries: list) -> list:
    """Pick the tangent outputs of the new loop, in the order of the original outputs."""
    n_outputs = op.n_states + op.n_nit_sot + op.n_carry
    n_st, n_nit = op.n_states, op.n_nit_sot
    t_states = outs[n_st: n_st + len(float_states)]
    pos = n_st + len(float_states) + n_nit
    t_nits = outs[pos: pos + len(nit_idx)]
    pos += len(nit_idx) + op.n_carry
    t_carry_vals = outs[pos: pos + len(float_carries)]
    result: list = [None] * n_outputs
    for k, t in zip(float_states, t_states):
        result[k] = t
    for m, t in zip(nit_idx, t_nits):
        result[n_st + m] = t
    for c, t in zip(float_carries, t_carry_vals):
        result[n_st + n_nit + c] = t
    return result
