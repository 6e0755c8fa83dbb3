"""C for ``Dot``, ``Gemm``, ``Gemv`` and ``Ger`` through a real BLAS (never a loop of ours).

Which BLAS: the one numpy already loaded. The generated module links none; at load time
``set_blas_pointers`` hands it the addresses of the CBLAS routines (``blas.c``). Reasons:
no new dependency (the ``scipy-openblas32`` wheel would add ~30 MB and a second OpenBLAS
thread pool competing with numpy's on the same cores), no ``-l``/rpath in the cached
module (it stays valid wherever BLAS lives, which keeps bundles portable), 64-bit
integers (numpy's bundled OpenBLAS is ILP64: no 2**31 limits), and the exact routines
``perform``'s ``np.dot`` calls, so C and Python agree. numpy's wheel exports them only as
``scipy_cblas_*64_``; other layouts (a scipy-openblas wheel, a system CBLAS already in
the process) are found too. Without any BLAS these ops simply run ``perform``.

Operands BLAS cannot address (negative/zero strides) are copied into node scratch;
results written in place into a non-row-major buffer go through scratch too.
"""
from __future__ import annotations

import ctypes
import functools
import glob
import os
from typing import Any, Callable, Iterator

import numpy as np

from theanolite.ccodegen import template
from theanolite.ccodegen.elemwise_c import _block
from theanolite.ccodegen.scalar_c import C_TYPES
from theanolite.graph.basic import Apply
from theanolite.ccodegen.registry import CEntry

_ROUTINES = ("dgemm", "sgemm", "dgemv", "sgemv", "ddot", "sdot", "dger", "sger")


@functools.lru_cache(maxsize=None)
def find_blas() -> tuple[int, tuple[int, ...]] | None:
    """(ilp64 flag, addresses of the CBLAS routines in ``_ROUTINES`` order), or None."""
    for path, pattern, ilp64 in _blas_candidates():
        try:
            lib = ctypes.CDLL(path)
            addrs = tuple(ctypes.cast(getattr(lib, pattern.format(r)), ctypes.c_void_p).value
                          for r in _ROUTINES)
        except (OSError, AttributeError):
            continue
        if all(addrs):
            return ilp64, addrs
    return None


def _blas_candidates() -> Iterator[tuple[str | None, str, int]]:
    """(library path or None for the process, symbol pattern, ilp64), in order of
    preference. A generator: ``find_library`` runs compiler and ldconfig subprocesses
    (~40 ms), so it is asked only when numpy's own BLAS was not found."""
    numpy_libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(numpy_libs, "libscipy_openblas64_*.so"))):
        yield path, "scipy_cblas_{}64_", 1
    for pkg, pattern, ilp64 in (("scipy_openblas64", "scipy_cblas_{}64_", 1),
                                ("scipy_openblas32", "scipy_cblas_{}", 0)):
        try:
            mod = __import__(pkg)
            paths = sorted(glob.glob(os.path.join(mod.get_lib_dir(), "*.so*")))
        except (ImportError, AttributeError):
            continue
        for path in paths:
            yield path, pattern, ilp64
    yield None, "cblas_{}", 0  # a CBLAS already loaded in the process
    import ctypes.util
    for name in ("cblas", "openblas", "blas"):
        found = ctypes.util.find_library(name)
        if found:
            yield found, "cblas_{}", 0


def blas_available() -> bool:
    return find_blas() is not None


def set_blas_pointers(module: Any) -> None:
    """Give a loaded module the BLAS routines (a no-op for modules without BLAS nodes)."""
    setter = getattr(module.lib, "tl_set_blas", None)
    found = find_blas()
    if setter is None or found is None:
        return
    ilp64, addrs = found
    ffi = module.ffi
    setter(ilp64, *[ffi.cast("void *", a) for a in addrs])


def _float(*dtypes: str) -> bool:
    return len(set(dtypes)) == 1 and dtypes[0] in ("float32", "float64")


