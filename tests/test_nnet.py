"""T.nnet: softmax, log_softmax, cross-entropies and activations against numpy references."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.gradient import Lop, Rop, verify_grad
from theanolite.tensor import nnet
from theanolite.tensor.nnet.basic import CrossentropyCategorical1Hot, LogSoftmax, Softmax

MODES = ["FAST_RUN", "FAST_COMPILE"]


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ----------------------------------------------------------------------------- softmax

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_matrix_rows_sum_to_one(mode, dtype):
    rng = np.random.default_rng(0)
    x = T.matrix("x", dtype=dtype)
    f = theano.function([x], nnet.softmax(x), mode=mode)
    a = rng.normal(size=(4, 5)).astype(dtype)
    got = f(a)
    assert got.dtype == dtype and got.shape == (4, 5)
    np.testing.assert_allclose(got, np_softmax(a.astype("float64")), rtol=1e-5 if dtype == "float32" else 1e-12)
    np.testing.assert_allclose(got.sum(axis=1), 1, rtol=1e-6)


def test_softmax_vector_axis_and_3d():
    rng = np.random.default_rng(1)
    v = T.dvector("v")
    t3 = T.dtensor3("t3")
    f = theano.function([v, t3], [nnet.softmax(v), nnet.softmax(t3, axis=1), nnet.softmax(t3, axis=0)])
    av, a3 = rng.normal(size=5), rng.normal(size=(2, 3, 4))
    got_v, got_1, got_0 = f(av, a3)
    assert got_v.shape == (5,)
    np.testing.assert_allclose(got_v, np_softmax(av))
    np.testing.assert_allclose(got_1, np_softmax(a3, 1))
    np.testing.assert_allclose(got_0, np_softmax(a3, 0))
    # -1 and the last axis by number are one op (equal graphs compare equal)
    assert nnet.softmax(t3, axis=2).owner.op == nnet.softmax(t3).owner.op


def test_softmax_is_stable_for_large_inputs():
    x = T.dmatrix("x")
    f = theano.function([x], [nnet.softmax(x), nnet.log_softmax(x)])
    a = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 999.0]])
    sm, lsm = f(a)
    assert not np.isnan(sm).any() and not np.isnan(lsm).any()
    np.testing.assert_allclose(sm, np_softmax(a))
    np.testing.assert_allclose(sm.sum(axis=1), 1)
    np.testing.assert_allclose(lsm[0], [0.0, -2000.0, -1000.0])
    assert np.isfinite(lsm).all()  # log(softmax) would be -inf here


def test_softmax_perform_directly_with_extreme_float32():
    node = Softmax(-1).make_node(T.fmatrix())
    out = [[None]]
    node.op.perform(node, [np.array([[1000, -1000], [-1000, 1000]], dtype="float32")], out)
    assert out[0][0].dtype == np.float32
    np.testing.assert_array_equal(out[0][0], [[1, 0], [0, 1]])


def test_softmax_nan_inf_zero_size_and_strided():
    x = T.dmatrix("x")
    f = theano.function([x], nnet.softmax(x))
    got = f(np.array([[np.nan, 1.0], [np.inf, 1.0], [-np.inf, 0.0]]))
    assert np.isnan(got[0]).all() and np.isnan(got[1, 0])
    np.testing.assert_array_equal(got[2], [0.0, 1.0])
    assert f(np.zeros((0, 3))).shape == (0, 3)
    assert f(np.zeros((3, 0))).shape == (3, 0)
    a = np.random.default_rng(2).normal(size=(5, 4))
    np.testing.assert_allclose(f(a.T), np_softmax(a.T))
    np.testing.assert_allclose(f(a[::2, ::-1]), np_softmax(a[::2, ::-1]))


def test_softmax_rejects_ints_scalars_and_bad_axes():
    with pytest.raises(ValueError, match="float tensor"):
        nnet.softmax(T.imatrix("i"))
    with pytest.raises(ValueError, match="at least one dimension"):
        nnet.softmax(T.dscalar("s"))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        nnet.softmax(T.dmatrix("m"), axis=2)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_and_log_softmax_gradients(axis):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 4))
    verify_grad(lambda x: nnet.softmax(x, axis=axis), [a], rng=rng)
    verify_grad(lambda x: nnet.log_softmax(x, axis=axis), [a], rng=rng)
    verify_grad(lambda x: nnet.softmax(x.sum(axis=0)), [a], rng=rng)  # a vector input


@pytest.mark.parametrize("fn", [nnet.softmax, nnet.log_softmax], ids=["softmax", "log_softmax"])
def test_rop_agrees_with_lop(fn):
    rng = np.random.default_rng(4)
    x, u, v = T.dmatrix("x"), T.dmatrix("u"), T.dmatrix("v")
    y = fn(x)
    f = theano.function([x, u, v], [(u * Rop(y, x, v)).sum(), (Lop(y, x, u) * v).sum()])
    left, right = f(*(rng.normal(size=(3, 4)) for _ in range(3)))
    np.testing.assert_allclose(left, right, rtol=1e-10)


def test_softmax_infer_shape():
    x = T.dtensor3("x")
    for op in (Softmax(1), LogSoftmax(-1)):
        node = op.make_node(x)
        dims = [T.constant(d, dtype="int64") for d in (2, 0, 5)]
        shape = op.infer_shape(None, node, [tuple(dims)])[0]
        assert [int(theano.function([], T.as_tensor_variable(s))()) for s in shape] == [2, 0, 5]


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 4), cols=st.integers(1, 6), scale=st.sampled_from([1.0, 50.0, 1000.0]),
       seed=st.integers(0, 2**16))
def test_softmax_rows_always_sum_to_one(rows, cols, scale, seed):
    a = np.random.default_rng(seed).uniform(-scale, scale, size=(rows, cols))
    got = _softmax_fn()(a)
    assert not np.isnan(got).any() and (got >= 0).all()
    np.testing.assert_allclose(got.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_allclose(got, np_softmax(a), rtol=1e-10, atol=1e-300)


_FNS: dict = {}


def _softmax_fn():
    if "softmax" not in _FNS:
        x = T.dmatrix("x")
        _FNS["softmax"] = theano.function([x], nnet.softmax(x))
    return _FNS["softmax"]


# ----------------------------------------------------------------------------- cross-entropies

@pytest.mark.parametrize("mode", MODES)
def test_categorical_crossentropy_with_labels_and_with_distributions(mode):
    rng = np.random.default_rng(5)
    p, t = T.dmatrix("p"), T.dmatrix("t")
    y = T.ivector("y")
    f = theano.function([p, t, y], [nnet.categorical_crossentropy(p, y),
                                    nnet.categorical_crossentropy(p, t)], mode=mode)
    probs = np_softmax(rng.normal(size=(4, 3)))
    labels = np.array([0, 2, 1, 2], dtype="int32")
    one_hot = np.eye(3)[labels]
    by_label, by_dist = f(probs, one_hot, labels)
    want = -np.log(probs[np.arange(4), labels])
    np.testing.assert_allclose(by_label, want)
    np.testing.assert_allclose(by_dist, want)
    soft = np_softmax(rng.normal(size=(4, 3)))
    np.testing.assert_allclose(f(probs, soft, labels)[1], -(soft * np.log(probs)).sum(axis=1))


def test_crossentropy_label_errors():
    p = T.dmatrix("p")
    y = T.lvector("y")
    f = theano.function([p, y], nnet.categorical_crossentropy(p, y))
    probs = np.full((2, 3), 1 / 3)
    with pytest.raises(IndexError, match="CrossentropyCategorical1Hot: label 3 at position 1"):
        f(probs, np.array([0, 3]))
    with pytest.raises(IndexError, match="CrossentropyCategorical1Hot: label -1"):
        f(probs, np.array([-1, 0]))
    with pytest.raises(ValueError, match="2 rows .* but 3 labels"):
        f(probs, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="integer vector"):
        nnet.categorical_crossentropy(p, T.dvector("fy"))
    with pytest.raises(TypeError, match="rank mismatch"):
        nnet.categorical_crossentropy(p, T.dtensor3("t3"))
    with pytest.raises(TypeError, match="float matrix"):
        nnet.crossentropy_categorical_1hot(T.dvector("v"), y)


def test_crossentropy_gradients():
    rng = np.random.default_rng(6)
    labels = np.array([1, 0, 2])
    probs = np_softmax(rng.normal(size=(3, 3)))
    verify_grad(lambda p: nnet.categorical_crossentropy(p, labels), [probs], rng=rng)
    verify_grad(lambda p: nnet.categorical_crossentropy(p, np.eye(3)[labels] * 0.7 + 0.1), [probs], rng=rng)
    verify_grad(lambda x: nnet.categorical_crossentropy(nnet.softmax(x), labels), [rng.normal(size=(3, 3))], rng=rng)
    # second derivative through the label pick/scatter pair
    verify_grad(lambda p: T.grad(nnet.categorical_crossentropy(p, labels).sum(), p), [probs], rng=rng)
    x = T.dmatrix("x")
    y = T.lvector("y")
    g = T.grad(nnet.categorical_crossentropy(nnet.softmax(x), y).sum(), x)
    a = rng.normal(size=(3, 3))
    np.testing.assert_allclose(theano.function([x, y], g)(a, labels), np_softmax(a) - np.eye(3)[labels])


def test_crossentropy_rop_and_infer_shape():
    rng = np.random.default_rng(7)
    p, u, v = T.dmatrix("p"), T.dvector("u"), T.dmatrix("v")
    labels = T.constant(np.array([2, 0]))
    y = nnet.categorical_crossentropy(p, labels)
    f = theano.function([p, u, v], [(u * Rop(y, p, v)).sum(), (Lop(y, p, u) * v).sum()])
    left, right = f(np_softmax(rng.normal(size=(2, 3))), rng.normal(size=2), rng.normal(size=(2, 3)))
    np.testing.assert_allclose(left, right, rtol=1e-10)
    node = y.owner
    shape = node.op.infer_shape(None, node, [(T.constant(2, dtype="int64"), T.constant(3, dtype="int64")),
                                             (T.constant(2, dtype="int64"),)])[0]
    assert int(theano.function([], T.as_tensor_variable(shape[0]))()) == 2
    assert isinstance(node.op, CrossentropyCategorical1Hot)


def test_crossentropy_softmax_1hot_is_stable():
    x = T.dmatrix("x")
    y = T.lvector("y")
    b = T.dvector("b")
    nll, sm = nnet.crossentropy_softmax_1hot(x, y)
    nll_b, sm_b = nnet.crossentropy_softmax_1hot_with_bias(x, b, y)
    f = theano.function([x, y, b], [nll, sm, nll_b, sm_b])
    a = np.array([[1000.0, -1000.0], [0.0, 0.0]])
    got_nll, got_sm, got_nll_b, got_sm_b = f(a, np.array([1, 0]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(got_nll, [2000.0, np.log(2)])
    np.testing.assert_allclose(got_sm, np_softmax(a))
    np.testing.assert_allclose(got_nll_b, -np_log_softmax(a + [0.0, 1.0])[[0, 1], [1, 0]])
    np.testing.assert_allclose(got_sm_b, np_softmax(a + [0.0, 1.0]))
    rng = np.random.default_rng(8)
    verify_grad(lambda z: nnet.crossentropy_softmax_1hot(z, np.array([1, 0]))[0], [rng.normal(size=(2, 2))], rng=rng)
    with pytest.raises(IndexError, match="OneHotPick"):
        f(a, np.array([1, 5]), np.zeros(2))


def test_binary_crossentropy():
    rng = np.random.default_rng(9)
    o, t = T.dmatrix("o"), T.dmatrix("t")
    f = theano.function([o, t], nnet.binary_crossentropy(o, t))
    ov, tv = rng.uniform(0.1, 0.9, size=(3, 4)), rng.uniform(0, 1, size=(3, 4))
    np.testing.assert_allclose(f(ov, tv), -(tv * np.log(ov) + (1 - tv) * np.log(1 - ov)))
    verify_grad(nnet.binary_crossentropy, [ov, tv], rng=rng)


# ----------------------------------------------------------------------------- activations

def _away_from_kinks(rng, shape):
    v = rng.uniform(-4, 4, size=shape)
    # hard_sigmoid bends at +-2.5, relu/elu/softsign at 0: keep finite differences smooth.
    v[np.abs(v) < 0.1] += 0.3
    v[np.abs(np.abs(v) - 2.5) < 0.1] += 0.3
    return v


ACTIVATIONS = [
    ("relu", nnet.relu, lambda x: np.maximum(x, 0)),
    ("leaky_relu", lambda x: nnet.relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    ("elu", nnet.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    ("elu_alpha", lambda x: nnet.elu(x, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    ("selu", nnet.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    ("softsign", nnet.softsign, lambda x: x / (1 + np.abs(x))),
    ("hard_sigmoid", nnet.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
    ("ultra_fast_sigmoid", nnet.ultra_fast_sigmoid, _sigmoid),
    ("sigmoid", nnet.sigmoid, _sigmoid),
    ("softplus", nnet.softplus, lambda x: np.log1p(np.exp(x))),
]


@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_values_and_gradients(name, fn, ref):
    rng = np.random.default_rng(10)
    x = T.dmatrix("x")
    f = theano.function([x], fn(x))
    a = _away_from_kinks(rng, (3, 4))
    np.testing.assert_allclose(f(a), ref(a), rtol=1e-12)
    np.testing.assert_allclose(f(a.T), ref(a.T), rtol=1e-12)
    verify_grad(fn, [a], rng=rng)


def test_activations_float32_and_relu_gradient_at_zero():
    x = T.fvector("x")
    out = nnet.relu(x)
    assert out.dtype == "float32"
    g = theano.function([x], T.grad(out.sum(), x))(np.array([-1.0, 0.0, 2.0], dtype="float32"))
    np.testing.assert_array_equal(g, [0.0, 0.5, 1.0])  # Theano's 0.5 * (x + |x|) at 0
    for fn in (nnet.hard_sigmoid, nnet.selu, nnet.elu, nnet.softsign, nnet.ultra_fast_sigmoid):
        assert fn(x).dtype == "float32", fn
    got = theano.function([x], nnet.hard_sigmoid(x))(np.array([-3.0, 0.5, 3.0], dtype="float32"))
    np.testing.assert_allclose(got, [0.0, 0.6, 1.0], rtol=1e-6)
