"""Elementwise fusion: one Composite per connected elementwise cluster, no repeated work."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile.mode import Mode
from theanolite.scalar.composite import Composite
from theanolite.tensor.elemwise import Elemwise


def composites(f) -> list:
    return [n for n in f.maker.fgraph.apply_nodes
            if isinstance(n.op, Elemwise) and isinstance(n.op.scalar_op, Composite)]


def count_in_composites(f, name: str) -> int:
    return sum(n.op.scalar_op.canonical.count(f"basic.{name}{{") for n in composites(f))


def test_seed_logistic_gradient_is_one_fused_node() -> None:
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    f = theano.function([x], T.grad(s, x))
    assert len(f.maker.fgraph.apply_nodes) == 1
    assert len(composites(f)) == 1
    np.testing.assert_allclose(f([[0, 1], [-1, -2]]), [[0.25, 0.19661193], [0.19661193, 0.10499359]])


def test_shared_subexpression_is_computed_once() -> None:
    y = T.dvector("y")
    f = theano.function([y], [T.exp(y) + T.exp(y) * 2, T.exp(y)])
    assert count_in_composites(f, "Exp") == 1
    a, b = f([0.0, 1.0])
    np.testing.assert_allclose(a, 3 * np.exp([0.0, 1.0]))
    np.testing.assert_allclose(b, np.exp([0.0, 1.0]))


def test_broadcast_values_are_not_recomputed_per_element() -> None:
    x = T.dmatrix("x")
    r = T.drow("r")
    f = theano.function([x, r], x * T.exp(T.tanh(r)))
    for node in composites(f):
        if node.outputs[0].broadcastable == (False, False):
            assert "Exp" not in node.op.scalar_op.canonical  # exp(tanh(r)) stays row-sized
    np.testing.assert_allclose(f(np.ones((3, 2)), np.zeros((1, 2))), np.ones((3, 2)))


def test_values_needed_outside_become_extra_outputs_without_cycles() -> None:
    x = T.dvector("x")
    a = T.exp(x) + 1
    b = T.sum(a)           # a reduction consumes a...
    c = T.tanh(a) * b      # ...and its result feeds back into the elementwise cluster
    f = theano.function([x], c)
    xv = np.array([0.1, 0.2])
    av = np.exp(xv) + 1
    np.testing.assert_allclose(f(xv), np.tanh(av) * av.sum())


ELEMWISE = [T.exp, T.tanh, T.neg, T.sqr, lambda a: a * 3.0, lambda a: T.nnet.sigmoid(a) + 1]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(ELEMWISE) - 1), st.integers(0, 10), st.integers(0, 10)),
                min_size=1, max_size=10), st.integers(0, 10))
def test_fused_graphs_compute_what_unfused_ones_do(steps, n_outputs) -> None:
    x, y = T.dmatrix("x"), T.drow("y")
    pool = [x, y]
    for op_index, i, j in steps:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        pool.append(ELEMWISE[op_index](a) + b)
    outputs = pool[2:][-1 - n_outputs % len(pool[2:]):]
    fast = theano.function([x, y], outputs, on_unused_input="ignore")
    slow = theano.function([x, y], outputs, on_unused_input="ignore", mode=Mode(optimizer=None))
    rng = np.random.default_rng(len(steps))
    xv, yv = rng.normal(size=(3, 2)), rng.normal(size=(1, 2))
    # Rewrites reassociate sums, so a result that cancels (a - a + tiny) may differ by a
    # few ulps of the largest intermediate: the absolute tolerance scales with that.
    everything = theano.function([x, y], pool[2:], on_unused_input="ignore",
                                 mode=Mode(linker="py", optimizer=None))
    finite = [np.abs(v[np.isfinite(v)]) for v in everything(xv, yv)]
    scale = max([1.0] + [float(v.max()) for v in finite if v.size])
    for got, want in zip(fast(xv, yv), slow(xv, yv)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13 * scale, equal_nan=True)
