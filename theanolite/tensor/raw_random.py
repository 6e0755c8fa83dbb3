"""numpy ``RandomState`` values in graphs: ``RandomStateType``, shared RandomState
variables, and the ``RandomFunction`` op that draws from them (Theano 1.0's
``theano.tensor.raw_random``).

Contracts:

* A ``RandomFunction`` node has inputs ``(rng, size, *params)`` -- ``size`` an int64
  vector, empty meaning "let numpy decide from the params" -- and outputs
  ``(new_rng, sample)``.  ``perform`` draws from a *copy* of ``rng`` (the op is not
  in-place unless built with ``inplace=True``) and returns that copy, advanced, as
  ``new_rng``.  A graph advances a stream only through an update of the shared
  RandomState (``RandomStreams`` sets it as ``default_update``).
* The numbers drawn are exactly those of the numpy calls in
  :mod:`theanolite.tensor.random_engine` (Theano's calls, argument order included).
* Samples are not differentiable: every input's gradient is undefined.

The distribution functions (``uniform``, ``normal``, ...) take the rng variable first
and return ``(new_rng, sample)``; ``RandomStreams`` wraps them with seeding.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np

from theanolite.compile.sharedvalue import SharedVariable, shared_constructor
from theanolite.configparser import config
from theanolite.graph.basic import Apply, Constant, Variable
from theanolite.graph.op import Op, Type
from theanolite.scalar import basic as scal
from theanolite.scalar.basic import upcast
from theanolite.tensor import random_engine as engine
from theanolite.tensor.basic import Shape, as_tensor_variable, cast, constant, shape_i
from theanolite.tensor.type import TensorType

__all__ = [
    "RandomStateType", "random_state_type", "RandomStateSharedVariable",
    "randomstate_constructor", "RandomFunction", "uniform", "normal", "binomial",
    "random_integers", "choice", "poisson", "permutation", "multinomial",
]


# ----------------------------------------------------------------------------- the type

class RandomStateType(Type):
    """Values are ``numpy.random.RandomState`` objects.

    ``filter`` validates and returns the same object (no copy: copies are made by
    ``shared``/``get_value``/``set_value`` unless ``borrow=True``, and by the ops).
    """

    def filter(self, data: Any, strict: bool = False, allow_downcast: bool | None = None) -> Any:
        if isinstance(data, np.random.RandomState):
            return data
        hint = (" (RandomStreams needs the legacy numpy.random.RandomState, not a Generator)"
                if isinstance(data, np.random.Generator) else "")
        raise TypeError(f"RandomStateType: expected a numpy.random.RandomState, got "
                        f"{type(data).__name__}{hint}")

    def values_eq(self, a: Any, b: Any) -> bool:
        """Equal when the Mersenne-Twister states are (RandomState has no ``==``)."""
        sa, sb = a.get_state(), b.get_state()
        if sa[0] != sb[0] or not np.array_equal(sa[1], sb[1]) or sa[2:4] != sb[2:4]:
            return False
        return sa[3] == 0 or sa[4] == sb[4]  # the cached gaussian matters only if present

    @staticmethod
    def may_share_memory(a: Any, b: Any) -> bool:
        return a is b

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(RandomStateType)

    def __str__(self) -> str:
        return "RandomStateType"

    __repr__ = __str__


random_state_type = RandomStateType()


class RandomStateSharedVariable(SharedVariable):
    """A shared variable holding a RandomState (``theano.shared(RandomState(...))``)."""

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> bool:
        return self is other


@shared_constructor
def randomstate_constructor(value: Any, name: str | None = None, strict: bool = False,
                            allow_downcast: bool | None = None, borrow: bool = False,
                            **kwargs: Any) -> RandomStateSharedVariable:
    """``shared(rng)`` for a RandomState; the state is copied unless ``borrow``."""
    if not isinstance(value, np.random.RandomState):
        raise TypeError("not a numpy.random.RandomState")
    if kwargs:
        raise TypeError(f"shared(RandomState): unexpected arguments {sorted(kwargs)}")
    if not borrow:
        value = copy.deepcopy(value)
    return RandomStateSharedVariable(name, random_state_type, value, strict, allow_downcast)


# ----------------------------------------------------------------------------- size vectors

class MakeSize(Op):
    """Integer scalars -> the int64 vector of them (a draw's ``size``)."""

    __props__ = ()

    def make_node(self, *dims: Any) -> Apply:
        ins = [as_tensor_variable(d) for d in dims]
        for k, d in enumerate(ins):
            if d.ndim != 0 or d.dtype[:3] not in ("int", "uin"):
                raise TypeError(f"size entry {k} must be an integer scalar, got {d} of type {d.type}")
        return Apply(self, ins, [TensorType("int64", (False,))()])

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        return [(len(node.inputs),)]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        output_storage[0][0] = np.array([int(d) for d in inputs], dtype="int64")

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        return [DisconnectedType()() for _ in inputs]

    def connection_pattern(self, node: Apply) -> list:
        return [[False] for _ in node.inputs]


class SizeEntry(Op):
    """Entry ``i`` of an int64 size vector, as an int64 scalar (used by infer_shape)."""

    __props__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = int(i)

    def make_node(self, size: Any) -> Apply:
        size = as_tensor_variable(size)
        if size.ndim != 1:
            raise TypeError(f"SizeEntry: expected a vector, got {size.type}")
        return Apply(self, [size], [TensorType("int64", ())()])

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        return [()]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        size = inputs[0]
        if not -len(size) <= self.i < len(size):
            raise IndexError(f"{self}: size {tuple(size)} has no entry {self.i}")
        output_storage[0][0] = np.asarray(size[self.i], dtype="int64")

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        return [DisconnectedType()()]

    def connection_pattern(self, node: Apply) -> list:
        return [[False]]


class BroadcastShape(Op):
    """The broadcast shape of the inputs, input ``k`` without its last ``drops[k]``
    dims, as an int64 vector: the size numpy uses when a draw's size is None."""

    __props__ = ("drops",)

    def __init__(self, drops: Sequence[int]) -> None:
        self.drops = tuple(int(d) for d in drops)

    def make_node(self, *xs: Any) -> Apply:
        ins = [as_tensor_variable(x) for x in xs]
        if len(ins) != len(self.drops):
            raise TypeError(f"{self}: expected {len(self.drops)} inputs, got {len(ins)}")
        return Apply(self, ins, [TensorType("int64", (False,))()])

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list) -> list:
        return [(max([x.ndim - d for x, d in zip(node.inputs, self.drops)] + [0]),)]

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list) -> None:
        shapes = [x.shape[:x.ndim - d] for x, d in zip(inputs, self.drops)]
        try:
            out = np.broadcast_shapes(*shapes)
        except ValueError:
            raise ValueError(f"random draw: parameter shapes {shapes} do not broadcast "
                             "together") from None
        output_storage[0][0] = np.array(out, dtype="int64")

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import DisconnectedType
        return [DisconnectedType()() for _ in inputs]

    def connection_pattern(self, node: Apply) -> list:
        return [[False] for _ in node.inputs]


