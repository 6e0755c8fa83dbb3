"""Neural-network functions of ``T.nnet``: softmax, log-softmax, cross-entropies, activations.

Dedicated Ops exist only where they buy numerical stability or a cheaper gradient:
``Softmax`` and ``LogSoftmax`` (max-shifted evaluation, gradients written on their own
output) and ``CrossentropyCategorical1Hot`` (integer labels; its gradient touches one
entry per row). Everything else is composed from elementwise ops.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op
from theanolite.scalar.basic import float_dtypes, int_dtypes, uint_dtypes
from theanolite.tensor import math as tm
from theanolite.tensor.basic import as_tensor_variable
from theanolite.tensor.type import TensorType

__all__ = [
    "Softmax", "LogSoftmax", "softmax", "log_softmax", "logsoftmax", "softmax_graph",
    "softmax_with_bias", "CrossentropyCategorical1Hot", "crossentropy_categorical_1hot",
    "categorical_crossentropy", "binary_crossentropy", "crossentropy_softmax_1hot",
    "crossentropy_softmax_1hot_with_bias", "relu", "elu", "selu", "softsign",
    "hard_sigmoid", "ultra_fast_sigmoid",
]


def _rsum(x: Variable, axis: Any, keepdims: bool = False) -> Variable:
    # reduction.py imports elemwise/basic; importing it lazily avoids a cycle.
    from theanolite.tensor.reduction import sum as tsum
    return tsum(x, axis=axis, keepdims=keepdims)


def _float_input(op: Op, x: Any) -> Variable:
    x = as_tensor_variable(x)
    if x.dtype not in float_dtypes:
        raise ValueError(f"{op}: the input must be a float tensor, got {x} of type {x.type}")
    if x.ndim < 1:
        raise ValueError(f"{op}: the input must have at least one dimension, got a scalar {x}")
    return x


def _check_axis(op: Op, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a {ndim}-d input")
    return axis % ndim


# ----------------------------------------------------------------------------- softmax

class Softmax(Op):
    """``exp(x) / sum(exp(x))`` along ``axis`` (the last by default: row-wise on a matrix).

    A dedicated Op for stability: ``perform`` shifts each slice by its maximum so that
    inputs of any magnitude give finite results (a slice holding +inf or NaN gives NaN).
    Unlike Theano 1.0, which turned a vector into a one-row matrix, a vector input gives
    a vector (the behaviour Theano announced and PyTensor has).
    """

    __props__ = ("axis",)

    def __init__(self, axis: int = -1) -> None:
        self.axis = int(axis)

    def make_node(self, x: Any) -> Apply:
        x = _float_input(self, x)
        _check_axis(self, self.axis, x.ndim)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        return [tuple(input_shapes[0])]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x = inputs[0]
        axis = self.axis % x.ndim
        if x.shape[axis] == 0:
            output_storage[0][0] = np.empty(x.shape, dtype=x.dtype)
            return
        with np.errstate(invalid="ignore", over="ignore"):
            e = np.exp(x - np.max(x, axis=axis, keepdims=True))
            out = e / np.sum(e, axis=axis, keepdims=True)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        sm, gz = outputs[0], output_grads[0]
        from theanolite.tensor.nnet.fused import softmax_crossentropy_grad
        fused = softmax_crossentropy_grad(self, sm, gz)
        if fused is not None:
            return [fused]
        return [(gz - _rsum(gz * sm, self.axis, keepdims=True)) * sm]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        # The Jacobian diag(sm) - sm sm^T is symmetric: J v has the form of the L_op.
        sm, v = self(inputs[0]), eval_points[0]
        return [(v - _rsum(v * sm, self.axis, keepdims=True)) * sm]

    def __str__(self) -> str:
        return "Softmax" if self.axis == -1 else f"Softmax{{axis={self.axis}}}"


class LogSoftmax(Op):
    """``x - log(sum(exp(x)))`` along ``axis``, evaluated with a max shift.

    A dedicated Op for stability: ``log(softmax(x))`` underflows to -inf where this
    stays finite. Its gradient uses the output only: ``g - sum(g) * exp(out)``.
    """

    __props__ = ("axis",)

    def __init__(self, axis: int = -1) -> None:
        self.axis = int(axis)

    def make_node(self, x: Any) -> Apply:
        x = _float_input(self, x)
        _check_axis(self, self.axis, x.ndim)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        return [tuple(input_shapes[0])]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x = inputs[0]
        axis = self.axis % x.ndim
        if x.shape[axis] == 0:
            output_storage[0][0] = np.empty(x.shape, dtype=x.dtype)
            return
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            shifted = x - np.max(x, axis=axis, keepdims=True)
            out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        out, gz = outputs[0], output_grads[0]
        return [gz - _rsum(gz, self.axis, keepdims=True) * tm.exp(out)]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        sm = tm.exp(self(inputs[0]))
        v = eval_points[0]
        return [v - _rsum(v * sm, self.axis, keepdims=True)]

    def __str__(self) -> str:
        return "LogSoftmax" if self.axis == -1 else f"LogSoftmax{{axis={self.axis}}}"


def softmax(x: Any, axis: int = -1) -> Variable:
    """Softmax of ``x`` along ``axis`` (each row of a matrix sums to 1)."""
    x = as_tensor_variable(x)
    op = Softmax(-1)
    axis = _check_axis(op, axis, max(x.ndim, 1)) if x.ndim else axis
    # -1 and ndim-1 are one op: keep the canonical -1 so equal graphs compare equal.
    return Softmax(-1 if axis == x.ndim - 1 else axis)(x)


def log_softmax(x: Any, axis: int = -1) -> Variable:
    """``log(softmax(x))`` along ``axis``, computed without underflow."""
    x = as_tensor_variable(x)
    axis = _check_axis(LogSoftmax(-1), axis, max(x.ndim, 1)) if x.ndim else axis
    return LogSoftmax(-1 if axis == x.ndim - 1 else axis)(x)


logsoftmax = log_softmax  # Theano 1.0's name


def softmax_graph(c: Any) -> Variable:
    """Softmax as plain elementwise graph along the last axis (not max-shifted)."""
    c = as_tensor_variable(c)
    e = tm.exp(c)
    return e / _rsum(e, -1, keepdims=True)


def softmax_with_bias(x: Any, b: Any) -> Variable:
    """``softmax(x + b)`` for a matrix ``x`` and a bias vector ``b`` (one per column)."""
    return softmax(tm.add(x, b))


# ----------------------------------------------------------------------------- one-hot picking

def _label_vector(op: Op, labels: Any) -> Variable:
    labels = as_tensor_variable(labels)
    if labels.ndim != 1 or labels.dtype not in int_dtypes + uint_dtypes:
        raise TypeError(f"{op}: the labels must be an integer vector (e.g. T.ivector or "
                        f"T.lvector), got {labels} of type {labels.type}")
    return labels


def _checked_labels(op: Op, mat: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Row indices paired with ``labels``; IndexError/ValueError name the op and shapes."""
    if mat.shape[0] != labels.shape[0]:
        raise ValueError(f"{op}: {mat.shape[0]} rows in the distribution (shape {mat.shape}) "
                         f"but {labels.shape[0]} labels")
    bad = np.flatnonzero((labels < 0) | (labels >= mat.shape[1]))
    if bad.size:
        i = int(bad[0])
        raise IndexError(f"{op}: label {labels[i]} at position {i} is out of range for "
                         f"{mat.shape[1]} classes (distribution shape {mat.shape})")
    return np.arange(mat.shape[0])


