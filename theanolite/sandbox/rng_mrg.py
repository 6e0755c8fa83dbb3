"""``MRG_RandomStreams``: MRG31k3p random streams in graphs (Theano 1.0's
``theano.sandbox.rng_mrg`` and the ops of ``theano.sandbox.multinomial``).

Contracts:

* Every random variable owns a shared int32 matrix of ``n_streams`` generator states
  (rows ``(x1, x2, x3, y1, y2, y3)``).  ``mrg_uniform`` reads it and outputs
  ``(new_states, sample)``; the shared matrix's ``default_update`` is the new states, so
  each call of a compiled function advances the variable.  The op never modifies its
  input states.
* Stream counts, the seeding of each variable's matrix, ``seed()`` and the numbers
  drawn are those of :mod:`theanolite.sandbox.mrg_engine` (bit-exact with Theano's C
  code for uniform draws; normal draws use numpy's log/cos/sin -- see the engine).
* ``normal``, ``binomial``, ``multinomial`` and ``choice`` are built from one
  ``mrg_uniform`` draw followed by deterministic ops, as in Theano; gradients through
  any of them are undefined.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from theanolite.compile.sharedvalue import shared
from theanolite.configparser import config
from theanolite.graph.basic import Apply, Constant, Variable
from theanolite.graph.op import Op
from theanolite.sandbox import mrg_engine as engine
from theanolite.sandbox.mrg_engine import _elementary  # the engine's log/cos/sin, for exactness
from theanolite.scalar.basic import upcast
from theanolite.tensor.basic import as_tensor_variable, cast, constant, shape_i, zeros_like
from theanolite.tensor.raw_random import as_size_vector, size_entries, vector_length
from theanolite.tensor.type import TensorType

__all__ = ["MRG_RandomStreams", "mrg_uniform", "MultinomialFromUniform", "ChoiceFromUniform",
           "undefined_grad", "guess_n_streams"]

guess_n_streams = engine.guess_n_streams


def _grad_undefined_all(op: Op, inputs: Sequence[Variable], why: str) -> list:
    from theanolite.gradient import grad_undefined
    return [grad_undefined(op, k, x, why) for k, x in enumerate(inputs)]


def _const_bcast(size: Variable, ndim: int) -> tuple[bool, ...]:
    """Broadcastable flags of a sample of ``size``: True where the entry is a constant 1."""
    return tuple(isinstance(e, Constant) and int(e.data) == 1 for e in size_entries(size, ndim))


def _check_ndim(size: Variable, ndim: int | None) -> int:
    try:
        length = vector_length(size)
    except ValueError:
        if ndim is None:
            raise
        return int(ndim)
    if ndim is not None and int(ndim) != length:
        raise ValueError(f"ndim = {ndim} does not match the length {length} of size")
    return length


class UndefinedGrad(Op):
    """Identity whose gradient is undefined (Theano's ``undefined_grad``)."""

    __props__ = ()
    view_map = {0: [0]}

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        return [shapes[0]]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        output_storage[0][0] = inputs[0]

    def L_op(self, inputs, outputs, output_grads):
        return _grad_undefined_all(self, inputs, "the gradient through a random sample is undefined")

    def R_op(self, inputs, eval_points):
        return [None]


def undefined_grad(x: Any) -> Variable:
    """``x`` in the forward pass; asking for a gradient through it raises."""
    return UndefinedGrad()(x)


# ----------------------------------------------------------------------------- mrg_uniform

class mrg_uniform(Op):  # noqa: N801 - Theano's name
    """Uniform (0, 1) samples of ``output_type``'s dtype from MRG31k3p states.

    Inputs ``(rstate, size)``: an int32 (n_streams, 6) state matrix and an int64 size
    vector.  Outputs ``(new_rstate, sample)``; element ``i`` (C order) comes from
    stream ``i % n_streams``.
    """

    __props__ = ("output_type", "inplace")

    def __init__(self, output_type: TensorType, inplace: bool = False) -> None:
        if output_type.dtype not in ("float16", "float32", "float64"):
            raise TypeError(f"mrg_uniform: dtype must be float16/32/64, got {output_type.dtype}")
        self.output_type, self.inplace = output_type, bool(inplace)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def __str__(self) -> str:
        return f"mrg_uniform{{{self.output_type},{'inplace' if self.inplace else 'no_inplace'}}}"

    __repr__ = __str__

    @classmethod
    def new(cls, rstate: Variable, ndim: int | None, dtype: str, size: Any) -> list[Variable]:
        """``(new_rstate, sample)`` for ``size`` (tuple of ints/int scalars or int vector)."""
        v_size = as_size_vector(size)
        ndim = _check_ndim(v_size, ndim)
        return cls(TensorType(dtype, (False,) * ndim))(rstate, v_size)

    def make_node(self, rstate: Any, size: Any) -> Apply:
        rstate = as_tensor_variable(rstate)
        if rstate.dtype != "int32" or rstate.ndim != 2:
            raise TypeError(f"mrg_uniform: rstate must be an int32 matrix, got {rstate.type}")
        size = as_size_vector(size)
        ndim = self.output_type.ndim
        length = _known_length(size)
        if length is not None and length != ndim:
            raise ValueError(f"{self}: size has {length} entries for a {ndim}-d sample")
        bcast = _const_bcast(size, ndim) if length is not None else (False,) * ndim
        return Apply(self, [rstate, size], [rstate.type(), self.output_type.clone(broadcastable=bcast)()])

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        return [shapes[0], tuple(size_entries(node.inputs[1], node.outputs[1].ndim))]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        rstate, size = inputs
        shape = tuple(int(s) for s in size)
        if len(shape) != node.outputs[1].ndim:
            raise ValueError(f"{self}: size {shape} has {len(shape)} entries but the sample "
                             f"has {node.outputs[1].ndim} dimensions")
        if any(s < 0 for s in shape):
            raise ValueError(f"{self}: negative dimension in size {shape}")
        new, sample = engine.mrg_uniform(rstate, shape, node.outputs[1].type.dtype, impl="c")
        output_storage[0][0] = new
        output_storage[1][0] = sample

    def L_op(self, inputs, outputs, output_grads):
        return _grad_undefined_all(self, inputs, "No gradient defined through random sampling op")

    def R_op(self, inputs, eval_points):
        return [None, None]


def _known_length(size: Variable) -> int | None:
    try:
        return vector_length(size)
    except ValueError:
        return None


# ----------------------------------------------------------------------------- transforms

class BoxMuller(Op):
    """Normal samples of shape ``size`` from ``n + n % 2`` uniforms (n = prod(size)):
    first half ``u1``, second ``u2``; ``concat(r cos t, r sin t)[:n]`` with
    ``r = sqrt(-2 log u1)``, ``t = 2 pi u2`` (Theano's MRG ``normal``, truncate=False)."""

    __props__ = ("broadcastable",)

    def __init__(self, broadcastable: Sequence[bool]) -> None:
        self.broadcastable = tuple(bool(b) for b in broadcastable)

    def make_node(self, u: Any, size: Any) -> Apply:
        u, size = as_tensor_variable(u), as_size_vector(size)
        if u.ndim != 1 or u.dtype not in ("float32", "float64"):
            raise TypeError(f"BoxMuller: uniforms must be a float32/float64 vector, got {u.type}")
        return Apply(self, [u, size], [TensorType(u.dtype, self.broadcastable)()])

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        return [tuple(size_entries(node.inputs[1], len(self.broadcastable)))]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        u, size = inputs
        shape = tuple(int(s) for s in size)
        n_odd = math.prod(shape)
        if len(shape) != len(self.broadcastable) or u.shape != (n_odd + n_odd % 2,):
            raise ValueError(f"{self}: {u.shape[0]} uniforms do not fit size {shape}")
        half = u.shape[0] // 2
        r = np.sqrt(-2.0 * _elementary("log", u[:half], "numpy"))
        theta = np.array(2.0 * np.pi, dtype=u.dtype) * u[half:]
        z = np.concatenate([r * _elementary("cos", theta, "numpy"),
                            r * _elementary("sin", theta, "numpy")])
        output_storage[0][0] = z[:n_odd].reshape(shape)

    def L_op(self, inputs, outputs, output_grads):
        return _grad_undefined_all(self, inputs, "the gradient through a random sample is undefined")


class MultinomialFromUniform(Op):
    """Counts of ``n`` multinomial draws per row of ``pvals`` (2-d), using ``rows * n``
    uniforms: draw ``c`` of row ``r`` reads ``unis[c * rows + r]``."""

    __props__ = ("odtype",)

    def __init__(self, odtype: str = "auto") -> None:
        self.odtype = odtype

    def make_node(self, pvals: Any, unis: Any, n: Any = 1) -> Apply:
        pvals, unis, n = as_tensor_variable(pvals), as_tensor_variable(unis), as_tensor_variable(n)
        if pvals.ndim != 2:
            raise NotImplementedError(f"{type(self).__name__}: pvals ndim should be 2, got {pvals.ndim}")
        if unis.ndim != 1:
            raise NotImplementedError(f"{type(self).__name__}: unis ndim should be 1, got {unis.ndim}")
        if n.ndim != 0 or n.dtype[:3] not in ("int", "uin"):
            raise TypeError(f"{type(self).__name__}: n must be an integer scalar, got {n.type}")
        dtype = pvals.dtype if self.odtype == "auto" else self.odtype
        return Apply(self, [pvals, unis, n], [TensorType(dtype, self._out_bcast(pvals))()])

    def _out_bcast(self, pvals: Variable) -> tuple[bool, ...]:
        return pvals.broadcastable

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        return [shapes[0]]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        pvals, unis, n = inputs
        output_storage[0][0] = engine.multinomial_from_uniform(
            pvals, unis, int(n), node.outputs[0].type.dtype)

    def L_op(self, inputs, outputs, output_grads):
        # Theano: zero gradients (pvals is wrapped in undefined_grad by the streams).
        return [zeros_like(x, dtype=config.floatX) if x.dtype[:3] in ("int", "uin") else zeros_like(x)
                for x in inputs]


class ChoiceFromUniform(MultinomialFromUniform):
    """``n`` category indices per row of ``pvals`` without replacement (rows, n)."""

    __props__ = ("odtype", "replace")

    def __init__(self, odtype: str = "auto", replace: bool = False) -> None:
        super().__init__(odtype)
        self.replace = bool(replace)

    def _out_bcast(self, pvals: Variable) -> tuple[bool, ...]:
        return (pvals.broadcastable[0], False)

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        return [(shapes[0][0], cast(node.inputs[2], "int64"))]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        pvals, unis, n = inputs
        output_storage[0][0] = engine.choice_from_uniform(
            pvals, unis, int(n), self.replace, node.outputs[0].type.dtype)


# ----------------------------------------------------------------------------- the streams

def _check_uniform_size(size: Any) -> bool:
    """Validate ``uniform``'s size as Theano does; True when it is a symbolic vector."""
    if isinstance(size, (tuple, list)):
        for s in size:
            if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer, Variable)):
                raise TypeError(f"size must be a tuple of int or a Theano variable, got {size!r}")
        if any(isinstance(s, (int, np.integer)) and s <= 0 for s in size):
            raise ValueError(f"The specified size contains a dimension with value <= 0: {size!r}")
        return False
    if isinstance(size, Variable) and getattr(size.type, "ndim", None) == 1:
        return True
    raise TypeError("size must be a tuple of int or a Theano Variable with 1 dimension, got "
                    f"{size!r:.60} of type {type(size).__name__}")


