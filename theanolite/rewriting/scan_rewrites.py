"""Rewrites of ``Scan`` nodes and the in-place increment of subtensors.

* ``local_scan_remove_unused_outputs``: a scan output nobody reads (and that no kept
  output needs as a recurrent input) is dropped, together with the inner inputs
  (sequences, non-sequences, initial states) no kept output uses any more.
* ``local_scan_push_out_invariants``: inner computations that depend only on
  non-sequences (and constants) run once, before the loop; their results enter the
  loop as new non-sequences.
* ``local_scan_merge``: two Scans over the same sequences and ``n_steps`` (neither
  reading the other, no stop condition) become one loop computing both sets of outputs.
* ``local_inc_subtensor_inplace``: (Advanced)IncSubtensor writes into its first input
  when ``can_destroy`` says nobody else can observe that buffer.

A new ``Scan`` keeps every property of the old one (taps, truncation, while condition,
mode, name); only the layout lists shrink or grow.
"""
from __future__ import annotations

from typing import Any

from theanolite.graph.basic import Apply, Constant, Variable, ancestors, clone_replace, io_toposort
from theanolite.graph.fg import FunctionGraph
from theanolite.rewriting.db import register
from theanolite.rewriting.inplace import can_destroy
from theanolite.scan_module.op import Scan
from theanolite.tensor.subtensor import IncSubtensor
from theanolite.tensor.subtensor_advanced import AdvancedIncSubtensor, AdvancedIncSubtensor1


def _rebuild(op: Scan, seqs: list, states: list, nit: list, carries: list, non_seqs: list,
             n_steps: Variable, cond: Variable | None = None) -> list[Variable]:
    """Apply a new Scan made of the given parts; returns its outputs.

    ``seqs``/``non_seqs`` are (outer, inner) pairs, ``states`` are (outer buffer, taps,
    inner tap inputs, inner output), ``nit`` inner outputs, ``carries`` (outer initial
    value, inner input, inner output); ``cond`` replaces the while condition.
    """
    inner_inputs = ([i for _, i in seqs] + [v for st in states for v in st[2]]
                    + [c[1] for c in carries] + [i for _, i in non_seqs])
    cond = [cond if cond is not None else op.inner_condition()] if op.as_while else []
    inner_outputs = [st[3] for st in states] + list(nit) + [c[2] for c in carries] + cond
    new_op = Scan(inner_inputs, inner_outputs, n_seqs=len(seqs), state_taps=[st[1] for st in states],
                  n_nit_sot=len(nit), n_carry=len(carries), n_non_seqs=len(non_seqs),
                  as_while=op.as_while, truncate_gradient=op.truncate_gradient, mode=op.mode,
                  name=op.name)
    outer = ([n_steps] + [o for o, _ in seqs] + [st[0] for st in states] + [c[0] for c in carries]
             + [o for o, _ in non_seqs])
    return list(new_op.make_node(*outer).outputs)


def _used_inner_inputs(op: Scan, outputs: list[Variable]) -> set[Variable]:
    inner = set(op.inner_inputs)
    return {v for v in ancestors(outputs) if v in inner}