class _BlasEntry(CEntry):
    """Shared parts: module code, BLAS availability, scalar reads."""

    version = (1,)

    def destroys(self, node: Apply) -> dict[int, int]:
        return dict((o, i[0]) for o, i in getattr(node.op, "destroy_map", {}).items())

    def module_code(self) -> tuple[str, str]:
        decl = ("void tl_set_blas(int ilp64, void *dgemm, void *sgemm, void *dgemv, void *sgemv, "
                "void *ddot, void *sdot, void *dger, void *sger);")
        return template.load("blas.c"), decl

    def support_code(self, node: Apply, name: str, aliased: set[int]) -> str:
        return ""

    @staticmethod
    def _t(node: Apply) -> tuple[str, str, int]:
        dtype = node.outputs[0].type.dtype
        return C_TYPES[dtype], "d" if dtype == "float64" else "s", np.dtype(dtype).itemsize

    @staticmethod
    def _scalar(ctx: Any, var: Any, ct: str) -> str:
        return f"(({ct})*(const {C_TYPES[var.type.dtype]} *){ctx.d(var)})"

    def _prologue(self, ctx: Any) -> list[str]:
        return [f"char *scr = {ctx.scratch_begin()}, *end = {ctx.scratch_end()};", "(void)end;",
                "if (!tl_blas.ready) " + ctx.fail("TL_RUNTIME_ERROR", "no BLAS routines were loaded")]

    @staticmethod
    def _need(ctx: Any, ok: str) -> str:
        return f"if (!({ok})) " + ctx.fail("TL_RUNTIME_ERROR", "BLAS scratch space too small (internal error)")


class DotC(_BlasEntry):
    """numpy.dot on float32/float64 vectors and matrices: gemm, gemv or dot."""

    def supports(self, node: Apply) -> bool:
        return blas_available() and _float(*[v.type.dtype for v in node.inputs + node.outputs])

    def shape_code(self, node: Apply, ctx: Any) -> str:
        x, y = node.inputs
        out = node.outputs[0]
        kx, ky = f"{ctx.sh(x)}[{x.ndim - 1}]", f"{ctx.sh(y)}[0]"
        # perform's words ("Dot: shapes ... are not aligned ...")
        lines = [f"if ({kx} != {ky}) {{ tl_dot_mismatch(err, \"Dot\", {x.ndim}, "
                 f"{ctx.sh(x)}, {y.ndim}, {ctx.sh(y)}); rc = TL_VALUE_ERROR; {ctx.fail_here()} }}"]
        dims = [f"{ctx.sh(x)}[0]"] * (x.ndim == 2) + [f"{ctx.sh(y)}[1]"] * (y.ndim == 2)
        lines += [f"{ctx.sh(out)}[{i}] = {d};" for i, d in enumerate(dims)]
        return _block(lines)

    def scratch_code(self, node: Apply, ctx: Any) -> str:
        x, y = node.inputs
        _, _, isz = self._t(node)
        parts = [self._operand_scratch(ctx, v, isz) for v in (x, y)]
        return f"{ctx.scratch_var()} = {' + '.join(parts)};"

    @staticmethod
    def _operand_scratch(ctx: Any, v: Any, isz: int) -> str:
        sh, st = ctx.sh(v), ctx.st(v)
        if v.ndim == 2:
            return f"tl_blas_matrix_scratch({sh}[0], {sh}[1], {st}[0], {st}[1], {isz})"
        return f"tl_blas_vector_scratch({sh}[0], {st}[0], {isz})"

    def run_code(self, node: Apply, ctx: Any) -> str:
        x, y = node.inputs
        out = node.outputs[0]
        ct, p, isz = self._t(node)
        X, Y, O = ctx.d(x), ctx.d(y), ctx.d(out)
        shx, stx, shy, sty = ctx.sh(x), ctx.st(x), ctx.sh(y), ctx.st(y)
        lines = self._prologue(ctx)
        mat = "tl_blas_matrix({r}, {c}, {d}, {st}[0], {st}[1], %d, &scr, end, &{t}, &{ld})" % isz
        vec = "tl_blas_vector({n}, {d}, {st}[0], %d, &scr, end, &{inc})" % isz
        if x.ndim == 2 and y.ndim == 2:
            lines += [
                f"int64_t m = {shx}[0], k = {shx}[1], n = {shy}[1], lda, ldb; int ta, tb;",
                "if (m > 0 && n > 0) {",
                f"    if (k == 0) memset({O}, 0, (size_t)(m * n * {isz}));",
                "    else {",
                f"        const char *A = {mat.format(r='m', c='k', d=X, st=stx, t='ta', ld='lda')};",
                f"        const char *B = {mat.format(r='k', c='n', d=Y, st=sty, t='tb', ld='ldb')};",
                "        " + self._need(ctx, "A && B"),
                f"        tl_{p}gemm(ta, tb, m, n, k, 1, (const {ct} *)A, lda, (const {ct} *)B, ldb, 0,"
                f" ({ct} *){O}, n);",
                "    }",
                "}",
            ]
        elif x.ndim == 2:  # matrix . vector
            lines += [
                f"int64_t m = {shx}[0], k = {shx}[1], lda, incx; int ta;",
                "if (m > 0) {",
                f"    if (k == 0) memset({O}, 0, (size_t)(m * {isz}));",
                "    else {",
                f"        const char *A = {mat.format(r='m', c='k', d=X, st=stx, t='ta', ld='lda')};",
                f"        const char *v = {vec.format(n='k', d=Y, st=sty, inc='incx')};",
                "        " + self._need(ctx, "A && v"),
                f"        if (ta == TL_NO_TRANS) tl_{p}gemv(TL_NO_TRANS, m, k, 1, (const {ct} *)A, lda,"
                f" (const {ct} *)v, incx, 0, ({ct} *){O}, 1);",
                f"        else tl_{p}gemv(TL_TRANS, k, m, 1, (const {ct} *)A, lda, (const {ct} *)v, incx,"
                f" 0, ({ct} *){O}, 1);",
                "    }",
                "}",
            ]
        elif y.ndim == 2:  # vector . matrix
            lines += [
                f"int64_t k = {shy}[0], n = {shy}[1], ldb, incx; int tb;",
                "if (n > 0) {",
                f"    if (k == 0) memset({O}, 0, (size_t)(n * {isz}));",
                "    else {",
                f"        const char *B = {mat.format(r='k', c='n', d=Y, st=sty, t='tb', ld='ldb')};",
                f"        const char *v = {vec.format(n='k', d=X, st=stx, inc='incx')};",
                "        " + self._need(ctx, "B && v"),
                f"        if (tb == TL_NO_TRANS) tl_{p}gemv(TL_TRANS, k, n, 1, (const {ct} *)B, ldb,"
                f" (const {ct} *)v, incx, 0, ({ct} *){O}, 1);",
                f"        else tl_{p}gemv(TL_NO_TRANS, n, k, 1, (const {ct} *)B, ldb, (const {ct} *)v, incx,"
                f" 0, ({ct} *){O}, 1);",
                "    }",
                "}",
            ]
        else:  # vector . vector
            lines += [
                f"int64_t k = {shx}[0], incx, incy;",
                f"{ct} r = 0;",
                "if (k > 0) {",
                f"    const char *a = {vec.format(n='k', d=X, st=stx, inc='incx')};",
                f"    const char *b = {vec.format(n='k', d=Y, st=sty, inc='incy')};",
                "    " + self._need(ctx, "a && b"),
                f"    r = tl_{p}dot(k, (const {ct} *)a, incx, (const {ct} *)b, incy);",
                "}",
                f"*({ct} *){O} = r;",
            ]
        return _block(lines)


