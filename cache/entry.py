"""The on-disk format of one cache entry: how it is sealed and how it is verified.

An entry directory holds exactly:
  * the compiled module and its C source (names chosen by the builder),
  * ``meta.json``: ``{"format", "key", "key_parts", "summary", "created",
    "module": {"name", "size", "sha256"}, "c_source": {"name", "size", "sha256"}}``,
    written once, never rewritten,
  * ``hits``: one byte per recorded hit; its mtime is the last-used time.
Every directory and file is owned by the user and not group/other-writable.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fsutil

META_NAME = "meta.json"
HITS_NAME = "hits"
META_FORMAT = 1
# The hits file stops growing here; later hits only bump its mtime (count saturates).
HIT_COUNT_CAP = 1 << 16
RESERVED_NAMES = frozenset({META_NAME, HITS_NAME})


@dataclass(frozen=True)
class Entry:
    """A verified cache entry. ``meta`` is the parsed meta.json."""

    key: str
    path: Path
    meta: Mapping[str, Any] = field(repr=False, compare=False)  # keeps Entry hashable

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


def _plain_name(name: object) -> bool:
    return (isinstance(name, str) and name not in RESERVED_NAMES and os.sep not in name
            and name not in ("", ".", ".."))


def _file_records(meta: Any, key: str) -> list[tuple[str, dict[str, Any]]]:
    if meta.get("format") != META_FORMAT or meta.get("key") != key:
        raise ValueError("wrong format version or key")
    out = []
    for role in ("module", "c_source"):
        rec = meta[role]
        if not (_plain_name(rec["name"]) and isinstance(rec["size"], int)
                and isinstance(rec["sha256"], str)):
            raise ValueError(f"bad {role} record")
        out.append((role, rec))
    return out


def read_meta(d: Path) -> Any:
    """The parsed meta.json of the entry directory ``d``. Raises OSError, or ValueError
    for anything that is not JSON, including nesting too deep for the parser (which
    json reports as RecursionError)."""
    data = fsutil.read_file(d / META_NAME)
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("meta.json is nested too deeply") from None


def inspect_entry(d: Path, key: str, full: bool = False) -> tuple[str, Any]:
    """Classify the entry directory ``d`` of ``key`` without changing anything.

    Returns ("ok", Entry) | ("missing", None) | ("unsafe", why) | ("corrupt", why).
    Unsafe (checked before anything is read): the shard or entry dir or a file is not
    ours, is group/other-writable, or is a symlink. Corrupt: meta.json missing or
    invalid, a file missing, a size or module sha256 mismatch (``full``: the C source's
    sha256 too). Never raises for I/O errors: an unreadable entry is corrupt.
    """
    try:
        why = fsutil.check_path(d.parent, True) or fsutil.check_path(d, True)
    except FileNotFoundError:
        return "missing", None
    except OSError as e:
        return "unsafe", f"{d} cannot be checked: {e}"
    if why:
        return "unsafe", why
    try:
        why = fsutil.check_path(d / META_NAME, False)
        if why:
            return "unsafe", why
        meta = read_meta(d)
        files = _file_records(meta, key)
    except FileNotFoundError:
        return "corrupt", "meta.json is missing"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        return "corrupt", f"meta.json is unreadable or invalid: {e}"
    for role, rec in files:
        path = d / rec["name"]
        try:
            st = os.lstat(path)
            why = fsutil.unsafe_reason(path, st, want_dir=False)
            if why:
                return "unsafe", why
            if st.st_size != rec["size"]:
                return "corrupt", f"{role} has {st.st_size} bytes, meta.json says {rec['size']}"
            if (role == "module" or full) and fsutil.sha256_file(path) != rec["sha256"]:
                return "corrupt", f"{role} sha256 does not match meta.json"
        except OSError as e:
            return "corrupt", f"{role} file {rec['name']} is unreadable: {e}"
    return "ok", Entry(key, d, meta)


def build_names(tmp: Path, names: Any) -> tuple[str, str]:
    """Validate what a build function returned: two different regular files directly
    inside ``tmp``, given as bare names or absolute paths. Raises ValueError."""
    out = []
    try:
        for name in names:
            path = Path(os.fspath(name))
            if path.is_absolute() and path.parent == tmp:
                path = Path(path.name)
            out.append(str(path))
        module_name, c_name = out
    except (TypeError, ValueError):
        raise ValueError(f"build must return (module_filename, c_source_filename), "
                         f"got {names!r}") from None
    for name in (module_name, c_name):
        if not _plain_name(name) or not (tmp / name).is_file() or (tmp / name).is_symlink():
            raise ValueError(f"build returned {name!r}: must be a regular file directly "
                             f"inside {tmp}, not named {sorted(RESERVED_NAMES)}")
    if module_name == c_name:
        raise ValueError("module and C source must be different files")
    return module_name, c_name


def seal(tmp: Path, key: str, key_parts: dict[str, Any], summary: str,
         module_name: str, c_name: str) -> dict[str, Any]:
    """Turn a finished build dir into an entry (not yet published) and return its meta.

    Deletes build scratch, sets modes (files 0600, or 0700 if the builder made them
    executable; dir 0700) whatever the umask was, fsyncs the files, writes meta.json
    and an empty hits file, fsyncs the dir. OSError propagates.
    """
    with os.scandir(tmp) as it:
        scratch = [tmp / i.name for i in it if i.name not in (module_name, c_name)]
    for path in scratch:
        fsutil.remove_tree(path)
    records = {}
    for role, name in (("module", module_name), ("c_source", c_name)):
        path = tmp / name
        exec_bit = os.lstat(path).st_mode & stat.S_IXUSR
        os.chmod(path, 0o700 if exec_bit else 0o600)
        fsutil.fsync_path(path)
        records[role] = {"name": name, "size": os.lstat(path).st_size,
                         "sha256": fsutil.sha256_file(path)}
    os.chmod(tmp, 0o700)
    meta = {"format": META_FORMAT, "key": key, "key_parts": key_parts,
            "summary": summary, "created": time.time(), **records}
    fsutil.write_new_file(tmp / META_NAME,
                          json.dumps(meta, indent=1, sort_keys=True).encode("utf-8"))
    fsutil.write_new_file(tmp / HITS_NAME, b"")
    fsutil.fsync_path(tmp)
    return meta


def read_info(d: Path, key: str) -> EntryInfo:
    """Usage record of the entry in ``d`` from meta.json and the hits file (no
    hashing). Raises OSError/ValueError/KeyError/TypeError on a broken entry."""
    meta = read_meta(d)
    created = float(meta["created"])
    try:
        hits_st = os.lstat(d / HITS_NAME)
        last_used, hits = hits_st.st_mtime, hits_st.st_size
    except FileNotFoundError:
        last_used, hits = created, 0
    return EntryInfo(key, d, str(meta.get("summary", "")), fsutil.tree_size(d),
                     created, last_used, hits)
