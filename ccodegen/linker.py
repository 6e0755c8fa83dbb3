"""The C linker: turn an optimized ``FunctionGraph`` into a ``CProgram``.

``make_c_program`` partitions the graph (partition.py), gets the compiled module (from
this process, the disk cache, or the compiler: build.py) and wraps it (program.py). It
returns None, so the caller falls back to ``PyProgram``, when no node has C, when the
graph holds lazily evaluated ops (their branches must not run eagerly inside a segment),
or when compiling fails (with a warning: that is a bug to report).
"""
from __future__ import annotations

import warnings
from typing import Any

from theanolite.ccodegen import stats
from theanolite.ccodegen.build import CompileError, get_module
from theanolite.ccodegen.partition import partition
from theanolite.ccodegen.program import CProgram
from theanolite.configparser import config
from theanolite.graph.fg import FunctionGraph

_warned_no_compiler = False


def warn_no_compiler() -> None:
    """Say once per process that graphs run in Python because there is no compiler."""
    global _warned_no_compiler
    stats.fallbacks += 1
    if _warned_no_compiler:
        return
    _warned_no_compiler = True
    warnings.warn("theanolite: no C compiler (config.cxx is empty): every node runs its "
                  "Python implementation, which can be much slower. Install gcc or set "
                  "THEANOLITE_FLAGS=cxx=/path/to/cc.", RuntimeWarning, stacklevel=5)


_warned_not_compiled = False


def warn_not_compiled() -> None:
    """Say once per process that a graph missed the cache and compiling is off."""
    global _warned_not_compiled
    stats.fallbacks += 1
    if _warned_not_compiled:
        return
    _warned_not_compiled = True
    warnings.warn("theanolite: a function is not in the compiled-module cache and "
                  "compile_on_cache_miss is False: it runs in Python. Precompile it "
                  "(theanolite-precompile) or import a bundle (theanolite-cache import).",
                  RuntimeWarning, stacklevel=5)


def _is_lazy(fgraph: FunctionGraph) -> bool:
    from theanolite.compile.linker import is_lazy
    return any(is_lazy(node) for node in fgraph.apply_nodes)


def make_c_program(fgraph: FunctionGraph, mode: Any = None) -> CProgram | None:
    """A program running ``fgraph``'s C-capable nodes in C, or None (see module doc)."""
    if _is_lazy(fgraph):
        return None
    part = partition(fgraph)
    if not part.segments:
        return None
    try:
        module = get_module(fgraph, part, config.cxx, config.c_key_flags(), config.compiledir,
                            compile_on_miss=config.compile_on_cache_miss)
    except CompileError as exc:
        stats.fallbacks += 1
        warnings.warn(f"theanolite: {exc}\nRunning this function in Python instead.",
                      RuntimeWarning, stacklevel=5)
        return None
    if module is None:  # not in the cache, and compiling is off or impossible
        if config.cxx:
            warn_not_compiled()
        return None
    return CProgram(fgraph, part, module, keep_workspace=not config.allow_gc)