class OneHotPick(Op):
    """``m[i, labels[i]]`` for every row ``i`` of the matrix ``m`` (a vector)."""

    __props__ = ()

    def make_node(self, m: Any, labels: Any) -> Apply:
        m = as_tensor_variable(m)
        if m.ndim != 2:
            raise TypeError(f"{self}: expected a matrix, got {m} of type {m.type}")
        labels = _label_vector(self, labels)
        return Apply(self, [m, labels], [TensorType(m.dtype, (False,))()])

    def infer_shape(self, fgraph, node, input_shapes):
        return [(input_shapes[1][0],)]

    def perform(self, node, inputs, output_storage):
        m, labels = inputs
        rows = _checked_labels(self, m, labels)
        output_storage[0][0] = np.array(m[rows, labels], dtype=m.dtype)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        m, labels = inputs
        return [OneHotScatter()(output_grads[0], m, labels), DisconnectedType()()]

    def connection_pattern(self, node):
        return [[True], [False]]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], inputs[1])]


class OneHotScatter(Op):
    """A matrix of zeros shaped like ``like`` holding ``v[i]`` at ``[i, labels[i]]``."""

    __props__ = ()

    def make_node(self, v: Any, like: Any, labels: Any) -> Apply:
        v, like = as_tensor_variable(v), as_tensor_variable(like)
        if like.ndim != 2 or v.ndim != 1:
            raise TypeError(f"{self}: expected a vector and a matrix, got {v.type} and {like.type}")
        labels = _label_vector(self, labels)
        return Apply(self, [v, like, labels], [TensorType(v.dtype, (False, False))()])

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[1])]

    def perform(self, node, inputs, output_storage):
        v, like, labels = inputs
        rows = _checked_labels(self, like, labels)
        out = np.zeros(like.shape, dtype=node.outputs[0].dtype)
        out[rows, labels] = v
        output_storage[0][0] = out

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        return [OneHotPick()(output_grads[0], inputs[2]), DisconnectedType()(), DisconnectedType()()]

    def connection_pattern(self, node):
        return [[True], [False], [False]]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], inputs[1], inputs[2])]


