"""The rewrite step of ``function``: hand the graph to theanolite.rewriting."""
from __future__ import annotations

from typing import Any

from theanolite.graph.fg import FunctionGraph


def optimize_graph(fgraph: FunctionGraph, mode: Any) -> None:
    """Rewrite ``fgraph`` in place according to ``mode.optimizer`` and its excluded tags."""
    from theanolite.rewriting import run_pipeline
    run_pipeline(fgraph, mode)
