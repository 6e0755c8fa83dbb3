"""Fill a C template's named holes in one strict pass.

A hole is ``@name@`` (``@`` never occurs in C). ``fill`` replaces every hole at once and
raises ``TemplateError`` if the template uses a hole that was not given, or a given value
is used by no hole: a renamed or forgotten hole fails loudly instead of emitting broken C.
Values are inserted verbatim (never re-scanned for holes).
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

_HOLE = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)@")
_HERE = Path(__file__).resolve().parent


class TemplateError(KeyError):
    """A template hole without a value, or a value without a hole."""


def fill(text: str, **values: str) -> str:
    """``text`` with each ``@name@`` replaced by ``values[name]``."""
    used = set()

    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise TemplateError(f"template hole @{name}@ has no value")
        used.add(name)
        return str(values[name])

    out = _HOLE.sub(sub, text)
    unused = sorted(set(values) - used)
    if unused:
        raise TemplateError(f"values given for holes the template does not have: {unused}")
    return out


@functools.lru_cache(maxsize=None)
def load(name: str) -> str:
    """The text of a template file shipped beside this module (e.g. ``elemwise.c``)."""
    return (_HERE / name).read_text()
