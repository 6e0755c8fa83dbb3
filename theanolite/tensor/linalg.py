"""Products of tensors: ``dot`` (Theano's semantics), ``outer``, ``tensordot``,
``batched_dot``, ``batched_tensordot`` and ``matmul``.

Two ops do the work:
- ``Dot``: the 1-d/2-d matrix product (vector.vector is a scalar), numpy.dot semantics.
- ``TensorDot``: a contraction of given axes pairs, optionally with leading batch axes
  shared by both operands. It is a dedicated op (rather than reshape + Dot + reshape) so
  that one BLAS call does the work and the graph stays small.
Output dtype is the upcast of the input dtypes (int . int gives int, as numpy).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from theanolite.configparser import config
from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op
from theanolite.scalar import basic as scal
from theanolite.tensor.basic import as_tensor_variable, cast, patternbroadcast, zeros_like
from theanolite.tensor.elemwise import DimShuffle
from theanolite.tensor.type import TensorType

__all__ = ["Dot", "TensorDot", "dot", "outer", "tensordot", "batched_dot",
           "batched_tensordot", "matmul"]


def _grad_like(g: Variable, x: Variable) -> Variable:
    """``g`` with the dtype and broadcastable pattern of the input ``x``."""
    if g.dtype != x.dtype:
        g = cast(g, x.dtype)
    if g.broadcastable != x.broadcastable:
        g = patternbroadcast(g, x.broadcastable)
    return g


# ----------------------------------------------------------------------------- Dot

class Dot(Op):
    """Matrix product of 1-d or 2-d tensors, as ``numpy.dot``.

    vector.vector -> scalar, matrix.vector -> vector, vector.matrix -> vector,
    matrix.matrix -> matrix. The contracted lengths must agree (ValueError otherwise).
    """

    __props__ = ()

    def make_node(self, x: object, y: object) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        for name, v in (("x", x), ("y", y)):
            if v.ndim not in (1, 2):
                raise TypeError(f"Dot: input {name} ({v}) must be a vector or a matrix, got "
                                f"{v.ndim} dims; use T.dot or T.tensordot for other ranks")
        bcast = x.broadcastable[:-1] + y.broadcastable[1:]
        out = TensorType(scal.upcast(x.dtype, y.dtype), bcast)()
        return Apply(self, [x, y], [out])

    def infer_shape(self, fgraph, node, shapes):
        return [tuple(shapes[0][:-1]) + tuple(shapes[1][1:])]

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        kx, ky = x.shape[-1], y.shape[0]
        if kx != ky:
            raise ValueError(f"Dot: shapes {x.shape} and {y.shape} are not aligned: "
                             f"{kx} (last dim of x) != {ky} (first dim of y)")
        out = np.dot(x, y)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].type.dtype)

    def L_op(self, inputs, outputs, output_grads):
        (x, y), (gz,) = inputs, output_grads
        if x.ndim == 1 and y.ndim == 1:
            gx, gy = gz * y, gz * x
        elif x.ndim == 1:           # vector . matrix
            gx, gy = dot(gz, y.T), outer(x, gz)
        elif y.ndim == 1:           # matrix . vector
            gx, gy = outer(gz, y), dot(x.T, gz)
        else:
            gx, gy = dot(gz, y.T), dot(x.T, gz)
        grads = []
        for inp, g in ((x, gx), (y, gy)):
            if inp.dtype in scal.discrete_dtypes:
                grads.append(zeros_like(inp, dtype=config.floatX))
            else:
                grads.append(_grad_like(g, inp))
        return grads

    def R_op(self, inputs, eval_points):
        x, y = inputs
        ex, ey = eval_points
        terms = []
        if ex is not None:
            terms.append(self(ex, y))
        if ey is not None:
            terms.append(self(x, ey))
        if not terms:
            return [None]
        return [terms[0] + terms[1] if len(terms) == 2 else terms[0]]

    def __str__(self) -> str:
        return "dot"

    def pp(self, args: Sequence[str]) -> str:
        return f"({args[0]} \\dot {args[1]})"


_dot = Dot()


def dot(a: object, b: object) -> Variable:
    """Theano's ``dot``: scalars multiply elementwise; 1-d/2-d operands use ``Dot``;
    higher ranks contract the last axis of ``a`` with the second-to-last of ``b``
    (the first if ``b`` is 1-d), exactly as ``numpy.dot``."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return _dot(a, b)
    return tensordot(a, b, [[a.ndim - 1], [max(0, b.ndim - 2)]])


