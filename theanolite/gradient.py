"""Symbolic differentiation: ``grad`` (reverse mode), ``Rop``/``Lop``, ``jacobian``,
``hessian`` and the numeric check ``verify_grad``.

``grad`` is the one primitive: it walks the graph from the cost back to ``wrt`` and asks
each Op for its ``L_op``. ``Lop`` is ``grad`` with known output gradients; ``Rop`` asks
each Op for its ``R_op`` and falls back to the double-``L_op`` trick for ops without one;
``jacobian`` and ``hessian`` are loops of ``grad`` over ``scan``.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np

from theanolite.configparser import config
from theanolite.graph.basic import Apply, Constant, Variable, io_toposort, clone_replace
from theanolite.graph.op import Op, Type


# ----------------------------------------------------------------------------- special types

class DisconnectedType(Type):
    """The 'gradient' of something that does not depend on the input at all."""

    def filter(self, value, strict=False, allow_downcast=None):
        raise AssertionError("a DisconnectedType variable has no value")

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(DisconnectedType)

    def __str__(self):
        return "DisconnectedType"


class NullType(Type):
    """A gradient that is undefined or not implemented; ``why`` says which and why."""

    def __init__(self, why: str = "") -> None:
        self.why = why

    def filter(self, value, strict=False, allow_downcast=None):
        raise ValueError(f"a NullType variable has no value: {self.why}")

    def __eq__(self, other):
        return type(self) is type(other) and self.why == other.why

    def __hash__(self):
        return hash((NullType, self.why))

    def __str__(self):
        return "NullType"


class DisconnectedInputError(ValueError):
    """``wrt`` is not part of the computational graph of ``cost``."""


class NullTypeGradError(TypeError):
    """A gradient on the path is undefined or not implemented."""


class GradientError(ValueError):
    """``verify_grad`` found symbolic and numeric gradients that disagree."""

    def __init__(self, arg: int, err_pos: Any, shape: tuple, val1: float, val2: float,
                 abs_err: float, rel_err: float, abs_tol: float, rel_tol: float) -> None:
        self.arg, self.err_pos, self.shape = arg, err_pos, shape
        self.val1, self.val2, self.abs_err, self.rel_err = val1, val2, abs_err, rel_err
        self.abs_tol, self.rel_tol = abs_tol, rel_tol
        super().__init__(
            f"gradient of input {arg} (shape {shape}) is wrong at index {err_pos}: "
            f"symbolic {val1!r} vs numeric {val2!r} (abs err {abs_err:.3g} > {abs_tol:.3g} "
            f"and rel err {rel_err:.3g} > {rel_tol:.3g})")


def _is_null(v: Any) -> bool:
    return isinstance(getattr(v, "type", None), NullType)


def _is_disconnected(v: Any) -> bool:
    return v is None or isinstance(getattr(v, "type", None), DisconnectedType)


def grad_not_implemented(op: Any, x_pos: int, x: Variable, comment: str = "") -> Variable:
    """The gradient of ``op`` w.r.t. input ``x_pos`` has not been implemented."""
    why = f"the gradient of {op} with respect to input {x_pos} is not implemented. {comment}".strip()
    return NullType(why)()


def grad_undefined(op: Any, x_pos: int, x: Variable, comment: str = "") -> Variable:
    """The gradient of ``op`` w.r.t. input ``x_pos`` is mathematically undefined."""
    why = f"the gradient of {op} with respect to input {x_pos} is undefined. {comment}".strip()
    return NullType(why)()


# ----------------------------------------------------------------------------- grad

def _float_ones_like(x: Variable) -> Variable:
    from theanolite.tensor.basic import ones_like
    dtype = x.dtype if x.dtype.startswith("float") else config.floatX
    return ones_like(x, dtype=dtype)


def _zeros_for(x: Variable) -> Variable:
    from theanolite.tensor.basic import zeros_like
    dtype = x.dtype if x.dtype.startswith("float") else config.floatX
    return zeros_like(x, dtype=dtype)


def grad(cost: Variable | None, wrt: Variable | Sequence[Variable],
         consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise", add_names: bool = True,
         known_grads: dict | None = None, return_disconnected: str = "zero",
         null_gradients: str = "raise") -> Any:
    """Symbolic gradient of the scalar ``cost`` with respect to ``wrt``.

    ``wrt`` may be one variable (one gradient returned) or a list (a list returned, in
    the same order). ``known_grads`` maps variables to gradients already known (then
    ``cost`` may be None). ``consider_constant`` variables are treated as constants.
    """
    from theanolite.tensor.basic import as_tensor_variable
    for name, value, allowed in (("disconnected_inputs", disconnected_inputs, ("raise", "warn", "ignore")),
                                 ("return_disconnected", return_disconnected, ("zero", "None", "Disconnected")),
                                 ("null_gradients", null_gradients, ("raise", "return"))):
        if value not in allowed:
            raise ValueError(f"grad: {name} must be one of {allowed}, got {value!r}")
    if cost is None and not known_grads:
        raise AssertionError("grad: cost is None and no known_grads were given")
    if cost is not None:
        if not isinstance(cost, Variable):
            raise TypeError(f"grad: cost must be a symbolic variable, got {type(cost).__name__}")
        if getattr(cost.type, "ndim", 0) != 0:
            raise TypeError(f"grad: cost must be a scalar (0-d), got a {cost.type.ndim}-d tensor "
                            f"{cost}; sum or index it first, or use jacobian/Lop")
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    for i, w in enumerate(wrt_list):
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt[{i}] must be a symbolic variable, got {type(w).__name__}")

    start: dict[Variable, Variable] = {}
    if known_grads:
        for var, g in known_grads.items():
            g = as_tensor_variable(g) if not isinstance(g, Variable) else g
            if getattr(var.type, "ndim", None) is not None and getattr(g.type, "ndim", None) != var.type.ndim \
                    and not _is_disconnected(g) and not _is_null(g):
                raise ValueError(f"grad: known gradient of {var} has {g.type.ndim} dims, expected {var.type.ndim}")
            start[var] = g
    if cost is not None and cost not in start:
        start[cost] = _float_ones_like(cost)

    grads = _backprop(list(start), start, wrt_list, consider_constant or [])

    results = []
    for w in wrt_list:
        g = grads.get(w)
        if g is None or _is_disconnected(g):
            message = (f"grad: the cost does not depend on {w} (wrt {wrt_list.index(w)}): it is not "
                       "part of the computational graph of the cost, or only through non-"
                       "differentiable ops")
            if disconnected_inputs == "raise":
                raise DisconnectedInputError(message)
            if disconnected_inputs == "warn":
                warnings.warn(message, stacklevel=2)
            if return_disconnected == "zero":
                g = _zeros_for(w)
            elif return_disconnected == "None":
                g = None
            else:
                g = DisconnectedType()()
        elif _is_null(g) and null_gradients == "raise":
            raise NullTypeGradError(f"grad: the gradient with respect to {w} cannot be computed: {g.type.why}")
        elif add_names and cost is not None and cost.name and w.name and g.name is None:
            g.name = f"(d{cost.name}/d{w.name})"
        results.append(g)
    return results[0] if single else results


def _backprop(sources: list[Variable], start: dict[Variable, Variable], wrt: list[Variable],
              consider_constant: Sequence[Variable]) -> dict[Variable, Variable]:
    """Accumulate gradients from ``sources`` down to ``wrt``; returns var -> gradient."""
    blockers = set(map(id, consider_constant))
    wrt_ids = set(map(id, wrt))
    nodes = io_toposort(wrt, sources)
    # Keep only nodes through which some wrt reaches a source.
    leads: set[int] = set(wrt_ids)
    useful: list[Apply] = []
    for node in nodes:
        connected = [id(i) in leads and id(i) not in blockers for i in node.inputs]
        if any(connected):
            useful.append(node)
            leads.update(id(o) for o in node.outputs)

    terms: dict[Variable, list[Variable]] = {v: [g] for v, g in start.items()}
    for node in reversed(useful):
        out_grads = _output_grads(node, terms)
        if out_grads is None:
            continue
        input_grads = _call_l_op(node, out_grads)
        for i, (inp, g) in enumerate(zip(node.inputs, input_grads)):
            if id(inp) not in leads or id(inp) in blockers or _is_disconnected(g):
                continue
            terms.setdefault(inp, []).append(g)
    return {w: _sum_terms(terms[w]) for w in wrt if w in terms}


def _sum_terms(gs: list[Variable]) -> Variable:
    nulls = [g for g in gs if _is_null(g)]
    if nulls:
        return nulls[0]
    live = [g for g in gs if not _is_disconnected(g)]
    if not live:
        return DisconnectedType()()
    if len(live) == 1:
        return live[0]
    from theanolite.tensor.math import add
    return add(*live)


def _output_grads(node: Apply, terms: dict[Variable, list[Variable]]) -> list[Variable] | None:
    grads = []
    any_live = False
    for out in node.outputs:
        if out in terms:
            g = _sum_terms(terms[out])
            if _is_null(g):
                grads.append(g)
                any_live = True
                continue
            if not _is_disconnected(g):
                any_live = True
                grads.append(g)
                continue
        grads.append(None)
    if not any_live:
        return None
    # Ops see zeros, never 'nothing', for outputs that do not reach the cost.
    return [g if g is not None else _zeros_for(o) if hasattr(o.type, "ndim") else DisconnectedType()()
            for g, o in zip(grads, node.outputs)]


def _call_l_op(node: Apply, out_grads: list[Variable]) -> list[Variable]:
    nulls = [g for g in out_grads if _is_null(g)]
    if nulls:
        return [nulls[0]] * len(node.inputs)
    result = node.op.L_op(node.inputs, node.outputs, out_grads)
    if not isinstance(result, (list, tuple)) or len(result) != len(node.inputs):
        raise TypeError(f"{node.op}.L_op returned {len(result) if isinstance(result, (list, tuple)) else result!r}"
                        f" gradients, expected a list of {len(node.inputs)}")
    fixed = []
    for inp, g in zip(node.inputs, result):
        if g is None or _is_null(g) or _is_disconnected(g):
            fixed.append(g)
            continue
        if not isinstance(g, Variable):
            from theanolite.tensor.basic import as_tensor_variable
            g = as_tensor_variable(g)
        if hasattr(inp.type, "ndim") and hasattr(g.type, "ndim") and g.type.ndim != inp.type.ndim:
            raise ValueError(f"{node.op}.L_op returned a {g.type.ndim}-d gradient for the "
                             f"{inp.type.ndim}-d input {inp}")
        fixed.append(g)
    return fixed


# ----------------------------------------------------------------------------- Lop / Rop

def Lop(f: Variable | Sequence[Variable], wrt: Variable | Sequence[Variable],
        eval_points: Variable | Sequence[Variable], consider_constant: Sequence[Variable] | None = None,
        disconnected_inputs: str = "raise") -> Any:
    """Row vector(s) ``eval_points`` times the Jacobian of ``f`` with respect to ``wrt``."""
    fs = f if isinstance(f, (list, tuple)) else [f]
    evs = eval_points if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(fs) != len(evs):
        raise ValueError(f"Lop: {len(fs)} expressions but {len(evs)} eval points")
    from theanolite.tensor.basic import as_tensor_variable
    known = {}
    for k, (fi, ev) in enumerate(zip(fs, evs)):
        ev = as_tensor_variable(ev)
        if ev.ndim != fi.ndim:
            raise ValueError(f"Lop: eval point {k} has {ev.ndim} dims but expression {k} has {fi.ndim}; "
                             "the L-operator's point must have the shape of the output")
        known[fi] = ev
    result = grad(None, wrt, known_grads=known, consider_constant=consider_constant,
                  disconnected_inputs=disconnected_inputs)
    return result


def Rop(f: Variable | Sequence[Variable], wrt: Variable | Sequence[Variable],
        eval_points: Variable | Sequence[Variable]) -> Any:
    """Jacobian of ``f`` with respect to ``wrt`` times ``eval_points`` (forward mode)."""
    from theanolite.tensor.basic import as_tensor_variable
    single_f = not isinstance(f, (list, tuple))
    fs = [f] if single_f else list(f)
    wrts = wrt if isinstance(wrt, (list, tuple)) else [wrt]
    evs = eval_points if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(wrts) != len(evs):
        raise ValueError(f"Rop: {len(wrts)} wrt variables but {len(evs)} eval points")
    evs = [as_tensor_variable(e) for e in evs]
    for k, (w, e) in enumerate(zip(wrts, evs)):
        if getattr(w.type, "ndim", None) != e.ndim:
            raise ValueError(f"Rop: eval point {k} has {e.ndim} dims but wrt {k} ({w}) has "
                             f"{w.type.ndim}; the R-operator's point must have the shape of the input")
    try:
        results = _forward(fs, wrts, evs)
    except NotImplementedError:
        results = _rop_by_double_lop(fs, wrts, evs)
    return results[0] if single_f else results


def _forward(fs: list[Variable], wrts: list[Variable], evs: list[Variable]) -> list[Variable]:
    tangents: dict[Variable, Variable | None] = {w: e for w, e in zip(wrts, evs)}
    for node in io_toposort(wrts, fs):
        points = [tangents.get(i) for i in node.inputs]
        if all(p is None for p in points):
            continue
        # As Theano: free float inputs not in wrt get a zero tangent, so the result still
        # depends on every input of the primal graph (Rop(dot(x, W), W, V) uses W).
        points = [_zeros_for(i) if p is None and i.owner is None and not isinstance(i, Constant)
                  and str(getattr(i.type, "dtype", "")).startswith("float") else p
                  for p, i in zip(points, node.inputs)]
        outs = node.op.R_op(node.inputs, points)
        for out, t in zip(node.outputs, outs):
            tangents[out] = t
    results = []
    for fi in fs:
        t = tangents.get(fi)
        if t is None:
            t = _zeros_for(fi)
        results.append(t)
    return results


def _rop_by_double_lop(fs: list[Variable], wrts: list[Variable], evs: list[Variable]) -> list[Variable]:
    """J v = d/du <u, J v>... computed as grad_u <Lop(f, wrt, u), v>; u is then replaced by
    zeros of f's shape, since the result is linear in u and depends only on its shape."""
    from theanolite.tensor.basic import zeros_like
    from theanolite.tensor.reduction import sum as tsum
    from theanolite.tensor.math import add, mul
    results = []
    for fi in fs:
        u = fi.type()
        lops = Lop(fi, wrts, u, disconnected_inputs="ignore")
        inner = add(*[tsum(mul(l, e)) for l, e in zip(lops, evs)]) if len(lops) > 1 else tsum(mul(lops[0], evs[0]))
        jv = grad(inner, u, disconnected_inputs="ignore")
        results.append(clone_replace(jv, {u: zeros_like(fi)}))
    return results


