"""``Composite``: a small graph of scalar ops evaluated as one elementwise op.

Fusion turns a cluster of ``Elemwise`` nodes into one ``Elemwise(Composite(...))`` so one
loop evaluates the whole expression. A Composite holds its scalar graph as a straight-line
program (inner nodes in topological order); several outputs are allowed.

Semantics (what ``impl`` computes and what the C emitter must reproduce exactly): each
inner node casts its inputs to the op's ``compute_dtype`` (``Switch`` takes them as they
are), applies the op, and casts the result to the node's output dtype, exactly as
``Elemwise.perform`` does for a single scalar op.

Identity: ``canonical`` is a string that spells the whole program (input dtypes, every
inner op with its props, constants bit-exactly, output references) with no variable
names. ``__props__ = ("canonical",)`` so equality, hashing and cache keys follow it.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theanolite.graph.basic import Apply, Constant, Variable, clone, io_toposort
from theanolite.scalar.basic import ScalarOp, ScalarType, ScalarVariable, Switch

__all__ = ["Composite", "canonical_op", "canonical_constant", "apply_scalar_op"]

# A reference to a value inside the program: ("i", k) the k-th Composite input,
# ("n", j, o) output o of inner node j, ("c", dtype, value) a constant.
Ref = tuple


class Composite(ScalarOp):
    """A scalar graph from ``inputs`` (ScalarVariables without owner) to ``outputs``.

    ``inputs``/``outputs`` are cloned, so later changes to the caller's graph do not
    reach the op. Raises TypeError when a node is not a ScalarOp or an output depends
    on a variable that is neither an input nor a constant.
    """

    __props__ = ("canonical",)

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                 name: str | None = None) -> None:
        for k, inp in enumerate(inputs):
            if not isinstance(inp.type, ScalarType) or inp.owner is not None:
                raise TypeError(f"Composite: input {k} ({inp}) must be a free scalar variable")
        if not outputs:
            raise TypeError("Composite: needs at least one output")
        self.inputs, self.outputs = clone(list(inputs), list(outputs))
        self.nin = len(self.inputs)
        self.nout = len(self.outputs)
        self.in_dtypes = tuple(v.type.dtype for v in self.inputs)
        self.out_dtypes = tuple(v.type.dtype for v in self.outputs)
        self.nodes, self.out_refs = _linearize(self.inputs, self.outputs)
        self.canonical = _canonical(self.in_dtypes, self.nodes, self.out_refs)
        self.name = name or f"composite{{{self._expression()}}}"

    # -- dtypes ----------------------------------------------------------------------
    def output_dtypes(self, *dtypes: str) -> list[str]:
        """The output dtypes; the inputs must have exactly the declared dtypes."""
        if tuple(dtypes) != self.in_dtypes:
            raise TypeError(f"{self}: expects inputs of dtypes {list(self.in_dtypes)}, "
                            f"got {list(dtypes)}")
        return list(self.out_dtypes)

    def output_dtype(self, *dtypes: str) -> str:
        out = self.output_dtypes(*dtypes)
        if len(out) != 1:
            raise TypeError(f"{self} has {len(out)} outputs; use output_dtypes")
        return out[0]

    def compute_dtype(self, *dtypes: str) -> str:
        raise TypeError(f"{self}: a Composite casts per inner node; it has no single compute dtype")

    def make_node(self, *inputs: Any) -> Apply:
        from theanolite.scalar.basic import as_scalar
        ins = [as_scalar(i) for i in inputs]
        if len(ins) != self.nin:
            raise TypeError(f"{self} takes {self.nin} inputs, got {len(ins)}")
        dtypes = self.output_dtypes(*[i.type.dtype for i in ins])
        return Apply(self, ins, [ScalarVariable(ScalarType(d)) for d in dtypes])

    # -- evaluation ------------------------------------------------------------------
    def impl(self, *args: np.ndarray) -> Any:
        """Evaluate the program on numpy arrays (already of the input dtypes).

        Returns one array for a single output, else a tuple. Results broadcast among
        themselves but are not broadcast to a common shape (see ``perform_elemwise``).
        """
        values = self._run(args)
        return values[0] if self.nout == 1 else tuple(values)

    def _run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        node_values: list[list[np.ndarray]] = []

        def get(ref: Ref) -> np.ndarray:
            if ref[0] == "i":
                return args[ref[1]]
            if ref[0] == "n":
                return node_values[ref[1]][ref[2]]
            return np.asarray(ref[2], dtype=ref[1])

        with np.errstate(all="ignore"):
            for op, in_refs, in_dtypes, out_dtypes in self.nodes:
                node_values.append(apply_scalar_op(op, [get(r) for r in in_refs],
                                                   in_dtypes, out_dtypes))
        return [get(r) for r in self.out_refs]

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        results = self._run([np.asarray(a, dtype=d) for a, d in zip(inputs, self.in_dtypes)])
        for cell, value, dtype in zip(output_storage, results, self.out_dtypes):
            cell[0] = np.asarray(value, dtype=dtype)[()]

    def perform_elemwise(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        """``Elemwise.perform`` for a Composite: every output gets the full broadcast
        shape, a fresh buffer (never a view of an input) and its exact dtype."""
        shape = _broadcast_shape(node, inputs)
        results = self._run([a if a.dtype == d else a.astype(d)
                             for a, d in zip(inputs, self.in_dtypes)])
        for k, (value, var) in enumerate(zip(results, node.outputs)):
            out = np.empty(shape, dtype=var.type.dtype)
            out[...] = np.asarray(value).astype(var.type.dtype, copy=False)
            output_storage[k][0] = out

    def tensor_grad(self, inputs, outputs, output_grads):
        from theanolite.gradient import grad_not_implemented
        # Fusion runs after differentiation; a Composite never needs a gradient.
        return [grad_not_implemented(self, i, x) for i, x in enumerate(inputs)]

    # -- C ---------------------------------------------------------------------------
    def c_code_version(self) -> tuple:
        from theanolite.ccodegen.scalar_c import SCALAR_C_VERSION
        return (1, SCALAR_C_VERSION)

    def c_body(self, in_names: Sequence[str], out_names: Sequence[str]) -> list[str] | None:
        """C statements computing ``out_names`` (declared by the caller, of the output
        C types) from ``in_names`` (values of the input C types); None if some inner
        op has no C for its dtypes. Delegates to ``theanolite.ccodegen.scalar_c``."""
        from theanolite.ccodegen.scalar_c import scalar_c_lines
        return scalar_c_lines(self, list(zip(in_names, self.in_dtypes)),
                              list(zip(out_names, self.out_dtypes)))

    # -- printing --------------------------------------------------------------------
    def _expression(self) -> str:
        exprs: list[list[str]] = []

        def text(ref: Ref) -> str:
            if ref[0] == "i":
                return f"i{ref[1]}"
            if ref[0] == "n":
                return exprs[ref[1]][ref[2]]
            return repr(np.asarray(ref[2]).item())

        for op, in_refs, _, out_dtypes in self.nodes:
            call = f"{op}({', '.join(text(r) for r in in_refs)})"
            exprs.append([call] if len(out_dtypes) == 1 else [f"{call}[{o}]" for o in range(len(out_dtypes))])
        return ", ".join(text(r) for r in self.out_refs)

    def __str__(self) -> str:
        return self.name


def apply_scalar_op(op: ScalarOp, args: Sequence[np.ndarray], in_dtypes: Sequence[str],
                    out_dtypes: Sequence[str]) -> list[np.ndarray]:
    """One inner node, with ``Elemwise.perform``'s casts: inputs to the compute dtype
    (Switch and Composite take them as they are), results to the output dtypes."""
    if isinstance(op, Composite):
        results = op._run([np.asarray(a, dtype=d) for a, d in zip(args, in_dtypes)])
    else:
        if isinstance(op, Switch):
            cast_args = list(args)
        else:
            compute = op.compute_dtype(*in_dtypes)
            cast_args = [a if a.dtype == compute else a.astype(compute) for a in args]
        result = op.impl(*cast_args)
        results = list(result) if op.nout > 1 else [result]
    return [np.asarray(r).astype(d, copy=False) for r, d in zip(results, out_dtypes)]


def _broadcast_shape(node: Apply, inputs: Sequence[np.ndarray]) -> tuple[int, ...]:
    shape = []
    for d in range(node.outputs[0].ndim):
        size = 1
        for var, value in zip(node.inputs, inputs):
            if not var.broadcastable[d]:
                size = value.shape[d]
                break
        shape.append(size)
    return tuple(shape)


def _linearize(inputs: list[Variable], outputs: list[Variable]) -> tuple[list[tuple], list[Ref]]:
    """The inner nodes as (op, input refs, input dtypes, output dtypes), and output refs."""
    where: dict[Variable, Ref] = {v: ("i", k) for k, v in enumerate(inputs)}
    nodes: list[tuple] = []

    def ref(var: Variable) -> Ref:
        if var in where:
            return where[var]
        if isinstance(var, Constant):
            value = np.asarray(var.data)
            if value.ndim != 0:
                raise TypeError(f"Composite: constant {var} is not a scalar")
            return ("c", str(value.dtype), value.item())
        raise TypeError(f"Composite: {var} is neither an input nor a constant nor computed "
                        "from them")

    for node in io_toposort(inputs, outputs):
        if not isinstance(node.op, ScalarOp):
            raise TypeError(f"Composite: {node.op} is not a scalar op")
        in_refs = [ref(v) for v in node.inputs]
        j = len(nodes)
        nodes.append((node.op, in_refs, tuple(v.type.dtype for v in node.inputs),
                      tuple(v.type.dtype for v in node.outputs)))
        for o, out in enumerate(node.outputs):
            where[out] = ("n", j, o)
    return nodes, [ref(v) for v in outputs]


# ----------------------------------------------------------------------------- canonical form

def canonical_constant(dtype: str, value: Any) -> str:
    """A constant spelled bit-exactly: floats by ``float.hex`` (so -0.0, NaN, Inf differ)."""
    if np.dtype(dtype).kind == "f":
        return f"{dtype}:{float(value).hex()}"
    if np.dtype(dtype).kind == "c":
        c = complex(value)
        return f"{dtype}:{c.real.hex()},{c.imag.hex()}"
    return f"{dtype}:{int(value)}"


def canonical_op(op: Any) -> str:
    """``module.Class{prop=value,...}`` with props spelled canonically (ops recursively)."""
    if isinstance(op, Composite):
        return f"Composite[{op.canonical}]"
    cls = type(op)
    props = ",".join(f"{p}={_canonical_value(getattr(op, p))}" for p in getattr(op, "__props__", ()))
    return f"{cls.__module__}.{cls.__qualname__}{{{props}}}"


def _canonical_value(value: Any) -> str:
    if isinstance(value, ScalarOp) or hasattr(value, "__props__"):
        return canonical_op(value)
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_canonical_value(v) for v in value) + ")"
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, (bool, int, str, type(None))):
        return repr(value)
    if isinstance(value, np.dtype):
        return repr(str(value))
    raise TypeError(f"no canonical form for a prop of type {type(value).__name__}")


def _canonical(in_dtypes: tuple, nodes: list[tuple], out_refs: list[Ref]) -> str:
    def spell(ref: Ref) -> str:
        if ref[0] == "i":
            return f"i{ref[1]}"
        if ref[0] == "n":
            return f"n{ref[1]}.{ref[2]}"
        return "c" + canonical_constant(ref[1], ref[2])

    parts = ["in(" + ",".join(in_dtypes) + ")"]
    for j, (op, in_refs, _, out_dtypes) in enumerate(nodes):
        parts.append(f"n{j}={canonical_op(op)}({','.join(spell(r) for r in in_refs)})"
                     f"->({','.join(out_dtypes)})")
    parts.append("out(" + ",".join(spell(r) for r in out_refs) + ")")
    return ";".join(parts)
