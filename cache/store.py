"""The on-disk store of compiled modules.

Layout under a root (created 0700)::

    <root>/<key[:2]>/<key>/   one entry: module, C source, meta.json, hits
    <root>/locks/<key>.lock   per-key flock files (see locks.py)
    <root>/tmp/<key>.*        builds in progress and entries being deleted
    <root>/quarantine/<key>.* entries that failed verification, kept for inspection

An entry directory appears with one atomic ``os.rename`` of a fully written and
fsynced temp dir, so readers never need a lock: they see a whole entry or none.
``meta.json`` is written once; the only file that changes afterwards is ``hits``
(one byte appended per hit, its mtime is the last-used time), so the warm path never
rewrites anything big.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fsutil
from .errors import CacheUnavailable, CacheWarning
from .keys import PartValue, describe_key_parts, is_key, make_key
from .locks import KeyLock

META_NAME = "meta.json"
HITS_NAME = "hits"
META_FORMAT = 1
# The hits file stops growing here; later hits only bump its mtime (count saturates).
HIT_COUNT_CAP = 1 << 16
_RESERVED = frozenset({META_NAME, HITS_NAME})

BuildFn = Callable[[Path], "tuple[str, str]"]


@dataclass(frozen=True)
class Entry:
    """A verified cache entry. ``meta`` is the parsed meta.json."""

    key: str
    path: Path
    meta: Mapping[str, Any] = field(repr=False)

    @property
    def module_path(self) -> Path:
        """Absolute path of the compiled module, verified against meta.json's sha256."""
        return self.path / self.meta["module"]["name"]

    @property
    def c_source_path(self) -> Path:
        return self.path / self.meta["c_source"]["name"]

    @property
    def summary(self) -> str:
        return str(self.meta.get("summary", ""))


@dataclass(frozen=True)
class EntryInfo:
    """Usage record of one entry (from ``entries()``), for LRU and ``stats``."""

    key: str
    path: Path
    summary: str
    size: int          # bytes of all files in the entry directory
    created: float     # epoch seconds
    last_used: float   # epoch seconds: mtime of the hits file
    hits: int          # saturates at HIT_COUNT_CAP


@dataclass
class VerifyReport:
    """Result of ``verify()``: key lists per outcome, reasons for the bad ones."""

    ok: list[str] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)
    unsafe: dict[str, str] = field(default_factory=dict)
    busy: list[str] = field(default_factory=list)