class GemmC(_BlasEntry):
    """gemm(Z, a, X, Y, b) = b*Z + a*dot(X, Y): one dgemm/sgemm call."""

    def supports(self, node: Apply) -> bool:
        z, a, x, y, b = node.inputs
        return (blas_available() and _float(z.type.dtype, x.type.dtype, y.type.dtype, node.outputs[0].type.dtype)
                and a.type.dtype in C_TYPES and b.type.dtype in C_TYPES)

    def shape_code(self, node: Apply, ctx: Any) -> str:
        z, _, x, y, _ = node.inputs
        out = node.outputs[0]
        zs, xs, ys = ctx.sh(z), ctx.sh(x), ctx.sh(y)
        bad = f"{xs}[1] != {ys}[0] || {zs}[0] != {xs}[0] || {zs}[1] != {ys}[1]"
        msg = "shapes Z(%lld, %lld), X(%lld, %lld), Y(%lld, %lld) do not agree"
        args = [f"(long long){s}[{i}]" for s in (zs, xs, ys) for i in (0, 1)]
        return _block([f"if ({bad}) " + ctx.fail("TL_VALUE_ERROR", msg, *args),
                       f"{ctx.sh(out)}[0] = {zs}[0]; {ctx.sh(out)}[1] = {zs}[1];"])

    def scratch_code(self, node: Apply, ctx: Any) -> str:
        _, _, x, y, _ = node.inputs
        out = node.outputs[0]
        _, _, isz = self._t(node)
        parts = [DotC._operand_scratch(ctx, v, isz) for v in (x, y)]
        so, to = ctx.sh(out), ctx.st(out)
        parts.append(f"tl_blas_out_scratch({so}[0], {so}[1], {to}[0], {to}[1], {isz})")
        return f"{ctx.scratch_var()} = {' + '.join(parts)};"

    def run_code(self, node: Apply, ctx: Any) -> str:
        z, a, x, y, b = node.inputs
        out = node.outputs[0]
        ct, p, isz = self._t(node)
        so, to, O = ctx.sh(out), ctx.st(out), ctx.d(out)
        mat = "tl_blas_matrix({r}, {c}, {d}, {st}[0], {st}[1], %d, &scr, end, &{t}, &{ld})" % isz
        lines = self._prologue(ctx) + [
            f"const {ct} alpha = {self._scalar(ctx, a, ct)}, beta = {self._scalar(ctx, b, ct)};",
            f"int64_t m = {so}[0], n = {so}[1], k = {ctx.sh(x)}[1], lda, ldb, ldc; int ta, tb, spill;",
            "if (m > 0 && n > 0) {",
            f"    char *C = tl_blas_out(m, n, {O}, {to}[0], {to}[1], {ctx.d(z)}, {ctx.st(z)}[0], "
            f"{ctx.st(z)}[1], beta != 0, {isz}, &scr, end, &ldc, &spill);",
            "    " + self._need(ctx, "C"),
            "    if (k == 0) {",
            "        for (int64_t i = 0; i < m; i++) for (int64_t j = 0; j < n; j++) {",
            f"            {ct} *c = ({ct} *)C + i * ldc + j;",
            f"            *c = beta != 0 ? beta * *c : ({ct})0;",
            "        }",
            "    } else {",
            f"        const char *A = {mat.format(r='m', c='k', d=ctx.d(x), st=ctx.st(x), t='ta', ld='lda')};",
            f"        const char *B = {mat.format(r='k', c='n', d=ctx.d(y), st=ctx.st(y), t='tb', ld='ldb')};",
            "        " + self._need(ctx, "A && B"),
            f"        tl_{p}gemm(ta, tb, m, n, k, alpha, (const {ct} *)A, lda, (const {ct} *)B, ldb, beta,"
            f" ({ct} *)C, ldc);",
            "    }",
            f"    tl_blas_out_done(m, n, {O}, {to}[0], {to}[1], C, ldc, {isz}, spill);",
            "}",
        ]
        return _block(lines)


