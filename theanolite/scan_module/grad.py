"""Reverse mode through ``Scan``: backpropagation through time as a second Scan.

The backward loop visits the forward steps last to first. At step ``t`` it knows the
forward inner inputs (sequence rows, state taps — read back from the forward buffers —
and non-sequences) and the adjoint of each inner output: the outer gradient of that
row plus what later steps sent back through their taps. It calls the inner graph's
vector-Jacobian product and

* emits the adjoint of each sequence row (a per-step output, reversed afterwards);
* carries, per state of span ``s``, ``s`` pending adjoints for the ``s`` buffer rows below
  the current one: ``C_j' = C_{j-1} + a_{tap = j - s}`` (``C_{-1} = 0``), so that ``C_{s-1}``
  is the read-back adjoint of the row written at step ``t - 1``; after step 0 they are
  the adjoint of the initial rows;
* accumulates the adjoint of each non-sequence in a carry.

With ``truncate_gradient = k`` only the last ``k`` steps are visited: earlier sequence
rows get zero gradient and the initial state gets only its direct outer gradient.
"""
from __future__ import annotations

from typing import Any

from theanolite.graph.basic import Variable, ancestors
from theanolite.gradient import DisconnectedType, NullType, grad, grad_not_implemented
from theanolite.scan_module.utils import fit_to_type, is_float, is_tensor, is_zero_grad, placeholder_like


def scan_l_op(op: Any, inputs: list, outputs: list, output_grads: list) -> list:
    """Gradients of the Scan node's outer inputs (see the module docstring)."""
    if op.as_while:
        return _all_not_implemented(op, inputs, "gradients through a scan with an until "
                                    "condition are not supported")
    plan = _Backward(op, inputs, outputs, output_grads)
    return plan.run()


def _disconnected() -> Variable:
    return DisconnectedType()()


def _all_not_implemented(op: Any, inputs: list, why: str) -> list:
    return [grad_not_implemented(op, i, x, why) if is_float(x) else _disconnected()
            for i, x in enumerate(inputs)]


def _match(g: Variable, like: Variable) -> Variable:
    """``g`` with ``like``'s dtype and broadcast pattern (what an L_op must return)."""
    from theanolite.tensor.basic import cast, patternbroadcast
    if g.type.dtype != like.type.dtype:
        g = cast(g, like.type.dtype)
    if g.type.broadcastable != like.type.broadcastable:
        g = patternbroadcast(g, like.type.broadcastable)
    return g


def _sum(terms: list) -> Variable | None:
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