# ----------------------------------------------------------------------------- jacobian / hessian

def jacobian(expression: Variable, wrt: Variable | Sequence[Variable],
             consider_constant: Sequence[Variable] | None = None,
             disconnected_inputs: str = "raise") -> Any:
    """d expression / d wrt: one row of grads per element of the (flattened) expression."""
    from theanolite.tensor.basic import as_tensor_variable
    from theanolite.tensor.shape_ops import arange, flatten
    from theanolite.scan_module import scan
    expression = as_tensor_variable(expression)
    single = not isinstance(wrt, (list, tuple))
    wrts = [wrt] if single else list(wrt)
    if expression.ndim == 0:
        out = grad(expression, wrts, consider_constant=consider_constant,
                   disconnected_inputs=disconnected_inputs)
        return out[0] if single else out
    flat = flatten(expression)

    def row(i, flat_expr, *ws):
        return grad(flat_expr[i], list(ws), consider_constant=consider_constant,
                    disconnected_inputs=disconnected_inputs)

    jac, updates = scan(row, sequences=arange(flat.shape[0]), non_sequences=[flat] + wrts)
    jac = jac if isinstance(jac, list) else [jac]
    shaped = []
    for j, w in zip(jac, wrts):
        from theanolite.tensor.shape_ops import reshape, concatenate
        shaped.append(reshape(j, concatenate([expression.shape, w.shape]), ndim=expression.ndim + w.ndim))
    return shaped[0] if single else shaped


