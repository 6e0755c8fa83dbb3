"""Static analysis of a Scan's inner graph: dependencies, connection pattern, shapes."""
from __future__ import annotations

from typing import Any

from theanolite.graph.basic import Apply, Constant, Variable, ancestors, io_toposort


def depends_on(outputs: list[Variable], inputs: list[Variable]) -> list[list[bool]]:
    """``result[o][i]``: inner output ``o`` depends on inner input ``i``."""
    result = []
    for out in outputs:
        seen = {id(v) for v in ancestors([out], blockers=inputs)}
        result.append([id(i) in seen for i in inputs])
    return result


def connection_pattern(op: Any, node: Apply) -> list[list[bool]]:
    """Which outer inputs influence which outer outputs, following states through time."""
    inner_in = op.inner_inputs
    deps = depends_on(op.inner_outputs[: op.n_states + op.n_nit_sot + op.n_carry], inner_in)
    # Outer input index -> the inner inputs it feeds.
    feeds: list[list[int]] = [[]]
    pos = 0
    for _ in range(op.n_seqs):
        feeds.append([pos])
        pos += 1
    tap_groups = []
    for taps in op.state_taps:
        tap_groups.append(list(range(pos, pos + len(taps))))
        pos += len(taps)
    feeds.extend(tap_groups)
    carry_pos = list(range(pos, pos + op.n_carry))
    feeds.extend([[p] for p in carry_pos])
    feeds.extend([[p] for p in range(pos + op.n_carry, len(inner_in))])
    # Recurrent inner outputs (states and carries) feed these inner inputs back.
    loops = {k: tap_groups[k] for k in range(op.n_states)}
    loops.update({op.n_states + op.n_nit_sot + c: [carry_pos[c]] for c in range(op.n_carry)})
    n_out = len(deps)
    pattern = []
    for j, inner_idx in enumerate(feeds):
        reach = [any(deps[o][i] for i in inner_idx) for o in range(n_out)]
        changed = True
        while changed:
            changed = False
            for o_src, back in loops.items():
                if not reach[o_src]:
                    continue
                for o in range(n_out):
                    if not reach[o] and any(deps[o][i] for i in back):
                        reach[o] = changed = True
        pattern.append(reach)
    # A state buffer holds its initial rows; a carry is returned as is after zero steps.
    for k in range(op.n_states):
        pattern[1 + op.n_seqs + k][k] = True
    for c in range(op.n_carry):
        pattern[1 + op.n_seqs + op.n_states + c][op.n_states + op.n_nit_sot + c] = True
    pattern[0] = [False] * n_out
    return pattern


# ----------------------------------------------------------------------------- shapes

def infer_scan_shapes(op: Any, node: Apply, input_shapes: list) -> list:
    """Outer output shapes: ``(span + n_steps, *state)`` for states, ``(n_steps, *step)``
    for per-step outputs (inferred through the inner graph when its shapes depend only
    on outer shapes), the initial value's shape for carries."""
    from theanolite.tensor.basic import Shape_i
    n_steps = node.inputs[0]
    _, seq_shapes, buf_shapes, carry_shapes, ns_shapes = op.split_outer_inputs(input_shapes)
    known: dict[int, tuple | None] = {}
    for var, shp in zip(op.inner_seqs(), seq_shapes):
        known[id(var)] = tuple(shp[1:])
    for taps, shp in zip(op.inner_taps(), buf_shapes):
        for var in taps:
            known[id(var)] = tuple(shp[1:])
    for var, shp in zip(op.inner_carries() + op.inner_non_seqs(), list(carry_shapes) + list(ns_shapes)):
        known[id(var)] = tuple(shp) if shp is not None else None
    inner_ids = _inner_variable_ids(op)
    step_shapes = _propagate(op, known, inner_ids)

    def length(extra: int, k: int) -> Any:
        if op.as_while:
            return Shape_i(0)(node.outputs[k])
        return n_steps if extra == 0 else n_steps + extra

    result: list = []
    for k, shp in enumerate(buf_shapes):
        result.append((length(op.spans[k], k),) + tuple(shp[1:]))
    for m, out in enumerate(op.inner_nit_outs()):
        k = op.n_states + m
        shape = step_shapes.get(id(out))
        if shape is None:
            shape = tuple(Shape_i(d)(node.outputs[k]) for d in range(1, node.outputs[k].ndim))
        result.append((length(0, k),) + tuple(shape))
    for c, shp in enumerate(carry_shapes):
        result.append(tuple(shp) if shp is not None else None)
    return result


def _inner_variable_ids(op: Any) -> set[int]:
    ids = {id(v) for v in op.inner_inputs}
    for node in io_toposort(op.inner_inputs, op.inner_outputs):
        ids.update(id(o) for o in node.outputs)
    return ids


def _propagate(op: Any, known: dict[int, tuple | None], inner_ids: set[int]) -> dict[int, tuple | None]:
    """Run each inner node's ``infer_shape`` on outer shape expressions. A shape that
    needs an inner value (not only outer shapes and constants) is unknown (None)."""
    for node in io_toposort(op.inner_inputs, op.inner_outputs):
        shapes = []
        for inp in node.inputs:
            if id(inp) not in known:
                known[id(inp)] = _constant_shape(inp)
            shapes.append(known[id(inp)])
        outs: list | None = None
        if all(s is not None for s in shapes) and hasattr(node.op, "infer_shape"):
            try:
                outs = node.op.call_infer_shape(None, node, shapes)
            except Exception:  # noqa: BLE001 - any failure means "unknown"
                outs = None
        for k, out in enumerate(node.outputs):
            shape = outs[k] if outs is not None and k < len(outs) else None
            known[id(out)] = shape if shape is not None and _is_outer(shape, inner_ids) else None
    return known


def _constant_shape(var: Variable) -> tuple | None:
    if isinstance(var, Constant) and hasattr(var.data, "shape"):
        return tuple(int(d) for d in var.data.shape)
    return None


def _is_outer(shape: Any, inner_ids: set[int]) -> bool:
    if not isinstance(shape, (tuple, list)):
        return False
    exprs = [d for d in shape if isinstance(d, Variable)]
    return not any(id(v) in inner_ids for v in ancestors(exprs))
