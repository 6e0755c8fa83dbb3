"""``RandomStreams``: symbolic random draws backed by shared numpy RandomStates
(Theano 1.0's ``theano.tensor.shared_randomstreams``).

Seeding contract (see :mod:`theanolite.tensor.random_engine`): ``RandomStreams(seed)``
keeps ``gen_seedgen = RandomState(seed)``; every draw gets its own shared
``RandomState(gen_seedgen.randint(2**30))``, whose ``default_update`` is the draw's
new-state output, so each call of a compiled function advances it (unless the
function is built with ``no_default_updates``).  ``seed(s)`` re-seeds every existing
draw, in creation order, from a fresh ``RandomState(s)``.

Each returned sample carries ``.rng`` (its shared RandomState) and ``.update``
(the ``(rng, new_rng)`` pair); ``updates()`` lists all such pairs.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from theanolite.compile.sharedvalue import shared
from theanolite.graph.basic import Variable
from theanolite.tensor import random_engine as engine
from theanolite.tensor import raw_random
from theanolite.tensor.raw_random import (  # noqa: F401 - Theano exposes them here too
    RandomStateSharedVariable, randomstate_constructor)

__all__ = ["RandomStreams", "RandomStateSharedVariable", "randomstate_constructor"]


class RandomStreams:
    """A factory of random variables, each with its own seeded shared RandomState."""

    def __init__(self, seed: int | None = None) -> None:
        self._engine = engine.RandomStreams(seed)
        self.state_updates: list[tuple[Variable, Variable]] = []

    @property
    def default_instance_seed(self) -> int | None:
        return self._engine.default_instance_seed

    @property
    def gen_seedgen(self) -> np.random.RandomState:
        """The RandomState that draws each new variable's seed."""
        return self._engine.gen_seedgen

    def updates(self) -> list[tuple[Variable, Variable]]:
        """``(shared rng, new rng)`` for every variable made so far (for ``updates=``)."""
        return list(self.state_updates)

    def seed(self, seed: int | None = None) -> None:
        """Re-seed every variable made so far (default: the constructor's seed)."""
        states = self._engine.seed(seed)
        for (old_r, _), state in zip(self.state_updates, states):
            old_r.set_value(state, borrow=True)

    def __getitem__(self, item: Variable) -> np.random.RandomState:
        """The current RandomState of a variable's ``rng`` (borrowed, not a copy)."""
        return item.get_value(borrow=True)

    def __setitem__(self, item: Variable, val: np.random.RandomState) -> None:
        if not isinstance(val, np.random.RandomState):
            raise TypeError(f"RandomStreams: can only store a numpy.random.RandomState, got "
                            f"{type(val).__name__}")
        item.set_value(val, borrow=True)

    def gen(self, op: Callable, *args: Any, **kwargs: Any) -> Variable:
        """A new random variable ``op(rng, *args, **kwargs)`` with a fresh seeded rng.

        ``op`` is a distribution of :mod:`raw_random` (it returns ``(new_rng, sample)``).
        """
        state = self._engine.gen_state()
        rng = shared(state, borrow=True)
        rng.tag["is_rng"] = True
        try:
            new_r, out = op(rng, *args, **kwargs)
        except Exception:
            # Keep one state per state_update so seed() stays aligned; the seed drawn
            # for the failed variable is spent, as in Theano.
            self._engine.states.pop()
            raise
        out.rng = rng
        out.update = (rng, new_r)
        self.state_updates.append(out.update)
        rng.default_update = new_r
        return out

    # -- distributions (Theano's RandomStreamsBase) -------------------------------------
    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: str | None = None) -> Variable:
        """Uniform draws in [low, high) (numpy ``uniform``); dtype: upcast(floatX, low, high)."""
        return self.gen(raw_random.uniform, size, low, high, ndim=ndim, dtype=dtype)

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: str | None = None) -> Variable:
        """Normal draws (numpy ``normal``); dtype: upcast(floatX, avg, std)."""
        return self.gen(raw_random.normal, size, avg, std, ndim=ndim, dtype=dtype)

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: str = "int64", prob: Any = None) -> Variable:
        """Binomial draws (``prob`` is Theano's deprecated name for ``p``)."""
        if prob is not None:
            p = prob
        return self.gen(raw_random.binomial, size, n, p, ndim=ndim, dtype=dtype)

    def random_integers(self, size: Any = None, low: Any = 0, high: Any = 1,
                        ndim: int | None = None, dtype: str = "int64") -> Variable:
        """Integers in [low, high], both included."""
        return self.gen(raw_random.random_integers, size, low, high, ndim=ndim, dtype=dtype)

    def choice(self, size: Any = None, a: Any = 2, replace: Any = True, p: Any = None,
               ndim: int | None = None, dtype: str = "int64") -> Variable:
        """numpy ``choice(a, size, replace, p)``."""
        return self.gen(raw_random.choice, size, a, replace, p, ndim=ndim, dtype=dtype)

    def poisson(self, size: Any = None, lam: Any = 1.0, ndim: int | None = None,
                dtype: str = "int64") -> Variable:
        """Poisson draws of rate ``lam``."""
        return self.gen(raw_random.poisson, size, lam, ndim=ndim, dtype=dtype)

    def permutation(self, size: Any = None, n: Any = 1, ndim: int | None = None,
                    dtype: str = "int64") -> Variable:
        """Permutations of ``range(n)``: shape ``size + (n,)``."""
        return self.gen(raw_random.permutation, size, n, ndim=ndim, dtype=dtype)

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = (0.5, 0.5),
                    ndim: int | None = None, dtype: str = "int64") -> Variable:
        """Multinomial counts: shape ``size + (len(pvals row),)``."""
        return self.gen(raw_random.multinomial, size, n, pvals, ndim=ndim, dtype=dtype)