def hessian(cost: Variable, wrt: Variable | Sequence[Variable],
            consider_constant: Sequence[Variable] | None = None,
            disconnected_inputs: str = "raise") -> Any:
    """Matrix of second derivatives of the scalar ``cost`` for each vector in ``wrt``."""
    single = not isinstance(wrt, (list, tuple))
    wrts = [wrt] if single else list(wrt)
    result = []
    for w in wrts:
        if getattr(w.type, "ndim", None) != 1:
            raise TypeError(f"hessian: wrt must be vectors, got {w} with {w.type.ndim} dims")
        g = grad(cost, w, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        result.append(jacobian(g, w, consider_constant=consider_constant,
                               disconnected_inputs=disconnected_inputs))
    return result[0] if single else result


# ----------------------------------------------------------------------------- gradient control

class _GradControl(Op):
    """Identity in the forward pass; rewrites the gradient in the backward pass."""

    __props__ = ("mode", "lo", "hi")
    view_map = {0: [0]}

    def __init__(self, mode: str, lo: float = 0.0, hi: float = 0.0) -> None:
        self.mode, self.lo, self.hi = mode, float(lo), float(hi)

    def make_node(self, x):
        from theanolite.tensor.basic import as_tensor_variable
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0]

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.tensor.basic import zeros_like
        from theanolite.tensor.math import clip
        g = output_grads[0]
        if self.mode == "zero":
            return [zeros_like(g)]
        if self.mode == "disconnected":
            return [DisconnectedType()()]
        if self.mode == "clip":
            return [clip(g, self.lo, self.hi)]
        return [g]

    def R_op(self, inputs, eval_points):
        from theanolite.tensor.basic import zeros_like
        if eval_points[0] is None:
            return [None]
        if self.mode in ("zero", "disconnected"):
            return [zeros_like(eval_points[0])]
        return [eval_points[0]]

    def connection_pattern(self, node):
        return [[self.mode != "disconnected"]]

    def __str__(self):
        return {"zero": "ZeroGrad", "disconnected": "DisconnectedGrad", "clip": "GradClip"}[self.mode]


