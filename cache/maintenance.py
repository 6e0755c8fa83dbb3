"""Whole-cache operations (scan, stats, LRU eviction, verify, cleanup) for the CLI and
the size cap. Kept apart from the lookup/publish path, which never scans directories.

``StoreMaintenance`` is mixed into ``CacheStore``; it relies only on the attributes
declared below and on ``CacheStore.remove``/``_quarantine``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import fsutil
from .counters import read_counters
from .entry import (HITS_NAME, META_NAME, EntryInfo, VerifyReport, inspect_entry, read_info,
                    read_meta)
from .errors import CacheError, KeyPrefixError
from .keys import is_key
from .locks import KeyLock, unless_held

_HEX = frozenset("0123456789abcdef")


# Subdirectories the compiler backend fills with files it can always rebuild (compiler
# identity records, the kept fast-call object): named here so the layout has one owner.
DERIVED_DIRS = ("compiler", "runtime")


def _is_shard(name: str) -> bool:
    return len(name) == 2 and all(c in "0123456789abcdef" for c in name)


class StoreMaintenance:
    root: Path
    _tmp: Path
    _locks: Path
    _quarantine_dir: Path

    if TYPE_CHECKING:  # provided by CacheStore
        def entry_dir(self, key: str) -> Path: ...
        def _lock(self, key: str) -> KeyLock: ...
        def remove(self, key: str, lock_timeout: float | None = None) -> bool: ...
        def _quarantine(self, key: str, reason: str) -> Path: ...
        def _prune_index(self) -> None: ...

    def keys(self) -> Iterator[str]:
        """Keys of every entry directory on disk, valid or not (a directory scan)."""
        try:
            with os.scandir(self.root) as it:
                shards = sorted(i.name for i in it
                                if _is_shard(i.name) and i.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return
        for shard in shards:
            try:
                with os.scandir(self.root / shard) as it:
                    names = sorted(i.name for i in it)
            except FileNotFoundError:
                continue
            yield from (n for n in names if is_key(n) and n[:2] == shard)

    def entries(self) -> list[EntryInfo]:
        """Usage records of every readable entry (no rehashing), in key order. Broken
        entries are left out; ``verify()`` reports them."""
        out = []
        for key in self.keys():
            try:
                out.append(read_info(self.entry_dir(key), key))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return out

    def stats(self) -> dict[str, Any]:
        """JSON-ready totals: entries, bytes, hits, quarantined and temp items, the
        creation times of the oldest and newest entries, and the ``misses`` and
        ``compiles`` counters (None where never recorded, e.g. an older cache)."""
        infos = self.entries()
        recorded = read_counters(self.root)

        def count(d: Path) -> int:
            try:
                return len(os.listdir(d))
            except OSError:
                return 0

        return {"root": str(self.root), "entries": len(infos),
                "total_bytes": sum(i.size for i in infos),
                "hits": sum(i.hits for i in infos),
                "quarantined": count(self._quarantine_dir), "tmp": count(self._tmp),
                "last_used": max((i.last_used for i in infos), default=None),
                "oldest_created": min((i.created for i in infos), default=None),
                "newest_created": max((i.created for i in infos), default=None),
                "misses": recorded.get("misses"), "compiles": recorded.get("compiles")}

    def resolve_key(self, prefix: str) -> str:
        """The one key of an entry on disk that starts with ``prefix`` (hex digits,
        case-insensitive, at least one). Raises KeyPrefixError when the prefix is not
        hex, matches nothing, or matches several entries (naming a few of them)."""
        p = prefix.strip().lower()
        if not p or len(p) > 64 or not set(p) <= _HEX:
            raise KeyPrefixError(f"not a key or key prefix (hex digits): {prefix!r}")
        if len(p) >= 2:  # one shard holds every candidate: no full scan
            names = self._listdir(self.root / p[:2])
            found = [n for n in names if is_key(n) and n.startswith(p)]
        else:
            found = [k for k in self.keys() if k.startswith(p)]
        if not found:
            raise KeyPrefixError(f"no cache entry matches {prefix!r} in {self.root}")
        if len(found) > 1:
            shown = ", ".join(k[:16] for k in found[:4]) + (", ..." if len(found) > 4 else "")
            raise KeyPrefixError(
                f"{prefix!r} is ambiguous: {len(found)} entries match ({shown}); "
                "give more digits")
        return found[0]

    def info(self, key: str) -> dict[str, Any]:
        """JSON-ready description of ``key``'s entry without verifying or changing it:
        the parsed meta.json (``meta``, holding every key part), the paths of the entry,
        module and C source, and the usage record. Raises KeyPrefixError if there is no
        such entry and CacheError if its meta.json cannot be read."""
        d = self.entry_dir(key)
        if not is_key(key) or not os.path.isdir(d):
            raise KeyPrefixError(f"no cache entry {key!r} in {self.root}")
        try:
            meta = read_meta(d)
            usage = read_info(d, key)
            module, c_source = meta["module"]["name"], meta["c_source"]["name"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CacheError(f"entry {key} is broken ({type(e).__name__}: {e}); "
                             "`theanolite-cache verify` will quarantine it") from e
        return {"key": key, "path": str(d), "module_path": str(d / str(module)),
                "c_source_path": str(d / str(c_source)), "summary": usage.summary,
                "size": usage.size, "created": usage.created,
                "last_used": usage.last_used, "hits": usage.hits, "meta": meta}

    def prune(self, max_bytes: int | None = None, older_than: float | None = None,
              unused_for: float | None = None, now: float | None = None,
              dry_run: bool = False) -> list[EntryInfo]:
        """Delete entries created more than ``older_than`` seconds ago or last used
        more than ``unused_for`` seconds ago, then least-recently-used ones until the
        total is at most ``max_bytes``; None disables a rule. Entries whose key lock is
        held, or whose module a process has loaded, are skipped (and still count towards
        the total). Returns what was deleted (with ``dry_run``: what would be, nothing
        is touched), in deletion order."""
        now = time.time() if now is None else now
        infos = sorted(self.entries(), key=lambda i: (i.last_used, i.key))

        def expired(i: EntryInfo) -> bool:
            return ((older_than is not None and now - i.created > older_than)
                    or (unused_for is not None and now - i.last_used > unused_for))

        # Age rules first: what they delete may already bring the total under the cap.
        total = sum(i.size for i in infos)
        removed: list[EntryInfo] = []
        gone: set[str] = set()
        for rule in ("age", "size"):
            for info in infos:
                if info.key in gone:
                    continue
                if rule == "age" and not expired(info):
                    continue
                if rule == "size" and (max_bytes is None or total <= max_bytes):
                    break
                if dry_run or self._remove_unused(info.key):
                    total -= info.size
                    removed.append(info)
                    gone.add(info.key)
        return removed

    def evict(self, max_bytes: int, keep: frozenset[str] | set[str] = frozenset()) -> list[str]:
        """Delete least-recently-used entries until the total is at most ``max_bytes``.
        Entries in ``keep``, entries whose key lock is held (being published or
        verified) and entries whose module a process has loaded (``locks.hold_shared``
        on their hits file) are skipped, so the total may stay above the cap. Returns
        the removed keys, oldest first."""
        infos = sorted(self.entries(), key=lambda i: (i.last_used, i.key))
        total = sum(i.size for i in infos)
        removed = []
        for info in infos:
            if total <= max_bytes:
                break
            if info.key not in keep and self._remove_unused(info.key):
                total -= info.size
                removed.append(info.key)
        return removed

    def _remove_unused(self, key: str) -> bool:
        """``remove(key, lock_timeout=0)`` unless a process has the entry's module loaded
        (it holds the entry's hits file with ``locks.hold_shared``); whether removed."""
        with unless_held(self.entry_dir(key) / HITS_NAME) as free:
            return free and self.remove(key, lock_timeout=0)

    def clear(self) -> int:
        """Delete every entry that is not busy, the quarantine, stale temp dirs and the
        derived files (DERIVED_DIRS); return the number of entries deleted. A process
        building meanwhile rebuilds a derived file it finds gone."""
        removed = sum(self.remove(key, lock_timeout=0) for key in list(self.keys()))
        fsutil.remove_tree(self._quarantine_dir)
        for name in DERIVED_DIRS:
            fsutil.remove_tree(self.root / name)
        self.cleanup_tmp()
        return removed

    def verify(self) -> VerifyReport:
        """Rehash every entry's module and C source; quarantine the corrupt ones
        (under their key lock; busy ones are reported, not touched)."""
        report = VerifyReport()
        for key in list(self.keys()):
            status, found = inspect_entry(self.entry_dir(key), key, full=True)
            if status == "corrupt":
                lock = self._lock(key)
                if not lock.try_acquire():
                    report.busy.append(key)
                    continue
                try:  # re-check under the lock: it may have been republished
                    status, found = inspect_entry(self.entry_dir(key), key, full=True)
                    if status == "corrupt":
                        self._quarantine(key, found)
                        report.quarantined[key] = found
                finally:
                    lock.release()
            if status == "ok":
                report.ok.append(key)
            elif status == "unsafe":
                report.unsafe[key] = found
        return report

    def cleanup_tmp(self) -> list[str]:
        """Delete temp dirs whose owner process is dead, then lock files of keys with
        no entry; return the names removed. A temp dir is named ``<key>.*`` and its
        builder holds the key lock until it is renamed or deleted, so taking the lock
        proves the builder is gone (killed)."""
        removed = []
        for name in self._listdir(self._tmp):
            key = name.split(".", 1)[0]

            def drop(path: Path = self._tmp / name) -> bool:
                fsutil.remove_tree(path)
                return True

            if is_key(key) and self._if_unlocked(key, drop):
                removed.append(name)
        for name in self._listdir(self._locks):
            key = name.removesuffix(".lock")
            if is_key(key) and self._if_unlocked(
                    key, lambda: not os.path.lexists(self.entry_dir(key)), unlink=True):
                removed.append(name)
        self._prune_index()
        return removed

    @staticmethod
    def _listdir(d: Path) -> list[str]:
        try:
            return sorted(os.listdir(d))
        except OSError:
            return []

    def _if_unlocked(self, key: str, fn: Callable[[], bool], unlink: bool = False) -> bool:
        """Run ``fn`` under ``key``'s lock if the lock is free right now and return its
        result; return False if it is held. With ``unlink``, the lock file is deleted
        when ``fn`` returned True."""
        lock = self._lock(key)
        try:
            if not lock.try_acquire():
                return False
        except OSError:
            return False  # read-only cache: nothing can be cleaned
        result = False
        try:
            result = fn()
        finally:
            lock.release(unlink=unlink and result)
        return result
