"""DebugMode: C and Python runs of one graph are compared; contract breaks raise."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from ccodegen_support import session_cache  # noqa: F401 - autouse: private compile cache
from theanolite.ccodegen import registry
from theanolite.ccodegen.program import CProgram
from theanolite.compile.debugmode import DebugModeError, DebugProgram, compare_values
from theanolite.compile.mode import DebugMode
from theanolite.graph.basic import Apply
from theanolite.graph.op import Op
from theanolite.tensor.type import TensorType

HAVE_CXX = bool(theano.config.cxx)
needs_cxx = pytest.mark.skipif(not HAVE_CXX, reason="no C compiler configured")


# ----------------------------------------------------------------------------- ops for the tests

class AddOneC(Op):
    """y = x + 1 in ``perform``; its C (registered below) can be told to be wrong."""

    __props__ = ("c_offset",)

    def __init__(self, c_offset: float = 1.0) -> None:
        self.c_offset = c_offset

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        if x.type.dtype != "float64" or x.ndim != 1:
            raise TypeError("AddOneC: expected a float64 vector")
        return Apply(self, [x], [TensorType("float64", (False,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] + 1.0


class AddOneCEntry:
    """C for ``AddOneC``: adds ``op.c_offset`` (1.0 is right, anything else is a bug)."""

    def node_version(self, node):
        return (1,)

    def supports(self, node):
        return True

    def views(self, node):
        return {}

    def destroys(self, node):
        return {}

    def support_code(self, node, name, aliased):
        return ""

    def shape_code(self, node, ctx):
        x, y = node.inputs[0], node.outputs[0]
        return f"{ctx.sh(y)}[0] = {ctx.sh(x)}[0];"

    def run_code(self, node, ctx):
        x, y = node.inputs[0], node.outputs[0]
        return (f"for (int64_t i = 0; i < {ctx.sh(x)}[0]; i++) ((double *){ctx.d(y)})[i] = "
                f"*(const double *)({ctx.d(x)} + i * {ctx.st(x)}[0]) + {node.op.c_offset!r};")


registry.register(AddOneC, AddOneCEntry())


class ScribbleOnInput(Op):
    """A broken Python op: writes into its input without a destroy_map."""

    __props__ = ()

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        out = x * 2
        x[...] = 0
        output_storage[0][0] = out


class WrongDtype(Op):
    """A broken Python op: declares float64 but returns float32."""

    __props__ = ()

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [TensorType("float64", x.broadcastable)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0], dtype="float32")


# ----------------------------------------------------------------------------- graphs that must pass

def test_get_mode_and_program_kind():
    x = T.dvector("x")
    f = theano.function([x], T.exp(x), mode="DebugMode")
    assert isinstance(f.maker.program, DebugProgram)
    assert isinstance(DebugMode(), theano.Mode) and DebugMode().linker == "debug"
    if HAVE_CXX:
        assert isinstance(f.maker.program.c_program, CProgram)


def test_seed_logistic_gradient():
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = T.grad(s, x)
    f = theano.function([x], gs, mode="DebugMode")
    got = f([[0, 1], [-1, -2]])
    np.testing.assert_allclose(got, [[0.25, 0.19661193], [0.19661193, 0.10499359]], rtol=1e-7)
    # Non-contiguous input, and the caller's array must be left as it was.
    big = np.random.default_rng(0).normal(size=(6, 8))
    view = big[::2, ::3].T
    before = view.copy()
    got = f(view)
    sig = 1 / (1 + np.exp(-before))
    np.testing.assert_allclose(got, sig * (1 - sig), rtol=1e-12)
    np.testing.assert_array_equal(view, before)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp_training_step(dtype):
    rng = np.random.default_rng(1)
    n_in, n_hid, n_out, batch = 6, 5, 3, 4
    w1 = theano.shared(rng.normal(0, 0.3, (n_in, n_hid)).astype(dtype), name="w1")
    b1 = theano.shared(np.zeros(n_hid, dtype), name="b1")
    w2 = theano.shared(rng.normal(0, 0.3, (n_hid, n_out)).astype(dtype), name="w2")
    b2 = theano.shared(np.zeros(n_out, dtype), name="b2")
    x = T.matrix("x", dtype=dtype)
    y = T.ivector("y")
    hidden = T.tanh(T.dot(x, w1) + b1)
    prob = T.nnet.softmax(T.dot(hidden, w2) + b2)
    cost = T.mean(T.nnet.categorical_crossentropy(prob, y))
    params = [w1, b1, w2, b2]
    grads = T.grad(cost, params)
    lr = np.asarray(0.1, dtype)
    step = theano.function([x, y], cost, updates=[(p, p - lr * g) for p, g in zip(params, grads)],
                           mode="DebugMode")
    ref = theano.function([x, y], cost, mode=theano.Mode(linker="py"))
    xs = rng.normal(size=(batch, n_in)).astype(dtype)
    ys = rng.integers(0, n_out, batch).astype("int32")
    costs = []
    for _ in range(3):
        expected = ref(xs, ys)
        costs.append(step(xs, ys))
        np.testing.assert_allclose(costs[-1], expected, rtol=1e-5)
    assert costs[-1] < costs[0]
    assert w1.get_value().dtype == dtype


def test_nan_and_inf_in_both_runs_are_fine():
    x = T.dvector("x")
    f = theano.function([x], [T.log(x), T.sqrt(x) * 2], mode="DebugMode")
    log_x, sq = f(np.array([-1.0, 0.0, 1.0, np.inf]))
    assert np.isnan(log_x[0]) and log_x[1] == -np.inf and log_x[3] == np.inf
    assert np.isnan(sq[0])


def test_integer_and_lazy_graphs():
    a = T.lvector("a")
    f = theano.function([a], a * 3 + 1, mode="DebugMode")
    np.testing.assert_array_equal(f(np.arange(4)), np.arange(4) * 3 + 1)
    from theanolite.ifelse import ifelse
    c = T.lscalar("c")
    g = theano.function([c, a], ifelse(c, a * 2, a - 1), mode="DebugMode")
    np.testing.assert_array_equal(g(1, np.arange(3)), [0, 2, 4])
    np.testing.assert_array_equal(g(0, np.arange(3)), [-1, 0, 1])


def test_without_compiler_runs_python_and_warns_once(monkeypatch):
    from theanolite.ccodegen import linker as c_linker
    monkeypatch.setattr(c_linker, "_warned_no_compiler", False)
    x = T.dvector("x")
    with theano.config.change_flags(cxx=""):
        with pytest.warns(RuntimeWarning, match="no C compiler"):
            f = theano.function([x], T.exp(x) + 1, mode="DebugMode")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            g = theano.function([x], T.exp(x) - 1, mode="DebugMode")
    assert f.maker.program.c_program is None and g.maker.program.c_program is None
    np.testing.assert_allclose(f(np.zeros(2)), [2.0, 2.0])


# ----------------------------------------------------------------------------- bugs that must be caught

@needs_cxx
def test_user_c_op_matching_perform_passes():
    x = T.dvector("x")
    f = theano.function([x], AddOneC(1.0)(x), mode="DebugMode")
    assert f.maker.program.c_program is not None
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [2.0, 3.0])


@needs_cxx
def test_user_c_op_differing_from_perform_raises():
    x = T.dvector("x")
    out = AddOneC(1.5)(x)
    f = theano.function([x], [T.exp(x), out], mode="DebugMode")
    with pytest.raises(DebugModeError) as info:
        f(np.array([0.0, 1.0, 2.0]))
    text = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "output 1" in text and "AddOneC" in text
    assert "max abs diff 0.5" in text and "(3,)" in text


@needs_cxx
def test_c_result_patched_to_differ_in_shape_or_nan(monkeypatch):
    x = T.dvector("x")
    f = theano.function([x], T.exp(x), mode="DebugMode")
    program = f.maker.program
    real = program.c_program
    monkeypatch.setattr(program, "c_program", lambda values: [real(values)[0][:-1]])
    with pytest.raises(DebugModeError, match=r"shape \(1,\).*shape \(2,\)"):
        f(np.zeros(2))
    monkeypatch.setattr(program, "c_program", lambda values: [np.full(2, np.nan)])
    with pytest.raises(DebugModeError, match="NaN positions differ"):
        f(np.zeros(2))


def test_python_op_writing_into_its_input_raises():
    x = T.dvector("x")
    f = theano.function([x], ScribbleOnInput()(T.exp(x)), mode="DebugMode")
    with pytest.raises(DebugModeError, match="modified its input 0"):
        f(np.ones(3))


def test_program_writing_into_a_graph_input_raises(monkeypatch):
    x = T.dvector("x")
    f = theano.function([x], x * 2, mode="DebugMode")
    program = f.maker.program

    def scribble(values):
        values[0][0] = 7.0
        return [values[0] * 2]

    monkeypatch.setattr(program, "c_program", scribble)
    user = np.ones(3)
    with pytest.raises(DebugModeError, match="modified graph input 0"):
        f(user)
    np.testing.assert_array_equal(user, np.ones(3))  # the caller's array is never touched


def test_python_op_returning_the_wrong_dtype_raises():
    x = T.dvector("x")
    f = theano.function([x], WrongDtype()(x), mode="DebugMode")
    with pytest.raises(DebugModeError, match="dtype float32"):
        f(np.ones(2))


# ----------------------------------------------------------------------------- the comparison itself

@pytest.mark.parametrize("dtype,close,far", [("float32", 1e-5, 1e-3), ("float64", 1e-8, 1e-6)])
def test_compare_values_tolerances(dtype, close, far):
    ref = np.array([1.0, -2.0, 0.0, np.nan, np.inf], dtype)
    assert compare_values(ref.copy(), ref) is None
    assert compare_values(ref * (1 + np.asarray(close, dtype)), ref) is None
    problem = compare_values(ref * (1 + np.asarray(far, dtype)), ref)
    assert problem and "max rel diff" in problem and "at (1,)" in problem
    flipped = ref.copy()
    flipped[4] = -np.inf
    assert "infinities differ" in compare_values(flipped, ref)
    assert "dtype" in compare_values(ref.astype("float16"), ref)


def test_compare_values_ints_are_exact():
    ref = np.arange(6, dtype="int64").reshape(2, 3)
    other = ref.copy()
    other[1, 2] += 1
    problem = compare_values(other, ref)
    assert "1 of 6" in problem and "(1, 2)" in problem
    assert compare_values(np.array(True), np.array(True)) is None
    assert compare_values(np.zeros((0, 3)), np.zeros((0, 3))) is None
