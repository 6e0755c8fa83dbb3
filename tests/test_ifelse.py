"""ifelse: values, lists of outputs, types, gradients, R_op, shapes, and laziness."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile.linker import LazyPyProgram, PyProgram, lazy_regions
from theanolite.gradient import DisconnectedInputError, Lop, Rop, verify_grad
from theanolite.graph.basic import Apply
from theanolite.graph.op import Op
from theanolite.ifelse import IfElse, ifelse

MODES = ["FAST_RUN", "FAST_COMPILE"]


class Spy(Op):
    """Doubles its input and counts its runs; ``fail`` makes it raise instead."""

    # No __props__: each instance is its own op, so two spies never merge.
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        self.calls += 1
        if self.fail:
            raise RuntimeError("Spy: this branch must not run")
        output_storage[0][0] = inputs[0] * 2

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] * 2]


# ----------------------------------------------------------------------------- values

@pytest.mark.parametrize("mode", MODES)
def test_values_of_both_branches(mode):
    c = T.iscalar("c")
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = theano.function([c, x, y], ifelse(c, x + y, x * y), mode=mode)
    a, b = np.arange(6.0).reshape(2, 3), np.full((2, 3), 3.0)
    np.testing.assert_allclose(f(1, a, b), a + b)
    np.testing.assert_allclose(f(-5, a, b), a + b)
    np.testing.assert_allclose(f(0, a, b), a * b)


@pytest.mark.parametrize("cond_dtype,true_value,false_value",
                         [("bool", True, False), ("float64", 0.5, 0.0), ("int8", 3, 0), ("uint8", 1, 0)])
def test_condition_dtypes(cond_dtype, true_value, false_value):
    c = T.scalar("c", dtype=cond_dtype)
    x = T.dvector("x")
    f = theano.function([c, x], ifelse(c, x, -x))
    v = np.array([1.0, 2.0])
    np.testing.assert_array_equal(f(np.asarray(true_value, dtype=cond_dtype), v), v)
    np.testing.assert_array_equal(f(np.asarray(false_value, dtype=cond_dtype), v), -v)


def test_nan_condition_is_true_as_nonzero():
    c = T.dscalar("c")
    f = theano.function([c], ifelse(c, T.constant(1.0), T.constant(2.0)))
    assert f(np.nan) == 1.0


def test_result_does_not_alias_the_branch_input():
    x = T.dvector("x")
    c = T.iscalar("c")
    f = theano.function([c, x], ifelse(c, x, x * 2))
    v = np.ones(3)
    out = f(1, v)
    out[0] = 100.0
    assert v[0] == 1.0


@pytest.mark.parametrize("mode", MODES)
def test_list_and_tuple_outputs(mode):
    c = T.iscalar("c")
    x, y = T.dvector("x"), T.dmatrix("y")
    outs = ifelse(c, [x, y], [x * 3, y - 1])
    assert isinstance(outs, list) and len(outs) == 2
    tup = ifelse(c, (x, y), (x * 3, y - 1))
    assert isinstance(tup, tuple)
    f = theano.function([c, x, y], outs + list(tup), mode=mode)
    xv, yv = np.array([1.0, 2.0]), np.ones((2, 2))
    r1 = f(1, xv, yv)
    r0 = f(0, xv, yv)
    for got, want in zip(r1, [xv, yv, xv, yv]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(r0, [xv * 3, yv - 1, xv * 3, yv - 1]):
        np.testing.assert_array_equal(got, want)


def test_single_variables_give_a_single_variable_and_python_constants_take_the_other_type():
    x = T.fvector("x")
    out = ifelse(T.iscalar("c"), x, np.zeros(3, dtype="float32"))
    assert isinstance(out, T.TensorVariable) and out.type == x.type
    s = T.fscalar("s")
    out = ifelse(T.iscalar("c"), s, 0.1)  # a Python float is rounded to the branch's float32
    assert out.type == s.type


def test_zero_size_and_zero_d_values():
    c = T.iscalar("c")
    x = T.dmatrix("x")
    f = theano.function([c, x], [ifelse(c, x, x + 1), ifelse(c, x.sum(), T.constant(5.0, dtype="float64"))])
    empty = np.zeros((0, 3))
    got = f(0, empty)
    assert got[0].shape == (0, 3) and got[1] == 5.0
    got = f(1, empty)
    assert got[1] == 0.0 and got[1].ndim == 0


# ----------------------------------------------------------------------------- type errors

def test_mismatched_dtypes_raise_type_error_naming_the_pair():
    c = T.iscalar("c")
    with pytest.raises(TypeError, match=r"value 0 .*float32.*float64"):
        ifelse(c, T.fvector("a"), T.dvector("b"))
    with pytest.raises(TypeError, match=r"value 1 is b2"):
        ifelse(c, [T.dvector("a1"), T.dmatrix("b2")], [T.dvector("a2"), T.dvector("b3")])


def test_mismatched_broadcast_and_rank_raise_type_error():
    c = T.iscalar("c")
    with pytest.raises(TypeError, match="identical types"):
        ifelse(c, T.drow("r"), T.dmatrix("m"))
    with pytest.raises(TypeError, match="identical types"):
        ifelse(c, T.dmatrix("m"), np.zeros(3))


def test_different_lengths_raise_value_error_and_condition_must_be_scalar():
    c = T.iscalar("c")
    x = T.dvector("x")
    with pytest.raises(ValueError, match="then branch has 2 values but the else branch has 1"):
        ifelse(c, [x, x], [x])
    with pytest.raises(TypeError, match="condition must be a scalar"):
        ifelse(T.ivector("cv"), x, x)
    with pytest.raises(TypeError, match="expected a condition and 2"):
        IfElse(1)(c, x)


# ----------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("cond", [0, 1])
def test_verify_grad_through_each_branch(cond):
    rng = np.random.default_rng(0)
    c = T.constant(np.int8(cond))

    def fun(x, y):
        return ifelse(c, T.exp(x) * y, T.sin(y) + x)

    verify_grad(fun, [rng.random((2, 3)), rng.random((2, 3))], rng=rng)


@pytest.mark.parametrize("cond", [0, 1])
def test_gradient_of_list_outputs_and_of_the_untaken_branch(cond):
    c = T.iscalar("c")
    x, y = T.dvector("x"), T.dvector("y")
    a, b = ifelse(c, [x * y, x], [y, x ** 2])
    cost = (a * 3).sum() + (b * 5).sum()
    gx, gy = T.grad(cost, [x, y])
    f = theano.function([c, x, y], [gx, gy])
    xv, yv = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    got_x, got_y = f(cond, xv, yv)
    if cond:
        np.testing.assert_allclose(got_x, 3 * yv + 5)
        np.testing.assert_allclose(got_y, 3 * xv)
    else:
        np.testing.assert_allclose(got_x, 10 * xv)
        np.testing.assert_allclose(got_y, np.full(2, 3.0))
    rng = np.random.default_rng(1)
    cc = T.constant(np.int8(cond))
    verify_grad(lambda p, q: sum(o.sum() * k for k, o in enumerate(ifelse(cc, [p * q, p], [q, p ** 2]), 1)),
                [xv, yv], rng=rng)


def test_condition_is_disconnected_from_the_gradient():
    c = T.dscalar("c")
    x = T.dvector("x")
    out = ifelse(c, x.sum(), (x ** 2).sum())
    with pytest.raises(DisconnectedInputError):
        T.grad(out, c)
    g = T.grad(out, c, disconnected_inputs="ignore")
    assert theano.function([c], g)(1.5) == 0.0


def test_rop_matches_lop():
    rng = np.random.default_rng(2)
    x, v, u = T.dvector("x"), T.dvector("v"), T.dvector("u")
    c = T.iscalar("c")
    y = ifelse(c, T.exp(x) * x, T.sin(x))
    jv = Rop(y, x, v)
    ju = Lop(y, x, u)
    f = theano.function([c, x, v, u], [(u * jv).sum(), (ju * v).sum(), jv])
    xv, vv, uv = rng.random(4), rng.random(4), rng.random(4)
    for cond in (0, 1):
        left, right, jv_value = f(cond, xv, vv, uv)
        np.testing.assert_allclose(left, right, rtol=1e-12)
        want = (np.exp(xv) * (xv + 1)) * vv if cond else np.cos(xv) * vv
        np.testing.assert_allclose(jv_value, want, rtol=1e-12)


# ----------------------------------------------------------------------------- shapes

def test_infer_shape_picks_the_branch_shape():
    c = T.iscalar("c")
    x, y = T.dmatrix("x"), T.dmatrix("y")
    out = ifelse(c, x, y)
    node = out.owner
    shapes = [(), (T.constant(2, dtype="int64"), T.constant(3, dtype="int64")),
              (T.constant(4, dtype="int64"), T.constant(3, dtype="int64"))]
    (inferred,) = node.op.infer_shape(None, node, shapes)
    f = theano.function([c], [T.as_tensor_variable(s) for s in inferred], on_unused_input="ignore")
    assert [int(v) for v in f(1)] == [2, 3]
    assert [int(v) for v in f(0)] == [4, 3]
    g = theano.function([c, x, y], out.shape)
    assert list(g(0, np.zeros((2, 3)), np.zeros((5, 1)))) == [5, 1]


# ----------------------------------------------------------------------------- laziness

@pytest.mark.parametrize("mode", MODES)
def test_untaken_branch_never_runs(mode):
    then_spy, else_spy = Spy(), Spy()
    c = T.iscalar("c")
    x = T.dvector("x")
    # Elementwise work around each spy: after FAST_RUN's in-place rewrites the branch
    # still holds nodes that destroy buffers, which must not stop laziness.
    out = ifelse(c, T.exp(then_spy(x + 1)) + 1, T.log(else_spy(x * 3)) * 2)
    f = theano.function([c, x], out, mode=mode)
    assert isinstance(f.maker.program, LazyPyProgram)
    v = np.array([1.0, 2.0])
    for _ in range(3):
        np.testing.assert_allclose(f(1, v), np.exp((v + 1) * 2) + 1)
    assert (then_spy.calls, else_spy.calls) == (3, 0)
    np.testing.assert_allclose(f(0, v), np.log(v * 6) * 2)
    assert (then_spy.calls, else_spy.calls) == (3, 1)


def test_untaken_branch_that_would_raise_is_not_run():
    c = T.iscalar("c")
    x = T.dvector("x")
    f = theano.function([c, x], ifelse(c, x + 1, Spy(fail=True)(x)))
    np.testing.assert_array_equal(f(1, np.zeros(2)), np.ones(2))
    with pytest.raises(RuntimeError, match="must not run") as info:
        f(0, np.zeros(2))
    assert "Apply node that caused the error" in "".join(getattr(info.value, "__notes__", []))


def test_nodes_shared_with_the_other_branch_or_outputs_always_run():
    shared_spy, exposed_spy, private_spy = Spy(), Spy(), Spy()
    c = T.iscalar("c")
    x = T.dvector("x")
    common = shared_spy(x)
    exposed = exposed_spy(x + 2)
    out = ifelse(c, common + exposed, common * 2 + private_spy(x - 1))
    f = theano.function([c, x], [out, exposed])
    f(1, np.ones(2))
    assert (shared_spy.calls, exposed_spy.calls, private_spy.calls) == (1, 1, 0)
    f(0, np.ones(2))
    assert (shared_spy.calls, exposed_spy.calls, private_spy.calls) == (2, 2, 1)


def test_a_value_used_by_the_condition_is_computed_first():
    spy = Spy()
    x = T.dvector("x")
    s = spy(x).sum()
    f = theano.function([x], ifelse(T.gt(s, 0), s, -s))
    assert f(np.array([1.0, -3.0])) == 4.0
    assert spy.calls == 1


def test_nested_ifelse_is_lazy_at_every_level():
    spies = [Spy() for _ in range(3)]
    a, b = T.iscalar("a"), T.iscalar("b")
    x = T.dvector("x")
    inner = ifelse(b, spies[0](x), spies[1](x) + 1)
    out = ifelse(a, inner * 10, spies[2](x))
    f = theano.function([a, b, x], out)
    v = np.ones(1)
    assert f(1, 1, v)[0] == 20 and [s.calls for s in spies] == [1, 0, 0]
    assert f(1, 0, v)[0] == 30 and [s.calls for s in spies] == [1, 1, 0]
    assert f(0, 1, v)[0] == 2 and [s.calls for s in spies] == [1, 1, 1]


def test_gradient_graph_skips_the_untaken_branch_gradient():
    spy = Spy()
    c = T.iscalar("c")
    x = T.dvector("x")
    out = ifelse(c, spy(x).sum(), (x ** 2).sum())
    g = T.grad(out, x)
    f = theano.function([c, x], g)
    np.testing.assert_allclose(f(0, np.array([1.0, 3.0])), [2.0, 6.0])
    assert spy.calls == 0


class NegateInPlace(Op):
    """Negates its input's buffer in place (a destroyer, as in-place rewrites create)."""

    __props__ = ()
    destroy_map = {0: [0]}

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        np.negative(inputs[0], out=inputs[0])
        output_storage[0][0] = inputs[0]


