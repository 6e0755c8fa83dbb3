"""``theanolite.function``: turn symbolic inputs and outputs into a callable.

Building a function: normalize inputs/outputs/updates, substitute ``givens``, collect
the shared variables the graph reads (and their default updates), check that every free
variable is provided, build a ``FunctionGraph``, rewrite it, and hand it to a linker.
Calling it: bind arguments (positional, keyword, defaults), convert each with its type's
``filter`` (errors name the input), run the program, protect returned arrays from
aliasing, and write the updates into the shared containers.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from theanolite.compile.io import In, Out
from theanolite.compile.mode import Mode, get_mode
from theanolite.compile.sharedvalue import SharedVariable
from theanolite.configparser import config
from theanolite.graph.basic import Constant, Variable, ancestors, clone_replace
from theanolite.graph.fg import FunctionGraph, MissingInputError


class UnusedInputError(ValueError):
    """An explicit input does not reach any output or update."""


def function(inputs: Sequence[Any], outputs: Any = None, mode: Any = None, updates: Any = None,
             givens: Any = None, no_default_updates: bool | Sequence[Variable] = False,
             accept_inplace: bool = False, name: str | None = None, rebuild_strict: bool = True,
             allow_input_downcast: bool | None = None, profile: Any = None,
             on_unused_input: str | None = None) -> "Function":
    """Compile a callable computing ``outputs`` from ``inputs`` (Theano's ``function``)."""
    if not isinstance(inputs, (list, tuple)):
        raise TypeError("function: inputs must be a list or tuple of variables (or In), "
                        f"got {type(inputs).__name__}")
    on_unused_input = on_unused_input or config.on_unused_input
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"function: on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused_input!r}")
    ins = [_as_in(i, k) for k, i in enumerate(inputs)]
    _check_inputs(ins)
    outs, out_kind, out_keys = _normalize_outputs(outputs)
    update_pairs = _normalize_updates(updates)
    givens_pairs = _normalize_givens(givens)

    out_vars = [o.variable for o in outs]
    upd_vars = [u for _, u in update_pairs]
    in_updates = [(i, i.update) for i in ins if i.update is not None]
    if givens_pairs:
        replaced = clone_replace(out_vars + upd_vars + [u for _, u in in_updates], givens_pairs,
                                 strict=rebuild_strict)
        out_vars = replaced[: len(out_vars)]
        upd_vars = replaced[len(out_vars): len(out_vars) + len(upd_vars)]
        in_update_vars = replaced[len(out_vars) + len(upd_vars):]
    else:
        in_update_vars = [u for _, u in in_updates]
    update_pairs = [(s, u) for (s, _), u in zip(update_pairs, upd_vars)]

    update_pairs = _add_default_updates(ins, out_vars, update_pairs, no_default_updates)
    update_pairs = [(s, _check_update(s, u)) for s, u in update_pairs]
    shared_inputs = _collect_shared(ins, out_vars + [u for _, u in update_pairs] + in_update_vars)
    _check_unused(ins, out_vars + [u for _, u in update_pairs] + in_update_vars, on_unused_input)

    graph_inputs = [i.variable for i in ins] + shared_inputs
    graph_outputs = out_vars + [u for _, u in update_pairs] + list(in_update_vars)
    maker = FunctionMaker(graph_inputs, graph_outputs, get_mode(mode), len(out_vars),
                          ins, outs, shared_inputs, update_pairs, in_updates)
    result = Function(maker, name=name, allow_input_downcast=allow_input_downcast,
                      out_kind=out_kind, out_keys=out_keys)
    # What a pickle needs to rebuild the function elsewhere: the graph, not the program.
    final_outs = [Out(v, o.borrow) for v, o in zip(out_vars, outs)]
    result._rebuild_args = (ins, final_outs if out_kind != "single" else final_outs[0], out_kind, out_keys,
                            update_pairs, maker.mode, name, allow_input_downcast)
    return result


