"""pp in Theano's notation and debugprint trees."""
from __future__ import annotations

import io

import theanolite as theano
import theanolite.tensor as T
from theanolite import pp


def test_pp_of_the_seed_gradient_is_exactly_theanos_string() -> None:
    x = T.dscalar("x")
    gy = T.grad(x ** 2, x)
    assert pp(gy) == ("((fill((x ** TensorConstant{2}), TensorConstant{1.0}) * TensorConstant{2}) * "
                      "(x ** (TensorConstant{2} - TensorConstant{1})))")


def test_pp_operators_functions_and_names() -> None:
    x, y = T.dvectors("x", "y")
    assert pp(x + y * 2) == "(x + (y * TensorConstant{2}))"
    assert pp(-x) == "-x"
    assert pp(T.exp(x) / y) == "(exp(x) / y)"
    named = T.exp(x)
    named.name = "ex"
    assert pp(named + 1) == "(ex + TensorConstant{1})"
    assert pp(named) == "exp(x)"  # the top variable is expanded even when named
    assert pp(T.dmatrix("m").T) == "m.T"


def test_debugprint_tree_ids_and_types() -> None:
    x = T.dscalar("x")
    y = T.exp(x) * x
    text = theano.debugprint(y, file="str")
    lines = text.splitlines()
    assert lines[0].startswith("Elemwise{mul} [id A]")
    assert lines[1].startswith(" |Elemwise{exp} [id B]")
    assert lines[2].startswith(" | |x [id C]")
    assert lines[3].startswith(" |x [id C]")  # a shared input keeps its id
    typed = theano.debugprint(y, file="str", print_type=True)
    assert "<TensorType(float64, scalar)>" in typed
    buf = io.StringIO()
    theano.debugprint(theano.function([x], y), file=buf)
    assert "Elemwise" in buf.getvalue()
