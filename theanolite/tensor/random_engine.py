"""Numpy engine behind Theano's ``theano.tensor.shared_randomstreams.RandomStreams``.

Reference behaviour: Theano 1.0 ``shared_randomstreams.RandomStreams`` and the
``RandomFunction`` helpers of ``theano.tensor.raw_random``.

Seeding (documented contract, asserted by the tests against direct numpy calls):

* ``RandomStreams(seed)`` keeps ``gen_seedgen = numpy.random.RandomState(seed)``.
* Each new random variable gets its own
  ``numpy.random.RandomState(int(gen_seedgen.randint(2**30)))``.
* ``RandomStreams.seed(new)`` builds a *fresh* ``seedgen = RandomState(new)``
  (``new`` defaults to the constructor seed) and gives every existing variable,
  in creation order, ``RandomState(int(seedgen.randint(2**30)))``.  It does not
  touch ``gen_seedgen``: variables created afterwards continue its sequence.

Drawing: a ``RandomFunction`` op calls the ``RandomState`` method positionally
as ``fn(rng, *params, shape)`` where the params are the Theano constants
(Python scalars autocast as Theano does, see :func:`theano_autocast`) and
``shape`` is ``None`` for an empty size, else a tuple.  The result is then cast
with ``numpy.asarray(rval, dtype=out_dtype)``.  The helpers below do exactly
that; they advance ``rng`` in place (the op's output state).  With Theano's
default ``cast_policy='custom'`` and ``floatX='float32'`` a Python float
parameter is rounded to float32 *before* numpy sees it, so pass ``floatX``.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

__all__ = [
    "RandomStreams", "theano_autocast", "theano_upcast", "uniform", "normal",
    "binomial", "random_integers", "choice", "permutation", "poisson", "multinomial",
]

_SEED_RANGE = 2**30  # per-variable seeds are drawn with seedgen.randint(2**30)


class RandomStreams:
    """Seed bookkeeping of Theano's shared ``RandomStreams``.

    ``states`` holds one ``RandomState`` per random variable, in creation order;
    the graph layer stores them in its shared variables.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.default_instance_seed = seed
        self.gen_seedgen = np.random.RandomState(seed)
        self.states: list[np.random.RandomState] = []

    def gen_state(self) -> np.random.RandomState:
        """State for a new random variable (Theano's ``RandomStreams.gen``)."""
        rng = np.random.RandomState(int(self.gen_seedgen.randint(_SEED_RANGE)))
        self.states.append(rng)
        return rng

    def seed(self, seed: int | None = None) -> list[np.random.RandomState]:
        """Re-seed every existing variable; returns the new states (which also
        replace ``self.states``) so the caller can store them."""
        if seed is None:
            seed = self.default_instance_seed
        seedgen = np.random.RandomState(seed)
        self.states = [np.random.RandomState(int(seedgen.randint(_SEED_RANGE)))
                       for _ in self.states]
        return list(self.states)


def theano_autocast(x: object, floatX: str = "float64") -> np.ndarray:
    """Value of ``tensor.as_tensor_variable(x)`` under cast_policy='custom'.

    Python ints take the smallest of int8..int64 holding them; Python floats
    become float32 when floatX is float32 (even if inexact), else float32 when
    exact and float64 otherwise.  Arrays, numpy scalars and lists go through
    ``numpy.asarray`` unchanged (bool arrays become uint8, as in Theano).
    """
    if isinstance(x, bool):
        raise TypeError("Cannot cast True or False as a tensor variable. Please use 1 or 0.")
    if isinstance(x, int):
        for dt in ("int8", "int16", "int32", "int64"):
            if np.iinfo(dt).min <= x <= np.iinfo(dt).max:
                return np.asarray(x, dtype=dt)
        return np.asarray(x, dtype="uint64")
    if isinstance(x, float):
        if floatX == "float32" or float(np.float32(x)) == x:
            return np.asarray(x, dtype=np.float32)
        return np.asarray(x, dtype=np.float64)
    arr = np.asarray(x)
    return arr.astype(np.uint8) if arr.dtype == np.bool_ else arr


def theano_upcast(floatX: str, *dtypes: object) -> str:
    """``theano.scalar.upcast(floatX, *dtypes)``: numpy promotion, except that a
    float64 result is kept float32 when floatX is float32 and no input is
    explicitly float64.  Used for the default dtype of uniform/normal."""
    keep32 = floatX == "float32" and all(np.dtype(d) != np.float64 for d in dtypes)
    res = np.result_type(floatX, *dtypes)
    return "float32" if res == np.float64 and keep32 else str(res)