def _check_normal_size(size: Any) -> Any:
    """Theano's ``_check_size``: an int, a tuple/list of ints and int scalars, or a
    vector (a scalar variable becomes a 1-element size)."""
    if isinstance(size, Variable):
        if size.ndim == 1:
            return size
        if size.ndim == 0:
            return (size,)
        raise ValueError(f"Theano variable must have 1 dimension to be a valid size: {size}")
    if isinstance(size, (int, np.integer)) and not isinstance(size, (bool, np.bool_)):
        size = (size,)
    if not isinstance(size, (tuple, list)):
        raise ValueError(f"Size must be a int, tuple, list or Theano variable, got {size!r:.60}")
    for s in size:
        if isinstance(s, Variable):
            if s.ndim != 0:
                raise ValueError(f"Non-scalar Theano variable in size: {s}")
        elif isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)):
            if s <= 0:
                raise ValueError(f"Non-positive dimensions not allowed in size: {size!r}")
        else:
            raise ValueError(f"Only Theano variables and integers are allowed in a size-tuple: {size!r}")
    return tuple(size)


class MRG_RandomStreams:  # noqa: N801 - Theano's name
    """A factory of MRG31k3p random variables (see the module docstring)."""

    def __init__(self, seed: int | Sequence[int] = engine.DEFAULT_SEED) -> None:
        self._state = engine.MRGStreamsState(seed)
        # (shared states, new states, size, nstreams) for every variable, in order.
        self.state_updates: list[tuple[Variable, Variable, Any, int | None]] = []

    # -- seeding ------------------------------------------------------------------------
    @property
    def default_instance_seed(self) -> Any:
        return self._state.default_instance_seed

    @property
    def rstate(self) -> np.ndarray:
        """The int32[6] master state the next variable's streams start from."""
        return self._state.rstate

    @rstate.setter
    def rstate(self, value: Any) -> None:
        value = np.array(value, dtype=np.int32).reshape(6)
        self._state.rstate = value

    def set_rstate(self, seed: int | Sequence[int]) -> None:
        self._state.set_rstate(seed)

    def inc_rstate(self) -> None:
        self._state.inc_rstate()

    def get_substream_rstates(self, n_streams: int, dtype: str | None = None,
                              inc_rstate: bool = True) -> np.ndarray:
        return self._state.get_substream_rstates(n_streams, inc_rstate)

    def n_streams(self, size: Any) -> int:
        return engine.guess_n_streams(size)

    def seed(self, seed: int | Sequence[int] | None = None) -> None:
        """Restart every variable made so far from ``seed`` (default: the constructor's)."""
        states = self._state.seed(seed)
        for (old_r, *_), st in zip(self.state_updates, states):
            old_r.set_value(st, borrow=True)

    def updates(self) -> list[tuple[Variable, Variable, Any, int | None]]:
        return list(self.state_updates)

    # -- the one primitive draw -------------------------------------------------------------
    def _draw(self, size: Any, ndim: int | None, dtype: str, n_streams: int,
              nstreams: int | None) -> Variable:
        v_size = as_size_vector(size)
        ndim = _check_ndim(v_size, ndim)  # validated before the master state moves
        op = mrg_uniform(TensorType(dtype, (False,) * ndim))
        rstate = shared(self._state.new_variable_rstates(n_streams), borrow=True)
        rstate.tag["is_rng"] = True
        new_rstate, u = op(rstate, v_size)
        u.rstate, u.update = rstate, (rstate, new_rstate)
        self.state_updates.append((rstate, new_rstate, size, nstreams))
        rstate.default_update = new_rstate
        return u

    # -- distributions ------------------------------------------------------------------------
    def uniform(self, size: Any, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: str | None = None, nstreams: int | None = None, **kwargs: Any) -> Variable:
        """``u * (high - low) + low`` with ``u`` uniform in (0, 1); dtype defaults to
        upcast(floatX, low, high).  ``size``: tuple of ints/int scalars or int vector."""
        kwargs.pop("target", None)  # Theano's GPU target: meaningless here
        if kwargs:
            raise TypeError(f"uniform() got unexpected keyword arguments {sorted(kwargs)}")
        low, high = as_tensor_variable(low), as_tensor_variable(high)
        dtype = dtype or upcast(config.floatX, low.dtype, high.dtype)
        low, high = undefined_grad(cast(low, dtype)), undefined_grad(cast(high, dtype))
        symbolic = _check_uniform_size(size)
        n_streams = engine.n_streams_for("uniform", size, nstreams, size_is_symbolic=symbolic)
        u = self._draw(size, ndim, dtype, n_streams, nstreams)
        r = u * (high - low) + low
        if r.broadcastable != u.broadcastable:
            raise NotImplementedError("Increase the size to match the broadcasting pattern of "
                                      "`low` and `high` arguments")
        return r

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: str = "int64", nstreams: int | None = None, **kwargs: Any) -> Variable:
        """``cast(u < p, dtype)`` for a floatX uniform ``u`` (only ``n == 1``)."""
        if isinstance(n, Variable) or n != 1:
            raise NotImplementedError("MRG_RandomStreams.binomial with n > 1")
        p = undefined_grad(as_tensor_variable(p))
        x = self.uniform(size=size, ndim=ndim, nstreams=nstreams, **kwargs)
        return cast(x < p, dtype)

    def normal(self, size: Any, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: str | None = None, nstreams: int | None = None, truncate: bool = False,
               **kwargs: Any) -> Variable:
        """Box-Muller normal samples ``* std + avg`` (see :class:`BoxMuller`)."""
        if truncate:
            raise NotImplementedError("MRG_RandomStreams.normal(truncate=True) is not implemented")
        size = _check_normal_size(size)
        avg, std = undefined_grad(as_tensor_variable(avg)), undefined_grad(as_tensor_variable(std))
        dtype = dtype or upcast(config.floatX, avg.dtype, std.dtype)
        if dtype not in ("float32", "float64"):
            raise ValueError(f"MRG_RandomStreams.normal supports float32/float64, not {dtype}")
        v_size = as_size_vector(size)
        ndim = _check_ndim(v_size, ndim)
        entries = size_entries(v_size, ndim)
        if all(isinstance(e, Constant) for e in entries):
            n_odd = math.prod(int(e.data) for e in entries)
            n_even: Any = n_odd + n_odd % 2
        else:
            n_odd = constant(1, dtype="int64")
            for e in entries:
                n_odd = n_odd * e
            n_even = n_odd + n_odd % 2
        n_streams = engine.n_streams_for("normal", nstreams=nstreams)
        u = self._draw((n_even,), 1, dtype, n_streams, nstreams)
        samples = BoxMuller(_const_bcast(v_size, ndim))(u, v_size)
        samples = samples * cast(std, dtype) + cast(avg, dtype)
        return undefined_grad(samples)

    def truncated_normal(self, *args: Any, **kwargs: Any) -> Variable:
        raise NotImplementedError("MRG_RandomStreams.truncated_normal is not implemented")

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = None, ndim: int | None = None,
                    dtype: str = "int64", nstreams: int | None = None, **kwargs: Any) -> Variable:
        """``n`` draws per row of the 2-d ``pvals``: counts of shape ``pvals.shape``."""
        if pvals is None:
            raise TypeError("You have to specify pvals")
        pvals = undefined_grad(as_tensor_variable(pvals))
        if size is not None:
            if isinstance(size, (tuple, list)) and any(
                    isinstance(s, (int, np.integer)) and s <= 0 for s in size):
                raise ValueError(f"The specified size contains a dimension with value <= 0: {size!r}")
            raise ValueError("Provided a size argument to MRG_RandomStreams.multinomial, which "
                             "does not use the size argument.")
        if ndim is not None:
            raise ValueError("Provided an ndim argument to MRG_RandomStreams.multinomial, which "
                             "does not use the ndim argument.")
        if pvals.ndim != 2:
            raise NotImplementedError("MRG_RandomStreams.multinomial only implemented for pvals.ndim = 2")
        unis = self.uniform(size=(shape_i(pvals, 0) * n,), ndim=1, nstreams=nstreams, **kwargs)
        return MultinomialFromUniform(dtype)(pvals, unis, as_tensor_variable(n))

    def choice(self, size: Any = 1, a: Any = None, replace: bool = True, p: Any = None,
               ndim: int | None = None, dtype: str = "int64", nstreams: int | None = None,
               **kwargs: Any) -> Variable:
        """``size`` distinct indices per row of the 2-d ``p``, without replacement
        (Theano supports only ``replace=False`` and ``a=None``)."""
        if replace:
            raise NotImplementedError("MRG_RandomStreams.choice only works without replacement for now.")
        if a is not None:
            raise TypeError("For now, a has to be None in MRG_RandomStreams.choice. Sampled values "
                            "are between 0 and p.shape[1]-1")
        if p is None:
            raise TypeError("For now, p has to be specified in MRG_RandomStreams.choice.")
        p = undefined_grad(as_tensor_variable(p))
        if ndim is not None:
            raise ValueError("ndim argument to MRG_RandomStreams.choice is not used.")
        if p.ndim != 2:
            raise NotImplementedError("MRG_RandomStreams.choice is only implemented for p.ndim = 2")
        unis = self.uniform(size=(shape_i(p, 0) * size,), ndim=1, nstreams=nstreams, **kwargs)
        return ChoiceFromUniform(odtype=dtype)(p, unis, as_tensor_variable(size))