def test_a_branch_node_reading_a_buffer_destroyed_elsewhere_is_not_delayed():
    spy = Spy()
    c = T.iscalar("c")
    x = T.dvector("x")
    t = T.exp(x)
    destroyed = NegateInPlace()(t)
    # Structural order: spy(t), the destroyer, the ifelse. Delaying spy(t) to the ifelse
    # would let it read the negated buffer.
    out = ifelse(c, spy(t), destroyed)
    f = theano.function([c, x], [out, destroyed * 1], mode="FAST_COMPILE")
    v = np.array([0.0, 1.0])
    np.testing.assert_allclose(f(1, v)[0], 2 * np.exp(v))
    np.testing.assert_allclose(f(0, v)[0], -np.exp(v))
    assert spy.calls == 2


def test_lazy_regions_structure_and_plain_programs_stay_plain():
    c = T.iscalar("c")
    x = T.dvector("x")
    out = ifelse(c, T.exp(x), T.log(x))
    f = theano.function([c, x], out, mode="FAST_COMPILE")
    fg = f.maker.fgraph
    owner = lazy_regions(fg, fg.toposort())
    lazy_node = next(n for n in fg.apply_nodes if isinstance(n.op, IfElse))
    assert sorted((str(n.op), b) for n, (node, b) in owner.items() if node is lazy_node) == \
        [("Elemwise{exp}", 0), ("Elemwise{log}", 1)]
    # Without a lazy node the linkers are untouched: the plain Python program (or C).
    plain = theano.function([x], T.exp(x), mode="FAST_COMPILE")
    assert type(plain.maker.program) is PyProgram
    assert not isinstance(theano.function([x], T.exp(x)).maker.program, LazyPyProgram)