def _shape(size: int | Sequence[int] | None) -> tuple[int, ...] | None:
    # RandomFunction.perform: an empty shape vector means "let numpy decide".
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        size = (size,)
    size = tuple(int(s) for s in size)
    return size or None


def _cast(rval: object, dtype: str, size: object = None, ndim: int | None = None) -> np.ndarray:
    # theano._asarray(rval, dtype): an unsafe cast (floats truncate to ints).
    out = rval if isinstance(rval, np.ndarray) and rval.dtype == np.dtype(dtype) \
        else np.asarray(rval, dtype=dtype)
    shape = _shape(size)
    if shape is not None and ndim is not None and len(shape) != ndim:
        raise ValueError(f"ndim should be equal to len(shape), but ndim = {ndim}, shape = {shape}")
    if shape is None and ndim and out.ndim == 0:
        out = out.reshape((1,) * ndim)  # perform(): numpy returned a scalar
    return out


def uniform(rng: np.random.RandomState, size: Sequence[int] | None = None,
            low: object = 0.0, high: object = 1.0, ndim: int | None = None,
            dtype: str | None = None, floatX: str = "float64") -> np.ndarray:
    """``rng.uniform(low, high, shape)`` cast to dtype (default: upcast of
    floatX, low and high).  ``ndim`` only reshapes a scalar draw made with an
    empty size, as ``RandomFunction.perform`` does."""
    lo, hi = theano_autocast(low, floatX), theano_autocast(high, floatX)
    dtype = dtype or theano_upcast(floatX, lo.dtype, hi.dtype)
    return _cast(rng.uniform(lo, hi, _shape(size)), dtype, size, ndim)


def normal(rng: np.random.RandomState, size: Sequence[int] | None = None,
           avg: object = 0.0, std: object = 1.0, ndim: int | None = None,
           dtype: str | None = None, floatX: str = "float64") -> np.ndarray:
    """``rng.normal(avg, std, shape)`` cast to dtype (default: upcast of floatX,
    avg and std)."""
    av, sd = theano_autocast(avg, floatX), theano_autocast(std, floatX)
    dtype = dtype or theano_upcast(floatX, av.dtype, sd.dtype)
    return _cast(rng.normal(av, sd, _shape(size)), dtype, size, ndim)


def binomial(rng: np.random.RandomState, size: Sequence[int] | None = None,
             n: object = 1, p: object = 0.5, ndim: int | None = None,
             dtype: str = "int64", floatX: str = "float64") -> np.ndarray:
    """``rng.binomial(n, p, shape)`` cast to dtype (n's int64 -> int32 cast in
    Theano only happens on 32-bit numpy and does not change values)."""
    nn, pp = theano_autocast(n, floatX), theano_autocast(p, floatX)
    return _cast(rng.binomial(nn, pp, _shape(size)), dtype, size, ndim)