def outer(x: object, y: object) -> Variable:
    """Outer product of two vectors (other ranks are flattened first, as Theano)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim != 1 or y.ndim != 1:
        from theanolite.tensor.shape_ops import flatten
        x = flatten(x) if x.ndim != 1 else x
        y = flatten(y) if y.ndim != 1 else y
    return _dot(DimShuffle(x.broadcastable, (0, "x"))(x), DimShuffle(y.broadcastable, ("x", 0))(y))


# ----------------------------------------------------------------------------- TensorDot

class TensorDot(Op):
    """Contract axes ``axes[0]`` of ``a`` with ``axes[1]`` of ``b`` (``numpy.tensordot``).

    With ``nbatch`` > 0 the first ``nbatch`` axes of both operands are batch axes: they
    must have equal lengths, are not contracted, and lead the output once. Output axes:
    batch axes, then the free axes of ``a`` in order, then the free axes of ``b``.
    """

    __props__ = ("axes", "nbatch")

    def __init__(self, axes: Sequence[Sequence[int]], nbatch: int = 0) -> None:
        axa, axb = (tuple(int(i) for i in ax) for ax in axes)
        if len(axa) != len(axb):
            raise ValueError(f"TensorDot: axes {axa} and {axb} must have the same length")
        self.axes = (axa, axb)
        self.nbatch = int(nbatch)
        for ax in self.axes:
            if len(set(ax)) != len(ax) or any(a < self.nbatch for a in ax):
                raise ValueError(f"TensorDot: axes {ax} must be distinct non-negative ints "
                                 f"that are not batch axes (nbatch={self.nbatch})")

    def _free(self, ndim: int, which: int) -> list[int]:
        return [d for d in range(self.nbatch, ndim) if d not in self.axes[which]]

    def make_node(self, a: object, b: object) -> Apply:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        for name, v, ax in (("a", a, self.axes[0]), ("b", b, self.axes[1])):
            if v.ndim < self.nbatch or (ax and max(ax) >= v.ndim):
                raise ValueError(f"{self}: axes {ax} (nbatch {self.nbatch}) out of range for "
                                 f"input {name} ({v}) of {v.ndim} dims")
        batch = tuple(a.broadcastable[d] or b.broadcastable[d] for d in range(self.nbatch))
        bcast = (batch + tuple(a.broadcastable[d] for d in self._free(a.ndim, 0))
                 + tuple(b.broadcastable[d] for d in self._free(b.ndim, 1)))
        return Apply(self, [a, b], [TensorType(scal.upcast(a.dtype, b.dtype), bcast)()])

    def infer_shape(self, fgraph, node, shapes):
        sa, sb = shapes
        a, b = node.inputs
        return [tuple(sa[: self.nbatch]) + tuple(sa[d] for d in self._free(a.ndim, 0))
                + tuple(sb[d] for d in self._free(b.ndim, 1))]

    def perform(self, node, inputs, output_storage):
        a, b = inputs
        axa, axb = self.axes
        bad = [(i, j) for i, j in zip(axa, axb) if a.shape[i] != b.shape[j]]
        bad += [(d, d) for d in range(self.nbatch) if a.shape[d] != b.shape[d]]
        if bad:
            i, j = bad[0]
            raise ValueError(f"{self}: shape mismatch between a {a.shape} and b {b.shape}: "
                             f"axis {i} of a has length {a.shape[i]}, axis {j} of b has {b.shape[j]}")
        if self.nbatch == 0:
            out = np.tensordot(a, b, (list(axa), list(axb)))
        else:
            out = self._batched(a, b)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].type.dtype)

    def _batched(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # (B, Fa, K) @ (B, K, Fb): one matmul over the flattened batch.
        nb = self.nbatch
        fa, fb = self._free(a.ndim, 0), self._free(b.ndim, 1)
        batch = a.shape[:nb]
        nbat = int(np.prod(batch, dtype="int64"))
        k = int(np.prod([a.shape[i] for i in self.axes[0]], dtype="int64"))
        fa_shape = tuple(a.shape[d] for d in fa)
        fb_shape = tuple(b.shape[d] for d in fb)
        a3 = np.transpose(a, list(range(nb)) + fa + list(self.axes[0])).reshape(
            (nbat, int(np.prod(fa_shape, dtype="int64")), k))
        b3 = np.transpose(b, list(range(nb)) + list(self.axes[1]) + fb).reshape(
            (nbat, k, int(np.prod(fb_shape, dtype="int64"))))
        return np.matmul(a3, b3).reshape(batch + fa_shape + fb_shape)

    def L_op(self, inputs, outputs, output_grads):
        (a, b), (gz,) = inputs, output_grads
        nb = self.nbatch
        axa, axb = self.axes
        fa, fb = self._free(a.ndim, 0), self._free(b.ndim, 1)
        z_fa = list(range(nb, nb + len(fa)))          # positions of a's free axes in z
        z_fb = list(range(nb + len(fa), gz.ndim))    # positions of b's free axes in z
        # ga = gz . b over b's free axes: [batch] + a's free axes + b's contracted axes
        # (in b's order, each standing for its partner axis of a).
        ga = TensorDot((z_fb, fb), nb)(gz, b)
        labels = list(range(nb)) + fa + [axa[axb.index(j)] for j in sorted(axb)]
        ga = _unpermute(ga, labels)
        # gb = a . gz over a's free axes: [batch] + a's contracted axes (as b's) + b's free.
        gb = TensorDot((fa, z_fa), nb)(a, gz)
        labels = list(range(nb)) + [axb[axa.index(i)] for i in sorted(axa)] + fb
        gb = _unpermute(gb, labels)
        grads = []
        for inp, g in ((a, ga), (b, gb)):
            if inp.dtype in scal.discrete_dtypes:
                grads.append(zeros_like(inp, dtype=config.floatX))
            else:
                grads.append(_grad_like(g, inp))
        return grads

    def R_op(self, inputs, eval_points):
        a, b = inputs
        ea, eb = eval_points
        terms = []
        if ea is not None:
            terms.append(self(ea, b))
        if eb is not None:
            terms.append(self(a, eb))
        if not terms:
            return [None]
        return [terms[0] + terms[1] if len(terms) == 2 else terms[0]]

    def __str__(self) -> str:
        batch = f", nbatch={self.nbatch}" if self.nbatch else ""
        return f"TensorDot{{axes={self.axes}{batch}}}"


def _unpermute(g: Variable, labels: list[int]) -> Variable:
    """Transpose ``g`` whose axis k stands for input axis ``labels[k]`` into input order."""
    order = [labels.index(d) for d in range(len(labels))]
    if order == list(range(len(labels))):
        return g
    return DimShuffle(g.broadcastable, order)(g)


def _normalize_pairs(a: Variable, b: Variable, axes: object, nbatch: int,
                     opname: str) -> tuple[list[int], list[int]]:
    """Theano/numpy ``axes``: an int n (last n of a with first n of b, after the batch
    axes) or a pair of ints/sequences; negative axes count from the end."""
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > a.ndim - nbatch or n > b.ndim - nbatch:
            raise ValueError(f"{opname}: axes={n} is out of range for inputs of {a.ndim} and "
                             f"{b.ndim} dims (batch axes: {nbatch})")
        return list(range(a.ndim - n, a.ndim)), list(range(nbatch, nbatch + n))
    try:
        axa, axb = axes
    except (TypeError, ValueError):
        raise ValueError(f"{opname}: axes must be an int or a pair of axis lists, got {axes!r}") from None
    axa = [axa] if isinstance(axa, (int, np.integer)) else list(axa)
    axb = [axb] if isinstance(axb, (int, np.integer)) else list(axb)
    if len(axa) != len(axb):
        raise ValueError(f"{opname}: axes {axa} and {axb} must have the same length")
    out = []
    for v, ax, name in ((a, axa, "a"), (b, axb, "b")):
        fixed = []
        for i in ax:
            if not -v.ndim <= int(i) < v.ndim:
                raise ValueError(f"{opname}: axis {i} is out of range for {name} with {v.ndim} dims")
            fixed.append(int(i) % v.ndim)
        out.append(fixed)
    return out[0], out[1]


def tensordot(a: object, b: object, axes: object = 2) -> Variable:
    """Sum products over the given axes, as ``numpy.tensordot`` (``axes`` an int or a
    pair of axis lists)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    axa, axb = _normalize_pairs(a, b, axes, 0, "tensordot")
    return TensorDot((axa, axb))(a, b)


