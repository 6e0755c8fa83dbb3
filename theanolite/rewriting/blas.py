"""Specialization onto BLAS shapes: ``Z + a*dot(X, Y)`` -> gemm, gemv or ger.

One BLAS call then does the multiply, the scaling and the accumulation (an SGD update
``W - lr * dot(x.T, g)`` becomes a single gemm), instead of a product, a temporary and an
elementwise pass.
"""
from __future__ import annotations

from typing import Any

from theanolite.rewriting.db import register
from theanolite.rewriting.inplace import can_destroy
from theanolite.rewriting.utils import as_type_of, is_elemwise, literal
from theanolite.scalar import basic as scal
from theanolite.tensor import math as tm
from theanolite.tensor.basic import cast
from theanolite.tensor.blas import Gemm, Gemv, Ger, gemm_no_inplace, gemv_no_inplace, ger_no_inplace
from theanolite.tensor.elemwise import DimShuffle
from theanolite.tensor.linalg import Dot


def _as_0d(var: Any, dtype: str) -> Any:
    if var.ndim:
        if not all(var.broadcastable):
            return None
        var = DimShuffle(var.broadcastable, ())(var)
    return var if var.dtype == dtype else cast(var, dtype)


def _scaled_dot(fgraph, term) -> tuple | None:
    """(a, dot node) when ``term`` is dot(...), -dot(...) or c*dot(...) used only here."""
    scale = None
    node = term.owner
    if is_elemwise(term, scal.Neg):
        inner = term.owner.inputs[0]
        scale, node = -1.0, inner.owner
        if len(fgraph.clients.get(inner, [])) != 1:
            return None
    elif is_elemwise(term, scal.Mul) and len(term.owner.inputs) == 2:
        a, b = term.owner.inputs
        if b.owner is not None and isinstance(b.owner.op, Dot):
            scale, node = a, b.owner
        elif a.owner is not None and isinstance(a.owner.op, Dot):
            scale, node = b, a.owner
        else:
            return None
        if len(fgraph.clients.get(node.outputs[0], [])) != 1:
            return None
    if node is None or not isinstance(node.op, Dot):
        return None
    if scale is None:
        if len(fgraph.clients.get(term, [])) != 1:
            return None
        scale = 1.0
    out = node.outputs[0]
    if out.dtype not in ("float32", "float64"):
        return None
    a = literal(scale, out.dtype) if isinstance(scale, float) else _as_0d(scale, out.dtype)
    if a is None or term.dtype != out.dtype:
        return None
    return a, node


def _blas_call(z, a, node, b):
    """The gemm/gemv/ger applying ``z*b + a*dot`` for the Dot ``node``, or None."""
    x, y = node.inputs
    out = node.outputs[0]
    if z.dtype != out.dtype or z.ndim != out.ndim or z.broadcastable != out.broadcastable:
        return None
    beta = literal(b, out.dtype)
    if out.ndim == 2 and x.ndim == 2 and y.ndim == 2:
        outer_x, outer_y = _outer_operands(x, y)
        if outer_x is not None and b == 1.0:
            return ger_no_inplace(z, a, outer_x, outer_y)
        return gemm_no_inplace(z, a, x, y, beta)
    if out.ndim == 1 and x.ndim == 2 and y.ndim == 1:
        return gemv_no_inplace(z, a, x, y, beta)
    if out.ndim == 1 and x.ndim == 1 and y.ndim == 2:
        return gemv_no_inplace(z, a, y.T, x, beta)
    return None


def _outer_operands(x, y):
    """(u, v) when dot(x, y) is outer(u, v), i.e. x = u[:, None] and y = v[None, :]."""
    if (x.owner is not None and isinstance(x.owner.op, DimShuffle) and x.owner.op.new_order == (0, "x")
            and y.owner is not None and isinstance(y.owner.op, DimShuffle) and y.owner.op.new_order == ("x", 0)):
        return x.owner.inputs[0], y.owner.inputs[0]
    return None, None


@register("specialize", "blas", "gemm", tracks=[scal.Add])
def local_add_to_gemm(fgraph, node):
    """Z + a*dot(X, Y) (any term order) -> gemm/gemv/ger(Z, a, X, Y, 1)."""
    terms = node.inputs
    for k, term in enumerate(terms):
        found = _scaled_dot(fgraph, term)
        if found is None:
            continue
        a, dot_node = found
        rest = [t for j, t in enumerate(terms) if j != k]
        z = rest[0] if len(rest) == 1 else tm.add(*rest)
        call = _blas_call(z, a, dot_node, 1.0)
        if call is not None:
            return [as_type_of(call, node.outputs[0])]
    return None


@register("specialize", "blas", "gemm", tracks=[scal.Sub])
def local_sub_to_gemm(fgraph, node):
    """Z - a*dot(X, Y) -> gemm(Z, -a, X, Y, 1); a*dot(X, Y) - Z -> gemm(Z, a, X, Y, -1)."""
    z, term = node.inputs
    found = _scaled_dot(fgraph, term)
    if found is not None:
        a, dot_node = found
        call = _blas_call(z, tm.neg(a), dot_node, 1.0)
        if call is not None:
            return [as_type_of(call, node.outputs[0])]
    term, z = node.inputs
    found = _scaled_dot(fgraph, term)
    if found is not None:
        a, dot_node = found
        call = _blas_call(z, a, dot_node, -1.0)
        if call is not None:
            return [as_type_of(call, node.outputs[0])]
    return None


@register("inplace", "inplace", "blas_inplace", tracks=[Gemm, Gemv, Ger])
def local_blas_inplace(fgraph, node):
    """Accumulate into Z's buffer when nothing else needs Z."""
    if node.op.inplace or not can_destroy(fgraph, node.inputs[0], node):
        return None
    return type(node.op)(inplace=True).make_node(*node.inputs).outputs
