"""C for the indexing ops: ``Subtensor``, ``IncSubtensor`` (theanolite/tensor/subtensor.py),
``AdvancedSubtensor1`` and ``AdvancedIncSubtensor1`` (theanolite/tensor/subtensor_advanced.py).

Each entry follows the protocol of elemwise_c.py and matches its op's ``perform``:

* ``SubtensorC``: a view, as numpy's basic indexing: the output's shape and strides are
  derived from the input's (ints drop an axis, slices scale the stride by the step) and
  its data pointer is the input's, moved to the first element; nothing is copied.
* ``IncSubtensorC``: copy ``x`` into the output (unless the segment writes in place,
  which it does only when the op's ``destroy_map`` allows it), then update the region in
  one strided loop (``subtensor_update.c``). Inc adds in numpy's promoted dtype of
  ``x`` and ``y`` and casts back, as ``np.add(region, y, out=region, casting="unsafe")``;
  set casts ``y`` to ``x``'s dtype.
* ``AdvancedSubtensor1C``: gathers rows (row copies merge contiguous axes into memcpy).
* ``AdvancedIncSubtensor1C``: row by row in index order, so duplicates accumulate as
  ``np.add.at`` (inc, in ``x``'s dtype after casting ``y`` as perform does) and the last
  duplicate wins (set).

Errors are perform's: an out-of-range index is an IndexError naming the op, the index,
the axis and the input shape (the advanced ops report the smallest index if one is below
``-n``, else the largest, as perform does), a value that does not fit the region is a
ValueError with perform's message, a symbolic zero step a ValueError.

**Phase 0 and index values.** Phase 0 sees shapes and strides only: the runner
(program.py) caches its result per input geometry, and values computed inside the
segment do not exist yet. So every value-dependent step (reading indices, bounds
checks, the value-shape check, which perform makes after the bounds check) is in the
run code (phase 1), and an entry supports a node only when its output *shape* follows
from shapes alone: ``Subtensor`` needs every slice bound and step known when the C is
generated (an int in ``idx_list`` or a ``Constant`` input); its integer indices, and
every index of the other three ops, may be symbolic. ``x[:n]`` with a symbolic ``n``
therefore runs ``perform``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from theanolite.ccodegen import template
from theanolite.ccodegen.scalar_c import C_TYPES, SCALAR_C_VERSION, _SUFFIX, cast_expr
from theanolite.graph.basic import Apply, Constant, Variable
from theanolite.ccodegen.registry import CEntry
from theanolite.tensor.subtensor import fill_index

# Bump when subtensor.c changes (every entry pastes it).
HELPERS_VERSION = 1
_INT64_MIN, _INT64_MAX = -2**63, 2**63 - 1


# ----------------------------------------------------------------------------- index pieces

def _block(lines: list[str]) -> str:
    """``lines`` as a C block, nested blocks indented too."""
    if not lines:
        return ""
    return "{\n" + "\n".join("    " + ln for line in lines for ln in line.split("\n")) + "\n}"


def _known(p: Any) -> int | Variable | None:
    """A piece of an index as an int when known now (a literal or a Constant), else the
    variable (None stays None)."""
    if isinstance(p, Constant) and np.ndim(p.data) == 0:
        return int(np.asarray(p.data))
    return p


def _entries(node: Apply, first: int) -> list[Any]:
    """One entry per axis of ``x``: an int / Variable (an index that drops the axis) or a
    ``(start, stop, step)`` tuple of None / int / Variable (a slice)."""
    x = node.inputs[0]
    index = fill_index(node.op.idx_list, node.inputs[first:])
    out: list[Any] = []
    for d in range(x.ndim):
        e = index[d] if d < len(index) else slice(None)
        if isinstance(e, slice):
            out.append(tuple(_known(p) for p in (e.start, e.stop, e.step)))
        else:
            out.append(_known(e))
    return out


def _i64(k: int) -> str:
    """An int64 C literal of ``k`` clamped to int64 (clamping a slice bound or step never
    changes what the slice takes; a clamped int index stays out of range)."""
    k = min(max(k, _INT64_MIN), _INT64_MAX)
    return "INT64_MIN" if k == _INT64_MIN else f"((int64_t){k}LL)"


def _value(ctx: Any, p: int | Variable) -> str:
    """An int64 C expression for a slice bound or step (uint64 saturates at INT64_MAX)."""
    if isinstance(p, int):
        return _i64(p)
    dtype = p.type.dtype
    ref = f"*(const {C_TYPES[dtype]} *){ctx.d(p)}"
    if dtype == "uint64":
        return f"(int64_t)(({ref}) > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : ({ref}))"
    return f"(int64_t)({ref})"


def _slice_lines(ctx: Any, n: str, parts: tuple, first: str, length: str, step: str) -> list[str]:
    """C setting ``first``/``length`` (and the int64 ``step``) of slice ``parts`` on an
    axis of length ``n``; a symbolic step of 0 is perform's ValueError."""
    start, stop, st = parts
    lines = [f"const int64_t {step} = {_value(ctx, 1 if st is None else st)};"]
    if isinstance(st, Variable):
        lines.append(f"if ({step} == 0) " + ctx.fail("TL_VALUE_ERROR", "slice step cannot be zero"))
    b = "0" if start is None else _value(ctx, start)
    e = "0" if stop is None else _value(ctx, stop)
    lines.append(f"tl_sub_slice({n}, {int(start is not None)}, {b}, {int(stop is not None)}, {e}, "
                 f"{step}, &{first}, &{length});")
    return lines