def _rebuild_function(ins: list, outs: Any, out_kind: str, out_keys: list | None, updates: list,
                      mode: Mode, name: str | None, allow_input_downcast: bool | None) -> "Function":
    """Unpickling: compile the pickled graph again (a warm compile cache makes it cheap)."""
    if out_kind == "dict":
        outs = dict(zip(out_keys, outs))
    return function(ins, outs, mode=mode, updates=updates, name=name, no_default_updates=True,
                    allow_input_downcast=allow_input_downcast, on_unused_input="ignore")


# ----------------------------------------------------------------------------- normalizing

def _as_in(value: Any, k: int) -> In:
    if isinstance(value, In):
        return value
    if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], Variable):
        return In(value[0], value=value[1])  # Theano's (variable, default) pair
    if not isinstance(value, Variable):
        raise TypeError(f"function: input {k} is {type(value).__name__} {value!r:.40}, "
                        "expected a symbolic variable or In(...)")
    return In(value)


def _check_inputs(ins: list[In]) -> None:
    seen: dict[int, int] = {}
    for k, i in enumerate(ins):
        var = i.variable
        if isinstance(var, SharedVariable):
            raise TypeError(f"function: input {k} ({var}) is a shared variable; shared variables "
                            "are implicit inputs, use givens= to replace one")
        if isinstance(var, Constant):
            raise TypeError(f"function: input {k} ({var}) is a constant, which cannot be an input")
        if var.owner is not None:
            raise TypeError(f"function: input {k} ({var}) is computed by {var.owner.op}; inputs "
                            "must be free variables (use givens= to substitute an expression)")
        if id(var) in seen:
            raise ValueError(f"function: variable {var} is given twice as input ({seen[id(var)]} and {k})")
        seen[id(var)] = k


def _normalize_outputs(outputs: Any) -> tuple[list[Out], str, list | None]:
    if outputs is None:
        return [], "list", None
    if isinstance(outputs, dict):
        keys = list(outputs)
        return [_as_out(outputs[k], str(k)) for k in keys], "dict", keys
    if isinstance(outputs, (list, tuple)):
        return [_as_out(o, str(k)) for k, o in enumerate(outputs)], "list", None
    return [_as_out(outputs, "0")], "single", None


def _as_out(value: Any, where: str) -> Out:
    if isinstance(value, Out):
        return value
    if isinstance(value, Variable):
        return Out(value)
    from theanolite.tensor.basic import as_tensor_variable
    try:
        return Out(as_tensor_variable(value))
    except TypeError:
        raise TypeError(f"function: output {where} is {type(value).__name__}, expected a symbolic variable") from None


def _normalize_updates(updates: Any) -> list[tuple[SharedVariable, Variable]]:
    if updates is None:
        return []
    if isinstance(updates, dict):
        pairs = list(updates.items())
    else:
        pairs = list(updates)
    from theanolite.tensor.basic import as_tensor_variable
    result = []
    seen: set[int] = set()
    for k, pair in enumerate(pairs):
        try:
            var, expr = pair
        except (TypeError, ValueError):
            raise TypeError(f"function: update {k} must be a (shared variable, expression) pair, got {pair!r:.60}") from None
        if not isinstance(var, SharedVariable):
            raise TypeError(f"function: update {k} targets {var}, which is not a shared variable")
        if id(var) in seen:
            raise ValueError(f"function: shared variable {var} is updated twice")
        seen.add(id(var))
        result.append((var, expr if isinstance(expr, Variable) else as_tensor_variable(expr)))
    return result


def _normalize_givens(givens: Any) -> list[tuple[Variable, Variable]]:
    if givens is None:
        return []
    pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
    from theanolite.tensor.basic import as_tensor_variable
    result = []
    for old, new in pairs:
        if not isinstance(old, Variable):
            raise TypeError(f"function: givens key {old!r:.40} is not a symbolic variable")
        if not isinstance(new, Variable):
            new = as_tensor_variable(new)
            new = old.type.convert_variable(new) or _cast_given(old, new)
        result.append((old, new))
    return result


def _cast_given(old: Variable, new: Variable) -> Variable:
    from theanolite.tensor.basic import cast
    return cast(new, old.type.dtype)