def _int_entry(s: Any, k: int) -> Any:
    """A size-tuple entry as a Python int or an integer scalar variable."""
    if isinstance(s, Variable):
        s = as_tensor_variable(s)
        if s.ndim != 0 or s.dtype[:3] not in ("int", "uin"):
            raise TypeError(f"size entry {k} must be an integer scalar, got {s} of type {s.type}")
        return s
    if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
        raise TypeError(f"size entry {k} must be an integer, got {type(s).__name__} {s!r}")
    return int(s)


def make_size(entries: Sequence[Any]) -> Variable:
    """An int64 vector from Python ints and integer scalar variables."""
    entries = [_int_entry(s, k) for k, s in enumerate(entries)]
    if all(isinstance(s, int) for s in entries):
        return constant(np.array(entries, dtype="int64"))
    return MakeSize()(*entries)


def as_size_vector(size: Any) -> Variable:
    """``size`` (tuple/list of ints or int scalars, int, or integer vector) as int64 vector."""
    if isinstance(size, (tuple, list)):
        return make_size(size)
    if isinstance(size, (int, np.integer)) and not isinstance(size, (bool, np.bool_)):
        return make_size([size])
    if not isinstance(size, Variable):
        raise TypeError(f"size must be a tuple of integers or an integer vector, got "
                        f"{type(size).__name__} {size!r:.60}")
    v = as_tensor_variable(size)
    if v.ndim != 1 or v.dtype[:3] not in ("int", "uin"):
        raise TypeError(f"size must be an integer vector, got {v} of type {v.type}")
    return cast(v, "int64")


