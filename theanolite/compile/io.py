"""``In`` and ``Out``: how function inputs and outputs are declared."""
from __future__ import annotations

from typing import Any

from theanolite.graph.basic import Variable


class In:
    """A function input with options.

    ``value`` is a default used when the argument is omitted; ``name`` allows passing it
    by keyword; ``update`` (with ``mutable``) makes it carry state like a shared variable;
    ``borrow``/``mutable`` allow the function to keep or overwrite the caller's array;
    ``strict`` requires exact types; ``allow_downcast`` permits lossy conversion.
    """

    def __init__(self, variable: Variable, name: str | None = None, value: Any = None,
                 update: Variable | None = None, mutable: bool | None = None, strict: bool = False,
                 allow_downcast: bool | None = None, autoname: bool = True, implicit: bool | None = None,
                 borrow: bool = False, shared: bool = False) -> None:
        if not isinstance(variable, Variable):
            raise TypeError(f"In: expected a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.name = name if name is not None else (variable.name if autoname else None)
        self.value = value
        self.update = update
        self.mutable = bool(mutable) if mutable is not None else update is not None
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.implicit = bool(implicit)
        self.borrow = borrow or self.mutable
        self.shared = shared

    def __repr__(self) -> str:
        return f"In({self.variable}, name={self.name!r})"


class Out:
    """A function output; ``borrow=True`` lets the function return an internal buffer."""

    def __init__(self, variable: Variable, borrow: bool = False) -> None:
        if not isinstance(variable, Variable):
            raise TypeError(f"Out: expected a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.borrow = borrow

    def __repr__(self) -> str:
        return f"Out({self.variable}, borrow={self.borrow})"


SymbolicInput = In
SymbolicOutput = Out
