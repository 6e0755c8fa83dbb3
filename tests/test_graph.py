"""Graph core: variables, applies, walks, cloning and FunctionGraph bookkeeping."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import theanolite.tensor as T
from theanolite.graph.basic import (Apply, Constant, ancestors, clone, clone_replace, graph_inputs,
                                    io_toposort)
from theanolite.graph.fg import FunctionGraph, MissingInputError


def _chain():
    x, y = T.dscalars("x", "y")
    a = x * y
    b = T.exp(a) + x
    return x, y, a, b


def test_toposort_puts_inputs_before_users_and_is_structural() -> None:
    x, y, a, b = _chain()
    order = io_toposort([x, y], [b])
    assert order.index(a.owner) < order.index(b.owner)
    assert [n.op for n in order] == [n.op for n in io_toposort([x, y], [b])]


def test_toposort_order_is_identical_across_processes() -> None:
    program = (
        "import theanolite.tensor as T\n"
        "from theanolite.graph.basic import io_toposort\n"
        "x, y = T.dvectors('x', 'y')\n"
        "outs = [T.exp(x) * y + T.log(y), T.tanh(x + y) - x]\n"
        "print([str(n.op) for n in io_toposort([x, y], outs)])\n")
    runs = {subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout
            for seed in (1, 2, 3)}
    assert len(runs) == 1


def test_deep_graphs_do_not_hit_the_recursion_limit() -> None:
    x = T.dscalar("x")
    y = x
    for _ in range(5000):
        y = y + 1
    assert len(io_toposort([x], [y])) == 5000


def test_ancestors_and_graph_inputs() -> None:
    x, y, a, b = _chain()
    assert set(map(id, graph_inputs([b]))) == {id(x), id(y)}
    assert a in ancestors([b]) and b in ancestors([b])
    assert graph_inputs([b], blockers=[a])[0] is a or a in graph_inputs([b], blockers=[a])


def test_clone_copies_nodes_and_keeps_structure() -> None:
    x, y, a, b = _chain()
    (nx, ny), (nb,) = clone([x, y], [b])
    assert nx is not x and nb is not b
    assert nb.owner.op == b.owner.op
    assert nx in ancestors([nb]) and x not in ancestors([nb])


def test_clone_replace_substitutes_and_shares_the_rest() -> None:
    x, y, a, b = _chain()
    z = T.dscalar("z")
    nb = clone_replace(b, {y: z})
    assert z in ancestors([nb]) and y not in ancestors([nb])
    assert b.owner.inputs[1] is x  # the original is untouched
    with pytest.raises(TypeError):
        clone_replace(b, {y: T.dvector()})


def test_constant_signature_and_equality() -> None:
    c1, c2, c3 = T.constant(2.0), T.constant(2.0), T.constant(3.0)
    assert c1.equals(c2) and not c1.equals(c3)
    assert isinstance(c1, Constant) and c1.data.dtype == np.float32


def test_apply_checks_inputs_are_variables() -> None:
    with pytest.raises(TypeError, match="input 0"):
        Apply(T.exp, [3.0], [])


def test_function_graph_clients_replace_and_prune() -> None:
    x, y, a, b = _chain()
    fg = FunctionGraph([x, y], [b])
    fx, fy = fg.inputs
    fb = fg.outputs[0]
    fa = fb.owner.inputs[0].owner.inputs[0]
    assert len(fg.clients[fx]) == 2
    fg.replace(fa, fx * 3.0, reason="test")
    fg.check_integrity()
    assert all(n.op != fa.owner.op or n is not fa.owner for n in fg.apply_nodes)
    assert fa.owner not in fg.apply_nodes  # the replaced node is dead and pruned
    assert fg.clients[fy] == []


def test_function_graph_rejects_missing_inputs() -> None:
    x, y, a, b = _chain()
    with pytest.raises(MissingInputError, match="'y'"):
        FunctionGraph([x], [b])


def test_replace_with_wrong_type_is_refused() -> None:
    x, y, a, b = _chain()
    fg = FunctionGraph([x, y], [b])
    with pytest.raises(TypeError):
        fg.replace(fg.outputs[0], T.dvector())


def test_ops_compare_by_props() -> None:
    assert T.DimShuffle((False,), ("x", 0)) == T.DimShuffle((False,), ("x", 0))
    assert hash(T.DimShuffle((False,), ("x", 0))) == hash(T.DimShuffle((False,), ("x", 0)))
    assert T.DimShuffle((False,), ("x", 0)) != T.DimShuffle((False,), (0, "x"))