def _is_make_vector(op: Op) -> bool:
    # T.stack of scalars (shape_ops' MakeVector) carries its entries like MakeSize.
    return isinstance(op, MakeSize) or type(op).__name__ == "MakeVector"


def vector_length(v: Variable) -> int:
    """The length of a size vector when it is known at graph-building time."""
    if isinstance(v, Constant):
        return len(np.asarray(v.data))
    node = v.owner
    if node is not None:
        if _is_make_vector(node.op):
            return len(node.inputs)
        if isinstance(node.op, Shape):
            return node.inputs[0].ndim
        if isinstance(getattr(node.op, "scalar_op", None), scal.Cast):
            return vector_length(node.inputs[0])
    raise ValueError(f"the length of size {v} is not known when building the graph; "
                     "pass ndim= as well")


def size_entries(v: Variable, n: int) -> list[Variable]:
    """The first ``n`` entries of an int64 size vector as int64 scalar variables,
    read from the graph that built it where possible (so shapes stay symbolic)."""
    if isinstance(v, Constant):
        return [constant(int(s), dtype="int64") for s in np.asarray(v.data)[:n]]
    node = v.owner
    if node is not None and _is_make_vector(node.op):
        return [cast(s, "int64") for s in node.inputs[:n]]
    if node is not None and isinstance(node.op, Shape):
        return [shape_i(node.inputs[0], i) for i in range(n)]
    return [SizeEntry(i)(v) for i in range(n)]


# ----------------------------------------------------------------------------- the op

# Names that map to the engine helpers; any other string is a RandomState method name.
_ENGINE_HELPERS: dict[str, Callable] = {
    "uniform": engine.uniform, "normal": engine.normal, "binomial": engine.binomial,
    "random_integers": engine.random_integers, "choice": engine.choice,
    "permutation": engine.permutation, "poisson": engine.poisson,
    "multinomial": engine.multinomial,
}