def test_pickled_function_stays_lazy():
    import pickle
    c = T.iscalar("c")
    x = T.dvector("x")
    f = theano.function([c, x], ifelse(c, T.exp(x), Spy(fail=True)(x)))
    g = pickle.loads(pickle.dumps(f))
    assert isinstance(g.maker.program, LazyPyProgram)
    np.testing.assert_allclose(g(1, np.zeros(2)), np.ones(2))


# ----------------------------------------------------------------------------- property

@settings(max_examples=20, deadline=None)
@given(cond=st.integers(-3, 3), n=st.integers(0, 4), seed=st.integers(0, 2**16))
def test_matches_python_conditional(cond, n, seed):
    rng = np.random.default_rng(seed)
    x, y = T.dvector("x"), T.dvector("y")
    c = T.lscalar("c")
    f = _property_fn(x, y, c)
    xv, yv = rng.normal(size=n), rng.normal(size=n)
    got_a, got_b = f(cond, xv, yv)
    want_a, want_b = (xv * 2, yv) if cond else (yv - xv, xv)
    np.testing.assert_allclose(got_a, want_a)
    np.testing.assert_allclose(got_b, want_b)


_FN_CACHE: dict = {}


def _property_fn(x, y, c):
    if "f" not in _FN_CACHE:
        _FN_CACHE["f"] = theano.function([c, x, y], ifelse(c, [x * 2, y], [y - x, x]))
    return _FN_CACHE["f"]