def _check_update(shared: SharedVariable, update: Variable) -> Variable:
    if update.type == shared.type:
        return update
    converted = shared.type.convert_variable(update)
    if converted is not None:
        return converted
    raise TypeError(
        f"an update must have the same type as the shared variable it updates: {shared} is "
        f"{shared.type} but its update {update} is {update.type}; cast the update "
        f"(e.g. T.cast(expr, '{getattr(shared.type, 'dtype', '?')}')) or fix the expression")


def _add_default_updates(ins: list[In], outputs: list[Variable], pairs: list, no_default: Any) -> list:
    if no_default is True:
        return pairs
    skip = set(map(id, no_default)) if isinstance(no_default, (list, tuple)) else set()
    updated = {id(s) for s, _ in pairs}
    result = list(pairs)
    frontier = outputs + [u for _, u in pairs]
    done: set[int] = set()
    while frontier:
        added = []
        for var in ancestors(frontier):
            if (isinstance(var, SharedVariable) and var.default_update is not None
                    and id(var) not in updated and id(var) not in skip and id(var) not in done):
                done.add(id(var))
                updated.add(id(var))
                result.append((var, var.default_update))
                added.append(var.default_update)
        frontier = added
    return result


def _collect_shared(ins: list[In], outputs: list[Variable]) -> list[SharedVariable]:
    explicit = {id(i.variable) for i in ins}
    return [v for v in ancestors(outputs) if isinstance(v, SharedVariable) and id(v) not in explicit]


def _check_unused(ins: list[In], outputs: list[Variable], policy: str) -> None:
    if policy == "ignore":
        return
    used = {id(v) for v in ancestors(outputs)}
    for k, i in enumerate(ins):
        if id(i.variable) not in used:
            message = (f"function: input {k} ({i.variable}) is not used to compute any output "
                       "or update; pass on_unused_input='ignore' (or 'warn') to allow this")
            if policy == "raise":
                raise UnusedInputError(message)
            warnings.warn(message, stacklevel=3)


# ----------------------------------------------------------------------------- maker

class FunctionMaker:
    """Owns the optimized ``fgraph`` and builds the program that evaluates it."""

    def __init__(self, inputs: list[Variable], outputs: list[Variable], mode: Mode, n_returned: int,
                 ins: list[In], outs: list[Out], shared_inputs: list[SharedVariable],
                 update_pairs: list, in_updates: list) -> None:
        self.mode = mode
        self.inputs = ins
        self.outputs = outs
        self.n_returned = n_returned
        self.shared_inputs = shared_inputs
        self.update_pairs = update_pairs
        self.in_updates = in_updates
        fgraph = FunctionGraph(inputs, outputs)
        # Buffers the caller handed over: explicit In(mutable=True) inputs and shared
        # variables this function updates (their old value is dead once the update lands).
        updated = {id(s) for s, _ in update_pairs}
        mutable = [i.mutable for i in ins] + [id(s) in updated for s in shared_inputs]
        fgraph.destroyable_inputs = frozenset(v for v, m in zip(fgraph.inputs, mutable) if m)
        from theanolite.compile.pipeline import optimize_graph
        optimize_graph(fgraph, mode)
        self.fgraph = fgraph
        from theanolite.compile.linker import make_program
        self.program = make_program(fgraph, mode)


# ----------------------------------------------------------------------------- Function

