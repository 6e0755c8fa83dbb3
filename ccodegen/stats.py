"""Process-wide counters of the C backend, for tests and ``theanolite-cache`` reports.

``compiles``: modules built by this process (a C compiler ran); ``disk_hits``: modules
loaded from the on-disk cache; ``memory_hits``: modules reused from this process's
memory; ``fallbacks``: graphs that ran in Python because C was unavailable or failed;
``served_keys``: the cache key of every module handed out, in order (what a function
built: ``theanolite-precompile`` bundles exactly these).
"""
from __future__ import annotations

compiles = 0
disk_hits = 0
memory_hits = 0
fallbacks = 0
served_keys: list[str] = []


def snapshot() -> dict[str, int]:
    """The counters now, as a dict (compare two snapshots to count what a call did)."""
    return {"compiles": compiles, "disk_hits": disk_hits, "memory_hits": memory_hits,
            "fallbacks": fallbacks}


def reset() -> None:
    global compiles, disk_hits, memory_hits, fallbacks
    compiles = disk_hits = memory_hits = fallbacks = 0
    served_keys.clear()
