"""The rewrite pipeline: one ordered list of phases, read top to bottom.

``FAST_RUN`` runs all of it; ``FAST_COMPILE`` only merges and folds constants; an
optimizer of ``None`` runs nothing. Names or tags in ``optimizer_excluding`` (and
``Mode.excluding``) switch rewrites off.
"""
from __future__ import annotations

from typing import Any, Callable

from theanolite.configparser import config
from theanolite.graph.fg import FunctionGraph
from theanolite.rewriting import blas, canonicalize, inplace, nnet_rewrites, scan_rewrites, shape, stabilize, sum_rewrites, useless  # noqa: F401,E501 (registration)
from theanolite.rewriting.db import rewrite_db
from theanolite.rewriting.driver import apply_local_rewrites
from theanolite.rewriting.fusion import fuse_elemwise
from theanolite.rewriting.merge import constant_folding, merge


def _phase(name: str) -> Callable[[FunctionGraph, tuple], int]:
    def run(fgraph: FunctionGraph, excluding: tuple) -> int:
        return apply_local_rewrites(fgraph, rewrite_db.select(name, excluding=excluding))
    run.__name__ = name
    return run


def _global(fn: Callable[[FunctionGraph], int], tag: str) -> Callable[[FunctionGraph, tuple], int]:
    def run(fgraph: FunctionGraph, excluding: tuple) -> int:
        return 0 if tag in excluding else fn(fgraph)
    run.__name__ = tag
    return run


FAST_RUN_PIPELINE = [
    _global(merge, "merge"),
    _global(constant_folding, "constant_folding"),
    _phase("canonicalize"),
    _global(merge, "merge"),
    _phase("stabilize"),
    _phase("specialize"),
    _global(merge, "merge"),
    _global(fuse_elemwise, "fusion"),
    _phase("inplace"),
]

FAST_COMPILE_PIPELINE = [
    _global(merge, "merge"),
    _global(constant_folding, "constant_folding"),
]

MERGE_PIPELINE = [_global(merge, "merge")]


def pipeline_for(optimizer: str) -> list:
    if optimizer in ("fast_run", "o1"):
        return FAST_RUN_PIPELINE
    if optimizer == "fast_compile":
        return FAST_COMPILE_PIPELINE
    if optimizer == "merge":
        return MERGE_PIPELINE
    if optimizer in ("None", None):
        return []
    raise ValueError(f"unknown optimizer {optimizer!r}")


def run_pipeline(fgraph: FunctionGraph, mode: Any) -> None:
    """Rewrite ``fgraph`` in place as ``mode`` asks."""
    excluding = tuple(getattr(mode, "excluded_tags", ())) + tuple(
        t for t in config.optimizer_excluding.split(":") if t)
    for step in pipeline_for(mode.optimizer):
        step(fgraph, excluding)
