"""Which ops have C: a table keyed by op class.

An entry (see elemwise_c.py for the protocol) answers, per node: ``supports``,
``views``/``destroys`` (output -> input index), ``support_code``, ``shape_code``,
``run_code`` and ``node_version`` (part of the cache key). Only nodes whose inputs and
outputs are all ``TensorType`` values are candidates. Entries for ops defined in modules
written by others (linear algebra, reductions) are added when those modules import.
"""
from __future__ import annotations

from typing import Any

from theanolite.graph.basic import Apply
from theanolite.tensor.type import TensorType

_ENTRIES: dict[type, Any] = {}


class CEntry:
    """Defaults of the entry protocol: a versioned node that neither returns a view of
    an input nor writes into one. Entries override what differs."""

    version: tuple = (1,)

    def node_version(self, node: Apply) -> tuple:
        return self.version

    def views(self, node: Apply) -> dict[int, int]:
        return {}

    def destroys(self, node: Apply) -> dict[int, int]:
        return {}
_loaded = False


def register(op_class: type, entry: Any) -> None:
    """Give ``op_class`` nodes C through ``entry`` (exact class match, no subclasses:
    a subclass may change semantics)."""
    _ENTRIES[op_class] = entry


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from theanolite.ccodegen import elemwise_c
    from theanolite.tensor.elemwise import DimShuffle, Elemwise
    register(Elemwise, elemwise_c.ElemwiseC())
    register(DimShuffle, elemwise_c.DimShuffleC())
    from theanolite.ccodegen import blas_c, reduce_c
    blas_c.register_entries(register)
    reduce_c.register_entries(register)
    from theanolite.ccodegen import nnet_c, shape_c
    nnet_c.register_entries(register)
    shape_c.register_entries(register)
    from theanolite.ccodegen import subtensor_c
    subtensor_c.register_entries(register)
    from theanolite.ccodegen import structure_c
    structure_c.register_entries(register)


def c_entry(node: Apply) -> Any | None:
    """The C entry for ``node``, or None when it must run ``perform``."""
    _load_builtin()
    entry = _ENTRIES.get(type(node.op))
    if entry is None:
        return None
    for var in node.inputs + node.outputs:
        if not isinstance(var.type, TensorType):
            return None
    return entry if entry.supports(node) else None
