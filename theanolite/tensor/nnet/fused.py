"""Softmax and categorical cross-entropy fused, for stability and speed.

``CrossentropySoftmax1Hot(x, labels)`` computes the loss and the softmax in one pass
from the max-shifted log-sum-exp, so the loss is finite where the softmax underflows.
``CrossentropySoftmax1HotDx(dnll, sm, labels)`` is its gradient w.r.t. ``x``:
``dnll[:, None] * (sm - onehot(labels))`` — no division by a probability that may be 0.
Rewrites produce them from ``categorical_crossentropy(softmax(x), labels)`` and from the
gradient graph ``T.grad`` builds for it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op
from theanolite.tensor.basic import as_tensor_variable
from theanolite.tensor.type import TensorType

__all__ = ["CrossentropySoftmax1Hot", "CrossentropySoftmax1HotDx", "crossentropy_softmax_1hot_fused",
           "crossentropy_softmax_1hot_dx", "softmax_crossentropy_grad"]


def _labels(op: Op, labels: Any) -> Variable:
    labels = as_tensor_variable(labels)
    if labels.ndim != 1 or not labels.dtype.startswith(("int", "uint")):
        raise TypeError(f"{op}: labels must be an integer vector, got {labels.type}")
    return labels


def _rows(op: Op, n_classes: int, n_rows: int, labels: np.ndarray) -> np.ndarray:
    if labels.shape[0] != n_rows:
        raise ValueError(f"{op}: {labels.shape[0]} labels for {n_rows} rows")
    bad = (labels < 0) | (labels >= n_classes)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise IndexError(f"{op}: label {labels[i]} at position {i} is out of range for {n_classes} classes")
    return np.arange(n_rows)


class CrossentropySoftmax1Hot(Op):
    """(nll, softmax(x)) for a matrix ``x`` of scores and integer ``labels``."""

    __props__ = ()

    def make_node(self, x: Any, labels: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != 2 or not x.dtype.startswith("float"):
            raise TypeError(f"{self}: x must be a float matrix, got {x.type}")
        labels = _labels(self, labels)
        return Apply(self, [x, labels], [TensorType(x.dtype, (False,))(), x.type()])

    def infer_shape(self, fgraph, node, shapes):
        return [(shapes[0][0],), tuple(shapes[0])]

    def perform(self, node, inputs, output_storage) -> None:
        x, labels = inputs
        rows = _rows(self, x.shape[1], x.shape[0], labels)
        if x.shape[1] == 0:
            raise ValueError(f"{self}: x has no classes (shape {x.shape})")
        with np.errstate(over="ignore", invalid="ignore"):
            shifted = x - np.max(x, axis=1, keepdims=True)
            lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
            log_sm = shifted - lse
        output_storage[0][0] = np.asarray(-log_sm[rows, labels], dtype=x.dtype)
        output_storage[1][0] = np.exp(log_sm).astype(x.dtype, copy=False)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        from theanolite.tensor.nnet.basic import Softmax
        x, labels = inputs
        g_nll, g_sm = output_grads
        sm = outputs[1]
        gx = crossentropy_softmax_1hot_dx(g_nll, sm, labels)
        gx = gx + Softmax().L_op([x], [sm], [g_sm])[0]
        return [gx, DisconnectedType()()]

    def connection_pattern(self, node):
        return [[True, True], [False, False]]

    def __str__(self) -> str:
        return "CrossentropySoftmax1Hot"


class CrossentropySoftmax1HotDx(Op):
    """d(sum_i dnll[i] * nll[i]) / dx = dnll[:, None] * (sm - onehot(labels))."""

    __props__ = ()

    def make_node(self, dnll: Any, sm: Any, labels: Any) -> Apply:
        dnll, sm = as_tensor_variable(dnll), as_tensor_variable(sm)
        if sm.ndim != 2 or dnll.ndim != 1:
            raise TypeError(f"{self}: expected a vector dnll and a matrix sm, got {dnll.type}, {sm.type}")
        labels = _labels(self, labels)
        dtype = sm.dtype if dnll.dtype == sm.dtype else np.promote_types(dnll.dtype, sm.dtype).name
        return Apply(self, [dnll, sm, labels], [TensorType(dtype, (False, False))()])

    def infer_shape(self, fgraph, node, shapes):
        return [tuple(shapes[1])]

    def perform(self, node, inputs, output_storage) -> None:
        dnll, sm, labels = inputs
        rows = _rows(self, sm.shape[1], sm.shape[0], labels)
        dtype = node.outputs[0].type.dtype
        dnll = np.broadcast_to(dnll, (sm.shape[0],))
        out = sm.astype(dtype, copy=True)
        out[rows, labels] -= 1
        out *= dnll[:, None]
        output_storage[0][0] = out

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        from theanolite.tensor.nnet.basic import OneHotPick
        from theanolite.tensor.reduction import sum as tsum
        dnll, sm, labels = inputs
        (g,) = output_grads
        g_dnll = tsum(g * sm, axis=1) - OneHotPick()(g, labels)
        return [g_dnll, g * dnll.dimshuffle(0, "x"), DisconnectedType()()]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def __str__(self) -> str:
        return "CrossentropySoftmax1HotDx"


crossentropy_softmax_1hot_fused = CrossentropySoftmax1Hot()
crossentropy_softmax_1hot_dx = CrossentropySoftmax1HotDx()


def softmax_crossentropy_grad(softmax_op: Op, sm: Variable, gz: Variable) -> Variable | None:
    """The stable gradient w.r.t. the scores when ``gz`` is exactly what
    ``CrossentropyCategorical1Hot.L_op`` sends back through ``sm = softmax(x)``:
    ``OneHotScatter(-g / OneHotPick(sm, y), sm, y)``. Then
    ``(gz - sum(gz * sm)) * sm == g[:, None] * (sm - onehot(y))``, computed without
    dividing by a probability that may be 0. None for any other ``gz``."""
    from theanolite.scalar import basic as scal
    from theanolite.tensor.elemwise import Elemwise
    from theanolite.tensor.nnet.basic import OneHotPick, OneHotScatter
    if sm.ndim != 2 or softmax_op.axis not in (-1, 1):
        return None
    scatter = gz.owner
    if scatter is None or not isinstance(scatter.op, OneHotScatter) or scatter.inputs[1] is not sm:
        return None
    v, _, labels = scatter.inputs
    div = v.owner
    if div is None or not (isinstance(div.op, Elemwise) and isinstance(div.op.scalar_op, scal.TrueDiv)):
        return None
    neg_g, picked = div.inputs
    if (picked.owner is None or not isinstance(picked.owner.op, OneHotPick)
            or picked.owner.inputs[0] is not sm or picked.owner.inputs[1] is not labels):
        return None
    if neg_g.owner is None or not (isinstance(neg_g.owner.op, Elemwise)
                                   and isinstance(neg_g.owner.op.scalar_op, scal.Neg)):
        return None
    g = neg_g.owner.inputs[0]
    if g.ndim != 1:
        return None
    return crossentropy_softmax_1hot_dx(g, sm, labels)