def _is_full(parts: tuple) -> bool:
    start, stop, step = parts
    return start is None and stop is None and step in (None, 1)


def _int_index_lines(ctx: Any, node: Apply, p: int | Variable, axis: int, x: Variable,
                     out: str) -> list[str]:
    """C checking the axis-dropping index ``p`` against ``x``'s axis (IndexError naming
    the op) and setting the int64 ``out`` to it, made non-negative."""
    n = f"{ctx.sh(x)}[{axis}]"

    def fail(is_signed: int, i: str, u: str) -> str:
        return (f"{{ rc = tl_sub_index_error(err, {ctx.op_literal(node)}, {is_signed}, {i}, {u}, {axis}, "
                f"{n}, {x.ndim}, {ctx.sh(x)}); {ctx.fail_here()} }}")

    if isinstance(p, Variable) and p.type.dtype == "uint64":
        return [f"const uint64_t {out}u = *(const uint64_t *){ctx.d(p)};",
                f"if ({out}u >= (uint64_t){n}) " + fail(0, "0", f"{out}u"),
                f"const int64_t {out} = (int64_t){out}u;"]
    value = _i64(p) if isinstance(p, int) else f"(int64_t)*(const {C_TYPES[p.type.dtype]} *){ctx.d(p)}"
    return [f"int64_t {out} = {value};",
            f"if ({out} < -{n} || {out} >= {n}) " + fail(1, out, "0"),
            f"if ({out} < 0) {out} += {n};"]


def _rows_bounds_lines(ctx: Any, node: Apply, x: Variable, idx: Variable) -> list[str]:
    """C checking every entry of the index vector ``idx`` against ``x``'s first axis before
    anything is written; reports what perform reports. Declares ip_, is_, m_, n_."""
    op = ctx.op_literal(node)
    lines = [f"const char *ip_ = {ctx.d(idx)};",
             f"const int64_t is_ = {ctx.st(idx)}[0], m_ = {ctx.sh(idx)}[0], n_ = {ctx.sh(x)}[0];"]
    shape = f"{x.ndim}, {ctx.sh(x)}"
    if idx.type.dtype == "uint64":
        return lines + [
            "uint64_t hi_ = 0;",
            "for (int64_t k = 0; k < m_; k++) { uint64_t v = *(const uint64_t *)(ip_ + k * is_);"
            " if (v > hi_) hi_ = v; }",
            f"if (m_ > 0 && hi_ >= (uint64_t)n_) {{ rc = tl_sub_index_error(err, {op}, 0, 0, hi_, 0, n_, "
            f"{shape}); {ctx.fail_here()} }}"]
    ct = C_TYPES[idx.type.dtype]
    return lines + [
        "int64_t lo_ = INT64_MAX, hi_ = INT64_MIN;",
        f"for (int64_t k = 0; k < m_; k++) {{ int64_t v = (int64_t)*(const {ct} *)(ip_ + k * is_);"
        " if (v < lo_) lo_ = v; if (v > hi_) hi_ = v; }",
        f"if (m_ > 0 && (lo_ < -n_ || hi_ >= n_)) {{ rc = tl_sub_index_error(err, {op}, 1, "
        f"lo_ < -n_ ? lo_ : hi_, 0, 0, n_, {shape}); {ctx.fail_here()} }}"]


