"""C for the structure ops: ``Reshape`` and ``Join`` (theanolite/tensor/shape_ops.py),
``Alloc``, ``ARange`` and ``MakeVector`` (theanolite/tensor/alloc_ops.py).

Each entry follows the protocol of elemwise_c.py and matches its op's ``perform``
(results, exception classes and messages). Data moves through one strided copy per dtype
pair (``structure_copy.c``: numpy's ``astype`` casts, broadcasting by zero strides, collapsed
axes, a memcpy when contiguous), pasted once per module behind an include guard.

**Shapes that depend on values.** Phase 0 sees shapes and strides only: the runner
(program.py) caches its result per input *geometry*, and values computed inside the
segment do not exist before phase 1. A value read from an input pointer in phase 0 would
therefore be stale on the next call with the same geometry (wrong buffer sizes), so no
entry reads data to size its output. Instead an entry supports a node only when every
value its output shape depends on is known from the graph's structure
(``phase0_int``): a ``Constant``, ``Shape_i``/``Shape`` of one of the node's own inputs
(its shape is in ``sh<k>`` in both phases), ``MakeVector`` of such values, and integer
scalar ``Elemwise`` arithmetic on them (integer and bool dtypes only). So ``x.reshape((x.shape[0], -1))`` and
``flatten`` run in C; ``alloc(v, n)`` or ``arange(n)`` with a symbolic ``n`` run
``perform``. ``ARange`` needs constant bounds (its length, first two values and any
error are computed once with numpy itself when the C is generated), ``Join`` a constant
axis. The expressions (and constant values) an entry bakes into its C are part of its
``node_version``, hence of the cache key, even where the key records only a type.

**Reshape** owns an output buffer in the segment's memory plan (``views`` is empty: the
plan is static, and numpy copies when the input's strides do not allow a view). At run
time, when the input is C-contiguous (numpy's view case, the one that matters), the
output points into the input instead of copying, provided that memory lives for the
whole call (a segment input, a constant or an exported output, never a reusable
workspace slot), the output is not exported (Python owns exported buffers) and nothing
in the segment overwrites it in place. Otherwise it copies, in C order.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from theanolite.ccodegen import template
from theanolite.ccodegen.elemwise_c import _block, _c_string
from theanolite.ccodegen.scalar_c import C_TYPES, SCALAR_C_VERSION, _SUFFIX, c_literal, cast_expr, scalar_expr
from theanolite.graph.basic import Apply, Constant, Variable
from theanolite.ccodegen.registry import CEntry

# Bump when structure.c or structure_copy.c changes (every entry that copies pastes it).
HELPERS_VERSION = 1
_MAX_TERMS = 64  # graph nodes one phase-0 expression may span
_ARANGE_MAX_LEN = 1 << 20  # longer constant aranges are computed by perform (see _arange_plan)

ShName = Callable[[Variable], str]


# ----------------------------------------------------------------------------- phase-0 values

def phase0_int(var: Variable, node: Apply, sh: ShName) -> str | None:
    """A C expression (int64) for the value of the integer scalar ``var`` that is valid in
    phase 0 of the segment holding ``node``, or None. ``sh(v)`` names the shape array of
    ``v``; only ``node``'s own inputs are used (they are always in the segment's scope)."""
    found = _scalar(var, node, sh, [_MAX_TERMS])
    if found is None:
        return None
    expr, dtype = found
    return cast_expr(expr, dtype, "int64")


def phase0_ints(vec: Variable, node: Apply, sh: ShName) -> list[str] | None:
    """``phase0_int`` for each entry of the integer vector ``vec``, or None."""
    if isinstance(vec, Constant):
        data = np.asarray(vec.data)
        if data.ndim != 1 or data.dtype.kind != "i":
            return None
        return [c_literal(int(v), "int64") for v in data]
    owner = vec.owner
    if owner is None:
        return None
    from theanolite.tensor.alloc_ops import MakeVector
    from theanolite.tensor.basic import Shape
    if isinstance(owner.op, Shape) and _in_scope(owner.inputs[0], node):
        y = owner.inputs[0]
        return [f"{sh(y)}[{d}]" for d in range(y.ndim)]
    if isinstance(owner.op, MakeVector):
        exprs = [phase0_int(v, node, sh) for v in owner.inputs]
        return None if any(e is None for e in exprs) else exprs  # type: ignore[return-value]
    return None


def _in_scope(var: Variable, node: Apply) -> bool:
    return any(var is v for v in node.inputs)


def _scalar(var: Variable, node: Apply, sh: ShName, budget: list[int]) -> tuple[str, str] | None:
    """(C expression, dtype) of an integer or bool scalar; floats are left to perform
    (their conversion to a length is perform's business, NaN included)."""
    budget[0] -= 1
    dtype = getattr(var.type, "dtype", None)
    if budget[0] < 0 or var.ndim != 0 or dtype not in C_TYPES or np.dtype(dtype).kind not in "iub":
        return None
    if isinstance(var, Constant):
        return c_literal(np.asarray(var.data).item(), dtype), dtype
    owner = var.owner
    if owner is None:
        return None
    from theanolite.scalar.composite import Composite
    from theanolite.tensor.basic import Shape_i
    from theanolite.tensor.elemwise import Elemwise
    if isinstance(owner.op, Shape_i) and _in_scope(owner.inputs[0], node):
        return f"{sh(owner.inputs[0])}[{owner.op.i}]", "int64"
    if isinstance(owner.op, Elemwise) and len(owner.outputs) == 1 and not isinstance(owner.op.scalar_op, Composite):
        args = [_scalar(v, node, sh, budget) for v in owner.inputs]
        if any(a is None for a in args):
            return None
        found = scalar_expr(owner.op.scalar_op, args)  # type: ignore[arg-type]
        if found is None or found[2] is not None:  # no C, or an op that can fail (pow)
            return None
        return cast_expr(found[0], found[1], dtype), dtype
    return None


def _canonical_sh(node: Apply) -> ShName:
    """Names for ``node``'s inputs that do not depend on the segment (for the key)."""
    return lambda v: f"sh_in{next(k for k, u in enumerate(node.inputs) if u is v)}"


# ----------------------------------------------------------------------------- shared C

def copy_name(src: str, dst: str) -> str:
    return f"tl_sc_copy_{_SUFFIX[src]}_{_SUFFIX[dst]}"


def helpers_code() -> str:
    """The guarded helpers every structure entry uses (``structure.c``)."""
    return template.fill(template.load("structure.c"))


def copy_code(src: str, dst: str) -> str:
    """The helpers and the guarded strided copy ``src`` -> ``dst`` (``structure_copy.c``)."""
    return helpers_code() + "\n\n" + template.fill(
        template.load("structure_copy.c"), pair=f"{_SUFFIX[src]}_{_SUFFIX[dst]}",
        src_type=C_TYPES[src], dst_type=C_TYPES[dst], same=str(int(src == dst)),
        convert=cast_expr("v", src, dst))


def _fail(ctx: Any, code: str, *parts: tuple) -> str:
    """A C statement: build a message from ``parts`` (("text", fmt, *args) or
    ("shape", nd, array)), set ``rc`` to ``code`` and leave."""
    lines = ["err[0] = 0;"]
    for part in parts:
        if part[0] == "text":
            args = "".join(", " + a for a in part[2:])
            lines.append(f"tl_sc_append(err, {_c_string(part[1])}{args});")
        else:
            lines.append(f"tl_append_shape(err, {part[1]}, {part[2]});")
    lines.append(f"rc = {code}; {ctx.fail_here()}")
    return "{ " + " ".join(lines) + " }"


def _prod(terms: list[str]) -> str:
    return " * ".join(terms) or "1"


class _Entry(CEntry):
    version: tuple = (1,)

    def node_version(self, node: Apply) -> tuple:
        return self.version + (HELPERS_VERSION, SCALAR_C_VERSION) + self._baked(node)

    def _baked(self, node: Apply) -> tuple:
        """Values from the graph that this node's C contains (part of the key)."""
        return ()


# ----------------------------------------------------------------------------- Reshape

def _root(seg: Any, var: Variable) -> Variable:
    """The value whose memory ``var`` lives in, inside segment ``seg`` (through views and
    in-place results, as segment.plan_memory sees it)."""
    entry_of = {id(n): e for n, e in zip(seg.nodes, seg.entries)}
    while True:
        node = var.owner
        if node is None or id(node) not in entry_of:
            return var
        views = entry_of[id(node)].views(node)
        if var.index in views:
            var = node.inputs[views[var.index]]
        elif var in seg.inplace:
            var = seg.inplace[var]
        else:
            return var


class _ShapedCopy(_Entry):
    """An entry whose output shape is ``_want`` (C expressions over known shapes, baked
    into the key) and whose data is a copy of input 0 in its own dtype."""

    def _want(self, node: Apply, sh: ShName) -> list[str] | None:
        raise NotImplementedError

    def _baked(self, node: Apply) -> tuple:
        return tuple(self._want(node, _canonical_sh(node)) or ())

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        dt = node.inputs[0].type.dtype
        return copy_code(dt, dt)


class ReshapeC(_ShapedCopy):
    """``Reshape``: numpy's reshape (one negative entry is inferred); a view of a
    C-contiguous input where that is safe, else a copy (module docstring)."""

    version = (1,)

    def supports(self, node: Apply) -> bool:
        x, out = node.inputs[0], node.outputs[0]
        return (x.type.dtype in C_TYPES and out.type.dtype == x.type.dtype
                and self._want(node, _canonical_sh(node)) is not None)

    def _want(self, node: Apply, sh: ShName) -> list[str] | None:
        want = phase0_ints(node.inputs[1], node, sh)
        if want is None or len(want) != node.outputs[0].ndim:
            return None
        return want

    def shape_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        want = self._want(node, ctx.sh)
        assert want is not None
        nd = out.ndim
        lines = [
            f"int64_t want[{max(nd, 1)}] = {{{', '.join(want) or '0'}}};",
            f"int64_t total = {_prod([f'{ctx.sh(x)}[{d}]' for d in range(x.ndim)])}, known = 1;",
            "int unknown = -1, bad = 0;",
            # numpy: any negative entry is the unknown one; at most one; sizes must agree.
            f"for (int d = 0; d < {nd}; d++) {{",
            "    if (want[d] < 0) { if (unknown >= 0) bad = 1; unknown = d; }",
            "    else if (__builtin_mul_overflow(known, want[d], &known)) bad = 1;",
            "}",
            "if (!bad) bad = unknown >= 0 ? (known == 0 || total % known != 0) : known != total;",
            "if (bad) " + _fail(ctx, "TL_VALUE_ERROR",
                                ("text", "Reshape: cannot reshape an input of shape "),
                                ("shape", x.ndim, ctx.sh(x)),
                                ("text", " (size %lld) to shape ", "(long long)total"),
                                ("shape", nd, "want")),
        ]
        lines += [f"{ctx.sh(out)}[{d}] = unknown == {d} ? total / known : want[{d}];" for d in range(nd)]
        return _block(lines)

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        dt = x.type.dtype
        isz = np.dtype(dt).itemsize
        n = max(x.ndim, 1)
        copy = (f"{{ int64_t cst[{n}] = {{0}}; tl_contiguous({x.ndim}, {ctx.sh(x)}, {isz}, cst); "
                f"{copy_name(dt, dt)}({x.ndim}, {ctx.sh(x)}, {ctx.d(x)}, {ctx.st(x)}, {ctx.d(out)}, cst); }}")
        if not self._may_alias(node, ctx.seg):
            return copy
        return (f"if (tl_sc_is_contiguous({x.ndim}, {ctx.sh(x)}, {ctx.st(x)}, {isz})) "
                f"{ctx.d(out)} = {ctx.d(x)};\nelse {copy}")

    @staticmethod
    def _may_alias(node: Apply, seg: Any) -> bool:
        from theanolite.ccodegen.segment import plan_memory
        out = node.outputs[0]
        if any(out is v for v in seg.outputs) or any(out is v for v in seg.inplace.values()):
            return False
        slot_of, _ = plan_memory(seg)
        return id(_root(seg, node.inputs[0])) not in slot_of


# ----------------------------------------------------------------------------- Alloc

class AllocC(_ShapedCopy):
    """``Alloc``: the value broadcast into a new array (numpy assignment semantics)."""

    version = (1,)

    def supports(self, node: Apply) -> bool:
        v, out = node.inputs[0], node.outputs[0]
        return (v.type.dtype in C_TYPES and out.type.dtype == v.type.dtype
                and self._want(node, _canonical_sh(node)) is not None)

    def _want(self, node: Apply, sh: ShName) -> list[str] | None:
        want = [phase0_int(s, node, sh) for s in node.inputs[1:]]
        return None if any(w is None for w in want) else want  # type: ignore[return-value]

    def shape_code(self, node: Apply, ctx: Any) -> str:
        v, out = node.inputs[0], node.outputs[0]
        want = self._want(node, ctx.sh)
        assert want is not None
        nd, off = out.ndim, out.ndim - v.ndim
        lines = [f"int64_t want[{max(nd, 1)}] = {{{', '.join(want) or '0'}}};"]
        if nd:
            negative = " || ".join(f"want[{k}] < 0" for k in range(nd))
            lines.append(f"if ({negative}) " + _fail(
                ctx, "TL_VALUE_ERROR", ("text", "Alloc: negative dimension in the requested shape "),
                ("shape", nd, "want")))
        hint = " (a length-1 dimension broadcasts only if its type is broadcastable)"
        for d in range(v.ndim):
            n, w = f"{ctx.sh(v)}[{d}]", f"want[{off + d}]"
            ok = f"{n} == {w}" + (f" || {n} == 1" if v.broadcastable[d] else "")
            lines.append(f"if (!({ok})) " + _fail(
                ctx, "TL_VALUE_ERROR", ("text", "Alloc: cannot fill shape "), ("shape", nd, "want"),
                ("text", " with a value of shape "), ("shape", v.ndim, ctx.sh(v)),
                ("text", f": dimension {d} of the value has length %lld, expected %lld%s",
                 f"(long long){n}", f"(long long){w}", f"{n} == 1 ? {_c_string(hint)} : \"\"")))
        lines += [f"{ctx.sh(out)}[{k}] = want[{k}];" for k in range(nd)]
        return _block(lines)

    def run_code(self, node: Apply, ctx: Any) -> str:
        v, out = node.inputs[0], node.outputs[0]
        dt = v.type.dtype
        nd, off = out.ndim, out.ndim - v.ndim
        lines = [f"int64_t vst[{max(nd, 1)}] = {{0}};"]
        lines += [f"vst[{off + d}] = {ctx.sh(v)}[{d}] == 1 ? 0 : {ctx.st(v)}[{d}];" for d in range(v.ndim)]
        lines.append(f"{copy_name(dt, dt)}({nd}, {ctx.sh(out)}, {ctx.d(v)}, vst, {ctx.d(out)}, {ctx.st(out)});")
        return _block(lines)


# ----------------------------------------------------------------------------- Join

class JoinC(_Entry):
    """``Join`` along a constant axis: each input copied (and cast) into its slab."""

    version = (1,)

    def supports(self, node: Apply) -> bool:
        if any(v.type.dtype not in C_TYPES for v in node.inputs[1:] + node.outputs):
            return False
        return self._axis(node) is not None

    @staticmethod
    def _axis(node: Apply) -> int | None:
        axis, nd = node.inputs[0], node.outputs[0].ndim
        if not isinstance(axis, Constant) or np.ndim(axis.data) != 0 or nd == 0:
            return None
        ax = int(np.asarray(axis.data))
        return ax % nd if -nd <= ax < nd else None

    def _baked(self, node: Apply) -> tuple:
        return (self._axis(node),)

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        out = node.outputs[0].type.dtype
        pairs = sorted({(t.type.dtype, out) for t in node.inputs[1:]})
        return "\n\n".join(copy_code(src, dst) for src, dst in pairs)

    def shape_code(self, node: Apply, ctx: Any) -> str:
        tensors, out = node.inputs[1:], node.outputs[0]
        ax, nd = self._axis(node), out.ndim
        first = ctx.sh(tensors[0])
        mismatch = [f"{ctx.sh(t)}[{d}] != {first}[{d}]" for t in tensors[1:] for d in range(nd) if d != ax]
        lines = []
        if mismatch:
            parts: list[tuple] = [("text", f"Join: cannot join along axis {ax} tensors of shapes ")]
            for k, t in enumerate(tensors):
                parts += ([("text", ", ")] if k else []) + [("shape", nd, ctx.sh(t))]
            parts.append(("text", ": all dimensions except the axis must agree"))
            lines.append(f"if ({' || '.join(mismatch)}) " + _fail(ctx, "TL_VALUE_ERROR", *parts))
        for d in range(nd):
            value = " + ".join(f"{ctx.sh(t)}[{d}]" for t in tensors) if d == ax else f"{first}[{d}]"
            lines.append(f"{ctx.sh(out)}[{d}] = {value};")
        return _block(lines)

    def run_code(self, node: Apply, ctx: Any) -> str:
        tensors, out = node.inputs[1:], node.outputs[0]
        ax, nd, odt = self._axis(node), out.ndim, out.type.dtype
        lines = ["int64_t at = 0;"]
        for t in tensors:
            lines.append(f"{copy_name(t.type.dtype, odt)}({nd}, {ctx.sh(t)}, {ctx.d(t)}, {ctx.st(t)}, "
                         f"{ctx.d(out)} + at * {ctx.st(out)}[{ax}], {ctx.st(out)});")
            lines.append(f"at += {ctx.sh(t)}[{ax}];")
        return _block(lines)


# ----------------------------------------------------------------------------- MakeVector

class MakeVectorC(_Entry):
    """``MakeVector``: scalars (cast to the op's dtype) into a new vector."""

    version = (1,)

    def supports(self, node: Apply) -> bool:
        return all(v.type.dtype in C_TYPES for v in node.inputs + node.outputs)

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        return ""

    def shape_code(self, node: Apply, ctx: Any) -> str:
        return f"{ctx.sh(node.outputs[0])}[0] = {len(node.inputs)};"

    def run_code(self, node: Apply, ctx: Any) -> str:
        out = node.outputs[0]
        odt = out.type.dtype
        lines = []
        for k, v in enumerate(node.inputs):
            value = cast_expr(f"*(const {C_TYPES[v.type.dtype]} *){ctx.d(v)}", v.type.dtype, odt)
            lines.append(f"*({C_TYPES[odt]} *)({ctx.d(out)} + {k} * {ctx.st(out)}[0]) = {value};")
        return _block(lines)


# ----------------------------------------------------------------------------- ARange

_ERROR_CODES = {ValueError: "TL_VALUE_ERROR", IndexError: "TL_INDEX_ERROR", MemoryError: "TL_MEMORY_ERROR"}


@functools.lru_cache(maxsize=256, typed=True)
def _arange_plan(start: Any, stop: Any, step: Any, dtype: str) -> tuple | None:
    """``("ok", length, first, second)`` of ``numpy.arange(start, stop, step, dtype)`` as
    perform computes it, ``("error", code, message)`` when perform raises, or None when
    C should not take it (another exception class, or too long to compute here)."""
    if step == 0:
        return ("error", "TL_VALUE_ERROR", f"ARange: step must not be zero (start={start}, stop={stop})")
    try:
        approx = (float(stop) - float(start)) / float(step)
        if approx == approx and approx > _ARANGE_MAX_LEN:
            return None
        values = np.arange(start, stop, step, dtype=dtype)
    except Exception as exc:  # noqa: BLE001 - mirrored into C when perform's class is known
        code = _ERROR_CODES.get(type(exc))
        return None if code is None else ("error", code, str(exc))
    first = values[0].item() if values.size else 0
    second = values[1].item() if values.size > 1 else first
    return ("ok", int(values.size), first, second)


class ARangeC(_Entry):
    """``ARange`` with constant bounds: numpy's length and fill rule (``buffer[0]``,
    ``buffer[1]``, then ``start + i * delta`` in the output dtype)."""

    version = (1,)

    def supports(self, node: Apply) -> bool:
        if node.outputs[0].type.dtype not in C_TYPES or node.outputs[0].type.dtype == "bool":
            return False
        return self._plan(node) is not None

    @staticmethod
    def _plan(node: Apply) -> tuple | None:
        if not all(isinstance(v, Constant) and np.ndim(v.data) == 0 for v in node.inputs):
            return None
        start, stop, step = (np.asarray(v.data).item() for v in node.inputs)
        return _arange_plan(start, stop, step, node.outputs[0].type.dtype)

    def _baked(self, node: Apply) -> tuple:
        return tuple(repr(p) for p in self._plan(node) or ())

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        return helpers_code()

    def shape_code(self, node: Apply, ctx: Any) -> str:
        plan = self._plan(node)
        assert plan is not None
        if plan[0] == "error":
            return _fail(ctx, plan[1], ("text", "%s", _c_string(plan[2])))
        return f"{ctx.sh(node.outputs[0])}[0] = {plan[1]};"

    def run_code(self, node: Apply, ctx: Any) -> str:
        plan = self._plan(node)
        assert plan is not None
        if plan[0] == "error":
            return ""
        _, n, first, second = plan
        dt = node.outputs[0].type.dtype
        ct, out = C_TYPES[dt], ctx.d(node.outputs[0])
        if np.dtype(dt).kind == "f":
            step = f"({ct})(start + ({ct})i * delta)"
        else:  # numpy's integer fill wraps; unsigned arithmetic makes that defined in C
            step = f"({ct})((uint64_t)start + (uint64_t)i * (uint64_t)delta)"
        lines = [f"{ct} *o = ({ct} *){out};",
                 f"const {ct} start = {c_literal(first, dt)}, delta = ({ct})({c_literal(second, dt)} - start);",
                 "(void)delta;"]
        if n > 0:
            lines.append("o[0] = start;")
        if n > 1:
            lines.append(f"o[1] = {c_literal(second, dt)};")
        if n > 2:
            lines.append(f"for (int64_t i = 2; i < {n}; i++) o[i] = {step};")
        return _block(lines)


def register_entries(register: Callable[[type, Any], None]) -> None:
    from theanolite.tensor.alloc_ops import Alloc, ARange, MakeVector
    from theanolite.tensor.shape_ops import Join, Reshape
    register(Reshape, ReshapeC())
    register(Alloc, AllocC())
    register(Join, JoinC())
    register(MakeVector, MakeVectorC())
    register(ARange, ARangeC())
