"""Pure-numpy engine reproducing Theano's MRG31k3p random streams bit-for-bit.

Reference behaviour: Theano 1.0 ``theano.sandbox.rng_mrg`` (``MRG_RandomStreams``,
``mrg_uniform``, ``DotModulo``, ``guess_n_streams``) and
``theano.sandbox.multinomial`` (``MultinomialFromUniform``, ``ChoiceFromUniform``),
running their C implementations (Theano's default when a compiler is present).

How Theano's streams are laid out (and how this module mirrors it):

* ``MRG_RandomStreams(seed)`` turns ``seed`` into a 6-int32 *master state*
  (:func:`mrg_seed_to_rstate`).
* Every random variable created from it gets a matrix of ``n_streams`` states:
  row 0 is the master state, row ``i`` is row ``i-1`` jumped ahead ``2**72``
  steps (:func:`get_substream_rstates`).  Afterwards the master state jumps
  ``2**134`` steps (:func:`inc_rstate`) so the next variable is independent.
  :class:`MRGStreamsState` keeps that bookkeeping, including ``seed()``.
* ``n_streams`` is the ``nstreams`` argument, else :func:`guess_n_streams` of
  the size -- which is ``60*256`` whenever the size handed to ``uniform`` is
  symbolic, as it always is inside ``normal``, ``multinomial`` and ``choice``
  (see :func:`n_streams_for`).
* Output element ``i`` is drawn from stream ``i % n_streams``
  (:func:`mrg_uniform`); streams advance only when they are used.

The distribution helpers return ``(new_rstate, sample)``; the caller stores
``new_rstate`` back, exactly like Theano's shared-variable update.

Exactness limits: integer states and uniform samples are exact (checked against
L'Ecuyer's Java reference).  Theano's compiled ``log/cos/sin`` come from the C
library, so ``normal`` is exact only with ``math_impl="libm"`` on the same libm;
and Theano's ``-march=native`` builds may fuse ``a*b+c`` into an FMA, which numpy
never does (matters for non-default low/high/avg/std).  truncated_normal is
not implemented.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math
import warnings
from typing import Sequence

import numpy as np

__all__ = [
    "M1", "M2", "DEFAULT_SEED", "MAX_GUESSED_STREAMS", "A1P0", "A2P0", "A1P72", "A2P72",
    "A1P134", "A2P134", "SeedError", "mrg_seed_to_rstate", "ff_2p72", "ff_2p134",
    "inc_rstate", "get_substream_rstates", "MRGStreamsState", "guess_n_streams",
    "n_streams_for", "mrg_uniform", "uniform", "normal", "binomial", "multinomial",
    "choice", "multinomial_from_uniform", "choice_from_uniform"]

# --- generator constants (L'Ecuyer & Touzin, MRG31k3p) -----------------------
M1 = 2147483647  # 2**31 - 1, modulus of the first component
M2 = 2147462579  # 2**31 - 21069, modulus of the second component
_MASK12, _MASK13, _MASK2, _MULT2 = 511, 16777215, 65535, 21069
DEFAULT_SEED = 12345
MAX_GUESSED_STREAMS = 60 * 256
_NORM_F64 = 4.656612873077392578125e-10  # exactly 2**-31
# float32 C kernels multiply by the float literal 4.6566126e-10f, the largest
# float32 with float32(M1) * NORM < 1.0, so float32 samples never round to 1.
_NORM_F32 = np.float32(4.6566126e-10)
_NORM_F16 = np.float16(3.0458e-05)

# One-step transition matrices (state vector = newest value first); kept so
# tests can re-derive the jump matrices below by exact exponentiation.
A1P0 = np.array([[0, 4194304, 129], [1, 0, 0], [0, 1, 0]], dtype=np.int64)
A2P0 = np.array([[32768, 0, 32769], [1, 0, 0], [0, 1, 0]], dtype=np.int64)
# A^(2**72) mod m: jump to the next substream.
A1P72 = np.array([[1516919229, 758510237, 499121365],
                  [1884998244, 1516919229, 335398200],
                  [601897748, 1884998244, 358115744]], dtype=np.int64)
A2P72 = np.array([[1228857673, 1496414766, 954677935],
                  [1133297478, 1407477216, 1496414766],
                  [2002613992, 1639496704, 1407477216]], dtype=np.int64)
# A^(2**134) mod m: jump to the next stream (next random variable).
A1P134 = np.array([[1702500920, 1849582496, 1656874625],
                   [828554832, 1702500920, 1512419905],
                   [1143731069, 828554832, 102237247]], dtype=np.int64)
A2P134 = np.array([[796789021, 1464208080, 607337906],
                   [1241679051, 1431130166, 1464208080],
                   [1401213391, 1178684362, 1431130166]], dtype=np.int64)


class SeedError(TypeError, ValueError):
    """Seed of the wrong shape/type: TypeError as in Theano, and a ValueError so
    that one ``except ValueError`` catches every invalid seed."""


def _seed_int(v: object) -> int:
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        v = int(v)
        if not -2**31 <= v < 2**31:
            raise ValueError(f"seed value {v} does not fit in int32")
        return v
    raise SeedError(f"seed values must be integers, got {v!r}")


def mrg_seed_to_rstate(seed: int | Sequence[int] = DEFAULT_SEED) -> np.ndarray:
    """Return the int32[6] master state ``MRG_RandomStreams(seed)`` starts from.

    An int is replicated 6 times; it must be non-zero and ``< M2`` (Theano
    accepts negative ints, so do we).  A 6-sequence must have neither half all
    zero, first three ``< M1`` and last three ``< M2``.  Violations raise
    ValueError with Theano's message; a wrong shape raises :class:`SeedError`.
    Deviation: numpy integers count as ints (Theano only took Python ints).
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        s = _seed_int(seed)
        if s == 0:
            raise ValueError("seed should not be 0", s)
        if s >= M2:
            raise ValueError(f"seed should be less than {M2}", s)
        return np.full(6, s, dtype=np.int32)
    try:
        vals = [_seed_int(v) for v in seed]  # type: ignore[union-attr]
    except TypeError:
        raise SeedError("seed should be 1 integer or 6 integers", seed) from None
    if len(vals) != 6:
        raise SeedError("seed should be 1 integer or 6 integers", seed)
    if vals[0] == vals[1] == vals[2] == 0:
        raise ValueError("The first 3 values of seed should not be all 0", seed)
    if vals[3] == vals[4] == vals[5] == 0:
        raise ValueError("The last 3 values of seed should not be all 0", seed)
    if any(v >= M1 for v in vals[:3]):
        raise ValueError(f"The first 3 values of seed should be less than {M1}", seed)
    if any(v >= M2 for v in vals[3:]):
        raise ValueError(f"The last 3 values of seed should be less than {M2}", seed)
    return np.asarray(vals, dtype=np.int32)


