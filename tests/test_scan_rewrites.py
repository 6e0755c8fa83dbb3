"""Tests of the scan rewrites and of the in-place (Advanced)IncSubtensor rewrite."""
from __future__ import annotations

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile.mode import Mode
from theanolite.graph.basic import io_toposort
from theanolite.scan_module import Scan, scan, until
from theanolite.tensor.elemwise import Elemwise
from theanolite.tensor.subtensor import IncSubtensor
from theanolite.tensor.subtensor_advanced import AdvancedIncSubtensor, AdvancedIncSubtensor1

RAW = Mode(optimizer=None)
FX = "float64"


def _both(inputs, outputs, **kw):
    return theano.function(inputs, outputs, **kw), theano.function(inputs, outputs, mode=RAW, **kw)


def _scan_nodes(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)]


def _inner_ops(op):
    return [n.op for n in io_toposort(op.inner_inputs, op.inner_outputs)]


def _check_same(fo, fr, args):
    got, want = fo(*args), fr(*args)
    got = got if isinstance(got, list) else [got]
    want = want if isinstance(want, list) else [want]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def _rng():
    return np.random.default_rng(0)


# ----------------------------------------------------------------------------- unused outputs

def test_unused_nit_output_removed():
    x = T.matrix("x", dtype=FX)
    (a, b), _ = scan(lambda r: [T.exp(r), T.sin(r) * 2], sequences=[x])
    fo, fr = _both([x], a)
    (node,) = _scan_nodes(fo)
    assert len(node.outputs) == 1
    assert not any(isinstance(op, Elemwise) and "sin" in str(op).lower() for op in _inner_ops(node.op))
    _check_same(fo, fr, [_rng().normal(size=(4, 3))])


def test_state_needed_by_kept_output_is_kept_and_unused_state_dropped():
    x = T.vector("x", dtype=FX)
    h0 = T.scalar("h0", dtype=FX)
    g0 = T.scalar("g0", dtype=FX)

    def step(x_t, h, g):
        return [h * 0.5 + x_t, g + h, h * 3.0]

    (h, g, y), _ = scan(step, sequences=[x], outputs_info=[h0, g0, None])
    fo, fr = _both([x, h0, g0], y)  # y reads h (a state) but not g
    (node,) = _scan_nodes(fo)
    assert node.op.n_states == 1 and node.op.n_nit_sot == 1 and len(node.outputs) == 2
    _check_same(fo, fr, [_rng().normal(size=5), np.float64(0.3), np.float64(-1.0)])


def test_unused_sequence_and_non_sequence_dropped():
    x = T.vector("x", dtype=FX)
    z = T.vector("z", dtype=FX)
    w = T.scalar("w", dtype=FX)
    (a, b), _ = scan(lambda x_t, z_t, w_: [x_t * 2, z_t * w_], sequences=[x, z], non_sequences=[w])
    fo, fr = _both([x, z, w], a, on_unused_input="ignore")
    (node,) = _scan_nodes(fo)
    assert node.op.n_seqs == 1 and node.op.n_non_seqs == 0
    _check_same(fo, fr, [np.arange(4.0), np.ones(4), np.float64(3.0)])


def test_while_condition_keeps_its_inputs():
    h0 = T.scalar("h0", dtype=FX)

    def step(h, c):
        return [h * 2, c + 1], until(c > 3)

    (h, c), _ = scan(step, outputs_info=[h0, T.constant(0.0, dtype=FX)], n_steps=10)
    fo, fr = _both([h0], h)
    (node,) = _scan_nodes(fo)
    assert node.op.n_states == 2  # c feeds the stop condition
    _check_same(fo, fr, [np.float64(1.5)])


# ----------------------------------------------------------------------------- invariants

def test_invariant_pushed_out_of_loop():
    x = T.matrix("x", dtype=FX)
    W = T.matrix("W", dtype=FX)
    h0 = T.vector("h0", dtype=FX)

    def step(x_t, h, W_):
        return T.tanh(T.dot(h, T.exp(W_)) + x_t)

    hs, _ = scan(step, sequences=[x], outputs_info=[h0], non_sequences=[W])
    fo, fr = _both([x, h0, W], hs)
    (node,) = _scan_nodes(fo)
    inner = [str(op).lower() for op in _inner_ops(node.op)]
    assert not any("exp" in s for s in inner)
    outer = [str(n.op).lower() for n in fo.maker.fgraph.toposort() if not isinstance(n.op, Scan)]
    assert any("exp" in s for s in outer)
    r = _rng()
    _check_same(fo, fr, [r.normal(size=(4, 3)), r.normal(size=3), r.normal(size=(3, 3)) * 0.3])