class RandomFunction(Op):
    """Draw ``size`` samples of a distribution from a RandomState.

    ``fn`` is a distribution name (``"uniform"``, ``"normal"``, ..., drawn with the
    :mod:`random_engine` helper of that name; other names are RandomState methods)
    or a callable ``fn(rng, *params, shape)`` as in Theano, ``shape`` being None
    for an empty size.  ``outtype`` is the sample's TensorType; ``ndim_added`` the
    number of dimensions each draw adds after ``size`` (1 for permutation and
    multinomial).  Outputs: ``(new_rng, sample)``.
    """

    __props__ = ("fn", "outtype", "inplace", "ndim_added")

    def __init__(self, fn: str | Callable, outtype: TensorType, inplace: bool = False,
                 ndim_added: int = 0) -> None:
        if isinstance(fn, str) and fn not in _ENGINE_HELPERS and \
                not callable(getattr(np.random.RandomState, fn, None)):
            raise ValueError(f"RandomFunction: unknown distribution {fn!r}")
        self.fn, self.outtype = fn, outtype
        self.inplace, self.ndim_added = bool(inplace), int(ndim_added)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def __str__(self) -> str:
        name = self.fn if isinstance(self.fn, str) else getattr(self.fn, "__name__", str(self.fn))
        return f"RandomFunction{{{name}}}"

    __repr__ = __str__

    def make_node(self, r: Any, shape: Any, *args: Any) -> Apply:
        if not isinstance(r, Variable) or not isinstance(r.type, RandomStateType):
            raise TypeError(f"{self}: the first input must be a RandomStateType variable "
                            f"(e.g. theano.shared(numpy.random.RandomState(seed))), got {r!r:.60}")
        size = as_size_vector(shape)
        params = [as_tensor_variable(a) for a in args]
        return Apply(self, [r, size] + params, [r.type(), self.outtype()])

    def infer_shape(self, fgraph: Any, node: Apply, input_shapes: list) -> list:
        size = node.inputs[1]
        if self.ndim_added or (isinstance(size, Constant) and np.asarray(size.data).size == 0):
            # The shape depends on the parameters' values: let the caller use its default.
            raise NotImplementedError(f"{self}: sample shape is not a function of size alone")
        return [None, tuple(size_entries(size, node.outputs[1].ndim))]

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        r, size, params = inputs[0], inputs[1], list(inputs[2:])
        if not isinstance(r, np.random.RandomState):
            raise TypeError(f"{self}: rng input must be a numpy.random.RandomState, got {type(r).__name__}")
        shape = tuple(int(s) for s in size) if len(size) else None
        ndim = self.outtype.ndim
        if shape is not None and ndim != len(shape) + self.ndim_added:
            raise ValueError(f"{self}: shape mismatch: the output has {ndim} dimensions but "
                             f"size {shape} has {len(shape)} (+ {self.ndim_added} added by the draw)")
        r = r if self.inplace else copy.deepcopy(r)
        dtype = node.outputs[1].type.dtype
        rval = self._draw(r, shape, params, dtype)
        if shape is None and rval.ndim == 0 and ndim > 0:
            rval = rval.reshape((1,) * ndim)  # numpy returned a scalar for a 1-element draw
        if rval.ndim != ndim:
            raise ValueError(f"{self}: shape mismatch: the output should have {ndim} dimensions "
                             f"but the draw has shape {rval.shape}")
        if shape is not None and rval.shape[:len(shape)] != shape:
            raise ValueError(f"{self}: shape mismatch: the output should have shape {shape} "
                             f"(+ {self.ndim_added} dims) but the draw has shape {rval.shape}")
        output_storage[0][0] = r
        output_storage[1][0] = rval

    def _draw(self, r: np.random.RandomState, shape: tuple | None, params: list,
              dtype: str) -> np.ndarray:
        helper = _ENGINE_HELPERS.get(self.fn) if isinstance(self.fn, str) else None
        if helper is not None:
            return helper(r, shape, *params, dtype=dtype)
        fn = getattr(np.random.RandomState, self.fn) if isinstance(self.fn, str) else self.fn
        rval = fn(r, *(params + [shape]))
        if not isinstance(rval, np.ndarray) or rval.dtype != np.dtype(dtype):
            rval = np.asarray(rval, dtype=dtype)
        return rval

    def L_op(self, inputs, outputs, output_grads):
        from theanolite.gradient import grad_undefined
        return [grad_undefined(self, k, inp, "No gradient defined through raw random numbers op")
                for k, inp in enumerate(inputs)]

    def R_op(self, inputs, eval_points):
        return [None, None]


# ----------------------------------------------------------------------------- size inference

