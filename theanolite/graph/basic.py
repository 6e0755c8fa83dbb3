"""Graph nodes: ``Variable``, ``Constant``, ``Apply`` and the walks over them.

A graph is a DAG of Apply nodes: each applies an Op to input Variables and owns its
output Variables. Every walk here returns nodes in a deterministic order that depends
only on graph structure (input order), never on ids or hashing, because the cache key
and the optimized graph must be identical in every process.
"""
from __future__ import annotations

import hashlib
import itertools
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

_auto_names = itertools.count()


class Variable:
    """A symbolic value of a given ``type``; ``owner`` is the Apply producing it, or None."""

    def __init__(self, type: Any, owner: Apply | None = None, index: int | None = None,
                 name: str | None = None) -> None:
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag: dict[str, Any] = {}
        self.auto_name = f"auto_{next(_auto_names)}"

    def clone(self) -> "Variable":
        """A new Variable of the same type and name, with no owner."""
        cp = self.__class__(self.type, None, None, self.name)
        cp.tag = dict(self.tag)
        return cp

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = self.owner.op
            if len(self.owner.outputs) == 1:
                return f"{op}.out"
            return f"{op}.{self.index}"
        return f"<{self.type}>"

    def __repr__(self) -> str:
        return str(self)

    def get_parents(self) -> list["Apply"]:
        return [self.owner] if self.owner is not None else []

    def eval(self, inputs_to_values: dict | None = None) -> Any:
        """Compile and run this variable given values for its free inputs (cached per set)."""
        from theanolite.compile.function import function
        inputs_to_values = inputs_to_values or {}
        keys = list(inputs_to_values)
        cache = self.tag.setdefault("_eval_cache", {})
        key = tuple(id(k) for k in keys)
        if key not in cache:
            cache[key] = function(keys, self, on_unused_input="ignore")
        return cache[key](*[inputs_to_values[k] for k in keys])


class Constant(Variable):
    """A Variable with a fixed value ``data`` (already filtered by its type)."""

    def __init__(self, type: Any, data: Any, name: str | None = None) -> None:
        super().__init__(type, None, None, name)
        self.data = type.filter(data)

    def signature(self) -> tuple:
        return (self.type, _data_digest(self.data))

    def equals(self, other: Any) -> bool:
        return isinstance(other, Constant) and self.signature() == other.signature()

    def clone(self) -> "Constant":
        cp = self.__class__(self.type, self.data, self.name)
        cp.tag = dict(self.tag)
        return cp

    @property
    def value(self) -> Any:
        return self.data

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        return f"{type(self).__name__}{{{_constant_repr(self.data)}}}"


def _constant_repr(data: Any) -> str:
    arr = np.asarray(data)
    if arr.size > 10:
        return f"{arr.dtype}, shape={arr.shape}, digest={_data_digest(arr)[:8]}"
    text = str(arr) if arr.ndim else repr(arr.item())
    return text.replace("\n", "")


def _data_digest(data: Any) -> str:
    arr = np.ascontiguousarray(data)
    h = hashlib.sha256()
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


