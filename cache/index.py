"""Entries grouped by the graph they were built from.

Layout: ``<root>/by-graph/<digest of the "graph" key part>/<key>``, one empty marker
file per entry. Two questions need it, and neither may scan the whole cache:

* *Deployment without a compiler*: the key holds the compiler's identity, which a machine
  with no compiler cannot know. ``find_compatible`` looks among the entries built from
  the same graph for one whose other parts all match (``ignore={"compiler"}``).
* *Explaining a miss* (``explain_cache_misses``): ``closest`` names the key parts in which
  the nearest entry of the same graph differs from the wanted key.

The index is a hint, never trusted: every candidate goes through ``lookup`` (ownership,
modes, sha256), a marker whose entry is gone is dropped, and losing a marker only makes
those two questions less informed. Markers are created with O_EXCL, so concurrent
publishers need no lock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import fsutil
from .entry import Entry
from .keys import describe_key_parts, is_key

INDEX_DIR = "by-graph"
INDEXED_PART = "graph"


def _digest(recorded_parts: Mapping[str, Any]) -> str | None:
    rec = recorded_parts.get(INDEXED_PART)
    digest = rec.get("sha256") if isinstance(rec, Mapping) else None
    return digest if is_key(digest) else None


class GraphIndexMixin:
    """Index maintenance and the two queries; mixed into ``CacheStore``."""

    root: Path

    if TYPE_CHECKING:  # provided by CacheStore
        def entry_dir(self, key: str) -> Path: ...
        def lookup(self, key: str) -> Entry | None: ...

    def _index_dir(self, digest: str) -> Path:
        return self.root / INDEX_DIR / digest

    def _index_add(self, key: str, recorded_parts: Mapping[str, Any]) -> None:
        """Record ``key`` under its graph digest; best effort (never raises)."""
        digest = _digest(recorded_parts)
        if digest is None:
            return
        d = self._index_dir(digest)
        try:
            fsutil.make_private_dir(self.root / INDEX_DIR)
            fsutil.make_private_dir(d)
            fd = os.open(d / key, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            os.close(fd)
        except OSError:
            pass  # exists already, or a read-only cache: the index is only a hint

    def _prune_index(self) -> None:
        """Drop markers of entries that no longer exist, and emptied graph dirs."""
        top = self.root / INDEX_DIR
        try:
            digests = os.listdir(top)
        except OSError:
            return
        for digest in digests:
            d = top / digest
            try:
                for key in os.listdir(d):
                    if not os.path.lexists(self.entry_dir(key)):
                        os.unlink(d / key)
                os.rmdir(d)  # fails (harmlessly) while markers remain
            except OSError:
                continue

    def same_graph_entries(self, parts: Mapping[str, Any]) -> list[Entry]:
        """Verified entries built from the same ``graph`` part as ``parts`` (raw or
        recorded parts), in key order. Markers of vanished entries are dropped."""
        recorded = parts if _digest(parts) else describe_key_parts(parts)
        digest = _digest(recorded)
        if digest is None:
            return []
        d = self._index_dir(digest)
        try:
            names = sorted(os.listdir(d))
        except OSError:
            return []
        found = []
        for key in names:
            if not is_key(key):
                continue
            if not os.path.lexists(self.entry_dir(key)):
                try:
                    os.unlink(d / key)
                except OSError:
                    pass
                continue
            entry = self.lookup(key)
            if entry is not None:
                found.append(entry)
        return found

    def find_compatible(self, parts: Mapping[str, Any], ignore: frozenset[str] | set[str]
                        ) -> Entry | None:
        """An entry of the same graph whose key parts equal ``parts`` except the names in
        ``ignore``; the most recently created one if several (e.g. built by two
        compilers). None if there is none."""
        from .keys import diff_key_parts
        matches = [e for e in self.same_graph_entries(parts)
                   if set(diff_key_parts(parts, e.meta.get("key_parts", {}))) <= set(ignore)]
        if not matches:
            return None
        return max(matches, key=lambda e: float(e.meta.get("created", 0.0)))

    def closest(self, parts: Mapping[str, Any]) -> tuple[Entry, list[str]] | None:
        """The entry of the same graph that differs from ``parts`` in the fewest key parts,
        with the names of those parts; None when no entry was built from this graph."""
        from .keys import diff_key_parts
        best: tuple[Entry, list[str]] | None = None
        for entry in self.same_graph_entries(parts):
            diff = diff_key_parts(parts, entry.meta.get("key_parts", {}))
            if best is None or len(diff) < len(best[1]):
                best = (entry, diff)
        return best
