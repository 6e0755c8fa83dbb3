"""The Python loop behind ``Scan.perform``.

The inner graph is compiled once per op; each step fills one argument list (views of
the sequences and state buffers, the carries, the non-sequences) and calls the compiled
program directly, so a step costs one program call plus a few slice assignments.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theanolite.graph.basic import Apply


def run_scan(op: Any, node: Apply, inputs: Sequence[Any]) -> list:
    """Run ``op``'s loop on the outer ``inputs``; returns the outer output values."""
    program = op.program()
    n_steps, seqs, inits, carries, non_seqs = op.split_outer_inputs(list(inputs))
    n = _check_n_steps(op, n_steps)
    _check_sequences(op, seqs, n)
    state_types = [out.type for out in node.outputs[: op.n_states]]
    bufs = [_make_buffer(op, k, init, span, n, t.dtype)
            for k, (init, span, t) in enumerate(zip(inits, op.spans, state_types))]
    nit_types = [out.type for out in node.outputs[op.n_states: op.n_states + op.n_nit_sot]]
    nits: list[np.ndarray | None] = [None] * op.n_nit_sot

    n_seqs, n_states, n_nit = op.n_seqs, op.n_states, op.n_nit_sot
    tap_reads = [(k, span + tap) for k, (taps, span) in enumerate(zip(op.state_taps, op.spans))
                 for tap in taps]
    carry_start = n_seqs + len(tap_reads)
    args: list[Any] = [None] * len(op.inner_inputs)
    args[carry_start + op.n_carry:] = non_seqs
    carries = list(carries)
    done = n
    for i in range(n):
        for j in range(n_seqs):
            args[j] = seqs[j][i]
        for pos, (k, offset) in enumerate(tap_reads, n_seqs):
            args[pos] = bufs[k][i + offset]
        args[carry_start: carry_start + op.n_carry] = carries
        outs = program(args)
        for k in range(n_states):
            _store(op, bufs[k], i + op.spans[k], outs[k], i, f"recurrent output {k}")
        for m in range(n_nit):
            value = outs[n_states + m]
            if nits[m] is None:
                shape = np.shape(value)
                nits[m] = np.empty((n,) + shape, dtype=nit_types[m].dtype)
            _store(op, nits[m], i, value, i, f"output {n_states + m}")
        start = n_states + n_nit
        carries = [_own(v) for v in outs[start: start + op.n_carry]]
        if op.as_while and np.asarray(outs[-1]).item():
            done = i + 1
            break
    results: list[Any] = []
    for k, buf in enumerate(bufs):
        results.append(buf[: op.spans[k] + done] if done < n else buf)
    for m, arr in enumerate(nits):
        if arr is None:
            # No step ran: the per-step shape is unknown, so every trailing dim is 0.
            arr = np.zeros((0,) * (nit_types[m].ndim + 1), dtype=nit_types[m].dtype)
        results.append(arr[:done] if done < n else arr)
    results.extend(carries)
    return results


def _check_n_steps(op: Any, n_steps: Any) -> int:
    n = int(np.asarray(n_steps))
    if n < 0:
        raise ValueError(f"{op}: asked to run for a negative number of steps ({n})")
    return n


def _check_sequences(op: Any, seqs: list, n: int) -> None:
    for j, seq in enumerate(seqs):
        length = seq.shape[0]
        if length < n or (length != n and not op.as_while):
            raise ValueError(f"{op}: sequence {j} has {length} rows (shape {seq.shape}) but "
                             f"scan runs for {n} steps; every sequence needs one row per step")


def _make_buffer(op: Any, k: int, init: np.ndarray, span: int, n: int, dtype: str) -> np.ndarray:
    if init.shape[0] != span:
        raise ValueError(f"{op}: the initial value of recurrent output {k} has {init.shape[0]} "
                         f"rows (shape {init.shape}) but its taps {list(op.state_taps[k])} need "
                         f"exactly {span}")
    buf = np.empty((span + n,) + init.shape[1:], dtype=dtype)
    buf[:span] = init
    return buf


def _store(op: Any, target: np.ndarray, row: int, value: Any, step: int, what: str) -> None:
    shape = np.shape(value)
    if shape != target.shape[1:]:
        raise ValueError(f"{op}: at step {step}, {what} has shape {shape}, but earlier values "
                         f"(or the initial state) have shape {target.shape[1:]}; a scan output "
                         "must keep one shape across steps")
    target[row] = value


def _own(value: Any) -> Any:
    # A carry may be a view of a buffer the inner program reuses on its next call.
    if isinstance(value, np.ndarray) and not value.flags.owndata:
        return value.copy()
    return value