# ----------------------------------------------------------------------------- cross-entropies

class CrossentropyCategorical1Hot(Op):
    """``-log(coding_dist[i, labels[i]])`` for each row: the cross-entropy against
    integer class labels. Its gradient is nonzero at one entry per row only."""

    __props__ = ()

    def make_node(self, coding_dist: Any, true_one_of_n: Any) -> Apply:
        coding = as_tensor_variable(coding_dist)
        if coding.ndim != 2 or coding.dtype not in float_dtypes:
            raise TypeError(f"{self}: coding_dist must be a float matrix, got {coding} of type "
                            f"{coding.type}")
        labels = _label_vector(self, true_one_of_n)
        return Apply(self, [coding, labels], [TensorType(coding.dtype, (False,))()])

    def infer_shape(self, fgraph, node, input_shapes):
        return [(input_shapes[0][0],)]

    def perform(self, node, inputs, output_storage):
        coding, labels = inputs
        rows = _checked_labels(self, coding, labels)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = -np.log(coding[rows, labels])
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        coding, labels = inputs
        picked = OneHotPick()(coding, labels)
        return [OneHotScatter()(-output_grads[0] / picked, coding, labels), DisconnectedType()()]

    def connection_pattern(self, node):
        return [[True], [False]]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        coding, labels = inputs
        return [-OneHotPick()(eval_points[0], labels) / OneHotPick()(coding, labels)]


crossentropy_categorical_1hot = CrossentropyCategorical1Hot()


def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> Variable:
    """Cross-entropy between each row of ``coding_dist`` and the true distribution.

    ``true_dist`` is either a matrix of the same rank (one-hot rows or probabilities:
    ``-sum(true * log(coding), axis=-1)``) or an integer vector of class indices.
    """
    coding = as_tensor_variable(coding_dist)
    true = as_tensor_variable(true_dist)
    if true.ndim == coding.ndim:
        return -_rsum(true * tm.log(coding), coding.ndim - 1)
    if true.ndim == coding.ndim - 1:
        return crossentropy_categorical_1hot(coding, true)
    raise TypeError(f"categorical_crossentropy: rank mismatch between coding_dist ({coding.ndim}-d) "
                    f"and true_dist ({true.ndim}-d); true_dist must be a distribution of the same "
                    "rank or integer labels of one rank less")