class Function:
    """A compiled function: call it with numeric values for its inputs."""

    def __init__(self, maker: FunctionMaker, name: str | None, allow_input_downcast: bool | None,
                 out_kind: str, out_keys: list | None) -> None:
        self.maker = maker
        self.name = name
        self.trust_input = False
        self._out_kind = out_kind
        self._out_keys = out_keys
        ins = maker.inputs
        self._n_explicit = len(ins)
        self._types = [i.variable.type for i in ins]
        self._strict = [i.strict for i in ins]
        self._downcast = [i.allow_downcast if i.allow_downcast is not None else allow_input_downcast
                          for i in ins]
        self._defaults: list[Any] = []
        self._has_default: list[bool] = []
        for i in ins:
            has = i.value is not None or i.update is not None
            self._has_default.append(has)
            self._defaults.append(i.variable.type.filter(i.value, allow_downcast=True)
                                  if i.value is not None else None)
        self._names = {}
        for k, i in enumerate(ins):
            if i.name is not None and i.name not in self._names:
                self._names[i.name] = k
        self._containers = [s.container for s in maker.shared_inputs]
        self._update_containers = [s.container for s, _ in maker.update_pairs]
        self._in_update_index = [ins.index(i) for i, _ in maker.in_updates]
        self._borrow_out = [o.borrow for o in maker.outputs]
        self._n_out = maker.n_returned
        self._may_alias = _outputs_that_may_alias(maker.fgraph, self._n_out)
        self._plan_tight_call()

    def _plan_tight_call(self) -> None:
        """Precompute the call plan of the common case (see ``__call__``).

        A function is *tight* when a call is pure arguments -> results: no shared values
        to read, no updates to write, no returned output that may alias an input (so no
        run-time alias check). Its positional calls skip binding; each argument that is
        an ndarray of exactly the input's dtype object and ndim needs no filtering (what
        ``TensorType.filter`` would return is the array itself). Inputs whose type
        checks more than that (broadcastable dims, non-tensor types) get ``None`` as
        dtype, so their calls always go through ``filter``.
        """
        sig = []
        for t in self._types:
            dtype = getattr(t, "numpy_dtype", None)
            ndim = getattr(t, "ndim", None)
            exact = dtype is not None and isinstance(ndim, int) and not any(getattr(t, "broadcastable", ()))
            sig.append((dtype if exact else None, ndim))
        self._sig = tuple(sig)
        stateless = not (self._containers or self._update_containers or self._in_update_index)
        self._tight = stateless and not any(self._may_alias)
        program = self.maker.program
        self._run = getattr(program, "fast_call", program)
        self._single = self._out_kind == "single"
        # The C fast call does the whole tight call in C for exact arrays (and answers
        # NotImplemented for anything else): same checks as the tight path plus the
        # broadcastable dims, which ``filter`` would check.
        self._cfast = None
        fast_entry = getattr(program, "fast_entry", None)
        if self._tight and self._out_kind != "dict" and fast_entry is not None:
            masks = [_bcast_mask(t) for t in self._types]
            if all(m is not None for m in masks):
                self._cfast = fast_entry(masks, self._single)

    # -- binding ---------------------------------------------------------------------
    def _bind(self, args: tuple, kwargs: dict) -> list[Any]:
        n = self._n_explicit
        if len(args) > n:
            raise TypeError(f"{self._label()} takes {n} input(s) but {len(args)} were given")
        values = list(args) + [_MISSING] * (n - len(args))
        for key, value in kwargs.items():
            k = self._names.get(key)
            if k is None:
                raise TypeError(f"{self._label()} got an unexpected keyword argument {key!r}; "
                                f"named inputs are {sorted(self._names)}")
            if values[k] is not _MISSING:
                raise TypeError(f"{self._label()} got input {key!r} twice (by position and by name)")
            values[k] = value
        for k in range(n):
            if values[k] is _MISSING:
                if not self._has_default[k]:
                    raise TypeError(f"{self._label()} is missing required input {self._describe(k)}")
                values[k] = self._defaults[k]
                continue
            if not self.trust_input:
                values[k] = self._filter(k, values[k])
        return values

    def _filter(self, k: int, value: Any) -> Any:
        try:
            return self._types[k].filter(value, strict=self._strict[k], allow_downcast=self._downcast[k])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"bad input {self._describe(k)} to {self._label()}: {exc}") from None

    def _describe(self, k: int) -> str:
        name = self.maker.inputs[k].name
        return f"{name!r} at index {k}" if name else f"at index {k}"

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "the function"

    # -- calling ----------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function: positional and keyword arguments, defaults, filtering (errors
        name the input), outputs copied when they would alias an input, updates applied.

        The tight path (``_plan_tight_call``) is the same call with the steps it cannot
        need left out; anything else (keywords, missing arguments) takes ``_call_full``.
        """
        cfast = self._cfast
        if cfast is not None and not kwargs:
            result = cfast(*args)
            if result is not NotImplemented:
                return result
        if self._tight and not kwargs and len(args) == self._n_explicit:
            values = args
            if not self.trust_input:
                for value, (dtype, ndim) in zip(args, self._sig):
                    if type(value) is not _ndarray or value.dtype is not dtype or value.ndim != ndim:
                        values = [self._filter(k, v) for k, v in enumerate(args)]
                        break
            outputs = self._run(values)
            if self._single:
                return outputs[0]
            if self._out_kind == "dict":
                return dict(zip(self._out_keys, outputs))
            return outputs
        return self._call_full(args, kwargs)

    def _call_full(self, args: tuple, kwargs: dict) -> Any:
        if kwargs or len(args) != self._n_explicit:
            values = self._bind(args, kwargs)
        else:
            values = list(args)
            if not self.trust_input:
                for k, (value, (dtype, ndim)) in enumerate(zip(values, self._sig)):
                    if type(value) is not _ndarray or value.dtype is not dtype or value.ndim != ndim:
                        values[k] = self._filter(k, value)
        shared_values = [c.value for c in self._containers]
        results = self.maker.program(values + shared_values)
        outputs = results[: self._n_out]
        updates = results[self._n_out:]
        protected = values + shared_values
        for k, out in enumerate(outputs):
            if self._may_alias[k] and not self._borrow_out[k] and _aliases(out, protected, outputs[:k], updates):
                outputs[k] = out.copy()
        n_upd = len(self._update_containers)
        for container, value in zip(self._update_containers, updates[:n_upd]):
            if _aliases(value, values, (), ()):
                value = value.copy()
            container.value = value
        for k, value in zip(self._in_update_index, updates[n_upd:]):
            self._defaults[k] = value
        if self._out_kind == "single":
            return outputs[0]
        if self._out_kind == "dict":
            return dict(zip(self._out_keys, outputs))
        return outputs

    def __reduce__(self) -> tuple:
        return (_rebuild_function, self._rebuild_args)

    def copy(self) -> "Function":
        return Function(self.maker, self.name, None, self._out_kind, self._out_keys)

    def get_shared(self) -> list[SharedVariable]:
        return list(self.maker.shared_inputs)

    def free(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<theanolite.Function {self.name or ''} ({self._n_explicit} inputs)>"


def _outputs_that_may_alias(fgraph: FunctionGraph, n_out: int) -> list[bool]:
    """Which returned outputs can share memory with an input, a shared value, a constant
    or another result: graph inputs and constants themselves, views and in-place results,
    and variables returned more than once. Fresh results need no run-time check."""
    outs = fgraph.outputs
    flags = []
    for k in range(n_out):
        var = outs[k]
        node = var.owner
        risky = (node is None or outs.count(var) > 1
                 or bool(getattr(node.op, "view_map", {})) or bool(getattr(node.op, "destroy_map", {})))
        flags.append(risky)
    return flags


def _bcast_mask(t: Any) -> int | None:
    """Bit d set when dimension d of tensor type ``t`` must have length 1; None for a
    type the C fast call cannot check (not a tensor, or too many dimensions)."""
    bcast = getattr(t, "broadcastable", None)
    if getattr(t, "numpy_dtype", None) is None or bcast is None or len(bcast) >= 64:
        return None
    return sum(1 << d for d, b in enumerate(bcast) if b)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
_ndarray = np.ndarray


def _aliases(value: Any, *groups: Sequence[Any]) -> bool:
    if not isinstance(value, np.ndarray) or value.size == 0:
        return False
    for group in groups:
        for other in group:
            if other is value or (isinstance(other, np.ndarray) and np.may_share_memory(value, other)):
                return True
    return False


__all__ = ["function", "Function", "FunctionMaker", "UnusedInputError", "MissingInputError"]