def _broadcast_index(idx: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    # _generate_broadcasting_indices: size-1 dimensions are read at index 0.
    return tuple(0 if s == 1 else i for i, s in zip(idx, shape))


def random_integers(rng: np.random.RandomState, size: Sequence[int] | None = None,
                    low: object = 0, high: object = 1, dtype: str = "int64") -> np.ndarray:
    """Theano's ``random_integers_helper``: one ``rng.random_integers(low=l,
    high=h)`` call per output element in C order (low/high broadcast), stored
    in a float64 array, then cast to dtype.

    With scalar bounds the draws are made by one vectorised
    ``randint(low, high + 1, size, dtype='l')``, which is what each scalar call
    does internally and yields the same sequence (tested).
    """
    lo, hi = theano_autocast(low), theano_autocast(high)
    shape = _shape(size)
    out_ndim = len(shape) if shape is not None else max(lo.ndim, hi.ndim)
    for name, v in (("low", lo), ("high", hi)):
        if v.ndim > out_ndim:
            raise ValueError(f"{name}.ndim ({v.ndim}) should not be larger than len(size) ({out_ndim})")
    lo = lo.reshape((1,) * (out_ndim - lo.ndim) + lo.shape)
    hi = hi.reshape((1,) * (out_ndim - hi.ndim) + hi.shape)
    if shape is None:
        shape = tuple(max(a, b) for a, b in zip(lo.shape, hi.shape))
    for v in (lo, hi):
        if any(s not in (1, o) for s, o in zip(v.shape, shape)):
            raise ValueError(f"shape {v.shape} does not broadcast to {shape}")
    out = np.empty(shape, dtype=np.float64)  # Theano's helper fills a float array
    if lo.size == 1 and hi.size == 1:
        out[...] = rng.randint(lo.item(), int(hi.item()) + 1, size=shape, dtype="l")
        return _cast(out, dtype)
    with warnings.catch_warnings():  # random_integers is deprecated in numpy
        warnings.simplefilter("ignore", DeprecationWarning)
        for oi in np.ndindex(*shape):
            out[oi] = rng.random_integers(low=lo[_broadcast_index(oi, lo.shape)],
                                          high=hi[_broadcast_index(oi, hi.shape)])
    return _cast(out, dtype)


def choice(rng: np.random.RandomState, size: Sequence[int] | None = None,
           a: object = 2, replace: bool = True, p: object = None,
           ndim: int | None = None, dtype: str = "int64") -> np.ndarray:
    """Theano's ``choice_helper``: ``rng.choice(a, shape, bool(replace), p)``
    with an empty/absent ``p`` passed as None, cast to dtype."""
    aa = theano_autocast(a)
    if aa.ndim > 1:
        raise ValueError(f"a.ndim ({aa.ndim}) must be 0 or 1")
    pp = np.asarray([] if p is None else p)  # Theano encodes p=None as []
    if pp.ndim != 1:
        raise ValueError(f"p.ndim ({pp.ndim}) must be 1")
    rval = rng.choice(aa, _shape(size), bool(replace), pp if pp.size else None)
    return _cast(rval, dtype, size, ndim)


def permutation(rng: np.random.RandomState, size: Sequence[int] | None = None,
                n: object = 1, dtype: str = "int64") -> np.ndarray:
    """Theano's ``permutation_helper``: one ``rng.permutation(n)`` per index of
    ``size`` in C order; output shape ``size + (n,)``, cast to dtype."""
    nn = int(np.asarray(n).item())
    shape = _shape(size) or ()
    out = np.empty(shape + (nn,), dtype=int)
    for i in np.ndindex(*shape):
        out[i] = rng.permutation(nn)
    return _cast(out, dtype)


def poisson(rng: np.random.RandomState, size: Sequence[int] | None = None,
            lam: object = 1.0, ndim: int | None = None, dtype: str = "int64",
            floatX: str = "float64") -> np.ndarray:
    """``rng.poisson(lam, shape)`` cast to dtype."""
    return _cast(rng.poisson(theano_autocast(lam, floatX), _shape(size)), dtype, size, ndim)


def multinomial(rng: np.random.RandomState, size: Sequence[int] | None = None,
                n: object = 1, pvals: object = (0.5, 0.5), dtype: str = "int64") -> np.ndarray:
    """Theano's ``multinomial_helper``: one ``rng.multinomial(n, pvals_row)`` per
    index of ``size`` (C order, n and pvals rows broadcast), after Theano's
    nudges: a row summing to (1, 1+1e-5) or ending below 5e-5 is scaled by
    (1 - 5e-5).  Output shape ``size + (len(row),)``, cast to dtype."""
    nn, pv = theano_autocast(n), np.asarray(pvals)
    shape = _shape(size)
    ndim = len(shape) if shape is not None else max(nn.ndim, pv.ndim - 1)
    if nn.ndim > ndim or pv.ndim - 1 > ndim:
        raise ValueError("n / pvals have more dimensions than size")
    nn = nn.reshape((1,) * (ndim - nn.ndim) + nn.shape)
    pv = pv.reshape((1,) * (ndim - pv.ndim + 1) + pv.shape)
    if shape is None:
        shape = tuple(max(a, b) for a, b in zip(nn.shape, pv.shape[:-1]))
    if pv.min() < 0:
        raise ValueError("pvals must be non-negative")
    out = np.empty(shape + (pv.shape[-1],), dtype=np.float64)
    for mi in np.ndindex(*shape):
        pvi = pv[_broadcast_index(mi, pv.shape[:-1])]
        pisum = np.sum(pvi)
        if 1.0 < pisum < 1.0 + 1e-5 or pvi[-1] < 5e-5:
            pvi = pvi * (1.0 - 5e-5)
            pisum = np.sum(pvi)
        if pisum > 1.0:
            raise ValueError(f"pvals row sums to {pisum} > 1")
        out[mi] = rng.multinomial(n=nn[_broadcast_index(mi, nn.shape)],
                                  pvals=pvi.astype("float64"))
    return _cast(out, dtype)
