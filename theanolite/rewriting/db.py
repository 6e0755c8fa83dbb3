"""The rewrite registry: named local rewrites, each declaring its phase, tags and the ops it tracks.

A local rewrite is ``fn(fgraph, node) -> replacement | None``: a list of new variables (one
per output of ``node``), a dict {old output: new variable}, or None/False when it does not
apply. ``tracks`` lists Op classes, Op instances, or scalar-op classes (matching
``Elemwise`` nodes by their scalar op), so the driver only tries a rewrite on nodes it can
change.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from theanolite.graph.basic import Apply
from theanolite.tensor.elemwise import Elemwise


@dataclass(frozen=True)
class LocalRewrite:
    name: str
    fn: Callable
    phase: str
    tags: tuple[str, ...]
    tracks: tuple[Any, ...]  # empty: every node

    def __call__(self, fgraph: Any, node: Apply) -> Any:
        return self.fn(fgraph, node)


@dataclass
class RewriteDB:
    """All registered rewrites, in registration order per phase (order is part of the output)."""

    by_phase: dict[str, list[LocalRewrite]] = field(default_factory=dict)
    by_name: dict[str, LocalRewrite] = field(default_factory=dict)
    fired: Counter = field(default_factory=Counter)

    def register(self, phase: str, *tags: str, tracks: Sequence[Any] = (), name: str | None = None) -> Callable:
        def decorate(fn: Callable) -> Callable:
            rw_name = name or fn.__name__
            if rw_name in self.by_name:
                raise ValueError(f"rewrite {rw_name!r} is registered twice")
            rw = LocalRewrite(rw_name, fn, phase, tuple(tags), tuple(tracks))
            self.by_phase.setdefault(phase, []).append(rw)
            self.by_name[rw_name] = rw
            return fn
        return decorate

    def select(self, phase: str, including: Sequence[str] = (), excluding: Sequence[str] = ()) -> list[LocalRewrite]:
        """Rewrites of ``phase`` minus those whose name or a tag is excluded."""
        excluded = set(excluding)
        return [rw for rw in self.by_phase.get(phase, [])
                if rw.name not in excluded and not excluded.intersection(rw.tags)]


class TrackIndex:
    """Maps a node to the rewrites that track its op, its op class or its scalar op class."""

    def __init__(self, rewrites: Sequence[LocalRewrite]) -> None:
        self.by_key: dict[Any, list[LocalRewrite]] = {}
        self.universal: list[LocalRewrite] = []
        self.order = {rw.name: k for k, rw in enumerate(rewrites)}
        for rw in rewrites:
            if not rw.tracks:
                self.universal.append(rw)
            for t in rw.tracks:
                self.by_key.setdefault(_key(t), []).append(rw)
        self._memo: dict[Any, list[LocalRewrite]] = {}

    def for_node(self, node: Apply) -> list[LocalRewrite]:
        op = node.op
        # Only Elemwise nodes match by scalar op: reductions also carry a scalar_op.
        scalar = op.scalar_op if isinstance(op, Elemwise) else None
        memo_key = (type(op), type(scalar), op if _hashable(op) else id(op))
        found = self._memo.get(memo_key)
        if found is None:
            found = list(self.universal)
            for key in (("class", type(op)), ("scalar", type(scalar)), ("op", op)):
                for cls_or_op, rws in self._lookup(key):
                    found.extend(rws)
            seen: set[str] = set()
            found = [rw for rw in sorted(found, key=lambda r: self.order[r.name])
                     if not (rw.name in seen or seen.add(rw.name))]
            self._memo[memo_key] = found
        return found

    def _lookup(self, key: tuple) -> list[tuple[Any, list[LocalRewrite]]]:
        kind, value = key
        if kind in ("class", "scalar"):
            return [(k, rws) for k, rws in self.by_key.items()
                    if k[0] == "class" and isinstance(k[1], type) and isinstance(value, type)
                    and issubclass(value, k[1])]
        rws = self.by_key.get(("op", value)) if _hashable(value) else None
        return [(value, rws)] if rws else []


def _key(track: Any) -> tuple:
    return ("class", track) if isinstance(track, type) else ("op", track)


def _hashable(op: Any) -> bool:
    try:
        hash(op)
        return True
    except TypeError:
        return False


rewrite_db = RewriteDB()
register = rewrite_db.register
