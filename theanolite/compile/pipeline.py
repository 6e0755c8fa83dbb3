"""The rewrite pipeline run by ``function`` on every graph (filled in by theanolite.rewriting)."""
from __future__ import annotations

from typing import Any

from theanolite.graph.fg import FunctionGraph


def optimize_graph(fgraph: FunctionGraph, mode: Any) -> None:
    """Rewrite ``fgraph`` in place according to ``mode.optimizer`` and its tag lists."""
    if mode.optimizer in ("None", None):
        return
    try:
        from theanolite.rewriting import run_pipeline
    except ImportError:
        return
    run_pipeline(fgraph, mode)