def test_invariant_inner_output_and_gradients():
    x = T.vector("x", dtype=FX)
    w = T.vector("w", dtype=FX)
    h0 = T.scalar("h0", dtype=FX)

    def step(x_t, h, w_):
        s = T.sum(w_ ** 2)  # invariant, also returned as a per-step output
        return [h * T.cos(s) + x_t, s]

    (hs, ss), _ = scan(step, sequences=[x], outputs_info=[h0, None], non_sequences=[w])
    cost = T.sum(hs ** 2) + T.sum(ss)
    grads = T.grad(cost, [x, w, h0])
    fo, fr = _both([x, w, h0], [cost] + grads)
    for node in _scan_nodes(fo):
        assert not any("pow" in str(op).lower() or "sqr" in str(op).lower() for op in _inner_ops(node.op))
    r = _rng()
    _check_same(fo, fr, [r.normal(size=6), r.normal(size=3), np.float64(0.7)])


def test_gradient_of_rnn_matches_unoptimized():
    x = T.matrix("x", dtype=FX)
    W = T.matrix("W", dtype=FX)
    b = T.vector("b", dtype=FX)
    h0 = T.vector("h0", dtype=FX)

    def step(x_t, h, W_, b_):
        return T.tanh(T.dot(h, W_ * 2) + x_t + b_.dimshuffle(0) * 3)

    hs, _ = scan(step, sequences=[x], outputs_info=[h0], non_sequences=[W, b])
    cost = T.sum(hs[-1] ** 2)
    grads = T.grad(cost, [W, b, h0, x])
    fo, fr = _both([x, W, b, h0], grads)
    r = _rng()
    _check_same(fo, fr, [r.normal(size=(5, 3)), r.normal(size=(3, 3)) * 0.4, r.normal(size=3),
                         r.normal(size=3)])


def test_loop_without_invariants_is_left_alone():
    x = T.vector("x", dtype=FX)
    hs, _ = scan(lambda x_t, h: h + x_t, sequences=[x], outputs_info=[T.constant(0.0, dtype=FX)])
    fo, _ = _both([x], hs)
    (node,) = _scan_nodes(fo)
    assert node.op.n_non_seqs == 0
    np.testing.assert_allclose(fo(np.arange(4.0)), np.cumsum(np.arange(4.0)))


# ----------------------------------------------------------------------------- in-place inc_subtensor

def _inc_node(f):
    found = [n for n in f.maker.fgraph.toposort()
             if isinstance(n.op, (IncSubtensor, AdvancedIncSubtensor1, AdvancedIncSubtensor))]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("kind", ["basic", "adv1", "adv"])
@pytest.mark.parametrize("set_instead", [False, True])
def test_inc_subtensor_made_inplace_on_intermediate(kind, set_instead):
    x = T.matrix("x", dtype=FX)
    y = T.vector("y", dtype=FX)
    base = x * 2
    idx = {"basic": (slice(1, 3),), "adv1": (np.array([0, 2, 0]),),
           "adv": (np.array([0, 2]), np.array([1, 0]))}[kind]
    region = base[idx[0]] if len(idx) == 1 else base[idx[0], idx[1]]
    if kind == "adv":
        yy = y[:2]
    else:
        yy = y
    out = T.set_subtensor(region, yy) if set_instead else T.inc_subtensor(region, yy)
    fo, fr = _both([x, y], out)
    node = _inc_node(fo)
    assert node.op.inplace and node.op.destroy_map == {0: [0]}
    xv, yv = _rng().normal(size=(4, 3)), _rng().normal(size=3)
    xc, yc = xv.copy(), yv.copy()
    _check_same(fo, fr, [xv, yv])
    np.testing.assert_array_equal(xv, xc)
    np.testing.assert_array_equal(yv, yc)


@pytest.mark.parametrize("kind", ["basic", "adv1"])
def test_inc_subtensor_on_user_input_is_not_inplace(kind):
    x = T.matrix("x", dtype=FX)
    region = x[1:3] if kind == "basic" else x[np.array([0, 0, 2])]
    fo, fr = _both([x], T.inc_subtensor(region, 1.0))
    assert not _inc_node(fo).op.inplace
    xv = _rng().normal(size=(4, 3))
    xc = xv.copy()
    _check_same(fo, fr, [xv])
    np.testing.assert_array_equal(xv, xc)


