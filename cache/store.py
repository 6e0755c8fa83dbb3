"""The on-disk store of compiled modules.

Layout under a root (created 0700)::

    <root>/<key[:2]>/<key>/   one entry: module, C source, meta.json, hits (entry.py)
    <root>/locks/<key>.lock   per-key flock files (locks.py)
    <root>/tmp/<key>.*        builds in progress and entries being deleted
    <root>/quarantine/<key>.* entries that failed verification, kept for inspection
    <root>/by-graph/<digest>/ markers: entries by the graph they were built from (index.py)
    <root>/compiler/, runtime/ what the compiler backend derives once per root and can
                              always rebuild (DERIVED_DIRS: compiler identities, the
                              fast-call object); ``clear`` deletes them too

An entry directory appears with one atomic ``os.rename`` of a fully written and
fsynced temp dir, so readers never take a lock: they see a whole entry or none.
``meta.json`` is written once; afterwards only ``hits`` changes (one byte appended per
hit, its mtime is the last-used time), so the warm path never rewrites a big file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from . import counters, fsutil
from .entry import (HIT_COUNT_CAP, HITS_NAME, META_NAME, Entry, build_names, inspect_entry,
                    seal)
from .errors import CacheUnavailable, CacheWarning, LockTimeout
from .index import GraphIndexMixin
from .keys import PartValue, describe_key_parts, is_key, make_key
from .locks import KeyLock
from .maintenance import StoreMaintenance

BuildFn = Callable[[Path], "tuple[str | os.PathLike[str], str | os.PathLike[str]]"]


def resolve_cache_dir(flag_value: str | None = None) -> tuple[Path, str]:
    """Where the cache root is and why, as ``(absolute path, reason)``; creates nothing.

    Order: ``flag_value`` (the ``compiledir`` flag), ``$THEANOLITE_CACHE_DIR``,
    ``$XDG_CACHE_HOME/theanolite`` (only if absolute, as the XDG spec says),
    ``~/.cache/theanolite``. Empty values count as unset; ``~`` is expanded.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if flag_value:
        raw, reason = flag_value, "compiledir flag"
    elif os.environ.get("THEANOLITE_CACHE_DIR"):
        raw, reason = os.environ["THEANOLITE_CACHE_DIR"], "$THEANOLITE_CACHE_DIR"
    elif xdg and os.path.isabs(xdg):
        raw, reason = os.path.join(xdg, "theanolite"), "$XDG_CACHE_HOME/theanolite"
    else:
        raw, reason = os.path.join("~", ".cache", "theanolite"), "default ~/.cache/theanolite"
    return Path(os.path.expanduser(raw)).absolute(), reason


def default_cache_dir(flag_value: str | None = None) -> tuple[Path, str]:
    """Choose (``resolve_cache_dir``) and create (mode 0700) the cache root; return
    ``(path, reason)``. An existing directory keeps its mode. Raises CacheUnavailable
    if it cannot be created.
    """
    path, reason = resolve_cache_dir(flag_value)
    try:
        fsutil.make_private_dir(path)
    except OSError as e:
        raise CacheUnavailable(f"cannot create cache dir {path} ({reason}): {e}") from e
    return path, reason


def _require_key(key: str) -> None:
    if not is_key(key):
        raise ValueError(f"not a cache key (64 lowercase hex digits): {key!r}")


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)


