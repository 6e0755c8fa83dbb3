"""``FunctionGraph``: a graph being compiled, with its clients and change hooks.

It owns a copy of the graph between its inputs and outputs, tracks who uses each
variable (``clients``), and lets rewrites ``replace`` variables while features (shape
inference, destroy handling) listen to every change. Node order is always recomputed
deterministically from structure (``toposort``).
"""
from __future__ import annotations

from typing import Any, Sequence

from theanolite.graph.basic import Apply, Constant, Variable, clone_get_equiv, io_toposort


class MissingInputError(ValueError):
    """A graph needs a variable that is neither an input, a constant nor a shared variable."""


class InconsistencyError(Exception):
    """A feature vetoed a change (e.g. an in-place op would destroy a needed value)."""


class FunctionGraph:
    """Inputs, outputs and every Apply node between them.

    ``clients[var]`` lists ``(node, i)`` pairs using ``var`` as their i-th input; an output
    of the graph has the client ``("output", k)``.
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                 features: Sequence[Any] = (), clone: bool = True) -> None:
        if clone:
            memo = clone_get_equiv(inputs, outputs, copy_inputs=True)
            inputs = [memo[i] for i in inputs]
            outputs = [memo[o] for o in outputs]
            self.equiv = memo
        else:
            self.equiv = None
        self.inputs: list[Variable] = list(inputs)
        self.outputs: list[Variable] = list(outputs)
        # Inputs whose buffers the compiled function may overwrite (shared variables it
        # updates, In(mutable=True)); set by FunctionMaker, read by the in-place rewrites.
        self.destroyable_inputs: frozenset[Variable] = frozenset()
        self.clients: dict[Variable, list[tuple[Any, int]]] = {}
        self.apply_nodes: set[Apply] = set()
        self.variables: set[Variable] = set()
        self._features: list[Any] = []
        for inp in self.inputs:
            self._add_var(inp)
        for node in io_toposort(self.inputs, self.outputs):
            self._import_node(node)
        for k, out in enumerate(self.outputs):
            self._check_reachable(out)
            self._add_var(out)
            self.clients[out].append(("output", k))
        for feature in features:
            self.attach_feature(feature)

    # -- building ---------------------------------------------------------------------
    def _add_var(self, var: Variable) -> None:
        if var not in self.clients:
            self.clients[var] = []
            self.variables.add(var)

    def _check_reachable(self, var: Variable) -> None:
        if var.owner is None and var not in self.clients and not isinstance(var, Constant):
            if not getattr(var, "_is_shared_storage", False):
                raise MissingInputError(_missing_message(var))

    def _import_node(self, node: Apply) -> None:
        if node in self.apply_nodes:
            return
        for inp in node.inputs:
            if inp.owner is None and inp not in self.clients and not isinstance(inp, Constant):
                raise MissingInputError(_missing_message(inp))
            self._add_var(inp)
        for i, inp in enumerate(node.inputs):
            self.clients[inp].append((node, i))
        self.apply_nodes.add(node)
        for out in node.outputs:
            self._add_var(out)
        for feature in self._features:
            hook = getattr(feature, "on_import", None)
            if hook:
                hook(self, node)

    def import_var(self, var: Variable) -> None:
        for node in io_toposort(list(self.variables), [var]):
            self._import_node(node)
        self._add_var(var)

    # -- changing -----------------------------------------------------------------------
    def change_input(self, node: Any, i: int, new_var: Variable, reason: str | None = None) -> None:
        if node == "output":
            old = self.outputs[i]
            self.outputs[i] = new_var
        else:
            old = node.inputs[i]
            node.inputs[i] = new_var
        if old is new_var:
            return
        self.import_var(new_var)
        self.clients[old].remove((node, i))
        self.clients[new_var].append((node, i))
        for feature in self._features:
            hook = getattr(feature, "on_change_input", None)
            if hook:
                hook(self, node, i, old, new_var, reason)
        if not self.clients[old]:
            self._prune(old)

    def _prune(self, var: Variable) -> None:
        """Drop nodes that nothing uses any more (dead code after a replace)."""
        stack = [var]
        while stack:
            v = stack.pop()
            node = v.owner
            if node is None or node not in self.apply_nodes:
                continue
            if any(self.clients.get(o) for o in node.outputs):
                continue
            self.apply_nodes.discard(node)
            for feature in self._features:
                hook = getattr(feature, "on_prune", None)
                if hook:
                    hook(self, node)
            for o in node.outputs:
                self.clients.pop(o, None)
                self.variables.discard(o)
            for i, inp in enumerate(node.inputs):
                clients = self.clients.get(inp)
                if clients is not None and (node, i) in clients:
                    clients.remove((node, i))
                    if not clients and inp not in self.inputs:
                        stack.append(inp)

    def replace(self, var: Variable, new_var: Variable, reason: str | None = None,
                verbose: bool = False) -> None:
        """Make every client of ``var`` use ``new_var`` instead."""
        if var.type != new_var.type:
            converted = var.type.convert_variable(new_var) if hasattr(var.type, "convert_variable") else None
            if converted is None:
                raise TypeError(f"replace: {var} has type {var.type} but {new_var} has {new_var.type}")
            new_var = converted
        if verbose:
            print(f"rewriting: {reason}: {var} -> {new_var}")
        for node, i in list(self.clients.get(var, [])):
            self.change_input(node, i, new_var, reason)

    def replace_all(self, pairs: Sequence[tuple[Variable, Variable]], reason: str | None = None) -> None:
        for var, new_var in pairs:
            self.replace(var, new_var, reason)

    # -- features -------------------------------------------------------------------------
    def attach_feature(self, feature: Any) -> None:
        self._features.append(feature)
        hook = getattr(feature, "on_attach", None)
        if hook:
            hook(self)

    def remove_feature(self, feature: Any) -> None:
        self._features.remove(feature)

    # -- queries --------------------------------------------------------------------------
    def toposort(self) -> list[Apply]:
        return io_toposort(self.inputs, self.outputs)

    def get_clients(self, var: Variable) -> list[tuple[Any, int]]:
        return self.clients.get(var, [])

    def check_integrity(self) -> None:
        nodes = set(io_toposort(self.inputs, self.outputs))
        if nodes != self.apply_nodes:
            raise AssertionError("FunctionGraph: node set out of date")
        for node in nodes:
            for i, inp in enumerate(node.inputs):
                if (node, i) not in self.clients.get(inp, []):
                    raise AssertionError(f"FunctionGraph: missing client of {inp}")

    def clone(self) -> "FunctionGraph":
        return FunctionGraph(self.inputs, self.outputs, clone=True)

    def __str__(self) -> str:
        return f"FunctionGraph({', '.join(str(o) for o in self.outputs)})"


def _missing_message(var: Variable) -> str:
    name = f"'{var.name}'" if var.name else str(var)
    return (f"the graph needs input {name} (of type {var.type}) but it was not given in the "
            "function's inputs, and it is neither a constant nor a shared variable")