def test_inc_subtensor_not_inplace_when_base_is_reused():
    x = T.vector("x", dtype=FX)
    base = T.exp(x)
    out = T.inc_subtensor(base[1:], 1.0) + base
    fo, fr = _both([x], out)
    assert not _inc_node(fo).op.inplace
    _check_same(fo, fr, [np.arange(4.0)])


def test_inplace_inc_subtensor_inside_scan_gradient():
    x = T.matrix("x", dtype=FX)
    w = T.vector("w", dtype=FX)

    def step(x_t, w_):
        return T.sum(T.set_subtensor((x_t * w_)[0], 0.0) ** 2)

    ys, _ = scan(step, sequences=[x], non_sequences=[w])
    grads = T.grad(T.sum(ys), [x, w])
    fo, fr = _both([x, w], grads)
    r = _rng()
    xv, wv = r.normal(size=(4, 3)), r.normal(size=3)
    xc = xv.copy()
    _check_same(fo, fr, [xv, wv])
    np.testing.assert_array_equal(xv, xc)


# ----------------------------------------------------------------------------- scan merge

def test_two_maps_over_same_sequence_merge_into_one_scan():
    x = T.matrix("x", dtype=FX)
    w = T.scalar("w", dtype=FX)
    h0 = T.vector("h0", dtype=FX)
    a, _ = scan(lambda r: T.exp(r), sequences=[x])
    b, _ = scan(lambda r, h, w_: h * w_ + r, sequences=[x], outputs_info=[h0], non_sequences=[w])
    fo, fr = _both([x, h0, w], [a, b, a.sum() + b[-1].sum()])
    (node,) = _scan_nodes(fo)
    assert node.op.n_nit_sot + node.op.n_states == 2
    assert len(_scan_nodes(fr)) == 2
    _check_same(fo, fr, [_rng().normal(size=(5, 3)), np.ones(3), np.float64(0.5)])


def test_merge_with_go_backwards_on_both():
    x = T.vector("x", dtype=FX)
    a, _ = scan(lambda r: r * 2, sequences=[x], go_backwards=True)
    b, _ = scan(lambda r: T.sin(r), sequences=[x], go_backwards=True)
    fo, fr = _both([x], [a, b])
    assert len(_scan_nodes(fo)) == 1
    _check_same(fo, fr, [_rng().normal(size=4)])


def test_scans_with_different_n_steps_or_direction_not_merged():
    x = T.vector("x", dtype=FX)
    a, _ = scan(lambda r: r * 2, sequences=[x], n_steps=3)
    b, _ = scan(lambda r: r + 1, sequences=[x], n_steps=2)
    c, _ = scan(lambda r: r - 1, sequences=[x], go_backwards=True)
    fo, fr = _both([x], [a, b, c])
    assert len(_scan_nodes(fo)) == 3
    _check_same(fo, fr, [_rng().normal(size=4)])


def test_dependent_scans_not_merged():
    x = T.vector("x", dtype=FX)
    a, _ = scan(lambda r: r * 2, sequences=[x])
    # The second loop reads the first one's whole result as a non-sequence.
    b, _ = scan(lambda r, s: r + s, sequences=[x], non_sequences=[a.sum()])
    fo, fr = _both([x], [a, b])
    assert len(_scan_nodes(fo)) == 2
    _check_same(fo, fr, [_rng().normal(size=4)])


def test_while_scans_not_merged():
    x = T.vector("x", dtype=FX)
    a, _ = scan(lambda r: (r * 2, until(r > 10)), sequences=[x])
    b, _ = scan(lambda r: r + 1, sequences=[x])
    fo, fr = _both([x], [a, b])
    assert len(_scan_nodes(fo)) == 2
    _check_same(fo, fr, [np.arange(4.0)])


def test_gradient_through_merged_scans():
    x = T.vector("x", dtype=FX)
    w = T.scalar("w", dtype=FX)
    a, _ = scan(lambda r, w_: T.tanh(r * w_), sequences=[x], non_sequences=[w])
    b, _ = scan(lambda r, h: h * r + 1.0, sequences=[x], outputs_info=[T.constant(0.5, dtype=FX)])
    cost = (a ** 2).sum() + b[-1] * w
    gx, gw = T.grad(cost, [x, w])
    fo, fr = _both([x, w], [cost, gx, gw])
    # The two forward loops merge; the backward loops read different forward results.
    assert [str(n.op) for n in _scan_nodes(fo)].count("Scan{scan_fn}") == 1
    assert len(_scan_nodes(fr)) == 4
    _check_same(fo, fr, [_rng().normal(size=5), np.float64(0.7)])