def batched_tensordot(x: object, y: object, axes: object = 2) -> Variable:
    """``tensordot`` of each pair ``x[i], y[i]`` along the leading (batch) axis. An int
    ``axes`` n contracts the last n axes of x with the n axes of y after the batch axis."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim < 1 or y.ndim < 1:
        raise TypeError("batched_tensordot: both inputs need a leading batch axis")
    axa, axb = _normalize_pairs(x, y, axes, 1, "batched_tensordot")
    if 0 in axa or 0 in axb:
        raise ValueError("batched_tensordot: the batch axis 0 cannot be contracted")
    return TensorDot((axa, axb), nbatch=1)(x, y)


def batched_dot(a: object, b: object) -> Variable:
    """``dot`` of each pair ``a[i], b[i]`` (Theano's ``batched_dot``): 1-d inputs scale
    the other operand; otherwise the last axis of ``a`` meets axis max(1, b.ndim - 2) of ``b``."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise TypeError(f"batched_dot: {'a' if a.ndim == 0 else 'b'} must have at least one "
                        "(batch) axis")
    if a.ndim == 1:
        return DimShuffle(a.broadcastable, [0] + ["x"] * (b.ndim - 1))(a) * b
    if b.ndim == 1:
        return a * DimShuffle(b.broadcastable, [0] + ["x"] * (a.ndim - 1))(b)
    return TensorDot(([a.ndim - 1], [max(1, b.ndim - 2)]), nbatch=1)(a, b)


def matmul(a: object, b: object) -> Variable:
    """``numpy.matmul`` for operands up to 2-d, 1-d with n-d, n-d with 2-d, and equal
    ranks > 2 with equal batch shapes (batch broadcasting is not supported)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: scalar operands are not allowed, use * (as numpy)")
    if a.ndim <= 2 and b.ndim <= 2:
        return _dot(a, b)
    if a.ndim == 1:
        return TensorDot(([0], [b.ndim - 2]))(a, b)
    if b.ndim == 1 or b.ndim == 2:
        return TensorDot(([a.ndim - 1], [0]))(a, b)
    if a.ndim == 2:
        # (n, k) x (..., k, m): tensordot gives (n, ..., m); move n next to m.
        out = TensorDot(([1], [b.ndim - 2]))(a, b)
        order = list(range(1, out.ndim - 1)) + [0, out.ndim - 1]
        return DimShuffle(out.broadcastable, order)(out)
    if a.ndim != b.ndim:
        raise NotImplementedError(f"matmul: broadcasting batch axes of a {a.ndim}-d and a "
                                  f"{b.ndim}-d operand is not supported")
    return TensorDot(([a.ndim - 1], [b.ndim - 2]), nbatch=a.ndim - 2)(a, b)
