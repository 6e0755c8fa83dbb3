"""Graph printing: ``pp`` (Theano's infix notation) and ``debugprint`` (an indented tree)."""
from __future__ import annotations

import io
import string
import sys
from typing import Any, TextIO

from theanolite.graph.basic import Apply, Constant, Variable

# Infix symbols of elementwise scalar ops, by scalar op name.
_BINARY = {"add": "+", "sub": "-", "mul": "*", "true_div": "/", "int_div": "//", "mod": "%",
           "pow": "**", "and_": "&", "or_": "|", "xor": "^", "lt": "<", "gt": ">", "le": "<=",
           "ge": ">=", "eq": "==", "neq": "!="}
_UNARY = {"neg": "-", "invert": "~"}
_FUNCTION_NAMES = {"second": "fill", "abs": "abs", "identity": "tensor_copy"}


def pp(var: Any) -> str:
    """The expression computing ``var`` in Theano's notation, e.g. ``'(x ** TensorConstant{2})'``."""
    if isinstance(var, (list, tuple)):
        return "\n".join(pp(v) for v in var)
    if isinstance(var, Apply):
        var = var.default_output()
    if not isinstance(var, Variable):
        raise TypeError(f"pp: expected a symbolic variable, got {type(var).__name__}")
    memo: dict[int, str] = {}
    return _pp(var, memo, top=True)


pprint = pp


def _pp(var: Variable, memo: dict[int, str], top: bool = False) -> str:
    if id(var) in memo:
        return memo[id(var)]
    if var.name is not None and not top:
        text = var.name
    elif isinstance(var, Constant) or var.owner is None:
        text = var.name if var.name is not None else str(var)
    else:
        text = _pp_node(var, memo)
    memo[id(var)] = text
    return text


def _pp_node(var: Variable, memo: dict[int, str]) -> str:
    node = var.owner
    op = node.op
    args = [_pp(i, memo) for i in node.inputs]
    custom = getattr(op, "pp", None)
    if custom is not None:
        return custom(args)
    scalar = getattr(op, "scalar_op", None)
    if scalar is not None:
        name = getattr(scalar, "name", "")
        if name in _BINARY and len(args) >= 2:
            return "(" + f" {_BINARY[name]} ".join(args) + ")"
        if name in _UNARY and len(args) == 1:
            return f"{_UNARY[name]}{args[0]}"
        fname = _FUNCTION_NAMES.get(name, str(scalar))
        return f"{fname}({', '.join(args)})"
    if type(op).__name__ == "DimShuffle":
        # Theano hides added broadcast dims: `y * 2` prints the 2, not DimShuffle{x}(2).
        order = list(op.new_order)
        while order and order[0] == "x":
            order.pop(0)
        ndim = node.inputs[0].ndim
        if order == list(range(ndim)):
            return args[0]
        if order == list(reversed(range(ndim))):
            return f"{args[0]}.T"
        return f"DimShuffle{{{', '.join(map(str, op.new_order))}}}({args[0]})"
    suffix = "" if len(node.outputs) == 1 else f".{var.index}"
    return f"{op}({', '.join(args)}){suffix}"


# ----------------------------------------------------------------------------- debugprint

def _ids() -> Any:
    letters = string.ascii_uppercase
    n = 0
    while True:
        k, s = n, ""
        while True:
            s = letters[k % 26] + s
            k = k // 26 - 1
            if k < 0:
                break
        yield s
        n += 1


def debugprint(obj: Any, depth: int = -1, print_type: bool = False, file: Any = None,
               ids: str = "CHAR", stop_on_name: bool = False, done: dict | None = None,
               print_storage: bool = False) -> Any:
    """Print the graph of ``obj`` (variables, a function or a FunctionGraph) as a tree.

    ``file='str'`` returns the text instead of printing it; ``print_type=True`` adds the
    type of each variable.
    """
    out = io.StringIO()
    roots = _roots(obj)
    names = _ids()
    assigned: dict[int, str] = {} if done is None else done
    for root in roots:
        _dp(root, out, "", depth, print_type, assigned, names, stop_on_name)
    text = out.getvalue()
    if file == "str":
        return text
    stream: TextIO = file if file is not None else sys.stdout
    stream.write(text)
    return stream


def _roots(obj: Any) -> list[Variable]:
    if isinstance(obj, Variable):
        return [obj]
    if isinstance(obj, Apply):
        return list(obj.outputs)
    if isinstance(obj, (list, tuple)):
        return [r for o in obj for r in _roots(o)]
    maker = getattr(obj, "maker", None)
    if maker is not None:
        return list(maker.fgraph.outputs)
    outputs = getattr(obj, "outputs", None)
    if outputs is not None:
        return list(outputs)
    raise TypeError(f"debugprint: cannot print {type(obj).__name__}")


def _dp(var: Variable, out: io.StringIO, prefix: str, depth: int, print_type: bool,
        assigned: dict[int, str], names: Any, stop_on_name: bool) -> None:
    if depth == 0:
        return
    node = var.owner
    type_text = f" <{var.type}>" if print_type else ""
    if node is None:
        out.write(f"{prefix}{var}{' [id ' + _id_of(var, assigned, names) + ']'}{type_text}\n")
        return
    seen = id(node) in assigned
    ident = _id_of(node, assigned, names)
    label = str(node.op) + (f".{var.index}" if len(node.outputs) > 1 else "")
    name = f" '{var.name}'" if var.name else " ''"
    out.write(f"{prefix}{label} [id {ident}]{type_text}{name}\n")
    if seen or (stop_on_name and var.name):
        return
    child_prefix = prefix + " |"
    for inp in node.inputs:
        _dp(inp, out, child_prefix, depth - 1, print_type, assigned, names, stop_on_name)


def _id_of(obj: Any, assigned: dict[int, str], names: Any) -> str:
    if id(obj) not in assigned:
        assigned[id(obj)] = next(names)
    return assigned[id(obj)]


def pydotprint(*args: Any, **kwargs: Any) -> None:
    raise NotImplementedError("pydotprint needs graphviz, which theanolite does not depend on; "
                              "use debugprint")


__all__ = ["pp", "pprint", "debugprint", "pydotprint"]
