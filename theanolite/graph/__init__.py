"""The graph core: variables, applies, ops, types and function graphs."""
from theanolite.graph.basic import (  # noqa: F401
    Apply, Constant, Variable, ancestors, clone, clone_get_equiv, clone_replace, graph_inputs,
    io_toposort, toposort, variables_between)
from theanolite.graph.fg import FunctionGraph, InconsistencyError, MissingInputError  # noqa: F401
from theanolite.graph.op import COp, Op, PureOp, Type  # noqa: F401
