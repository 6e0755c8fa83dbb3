"""Whole-cache operations (scan, stats, LRU eviction, verify, cleanup) for the CLI and
the size cap. Kept apart from the lookup/publish path, which never scans directories.

``StoreMaintenance`` is mixed into ``CacheStore``; it relies only on the attributes
declared below and on ``CacheStore.remove``/``_quarantine``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import fsutil
from .entry import EntryInfo, VerifyReport, inspect_entry, read_info
from .keys import is_key
from .locks import KeyLock


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
        """JSON-ready totals: entries, bytes, hits, quarantined and temp items."""
        infos = self.entries()

        def count(d: Path) -> int:
            try:
                return len(os.listdir(d))
            except OSError:
                return 0

        return {"root": str(self.root), "entries": len(infos),
                "total_bytes": sum(i.size for i in infos),
                "hits": sum(i.hits for i in infos),
                "quarantined": count(self._quarantine_dir), "tmp": count(self._tmp),
                "last_used": max((i.last_used for i in infos), default=None)}

    def evict(self, max_bytes: int) -> list[str]:
        """Delete least-recently-used entries until the total is at most ``max_bytes``.
        Entries whose key lock is held (being published or verified) are skipped, so
        the total may stay above the cap. Returns the removed keys, oldest first."""
        infos = sorted(self.entries(), key=lambda i: (i.last_used, i.key))
        total = sum(i.size for i in infos)
        removed = []
        for info in infos:
            if total <= max_bytes:
                break
            if self.remove(info.key, lock_timeout=0):
                total -= info.size
                removed.append(info.key)
        return removed

    def clear(self) -> int:
        """Delete every entry that is not busy, the quarantine and stale temp dirs;
        return the number of entries deleted."""
        removed = sum(self.remove(key, lock_timeout=0) for key in list(self.keys()))
        fsutil.remove_tree(self._quarantine_dir)
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