# --- jumps (Theano's DotModulo C code) ---------------------------------------
def _dot_mod(s: np.ndarray, a: np.ndarray, m: int) -> np.ndarray:
    """Rows of ``s`` (k,3) times ``a.T`` modulo m, as DotModulo's C code does it:
    each int64 product reduced with C's truncating ``%`` (np.fmod), then the sum.
    Truncation only matters for negative states (negative seeds)."""
    s = s.astype(np.int64)
    r = sum(np.fmod(s[:, j:j + 1] * a[:, j][None, :], m) for j in range(3))
    return np.fmod(r, m)


def _jump(rstate: np.ndarray, a1: np.ndarray, a2: np.ndarray) -> np.ndarray:
    st = np.asarray(rstate)
    flat = st.reshape(-1, 6)
    out = np.concatenate([_dot_mod(flat[:, :3], a1, M1),
                          _dot_mod(flat[:, 3:], a2, M2)], axis=1)
    return out.astype(np.int32).reshape(st.shape)


def ff_2p72(rstate: np.ndarray) -> np.ndarray:
    """Jump one state (6,) or many (k, 6) ahead by 2**72 steps (next substream)."""
    return _jump(rstate, A1P72, A2P72)


def ff_2p134(rstate: np.ndarray) -> np.ndarray:
    """Jump one state (6,) or many (k, 6) ahead by 2**134 steps (next stream)."""
    return _jump(rstate, A1P134, A2P134)


