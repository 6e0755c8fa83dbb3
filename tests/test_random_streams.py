"""Symbolic random streams: ``RandomStreams`` (numpy RandomState) and
``MRG_RandomStreams`` (MRG31k3p), compiled with ``theano.function``.

Expected values come from the documented derivations: for ``RandomStreams(s)`` the k-th
variable draws from ``RandomState(RandomState(s).randint(2**30) [k-th])`` with the numpy
call Theano makes; MRG draws equal ``mrg_engine``'s (bit-exact with Theano's Java
reference, checked in test_random_engines.py and again through the graph here).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite import function
from theanolite.gradient import NullTypeGradError
from theanolite.sandbox import mrg_engine as eng
from theanolite.sandbox.rng_mrg import MRG_RandomStreams, mrg_uniform
from theanolite.tensor import raw_random
from theanolite.tensor.raw_random import RandomFunction, RandomStateType, random_state_type
from theanolite.tensor.shared_randomstreams import RandomStreams
from test_random_engines import JAVA_SAMPLES

SEED = 4234


def derived(seed: int, k: int = 0) -> np.random.RandomState:
    """The RandomState of the k-th variable of RandomStreams(seed)."""
    gen = np.random.RandomState(seed)
    seeds = [int(gen.randint(2**30)) for _ in range(k + 1)]
    return np.random.RandomState(seeds[k])


def same_state(a: np.random.RandomState, b: np.random.RandomState) -> bool:
    return random_state_type.values_eq(a, b)


# ============================================================== RandomStreams: the tutorial

def test_theano_tutorial_using_random_numbers():
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = function([], rv_u)
    g = function([], rv_n, no_default_updates=True)  # not updating rv_n.rng
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u)
    f1, f2 = f(), f()
    assert np.all(f1 != f2)
    np.testing.assert_array_equal(g(), g())
    np.testing.assert_array_equal(nearly_zeros(), np.zeros((2, 2)))  # one draw per call
    assert isinstance(rv_u.rng.value, np.random.RandomState)
    ref = derived(234, 0)
    np.testing.assert_array_equal(f1, ref.uniform(size=(2, 2)))
    np.testing.assert_array_equal(f2, ref.uniform(size=(2, 2)))
    np.testing.assert_array_equal(g(), derived(234, 1).normal(size=(2, 2)))

    # Seeding streams: one variable by hand, then every variable of srng.
    rng_val = rv_u.rng.get_value(borrow=True)
    rng_val.seed(89234)
    rv_u.rng.set_value(rng_val, borrow=True)
    np.testing.assert_array_equal(f(), np.random.RandomState(89234).uniform(size=(2, 2)))
    srng.seed(902340)
    gen = np.random.RandomState(902340)
    ru, rn = (np.random.RandomState(int(gen.randint(2**30))) for _ in range(2))
    np.testing.assert_array_equal(f(), ru.uniform(size=(2, 2)))
    np.testing.assert_array_equal(g(), rn.normal(size=(2, 2)))

    # Sharing streams between functions.
    state_after_v0 = rv_u.rng.get_value().get_state()
    nearly_zeros()  # this affects rv_u's generator
    v1 = f()
    rng = rv_u.rng.get_value(borrow=True)
    rng.set_state(state_after_v0)
    rv_u.rng.set_value(rng, borrow=True)
    v2, v3 = f(), f()
    assert np.all(v1 != v2)
    np.testing.assert_array_equal(v1, v3)


@pytest.mark.parametrize("streams", [RandomStreams, MRG_RandomStreams])
def test_theano_tutorial_copying_random_state_between_graphs(streams):
    class Graph:
        def __init__(self, seed=123):
            self.rng = streams(seed)
            self.y = self.rng.uniform(size=(1,))

    g1, g2 = Graph(seed=123), Graph(seed=987)
    f1, f2 = theano.function([], g1.y), theano.function([], g2.y)
    assert f1() != f2()
    if isinstance(g1.rng, MRG_RandomStreams):
        g2.rng.rstate = g1.rng.rstate
    for su1, su2 in zip(g1.rng.state_updates, g2.rng.state_updates):
        su2[0].set_value(su1[0].get_value())
    np.testing.assert_array_equal(f1(), f2())
    np.testing.assert_array_equal(f1(), f2())


# ============================================================== RandomStreams: numbers

def test_basics_first_and_second_call_follow_the_seed_derivation():
    random = RandomStreams(234)
    fn = function([], random.uniform((2, 2)), updates=random.updates())
    gn = function([], random.normal((2, 2)), updates=random.updates())
    fn_val0, fn_val1 = fn(), fn()
    ref = np.random.RandomState(int(np.random.RandomState(234).randint(2**30)))
    np.testing.assert_array_equal(fn_val0, ref.uniform(size=(2, 2)))
    np.testing.assert_array_equal(fn_val1, ref.uniform(size=(2, 2)))
    np.testing.assert_array_equal(gn(), derived(234, 1).normal(size=(2, 2)))
    assert fn_val0.dtype == np.float64 and fn_val0.shape == (2, 2)


@pytest.mark.parametrize("method, args, numpy_call", [
    ("uniform", ((2, 3), -1, 1), lambda r: r.uniform(-1, 1, size=(2, 3))),
    ("normal", ((2, 3), -1, 2), lambda r: r.normal(-1, 2, size=(2, 3))),
    ("binomial", ((5, 2), 4, 0.3), lambda r: r.binomial(4, 0.3, size=(5, 2))),
    ("random_integers", ((20, 20), -5, 5), lambda r: r.randint(-5, 6, size=(20, 20))),
    ("choice", ((4,), 10, False), lambda r: r.choice(10, (4,), False)),
    ("choice", ((3,), 3, True, [0.2, 0.3, 0.5]), lambda r: r.choice(3, (3,), True, [0.2, 0.3, 0.5])),
    ("poisson", ((6,), 2.5), lambda r: r.poisson(2.5, size=(6,))),
    ("permutation", ((20,), 10), lambda r: np.array([r.permutation(10) for _ in range(20)])),
    ("multinomial", ((4, 4), 1, [0.1] * 10), lambda r: r.multinomial(1, [0.1] * 10, size=(4, 4))),
])
def test_each_distribution_draws_what_numpy_draws_and_advances(method, args, numpy_call):
    random = RandomStreams(SEED)
    out = getattr(random, method)(*args)
    fn = function([], out)
    ref = derived(SEED)
    for _ in range(2):
        expect = numpy_call(ref)
        got = fn()
        np.testing.assert_array_equal(got, expect)
        assert got.dtype == out.dtype and got.ndim == out.ndim


def test_float32_floatx_dtypes_and_values():
    with theano.change_flags(floatX="float32"):
        random = RandomStreams(SEED)
        u, n = random.uniform((3,), low=0.1), random.normal((3,))
        assert u.dtype == n.dtype == "float32"
        f = function([], [u, n])
        got_u, got_n = f()
    # Python floats are float32 constants under floatX=float32: numpy sees float32(0.1)
    expect_u = derived(SEED, 0).uniform(np.float32(0.1), np.float32(1.0), (3,)).astype(np.float32)
    np.testing.assert_array_equal(got_u, expect_u)
    np.testing.assert_array_equal(got_n, derived(SEED, 1).normal(size=(3,)).astype(np.float32))
    random = RandomStreams(SEED)
    assert random.uniform((2,)).dtype == "float64"
    assert random.uniform((2,), dtype="float32").dtype == "float32"
    assert random.binomial((2,), dtype="int8").dtype == "int8"
    assert random.uniform((2,), low=T.fscalar()).dtype == "float64"  # upcast with floatX


def test_two_variables_of_one_stream_in_one_function_both_advance():
    random = RandomStreams(SEED)
    a, b = random.uniform((3,)), random.normal((2,))
    f = function([], [a, b, a * 2])
    ra, rb = derived(SEED, 0), derived(SEED, 1)
    for _ in range(3):
        va, vb, va2 = f()
        np.testing.assert_array_equal(va, ra.uniform(size=(3,)))
        np.testing.assert_array_equal(vb, rb.normal(size=(2,)))
        np.testing.assert_array_equal(va2, va * 2)


def test_default_updates_explicit_updates_and_no_default_updates():
    def make():
        random = RandomStreams(SEED)
        return random, random.uniform((2, 2))

    _, out_a = make()
    fn_a = function([], out_a)
    a0, a1 = fn_a(), fn_a()
    assert not np.all(a0 == a1)
    random_b, out_b = make()
    fn_b = function([], out_b, updates=random_b.updates())
    np.testing.assert_array_equal([fn_b(), fn_b()], [a0, a1])
    _, out_c = make()
    fn_c = function([], out_c, updates=[out_c.update])
    np.testing.assert_array_equal([fn_c(), fn_c()], [a0, a1])
    _, out_d = make()
    fn_d = function([], out_d, no_default_updates=True)
    np.testing.assert_array_equal([fn_d(), fn_d()], [a0, a0])
    _, out_e = make()
    fn_e = function([], out_e, no_default_updates=[out_e.rng])
    np.testing.assert_array_equal([fn_e(), fn_e()], [a0, a0])
    _, out_f = make()  # eval() compiles with the default update too
    np.testing.assert_array_equal([out_f.eval(), out_f.eval()], [a0, a1])


def test_seed_restarts_and_reseeds_in_creation_order():
    random = RandomStreams(234)
    u, n = random.uniform((2, 2)), random.normal((3,))
    fu, fn = function([], u), function([], n)
    first = fu(), fn()
    fu(), fn()
    random.seed()  # back to the constructor's seed
    np.testing.assert_array_equal(fu(), first[0])
    np.testing.assert_array_equal(fn(), first[1])
    random.seed(SEED)
    ref_u, ref_n = derived(SEED, 0), derived(SEED, 1)
    np.testing.assert_array_equal(fu(), ref_u.uniform(size=(2, 2)))
    np.testing.assert_array_equal(fn(), ref_n.normal(size=(3,)))
    # New variables continue the constructor's seed sequence, not the new seed's.
    w = random.uniform((2,))
    np.testing.assert_array_equal(function([], w)(), derived(234, 2).uniform(size=(2,)))
    assert RandomStreams(1).gen_seedgen is not RandomStreams(1).gen_seedgen


def test_getitem_setitem_and_failed_gen_keep_seed_alignment():
    random = RandomStreams(234)
    out = random.uniform((2, 2))
    fn = function([], out)
    random.seed(SEED)
    rng = np.random.RandomState()
    rng.set_state(random[out.rng].get_state())
    np.testing.assert_array_equal(fn(), rng.uniform(size=(2, 2)))
    random[out.rng] = np.random.RandomState(7)
    np.testing.assert_array_equal(fn(), np.random.RandomState(7).uniform(size=(2, 2)))
    with pytest.raises(TypeError, match="RandomState"):
        random[out.rng] = np.random.default_rng(7)
    with pytest.raises(TypeError):
        random.uniform((2.5, 2))  # fails after drawing its seed
    second = random.normal((2,))
    random.seed(99)
    gen = np.random.RandomState(99)
    for var in (out, second):
        assert same_state(var.rng.get_value(borrow=True), np.random.RandomState(int(gen.randint(2**30))))


# ============================================================== sizes, shapes and ndim

def test_symbolic_sizes():
    random = RandomStreams(SEED)
    shape = T.lvector()
    f = function([shape], random.uniform(size=shape, ndim=2))
    assert f([2, 3]).shape == (2, 3) and f([4, 8]).shape == (4, 8)
    with pytest.raises(ValueError, match="mismatch"):
        f([4])
    with pytest.raises(ValueError, match="mismatch"):
        f([4, 3, 4, 5])
    x = T.matrix()
    out = random.normal(x.shape)
    assert out.ndim == 2
    g = function([x], out)
    ref = derived(SEED, 1)
    np.testing.assert_array_equal(g(np.zeros((3, 2))), ref.normal(size=(3, 2)))
    n = T.lscalar()
    h = function([n], random.uniform((n, 2)))
    assert h(4).shape == (4, 2) and h(1).shape == (1, 2)
    with pytest.raises(ValueError, match="not known"):
        random.uniform(size=T.lvector())  # length unknown and no ndim


def test_size_none_draws_the_parameters_shape():
    random = RandomStreams(SEED)
    f = function([], random.uniform())
    g = function([], random.multinomial())
    np.testing.assert_array_equal(f(), derived(SEED, 0).uniform())
    assert f().shape == ()
    np.testing.assert_array_equal(g(), derived(SEED, 1).multinomial(n=1, pvals=[0.5, 0.5]))
    low, high = T.dvector(), T.dcol()
    out = random.uniform(low=low, high=high)
    assert out.ndim == 2 and out.broadcastable == (False, False)
    fb = function([low, high], out)
    ref = derived(SEED, 2)
    np.testing.assert_array_equal(fb([-5, .5, 0, 1], [[1.], [1.5]]),
                                  ref.uniform(low=[-5, .5, 0, 1], high=[[1.], [1.5]]))
    v = random.uniform(low=low, high=1)
    fv = function([low], v)
    ref = derived(SEED, 3)
    np.testing.assert_array_equal(fv([-5, .5]), ref.uniform(low=[-5, .5], high=1))
    np.testing.assert_array_equal(fv([.9]), ref.uniform(low=[.9], high=1))
    with pytest.raises(ValueError, match="broadcast"):
        high2 = T.dvector()
        function([low, high2], random.uniform(low=low, high=high2))([1., 2.], [1., 2., 3.])


def test_auto_shape_minus_one_uses_the_parameter_dimension():
    random = RandomStreams(SEED)
    avg = T.dvector()
    out = random.normal((3, -1), avg=avg)
    f = function([avg], out)
    got = f([0., 10., 20., 30.])
    np.testing.assert_array_equal(got, derived(SEED).normal([0., 10., 20., 30.], 1.0, (3, 4)))
    with pytest.raises(ValueError, match="Auto-shape"):
        random.uniform((-1, 2))


@pytest.mark.parametrize("call, exc, message", [
    (lambda r: r.uniform((2, 2), ndim=1), ValueError, "ndim should be equal to len"),
    (lambda r: r.uniform((2, -3)), ValueError, "negative entry"),
    (lambda r: r.uniform((2, 2.0)), TypeError, "size entry 1 must be an integer"),
    (lambda r: r.uniform(size="ab"), TypeError, "size must be"),
    (lambda r: r.uniform(T.dvector(), ndim=1), TypeError, "integer vector"),
    (lambda r: r.uniform((T.dscalar(),)), TypeError, "integer scalar"),
    (lambda r: r.uniform((3,), low=T.dmatrix()), ValueError, "at least as big"),
    (lambda r: r.uniform(ndim=2), ValueError, "size=None"),
    (lambda r: r.permutation(None, 5, ndim=2), TypeError, "just one permutation"),
    (lambda r: r.poisson(), TypeError, "without either size"),
])
def test_bad_sizes_and_params_raise_clear_errors(call, exc, message):
    with pytest.raises(exc, match=message):
        call(RandomStreams(SEED))


def test_bad_values_at_call_time():
    random = RandomStreams(SEED)
    p = T.dscalar()
    f = function([p], random.binomial((3,), 1, p))
    with pytest.raises(ValueError):
        f(1.5)  # numpy: p > 1
    n = T.lscalar()
    g = function([n], random.choice((n,), 3, False))
    with pytest.raises(ValueError):
        g(5)  # more than 3 without replacement


# ============================================================== the type, shared values, op

def test_shared_randomstate_copies_unless_borrowed():
    rng = np.random.RandomState(123)
    s = theano.shared(rng)
    assert isinstance(s, raw_random.RandomStateSharedVariable) and s.type == RandomStateType()
    assert s.get_value(borrow=True) is not rng and same_state(s.get_value(), rng)
    assert theano.shared(rng, borrow=True).get_value(borrow=True) is rng
    inner = s.get_value(borrow=True)
    assert s.get_value(borrow=True) is inner and s.get_value() is not inner
    new = np.random.RandomState(234234)
    s.set_value(new)
    assert s.get_value(borrow=True) is not new
    assert new.randint(1000) == s.get_value(borrow=True).randint(1000)
    rr = np.random.RandomState(33)
    s.set_value(rr, borrow=True)
    assert s.get_value(borrow=True) is rr
    with pytest.raises(TypeError, match="RandomState"):
        s.set_value(np.zeros(3))
    with pytest.raises(TypeError, match="Generator"):
        random_state_type.filter(np.random.default_rng(0))
    with pytest.raises(TypeError):
        theano.shared(rng, broadcastable=())
    a, b = np.random.RandomState(5), np.random.RandomState(5)
    assert random_state_type.values_eq(a, b)
    a.normal()  # leaves a cached gaussian
    assert not random_state_type.values_eq(a, b)
    b.normal()
    assert random_state_type.values_eq(a, b)


def test_random_function_never_mutates_its_input_and_returns_the_new_state():
    rng_var = theano.shared(np.random.RandomState(3))
    new_r, out = raw_random.uniform(rng_var, (4,))
    f = function([], [new_r, out], no_default_updates=True)
    before = rng_var.get_value()
    r1, v1 = f()
    assert same_state(rng_var.get_value(borrow=True), before)  # input untouched
    ref = np.random.RandomState(3)
    np.testing.assert_array_equal(v1, ref.uniform(size=(4,)))
    assert same_state(r1, ref) and r1 is not rng_var.get_value(borrow=True)
    op = out.owner.op
    assert str(op) == "RandomFunction{uniform}" and op == RandomFunction("uniform", out.type)
    assert hash(op) == hash(RandomFunction("uniform", out.type))
    with pytest.raises(TypeError, match="RandomStateType"):
        op(T.dvector(), (4,), 0.0, 1.0)
    with pytest.raises(ValueError, match="unknown distribution"):
        RandomFunction("no_such_distribution", out.type)


def test_random_function_with_a_randomstate_method_or_callable():
    rng_var = theano.shared(np.random.RandomState(3))
    op = RandomFunction("exponential", T.TensorType("float64", (False,)))
    _, out = op(rng_var, (3,), 2.0)
    np.testing.assert_array_equal(function([], out)(), np.random.RandomState(3).exponential(2.0, (3,)))

    def halves(r, shape):
        return r.uniform(size=shape) / 2

    _, out2 = RandomFunction(halves, T.TensorType("float32", (False,)))(rng_var, (2,))
    got = function([], out2)()
    assert got.dtype == np.float32 and str(out2.owner.op) == "RandomFunction{halves}"


def test_infer_shape_and_gradients():
    random = RandomStreams(SEED)
    n = T.lscalar()
    out = random.uniform((n, 3))
    node = out.owner
    shapes = node.op.infer_shape(None, node, [None, (T.constant(2, dtype="int64"),), (), ()])
    assert shapes[0] is None
    assert [int(s.eval({n: 5})) for s in shapes[1]] == [5, 3]
    x = T.matrix()
    xs = random.normal(x.shape).owner
    dims = xs.op.infer_shape(None, xs, [None, (T.constant(2, dtype="int64"),), (), ()])[1]
    assert [int(d.eval({x: np.zeros((4, 7))})) for d in dims] == [4, 7]
    perm = random.permutation((2,), 5).owner
    with pytest.raises(NotImplementedError):
        perm.op.infer_shape(None, perm, [None, (T.constant(1, dtype="int64"),), ()])
    low = T.dscalar()
    u = random.uniform((3,), low=low)
    with pytest.raises(NullTypeGradError, match="No gradient defined through raw random"):
        T.grad(u.sum(), low)
    w = T.dscalar()
    g = T.grad((u * w).sum(), w)  # gradients w.r.t. other inputs are unaffected
    vals = function([low, w], [g, u.sum()], no_default_updates=True)(0.0, 3.0)
    np.testing.assert_allclose(vals[0], vals[1])
    assert node.op.R_op(node.inputs, [None] * len(node.inputs)) == [None, None]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=0, max_size=3), st.integers(0, 2**30 - 1))
def test_property_uniform_matches_numpy_for_any_size(size, seed):
    random = RandomStreams(seed)
    f = function([], random.uniform(tuple(size)))
    ref = derived(seed)
    for _ in range(2):
        np.testing.assert_array_equal(f(), ref.uniform(size=tuple(size)))


# ============================================================== MRG_RandomStreams

def engine_states(seed: int, *counts: int) -> list[np.ndarray]:
    st_ = eng.MRGStreamsState(seed)
    return [st_.new_variable_rstates(c) for c in counts]


def test_mrg_consistency_with_java_reference_through_the_graph():
    rng = MRG_RandomStreams(seed=12345)
    samples = []
    for _ in range(12):
        u = rng.uniform(size=(7,), nstreams=7)
        f = theano.function([], u)
        samples.append(np.array([f() for _ in range(5)]).T.ravel())
    np.testing.assert_array_equal(np.array(samples).ravel(), JAVA_SAMPLES)


@pytest.mark.parametrize("floatx", ["float64", "float32"])
def test_mrg_uniform_first_draws_equal_the_engine(floatx):
    with theano.change_flags(floatX=floatx):
        r = MRG_RandomStreams(234)
        u = r.uniform((2, 3))
        w = r.uniform((4, 5), low=-1.5, high=0.7)
        f = function([], [u, w])
        got = [f() for _ in range(2)]
    assert u.dtype == floatx and r.state_updates[0][0].get_value().shape == (6, 6)
    ru, rw = engine_states(234, eng.n_streams_for("uniform", (2, 3)), eng.n_streams_for("uniform", (4, 5)))
    for gu, gw in got:
        ru, eu = eng.mrg_uniform(ru, (2, 3), floatx)
        rw, ew = eng.uniform(rw, (4, 5), -1.5, 0.7, floatX=floatx)
        np.testing.assert_array_equal(gu, eu)
        np.testing.assert_array_equal(gw, ew)
        assert gu.dtype == gw.dtype == floatx


def test_mrg_state_is_a_shared_int32_matrix_with_default_update():
    r = MRG_RandomStreams(234)
    u = r.uniform((1000,))
    state = r.state_updates[0][0]
    assert state.get_value().dtype == np.int32 and state.get_value().shape == (166, 6)
    assert state.default_update is r.state_updates[0][1]
    x = T.vector()
    assert r.uniform(x.shape).owner is not None
    assert r.state_updates[1][0].get_value().shape == (15360, 6)  # symbolic size
    r.uniform((5,), nstreams=3)
    assert r.state_updates[2][0].get_value().shape == (3, 6)
    before = state.get_value()
    f = function([], u)
    f()
    assert not np.array_equal(state.get_value(), before)
    g = function([], u, no_default_updates=True)
    np.testing.assert_array_equal(g(), g())


def test_mrg_normal_binomial_multinomial_choice_equal_the_engine():
    r = MRG_RandomStreams(99)
    pv = np.random.RandomState(0).uniform(size=(6, 5))
    pv /= pv.sum(1, keepdims=True)
    outs = [r.normal((3, 5), avg=1.0, std=2.0), r.normal((7,)), r.binomial((4, 6), p=0.3),
            r.multinomial(pvals=pv, n=3), r.choice(size=2, p=pv, replace=False)]
    f = function([], outs)
    states = engine_states(99, 15360, 15360, eng.n_streams_for("binomial", (4, 6)), 15360, 15360)
    for _ in range(2):
        got = f()
        states[0], e0 = eng.normal(states[0], (3, 5), 1.0, 2.0)
        states[1], e1 = eng.normal(states[1], (7,))
        states[2], e2 = eng.binomial(states[2], (4, 6), p=0.3)
        states[3], e3 = eng.multinomial(states[3], pv, n=3)
        states[4], e4 = eng.choice(states[4], pv, size=2)
        for g, e in zip(got, (e0, e1, e2, e3, e4)):
            np.testing.assert_array_equal(g, e)
            assert g.dtype == e.dtype
    assert got[2].dtype == np.int64 and (got[3].sum(1) == 3).all()


def test_mrg_normal_moments_and_symbolic_size():
    r = MRG_RandomStreams(777)
    x = T.matrix()
    z = r.normal(x.shape, avg=-5.0, std=2.0)
    vals = function([x], z)(np.zeros((300, 201)))
    assert vals.shape == (300, 201)
    assert abs(vals.mean() + 5) < 0.03 and abs(vals.std() - 2) < 0.02
    zs = (vals - vals.mean()) / vals.std()
    assert abs((zs**3).mean()) < 0.05 and abs((zs**4).mean() - 3) < 0.1
    _, expect = eng.normal(engine_states(777, 15360)[0], (300, 201), -5.0, 2.0)
    np.testing.assert_array_equal(vals, expect)
    n = T.lscalar()
    odd = function([n], r.normal((n,)))
    assert odd(5).shape == (5,) and odd(0).shape == (0,)
    with theano.change_flags(floatX="float32"):
        assert r.normal((3,)).dtype == "float32"
    assert r.normal(()).ndim == 0


def test_mrg_seed_restarts_every_variable():
    r = MRG_RandomStreams(234)
    u, z = r.uniform((3, 2)), r.normal((4,))
    f = function([], [u, z])
    first = f()
    f()
    r.seed()
    np.testing.assert_array_equal(f()[0], first[0])
    r.seed(23)
    got = f()
    eu, ez = engine_states(23, 6, 15360)
    np.testing.assert_array_equal(got[0], eng.mrg_uniform(eu, (3, 2), "float64")[1])
    np.testing.assert_array_equal(got[1], eng.normal(ez, (4,))[1])


def test_mrg_uniform_op_infer_shape_and_gradients():
    r = MRG_RandomStreams(234)
    n = T.lscalar()
    r.uniform((n, 4))
    node = r.state_updates[0][1].owner
    assert isinstance(node.op, mrg_uniform) and str(node.op).startswith("mrg_uniform{")
    shapes = node.op.infer_shape(None, node, [(T.constant(8, dtype="int64"), T.constant(6, dtype="int64")),
                                              (T.constant(2, dtype="int64"),)])
    assert [int(s.eval()) for s in shapes[0]] == [8, 6]
    assert [int(s.eval({n: 3})) for s in shapes[1]] == [3, 4]
    assert r.uniform((1, 3)).broadcastable == (True, False)
    low = T.dscalar()
    u = r.uniform((3,), low=low)
    with pytest.raises(NullTypeGradError):
        T.grad(u.sum(), low)
    with pytest.raises(TypeError, match="int32 matrix"):
        mrg_uniform(T.TensorType("float64", (False,)))(T.dmatrix(), (3,))


@pytest.mark.parametrize("call, exc, message", [
    (lambda r: r.uniform((2, 0)), ValueError, "value <= 0"),
    (lambda r: r.uniform(5), TypeError, "size must be a tuple"),
    (lambda r: r.uniform((2, 2.5)), TypeError, "size must be a tuple of int"),
    (lambda r: r.uniform(T.lvector()), ValueError, "not known"),
    (lambda r: r.uniform((2,), ndim=2), ValueError, "does not match"),
    (lambda r: r.uniform((2,), foo=1), TypeError, "unexpected keyword"),
    (lambda r: r.normal((2, -1)), ValueError, "Non-positive"),
    (lambda r: r.normal("abc"), ValueError, "Size must be"),
    (lambda r: r.normal((2,), dtype="int32"), ValueError, "float32/float64"),
    (lambda r: r.normal((2,), truncate=True), NotImplementedError, "truncate"),
    (lambda r: r.binomial((2,), n=2), NotImplementedError, "n > 1"),
    (lambda r: r.multinomial(pvals=None), TypeError, "specify pvals"),
    (lambda r: r.multinomial(size=(2,), pvals=[[.5, .5]]), ValueError, "does not use the size"),
    (lambda r: r.multinomial(pvals=[.5, .5]), NotImplementedError, "pvals.ndim = 2"),
    (lambda r: r.choice(size=2, p=[[.5, .5]]), NotImplementedError, "without replacement"),
    (lambda r: r.choice(size=2, a=3, p=[[.5, .5]], replace=False), TypeError, "a has to be None"),
])
def test_mrg_bad_arguments_raise_theano_errors(call, exc, message):
    with pytest.raises(exc, match=message):
        call(MRG_RandomStreams(234))


def test_mrg_bad_seed_and_runtime_errors():
    with pytest.raises(ValueError, match="seed should not be 0"):
        MRG_RandomStreams(0)
    r = MRG_RandomStreams(1)
    p = T.dmatrix()
    f = function([p], r.choice(size=3, p=p, replace=False))
    with pytest.raises(ValueError, match="without replacement"):
        f(np.full((2, 2), 0.5))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.integers(1, 2**30),
       st.one_of(st.none(), st.integers(1, 9)))
def test_property_mrg_uniform_matches_engine(size, seed, nstreams):
    r = MRG_RandomStreams(seed)
    f = function([], r.uniform(tuple(size), nstreams=nstreams))
    rs, = engine_states(seed, eng.n_streams_for("uniform", tuple(size), nstreams))
    for _ in range(2):
        rs, expect = eng.mrg_uniform(rs, tuple(size), "float64")
        np.testing.assert_array_equal(f(), expect)


def test_copies_of_streams_are_independent():
    r = RandomStreams(3)
    u = r.uniform((2,))
    f = function([], u)
    snapshot = copy.deepcopy(u.rng.get_value())
    f()
    assert not same_state(snapshot, u.rng.get_value(borrow=True))