@register("canonicalize", "scan", "scan_remove_unused", tracks=[Scan])
def local_scan_remove_unused_outputs(fgraph: FunctionGraph, node: Apply) -> Any:
    """Drop outputs with no clients (unless a kept output reads them back) and inputs no
    kept inner output uses."""
    op: Scan = node.op
    n_steps, o_seqs, o_bufs, o_carries, o_ns = op.split_outer_inputs(node.inputs)
    out_states, out_nits, out_carries = op.split_outer_outputs(node.outputs)
    taps_in, carry_in = op.inner_taps(), op.inner_carries()
    keep_st = [bool(fgraph.clients.get(o)) for o in out_states]
    keep_nit = [bool(fgraph.clients.get(o)) for o in out_nits]
    keep_ca = [bool(fgraph.clients.get(o)) for o in out_carries]
    cond = [op.inner_condition()] if op.as_while else []
    while True:  # a kept output may read a state/carry whose own output is unused
        needed = ([o for o, k in zip(op.inner_state_outs(), keep_st) if k]
                  + [o for o, k in zip(op.inner_nit_outs(), keep_nit) if k]
                  + [o for o, k in zip(op.inner_carry_outs(), keep_ca) if k] + cond)
        used = _used_inner_inputs(op, needed)
        grown = False
        for k, taps in enumerate(taps_in):
            if not keep_st[k] and any(t in used for t in taps):
                keep_st[k] = grown = True
        for c, var in enumerate(carry_in):
            if not keep_ca[c] and var in used:
                keep_ca[c] = grown = True
        if not grown:
            break
    keep_seq = [v in used for v in op.inner_seqs()]
    keep_ns = [v in used for v in op.inner_non_seqs()]
    if all(keep_st + keep_nit + keep_ca + keep_seq + keep_ns):
        return None
    if not any(keep_st + keep_nit + keep_ca):
        return None  # nothing is read at all: the node is dead and will be dropped anyway
    seqs = [(o, i) for o, i, k in zip(o_seqs, op.inner_seqs(), keep_seq) if k]
    states = [(o, taps, ins, out) for o, taps, ins, out, k in
              zip(o_bufs, op.state_taps, taps_in, op.inner_state_outs(), keep_st) if k]
    nit = [o for o, k in zip(op.inner_nit_outs(), keep_nit) if k]
    carries = [(o, i, out) for o, i, out, k in zip(o_carries, carry_in, op.inner_carry_outs(), keep_ca) if k]
    non_seqs = [(o, i) for o, i, k in zip(o_ns, op.inner_non_seqs(), keep_ns) if k]
    new_outs = iter(_rebuild(op, seqs, states, nit, carries, non_seqs, n_steps))
    old_kept = ([o for o, k in zip(out_states, keep_st) if k] + [o for o, k in zip(out_nits, keep_nit) if k]
                + [o for o, k in zip(out_carries, keep_ca) if k])
    return {old: next(new_outs) for old in old_kept}


def _pushable(node: Apply) -> bool:
    # An op that overwrites its input must keep running on the per-step value.
    return not getattr(node.op, "destroy_map", None)


def _invariant_frontier(op: Scan) -> list[Variable]:
    """Inner variables computed from non-sequences/constants only, read by a loop-variant
    node or returned as an inner output (the values to compute before the loop)."""
    outputs = list(op.inner_outputs)
    nodes = io_toposort(op.inner_inputs, outputs)
    invariant: set[Variable] = set(op.inner_non_seqs())
    const_only: set[Variable] = set()
    pushed: set[Apply] = set()
    for node in nodes:
        ins = [i for i in node.inputs if not isinstance(i, Constant)]
        if all(i in const_only for i in ins):
            const_only.update(node.outputs)  # left for constant folding inside the loop
        elif ins and all(i in invariant or i in const_only for i in ins) and _pushable(node):
            invariant.update(node.outputs)
            pushed.add(node)
    frontier: list[Variable] = []

    def add(var: Variable) -> None:
        if var.owner in pushed and var not in frontier:
            frontier.append(var)
    for node in nodes:
        if node not in pushed:
            for inp in node.inputs:
                add(inp)
    for out in outputs:
        add(out)
    return frontier


@register("canonicalize", "scan", "scan_push_out_invariants", tracks=[Scan])
def local_scan_push_out_invariants(fgraph: FunctionGraph, node: Apply) -> Any:
    """Compute loop-invariant inner nodes once, outside the loop."""
    op: Scan = node.op
    frontier = _invariant_frontier(op)
    if not frontier:
        return None
    n_steps, o_seqs, o_bufs, o_carries, o_ns = op.split_outer_inputs(node.inputs)
    outer_exprs = clone_replace(frontier, dict(zip(op.inner_non_seqs(), o_ns)))
    placeholders = [v.type(v.name) for v in frontier]
    new_inner_outs = clone_replace(op.inner_outputs, dict(zip(frontier, placeholders)))
    a, b = op.n_states, op.n_states + op.n_nit_sot
    c = b + op.n_carry
    states = [(o, taps, ins, out) for o, taps, ins, out in
              zip(o_bufs, op.state_taps, op.inner_taps(), new_inner_outs[:a])]
    carries = list(zip(o_carries, op.inner_carries(), new_inner_outs[b:c]))
    non_seqs = list(zip(o_ns, op.inner_non_seqs())) + list(zip(outer_exprs, placeholders))
    cond = new_inner_outs[c] if op.as_while else None  # it may read the new inputs too
    return _rebuild(op, list(zip(o_seqs, op.inner_seqs())), states, new_inner_outs[a:b], carries,
                    non_seqs, n_steps, cond)


def _same_n_steps(a: Variable, b: Variable) -> bool:
    return a is b or (isinstance(a, Constant) and isinstance(b, Constant) and a.equals(b))