def _infer_ndim_bcast(ndim: int | None, shape: Any, *args: Variable) -> tuple[int, Variable, tuple]:
    """(ndim, int64 size vector, broadcastable) of a draw, from ``shape`` or the params.

    A tuple ``shape`` may mix ints and integer scalar variables; ``-1`` means "the
    length of a parameter's matching (non-broadcastable) dimension".  ``None`` draws
    the parameters' broadcast shape.  A vector variable is used as is.
    """
    args_ndim = max((a.ndim for a in args), default=0)
    if isinstance(shape, (tuple, list)):
        if ndim is None:
            ndim = len(shape)
        elif len(shape) != ndim:
            raise ValueError(f"ndim should be equal to len(shape), but ndim = {ndim}, "
                             f"len(shape) = {len(shape)}, shape = {shape}")
        entries, bcast = [], []
        for i, s in enumerate(shape):
            s = _int_entry(s, i)
            if isinstance(s, Variable):
                entries.append(s)
                bcast.append(False)
            elif s >= 0:
                entries.append(s)
                bcast.append(s == 1)
            elif s == -1:
                dim, b = _auto_dim(i, ndim, args)
                entries.append(dim)
                bcast.append(b)
            else:
                raise ValueError(f"size {tuple(shape)} has a negative entry {s} (only -1, "
                                 "meaning 'as the parameters', is allowed)")
        v_shape = make_size(entries)
    elif shape is None:
        if not args:
            raise TypeError("cannot infer the size of a draw without either size or parameters")
        if ndim is not None and ndim != args_ndim:
            raise ValueError(f"ndim = {ndim} but size=None draws the parameters' shape, "
                             f"which has {args_ndim} dimensions")
        ndim = args_ndim
        padded = [(True,) * (ndim - a.ndim) + a.broadcastable for a in args]
        bcast = [all(p[d] for p in padded) for d in range(ndim)]
        v_shape = BroadcastShape([0] * len(args))(*args)
    else:
        v_shape = as_size_vector(shape)
        if ndim is None:
            ndim = vector_length(v_shape)
        bcast = [False] * ndim
    if args_ndim > ndim:
        raise ValueError(f"ndim should be at least as big as required by the parameters: "
                         f"ndim = {ndim}, parameters need {args_ndim}")
    return ndim, v_shape, tuple(bcast)


def _auto_dim(i: int, ndim: int, args: Sequence[Variable]) -> tuple[Any, bool]:
    overlapping = 0
    for a in args:
        if i >= ndim - a.ndim:
            overlapping += 1
            a_i = i + a.ndim - ndim
            if not a.broadcastable[a_i]:
                return shape_i(getattr(a, "source", a), a_i), False
    if overlapping == 0:
        raise ValueError("Auto-shape of -1 must overlap with the shape of one of the "
                         "broadcastable inputs")
    return 1, True


# ----------------------------------------------------------------------------- distributions

def _float_dtype(dtype: str | None, *params: Variable) -> str:
    return dtype or upcast(config.floatX, *[p.dtype for p in params])


def uniform(random_state: Variable, size: Any = None, low: Any = 0.0, high: Any = 1.0,
            ndim: int | None = None, dtype: str | None = None) -> list[Variable]:
    """Uniform draws in [low, high); dtype defaults to upcast(floatX, low, high)."""
    low, high = as_tensor_variable(low), as_tensor_variable(high)
    dtype = _float_dtype(dtype, low, high)
    ndim, size, bcast = _infer_ndim_bcast(ndim, size, low, high)
    return RandomFunction("uniform", TensorType(dtype, bcast))(random_state, size, low, high)


def normal(random_state: Variable, size: Any = None, avg: Any = 0.0, std: Any = 1.0,
           ndim: int | None = None, dtype: str | None = None) -> list[Variable]:
    """Normal draws of mean ``avg`` and standard deviation ``std``."""
    avg, std = as_tensor_variable(avg), as_tensor_variable(std)
    dtype = _float_dtype(dtype, avg, std)
    ndim, size, bcast = _infer_ndim_bcast(ndim, size, avg, std)
    return RandomFunction("normal", TensorType(dtype, bcast))(random_state, size, avg, std)


def binomial(random_state: Variable, size: Any = None, n: Any = 1, p: Any = 0.5,
             ndim: int | None = None, dtype: str = "int64", prob: Any = None) -> list[Variable]:
    """Binomial draws (``n`` trials of probability ``p``); ``prob`` is Theano's old name."""
    if prob is not None:
        p = prob
    n, p = as_tensor_variable(n), as_tensor_variable(p)
    ndim, size, bcast = _infer_ndim_bcast(ndim, size, n, p)
    return RandomFunction("binomial", TensorType(dtype, (False,) * ndim))(random_state, size, n, p)