class GemvC(_BlasEntry):
    """gemv(z, a, A, x, b) = b*z + a*dot(A, x): one dgemv/sgemv call."""

    def supports(self, node: Apply) -> bool:
        z, a, A, x, b = node.inputs
        return (blas_available() and _float(z.type.dtype, A.type.dtype, x.type.dtype, node.outputs[0].type.dtype)
                and a.type.dtype in C_TYPES and b.type.dtype in C_TYPES)

    def shape_code(self, node: Apply, ctx: Any) -> str:
        z, _, A, x, _ = node.inputs
        zs, As, xs = ctx.sh(z), ctx.sh(A), ctx.sh(x)
        msg = "shapes z(%lld,), A(%lld, %lld), x(%lld,) do not agree"
        args = [f"(long long){zs}[0]", f"(long long){As}[0]", f"(long long){As}[1]", f"(long long){xs}[0]"]
        return _block([f"if ({As}[1] != {xs}[0] || {zs}[0] != {As}[0]) " + ctx.fail("TL_VALUE_ERROR", msg, *args),
                       f"{ctx.sh(node.outputs[0])}[0] = {zs}[0];"])

    def scratch_code(self, node: Apply, ctx: Any) -> str:
        _, _, A, x, _ = node.inputs
        out = node.outputs[0]
        _, _, isz = self._t(node)
        parts = [DotC._operand_scratch(ctx, v, isz) for v in (A, x)]
        parts.append(f"tl_blas_out_scratch({ctx.sh(out)}[0], 1, {ctx.st(out)}[0], {isz}, {isz})")
        return f"{ctx.scratch_var()} = {' + '.join(parts)};"

    def run_code(self, node: Apply, ctx: Any) -> str:
        z, a, A, x, b = node.inputs
        out = node.outputs[0]
        ct, p, isz = self._t(node)
        O = ctx.d(out)
        mat = f"tl_blas_matrix(m, k, {ctx.d(A)}, {ctx.st(A)}[0], {ctx.st(A)}[1], {isz}, &scr, end, &ta, &lda)"
        vec = f"tl_blas_vector(k, {ctx.d(x)}, {ctx.st(x)}[0], {isz}, &scr, end, &incx)"
        lines = self._prologue(ctx) + [
            f"const {ct} alpha = {self._scalar(ctx, a, ct)}, beta = {self._scalar(ctx, b, ct)};",
            f"int64_t m = {ctx.sh(A)}[0], k = {ctx.sh(A)}[1], lda, incx, incy; int ta, spill;",
            "if (m > 0) {",
            f"    char *Y = tl_blas_out(m, 1, {O}, {ctx.st(out)}[0], {isz}, {ctx.d(z)}, {ctx.st(z)}[0], {isz},"
            f" beta != 0, {isz}, &scr, end, &incy, &spill);",
            "    " + self._need(ctx, "Y"),
            "    if (k == 0) {",
            f"        for (int64_t i = 0; i < m; i++) {{ {ct} *c = ({ct} *)Y + i * incy;"
            f" *c = beta != 0 ? beta * *c : ({ct})0; }}",
            "    } else {",
            f"        const char *M = {mat};",
            f"        const char *v = {vec};",
            "        " + self._need(ctx, "M && v"),
            f"        if (ta == TL_NO_TRANS) tl_{p}gemv(TL_NO_TRANS, m, k, alpha, (const {ct} *)M, lda,"
            f" (const {ct} *)v, incx, beta, ({ct} *)Y, incy);",
            f"        else tl_{p}gemv(TL_TRANS, k, m, alpha, (const {ct} *)M, lda, (const {ct} *)v, incx,"
            f" beta, ({ct} *)Y, incy);",
            "    }",
            f"    tl_blas_out_done(m, 1, {O}, {ctx.st(out)}[0], {isz}, Y, incy, {isz}, spill);",
            "}",
        ]
        return _block(lines)