class Apply:
    """One application of ``op`` to ``inputs``, producing ``outputs``."""

    def __init__(self, op: Any, inputs: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.tag: dict[str, Any] = {}
        for i, inp in enumerate(self.inputs):
            if not isinstance(inp, Variable):
                raise TypeError(f"{op}: input {i} is {type(inp).__name__}, expected a Variable")
        for i, out in enumerate(self.outputs):
            if out.owner is not None and out.owner is not self:
                raise ValueError(f"{op}: output {i} already belongs to another Apply")
            out.owner = self
            out.index = i

    def default_output(self) -> Variable:
        do = getattr(self.op, "default_output", None)
        if do is not None:
            return self.outputs[do]
        if len(self.outputs) == 1:
            return self.outputs[0]
        raise ValueError(f"{self.op} has {len(self.outputs)} outputs and no default_output")

    @property
    def out(self) -> Variable:
        return self.default_output()

    def clone(self) -> "Apply":
        """Same op and inputs, fresh outputs."""
        return Apply(self.op, self.inputs, [o.clone() for o in self.outputs])

    def clone_with_new_inputs(self, inputs: Sequence[Variable], strict: bool = True) -> "Apply":
        """Rebuild through ``make_node`` unless the input types are unchanged."""
        if all(a.type == b.type for a, b in zip(inputs, self.inputs)) and len(inputs) == len(self.inputs):
            new = self.clone()
            new.inputs = list(inputs)
            return new
        if strict:
            for i, (a, b) in enumerate(zip(inputs, self.inputs)):
                if a.type != b.type and not _compatible(a.type, b.type):
                    raise TypeError(f"{self.op}: replacing input {i} of type {b.type} with {a.type}")
        return self.op.make_node(*inputs)

    @property
    def nin(self) -> int:
        return len(self.inputs)

    @property
    def nout(self) -> int:
        return len(self.outputs)

    def __str__(self) -> str:
        return f"{self.op}({', '.join(str(i) for i in self.inputs)})"

    __repr__ = __str__


def _compatible(a: Any, b: Any) -> bool:
    check = getattr(b, "is_super", None)
    return bool(check and check(a))


# ----------------------------------------------------------------------------- walks

def io_toposort(inputs: Iterable[Variable], outputs: Sequence[Variable]) -> list[Apply]:
    """Apply nodes between ``inputs`` and ``outputs`` in a deterministic topological order.

    Depth-first from the outputs in order, visiting each node's inputs left to right, so
    the order depends on structure alone. Nodes above ``inputs`` are not included.
    """
    stop = set(map(id, inputs))
    order: list[Apply] = []
    seen: set[int] = set()
    for out in outputs:
        _visit(out, stop, seen, order)
    return order


def _visit(var: Variable, stop: set[int], seen: set[int], order: list[Apply]) -> None:
    # Iterative post-order DFS: deep graphs (long scans, chains) must not hit the recursion limit.
    if var.owner is None or id(var) in stop or id(var.owner) in seen:
        return
    stack: list[tuple[Apply, int]] = [(var.owner, 0)]
    seen.add(id(var.owner))
    while stack:
        node, i = stack[-1]
        if i < len(node.inputs):
            stack[-1] = (node, i + 1)
            inp = node.inputs[i]
            owner = inp.owner
            if owner is not None and id(inp) not in stop and id(owner) not in seen:
                seen.add(id(owner))
                stack.append((owner, 0))
        else:
            stack.pop()
            order.append(node)


def toposort(outputs: Sequence[Variable]) -> list[Apply]:
    return io_toposort([], outputs)


def ancestors(outputs: Sequence[Variable], blockers: Iterable[Variable] = ()) -> list[Variable]:
    """All variables that ``outputs`` depend on (outputs included), in deterministic order."""
    stop = set(map(id, blockers))
    result: list[Variable] = []
    seen: set[int] = set()
    stack = list(reversed(list(outputs)))
    while stack:
        var = stack.pop()
        if id(var) in seen:
            continue
        seen.add(id(var))
        result.append(var)
        if var.owner is not None and id(var) not in stop:
            stack.extend(reversed(var.owner.inputs))
    return result


def graph_inputs(outputs: Sequence[Variable], blockers: Iterable[Variable] = ()) -> list[Variable]:
    """Variables with no owner (or in ``blockers``) that ``outputs`` depend on."""
    stop = set(map(id, blockers))
    return [v for v in ancestors(outputs, blockers) if v.owner is None or id(v) in stop]


inputs = graph_inputs


def variables_between(ins: Sequence[Variable], outs: Sequence[Variable]) -> list[Variable]:
    nodes = io_toposort(ins, outs)
    result = list(ins)
    for node in nodes:
        result.extend(node.inputs)
        result.extend(node.outputs)
    seen: set[int] = set()
    return [v for v in result if not (id(v) in seen or seen.add(id(v)))]


def is_in_ancestors(node: Apply, target: Apply) -> bool:
    return any(v.owner is target for v in ancestors(node.inputs))


def clone(ins: Sequence[Variable], outs: Sequence[Variable],
          copy_inputs: bool = True) -> tuple[list[Variable], list[Variable]]:
    """Copy the graph between ``ins`` and ``outs``; returns (new inputs, new outputs)."""
    memo = clone_get_equiv(ins, outs, copy_inputs=copy_inputs)
    return [memo[i] for i in ins], [memo[o] for o in outs]


def clone_get_equiv(ins: Sequence[Variable], outs: Sequence[Variable], copy_inputs: bool = True,
                    memo: dict | None = None) -> dict:
    """Map old variables/nodes to their copies. Constants and free variables outside
    ``ins`` are kept as they are (they are shared, immutable leaves)."""
    memo = {} if memo is None else memo
    for inp in ins:
        if inp not in memo:
            memo[inp] = inp.clone() if copy_inputs else inp
    for node in io_toposort(ins, outs):
        for inp in node.inputs:
            if inp not in memo:
                memo[inp] = inp
        new_node = node.clone_with_new_inputs([memo[i] for i in node.inputs], strict=False)
        memo[node] = new_node
        for old, new in zip(node.outputs, new_node.outputs):
            memo[old] = new
    for out in outs:
        memo.setdefault(out, out)
    return memo


def clone_replace(outputs: Variable | Sequence[Variable], replace: dict | Sequence | None = None,
                  strict: bool = True, share_inputs: bool = True) -> Any:
    """Copy ``outputs``' graph with the variables in ``replace`` substituted.

    Nodes that depend on no replaced variable are shared with the original graph.
    """
    single = isinstance(outputs, Variable)
    outs = [outputs] if single else list(outputs)
    pairs = list(replace.items()) if isinstance(replace, dict) else list(replace or [])
    mapping: dict[Variable, Variable] = {}
    for old, new in pairs:
        if not isinstance(new, Variable):
            from theanolite.tensor.basic import as_tensor_variable
            new = as_tensor_variable(new)
        if strict and old.type != new.type:
            converted = old.type.convert_variable(new) if hasattr(old.type, "convert_variable") else None
            if converted is None:
                raise TypeError(f"clone_replace: cannot replace {old} of type {old.type} "
                                f"with a variable of type {new.type}")
            new = converted
        mapping[old] = new
    memo: dict = dict(mapping)
    for node in io_toposort(list(mapping), outs):
        if any(inp in memo for inp in node.inputs):
            new_inputs = [memo.get(i, i) for i in node.inputs]
            new_node = node.clone_with_new_inputs(new_inputs, strict=False)
            for old, new in zip(node.outputs, new_node.outputs):
                memo[old] = new
    result = [memo.get(o, o) for o in outs]
    return result[0] if single else result


def list_of_nodes(ins: Sequence[Variable], outs: Sequence[Variable]) -> list[Apply]:
    return io_toposort(ins, outs)


def walk_variables(outputs: Sequence[Variable]) -> Iterator[Variable]:
    yield from ancestors(outputs)
