"""C never leaks: 10^4 calls of a compiled function, on the success and the error path,
leave the resident set size flat."""
from __future__ import annotations

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _grow(call, n: int = 10_000) -> int:
    for _ in range(500):  # warm up: plans, free lists, numpy's small-block caches
        call()
    before = rss_bytes()
    for _ in range(n):
        call()
    return rss_bytes() - before


@pytest.fixture(scope="module")
def add_and_reduce():
    x, y = T.dvector("x"), T.dvector("y")
    f = theano.function([x, y], [T.tanh(x) * y + 1, T.sum(x * y)])
    assert type(f.maker.program).__name__ == "CProgram"
    return f


def test_success_path_rss_is_flat(add_and_reduce):
    a, b = np.ones(1000), np.full(1000, 2.0)
    # A leaked output would cost 8 KB per call: 80 MB over 10^4 calls.
    assert _grow(lambda: add_and_reduce(a, b)) < 4 * 2**20


def test_error_path_rss_is_flat(add_and_reduce):
    a, b = np.ones(1000), np.ones(999)

    def failing() -> None:
        with pytest.raises(ValueError):
            add_and_reduce(a, b)

    assert _grow(failing) < 4 * 2**20