def inc_rstate(rstate: np.ndarray) -> np.ndarray:
    """Master-state update Theano applies after each variable: ``ff_2p134``."""
    return ff_2p134(rstate)


def _matmul_mod(a: list, b: list, m: int) -> list:
    # Python ints: 3x3 products of 31-bit numbers overflow int64 when summed.
    return [[sum(a[i][k] * b[k][j] for k in range(3)) % m for j in range(3)] for i in range(3)]


def get_substream_rstates(rstate: np.ndarray, n_streams: int) -> np.ndarray:
    """Return int32 (n_streams, 6): row 0 = ``rstate``, row i = ff_2p72(row i-1).

    Pure: the master state is *not* advanced (see :class:`MRGStreamsState`).
    For non-negative states the rows are built by doubling with jump matrices
    ``A**(2**72 * 2**j) mod m`` -- identical to repeated ``ff_2p72`` because both
    yield canonical residues.  Negative states (negative seeds) keep C's signed
    remainders, so they take the literal sequential path.
    """
    n_streams = int(n_streams)
    if not 0 < n_streams < 2**72:
        raise ValueError(f"n_streams must be in [1, 2**72), got {n_streams}")
    base = np.asarray(rstate, dtype=np.int32).reshape(6)
    out = np.empty((n_streams, 6), dtype=np.int32)
    out[0] = base
    if n_streams == 1:
        return out
    if (base < 0).any():
        for i in range(1, n_streams):
            out[i] = ff_2p72(out[i - 1])
        return out
    p1, p2, have = A1P72.tolist(), A2P72.tolist(), 1
    while have < n_streams:  # rows [have, 2*have) = A**have @ rows [0, have)
        take = min(have, n_streams - have)
        out[have:have + take] = _jump(out[:take], np.array(p1, np.int64), np.array(p2, np.int64))
        have += take
        p1, p2 = _matmul_mod(p1, p1, M1), _matmul_mod(p2, p2, M2)
    return out


class MRGStreamsState:
    """Host-side bookkeeping of ``MRG_RandomStreams``: master state, per-variable
    substream matrices, and ``seed()`` re-deriving them in creation order."""

    def __init__(self, seed: int | Sequence[int] = DEFAULT_SEED) -> None:
        self.default_instance_seed = seed
        self.rstate = mrg_seed_to_rstate(seed)
        self.stream_counts: list[int] = []  # n_streams of each variable, in order

    def set_rstate(self, seed: int | Sequence[int]) -> None:
        self.rstate = mrg_seed_to_rstate(seed)

    def inc_rstate(self) -> None:
        self.rstate = inc_rstate(self.rstate)

    def get_substream_rstates(self, n_streams: int, inc_rstate: bool = True) -> np.ndarray:
        """Theano's method: substream matrix from the master state, then (by
        default) jump the master state 2**134 ahead."""
        rval = get_substream_rstates(self.rstate, n_streams)
        if inc_rstate:
            self.inc_rstate()
        return rval

    def new_variable_rstates(self, n_streams: int) -> np.ndarray:
        """States for one new random variable (one ``uniform`` call inside
        Theano); remembered so :meth:`seed` can rebuild them."""
        rval = self.get_substream_rstates(n_streams)
        self.stream_counts.append(int(n_streams))
        return rval

    def seed(self, seed: int | Sequence[int] | None = None) -> list[np.ndarray]:
        """Reset the master state from ``seed`` (default: the constructor seed)
        and return fresh state matrices for every variable, in creation order."""
        self.set_rstate(self.default_instance_seed if seed is None else seed)
        return [self.get_substream_rstates(n) for n in self.stream_counts]


