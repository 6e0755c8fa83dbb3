"""grad, Lop/Rop, gradient control ops and verify_grad itself."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite import gradient
from theanolite.gradient import (DisconnectedInputError, GradientError, NullTypeGradError, grad_undefined,
                                 verify_grad)
from theanolite.graph.basic import Apply
from theanolite.graph.op import Op


def test_grad_of_a_list_returns_a_list_in_order() -> None:
    x, y = T.dscalars("x", "y")
    gx, gy = T.grad(x * y ** 2, [x, y])
    f = theano.function([x, y], [gx, gy])
    assert [float(v) for v in f(3.0, 2.0)] == [4.0, 12.0]
    single = T.grad(x * y, x)
    assert not isinstance(single, list)


def test_cost_must_be_a_scalar() -> None:
    x = T.dvector("x")
    with pytest.raises(TypeError, match="cost must be a scalar"):
        T.grad(x * 2, x)


def test_disconnected_inputs_raise_warn_or_ignore() -> None:
    x, y = T.dscalars("x", "y")
    with pytest.raises(DisconnectedInputError, match="y"):
        T.grad(x * 2, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = T.grad(x * 2, y, disconnected_inputs="warn")
    assert caught and float(g.eval({y: 1.0})) == 0.0
    assert T.grad(x * 2, y, disconnected_inputs="ignore", return_disconnected="None") is None


def test_gradient_names_are_added_when_cost_and_wrt_are_named() -> None:
    x = T.dscalar("x")
    cost = x ** 3
    cost.name = "c"
    assert T.grad(cost, x).name == "(dc/dx)"


def test_higher_order_derivatives() -> None:
    x = T.dscalar("x")
    y = x ** 3
    d1 = T.grad(y, x)
    d2 = T.grad(d1, x)
    d3 = T.grad(d2, x)
    f = theano.function([x], [d1, d2, d3])
    assert [float(v) for v in f(2.0)] == [12.0, 12.0, 6.0]


def test_consider_constant_and_gradient_control_ops() -> None:
    x = T.dscalar("x")
    y = x ** 2
    assert float(T.grad(y * x, x, consider_constant=[y]).eval({x: 3.0})) == 9.0
    assert float(T.grad(gradient.zero_grad(y) * x, x).eval({x: 3.0})) == 9.0
    assert float(T.grad(gradient.disconnected_grad(y) * x, x).eval({x: 3.0})) == 9.0
    clipped = T.grad(gradient.grad_clip(x, -1.0, 1.0) * 10.0, x)
    assert float(clipped.eval({x: 3.0})) == 1.0
    assert float(gradient.grad_clip(x, -1, 1).eval({x: 3.0})) == 3.0


def test_known_grads_start_backprop_from_an_intermediate() -> None:
    x = T.dvector("x")
    h = T.exp(x)
    g = T.dvector("g")
    gx = T.grad(None, x, known_grads={h: g})
    f = theano.function([x, g], gx)
    np.testing.assert_allclose(f([0.0, 1.0], [1.0, 2.0]), [1.0, 2 * np.e])


def test_integer_inputs_get_zero_gradients() -> None:
    x = T.dscalar("x")
    n = T.iscalar("n")
    gn = T.grad(x * n, n)
    assert gn.dtype.startswith("float")
    assert float(theano.function([x, n], gn, on_unused_input="ignore")(2.0, 3)) == 0.0


class _NoGradOp(Op):
    __props__ = ()

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] * 2

    def L_op(self, inputs, outputs, output_grads):
        return [grad_undefined(self, 0, inputs[0], "it is a test")]


def test_undefined_gradients_raise_instead_of_returning_numbers() -> None:
    x = T.dscalar("x")
    with pytest.raises(NullTypeGradError, match="undefined.*a test"):
        T.grad(_NoGradOp()(x) * 2, x)
    nulls = T.grad(_NoGradOp()(x), x, null_gradients="return")
    assert isinstance(nulls.type, gradient.NullType)


def test_rop_and_lop_on_matrices_match_explicit_jacobian_products() -> None:
    W, V = T.dmatrices("W", "V")
    x, v = T.dvectors("x", "v")
    y = T.tanh(T.dot(x, W))
    jv = T.Rop(y, W, V)
    vj = T.Lop(y, W, v)
    f = theano.function([W, V, x, v], [jv, vj])
    rng = np.random.default_rng(0)
    w, vv, xx, v1 = rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=2)
    got_jv, got_vj = f(w, vv, xx, v1)
    s = 1 - np.tanh(xx @ w) ** 2
    np.testing.assert_allclose(got_jv, s * (xx @ vv))
    np.testing.assert_allclose(got_vj, np.outer(xx, s * v1))


def test_rop_and_lop_check_eval_point_shapes() -> None:
    x = T.dvector("x")
    with pytest.raises(ValueError, match="shape of the input"):
        T.Rop(x * 2, x, T.dmatrix())
    with pytest.raises(ValueError, match="shape of the output"):
        T.Lop(x * 2, x, T.dmatrix())


class _NoRopOp(Op):
    """Doubles its input; has an L_op but no R_op, so Rop must use the double-L_op trick."""

    __props__ = ()

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] * 2

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] * 2]


def test_rop_falls_back_to_double_lop_for_ops_without_r_op() -> None:
    x, v = T.dvectors("x", "v")
    y = T.exp(_NoRopOp()(x))
    f = theano.function([x, v], T.Rop(y, x, v))
    np.testing.assert_allclose(f([0.0, 1.0], [1.0, 1.0]), 2 * np.exp([0.0, 2.0]))


def test_verify_grad_catches_a_wrong_gradient() -> None:
    class WrongGradExp(Op):
        __props__ = ()

        def make_node(self, x):
            x = T.as_tensor_variable(x)
            return Apply(self, [x], [x.type()])

        def perform(self, node, inputs, output_storage):
            output_storage[0][0] = np.exp(inputs[0])

        def L_op(self, inputs, outputs, output_grads):
            return [output_grads[0] * outputs[0] * 1.01]  # 1% wrong

    with pytest.raises(GradientError, match="input 0"):
        verify_grad(WrongGradExp(), [np.array([0.1, 0.5])], rng=np.random.default_rng(0))
    verify_grad(T.exp, [np.array([0.1, 0.5])], rng=np.random.default_rng(0))


def test_user_defined_op_as_in_theanos_extending_tutorial() -> None:
    class DoubleOp(Op):
        __props__ = ()

        def make_node(self, x):
            x = T.as_tensor_variable(x)
            return Apply(self, [x], [x.type()])

        def perform(self, node, inputs, output_storage):
            output_storage[0][0] = inputs[0] * 2

        def infer_shape(self, node, i0_shapes):  # Theano's two-argument signature
            return i0_shapes

        def grad(self, inputs, output_grads):
            return [output_grads[0] * 2]

        def R_op(self, inputs, eval_points):
            return [None] if eval_points[0] is None else self.grad(inputs, eval_points)

    x = T.matrix()
    f = theano.function([x], DoubleOp()(x))
    inp = np.random.default_rng(0).random((5, 4))
    np.testing.assert_allclose(f(inp), inp * 2)
    verify_grad(DoubleOp(), [inp], rng=np.random.default_rng(0))
    node = DoubleOp().make_node(x)
    assert DoubleOp().call_infer_shape(None, node, [(5, 4)]) == [(5, 4)]
    assert DoubleOp() == DoubleOp() and hash(DoubleOp()) == hash(DoubleOp())
