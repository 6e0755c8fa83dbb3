"""The ``Scan`` op: a loop whose body is a graph (the inner graph).

Layout (every list in this order; see ``Scan.__init__``):

* inner inputs:  sequence slices | state taps (per state, its taps) | carries | non-sequences
* inner outputs: new states | per-step (nit-sot) outputs | new carries | [stop condition]
* outer inputs:  n_steps | sequences | state buffers | carry initial values | non-sequences
* outer outputs: state buffers | stacked per-step outputs | final carries

A *state* ``k`` with taps ``T_k`` (negative ints) and span ``s_k = -min(T_k)`` lives in a
buffer of ``s_k + n_steps`` rows: the outer input gives the first ``s_k`` (exactly that
many), step ``t`` reads row ``t + s_k + tap`` for each tap and writes row ``t + s_k``. The
outer output is the whole buffer (initial rows included). A *carry* is a state whose
history is not kept (shared-variable updates, gradient accumulators): its outer output
is its value after the last step. Every sequence has exactly ``n_steps`` rows (at least,
with a stop condition). The step at index ``t`` reads row ``t`` of every sequence.
"""
from __future__ import annotations

from typing import Any, Sequence

from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op
from theanolite.scan_module.utils import graph_signature, is_tensor


class Scan(Op):
    """Run the inner graph ``n_steps`` times (see the module docstring for the layout)."""

    __props__ = ("n_seqs", "state_taps", "n_nit_sot", "n_carry", "n_non_seqs", "as_while",
                 "truncate_gradient", "signature")

    def __init__(self, inner_inputs: Sequence[Variable], inner_outputs: Sequence[Variable],
                 n_seqs: int, state_taps: Sequence[Sequence[int]], n_nit_sot: int, n_carry: int,
                 n_non_seqs: int, as_while: bool = False, truncate_gradient: int = -1,
                 mode: Any = None, name: str | None = None) -> None:
        self.inner_inputs = list(inner_inputs)
        self.inner_outputs = list(inner_outputs)
        self.n_seqs = int(n_seqs)
        self.state_taps = tuple(tuple(int(t) for t in taps) for taps in state_taps)
        self.n_states = len(self.state_taps)
        self.spans = tuple(-min(taps) for taps in self.state_taps)
        self.n_nit_sot = int(n_nit_sot)
        self.n_carry = int(n_carry)
        self.n_non_seqs = int(n_non_seqs)
        self.as_while = bool(as_while)
        self.truncate_gradient = int(truncate_gradient)
        self.mode = mode
        self.name = name or "scan_fn"
        self._check_layout()
        self.signature = graph_signature(self.inner_inputs, self.inner_outputs)
        self._program = None

    def _check_layout(self) -> None:
        for taps in self.state_taps:
            if not taps or any(t >= 0 for t in taps):
                raise ValueError(f"Scan: state taps must be non-empty and negative, got {taps}")
        n_taps = sum(len(t) for t in self.state_taps)
        want_in = self.n_seqs + n_taps + self.n_carry + self.n_non_seqs
        want_out = self.n_states + self.n_nit_sot + self.n_carry + int(self.as_while)
        if len(self.inner_inputs) != want_in or len(self.inner_outputs) != want_out:
            raise ValueError(f"Scan: the layout needs {want_in} inner inputs and {want_out} inner "
                             f"outputs, got {len(self.inner_inputs)} and {len(self.inner_outputs)}")

    def __str__(self) -> str:
        return f"Scan{{{self.name}}}"

    # -- layout views --------------------------------------------------------------------
    def inner_seqs(self) -> list[Variable]:
        return self.inner_inputs[: self.n_seqs]

    def inner_taps(self) -> list[list[Variable]]:
        """For each state, the inner inputs of its taps (in the order of ``state_taps``)."""
        result, pos = [], self.n_seqs
        for taps in self.state_taps:
            result.append(self.inner_inputs[pos: pos + len(taps)])
            pos += len(taps)
        return result

    def inner_carries(self) -> list[Variable]:
        start = len(self.inner_inputs) - self.n_non_seqs - self.n_carry
        return self.inner_inputs[start: start + self.n_carry]

    def inner_non_seqs(self) -> list[Variable]:
        return self.inner_inputs[len(self.inner_inputs) - self.n_non_seqs:]

    def inner_state_outs(self) -> list[Variable]:
        return self.inner_outputs[: self.n_states]

    def inner_nit_outs(self) -> list[Variable]:
        return self.inner_outputs[self.n_states: self.n_states + self.n_nit_sot]

    def inner_carry_outs(self) -> list[Variable]:
        start = self.n_states + self.n_nit_sot
        return self.inner_outputs[start: start + self.n_carry]

    def inner_condition(self) -> Variable | None:
        return self.inner_outputs[-1] if self.as_while else None

    def split_outer_inputs(self, inputs: Sequence[Any]) -> tuple[Any, list, list, list, list]:
        """(n_steps, sequences, state buffers, carries, non-sequences)."""
        a = 1 + self.n_seqs
        b = a + self.n_states
        c = b + self.n_carry
        return inputs[0], list(inputs[1:a]), list(inputs[a:b]), list(inputs[b:c]), list(inputs[c:])

    def split_outer_outputs(self, outputs: Sequence[Any]) -> tuple[list, list, list]:
        """(state buffers, stacked per-step outputs, final carries)."""
        a = self.n_states
        b = a + self.n_nit_sot
        return list(outputs[:a]), list(outputs[a:b]), list(outputs[b:])

    # -- graph building ---------------------------------------------------------------------
    def make_node(self, *inputs: Any) -> Apply:
        from theanolite.tensor.basic import as_tensor_variable, cast
        from theanolite.tensor.type import TensorType
        want = 1 + self.n_seqs + self.n_states + self.n_carry + self.n_non_seqs
        if len(inputs) != want:
            raise TypeError(f"{self}: expected {want} inputs, got {len(inputs)}")
        n_steps = as_tensor_variable(inputs[0])
        if n_steps.ndim != 0 or n_steps.dtype not in ("int8", "int16", "int32", "int64", "uint8",
                                                        "uint16", "uint32"):
            raise TypeError(f"{self}: n_steps must be an integer scalar, got {n_steps.type}")
        if n_steps.dtype != "int64":
            n_steps = cast(n_steps, "int64")
        n_steps_, seqs, bufs, carries, non_seqs = self.split_outer_inputs(list(inputs))
        seqs = [self._check_outer(as_tensor_variable(s), p, True, f"sequence {j}")
                for j, (s, p) in enumerate(zip(seqs, self.inner_seqs()))]
        bufs = [self._check_outer(as_tensor_variable(b), taps[0], True, f"initial state {k}")
                for k, (b, taps) in enumerate(zip(bufs, self.inner_taps()))]
        carries = [self._check_outer(c, p, False, f"carry {k}")
                   for k, (c, p) in enumerate(zip(carries, self.inner_carries()))]
        non_seqs = [self._check_outer(v, p, False, f"non-sequence {k}")
                    for k, (v, p) in enumerate(zip(non_seqs, self.inner_non_seqs()))]
        outputs: list[Variable] = []
        for out in self.inner_state_outs() + self.inner_nit_outs():
            outputs.append(TensorType(out.type.dtype, (False,) + tuple(out.type.broadcastable))())
        for carry in self.inner_carries():
            outputs.append(carry.type())
        return Apply(self, [n_steps] + seqs + bufs + carries + non_seqs, outputs)

    def _check_outer(self, outer: Any, inner: Variable, stacked: bool, what: str) -> Variable:
        from theanolite.tensor.basic import as_tensor_variable
        if not isinstance(outer, Variable):
            outer = as_tensor_variable(outer)
        if not stacked:
            if outer.type != inner.type:
                converted = inner.type.convert_variable(outer) if hasattr(inner.type, "convert_variable") else None
                if converted is None:
                    raise TypeError(f"{self}: {what} has type {outer.type}, expected {inner.type}")
                return converted
            return outer
        if not is_tensor(outer) or outer.ndim != inner.type.ndim + 1 or outer.dtype != inner.type.dtype:
            raise TypeError(f"{self}: {what} has type {outer.type}; expected a {inner.type.dtype} "
                            f"tensor with {inner.type.ndim + 1} dimensions (one row per step)")
        return outer

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        from theanolite.scan_module.analysis import connection_pattern
        return connection_pattern(self, node)

    # -- shapes ---------------------------------------------------------------------------
    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        from theanolite.scan_module.analysis import infer_scan_shapes
        return infer_scan_shapes(self, node, input_shapes)

    # -- evaluation -------------------------------------------------------------------------
    def program(self) -> Any:
        """The compiled inner graph (``values -> results``), built once per op."""
        if self._program is None:
            from theanolite.compile.function import function
            fn = function(self.inner_inputs, self.inner_outputs, mode=self.mode,
                          on_unused_input="ignore", name=self.name)
            self._inner_function = fn
            self._program = fn.maker.program
        return self._program

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        from theanolite.scan_module.loop import run_scan
        results = run_scan(self, node, inputs)
        for cell, value in zip(output_storage, results):
            cell[0] = value

    # -- derivatives ----------------------------------------------------------------------------
    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list[Variable]:
        from theanolite.scan_module.grad import scan_l_op
        return scan_l_op(self, list(inputs), list(outputs), list(output_grads))

    def R_op(self, inputs: Sequence[Variable], eval_points: Sequence[Variable | None]) -> list:
        from theanolite.scan_module.rop import scan_r_op
        return scan_r_op(self, list(inputs), list(eval_points))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_program"] = None
        state.pop("_inner_function", None)
        return state


def scan_node_outputs(op: Scan, outer_inputs: list) -> list[Variable]:
    """Apply ``op`` and return all its outputs as a list (even a single one)."""
    return list(op.make_node(*outer_inputs).outputs)


__all__ = ["Scan", "scan_node_outputs"]