class GerC(_BlasEntry):
    """ger(Z, a, x, y) = Z + a*outer(x, y): one dger/sger call."""

    def supports(self, node: Apply) -> bool:
        z, a, x, y = node.inputs
        return (blas_available() and _float(z.type.dtype, x.type.dtype, y.type.dtype, node.outputs[0].type.dtype)
                and a.type.dtype in C_TYPES)

    def shape_code(self, node: Apply, ctx: Any) -> str:
        z, _, x, y = node.inputs
        zs, xs, ys = ctx.sh(z), ctx.sh(x), ctx.sh(y)
        msg = "shapes Z(%lld, %lld), x(%lld,), y(%lld,) do not agree"
        args = [f"(long long){zs}[0]", f"(long long){zs}[1]", f"(long long){xs}[0]", f"(long long){ys}[0]"]
        return _block([f"if ({zs}[0] != {xs}[0] || {zs}[1] != {ys}[0]) " + ctx.fail("TL_VALUE_ERROR", msg, *args),
                       f"{ctx.sh(node.outputs[0])}[0] = {zs}[0]; {ctx.sh(node.outputs[0])}[1] = {zs}[1];"])

    def scratch_code(self, node: Apply, ctx: Any) -> str:
        _, _, x, y = node.inputs
        out = node.outputs[0]
        _, _, isz = self._t(node)
        parts = [DotC._operand_scratch(ctx, v, isz) for v in (x, y)]
        so, to = ctx.sh(out), ctx.st(out)
        parts.append(f"tl_blas_out_scratch({so}[0], {so}[1], {to}[0], {to}[1], {isz})")
        return f"{ctx.scratch_var()} = {' + '.join(parts)};"

    def run_code(self, node: Apply, ctx: Any) -> str:
        z, a, x, y = node.inputs
        out = node.outputs[0]
        ct, p, isz = self._t(node)
        so, to, O = ctx.sh(out), ctx.st(out), ctx.d(out)
        lines = self._prologue(ctx) + [
            f"const {ct} alpha = {self._scalar(ctx, a, ct)};",
            f"int64_t m = {so}[0], n = {so}[1], ldc, incx, incy; int spill;",
            "if (m > 0 && n > 0) {",
            f"    char *C = tl_blas_out(m, n, {O}, {to}[0], {to}[1], {ctx.d(z)}, {ctx.st(z)}[0], "
            f"{ctx.st(z)}[1], 1, {isz}, &scr, end, &ldc, &spill);",
            f"    const char *u = tl_blas_vector(m, {ctx.d(x)}, {ctx.st(x)}[0], {isz}, &scr, end, &incx);",
            f"    const char *v = tl_blas_vector(n, {ctx.d(y)}, {ctx.st(y)}[0], {isz}, &scr, end, &incy);",
            "    " + self._need(ctx, "C && u && v"),
            f"    tl_{p}ger(m, n, alpha, (const {ct} *)u, incx, (const {ct} *)v, incy, ({ct} *)C, ldc);",
            f"    tl_blas_out_done(m, n, {O}, {to}[0], {to}[1], C, ldc, {isz}, spill);",
            "}",
        ]
        return _block(lines)


def register_entries(register: Callable[[type, Any], None]) -> None:
    from theanolite.tensor.blas import Gemm, Gemv, Ger
    from theanolite.tensor.linalg import Dot
    register(Dot, DotC())
    register(Gemm, GemmC())
    register(Gemv, GemvC())
    register(Ger, GerC())