def binary_crossentropy(output: Any, target: Any) -> Variable:
    """``-(target * log(output) + (1 - target) * log(1 - output))``, elementwise."""
    output, target = as_tensor_variable(output), as_tensor_variable(target)
    return -(target * tm.log(output) + (1.0 - target) * tm.log(1.0 - output))


def crossentropy_softmax_1hot_with_bias(x: Any, b: Any, y_idx: Any) -> tuple[Variable, Variable]:
    """``(nll, softmax(x + b))`` where ``nll[i] = -log softmax(x + b)[i, y_idx[i]]``.

    The loss is taken from ``log_softmax``, so it stays finite where the softmax
    itself underflows to 0.
    """
    z = tm.add(x, b)
    nll = -OneHotPick()(log_softmax(z), y_idx)
    return nll, softmax(z)


def crossentropy_softmax_1hot(x: Any, y_idx: Any) -> tuple[Variable, Variable]:
    """``(nll, softmax(x))`` for integer labels ``y_idx``; see the ``_with_bias`` form."""
    x = as_tensor_variable(x)
    nll = -OneHotPick()(log_softmax(x), y_idx)
    return nll, softmax(x)


# ----------------------------------------------------------------------------- activations

def _float_const(value: float, like: Variable) -> Variable:
    # A Python float that is not exact in float32 would otherwise upcast float32 inputs.
    from theanolite.scalar.basic import upgrade_to_float
    from theanolite.tensor.basic import constant
    return constant(value, dtype=upgrade_to_float(like.dtype))


def relu(x: Any, alpha: Any = 0) -> Variable:
    """Rectified linear unit: ``x`` where positive, ``alpha * x`` elsewhere.

    Written as Theano does, ``0.5 * (x + |x|)`` (leaky: ``a x + b |x|``), so the gradient
    at exactly 0 is the average of the two slopes.
    """
    x = as_tensor_variable(x)
    if isinstance(alpha, (int, float)) and alpha == 0:
        return 0.5 * (x + tm.abs_(x))
    alpha = as_tensor_variable(alpha)
    f1 = 0.5 * (1 + alpha)
    f2 = 0.5 * (1 - alpha)
    return f1 * x + f2 * tm.abs_(x)


def elu(x: Any, alpha: Any = 1) -> Variable:
    """Exponential linear unit: ``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    x = as_tensor_variable(x)
    return tm.switch(tm.gt(x, 0), x, alpha * tm.expm1(x))


def selu(x: Any) -> Variable:
    """Scaled exponential linear unit (the self-normalizing constants of Klambauer et al.),
    computed in the float dtype of ``x``."""
    x = as_tensor_variable(x)
    alpha = _float_const(1.6732632423543772848170429916717, x)
    scale = _float_const(1.0507009873554804934193349852946, x)
    return scale * elu(x, alpha)


def softsign(x: Any) -> Variable:
    """``x / (1 + |x|)``."""
    x = as_tensor_variable(x)
    return x / (1.0 + tm.abs_(x))


def hard_sigmoid(x: Any) -> Variable:
    """Theano's piecewise-linear sigmoid: ``clip(0.2 x + 0.5, 0, 1)``, computed in the
    float dtype of ``x`` (float32 stays float32)."""
    x = as_tensor_variable(x)
    return tm.clip(x * _float_const(0.2, x) + _float_const(0.5, x), 0, 1)


def ultra_fast_sigmoid(x: Any) -> Variable:
    """Theano's fast sigmoid. Here it is the exact ``sigmoid``: Theano's version is an
    approximation (error up to ~0.02) made for speed, and the exact one is already fast
    in our elementwise loops, so callers only gain accuracy."""
    return tm.sigmoid(x)
