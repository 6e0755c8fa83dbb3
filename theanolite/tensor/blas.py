"""BLAS-shaped ops, produced by the ``specialize`` rewrites from ``dot`` patterns.

They exist for speed: one BLAS call computes ``b*Z + a*dot(X, Y)`` (gemm, gemv) or
``Z + a*outer(x, y)`` (ger) without temporaries. Users never build them directly; their
``perform`` is the numpy reference and the C backend maps them onto BLAS.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theanolite.graph.basic import Apply
from theanolite.graph.op import Op
from theanolite.scalar import basic as scal
from theanolite.tensor.basic import as_tensor_variable
from theanolite.tensor.type import TensorType

__all__: list[str] = []


def _check_scalar(op: Op, name: str, v: Any) -> None:
    if v.ndim != 0:
        raise TypeError(f"{op}: {name} must be a 0-d tensor, got {v.ndim} dims")


class _BlasOp(Op):
    """Shared checks: float operands of one dtype; out-of-place unless ``inplace``."""

    __props__ = ("inplace",)

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = bool(inplace)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def _dtype(self, *tensors: Any) -> str:
        dtype = scal.upcast(*[t.dtype for t in tensors])
        if dtype not in ("float32", "float64"):
            raise TypeError(f"{self}: BLAS needs float32/float64 operands, got {dtype}")
        return dtype

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{'inplace' if self.inplace else 'no_inplace'}}}"


class Gemm(_BlasOp):
    """gemm(Z, a, X, Y, b) = b*Z + a*dot(X, Y) for matrices X (m,k), Y (k,n), Z (m,n)."""

    def make_node(self, z, a, x, y, b) -> Apply:
        z, a, x, y, b = map(as_tensor_variable, (z, a, x, y, b))
        for name, v in (("Z", z), ("X", x), ("Y", y)):
            if v.ndim != 2:
                raise TypeError(f"{self}: {name} must be a matrix, got {v.ndim} dims")
        _check_scalar(self, "a", a)
        _check_scalar(self, "b", b)
        dtype = self._dtype(z, x, y)
        if z.dtype != dtype:
            raise TypeError(f"{self}: Z has dtype {z.dtype}, expected {dtype}")
        return Apply(self, [z, a, x, y, b], [TensorType(dtype, z.broadcastable)()])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def perform(self, node, inputs, output_storage) -> None:
        z, a, x, y, b = inputs
        if x.shape[1] != y.shape[0] or z.shape != (x.shape[0], y.shape[1]):
            raise ValueError(f"{self}: shapes Z{z.shape}, X{x.shape}, Y{y.shape} do not agree")
        dtype = node.outputs[0].type.dtype
        out = np.asarray(a, dtype=dtype) * np.dot(x, y).astype(dtype, copy=False)
        if b != 0:
            out += np.asarray(b, dtype=dtype) * z
        output_storage[0][0] = out.astype(dtype, copy=False)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.tensor.linalg import dot
        from theanolite.tensor.reduction import sum as tsum
        z, a, x, y, b = inputs
        (g,) = output_grads
        xy = dot(x, y)
        return [g * b, tsum(g * xy), dot(g, y.T) * a, dot(x.T, g) * a, tsum(g * z)]


class Gemv(_BlasOp):
    """gemv(z, a, A, x, b) = b*z + a*dot(A, x) for A (m,n), x (n,), z (m,)."""

    def make_node(self, z, a, A, x, b) -> Apply:
        z, a, A, x, b = map(as_tensor_variable, (z, a, A, x, b))
        if z.ndim != 1 or A.ndim != 2 or x.ndim != 1:
            raise TypeError(f"{self}: expected z vector, A matrix, x vector; got {z.ndim}, {A.ndim}, {x.ndim} dims")
        _check_scalar(self, "a", a)
        _check_scalar(self, "b", b)
        dtype = self._dtype(z, A, x)
        if z.dtype != dtype:
            raise TypeError(f"{self}: z has dtype {z.dtype}, expected {dtype}")
        return Apply(self, [z, a, A, x, b], [TensorType(dtype, z.broadcastable)()])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def perform(self, node, inputs, output_storage) -> None:
        z, a, A, x, b = inputs
        if A.shape[1] != x.shape[0] or z.shape[0] != A.shape[0]:
            raise ValueError(f"{self}: shapes z{z.shape}, A{A.shape}, x{x.shape} do not agree")
        dtype = node.outputs[0].type.dtype
        out = np.asarray(a, dtype=dtype) * np.dot(A, x).astype(dtype, copy=False)
        if b != 0:
            out += np.asarray(b, dtype=dtype) * z
        output_storage[0][0] = out.astype(dtype, copy=False)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.tensor.linalg import dot, outer
        from theanolite.tensor.reduction import sum as tsum
        z, a, A, x, b = inputs
        (g,) = output_grads
        return [g * b, tsum(g * dot(A, x)), outer(g, x) * a, dot(A.T, g) * a, tsum(g * z)]


class Ger(_BlasOp):
    """ger(Z, a, x, y) = Z + a*outer(x, y)."""

    def make_node(self, z, a, x, y) -> Apply:
        z, a, x, y = map(as_tensor_variable, (z, a, x, y))
        if z.ndim != 2 or x.ndim != 1 or y.ndim != 1:
            raise TypeError(f"{self}: expected Z matrix, x and y vectors")
        _check_scalar(self, "a", a)
        dtype = self._dtype(z, x, y)
        if z.dtype != dtype:
            raise TypeError(f"{self}: Z has dtype {z.dtype}, expected {dtype}")
        return Apply(self, [z, a, x, y], [TensorType(dtype, z.broadcastable)()])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def perform(self, node, inputs, output_storage) -> None:
        z, a, x, y = inputs
        if z.shape != (x.shape[0], y.shape[0]):
            raise ValueError(f"{self}: shapes Z{z.shape}, x{x.shape}, y{y.shape} do not agree")
        dtype = node.outputs[0].type.dtype
        output_storage[0][0] = (z + np.asarray(a, dtype=dtype) * np.outer(x, y)).astype(dtype, copy=False)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.tensor.linalg import dot
        from theanolite.tensor.reduction import sum as tsum
        from theanolite.tensor.linalg import outer
        z, a, x, y = inputs
        (g,) = output_grads
        return [g, tsum(g * outer(x, y)), dot(g, y) * a, dot(g.T, x) * a]


gemm_no_inplace, gemm_inplace = Gemm(False), Gemm(True)
gemv_no_inplace, gemv_inplace = Gemv(False), Gemv(True)
ger_no_inplace, ger_inplace = Ger(False), Ger(True)


def blas_ops() -> Sequence[type]:
    return (Gemm, Gemv, Ger)