def default_cache_dir(flag_value: str | None = None) -> tuple[Path, str]:
    """Choose and create (mode 0700) the cache root; return ``(path, reason)``.

    Order: ``flag_value`` (the ``compiledir`` flag), ``$THEANOLITE_CACHE_DIR``,
    ``$XDG_CACHE_HOME/theanolite`` (only if absolute, as the XDG spec says),
    ``~/.cache/theanolite``. Empty values count as unset; ``~`` is expanded. An existing
    directory keeps its mode. Raises CacheUnavailable if it cannot be created.
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
    path = Path(os.path.expanduser(raw)).absolute()
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


class CacheStore:
    """A cache of compiled modules under ``root`` (see the module docstring).

    Safe for concurrent use by many processes of one user. ``lookup`` and
    ``record_hit`` never raise for cache problems (they warn and miss); ``publish``
    raises CacheUnavailable when the cache cannot take the entry.
    """

    def __init__(self, root: str | os.PathLike[str], lock_timeout: float | None = None) -> None:
        """``lock_timeout``: default wait for a key lock in ``publish``/``remove``
        (None waits forever, e.g. while another process compiles the same key)."""
        self.root = Path(root).absolute()
        self.lock_timeout = lock_timeout
        self._tmp = self.root / "tmp"
        self._locks = self.root / "locks"
        self._quarantine = self.root / "quarantine"
        try:
            fsutil.make_private_dir(self.root)
        except OSError:
            pass  # a read-only cache still serves lookups; publish will say why it fails
        try:
            self._root_problem = fsutil.unsafe_reason(
                self.root, os.stat(self.root), want_dir=True)
        except OSError as e:
            self._root_problem = f"cache root {self.root} is unusable: {e}"
        if self._root_problem:
            _warn(f"theanolite cache disabled: {self._root_problem}")

    # -- paths -----------------------------------------------------------------------

    def entry_dir(self, key: str) -> Path:
        """Directory of ``key``'s entry (whether or not it exists)."""
        return self.root / key[:2] / key

    def _lock(self, key: str) -> KeyLock:
        return KeyLock(self._locks / f"{key}.lock")

    # -- reading ---------------------------------------------------------------------

    def lookup(self, key: str) -> Entry | None:
        """Return the verified entry for ``key``, or None on a miss.

        Constant time: a few lstat calls, one meta.json read, one sha256 of the module.
        An entry whose directories or files are not owned by the current user, are
        group/other-writable or are symlinks is refused with a CacheWarning and left in
        place. A corrupt entry (module hash or size mismatch, missing file, broken
        meta.json) is moved to ``quarantine/`` atomically, with a CacheWarning. Raises
        only ValueError for a malformed key.
        """
        _require_key(key)
        if self._root_problem:
            return None
        status, found = self._inspect(key)
        if status == "ok":
            return found  # type: ignore[return-value]
        if status == "unsafe":
            _warn(f"refusing cache entry {key}: {found}")
        elif status == "corrupt":
            return self._repair(key, str(found))
        return None

    def _repair(self, key: str, reason: str) -> Entry | None:
        """Quarantine a corrupt entry under its lock, unless it was fixed meanwhile."""
        lock = self._lock(key)
        try:
            if not lock.try_acquire():
                _warn(f"cache entry {key} is corrupt ({reason}); it is being rebuilt "
                      "by another process")
                return None
        except OSError as e:
            _warn(f"cache entry {key} is corrupt ({reason}) and the cache is read-only: {e}")
            return None
        try:
            status, found = self._inspect(key)  # re-check: someone may have republished
            if status == "ok":
                return found  # type: ignore[return-value]
            if status == "corrupt":
                self._quarantine_quietly(key, str(found))
            elif status == "unsafe":
                _warn(f"refusing cache entry {key}: {found}")
            return None
        finally:
            lock.release()

    def _inspect(self, key: str, full: bool = False) -> tuple[str, Entry | str | None]:
        """Classify an entry: ("ok", Entry) | ("missing", None) | ("unsafe", why) |
        ("corrupt", why). ``full`` also rehashes the C source."""
        d = self.entry_dir(key)
        try:
            why = fsutil.check_path(d.parent, True) or fsutil.check_path(d, True)
        except FileNotFoundError:
            return "missing", None
        if why:
            return "unsafe", why
        try:
            why = fsutil.check_path(d / META_NAME, False)
            if why:
                return "unsafe", why
            meta = json.loads(fsutil.read_file(d / META_NAME))
            files = self._meta_files(meta, key)
        except FileNotFoundError:
            return "corrupt", "meta.json is missing"
        except (ValueError, KeyError, TypeError) as e:
            return "corrupt", f"meta.json is invalid: {e}"
        for role, rec in files:
            path = d / rec["name"]
            try:
                why = fsutil.check_path(path, False)
                st = os.lstat(path)
            except FileNotFoundError:
                return "corrupt", f"{role} file {rec['name']} is missing"
            if why:
                return "unsafe", why
            if st.st_size != rec["size"]:
                return "corrupt", f"{role} has {st.st_size} bytes, meta.json says {rec['size']}"
            if (role == "module" or full) and fsutil.sha256_file(path) != rec["sha256"]:
                return "corrupt", f"{role} sha256 does not match meta.json"
        return "ok", Entry(key, d, meta)

    @staticmethod
    def _meta_files(meta: Any, key: str) -> list[tuple[str, dict[str, Any]]]:
        if meta.get("format") != META_FORMAT or meta.get("key") != key:
            raise ValueError("wrong format version or key")
        out = []
        for role in ("module", "c_source"):
            rec = meta[role]
            name = rec["name"]
            if (not isinstance(name, str) or name in _RESERVED or os.sep in name
                    or name in ("", ".", "..") or not isinstance(rec["size"], int)
                    or not isinstance(rec["sha256"], str)):
                raise ValueError(f"bad {role} record")
            out.append((role, rec))
        return out

    def record_hit(self, entry: Entry) -> bool:
        """Count one use of ``entry`` for LRU and stats; return False if it could not.

        Cost: one open(O_APPEND), one fstat, one 1-byte write, one close (a few
        microseconds); never raises. The count saturates at HIT_COUNT_CAP, after which
        only the last-used time moves.
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
        the file names (relative to tmpdir) of the compiled module and its C source;
        anything else it leaves there is scratch and is deleted. The store then fixes
        modes (0600/0700), hashes, writes and fsyncs meta.json, and renames the temp dir
        into place in one step.

        Errors: nothing half-written is ever left. Exceptions from ``build`` propagate
        unchanged, except disk-full/read-only OSErrors, which become CacheUnavailable
        like every failure of the store's own I/O or a lock wait longer than
        ``lock_timeout`` (default: the store's).
        """
        _require_key(key)
        if make_key(key_parts) != key:
            raise ValueError("key does not match make_key(key_parts)")
        recorded = describe_key_parts(key_parts)
        if self._root_problem:
            raise CacheUnavailable(self._root_problem)
        lock = self._lock(key)
        try:
            for d in (self._tmp, self._locks, self.entry_dir(key).parent):
                fsutil.make_private_dir(d)
            lock.acquire(self.lock_timeout if lock_timeout is None else lock_timeout)
        except OSError as e:
            raise CacheUnavailable(f"cannot write to cache {self.root}: {e}") from e
        try:
            status, found = self._inspect(key)
            if status == "ok":
                return found  # type: ignore[return-value]
            if status != "missing":  # corrupt or foreign: move it out of the way
                self._quarantine_or_fail(key, str(found))
            self._remove_stale_tmp(key)
            return self._build_and_rename(key, recorded, summary, build)
        finally:
            lock.release()

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
            module_name, c_name = self._check_build_names(tmp, names)
            try:
                meta = self._seal(tmp, key, recorded, summary, module_name, c_name)
                os.rename(tmp, self.entry_dir(key))
            except OSError as e:
                raise CacheUnavailable(f"cannot publish cache entry {key}: {e}") from e
        except BaseException:
            fsutil.remove_tree(tmp)
            raise
        try:
            fsutil.fsync_path(self.entry_dir(key).parent)  # make the rename durable
        except OSError:
            pass  # the entry is published; durability across a crash is best effort
        return Entry(key, self.entry_dir(key), meta)

    @staticmethod
    def _check_build_names(tmp: Path, names: Any) -> tuple[str, str]:
        try:
            module_name, c_name = (os.fspath(n) for n in names)
        except (TypeError, ValueError):
            raise ValueError(f"build must return (module_filename, c_source_filename), "
                             f"got {names!r}") from None
        for name in (module_name, c_name):
            if (os.sep in name or name in _RESERVED or name in ("", ".", "..")
                    or not (tmp / name).is_file() or (tmp / name).is_symlink()):
                raise ValueError(f"build returned {name!r}: must name a regular file "
                                 f"directly inside the build dir, not {sorted(_RESERVED)}")
        if module_name == c_name:
            raise ValueError("module and C source must be different files")
        return module_name, c_name

    def _seal(self, tmp: Path, key: str, recorded: dict[str, Any], summary: str,
              module_name: str, c_name: str) -> dict[str, Any]:
        """Turn a build dir into an entry: drop scratch, fix modes, hash, write meta."""
        with os.scandir(tmp) as it:
            scratch = [tmp / i.name for i in it if i.name not in (module_name, c_name)]
        for path in scratch:
            fsutil.remove_tree(path)
        records = {}
        for role, name in (("module", module_name), ("c_source", c_name)):
            path = tmp / name
            # Whatever the umask, an entry must pass lookup's ownership/mode check.
            exec_bit = os.lstat(path).st_mode & stat.S_IXUSR
            os.chmod(path, 0o700 if exec_bit else 0o600)
            fsutil.fsync_path(path)
            records[role] = {"name": name, "size": os.lstat(path).st_size,
                             "sha256": fsutil.sha256_file(path)}
        os.chmod(tmp, 0o700)
        meta = {"format": META_FORMAT, "key": key, "key_parts": recorded,
                "summary": summary, "created": time.time(), **records}
        fsutil.write_new_file(tmp / META_NAME,
                              json.dumps(meta, indent=1, sort_keys=True).encode("utf-8"))
        fsutil.write_new_file(tmp / HITS_NAME, b"")
        fsutil.fsync_path(tmp)
        return meta

    # -- removal ---------------------------------------------------------------------

    def _quarantine(self, key: str, reason: str) -> Path:
        """Atomically move ``key``'s entry to quarantine/ (caller holds the key lock)."""
        fsutil.make_private_dir(self._quarantine)
        dest = self._quarantine / f"{key}.{int(time.time())}.{secrets.token_hex(4)}"
        os.rename(self.entry_dir(key), dest)
        try:
            fsutil.write_new_file(dest / "quarantine-reason.txt", reason.encode() + b"\n")
        except OSError:
            pass  # e.g. the entry dir belonged to someone else; the move is what matters
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

    def _remove_stale_tmp(self, key: str) -> None:
        """Delete tmp/<key>.* left by killed processes (caller holds the key lock, so
        no live process can be using them)."""
        with os.scandir(self._tmp) as it:
            stale = [self._tmp / i.name for i in it if i.name.startswith(key + ".")]
        for path in stale:
            fsutil.remove_tree(path)

    def _remove_locked(self, key: str) -> bool:
        d = self.entry_dir(key)
        if not os.path.lexists(d):
            return False
        fsutil.make_private_dir(self._tmp)
        trash = self._tmp / f"{key}.trash.{secrets.token_hex(4)}"
        os.rename(d, trash)  # readers see the whole entry or nothing, never a half-deleted one
        fsutil.remove_tree(trash)
        return True

    def remove(self, key: str, lock_timeout: float | None = None) -> bool:
        """Delete ``key``'s entry; return whether there was one. Waits for the key lock
        (``lock_timeout``, default the store's; 0 = skip if busy, returning False)."""
        _require_key(key)
        lock = self._lock(key)
        timeout = self.lock_timeout if lock_timeout is None else lock_timeout
        if timeout == 0:
            if not lock.try_acquire():
                return False
        else:
            lock.acquire(timeout)
        try:
            return self._remove_locked(key)
        finally:
            lock.release(unlink=True)

    # -- maintenance (CLI, eviction) -------------------------------------------------

    def keys(self) -> Iterator[str]:
        """Keys of every entry directory on disk, valid or not (a directory scan)."""
        try:
            shards = sorted(p.name for p in os.scandir(self.root) if p.is_dir()
                            and len(p.name) == 2 and is_key(p.name * 32))
        except FileNotFoundError:
            return
        for shard in shards:
            with os.scandir(self.root / shard) as it:
                names = sorted(i.name for i in it)
            yield from (n for n in names if is_key(n) and n[:2] == shard)

    def entries(self) -> list[EntryInfo]:
        """Usage records of every readable entry (no rehashing), in key order."""
        out = []
        for key in self.keys():
            d = self.entry_dir(key)
            try:
                meta = json.loads(fsutil.read_file(d / META_NAME))
                size = fsutil.tree_size(d)
                created = float(meta["created"])
                try:
                    hits_st = os.lstat(d / HITS_NAME)
                    last_used, hits = hits_st.st_mtime, hits_st.st_size
                except FileNotFoundError:
                    last_used, hits = created, 0
            except (OSError, ValueError, KeyError, TypeError):
                continue  # broken or vanished: verify() reports those
            out.append(EntryInfo(key, d, str(meta.get("summary", "")), size,
                                 created, last_used, hits))
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
                "quarantined": count(self._quarantine), "tmp": count(self._tmp),
                "last_used": max((i.last_used for i in infos), default=None)}

    def evict(self, max_bytes: int) -> list[str]:
        """Delete least-recently-used entries until the total is at most ``max_bytes``;
        entries whose key lock is held (being published/verified) are skipped. Returns
        the removed keys, oldest first."""
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
        """Delete every entry not busy, the quarantine and stale temp dirs; return the
        number of entries deleted."""
        removed = sum(self.remove(key, lock_timeout=0) for key in list(self.keys()))
        fsutil.remove_tree(self._quarantine)
        self.cleanup_tmp()
        return removed

    def verify(self) -> VerifyReport:
        """Rehash every entry's module and C source; quarantine the corrupt ones."""
        report = VerifyReport()
        for key in list(self.keys()):
            status, found = self._inspect(key, full=True)
            if status == "ok":
                report.ok.append(key)
            elif status == "unsafe":
                report.unsafe[key] = str(found)
            elif status == "corrupt":
                lock = self._lock(key)
                if not lock.try_acquire():
                    report.busy.append(key)
                    continue
                try:
                    status, found = self._inspect(key, full=True)
                    if status == "corrupt":
                        self._quarantine(key, str(found))
                        report.quarantined[key] = str(found)
                    elif status == "ok":
                        report.ok.append(key)
                finally:
                    lock.release()
        return report

    def cleanup_tmp(self) -> list[str]:
        """Delete temp dirs whose owner process is dead, and lock files of keys with no
        entry. "Dead" is proven by taking the key lock, which a live builder holds.
        Returns the names removed."""
        removed = []
        for sub, key_of in ((self._tmp, lambda n: n.split(".", 1)[0]),
                            (self._locks, lambda n: n.removesuffix(".lock"))):
            try:
                names = sorted(os.listdir(sub))
            except OSError:
                continue
            for name in names:
                key = key_of(name)
                if not is_key(key):
                    continue
                lock = self._lock(key)
                if not lock.try_acquire():
                    continue
                orphan_lock = not os.path.lexists(self.entry_dir(key))
                if sub == self._tmp:
                    fsutil.remove_tree(sub / name)
                    removed.append(name)
                elif orphan_lock:
                    removed.append(name)
                lock.release(unlink=orphan_lock)
        return removed
