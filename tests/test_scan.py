"""scan / map / reduce / foldl / foldr: values vs numpy loops, taps, go_backwards, n_steps,
shared-variable updates, until; gradients (BPTT, mit-sot, truncation) and R_op vs finite
differences; jacobian / hessian; infer_shape; errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.gradient import verify_grad
from theanolite.scan_module import Scan, OrderedUpdates, foldl, foldr, map as tmap, reduce, scan, until


def _scan_nodes(fn):
    return [n for n in fn.maker.fgraph.toposort() if isinstance(n.op, Scan)]


# ----------------------------------------------------------------------------- seed tutorial

def test_seed_tutorial_jacobian() -> None:
    x = T.dvector("x")
    y = x ** 2
    J, updates = theano.scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]),
                             non_sequences=[y, x])
    f = theano.function([x], J, updates=updates)
    np.testing.assert_array_equal(f([4, 4]), [[8., 0.], [0., 8.]])


def test_seed_tutorial_hessian() -> None:
    x = T.dvector("x")
    y = x ** 2
    cost = y.sum()
    gy = T.grad(cost, x)
    H, updates = theano.scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gy.shape[0]),
                             non_sequences=[gy, x])
    f = theano.function([x], H, updates=updates)
    np.testing.assert_array_equal(f([4, 4]), [[2., 0.], [0., 2.]])


# ----------------------------------------------------------------------------- forward values

def test_cumulative_sum_sit_sot() -> None:
    v = T.dvector("v")
    out, updates = scan(lambda x, acc: acc + x, sequences=v, outputs_info=T.constant(0.0, dtype="float64"))
    assert isinstance(updates, OrderedUpdates) and len(updates) == 0
    f = theano.function([v], out)
    data = np.array([1.0, 2.5, -3.0, 4.0])
    got = f(data)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, np.cumsum(data))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=12))
def test_cumulative_sum_property(values) -> None:
    f = _cumsum_fn()
    np.testing.assert_allclose(f(np.array(values)), np.cumsum(values), rtol=1e-12, atol=1e-9)


_CUMSUM = []


def _cumsum_fn():
    if not _CUMSUM:
        v = T.dvector()
        out, _ = scan(lambda x, acc: acc + x, sequences=v, outputs_info=T.constant(0.0, dtype="float64"))
        _CUMSUM.append(theano.function([v], out))
    return _CUMSUM[0]


def test_polynomial_tutorial() -> None:
    coefficients = T.vector("coefficients")
    x = T.scalar("x")
    full_range = T.arange(10000)
    components, _ = theano.scan(lambda c, power, free: c * (free ** power), outputs_info=None,
                                sequences=[coefficients, full_range], non_sequences=x)
    f = theano.function([coefficients, x], components.sum())
    assert float(f(np.asarray([1, 0, 2], dtype=theano.config.floatX), 3)) == 19.0


def test_fibonacci_mit_sot() -> None:
    init = T.lvector("init")
    fib, _ = scan(lambda a, b: a + b, outputs_info=dict(initial=init, taps=[-2, -1]), n_steps=8)
    f = theano.function([init], fib)
    np.testing.assert_array_equal(f([0, 1]), [1, 2, 3, 5, 8, 13, 21, 34])
    # Only the first len(taps) rows of a longer initial value are used.
    np.testing.assert_array_equal(f([1, 1, 99])[:3], [2, 3, 5])


def test_mit_sot_tap_order_follows_the_taps_list() -> None:
    init = T.dvector()
    out, _ = scan(lambda older, newer: newer - older, outputs_info=dict(initial=init, taps=[-3, -1]), n_steps=4)
    f = theano.function([init], out)
    buf = [1.0, 2.0, 4.0]
    for _ in range(4):
        buf.append(buf[-1] - buf[-3])
    np.testing.assert_allclose(f([1.0, 2.0, 4.0]), buf[3:])


def test_sequence_taps_and_go_backwards() -> None:
    x = T.dvector("x")
    out, _ = scan(lambda prev, cur, nxt: prev + 10 * cur + 100 * nxt,
                  sequences=dict(input=x, taps=[-1, 0, 1]))
    data = np.arange(6.0)
    np.testing.assert_allclose(theano.function([x], out)(data), data[:-2] + 10 * data[1:-1] + 100 * data[2:])
    rev, _ = scan(lambda v: v * 2, sequences=x, go_backwards=True)
    np.testing.assert_allclose(theano.function([x], rev)(data), data[::-1] * 2)


def test_n_steps_without_sequences_power() -> None:
    A = T.dvector("A")
    k = T.iscalar("k")
    result, updates = scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)
    f = theano.function([A, k], result[-1], updates=updates)
    np.testing.assert_allclose(f(np.arange(5.0), 3), np.arange(5.0) ** 3)
    g = theano.function([A, k], result)
    assert g(np.arange(3.0), 4).shape == (4, 3)


def test_n_steps_truncates_sequences_and_multiple_sequences_use_the_shortest() -> None:
    a, b = T.dvector(), T.dvector()
    out, _ = scan(lambda x, y: x * y, sequences=[a, b])
    f = theano.function([a, b], out)
    np.testing.assert_allclose(f(np.arange(5.0), np.arange(3.0)), np.arange(3.0) ** 2)
    out2, _ = scan(lambda x: x + 1, sequences=a, n_steps=2)
    np.testing.assert_allclose(theano.function([a], out2)(np.arange(5.0)), [1.0, 2.0])


def test_shared_counter_updated_per_step() -> None:
    count = theano.shared(np.int64(0), name="count")
    out, updates = scan(lambda: (count * 2, {count: count + 1}), n_steps=5)
    assert list(updates) == [count]
    f = theano.function([], out, updates=updates)
    np.testing.assert_array_equal(f(), [0, 2, 4, 6, 8])
    assert count.get_value() == 5
    np.testing.assert_array_equal(f(), [10, 12, 14, 16, 18])
    assert count.get_value() == 10


def test_shared_variable_read_inside_and_updates_merge() -> None:
    w = theano.shared(np.array([1.0, 2.0]), name="w")
    total = theano.shared(np.float64(0.0), name="total")
    x = T.dmatrix("x")
    out, updates = scan(lambda row: (T.dot(row, w), OrderedUpdates([(total, total + T.dot(row, w))])),
                        sequences=x)
    f = theano.function([x], out, updates=updates)
    data = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(f(data), [1.0, 2.0, 3.0])
    assert total.get_value() == 6.0
    np.testing.assert_allclose(w.get_value(), [1.0, 2.0])


def test_none_output_is_not_fed_back() -> None:
    x = T.dvector("x")
    h0 = T.dscalar("h0")

    def step(x_t, h):
        new_h = h + x_t
        return new_h, new_h * 10
    (h, y), _ = scan(step, sequences=x, outputs_info=[h0, None])
    f = theano.function([x, h0], [h, y])
    got_h, got_y = f([1.0, 2.0, 3.0], 1.0)
    np.testing.assert_allclose(got_h, [2.0, 4.0, 7.0])
    np.testing.assert_allclose(got_y, [20.0, 40.0, 70.0])


def test_map_reduce_foldl_foldr() -> None:
    x = T.dvector("x")
    sq, _ = tmap(lambda v: v ** 2, x)
    s, _ = reduce(lambda v, acc: acc + v, x, T.constant(0.0, dtype="float64"))
    left, _ = foldl(lambda v, acc: acc * 2 + v, x, T.constant(0.0, dtype="float64"))
    right, _ = foldr(lambda v, acc: acc * 2 + v, x, T.constant(0.0, dtype="float64"))
    f = theano.function([x], [sq, s, left, right])
    data = np.array([1.0, 2.0, 3.0])
    got = f(data)
    np.testing.assert_allclose(got[0], data ** 2)
    assert float(got[1]) == 6.0 and got[1].shape == ()
    assert float(got[2]) == ((1 * 2) + 2) * 2 + 3
    assert float(got[3]) == ((3 * 2) + 2) * 2 + 1
    assert theano.map is tmap and theano.reduce is reduce and theano.foldl is foldl


def test_until_stops_after_the_true_step() -> None:
    max_value = T.dscalar("max_value")
    values, _ = scan(lambda prev, mx: (prev * 2, until(prev * 2 > mx)),
                     outputs_info=T.constant(1.0, dtype="float64"), non_sequences=max_value, n_steps=1024)
    f = theano.function([max_value], values)
    np.testing.assert_allclose(f(45.0), [2.0, 4.0, 8.0, 16.0, 32.0, 64.0])


def test_implicit_free_variables_and_constants() -> None:
    x = T.dvector("x")
    scale = T.dscalar("scale")
    offset = T.dvector("offset")
    inner_expr = offset * 2  # computed outside, used inside without being passed
    out, _ = scan(lambda v: v * scale + inner_expr + 1.5, sequences=x)
    op = out.owner.op
    assert isinstance(op, Scan) and op.n_non_seqs == 2  # scale and offset became inputs
    f = theano.function([x, scale, offset], out)
    np.testing.assert_allclose(f([1.0, 2.0], 3.0, [1.0, 2.0]), [[6.5, 8.5], [9.5, 11.5]])
    with pytest.raises(ValueError, match="strict"):
        scan(lambda v: v * scale, sequences=x, strict=True)


def test_float32_and_return_list() -> None:
    x = T.fvector("x")
    out, _ = scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0, dtype="float32"),
                  return_list=True)
    assert isinstance(out, list) and out[0].dtype == "float32"
    got = theano.function([x], out[0])(np.array([1, 2, 3], dtype="float32"))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [1, 3, 6])


def test_matrix_state_and_zero_steps() -> None:
    x = T.dtensor3("x")
    h0 = T.dmatrix("h0")
    out, _ = scan(lambda m, h: T.dot(h, m), sequences=x, outputs_info=h0)
    f = theano.function([x, h0], out)
    rng = np.random.default_rng(0)
    ms = rng.normal(size=(3, 2, 2))
    want, h = [], np.eye(2)
    for m in ms:
        h = h @ m
        want.append(h)
    np.testing.assert_allclose(f(ms, np.eye(2)), want)
    assert f(np.zeros((0, 2, 2)), np.eye(2)).shape == (0, 2, 2)


# ----------------------------------------------------------------------------- errors

def test_errors() -> None:
    x = T.dvector("x")
    with pytest.raises(ValueError, match="number of steps"):
        scan(lambda: T.constant(1.0), outputs_info=None)
    with pytest.raises(TypeError, match="float32"):
        scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0, dtype="float32"))
    with pytest.raises(ValueError, match="outputs_info"):
        scan(lambda v, acc: [acc + v, acc], sequences=x, outputs_info=[T.dscalar()])
    with pytest.raises(ValueError, match="return value"):
        scan(lambda v: "nonsense", sequences=x)
    with pytest.raises(TypeError, match="at least one dimension"):
        scan(lambda v: v, sequences=T.dscalar())
    with pytest.raises(ValueError, match="negative"):
        scan(lambda v, acc: acc + v, sequences=x, outputs_info=dict(initial=T.dvector(), taps=[1]))
    out, _ = scan(lambda v: v + 1, sequences=x, n_steps=5)
    with pytest.raises(ValueError, match="sequence 0 has 3 rows"):
        theano.function([x], out)(np.zeros(3))
    h0 = T.dvector()
    grow, _ = scan(lambda h: T.concatenate([h, h]), outputs_info=h0, n_steps=2)
    with pytest.raises(ValueError, match="keep one shape"):
        theano.function([h0], grow)(np.zeros(2))


# ----------------------------------------------------------------------------- shapes

def test_infer_shape() -> None:
    x = T.dmatrix("x")
    h0 = T.dvector("h0")
    (h, y), _ = scan(lambda r, h: [h + r, T.outer(r, r)], sequences=x, outputs_info=[h0, None])
    node = y.owner
    assert isinstance(node.op, Scan)
    n, d = T.constant(5, dtype="int64"), T.constant(3, dtype="int64")
    shapes = node.op.infer_shape(None, node, [(), (n, d), (T.constant(1, dtype="int64"), d)])
    flat = [T.as_tensor_variable(s) for shp in shapes for s in shp]
    values = [int(v) for v in theano.function([x], flat, on_unused_input="ignore")(np.zeros((5, 3)))]
    # The state buffer holds the initial row plus one row per step; the per-step output stacks.
    assert values == [6, 3, 5, 3, 3]
    f = theano.function([x, h0], [h.shape, y.shape])
    hs, ys = f(np.zeros((5, 3)), np.zeros(3))
    assert tuple(hs) == (5, 3) and tuple(ys) == (5, 3, 3)
    assert not _scan_nodes(theano.function([x, h0], y.shape, on_unused_input="ignore",
                                          mode="FAST_RUN"))  # no loop needed


# ----------------------------------------------------------------------------- gradients

def _rnn(W, U, b, h0, x, **kw):
    out, _ = scan(lambda x_t, h, W, U, b: T.tanh(T.dot(W, x_t) + T.dot(U, h) + b),
                  sequences=x, outputs_info=h0, non_sequences=[W, U, b], **kw)
    return out


def _rnn_values(rng, n=20, d=3):
    return [rng.normal(size=(d, d)) * 0.5, rng.normal(size=(d, d)) * 0.5, rng.normal(size=d),
            rng.normal(size=d), rng.normal(size=(n, d))]


def test_rnn_grad_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    verify_grad(_rnn, _rnn_values(rng), rng=rng, n_tests=1)


def test_mit_sot_and_sequence_tap_grad() -> None:
    rng = np.random.default_rng(1)

    def fn(init, x, a):
        out, _ = scan(lambda x_prev, x_t, h2, h1, a: T.tanh(a[0] * h2 + a[1] * h1 + x_t * x_prev),
                      sequences=dict(input=x, taps=[-1, 0]),
                      outputs_info=dict(initial=init, taps=[-2, -1]), non_sequences=a)
        return out
    verify_grad(fn, [rng.normal(size=2), rng.normal(size=8), rng.normal(size=2)], rng=rng, n_tests=1)


def test_grad_through_nit_sot_shared_weights_and_go_backwards() -> None:
    rng = np.random.default_rng(2)
    w = theano.shared(rng.normal(size=3), name="w")
    x = T.dmatrix("x")
    h0 = T.dscalar("h0")

    def step(row, h):
        new = T.tanh(T.dot(row, w) + h)
        return new, new * row
    (h, y), _ = scan(step, sequences=x, outputs_info=[h0, None], go_backwards=True)
    cost = (h ** 2).sum() + y.sum()
    gw, gx, gh0 = T.grad(cost, [w, x, h0])
    f = theano.function([x, h0], [cost, gw, gx, gh0])
    xv, h0v = rng.normal(size=(4, 3)), 0.3

    def num_cost(wv, xv, h0v):
        total, hcur = 0.0, h0v
        for row in xv[::-1]:
            hcur = np.tanh(row @ wv + hcur)
            total += hcur ** 2 + (hcur * row).sum()
        return total
    c, gwv, gxv, gh0v = f(xv, h0v)
    point = [w.get_value(), xv, np.asarray(h0v)]
    assert np.isclose(c, num_cost(*point))
    for k, got in enumerate((gwv, gxv, gh0v)):
        np.testing.assert_allclose(got, _numeric_grad(num_cost, point, k), atol=1e-6)


def _numeric_grad(cost, point, k, eps=1e-6):
    result = np.zeros(np.shape(point[k]))
    for idx in np.ndindex(result.shape):
        values = []
        for sign in (1, -1):
            args = [np.array(p, dtype=float) for p in point]
            args[k][idx] += sign * eps
            values.append(cost(*args))
        result[idx] = (values[0] - values[1]) / (2 * eps)
    return result


def test_truncate_gradient() -> None:
    rng = np.random.default_rng(3)
    Wv, Uv, bv, h0v, xv = _rnn_values(rng, n=8)
    W, U, b, h0, x = T.dmatrix(), T.dmatrix(), T.dvector(), T.dvector(), T.dmatrix()
    k = 3
    cost = _rnn(W, U, b, h0, x, truncate_gradient=k)[-1].sum()
    gW, gx, gh0 = T.grad(cost, [W, x, h0])
    gWv, gxv, gh0v = theano.function([W, U, b, h0, x], [gW, gx, gh0])(Wv, Uv, bv, h0v, xv)
    full = T.grad(_rnn(W, U, b, h0, x)[-1].sum(), x)
    fullv = theano.function([W, U, b, h0, x], full)(Wv, Uv, bv, h0v, xv)
    # Truncated BPTT == full BPTT of the last k steps started from the (constant) state before.
    hs = theano.function([W, U, b, h0, x], _rnn(W, U, b, h0, x))(Wv, Uv, bv, h0v, xv)
    tail_cost = _rnn(W, U, b, h0, x)[-1].sum()
    tW, tx = T.grad(tail_cost, [W, x])
    tWv, txv = theano.function([W, U, b, h0, x], [tW, tx])(Wv, Uv, bv, hs[-k - 1], xv[-k:])
    np.testing.assert_allclose(gWv, tWv, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gxv[-k:], txv, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(gxv[:-k], 0.0)
    np.testing.assert_array_equal(gh0v, 0.0)
    np.testing.assert_allclose(gxv[-k:], fullv[-k:], rtol=1e-10, atol=1e-12)
    assert np.abs(fullv[:-k]).sum() > 0


def test_grad_with_int_sequence_and_disconnected_inputs() -> None:
    x = T.dvector("x")
    out, _ = scan(lambda i, x: x[i] * x[i], sequences=T.arange(x.shape[0]), non_sequences=x)
    g = T.grad(out.sum(), x)
    np.testing.assert_allclose(theano.function([x], g)([1.0, 2.0, 3.0]), [2.0, 4.0, 6.0])


def test_training_a_recurrent_net_reduces_the_loss() -> None:
    rng = np.random.default_rng(4)
    W = theano.shared(rng.normal(size=(3, 2)) * 0.3, name="W")
    U = theano.shared(rng.normal(size=(3, 3)) * 0.3, name="U")
    v = theano.shared(rng.normal(size=3) * 0.3, name="v")
    x = T.dmatrix("x")
    target = T.dvector("target")
    h, _ = scan(lambda x_t, h: T.tanh(T.dot(W, x_t) + T.dot(U, h)), sequences=x,
                outputs_info=T.zeros_like(v))
    loss = ((T.dot(h, v) - target) ** 2).mean()
    params = [W, U, v]
    grads = T.grad(loss, params)
    train = theano.function([x, target], loss, updates=[(p, p - 0.5 * g) for p, g in zip(params, grads)])
    xv = rng.normal(size=(6, 2))
    tv = np.sin(np.arange(6.0))
    first = train(xv, tv)
    for _ in range(30):
        last = train(xv, tv)
    assert last < 0.5 * first


def test_grad_of_until_scan_is_not_implemented() -> None:
    h0 = T.dscalar()
    out, _ = scan(lambda h: (h * 2, until(h > 10)), outputs_info=h0, n_steps=10)
    with pytest.raises(theano.gradient.NullTypeGradError, match="until"):
        T.grad(out.sum(), h0)


# ----------------------------------------------------------------------------- R_op

def test_rop_through_scan_matches_finite_differences() -> None:
    rng = np.random.default_rng(5)
    vals = _rnn_values(rng, n=6)
    syms = [T.dmatrix(), T.dmatrix(), T.dvector(), T.dvector(), T.dmatrix()]
    out = _rnn(*syms)
    tangents = [T.dmatrix(), T.dvector(), T.dmatrix()]
    wrt = [syms[0], syms[3], syms[4]]
    jv = theano.gradient.Rop(out, wrt, tangents)
    f = theano.function(syms + tangents, jv)
    tv = [rng.normal(size=vals[0].shape), rng.normal(size=vals[3].shape), rng.normal(size=vals[4].shape)]
    got = f(*vals, *tv)
    fwd = theano.function(syms, out)
    eps = 1e-6

    def moved(sign):
        v = list(vals)
        v[0] = vals[0] + sign * eps * tv[0]
        v[3] = vals[3] + sign * eps * tv[1]
        v[4] = vals[4] + sign * eps * tv[2]
        return fwd(*v)
    np.testing.assert_allclose(got, (moved(1) - moved(-1)) / (2 * eps), rtol=1e-6, atol=1e-7)
    # The tangent loop is a Scan, not the double-L_op fallback.
    assert any("rop_of" in n.op.name for n in _scan_nodes(f))


def test_rop_mit_sot_and_nit_sot() -> None:
    rng = np.random.default_rng(6)
    init, x = T.dvector(), T.dvector()
    out, _ = scan(lambda x_t, h2, h1: [T.sin(h2 * x_t) + h1 * 0.5, h1 * x_t],
                  sequences=x, outputs_info=[dict(initial=init, taps=[-2, -1]), None])
    ti, tx = T.dvector(), T.dvector()
    r = theano.gradient.Rop(out, [init, x], [ti, tx])
    f = theano.function([init, x, ti, tx], r)
    fwd = theano.function([init, x], out)
    iv, xv, tiv, txv = rng.normal(size=2), rng.normal(size=5), rng.normal(size=2), rng.normal(size=5)
    eps = 1e-6
    plus, minus = fwd(iv + eps * tiv, xv + eps * txv), fwd(iv - eps * tiv, xv - eps * txv)
    for got, p, m in zip(f(iv, xv, tiv, txv), plus, minus):
        np.testing.assert_allclose(got, (p - m) / (2 * eps), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- jacobian / hessian

def test_jacobian_tanh_Wx() -> None:
    rng = np.random.default_rng(7)
    W, x = T.dmatrix("W"), T.dvector("x")
    y = T.tanh(T.dot(W, x))
    Jx = T.jacobian(y, x)
    JW, Jx2 = theano.gradient.jacobian(y, [W, x])
    f = theano.function([W, x], [Jx, JW, Jx2])
    Wv, xv = rng.normal(size=(2, 3)), rng.normal(size=3)
    jx, jw, jx2 = f(Wv, xv)
    d = 1 - np.tanh(Wv @ xv) ** 2
    np.testing.assert_allclose(jx, d[:, None] * Wv)
    np.testing.assert_allclose(jx2, jx)
    want = np.zeros((2, 2, 3))
    for i in range(2):
        want[i, i, :] = d[i] * xv
    np.testing.assert_allclose(jw, want)


def test_hessian_x2_sin_x() -> None:
    x = T.dvector("x")
    H = T.hessian((x ** 2 * T.sin(x)).sum(), x)
    xv = np.array([0.3, -1.2, 2.0])
    want = np.diag(2 * np.sin(xv) + 4 * xv * np.cos(xv) - xv ** 2 * np.sin(xv))
    np.testing.assert_allclose(theano.function([x], H)(xv), want, rtol=1e-12, atol=1e-12)
    a, b = T.dvector("a"), T.dvector("b")
    Ha, Hb = theano.gradient.hessian((a * b).sum() ** 2, [a, b])
    av, bv = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    ha, hb = theano.function([a, b], [Ha, Hb])(av, bv)
    np.testing.assert_allclose(ha, 2 * np.outer(bv, bv))
    np.testing.assert_allclose(hb, 2 * np.outer(av, av))


# ----------------------------------------------------------------------------- more cases

def test_random_draws_per_step_use_default_updates() -> None:
    from theanolite.tensor.shared_randomstreams import RandomStreams
    srng = RandomStreams(seed=3)
    draws, updates = scan(lambda: srng.uniform(()), n_steps=4)
    assert len(updates) == 1
    f = theano.function([], draws, updates=updates)
    first, second = f(), f()
    assert first.shape == (4,) and len(set(first.tolist())) == 4
    assert not np.allclose(first, second)


def test_grad_reads_a_shared_carry_through_a_replay() -> None:
    c = theano.shared(np.float64(1.0), name="c")
    x = T.dvector("x")
    out, updates = scan(lambda v: (v * c, {c: c + 1.0}), sequences=x)
    g = T.grad(out.sum(), x)
    f = theano.function([x], [out, g], updates=updates)
    got, grad_x = f(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(got, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(grad_x, [1.0, 2.0, 3.0])  # the carry's value at each step
    assert c.get_value() == 4.0


def test_grad_through_a_carry_fed_by_the_input_is_not_implemented() -> None:
    acc = theano.shared(np.float64(0.0), name="acc")
    x = T.dvector("x")
    out, _ = scan(lambda v: (v * acc, {acc: acc + v}), sequences=x)
    with pytest.raises(theano.gradient.NullTypeGradError, match="shared variable updated inside scan"):
        T.grad(out.sum(), x)


def test_integer_state_next_to_a_float_state() -> None:
    x = T.dvector("x")
    h0 = T.dscalar("h0")
    (steps, h), _ = scan(lambda v, k, h: [k + 1, h * v + T.cast(k, "float64")], sequences=x,
                         outputs_info=[T.constant(0, dtype="int64"), h0])
    g = T.grad(h[-1], [h0, x])
    f = theano.function([x, h0], [steps, h] + g)
    xv = np.array([2.0, 3.0, 0.5])
    k, hv, gh0, gx = f(xv, 1.0)
    np.testing.assert_array_equal(k, [1, 2, 3])
    np.testing.assert_allclose(hv, [2.0, 7.0, 5.5])
    assert float(gh0) == 3.0  # d h3 / d h0 = 2 * 3 * 0.5
    np.testing.assert_allclose(gx, [1.5, 1.0, 7.0])


def test_nested_scan_values_and_grad() -> None:
    def fn(m):
        def outer_step(row):
            inner, _ = scan(lambda v, acc: acc * v + 1.0, sequences=row,
                            outputs_info=T.constant(0.0, dtype="float64"))
            return inner[-1]
        out, _ = scan(outer_step, sequences=m)
        return out
    m = T.dmatrix()
    mv = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    want = []
    for row in mv:
        acc = 0.0
        for v in row:
            acc = acc * v + 1.0
        want.append(acc)
    np.testing.assert_allclose(theano.function([m], fn(m))(mv), want)
    verify_grad(fn, [mv], rng=np.random.default_rng(8), n_tests=1)


def test_compiled_scan_pickles() -> None:
    import pickle
    x = T.dvector()
    out, _ = scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0, dtype="float64"))
    f = pickle.loads(pickle.dumps(theano.function([x], out)))
    np.testing.assert_allclose(f([1.0, 2.0, 3.0]), [1.0, 3.0, 6.0])


def test_connection_pattern_and_op_identity() -> None:
    x, w = T.dvector("x"), T.dscalar("w")
    h0 = T.dscalar("h0")
    (h, y), _ = scan(lambda v, h, w: [h + v, v * 2.0], sequences=x, outputs_info=[h0, None],
                     non_sequences=w)
    node = y.owner
    pattern = node.op.connection_pattern(node)
    # inputs: n_steps, x, h0 buffer, w; outputs: h buffer, y
    assert pattern == [[False, False], [True, True], [True, False], [False, False]]
    (h2, y2), _ = scan(lambda v, h, w: [h + v, v * 2.0], sequences=x, outputs_info=[h0, None],
                       non_sequences=w)
    assert y2.owner.op == node.op and hash(y2.owner.op) == hash(node.op)
    assert str(node.op) == "Scan{scan_fn}"