def _row(idx: Variable) -> str:
    """C for entry k of the checked index vector as a non-negative int64 (``i_``)."""
    ct = C_TYPES[idx.type.dtype]
    return f"int64_t i_ = (int64_t)*(const {ct} *)(ip_ + k * is_); if (i_ < 0) i_ += n_;"


# ----------------------------------------------------------------------------- updates

def _add(p: str, q: str, dtype: str) -> str:
    """``p + q`` in ``dtype`` as numpy's add (bool: or; ints wrap)."""
    if dtype == "bool":
        return f"(tl_bool)(({p}) | ({q}))"
    if np.dtype(dtype).kind == "f":
        return f"(({p}) + ({q}))"
    return f"tl_add_{_SUFFIX[dtype]}({p}, {q})"


def _value_check_lines(ctx: Any, node: Apply, y: Variable, rnd: int, rsh: str) -> list[str]:
    flags = ", ".join(str(int(b)) for b in y.broadcastable) or "0"
    verb = "set" if node.op.set_instead_of_inc else "increment"
    return [f"static const unsigned char ybc_[{max(y.ndim, 1)}] = {{{flags}}};",
            f"rc = tl_sub_check_value({rnd}, {rsh}, {y.ndim}, {ctx.sh(y)}, ybc_, err, "
            f"{ctx.op_literal(node)}, \"{verb}\");",
            f"if (rc) {ctx.fail_here()}"]


def _copy_lines(ctx: Any, x: Variable, out: Variable) -> list[str]:
    """Copy ``x`` into the output unless the segment writes the output in place."""
    if ctx.is_inplace(out):
        return []
    isz = np.dtype(x.type.dtype).itemsize
    return [f"tl_sub_copy({x.ndim}, {ctx.sh(x)}, {ctx.d(x)}, {ctx.st(x)}, {ctx.d(out)}, "
            f"{ctx.st(out)}, {isz});"]


# ----------------------------------------------------------------------------- entries

class _Entry(CEntry):
    version: tuple = (1,)

    def node_version(self, node: Apply) -> tuple:
        return self.version + (HELPERS_VERSION,)

    def supports(self, node: Apply) -> bool:
        return all(v.type.dtype in C_TYPES for v in node.inputs + node.outputs)

    def destroys(self, node: Apply) -> dict[int, int]:
        return {0: 0} if getattr(node.op, "inplace", False) else {}

    def module_code(self) -> tuple[str, str]:
        return template.load("subtensor.c"), ""

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        return ""


class _UpdateEntry(_Entry):
    """An Inc op: its update kernel comes from ``subtensor_update.c``."""

    def update(self, node: Apply) -> str:
        raise NotImplementedError

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        x, y = node.inputs[0], node.inputs[1]
        return template.fill(
            template.load("subtensor_update.c"), name=name,
            comment=f"{node.op} ({x.type.dtype}, {y.type.dtype})".replace("*/", "* /"),
            x_type=C_TYPES[x.type.dtype], y_type=C_TYPES[y.type.dtype], update=self.update(node))

    def shape_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        if not x.ndim:
            return ""
        return f"memcpy({ctx.sh(out)}, {ctx.sh(x)}, sizeof(int64_t) * {x.ndim});"


