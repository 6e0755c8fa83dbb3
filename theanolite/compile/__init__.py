"""``theanolite.compile``: functions, their inputs/outputs, modes and shared variables."""
from theanolite.compile.function import function, Function, FunctionMaker, UnusedInputError  # noqa: F401
from theanolite.compile.io import In, Out, SymbolicInput, SymbolicOutput  # noqa: F401
from theanolite.compile.mode import Mode, DebugMode, get_mode, FAST_RUN, FAST_COMPILE  # noqa: F401
from theanolite.compile.sharedvalue import (  # noqa: F401
    SharedVariable, TensorSharedVariable, shared, shared_constructor)
from theanolite.graph.fg import MissingInputError  # noqa: F401
