"""In-place updates of the buffers a function owns (rewriting/inplace.py can_destroy):
a shared variable's update may overwrite its old value once every reader has run."""
from __future__ import annotations

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile.io import In


def destroyers(f) -> dict[str, list[str]]:
    """input name -> ops that overwrite it."""
    fg = f.maker.fgraph
    out: dict[str, list[str]] = {}
    for node in fg.toposort():
        for _, ins in getattr(node.op, "destroy_map", {}).items():
            for i in ins:
                var = node.inputs[i]
                if var in fg.inputs:
                    out.setdefault(var.name, []).append(type(node.op).__name__)
    return out


def sgd(mode=None, **kw):
    rng = np.random.default_rng(0)
    x, y = T.dmatrix("x"), T.dvector("y")
    w = theano.shared(rng.normal(size=(6, 4)), name="w")
    v = theano.shared(rng.normal(size=4), name="v")
    h = T.tanh(T.dot(x, w))
    cost = T.sum((T.dot(h, v) - y) ** 2)
    gw, gv = T.grad(cost, [w, v])
    f = theano.function([x, y], cost, updates=[(w, w - 0.1 * gw), (v, v - 0.1 * gv)],
                        mode=mode, **kw)
    return f, w, v


def test_updated_weight_is_overwritten_in_place_and_results_match():
    f, w, v = sgd()
    ref, rw, rv = sgd(mode="FAST_COMPILE")
    assert "w" in destroyers(f)  # the gemm of w's update writes into w itself
    rng = np.random.default_rng(1)
    data = rng.normal(size=(5, 6)), rng.normal(size=5)
    before = w.get_value()
    for _ in range(3):
        np.testing.assert_allclose(f(*data), ref(*data), rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), rw.get_value(), rtol=1e-12)
    np.testing.assert_allclose(v.get_value(), rv.get_value(), rtol=1e-12)
    assert not np.allclose(before, w.get_value())  # a copy taken with get_value() is kept


def test_debugmode_accepts_the_owned_buffers():
    f, _, _ = sgd(mode="DebugMode")
    rng = np.random.default_rng(2)
    f(rng.normal(size=(3, 6)), rng.normal(size=3))


def test_shared_without_update_is_never_destroyed():
    w = theano.shared(np.ones((3, 3)), name="w")
    x = T.dmatrix("x")
    f = theano.function([x], w + x * 2)
    assert "w" not in destroyers(f)
    f(np.ones((3, 3)))
    np.testing.assert_array_equal(w.get_value(borrow=True), np.ones((3, 3)))


def test_old_value_returned_as_output_is_not_destroyed():
    w = theano.shared(np.ones(4), name="w")
    x = T.dvector("x")
    f = theano.function([x], w, updates=[(w, w * 3 + x)])
    assert "w" not in destroyers(f)
    old = f(np.zeros(4))
    np.testing.assert_array_equal(old, np.ones(4))
    np.testing.assert_array_equal(w.get_value(), np.full(4, 3.0))


def test_view_read_after_the_update_blocks_in_place():
    # w.T feeds a value the update of w does not depend on: it could run after the update.
    w = theano.shared(np.arange(4.0).reshape(2, 2), name="w")
    x = T.dmatrix("x")
    f = theano.function([x], T.dot(x, w.T), updates=[(w, w * 2 + 1)])
    assert "w" not in destroyers(f)
    out = f(np.eye(2))
    np.testing.assert_array_equal(out, np.arange(4.0).reshape(2, 2).T)


def test_a_node_reading_the_buffer_twice_does_not_overwrite_it():
    w = theano.shared(np.arange(4.0).reshape(2, 2), name="w")
    f = theano.function([], [], updates=[(w, w + w.T)])
    assert "w" not in destroyers(f)
    f()
    a = np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(w.get_value(), a + a.T)


@pytest.mark.parametrize("mutable", [True, False])
def test_mutable_input_may_be_overwritten_only_when_declared(mutable):
    x = T.dvector("x")
    f = theano.function([In(x, mutable=mutable)], T.exp(x) + 1)
    data = np.zeros(3)
    np.testing.assert_array_equal(f(data), np.full(3, 2.0))
    assert ("x" in destroyers(f)) == mutable
    if not mutable:
        np.testing.assert_array_equal(data, np.zeros(3))