class SubtensorC(_Entry):
    """``x[idx_list]``: a view (see the module docstring for what is supported)."""

    version = (1,)

    def supports(self, node: Apply) -> bool:
        if not super().supports(node):
            return False
        for e in _entries(node, 1):
            if isinstance(e, tuple):
                if any(isinstance(p, Variable) for p in e) or e[2] == 0:
                    return False  # shape depends on a value; or perform's ValueError
        return True

    def views(self, node: Apply) -> dict[int, int]:
        return {0: 0}

    def shape_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        lines, o = [], 0
        for d, e in enumerate(_entries(node, 1)):
            if not isinstance(e, tuple):
                continue
            n, s = f"{ctx.sh(x)}[{d}]", f"{ctx.st(x)}[{d}]"
            if _is_full(e):
                lines.append(f"{ctx.sh(out)}[{o}] = {n}; {ctx.st(out)}[{o}] = {s};")
            else:
                lines.append(_block(["int64_t f_ = 0, len_ = 0;"] + _slice_lines(ctx, n, e, "f_", "len_", "step_")
                                    + [f"{ctx.sh(out)}[{o}] = len_; "
                                       f"{ctx.st(out)}[{o}] = tl_sub_stride({s}, step_, len_);"]))
            o += 1
        return _block(lines)

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, out = node.inputs[0], node.outputs[0]
        lines = [f"char *p_ = {ctx.d(x)};"]
        for d, e in enumerate(_entries(node, 1)):
            s = f"{ctx.st(x)}[{d}]"
            if not isinstance(e, tuple):
                lines.append(_block(_int_index_lines(ctx, node, e, d, x, "i_") + [f"p_ += i_ * {s};"]))
            elif e[0] is not None or (e[2] is not None and e[2] < 0):
                lines.append(_block(["int64_t f_ = 0, len_ = 0;"]
                                    + _slice_lines(ctx, f"{ctx.sh(x)}[{d}]", e, "f_", "len_", "step_")
                                    + [f"if (len_ > 0) p_ += f_ * {s};"]))
        lines.append(f"{ctx.d(out)} = p_;")
        return _block(lines)


class IncSubtensorC(_UpdateEntry):
    """``set_subtensor`` / ``inc_subtensor`` on a basic index, any symbolic pieces."""

    version = (1, SCALAR_C_VERSION)

    def update(self, node: Apply) -> str:
        xt, yt = node.inputs[0].type.dtype, node.inputs[1].type.dtype
        if node.op.set_instead_of_inc:
            return cast_expr("b", yt, xt)
        common = np.result_type(np.dtype(xt), np.dtype(yt)).name
        return cast_expr(_add(cast_expr("a", xt, common), cast_expr("b", yt, common), common), common, xt)

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, y, out = node.inputs[0], node.inputs[1], node.outputs[0]
        entries = _entries(node, 2)
        rnd = sum(1 for e in entries if isinstance(e, tuple))
        cap = max(rnd, 1)
        lines = [f"char *p_ = {ctx.d(out)};",
                 f"int64_t rsh_[{cap}] = {{0}}, rst_[{cap}] = {{0}}, yst_[{cap}] = {{0}};"]
        r = 0
        for d, e in enumerate(entries):
            s = f"{ctx.st(out)}[{d}]"
            if not isinstance(e, tuple):
                lines.append(_block(_int_index_lines(ctx, node, e, d, x, "i_") + [f"p_ += i_ * {s};"]))
                continue
            if _is_full(e):
                lines.append(f"rsh_[{r}] = {ctx.sh(x)}[{d}]; rst_[{r}] = {s};")
            else:
                lines.append(_block(["int64_t f_ = 0, len_ = 0;"]
                                    + _slice_lines(ctx, f"{ctx.sh(x)}[{d}]", e, "f_", "len_", "step_")
                                    + [f"rsh_[{r}] = len_; rst_[{r}] = tl_sub_stride({s}, step_, len_);",
                                       f"if (len_ > 0) p_ += f_ * {s};"]))
            r += 1
        lines += _value_check_lines(ctx, node, y, rnd, "rsh_")
        off = rnd - y.ndim
        lines += [f"yst_[{off + k}] = {ctx.sh(y)}[{k}] == rsh_[{off + k}] ? {ctx.st(y)}[{k}] : 0;"
                  for k in range(y.ndim)]
        lines += _copy_lines(ctx, x, out)
        lines.append(f"{ctx.kernel_name(node)}({rnd}, rsh_, p_, rst_, {ctx.d(y)}, yst_);")
        return _block(lines)