def zero_grad(x: Any) -> Variable:
    """``x`` in the forward pass; its gradient is zero."""
    return _GradControl("zero")(x)


def disconnected_grad(x: Any) -> Variable:
    """``x`` in the forward pass; the graph below is disconnected for gradients."""
    return _GradControl("disconnected")(x)


def grad_clip(x: Any, lower_bound: float, upper_bound: float) -> Variable:
    """``x`` in the forward pass; its gradient is clipped to [lower_bound, upper_bound]."""
    if lower_bound > upper_bound:
        raise ValueError(f"grad_clip: lower_bound {lower_bound} > upper_bound {upper_bound}")
    return _GradControl("clip", lower_bound, upper_bound)(x)


consider_constant = disconnected_grad


# ----------------------------------------------------------------------------- verify_grad

def numeric_grad(f: Callable, pt: list[np.ndarray], eps: float) -> list[np.ndarray]:
    """Central finite differences of the scalar function ``f`` at ``pt``."""
    grads = []
    for k, x in enumerate(pt):
        g = np.zeros(x.shape, dtype="float64")
        flat = x.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = float(f(*pt))
            flat[j] = orig - eps
            minus = float(f(*pt))
            flat[j] = orig
            g.reshape(-1)[j] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def verify_grad(fun: Callable, pt: Sequence[Any], n_tests: int = 2, rng: Any = None,
                eps: float | None = None, out_type: str | None = None, abs_tol: float | None = None,
                rel_tol: float | None = None, mode: Any = None, cast_to_output_type: bool = False,
                no_debug_ref: bool = True) -> None:
    """Check ``grad`` of ``fun`` against finite differences at the point ``pt``.

    ``fun`` takes symbolic inputs (one per array in ``pt``) and returns a symbolic output;
    its output is projected on a random tensor to make a scalar cost. Raises GradientError
    naming the input and position when the two disagree beyond both tolerances.
    """
    from theanolite.compile.function import function
    from theanolite.tensor.type import TensorType
    from theanolite.tensor.reduction import sum as tsum
    from theanolite.tensor.basic import as_tensor_variable
    rng = rng if rng is not None else np.random.default_rng(42)
    pt = [np.array(p, dtype=(np.asarray(p).dtype if np.asarray(p).dtype.kind == "f" else "float64"))
          for p in pt]
    low_precision = any(p.dtype in (np.float32, np.float16) for p in pt)
    eps = eps if eps is not None else (1e-3 if low_precision else 1e-6)
    abs_tol = abs_tol if abs_tol is not None else (1e-2 if low_precision else 1e-5)
    rel_tol = rel_tol if rel_tol is not None else (1e-2 if low_precision else 1e-5)

    inputs = [TensorType(p.dtype, [False] * p.ndim)(f"input_{i}") for i, p in enumerate(pt)]
    out = as_tensor_variable(fun(*inputs))
    out_value = np.asarray(function(inputs, out, on_unused_input="ignore", mode=mode)(*[p.copy() for p in pt]))
    for _ in range(n_tests):
        # A random projection makes any output a scalar cost; +0.5 keeps it away from 0.
        projection = rng.random(out_value.shape) + 0.5
        proj_var = as_tensor_variable(np.asarray(projection, dtype=out.dtype))
        cost = tsum(out * proj_var)
        cost_fn = function(inputs, cost, on_unused_input="ignore", mode=mode)
        grad_fn = function(inputs, grad(cost, inputs, disconnected_inputs="ignore"),
                           on_unused_input="ignore", mode=mode)
        symbolic = grad_fn(*[p.copy() for p in pt])
        work = [p.astype("float64") for p in pt]
        numeric = numeric_grad(lambda *a: cost_fn(*[x.astype(p.dtype) for x, p in zip(a, pt)]), work, eps)
        for k, (s, n) in enumerate(zip(symbolic, numeric)):
            s = np.asarray(s, dtype="float64")
            abs_err = np.abs(s - n)
            rel_err = abs_err / np.maximum(np.abs(s) + np.abs(n), 1e-8)
            bad = (abs_err > abs_tol) & (rel_err > rel_tol)
            bad |= np.isnan(s) != np.isnan(n)
            if np.any(bad):
                pos = np.unravel_index(int(np.argmax(bad)), s.shape) if s.ndim else ()
                raise GradientError(k, pos, s.shape, float(s[pos]), float(n[pos]), float(abs_err[pos]),
                                    float(rel_err[pos]), abs_tol, rel_tol)
