"""``Elemwise`` (a scalar op applied over broadcast tensors) and ``DimShuffle``."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theanolite.graph.basic import Apply, Variable
from theanolite.graph.op import Op
from theanolite.scalar import basic as scal
from theanolite.tensor.type import TensorType


class Elemwise(Op):
    """Apply ``scalar_op`` elementwise with Theano's broadcasting rules.

    Inputs of fewer dimensions are padded on the left with broadcastable dimensions. A
    dimension may broadcast at run time only where its type says it is broadcastable;
    anything else is a shape mismatch (so inferred shapes are always right).
    """

    __props__ = ("scalar_op", "inplace_pattern")

    def __init__(self, scalar_op: scal.ScalarOp, inplace_pattern: dict[int, int] | None = None,
                 name: str | None = None) -> None:
        self.scalar_op = scalar_op
        self.inplace_pattern = tuple(sorted((inplace_pattern or {}).items()))
        self.name = name
        self.destroy_map = {o: [i] for o, i in self.inplace_pattern}

    def __str__(self) -> str:
        text = str(self.scalar_op)
        if self.inplace_pattern:
            return f"Elemwise{{{text}}}[{','.join(f'({o}, {i})' for o, i in self.inplace_pattern)}]"
        return f"Elemwise{{{text}}}"

    def make_node(self, *inputs: Any) -> Apply:
        from theanolite.tensor.basic import as_tensor_variable
        ins = [as_tensor_variable(i) for i in inputs]
        if self.scalar_op.nin not in (-1, len(ins)):
            raise TypeError(f"{self}: expected {self.scalar_op.nin} inputs, got {len(ins)}")
        ndim = max((i.ndim for i in ins), default=0)
        ins = [pad_left(i, ndim) for i in ins]
        out_bcast = tuple(all(i.broadcastable[d] for i in ins) for d in range(ndim))
        multi = getattr(self.scalar_op, "output_dtypes", None)  # Composite: one dtype per output
        if multi is not None:
            dtypes = multi(*[i.dtype for i in ins])
        else:
            dtypes = [self.scalar_op.output_dtype(*[i.dtype for i in ins])] * self.scalar_op.nout
        return Apply(self, ins, [TensorType(dtype, out_bcast)() for dtype in dtypes])

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        out = []
        for d in range(node.outputs[0].ndim):
            dim = None
            for inp, shp in zip(node.inputs, shapes):
                if not inp.broadcastable[d]:
                    dim = shp[d]
                    break
            out.append(1 if dim is None else dim)
        return [tuple(out)] * len(node.outputs)

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        check_broadcast(node, inputs)
        op = self.scalar_op
        hook = getattr(op, "perform_elemwise", None)  # Composite: per-node casts, several outputs
        if hook is not None:
            hook(node, inputs, output_storage)
            return
        dtype = node.outputs[0].type.dtype
        compute = op.compute_dtype(*[i.type.dtype for i in node.inputs])
        if isinstance(op, scal.Switch):
            args = list(inputs)
        else:
            args = [a if a.dtype == compute else a.astype(compute) for a in inputs]
        with np.errstate(all="ignore"):
            result = op.impl(*args)
        result = np.asarray(result)
        if result.dtype != dtype:
            result = result.astype(dtype)
        # An inplace_pattern allows, but does not require, overwriting the input: numpy
        # computes into fresh memory, and only the C kernels reuse the input buffer.
        if not result.flags.owndata and result.base is not None and any(
                np.shares_memory(result, a) for a in inputs):
            result = result.copy()  # e.g. second() returns a broadcast view of its input
        output_storage[0][0] = result

    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list[Variable]:
        from theanolite.tensor.basic import cast, zeros_like
        from theanolite.configparser import config
        grads = self.scalar_op.tensor_grad(inputs, outputs, output_grads)
        result = []
        for inp, g in zip(inputs, grads):
            if inp.dtype in scal.discrete_dtypes:
                # Integer inputs get zero gradients of floatX, as in Theano.
                result.append(zeros_like(inp, dtype=config.floatX))
                continue
            if g is None:
                result.append(zeros_like(inp))
                continue
            g = sum_to_broadcastable(g, inp)
            if g.dtype != inp.dtype:
                g = cast(g, inp.dtype)
            result.append(g)
        return result

    def R_op(self, inputs: Sequence[Variable], eval_points: Sequence[Variable | None]) -> list:
        outputs = self.make_node(*inputs).outputs
        direct = self.scalar_op.tensor_rop(inputs, outputs, eval_points)
        if direct is not None:
            return [direct]
        # An elementwise Jacobian is diagonal: J.v = sum_i (d out / d in_i) * v_i, with the
        # partials taken at full output shape (no summing over broadcast dimensions).
        from theanolite.tensor.basic import ones_like
        from theanolite.tensor.math import add
        partials = self.scalar_op.tensor_grad(inputs, outputs, [ones_like(outputs[0])])
        terms = [p * e for p, e, x in zip(partials, eval_points, inputs)
                 if p is not None and e is not None and x.dtype not in scal.discrete_dtypes]
        if not terms:
            return [None]
        return [add(*terms) if len(terms) > 1 else terms[0]]


def check_broadcast(node: Apply, inputs: Sequence[np.ndarray]) -> None:
    """Raise a clear ValueError when input shapes do not agree on a non-broadcastable dim."""
    ndim = node.outputs[0].ndim
    for d in range(ndim):
        size = None
        for inp_var, value in zip(node.inputs, inputs):
            n = value.shape[d]
            if inp_var.broadcastable[d]:
                continue
            if size is None:
                size = n
            elif n != size:
                shapes = ", ".join(f"{_label(v, k)} {a.shape}" for k, (v, a) in enumerate(zip(node.inputs, inputs)))
                raise ValueError(f"{node.op}: input dimension mismatch on axis {d} "
                                 f"({size} vs {n}); input shapes: {shapes}")
        if size is not None:
            for k, (inp_var, value) in enumerate(zip(node.inputs, inputs)):
                if inp_var.broadcastable[d] and value.shape[d] != 1:
                    raise ValueError(f"{node.op}: input {_label(inp_var, k)} has length "
                                     f"{value.shape[d]} on axis {d}, which its type says is broadcastable")


def _label(var: Variable, k: int) -> str:
    return f"{k} ({var.name})" if var.name else str(k)


def pad_left(x: Variable, ndim: int) -> Variable:
    if x.ndim == ndim:
        return x
    return DimShuffle(x.broadcastable, ["x"] * (ndim - x.ndim) + list(range(x.ndim)))(x)


def sum_to_broadcastable(g: Variable, like: Variable) -> Variable:
    """Sum a gradient back to the shape of an input that was broadcast in the forward pass.

    The one place where broadcasting is undone for gradients: dimensions that ``like``
    had as broadcastable (or did not have at all) are summed away.
    """
    extra = g.ndim - like.ndim
    axes = list(range(extra))
    axes += [extra + d for d, b in enumerate(like.broadcastable) if b and not g.broadcastable[extra + d]]
    if axes:
        from theanolite.tensor.reduction import sum as tsum
        g = tsum(g, axis=axes, keepdims=True)
    if extra:
        g = DimShuffle(g.broadcastable, list(range(extra, g.ndim)))(g)
    if g.broadcastable != like.broadcastable:
        from theanolite.tensor.basic import specify_broadcastable_like
        g = specify_broadcastable_like(g, like.type.clone(dtype=g.dtype))
    return g


class DimShuffle(Op):
    """Reorder, add ('x') and drop (broadcastable only) dimensions; returns a view."""

    __props__ = ("input_broadcastable", "new_order")
    view_map = {0: [0]}

    def __init__(self, input_broadcastable: Sequence[bool], new_order: Sequence[Any], inplace: bool = True) -> None:
        self.input_broadcastable = tuple(bool(b) for b in input_broadcastable)
        self.new_order = tuple("x" if o == "x" else int(o) for o in new_order)
        nd = len(self.input_broadcastable)
        kept = [o for o in self.new_order if o != "x"]
        for o in kept:
            if not 0 <= o < nd:
                raise ValueError(f"dimshuffle{self.new_order}: dimension {o} out of range for a {nd}-d input")
        if len(set(kept)) != len(kept):
            raise ValueError(f"dimshuffle{self.new_order}: a dimension is repeated")
        for d in range(nd):
            if d not in kept and not self.input_broadcastable[d]:
                raise ValueError(f"dimshuffle{self.new_order}: cannot drop dimension {d}, "
                                 "which is not broadcastable")
        self.drop = tuple(d for d in range(nd) if d not in kept)
        self.shuffle = tuple(kept)
        self.augment = tuple(i for i, o in enumerate(self.new_order) if o == "x")

    def __str__(self) -> str:
        if self.new_order == (1, 0):
            return "Transpose"
        return f"DimShuffle{{{','.join(str(o) for o in self.new_order)}}}"

    def make_node(self, x: Any) -> Apply:
        from theanolite.tensor.basic import as_tensor_variable
        x = as_tensor_variable(x)
        if x.ndim != len(self.input_broadcastable):
            raise TypeError(f"{self}: expected a {len(self.input_broadcastable)}-d input, got {x.ndim}-d")
        for d in self.drop:
            if not x.broadcastable[d]:
                raise TypeError(f"{self}: cannot drop dimension {d} of {x}, which is not broadcastable")
        bcast = tuple(True if o == "x" else x.broadcastable[o] for o in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, bcast)()])

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        shp = shapes[0]
        return [tuple(1 if o == "x" else shp[o] for o in self.new_order)]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        x = inputs[0]
        for d in self.drop:
            if x.shape[d] != 1:
                raise ValueError(f"{self}: dimension {d} has length {x.shape[d]}, expected 1 "
                                 "(it is dropped)")
        shape = [1 if o == "x" else x.shape[o] for o in self.new_order]
        out = np.transpose(x, self.shuffle + self.drop).reshape(shape)
        output_storage[0][0] = out

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.tensor.basic import zeros_like
        (x,), (gz,) = inputs, output_grads
        if x.dtype in scal.discrete_dtypes:
            return [zeros_like(x)]
        # Drop the added dims, then undo the permutation and restore dropped dims.
        kept = [i for i, o in enumerate(self.new_order) if o != "x"]
        order: list[Any] = []
        for d in range(x.ndim):
            if d in self.shuffle:
                order.append(kept[self.shuffle.index(d)])
            else:
                order.append("x")
        g = DimShuffle(gz.broadcastable, order)(gz)
        return [sum_to_broadcastable(g, x) if g.broadcastable != x.broadcastable else g]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0])]
