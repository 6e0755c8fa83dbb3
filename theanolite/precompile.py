"""Declare functions for ``theanolite-precompile`` (build the cache on one machine, run on
another that has no compiler).

A *builder* is a callable taking no arguments that builds and returns a compiled
function (``theanolite.function(...)``), or a list, tuple or dict of them. Declare
builders in a module in either of two ways::

    import theanolite as theano
    import theanolite.tensor as T
    from theanolite.precompile import register

    @register                      # named after the function: "train_step"
    def train_step():
        x = T.dmatrix("x")
        ...
        return theano.function([x, y], cost, updates=updates)

    @register(name="predict")      # or choose the name
    def build_predict():
        ...

    # or, without the decorator, a module-level list:
    THEANOLITE_PRECOMPILE = [train_step, build_predict]

Then ``theanolite-precompile mymodule`` (or ``path/to/file.py``) builds every declared
function into the cache, ``--bundle out.tar.gz`` also exports exactly the modules they
use, and ``--check`` fails when one is missing. At run time, calling the same builder
(building the same graph) finds the modules in the cache: no compiler is needed.
``register`` returns the builder unchanged, so it stays an ordinary function.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, overload

__all__ = ["Builder", "register", "builders_of", "load_target", "LIST_NAME"]

LIST_NAME = "THEANOLITE_PRECOMPILE"
BuilderFn = Callable[[], Any]


@dataclass(frozen=True)
class Builder:
    """One declared function: its name (unique within its module) and how to build it."""

    name: str
    module: str
    func: BuilderFn


# module name -> builder name -> Builder, in declaration order.
_REGISTRY: dict[str, dict[str, Builder]] = {}


@overload
def register(func: BuilderFn, *, name: str | None = None) -> BuilderFn: ...
@overload
def register(func: None = None, *, name: str | None = None) -> Callable[[BuilderFn], BuilderFn]: ...


def register(func: BuilderFn | None = None, *, name: str | None = None) -> Any:
    """Declare ``func`` (a no-argument builder) for precompilation; usable as
    ``@register`` or ``@register(name="...")``. Returns ``func`` unchanged. Raises
    TypeError for a non-callable and ValueError for a name declared twice in a module."""
    def declare(f: BuilderFn) -> BuilderFn:
        if not callable(f):
            raise TypeError(f"register: expected a builder function, got {type(f).__name__}")
        label = name if name is not None else getattr(f, "__name__", None)
        if not isinstance(label, str) or not label:
            raise ValueError("register: the builder needs a name (pass name=...)")
        module = getattr(f, "__module__", None) or "__main__"
        table = _REGISTRY.setdefault(module, {})
        old = table.get(label)
        if old is not None and old.func is not f and _origin(old.func) != _origin(f):
            raise ValueError(f"register: two builders named {label!r} in module {module}")
        table[label] = Builder(label, module, f)
        return f

    return declare if func is None else declare(func)


def _origin(f: Any) -> tuple:
    # Re-executing a module (e.g. imported twice by path) re-registers the same source.
    code = getattr(f, "__code__", None)
    return (getattr(code, "co_filename", None), getattr(code, "co_firstlineno", None))


def builders_of(module: ModuleType) -> list[Builder]:
    """Every builder ``module`` declares: ``@register`` ones, then the entries of its
    ``THEANOLITE_PRECOMPILE`` list not registered already. Raises TypeError for a list
    entry that is not callable and ValueError for duplicate names."""
    found = dict(_REGISTRY.get(module.__name__, {}))
    listed = getattr(module, LIST_NAME, None)
    if listed is not None:
        if not isinstance(listed, (list, tuple)):
            raise TypeError(f"{module.__name__}.{LIST_NAME} must be a list of builder functions")
        known = {id(b.func) for b in found.values()}
        for f in listed:
            if not callable(f):
                raise TypeError(f"{module.__name__}.{LIST_NAME} holds {f!r}, which is not callable")
            if id(f) in known:
                continue
            label = getattr(f, "__name__", None) or repr(f)
            if label in found:
                raise ValueError(f"{module.__name__}: two builders named {label!r}")
            found[label] = Builder(label, module.__name__, f)
    return list(found.values())


def load_target(target: str) -> ModuleType:
    """Import ``target``: a path to a ``.py`` file, or a dotted module name. A file is
    imported under a name derived from its absolute path, so two processes importing it
    agree on builder identities. Raises ImportError naming the target."""
    path = Path(target)
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ImportError(f"no such Python file: {target}")
        absolute = path.resolve()
        name = "_theanolite_precompile_" + re.sub(r"\W", "_", str(absolute.with_suffix("")))[-80:]
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, absolute)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {target}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # builders' __module__ must resolve while it runs
        # Sibling imports of a script work as when running it directly.
        sys.path.insert(0, os.path.dirname(str(absolute)))
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            sys.path.remove(os.path.dirname(str(absolute)))
        return module
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise ImportError(f"cannot import precompile target {target!r}: {exc}") from exc