def _mergeable(a: Apply, b: Apply) -> bool:
    """Same loop (sequences, n_steps, properties, no stop condition), neither reading the
    other's outputs."""
    oa, ob = a.op, b.op
    if oa.as_while or ob.as_while or oa.truncate_gradient != ob.truncate_gradient or oa.mode != ob.mode:
        return False
    n_a, seqs_a = oa.split_outer_inputs(a.inputs)[:2]
    n_b, seqs_b = ob.split_outer_inputs(b.inputs)[:2]
    if not seqs_a or not _same_n_steps(n_a, n_b) or set(seqs_a) != set(seqs_b):
        return False
    anc_a, anc_b = set(ancestors(a.inputs)), set(ancestors(b.inputs))
    return not any(o in anc_a for o in b.outputs) and not any(o in anc_b for o in a.outputs)


def _fresh_inner(op: Scan, seq_map: dict) -> tuple[dict, list[Variable]]:
    """New inner inputs for ``op`` (its sequences mapped through ``seq_map``) and its inner
    outputs rewritten on them; fresh copies keep the two bodies apart even when both
    nodes share one op instance."""
    mapping = dict(seq_map)
    for v in op.inner_inputs[op.n_seqs:]:
        mapping[v] = v.type(v.name)
    return mapping, clone_replace(op.inner_outputs, mapping)


@register("canonicalize", "scan", "scan_merge", tracks=[Scan])
def local_scan_merge(fgraph: FunctionGraph, node: Apply) -> Any:
    """Run two Scans over the same sequences and number of steps as one loop.

    The partner is the first mergeable Scan node in ``fgraph.toposort()`` order.
    """
    partner = next((n for n in fgraph.toposort() if n is not node and isinstance(n.op, Scan)
                    and _mergeable(node, n)), None)
    if partner is None:
        return None
    oa, ob = node.op, partner.op
    n_steps, seqs_a, bufs_a, carries_a, ns_a = oa.split_outer_inputs(node.inputs)
    _, seqs_b, bufs_b, carries_b, ns_b = ob.split_outer_inputs(partner.inputs)
    inner_of = {}
    for outer, inner in zip(seqs_a, oa.inner_seqs()):
        inner_of.setdefault(outer, inner)
    mp, outs_b = _fresh_inner(ob, {i: inner_of[o] for o, i in zip(seqs_b, ob.inner_seqs())})
    b1, b2 = ob.n_states, ob.n_states + ob.n_nit_sot
    states = [(o, taps, ins, out) for o, taps, ins, out in
              zip(bufs_a, oa.state_taps, oa.inner_taps(), oa.inner_state_outs())]
    states += [(o, taps, [mp[v] for v in ins], out) for o, taps, ins, out in
               zip(bufs_b, ob.state_taps, ob.inner_taps(), outs_b[:b1])]
    nit = oa.inner_nit_outs() + outs_b[b1:b2]
    carries = list(zip(carries_a, oa.inner_carries(), oa.inner_carry_outs()))
    carries += [(o, mp[i], out) for o, i, out in zip(carries_b, ob.inner_carries(), outs_b[b2:])]
    non_seqs = list(zip(ns_a, oa.inner_non_seqs())) + [(o, mp[i]) for o, i in zip(ns_b, ob.inner_non_seqs())]
    new = _rebuild(oa, list(zip(seqs_a, oa.inner_seqs())), states, nit, carries, non_seqs, n_steps)
    st_a, nit_a, ca_a = oa.split_outer_outputs(node.outputs)
    st_b, nit_b, ca_b = ob.split_outer_outputs(partner.outputs)
    # The new outputs follow the layout: states, per-step outputs, carries (A's before B's).
    return dict(zip(st_a + st_b + nit_a + nit_b + ca_a + ca_b, new))


_INC_OPS = (IncSubtensor, AdvancedIncSubtensor1, AdvancedIncSubtensor)


@register("inplace", "inplace", "inplace_inc_subtensor", tracks=list(_INC_OPS))
def local_inc_subtensor_inplace(fgraph: FunctionGraph, node: Apply) -> Any:
    """Let an increment/set of a subtensor write into ``x`` when ``x`` is dead afterwards."""
    op = node.op
    if op.inplace or not can_destroy(fgraph, node.inputs[0], node):
        return None
    if isinstance(op, AdvancedIncSubtensor1):
        new_op = AdvancedIncSubtensor1(inplace=True, set_instead_of_inc=op.set_instead_of_inc)
    else:
        new_op = type(op)(op.idx_list, inplace=True, set_instead_of_inc=op.set_instead_of_inc)
    return new_op.make_node(*node.inputs).outputs


__all__ = ["local_scan_remove_unused_outputs", "local_scan_push_out_invariants",
           "local_scan_merge", "local_inc_subtensor_inplace"]