class _Backward:
    """Builds the backward Scan for one forward node."""

    def __init__(self, op: Any, inputs: list, outputs: list, output_grads: list) -> None:
        self.op, self.inputs, self.outputs = op, inputs, outputs
        self.n_steps, self.seqs, self.bufs, self.carries, self.non_seqs = op.split_outer_inputs(inputs)
        self.g_bufs, self.g_nits, self.g_carries = op.split_outer_outputs(output_grads)
        self.trunc = op.truncate_gradient
        self.diff_states = [is_float(out) for out in op.inner_state_outs()]

    # -- the inner vector-Jacobian product -------------------------------------------------
    def _adjoint_inputs(self) -> None:
        """Placeholders for the adjoints flowing into the body at one step."""
        op = self.op
        self.gout: dict[int, Variable] = {}
        self.pending: dict[int, list[Variable]] = {}
        known: dict[int, tuple[Variable, list]] = {}

        def add(var: Variable, g: Variable) -> None:
            known.setdefault(id(var), (var, []))[1].append(g)

        for k, out in enumerate(op.inner_state_outs()):
            if not self.diff_states[k]:
                continue
            proto = op.inner_taps()[k][0]
            self.pending[k] = [placeholder_like(proto, f"pending_adj_{k}_{j}") for j in range(op.spans[k])]
            add(out, self.pending[k][-1])
            if not is_zero_grad(self.g_bufs[k]):
                self.gout[k] = placeholder_like(proto, f"adj_out_{k}")
                add(out, self.gout[k])
        self.gy: dict[int, Variable] = {}
        for m, out in enumerate(op.inner_nit_outs()):
            if is_float(out) and not is_zero_grad(self.g_nits[m]):
                self.gy[m] = placeholder_like(out, f"adj_y_{m}")
                add(out, self.gy[m])
        self.known = {var: _sum(gs) for var, gs in known.values()}

    def _vjp(self) -> dict[int, Variable | None] | Variable:
        """Adjoint of each differentiable inner input (by id), or a NullType variable."""
        op = self.op
        wrt = [v for v in op.inner_seqs() if is_float(v)]
        for k, taps in enumerate(op.inner_taps()):
            if self.diff_states[k]:
                wrt.extend(taps)
        wrt.extend(v for v in op.inner_non_seqs() if is_float(v))
        if not wrt or not self.known:
            return {}
        grads = grad(None, wrt, known_grads=self.known, disconnected_inputs="ignore",
                     return_disconnected="None", null_gradients="return")
        for g in grads:
            if g is not None and isinstance(g.type, NullType):
                return g
        return {id(v): g for v, g in zip(wrt, grads)}

    # -- assembling the backward loop ----------------------------------------------------------
    def run(self) -> list:
        op = self.op
        self._adjoint_inputs()
        adj = self._vjp()
        if isinstance(adj, Variable):  # a NullType: the body has an undefined gradient
            return [adj if is_float(x) else _disconnected() for x in self.inputs]
        step_outs, carry_in, carry_init, carry_roles = [], [], [], []
        for k, pend in self.pending.items():
            taps = op.inner_taps()[k]
            span = op.spans[k]
            for j in range(span):
                terms = [pend[j - 1]] if j > 0 else []
                terms += [adj.get(id(p)) for p, tap in zip(taps, op.state_taps[k]) if tap == j - span]
                total = _sum(terms)
                if total is None:
                    from theanolite.tensor.basic import zeros_like
                    total = zeros_like(pend[j])
                step_outs.append(fit_to_type(total, pend[j], "a state adjoint"))
                carry_in.append(pend[j])
                carry_init.append(self._zeros_row(k, pend[j]))
                carry_roles.append(("state", k, j))
        for n, (var, outer) in enumerate(zip(op.inner_non_seqs(), self.non_seqs)):
            g = adj.get(id(var))
            if g is None:
                continue
            acc = placeholder_like(var, f"acc_{n}")
            step_outs.append(fit_to_type(acc + g, var, "a non-sequence gradient"))
            carry_in.append(acc)
            from theanolite.tensor.basic import zeros_like
            carry_init.append(zeros_like(outer))
            carry_roles.append(("non_seq", n, 0))
        nit_outs, nit_roles = [], []
        for j, var in enumerate(op.inner_seqs()):
            g = adj.get(id(var))
            if g is not None:
                nit_outs.append(fit_to_type(g, var, "a sequence gradient"))
                nit_roles.append(j)
        return self._finish(nit_outs, nit_roles, step_outs, carry_in, carry_init, carry_roles)

    def _zeros_row(self, k: int, like: Variable) -> Variable:
        from theanolite.tensor.basic import zeros_like
        return fit_to_type(zeros_like(self.bufs[k][0]), like, "a zero adjoint")

    def _finish(self, nit_outs: list, nit_roles: list, step_outs: list, carry_in: list,
                carry_init: list, carry_roles: list) -> list:
        op = self.op
        body_outs = nit_outs + step_outs
        seq_in, seq_outer = self._backward_sequences(body_outs)
        if seq_in is None:
            return _all_not_implemented(op, self.inputs, seq_outer)
        used = {id(v) for v in ancestors(body_outs)}
        ns_in = [v for v in op.inner_non_seqs() if id(v) in used]
        ns_outer = [o for v, o in zip(op.inner_non_seqs(), self.non_seqs) if id(v) in used]
        results: list = []
        if body_outs:
            from theanolite.scan_module.op import Scan
            back = Scan(seq_in + carry_in + ns_in, body_outs, n_seqs=len(seq_in), state_taps=[],
                        n_nit_sot=len(nit_outs), n_carry=len(carry_in), n_non_seqs=len(ns_in),
                        mode=op.mode, name=f"grad_of_{op.name}")
            results = list(back.make_node(self.n_back, *seq_outer, *carry_init, *ns_outer).outputs)
        return self._outer_grads(results[: len(nit_outs)], nit_roles,
                                 results[len(nit_outs):], carry_roles)

    @property
    def n_back(self) -> Variable:
        if self.trunc == -1:
            return self.n_steps
        from theanolite.tensor.math import minimum
        return minimum(self.n_steps, self.trunc)

    def _rev(self, x: Variable) -> Variable:
        x = x[::-1]
        return x if self.trunc == -1 else x[: self.n_back]

    def _backward_sequences(self, body_outs: list) -> tuple[Any, Any]:
        """Inner sequence inputs of the backward loop and their (reversed) outer values."""
        op = self.op
        used = {id(v) for v in ancestors(body_outs)}
        inner, outer = [], []
        for var, seq in zip(op.inner_seqs(), self.seqs):
            if id(var) in used:
                inner.append(var)
                outer.append(self._rev(seq))
        for k, taps in enumerate(op.inner_taps()):
            span, buf = op.spans[k], self.outputs[k]
            for var, tap in zip(taps, op.state_taps[k]):
                if id(var) in used:
                    start = span + tap
                    rows = buf[start: start + self.n_steps] if start else buf[: self.n_steps]
                    inner.append(var)
                    outer.append(self._rev(rows))
        recorded = self._recorded_carries(used)
        if isinstance(recorded, str):
            return None, recorded
        for var, values in recorded:
            inner.append(var)
            outer.append(self._rev(values))
        for k, ph in self.gout.items():
            if id(ph) in used:
                inner.append(ph)
                outer.append(self._rev(self.g_bufs[k][op.spans[k]:]))
        for m, ph in self.gy.items():
            if id(ph) in used:
                inner.append(ph)
                outer.append(self._rev(self.g_nits[m]))
        return inner, outer

    def _recorded_carries(self, used: set[int]) -> list | str:
        """Per-step values of the carries the backward body reads, from a forward re-run
        that also stacks them. Returns an explanation when that would be wrong."""
        op = self.op
        needed = [c for c, v in enumerate(op.inner_carries()) if id(v) in used]
        if not needed:
            return []
        from theanolite.scan_module.analysis import depends_on
        diff = [v for v in op.inner_seqs() + op.inner_non_seqs() if is_float(v)]
        diff += [p for k, taps in enumerate(op.inner_taps()) if self.diff_states[k] for p in taps]
        carry_in = op.inner_carries()
        deps = depends_on(op.inner_carry_outs(), diff + carry_in)
        tainted = [any(row[: len(diff)]) for row in deps]
        changed = True
        while changed:  # a carry fed by a tainted carry is tainted too
            changed = False
            for c, row in enumerate(deps):
                if not tainted[c] and any(row[len(diff) + d] and tainted[d] for d in range(len(carry_in))):
                    tainted[c] = changed = True
        for c in needed:
            if tainted[c] or not is_tensor(carry_in[c]):
                return ("gradients through a shared variable updated inside scan (and read by "
                        "the differentiated outputs) are not supported")
        from theanolite.scan_module.op import Scan
        extra = [carry_in[c] for c in needed]
        n_st, n_nit = op.n_states, op.n_nit_sot
        outs = (op.inner_outputs[: n_st + n_nit] + extra + op.inner_outputs[n_st + n_nit:])
        again = Scan(op.inner_inputs, outs, n_seqs=op.n_seqs, state_taps=op.state_taps,
                     n_nit_sot=n_nit + len(extra), n_carry=op.n_carry, n_non_seqs=op.n_non_seqs,
                     mode=op.mode, name=f"{op.name}_replay")
        node_outs = again.make_node(*self.inputs).outputs
        return [(carry_in[c], node_outs[n_st + n_nit + i]) for i, c in enumerate(needed)]

    # -- outer gradients -------------------------------------------------------------------------
    def _outer_grads(self, seq_grads: list, nit_roles: list, carry_finals: list, carry_roles: list) -> list:
        op = self.op
        result: list = [_disconnected()]
        by_seq = dict(zip(nit_roles, seq_grads))
        for j, seq in enumerate(self.seqs):
            g = by_seq.get(j)
            result.append(_disconnected() if g is None else _match(self._unreverse(g, seq), seq))
        finals: dict[tuple, Variable] = {(r[0], r[1], r[2]): v for r, v in zip(carry_roles, carry_finals)}
        for k, buf in enumerate(self.bufs):
            result.append(self._init_grad(k, buf, finals))
        for c, carry in enumerate(self.carries):
            g = self.g_carries[c]
            if is_float(carry) and not is_zero_grad(g):
                result.append(grad_not_implemented(op, 1 + op.n_seqs + op.n_states + c, carry,
                                                   "the final value of a shared variable updated "
                                                   "inside scan is not differentiable"))
            else:
                result.append(_disconnected())
        for n, outer in enumerate(self.non_seqs):
            g = finals.get(("non_seq", n, 0))
            result.append(_disconnected() if g is None else _match(g, outer))
        return result

    def _unreverse(self, g_rev: Variable, seq: Variable) -> Variable:
        g = g_rev[::-1]
        if self.trunc == -1:
            return g
        from theanolite.tensor.basic import zeros_like
        from theanolite.tensor.subtensor import set_subtensor
        return set_subtensor(zeros_like(seq)[self.n_steps - self.n_back:], g)

    def _init_grad(self, k: int, buf: Variable, finals: dict) -> Variable:
        op = self.op
        span = op.spans[k]
        parts = []
        if not is_zero_grad(self.g_bufs[k]):
            parts.append(self.g_bufs[k][:span])
        if self.diff_states[k]:
            rows = [finals[("state", k, j)] for j in range(span)]
            if span == 1:
                stacked = rows[0].dimshuffle("x", *range(rows[0].ndim))
            else:
                from theanolite.tensor.shape_ops import stack
                stacked = stack(rows)
            if self.trunc != -1:
                from theanolite.tensor.math import le, switch
                # The carried adjoints reach the initial rows only if no step was cut off.
                stacked = switch(le(self.n_steps, self.trunc), stacked, 0)
            parts.append(stacked)
        total = _sum(parts)
        return _disconnected() if total is None else _match(total, buf)