def guess_n_streams(size: object, warn: bool = False) -> int:
    """Theano's stream count for ``size``: for a tuple/list of Python ints,
    ``prod`` (``prod // 6`` when above 6) capped at 60*256; anything else
    (symbolic sizes -- and, faithfully, numpy integers) gives 60*256."""
    if isinstance(size, (tuple, list)) and all(isinstance(i, int) for i in size):
        r = math.prod(size)
        if r > 6:
            r = r // 6  # Theano: "chosen as fastest for rbm_benchmark"
        return min(r, MAX_GUESSED_STREAMS)
    if warn:
        warnings.warn(f"MRG_RandomStreams Can't determine #streams from size ({size}),"
                      " guessing 60*256", stacklevel=2)
    return MAX_GUESSED_STREAMS


def n_streams_for(method: str, size: object = None, nstreams: int | None = None,
                  size_is_symbolic: bool = False) -> int:
    """Streams Theano 1.0 allocates for ``MRG_RandomStreams.<method>(size, nstreams)``.

    ``uniform``/``binomial`` guess from ``size`` (60*256 when it is symbolic);
    ``normal``, ``multinomial`` and ``choice`` call ``uniform`` with a symbolic
    size, hence 60*256 unless ``nstreams`` is given.
    """
    if nstreams is not None:
        return int(nstreams)
    if method in ("uniform", "binomial"):
        return MAX_GUESSED_STREAMS if size_is_symbolic else guess_n_streams(size)
    if method in ("normal", "multinomial", "choice"):
        return MAX_GUESSED_STREAMS
    raise ValueError(f"unknown MRG method {method!r}")