class CacheStore(StoreMaintenance, GraphIndexMixin):
    """A cache of compiled modules under ``root`` (see the module docstring).

    Safe for concurrent use by many processes (and threads, each call taking its own
    lock) of one user. ``lookup`` and ``record_hit`` never raise for cache problems
    (they warn and miss); ``publish`` raises CacheUnavailable when the cache cannot take
    the entry. Whole-cache operations (entries, stats, evict, clear, verify,
    cleanup_tmp) come from ``StoreMaintenance``.
    """

    def __init__(self, root: str | os.PathLike[str], lock_timeout: float | None = None) -> None:
        """Open (creating it 0700 if missing) the cache at ``root``. ``lock_timeout``
        is the default wait for a key lock in ``publish``/``remove`` (None: forever,
        e.g. while another process compiles the same key). An unsafe root (not ours,
        group/other-writable) disables the cache with one CacheWarning."""
        self.root = Path(root).absolute()
        self.lock_timeout = lock_timeout
        self._tmp = self.root / "tmp"
        self._locks = self.root / "locks"
        self._quarantine_dir = self.root / "quarantine"
        try:
            fsutil.make_private_dir(self.root)
        except OSError:
            pass  # a read-only cache still serves lookups; publish will say why it fails
        try:
            st = os.stat(self.root)  # the root itself may be a symlink the user made
            self._root_problem = fsutil.unsafe_reason(self.root, st, want_dir=True)
        except OSError as e:
            self._root_problem = f"cache root {self.root} is unusable: {e}"
        if self._root_problem:
            _warn(f"theanolite cache disabled: {self._root_problem}")

    def entry_dir(self, key: str) -> Path:
        """Directory of ``key``'s entry (whether or not it exists)."""
        return self.root / key[:2] / key

    def _lock(self, key: str) -> KeyLock:
        return KeyLock(self._locks / f"{key}.lock")

    # -- the warm path ---------------------------------------------------------------

    def lookup(self, key: str) -> Entry | None:
        """Return the verified entry for ``key``, or None on a miss.

        Constant time: a few lstat calls, one meta.json read, one sha256 of the module;
        no lock, no directory scan. An entry whose directories or files are not owned by
        the current user, are group/other-writable or are symlinks is refused with a
        CacheWarning and left in place. A corrupt entry (module sha256 or size mismatch,
        missing file, broken meta.json) is moved to ``quarantine/`` atomically, with a
        CacheWarning. Raises only ValueError for a malformed key. Every miss adds one
        to the ``misses`` counter (counters.py).
        """
        _require_key(key)
        if self._root_problem:
            return None
        status, found = inspect_entry(self.entry_dir(key), key)
        if status == "ok":
            return found
        if status == "unsafe":
            _warn(f"refusing cache entry {key}: {found}")
        elif status == "corrupt":
            found = self._repair(key, found)
            if found is not None:
                return found
        counters.bump(self.root, "misses")
        return None

    def _repair(self, key: str, reason: str) -> Entry | None:
        """Quarantine a corrupt entry under its lock, unless it was fixed meanwhile."""
        lock = self._lock(key)
        try:
            if not lock.try_acquire():
                _warn(f"cache entry {key} is corrupt ({reason}); another process holds "
                      "its lock and will replace it")
                return None
        except OSError as e:
            _warn(f"cache entry {key} is corrupt ({reason}) and cannot be moved: {e}")
            return None
        try:
            status, found = inspect_entry(self.entry_dir(key), key)  # republished?
            if status == "ok":
                return found
            if status == "corrupt":
                self._quarantine_quietly(key, found)
            elif status == "unsafe":
                _warn(f"refusing cache entry {key}: {found}")
            return None
        finally:
            lock.release()

    def record_hit(self, entry: Entry) -> bool:
        """Count one use of ``entry`` for LRU and stats; return False if it could not.

        Cost: open(O_APPEND) + fstat + a 1-byte write + close, a few microseconds;
        never raises. The count saturates at HIT_COUNT_CAP, after which only the
        last-used time moves.
        """
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(entry.path / HITS_NAME, flags, 0o600)
        except OSError:
            return False
        try:
            if os.fstat(fd).st_size < HIT_COUNT_CAP:
                os.write(fd, b".")
            else:
                os.utime(fd)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)

    # -- publishing ------------------------------------------------------------------

    def publish(self, key: str, key_parts: Mapping[str, PartValue], summary: str,
                build: BuildFn, lock_timeout: float | None = None) -> Entry:
        """Build and publish ``key`` unless another process already has; return the entry.

        ``key`` must equal ``make_key(key_parts)`` (ValueError otherwise). Under the
        per-key lock: an existing valid entry is returned without building; otherwise
        ``build(tmpdir)`` runs in a fresh directory under ``<root>/tmp/`` and returns
        the names (bare, or absolute paths directly inside tmpdir) of the compiled
        module and its C source; anything else it leaves there is scratch and is
        deleted. The store then fixes modes, hashes, writes and fsyncs meta.json, and
        renames the temp dir into place in one step.

        Errors: nothing half-written is ever left. Exceptions from ``build`` propagate
        unchanged, except disk-full/read-only OSErrors, which become CacheUnavailable
        like every failure of the store's own I/O, an unsafe cache directory, or a lock
        wait longer than ``lock_timeout`` (default: the store's; raises LockTimeout, a
        CacheUnavailable).
        """
        _require_key(key)
        if make_key(key_parts) != key:
            raise ValueError("key does not match make_key(key_parts)")
        recorded = describe_key_parts(key_parts)
        lock = self._lock_for_writing(key, lock_timeout)
        try:
            status, found = inspect_entry(self.entry_dir(key), key)
            if status == "ok":
                return found  # built by another process while we waited
            if status != "missing":  # corrupt or foreign: move it out of the way
                self._quarantine_or_fail(key, found)
            self._remove_stale_tmp(key)
            entry = self._build_and_rename(key, recorded, summary, build)
            counters.bump(self.root, "compiles")
            self._index_add(key, recorded)
            return entry
        finally:
            lock.release()

    def _lock_for_writing(self, key: str, lock_timeout: float | None) -> KeyLock:
        """Create tmp/, locks/ and the shard dir, check the shard, take ``key``'s lock
        and return it (held). Raises CacheUnavailable (LockTimeout on a timeout)."""
        if self._root_problem:
            raise CacheUnavailable(self._root_problem)
        lock = self._lock(key)
        shard = self.entry_dir(key).parent
        try:
            for d in (self._tmp, self._locks, shard):
                fsutil.make_private_dir(d)
            why = fsutil.check_path(shard, True)
            if why:
                raise CacheUnavailable(f"unsafe cache directory: {why}")
            lock.acquire(self.lock_timeout if lock_timeout is None else lock_timeout)
        except (LockTimeout, CacheUnavailable):
            raise
        except OSError as e:
            raise CacheUnavailable(f"cannot write to cache {self.root}: {e}") from e
        return lock

    def _build_and_rename(self, key: str, recorded: dict[str, Any], summary: str,
                          build: BuildFn) -> Entry:
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=self._tmp))
        except OSError as e:
            raise CacheUnavailable(f"cannot create a temp dir in {self._tmp}: {e}") from e
        try:
            try:
                names = build(tmp)
            except OSError as e:
                if e.errno in fsutil.CAPACITY_ERRNOS:
                    raise CacheUnavailable(f"cache disk full or read-only: {e}") from e
                raise
            module_name, c_name = build_names(tmp, names)
            try:
                meta = seal(tmp, key, recorded, summary, module_name, c_name)
                os.rename(tmp, self.entry_dir(key))
            except OSError as e:
                raise CacheUnavailable(f"cannot publish cache entry {key}: {e}") from e
        except BaseException:
            fsutil.remove_tree(tmp)  # also on KeyboardInterrupt: leave nothing half-built
            raise
        try:
            fsutil.fsync_path(self.entry_dir(key).parent)  # make the rename durable
        except OSError:
            pass  # the entry is published; durability across a power cut is best effort
        return Entry(key, self.entry_dir(key), meta)

    def _remove_stale_tmp(self, key: str) -> None:
        """Delete tmp/<key>.* left by killed processes (the caller holds the key lock,
        so no live process can be using them)."""
        try:
            with os.scandir(self._tmp) as it:
                stale = [self._tmp / i.name for i in it if i.name.startswith(key + ".")]
        except OSError:
            return  # best effort: cleanup_tmp() retries later
        for path in stale:
            fsutil.remove_tree(path)

    # -- publishing entries built elsewhere (bundle import) ----------------------------

    @contextlib.contextmanager
    def staging_dir(self) -> Iterator[Path]:
        """A fresh private directory under ``tmp/`` (same filesystem as the entries) in
        which to prepare entries for ``adopt``; deleted with whatever is left in it on
        exit. It is named like the build dir of a random pseudo-key whose lock is held
        meanwhile, so ``cleanup_tmp`` reclaims it if this process is killed.
        Raises CacheUnavailable if the cache cannot be written."""
        if self._root_problem:
            raise CacheUnavailable(self._root_problem)
        pseudo = secrets.token_hex(32)
        lock = self._lock(pseudo)
        try:
            for d in (self._tmp, self._locks):
                fsutil.make_private_dir(d)
            lock.acquire(0)
            try:
                path = Path(tempfile.mkdtemp(prefix=f"{pseudo}.", dir=self._tmp))
            except BaseException:
                lock.release(unlink=True)
                raise
        except OSError as e:
            raise CacheUnavailable(f"cannot create a staging dir in {self._tmp}: {e}") from e
        try:
            yield path
        finally:
            fsutil.remove_tree(path)
            lock.release(unlink=True)

    def adopt(self, key: str, staged: Path, lock_timeout: float | None = None) -> Entry | None:
        """Publish ``staged``, a complete entry directory inside a ``staging_dir()``,
        as ``key``'s entry; return it, or None if a valid entry for ``key`` exists
        already (``staged`` is then left alone).

        ``staged`` must hold exactly meta.json (with ``"key": key``), the module and
        the C source it names. Under the key lock, a corrupt or foreign entry in the way
        is quarantined; ``staged`` gets private modes and an empty hits file, and is
        verified in full (sizes and sha256 of module and C source against its
        meta.json) before one atomic rename. Raises ValueError if ``staged`` is not a
        valid entry and CacheUnavailable if the cache cannot take it.
        """
        _require_key(key)
        lock = self._lock_for_writing(key, lock_timeout)
        try:
            status, found = inspect_entry(self.entry_dir(key), key)
            if status == "ok":
                return None
            if status != "missing":
                self._quarantine_or_fail(key, found)
            try:
                self._seal_staged(staged)
            except OSError as e:
                raise CacheUnavailable(f"cannot prepare entry {key}: {e}") from e
            status, found = inspect_entry(staged, key, full=True)
            if status != "ok":
                raise ValueError(f"staged entry {key} is not valid: {found}")
            extra = set(os.listdir(staged)) - {META_NAME, HITS_NAME, found.meta["module"]["name"],
                                               found.meta["c_source"]["name"]}
            if extra:
                raise ValueError(f"staged entry {key} holds unexpected files: {sorted(extra)}")
            try:
                os.rename(staged, self.entry_dir(key))
            except OSError as e:
                raise CacheUnavailable(f"cannot publish cache entry {key}: {e}") from e
            try:
                fsutil.fsync_path(self.entry_dir(key).parent)
            except OSError:
                pass  # published; durability across a power cut is best effort
            self._index_add(key, found.meta.get("key_parts", {}))
            return Entry(key, self.entry_dir(key), found.meta)
        finally:
            lock.release()

    @staticmethod
    def _seal_staged(staged: Path) -> None:
        """Private modes (files 0600, or 0700 if executable), an empty hits file, and
        everything fsynced, as ``entry.seal`` leaves a fresh build."""
        if not os.path.lexists(staged / HITS_NAME):
            fsutil.write_new_file(staged / HITS_NAME, b"")
        with os.scandir(staged) as it:
            files = [i for i in it if i.is_file(follow_symlinks=False)]
        for item in files:
            exec_bit = item.stat(follow_symlinks=False).st_mode & 0o100
            os.chmod(item.path, 0o700 if exec_bit else 0o600)
            fsutil.fsync_path(Path(item.path))
        os.chmod(staged, 0o700)
        fsutil.fsync_path(staged)

    # -- removal ---------------------------------------------------------------------

    def _quarantine(self, key: str, reason: str) -> Path:
        """Atomically move ``key``'s entry to quarantine/ (caller holds the key lock)."""
        fsutil.make_private_dir(self._quarantine_dir)
        dest = self._quarantine_dir / f"{key}.{int(time.time())}.{secrets.token_hex(4)}"
        os.rename(self.entry_dir(key), dest)
        try:
            fsutil.write_new_file(dest / "quarantine-reason.txt", reason.encode() + b"\n")
        except OSError:
            pass  # e.g. the dir belonged to another user; the move is what matters
        return dest

    def _quarantine_quietly(self, key: str, reason: str) -> None:
        try:
            dest = self._quarantine(key, reason)
        except FileNotFoundError:
            return
        except OSError as e:
            _warn(f"cache entry {key} is corrupt ({reason}) but cannot be moved: {e}")
            return
        _warn(f"cache entry {key} is corrupt ({reason}); moved to {dest}, will rebuild")

    def _quarantine_or_fail(self, key: str, reason: str) -> None:
        try:
            dest = self._quarantine(key, reason)
        except OSError as e:
            raise CacheUnavailable(f"cannot move bad entry {key} aside: {e}") from e
        _warn(f"cache entry {key} is unusable ({reason}); moved to {dest}, rebuilding")

    def remove(self, key: str, lock_timeout: float | None = None) -> bool:
        """Delete ``key``'s entry and lock file; return whether there was an entry.

        Waits for the key lock (``lock_timeout``, default the store's; 0 = return
        False at once if busy). The entry is first renamed into tmp/, so a reader sees
        it whole or not at all. Raises CacheUnavailable if the cache is read-only.
        """
        _require_key(key)
        lock = self._lock(key)
        timeout = self.lock_timeout if lock_timeout is None else lock_timeout
        try:
            if timeout == 0:
                if not lock.try_acquire():
                    return False
            else:
                lock.acquire(timeout)
            try:
                d = self.entry_dir(key)
                if not os.path.lexists(d):
                    return False
                fsutil.make_private_dir(self._tmp)
                trash = self._tmp / f"{key}.trash.{secrets.token_hex(4)}"
                os.rename(d, trash)
                fsutil.remove_tree(trash)
                return True
            finally:
                lock.release(unlink=True)
        except LockTimeout:
            raise
        except OSError as e:
            raise CacheUnavailable(f"cannot remove {key} from {self.root}: {e}") from e
