"""Theano's ``theano.gof`` import path for the graph core (Op authors import from here)."""
from theanolite.graph import *  # noqa: F401,F403
from theanolite.graph import graph_inputs as inputs  # noqa: F401
from theanolite.graph.basic import Apply, Constant, Variable  # noqa: F401
from theanolite.graph.fg import FunctionGraph  # noqa: F401
from theanolite.graph.op import COp, Op, PureOp, Type  # noqa: F401
from theanolite.graph import basic as graph  # noqa: F401