# --- the generator -----------------------------------------------------------
def _next_states(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One MRG31k3p step for every row of int32 (k, 6) ``x``.

    Uses int32 arrays on purpose: numpy wraps on overflow like the C code, whose
    ``y < 0 || y >= M`` tests rely on that wrap.  Returns (new states, integer
    output in [1, M1])."""
    x11, x12, x13, x21, x22, x23 = (x[:, i] for i in range(6))
    y1 = ((x12 & _MASK12) << 22) + (x12 >> 9) + ((x13 & _MASK13) << 7) + (x13 >> 24)
    y1 = np.where((y1 < 0) | (y1 >= M1), y1 - M1, y1)
    y1 = y1 + x13
    y1 = np.where((y1 < 0) | (y1 >= M1), y1 - M1, y1)
    z1 = ((x21 & _MASK2) << 15) + _MULT2 * (x21 >> 16)
    z1 = np.where((z1 < 0) | (z1 >= M2), z1 - M2, z1)
    y2 = ((x23 & _MASK2) << 15) + _MULT2 * (x23 >> 16)
    y2 = np.where((y2 < 0) | (y2 >= M2), y2 - M2, y2)
    y2 = y2 + x23
    y2 = np.where((y2 < 0) | (y2 >= M2), y2 - M2, y2)
    y2 = y2 + z1
    y2 = np.where((y2 < 0) | (y2 >= M2), y2 - M2, y2)
    new = np.stack([y1, x11, x12, y2, x21, x22], axis=1)
    k = np.where(y1 <= y2, y1 - y2 + M1, y1 - y2).astype(np.int32)
    return new, k


def _to_float(k: np.ndarray, dtype: np.dtype, impl: str) -> np.ndarray:
    if dtype == np.float64:
        return k.astype(np.float64) * _NORM_F64  # exact: k * 2**-31
    if dtype == np.float32:
        if impl == "c":  # C: (float)k * 4.6566126e-10f, all in float32
            return k.astype(np.float32) * _NORM_F32
        # Theano's Python perform(): int64 * float32 scalar -> float64, then stored.
        return ((k.astype(np.int64) & 0xFFFFFFFF) * np.float64(_NORM_F32)).astype(np.float32)
    if dtype == np.float16:  # Theano has no C code for float16: perform() path
        return (((k.astype(np.int64) & 0x7FFF) + 1) * np.float64(_NORM_F16)).astype(np.float16)
    raise ValueError(f"mrg_uniform supports float16/32/64, not {dtype}")


def mrg_uniform(rstate: np.ndarray, size: Sequence[int], dtype: str = "float64",
                impl: str = "c") -> tuple[np.ndarray, np.ndarray]:
    """Theano's ``mrg_uniform`` op: ``(new_rstate, sample)``, sample in (0, 1).

    ``rstate`` is int32 (n_streams, 6) and is not modified.  Element ``i`` (C
    order) comes from stream ``i % n_streams``; only used streams advance.
    ``impl="c"`` (default) follows the C kernel for float32, ``"py"`` Theano's
    Python ``perform`` (float64 product rounded to float32; may differ by 1 ulp).
    More than 2**31-1 elements raise ValueError, as in Theano.
    """
    if impl not in ("c", "py"):
        raise ValueError("impl must be 'c' or 'py'")
    st = np.array(rstate, dtype=np.int32, copy=True)
    if st.ndim != 2 or st.shape[1] != 6 or st.shape[0] == 0:
        raise ValueError(f"rstate must be an int32 matrix with 6 columns, got {st.shape}")
    shape = tuple(int(s) for s in size)
    n = math.prod(shape)
    if n > M1:
        raise ValueError("rng_mrg does not support more than (2**31 -1) samples")
    n_streams = st.shape[0]
    ks = np.empty(n, dtype=np.int32)
    for start in range(0, n, n_streams):  # one generator step for all used streams
        cnt = min(n_streams, n - start)
        st[:cnt], ks[start:start + cnt] = _next_states(st[:cnt])
    return st, _to_float(ks, np.dtype(dtype), impl).reshape(shape)


# --- Theano literal handling, needed for dtype-exact parameters ---------------
def _autocast(x: object, floatX: str) -> np.ndarray:
    """``as_tensor_variable`` on a parameter (cast_policy='custom'): a Python
    float becomes float32 when floatX is float32, else float32 only if exact."""
    if isinstance(x, float):
        if floatX == "float32" or float(np.float32(x)) == x:
            return np.asarray(x, dtype=np.float32)
        return np.asarray(x, dtype=np.float64)
    if isinstance(x, int) and not isinstance(x, bool):
        for dt in ("int8", "int16", "int32", "int64"):
            if np.iinfo(dt).min <= x <= np.iinfo(dt).max:
                return np.asarray(x, dtype=dt)
    return np.asarray(x)


def _upcast(floatX: str, *dtypes: np.dtype) -> str:
    """Theano's ``scal.upcast(floatX, *dtypes)``: numpy promotion, but stay in
    float32 when floatX is float32 and no operand is explicitly float64."""
    keep32 = floatX == "float32" and all(np.dtype(d) != np.float64 for d in dtypes)
    res = np.result_type(floatX, *dtypes)
    return "float32" if res == np.float64 and keep32 else str(res)


def _check_size(size: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(size, (int, np.integer)):
        size = (size,)
    size = tuple(size)
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise ValueError("Only integers are allowed in a size-tuple.", size, s)
        if s <= 0:
            raise ValueError("The specified size contains a dimension with value <= 0", size)
    return tuple(int(s) for s in size)


def uniform(rstate: np.ndarray, size: Sequence[int], low: object = 0.0, high: object = 1.0,
            dtype: str | None = None, floatX: str = "float64",
            impl: str = "c") -> tuple[np.ndarray, np.ndarray]:
    """``MRG_RandomStreams.uniform``: ``u * (high - low) + low`` in ``dtype``
    (low/high cast to dtype first; dtype defaults to upcast(floatX, low, high))."""
    size = _check_size(size)
    lo, hi = _autocast(low, floatX), _autocast(high, floatX)
    dtype = dtype or _upcast(floatX, lo.dtype, hi.dtype)
    new, u = mrg_uniform(rstate, size, dtype, impl)
    lo, hi = lo.astype(dtype), hi.astype(dtype)
    r = u * (hi - lo) + lo
    if r.shape != u.shape:
        raise ValueError("low/high must broadcast to size without enlarging it")
    return new, r


_LIBM: dict[str, object] = {}


def _elementary(name: str, x: np.ndarray, math_impl: str) -> np.ndarray:
    """log/cos/sin as Theano's C code would get them.

    Theano's C calls the C library (``logf`` etc. for float32).  ``"numpy"``
    (fast): numpy for float64 (libm-backed unless numpy's AVX-512 kernels kick
    in); float32 goes through float64 and is rounded, as numpy's float32 SIMD
    kernels are several-ulp approximations while libm's are within ~0.5 ulp.
    ``"libm"``: the platform C library via ctypes, element by element -- slow,
    but bit-identical to Theano compiled on the same machine.
    """
    if math_impl == "numpy":
        if x.dtype == np.float32:
            return getattr(np, name)(x.astype(np.float64)).astype(np.float32)
        return getattr(np, name)(x)
    if math_impl != "libm":
        raise ValueError("math_impl must be 'numpy' or 'libm'")
    cname = name + ("f" if x.dtype == np.float32 else "")
    if cname not in _LIBM:
        lib = ctypes.CDLL(ctypes.util.find_library("m") or None)
        fn = getattr(lib, cname)
        ctype = ctypes.c_float if x.dtype == np.float32 else ctypes.c_double
        fn.restype, fn.argtypes = ctype, [ctype]
        _LIBM[cname] = fn
    fn = _LIBM[cname]
    return np.array([fn(v) for v in x.astype(np.float64).tolist()], dtype=x.dtype)


def normal(rstate: np.ndarray, size: int | Sequence[int], avg: object = 0.0,
           std: object = 1.0, dtype: str | None = None, floatX: str = "float64",
           impl: str = "c", math_impl: str = "numpy") -> tuple[np.ndarray, np.ndarray]:
    """``MRG_RandomStreams.normal`` (Theano 1.0, truncate=False), Box-Muller.

    Draws ``n_even = n + n % 2`` uniforms; ``u1`` = first half, ``u2`` = second;
    ``r = sqrt(-2 log u1)``, ``theta = float(2*pi as dtype) * u2``; result is
    ``concat(r cos theta, r sin theta)[:n]`` reshaped, then ``* std + avg``.
    Odd sizes therefore drop the last sine.  Remember Theano allocates 60*256
    streams here unless ``nstreams`` was given (:func:`n_streams_for`).
    ``math_impl`` selects how log/cos/sin are evaluated (see ``_elementary``).
    """
    size = _check_size(size)
    av, sd = _autocast(avg, floatX), _autocast(std, floatX)
    dtype = dtype or _upcast(floatX, av.dtype, sd.dtype)
    if dtype not in ("float32", "float64"):
        raise ValueError(f"normal supports float32/float64, not {dtype}")
    n_odd = math.prod(size)
    n_even = n_odd + n_odd % 2
    new, u = mrg_uniform(rstate, (n_even,), dtype, impl)
    u1, u2 = u[: n_even // 2], u[n_even // 2:]
    r = np.sqrt(-2.0 * _elementary("log", u1, math_impl))  # -2.0 weak: stays in dtype
    theta = np.array(2.0 * np.pi, dtype=dtype) * u2
    z = np.concatenate([r * _elementary("cos", theta, math_impl),
                        r * _elementary("sin", theta, math_impl)])[:n_odd].reshape(size)
    z = z * sd.astype(dtype)  # Theano: samples *= std; samples += avg
    z = z + av.astype(dtype)
    return new, z


def binomial(rstate: np.ndarray, size: Sequence[int], p: object = 0.5, n: int = 1,
             dtype: str = "int64", floatX: str = "float64",
             impl: str = "c") -> tuple[np.ndarray, np.ndarray]:
    """``MRG_RandomStreams.binomial`` (only n == 1): ``cast(u < p, dtype)`` with
    ``u`` a floatX uniform; ``p`` keeps its own Theano dtype in the comparison."""
    if n != 1:
        raise NotImplementedError("MRG_RandomStreams.binomial with n > 1")
    new, u = uniform(rstate, size, dtype=floatX, floatX=floatX, impl=impl)
    return new, (u < _autocast(p, floatX)).astype(dtype)


def multinomial_from_uniform(pvals: np.ndarray, unis: np.ndarray, n: int = 1,
                             dtype: str = "int64") -> np.ndarray:
    """``MultinomialFromUniform`` C code: for draw c and row r, the count of the
    first outcome whose float64 running sum exceeds ``unis[c * rows + r]``."""
    pv = np.asarray(pvals)
    rows = pv.shape[0]
    unis = np.asarray(unis)
    if unis.shape != (rows * n,):
        raise ValueError("unis.shape[0] != pvals.shape[0] * n")
    cums = np.cumsum(pv, axis=1, dtype=np.float64)  # sequential, like C's double sum
    z = np.zeros(pv.shape, dtype=dtype)
    for c in range(n):
        hit = cums > unis[c * rows:(c + 1) * rows, None]
        found = hit.any(axis=1)  # u >= total mass: C leaves the row untouched
        np.add.at(z, (np.nonzero(found)[0], hit.argmax(axis=1)[found]), 1)
    return z


def choice_from_uniform(pvals: np.ndarray, unis: np.ndarray, n: int = 1,
                        replace: bool = False, dtype: str = "int64") -> np.ndarray:
    """``ChoiceFromUniform`` C code: index draws per row; without replacement
    the chosen p is zeroed and the row renormalised in pvals' dtype, with the
    sum seeded by the float64 prefix sum rounded to that dtype (as in C)."""
    pv = np.array(pvals, copy=True)
    rows, k = pv.shape
    unis = np.asarray(unis)
    if n > k:
        raise ValueError("Cannot sample without replacement n samples bigger "
                         "than the size of the distribution.")
    if unis.shape != (rows * n,):
        raise ValueError("unis.shape[0] != pvals.shape[0] * n")
    z = np.full((rows, n), -1, dtype=dtype)  # -1: no outcome (u >= mass)
    for c in range(n):
        cums = np.cumsum(pv, axis=1, dtype=np.float64)
        hit = cums > unis[c * rows:(c + 1) * rows, None]
        idx = np.nonzero(hit.any(axis=1))[0]
        m = hit.argmax(axis=1)[idx]
        z[idx, c] = m
        if c == n - 1 or replace or idx.size == 0:
            continue
        s = (cums[idx, m] - pv[idx, m].astype(np.float64)).astype(pv.dtype)
        pv[idx, m] = 0
        for j in range(k):  # C adds p[m], p[m+1], ... one by one in pvals dtype
            s = np.where(j >= m, s + pv[idx, j], s)
        pv[idx] = pv[idx] / s[:, None]
    return z


def multinomial(rstate: np.ndarray, pvals: np.ndarray, n: int = 1, dtype: str = "int64",
                floatX: str = "float64", impl: str = "c") -> tuple[np.ndarray, np.ndarray]:
    """``MRG_RandomStreams.multinomial``: ``rows * n`` floatX uniforms, then
    :func:`multinomial_from_uniform`.  pvals must be 2-D."""
    pv = np.asarray(pvals)
    if pv.ndim != 2:
        raise NotImplementedError("MRG_RandomStreams.multinomial only implemented for pvals.ndim = 2")
    new, u = mrg_uniform(rstate, (pv.shape[0] * n,), floatX, impl)
    return new, multinomial_from_uniform(pv, u, n, dtype)


def choice(rstate: np.ndarray, p: np.ndarray, size: int = 1, replace: bool = False,
           dtype: str = "int64", floatX: str = "float64",
           impl: str = "c") -> tuple[np.ndarray, np.ndarray]:
    """``MRG_RandomStreams.choice`` (a=None, replace=False only, like Theano):
    ``rows * size`` floatX uniforms, then :func:`choice_from_uniform`."""
    if replace:
        raise NotImplementedError("MRG_RandomStreams.choice only works without replacement for now.")
    pv = np.asarray(p)
    if pv.ndim != 2:
        raise NotImplementedError("MRG_RandomStreams.choice is only implemented for p.ndim = 2")
    new, u = mrg_uniform(rstate, (pv.shape[0] * size,), floatX, impl)
    return new, choice_from_uniform(pv, u, size, False, dtype)