def random_integers(random_state: Variable, size: Any = None, low: Any = 0, high: Any = 1,
                    ndim: int | None = None, dtype: str = "int64") -> list[Variable]:
    """Integers in [low, high], both included (bounds broadcast elementwise)."""
    low, high = as_tensor_variable(low), as_tensor_variable(high)
    ndim, size, bcast = _infer_ndim_bcast(ndim, size, low, high)
    return RandomFunction("random_integers", TensorType(dtype, bcast))(random_state, size, low, high)


def choice(random_state: Variable, size: Any = None, a: Any = 2, replace: Any = True,
           p: Any = None, ndim: int | None = None, dtype: str = "int64") -> list[Variable]:
    """numpy's ``choice(a, size, replace, p)``; ``p=None`` travels as an empty vector."""
    a = as_tensor_variable(a)
    replace = constant(int(replace), dtype="int8") if isinstance(replace, bool) \
        else as_tensor_variable(replace)
    p = as_tensor_variable([] if p is None else p)
    ndim, size, bcast = _infer_ndim_bcast(ndim, size)
    return RandomFunction("choice", TensorType(dtype, bcast))(random_state, size, a, replace, p)


def poisson(random_state: Variable, size: Any = None, lam: Any = 1.0, ndim: int | None = None,
            dtype: str = "int64") -> list[Variable]:
    """Poisson draws of rate ``lam``."""
    lam = as_tensor_variable(lam)
    ndim, size, bcast = _infer_ndim_bcast(ndim, size)
    return RandomFunction("poisson", TensorType(dtype, bcast))(random_state, size, lam)


def permutation(random_state: Variable, size: Any = None, n: Any = 1, ndim: int | None = None,
                dtype: str = "int64") -> list[Variable]:
    """Permutations of ``range(n)``, one per index of ``size`` (shape ``size + (n,)``)."""
    if size is None or size == ():
        if ndim not in (None, 1):
            raise TypeError("You asked for just one permutation but asked for more then 1 dimensions.")
        size, bcast = (), ()
    else:
        ndim, size, bcast = _infer_ndim_bcast(ndim, size)
    out = TensorType(dtype, tuple(bcast) + (False,))
    return RandomFunction("permutation", out, ndim_added=1)(random_state, size, n)


def multinomial(random_state: Variable, size: Any = None, n: Any = 1, pvals: Any = (0.5, 0.5),
                ndim: int | None = None, dtype: str = "int64") -> list[Variable]:
    """Multinomial counts of ``n`` trials over the last axis of ``pvals``."""
    n, pvals = as_tensor_variable(n), as_tensor_variable(pvals)
    if pvals.ndim < 1:
        raise ValueError(f"multinomial: pvals must have at least 1 dimension, got {pvals.type}")
    if size is None:
        if ndim is not None and ndim != max(n.ndim, pvals.ndim - 1):
            raise ValueError(f"ndim = {ndim} but size=None draws the shape of n and "
                             f"pvals[..., 0], which has {max(n.ndim, pvals.ndim - 1)} dimensions")
        ndim = max(n.ndim, pvals.ndim - 1)
        padded = [(True,) * (ndim - n.ndim) + n.broadcastable,
                  (True,) * (ndim - pvals.ndim + 1) + pvals.broadcastable[:-1]]
        bcast = tuple(all(p[d] for p in padded) for d in range(ndim))
        size = BroadcastShape((0, 1))(n, pvals)
    else:
        ndim, size, bcast = _infer_ndim_bcast(ndim, size, n, _Last(pvals))
    out = TensorType(dtype, tuple(bcast) + (pvals.broadcastable[-1],))
    return RandomFunction("multinomial", out, ndim_added=1)(random_state, size, n, pvals)


class _Last:
    """Stand-in for ``pvals[..., 0]`` in size inference: its ndim and broadcastable,
    and ``source`` whose leading dimensions it shares (for -1 sizes)."""

    def __init__(self, pvals: Variable) -> None:
        self.ndim = pvals.ndim - 1
        self.broadcastable = pvals.broadcastable[:-1]
        self.source = pvals