class AdvancedSubtensor1C(_Entry):
    """``x[ilist]``: gather rows of ``x`` (a copy)."""

    version = (1,)

    def shape_code(self, node: Apply, ctx: Any) -> str:
        x, idx = node.inputs
        out = node.outputs[0]
        lines = [f"{ctx.sh(out)}[0] = {ctx.sh(idx)}[0];"]
        lines += [f"{ctx.sh(out)}[{d}] = {ctx.sh(x)}[{d}];" for d in range(1, x.ndim)]
        return _block(lines)

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, idx = node.inputs
        out = node.outputs[0]
        ct = C_TYPES[x.type.dtype]
        lines = _rows_bounds_lines(ctx, node, x, idx)
        src = f"{ctx.d(x)} + i_ * {ctx.st(x)}[0]"
        dst = f"{ctx.d(out)} + k * {ctx.st(out)}[0]"
        if x.ndim == 1:
            copy = f"*({ct} *)({dst}) = *(const {ct} *)({src});"
        else:
            isz = np.dtype(x.type.dtype).itemsize
            copy = (f"tl_sub_copy({x.ndim - 1}, {ctx.sh(x)} + 1, {src}, {ctx.st(x)} + 1, {dst}, "
                    f"{ctx.st(out)} + 1, {isz});")
        lines.append(f"for (int64_t k = 0; k < m_; k++) {{ {_row(idx)} {copy} }}")
        return _block(lines)


class AdvancedIncSubtensor1C(_UpdateEntry):
    """``inc``/``set`` of rows ``ilist`` of ``x``, row by row in index order."""

    version = (1, SCALAR_C_VERSION)

    def update(self, node: Apply) -> str:
        xt, yt = node.inputs[0].type.dtype, node.inputs[1].type.dtype
        b = cast_expr("b", yt, xt)  # perform casts y to x's dtype first
        return b if node.op.set_instead_of_inc else _add("a", b, xt)

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, y, idx = node.inputs
        out = node.outputs[0]
        nd = x.ndim
        lines = _rows_bounds_lines(ctx, node, x, idx)
        lines.append(f"int64_t rsh_[{nd}] = {{0}}, yrow_[{max(nd - 1, 1)}] = {{0}}, ys0_ = 0;")
        lines.append("rsh_[0] = m_;" + "".join(f" rsh_[{d}] = {ctx.sh(x)}[{d}];" for d in range(1, nd)))
        lines += _value_check_lines(ctx, node, y, nd, "rsh_")
        if y.ndim == nd:
            lines.append(f"ys0_ = {ctx.sh(y)}[0] == m_ ? {ctx.st(y)}[0] : 0;")
        for r in range(nd - 1):
            dy = r + 1 - (nd - y.ndim)
            if dy >= 0:
                lines.append(f"yrow_[{r}] = {ctx.sh(y)}[{dy}] == rsh_[{r + 1}] ? {ctx.st(y)}[{dy}] : 0;")
        lines += _copy_lines(ctx, x, out)
        dst = f"{ctx.d(out)} + i_ * {ctx.st(out)}[0]"
        src = f"{ctx.d(y)} + k * ys0_"
        if nd == 1:
            xt, yt = C_TYPES[x.type.dtype], C_TYPES[y.type.dtype]
            body = (f"{xt} *o_ = ({xt} *)({dst}); const {xt} a = *o_; const {yt} b = *(const {yt} *)({src}); "
                    f"(void)a; *o_ = {self.update(node)};")
        else:
            body = (f"{ctx.kernel_name(node)}({nd - 1}, {ctx.sh(x)} + 1, {dst}, {ctx.st(out)} + 1, "
                    f"{src}, yrow_);")
        lines.append(f"for (int64_t k = 0; k < m_; k++) {{ {_row(idx)} {body} }}")
        return _block(lines)


def register_entries(register: Callable[[type, Any], None]) -> None:
    from theanolite.tensor.subtensor import IncSubtensor, Subtensor
    from theanolite.tensor.subtensor_advanced import AdvancedIncSubtensor1, AdvancedSubtensor1
    register(Subtensor, SubtensorC())
    register(IncSubtensor, IncSubtensorC())
    register(AdvancedSubtensor1, AdvancedSubtensor1C())
    register(AdvancedIncSubtensor1, AdvancedIncSubtensor1C())
