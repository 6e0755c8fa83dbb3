"""theanolite.function: inputs, outputs, updates, givens, shared variables and bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile import In, Out, UnusedInputError
from theanolite.graph.fg import MissingInputError


def test_single_list_and_dict_outputs() -> None:
    x = T.dvector("x")
    assert isinstance(theano.function([x], x * 2)([1.0]), np.ndarray)
    a, b = theano.function([x], [x * 2, x + 1])([1.0])
    assert a.tolist() == [2.0] and b.tolist() == [2.0]
    out = theano.function([x], {"double": x * 2, "inc": x + 1})([1.0])
    assert set(out) == {"double", "inc"} and out["inc"].tolist() == [2.0]
    assert theano.function([x], [], on_unused_input="ignore")([1.0]) == []


def test_zero_d_outputs_are_arrays() -> None:
    x = T.dscalar("x")
    got = theano.function([x], x * 2)(4)
    assert isinstance(got, np.ndarray) and got.shape == () and got.dtype == np.float64


def test_in_defaults_and_keyword_arguments() -> None:
    x, y, w = T.dscalars("x", "y", "w")
    f = theano.function([x, In(y, value=1.0), In(w, value=2.0, name="w_by_name")], (x + y) * w)
    assert f(33) == 68.0
    assert f(33, 0, 1) == 33.0
    assert f(33, w_by_name=1, y=0) == 33.0
    with pytest.raises(TypeError, match="missing required input 'x'"):
        f()
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        f(1, nope=3)
    with pytest.raises(TypeError, match="takes 3 input"):
        f(1, 2, 3, 4)
    with pytest.raises(TypeError, match="twice"):
        f(1, 2, y=3)


def test_in_with_update_carries_state() -> None:
    inc = T.iscalar("inc")
    acc = T.iscalar("acc")
    f = theano.function([inc, In(acc, value=0, update=acc + inc, name="acc")], acc)
    assert f(1) == 0
    assert f(2) == 1
    assert f(3) == 3


def test_shared_variables_and_updates() -> None:
    state = theano.shared(0, name="state")
    inc = T.iscalar("inc")
    accumulator = theano.function([inc], state, updates=[(state, state + inc)])
    assert state.get_value() == 0
    assert accumulator(1) == 0  # outputs are computed before updates apply
    assert accumulator(300) == 1
    assert state.get_value() == 301
    state.set_value(-1)
    accumulator(3)
    assert state.get_value() == 2
    decrementor = theano.function([inc], state, updates={state: state - inc})
    decrementor(2)
    assert state.get_value() == 0


def test_updates_use_old_values_simultaneously() -> None:
    a = theano.shared(np.float64(1.0), name="a")
    b = theano.shared(np.float64(2.0), name="b")
    f = theano.function([], [], updates=[(a, b), (b, a)])
    f()
    assert (a.get_value(), b.get_value()) == (2.0, 1.0)


def test_update_type_mismatch_is_a_clear_type_error() -> None:
    w = theano.shared(np.zeros(3), name="w")
    with pytest.raises(TypeError, match="same type as the shared variable.*w"):
        theano.function([], [], updates=[(w, T.cast(w, "float32"))])
    with pytest.raises(TypeError, match="not a shared variable"):
        theano.function([], [], updates=[(T.dvector(), w)])


def test_givens_replace_variables() -> None:
    state = theano.shared(0, name="state")
    inc = T.iscalar("inc")
    fn_of_state = state * 2 + inc
    foo = T.scalar(dtype=state.dtype)
    skip_shared = theano.function([inc, foo], fn_of_state, givens=[(state, foo)])
    assert skip_shared(1, 3) == 7
    assert state.get_value() == 0


def test_shared_get_set_value_borrow_semantics() -> None:
    data = np.arange(3.0)
    s = theano.shared(data)
    data[0] = 100
    assert s.get_value()[0] == 0  # copied at construction
    v = s.get_value()
    v[1] = 100
    assert s.get_value()[1] == 1  # get_value copies
    b = theano.shared(data, borrow=True)
    assert b.get_value(borrow=True) is data
    with pytest.raises(TypeError, match="set_value"):
        s.set_value(np.zeros((2, 2)))
    s.set_value([5, 6, 7])
    assert s.get_value().tolist() == [5.0, 6.0, 7.0]


def test_default_update_of_shared_variable() -> None:
    counter = theano.shared(np.int64(0), name="counter")
    counter.default_update = counter + 1
    f = theano.function([], counter * 10)
    assert [int(f()) for _ in range(3)] == [0, 10, 20]
    g = theano.function([], counter * 10, no_default_updates=True)
    g()
    assert counter.get_value() == 3


def test_outputs_never_alias_inputs_or_shared_state() -> None:
    x = T.dmatrix("x")
    f = theano.function([x], x.T)
    value = np.ones((2, 3))
    out = f(value)
    out[0, 0] = 5
    assert value[0, 0] == 1
    s = theano.shared(np.zeros(3))
    g = theano.function([], s)
    g()[0] = 9
    assert s.get_value()[0] == 0
    h = theano.function([x], Out(x.T, borrow=True))
    assert np.shares_memory(h(value), value)


def test_unused_and_missing_inputs() -> None:
    x, y = T.dscalars("x", "y")
    with pytest.raises(UnusedInputError, match="input 1"):
        theano.function([x, y], x * 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        theano.function([x, y], x * 2, on_unused_input="warn")
    assert any("not used" in str(w.message) for w in caught)
    assert theano.function([x, y], x * 2, on_unused_input="ignore")(1, 2) == 2
    with pytest.raises(MissingInputError, match="'y'"):
        theano.function([x], x + y)


def test_bad_inputs_name_the_input_and_what_was_expected() -> None:
    x = T.dmatrix("x")
    n = T.iscalar("n")
    f = theano.function([x, n], x * n)
    with pytest.raises(TypeError, match=r"'x' at index 0.*2 dimensions"):
        f(np.ones(3), 1)
    with pytest.raises(TypeError, match=r"'n' at index 1.*int32.*(precision|accurately)"):
        f(np.ones((2, 2)), 1.5)
    with pytest.raises(TypeError, match=r"'n' at index 1.*int32"):
        f(np.ones((2, 2)), np.int64(3))
    with pytest.raises(TypeError, match=r"'x' at index 0.*numeric"):
        f("hello", 1)
    with pytest.raises(TypeError, match="index 0"):
        f(np.ones((2, 2), dtype="float32").astype("complex64"), 1)
    assert f([[1, 2]], 3).tolist() == [[3.0, 6.0]]


def test_allow_input_downcast() -> None:
    x = T.fvector("x")
    f = theano.function([x], x * 2)
    with pytest.raises(TypeError, match="float32"):
        f(np.ones(2))
    g = theano.function([x], x * 2, allow_input_downcast=True)
    assert g(np.ones(2)).dtype == np.float32
    assert f([1.0, 2.0]).dtype == np.float32  # Python floats always fit floatX... when exact


def test_input_validation_of_function_arguments() -> None:
    x = T.dscalar("x")
    with pytest.raises(TypeError, match="list or tuple"):
        theano.function(x, x)
    with pytest.raises(TypeError, match="shared variable"):
        theano.function([theano.shared(1.0)], x, on_unused_input="ignore")
    with pytest.raises(TypeError, match="computed by"):
        theano.function([x * 2], x)
    with pytest.raises(ValueError, match="twice"):
        theano.function([x, x], x)


def test_runtime_errors_say_which_node_failed() -> None:
    x, y = T.dvectors("x", "y")
    f = theano.function([x, y], T.exp(x) + y)
    with pytest.raises(ValueError) as info:
        f(np.ones(2), np.ones(3))
    assert "Apply node that caused the error" in "\n".join(getattr(info.value, "__notes__", []))


def test_maker_exposes_the_function_graph() -> None:
    x = T.dscalar("x")
    f = theano.function([x], x * 2)
    assert len(f.maker.fgraph.outputs) == 1
    assert f.maker.fgraph.inputs[0].type == x.type


def test_eval_of_a_variable() -> None:
    x = T.dscalar("x")
    assert (x * 3).eval({x: 2.0}) == 6.0
    assert T.constant(2.0).eval() == 2.0


def test_logistic_regression_loss_falls_with_sgd_updates() -> None:
    rng = np.random.default_rng(0)
    n, d = 200, 10
    data_x = rng.normal(size=(n, d))
    data_y = (data_x @ rng.normal(size=d) > 0).astype("float64")
    x, y = T.dmatrix("x"), T.dvector("y")
    w = theano.shared(np.zeros(d), name="w")
    b = theano.shared(0.0, name="b")
    p = 1 / (1 + T.exp(-T.dot(x, w) - b))
    cost = T.mean(-y * T.log(p) - (1 - y) * T.log(1 - p))
    gw, gb = T.grad(cost, [w, b])
    train = theano.function([x, y], cost, updates=[(w, w - 0.5 * gw), (b, b - 0.5 * gb)])
    losses = [float(train(data_x, data_y)) for _ in range(50)]
    assert losses[-1] < 0.5 * losses[0]
    assert all(b <= a + 1e-12 for a, b in zip(losses, losses[1:]))


def _run_pickled(payload: bytes) -> list:
    import pickle as _pickle
    f = _pickle.loads(payload)
    return f(np.arange(3.0)).tolist()


def test_functions_pickle_and_run_in_another_process() -> None:
    import multiprocessing
    import pickle
    x = T.dvector("x")
    w = theano.shared(np.full(3, 2.0), name="w")
    f = theano.function([x], x * w + 1, updates=[(w, w + 1)])
    g = pickle.loads(pickle.dumps(f))
    assert g(np.arange(3.0)).tolist() == [1.0, 3.0, 5.0]
    assert g(np.arange(3.0)).tolist() == [1.0, 4.0, 7.0]  # the copy's shared state advanced
    assert w.get_value().tolist() == [2.0, 2.0, 2.0]       # the original's did not
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_run_pickled, (pickle.dumps(f),)) == [1.0, 3.0, 5.0]
    d = theano.function([x], {"double": x * 2})
    assert pickle.loads(pickle.dumps(d))(np.ones(1))["double"].tolist() == [2.0]
