"""Bundles: cache entries carried to another machine, which needs no compiler to use them.

A bundle is a ``.tar.gz`` (or ``.zip``) archive whose FIRST member is ``manifest.json``::

    {"format": "theanolite-cache-bundle", "version": 1, "created": <epoch seconds>,
     "exporter_platform": "<platform_tag() of the exporting machine>",
     "entries": {"<key>": {"platform": "<platform tag the entry is valid on>",
                           "files": {"meta.json": {"size": n, "sha256": hex},
                                     "<module>": {...}, "<C source>": {...}}}}}

followed by exactly the listed files as ``entries/<key>/<name>`` (regular files only).
An entry's platform tag is the first word of its ``platform`` key part (the backend
records ``platform_tag()`` there, optionally followed by space-separated qualifiers such
as the C library version, which stay in the key), else the exporting machine's
``platform_tag()``. The ``hits`` file is not carried over.

``import_bundle`` trusts nothing in the archive: it reads the manifest, checks every
platform tag, then streams each member into a private staging directory in the cache,
checking its path, type, size and sha256 against the manifest, and finally checks each
staged entry's meta.json and hashes. Any failure raises ``BundleError`` and the staging
directory is deleted: nothing is published. Only then is each entry published with one
atomic rename (``CacheStore.adopt``); entries already present are skipped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import shutil
import stat
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import fsutil
from .entry import META_FORMAT, META_NAME, inspect_entry, read_meta
from .errors import BundleError, CacheError, CacheUnavailable, KeyPrefixError
from .keys import is_key, platform_tag
from .store import CacheStore

BUNDLE_FORMAT = "theanolite-cache-bundle"
BUNDLE_VERSION = 1
MANIFEST_NAME = "manifest.json"
ENTRIES_DIR = "entries"
_MAX_MANIFEST_BYTES = 16 * 2**20
# File names an entry may carry: what a C build produces, nothing a shell or terminal
# could misread (no separators, no control characters, no leading dot or dash).
_FILE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


@dataclass
class ExportReport:
    """What ``export_bundle`` wrote: the bundle path, the exported keys, its size, and
    (when exporting the whole cache) the broken entries left out, with reasons."""

    path: Path
    keys: list[str] = field(default_factory=list)
    size: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportReport:
    """What ``import_bundle`` did: keys published, keys skipped as already present."""

    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def entry_platform(meta: dict[str, Any]) -> str | None:
    """The platform tag of an entry: the first word of its recorded ``platform`` key
    part (``platform_tag()`` contains no spaces), or None if it has none."""
    part = meta.get("key_parts", {}).get("platform")
    value = part.get("value") if isinstance(part, dict) else None
    words = value.split() if isinstance(value, str) else []
    return words[0] if words else None


# -- export ---------------------------------------------------------------------------

def export_bundle(store: CacheStore, path: str | os.PathLike[str],
                  keys: Iterable[str] | None = None, fmt: str | None = None) -> ExportReport:
    """Write the entries ``keys`` (full keys; None: every entry) to a new bundle at
    ``path``; ``fmt`` is ``"tar.gz"`` or ``"zip"`` (default: from the suffix, tar.gz
    unless ``.zip``). Each entry is fully rehashed first. A named key that is missing
    raises KeyPrefixError, a broken one CacheError; without ``keys``, broken entries
    are skipped and reported. The bundle appears atomically (temp file + rename);
    BundleError if it cannot be written."""
    path = Path(path)
    fmt = fmt or ("zip" if path.suffix.lower() == ".zip" else "tar.gz")
    if fmt not in ("tar.gz", "zip"):
        raise ValueError(f"bundle format must be 'tar.gz' or 'zip', got {fmt!r}")
    report = ExportReport(path)
    chosen = list(store.keys()) if keys is None else list(dict.fromkeys(keys))
    manifest: dict[str, Any] = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION,
                                "created": time.time(), "exporter_platform": platform_tag(),
                                "entries": {}}
    files: list[tuple[str, Path, bool]] = []  # (archive name, source, executable)
    for key in chosen:
        try:
            record, entry_files = _collect_entry(store, key)
        except (KeyPrefixError, CacheError) as e:
            if keys is not None:
                raise
            report.skipped[key] = str(e)
            continue
        manifest["entries"][key] = record
        files.extend(entry_files)
        report.keys.append(key)
    try:
        _write_archive(path, fmt, json.dumps(manifest, indent=1, sort_keys=True).encode(),
                       files)
        report.size = os.stat(path).st_size
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as e:
        raise BundleError(f"cannot write bundle {path}: {e}") from e
    return report


def _collect_entry(store: CacheStore, key: str) -> tuple[dict[str, Any],
                                                         list[tuple[str, Path, bool]]]:
    """Manifest record and member list of one verified entry."""
    d = store.entry_dir(key)
    status, found = inspect_entry(d, key, full=True)
    if status == "missing":
        raise KeyPrefixError(f"no cache entry {key} in {store.root}")
    if status != "ok":
        raise CacheError(f"cannot export {key}: {status} entry ({found})")
    meta_bytes = fsutil.read_file(d / META_NAME)
    records = {META_NAME: {"size": len(meta_bytes),
                           "sha256": hashlib.sha256(meta_bytes).hexdigest()}}
    members = [(f"{ENTRIES_DIR}/{key}/{META_NAME}", d / META_NAME, False)]
    for role in ("module", "c_source"):
        rec = found.meta[role]
        if not _FILE_NAME_RE.fullmatch(rec["name"]):
            raise CacheError(f"cannot export {key}: file name {rec['name']!r} is not "
                             "portable")
        records[rec["name"]] = {"size": rec["size"], "sha256": rec["sha256"]}
        executable = bool(os.lstat(d / rec["name"]).st_mode & stat.S_IXUSR)
        members.append((f"{ENTRIES_DIR}/{key}/{rec['name']}", d / rec["name"], executable))
    platform = entry_platform(dict(found.meta)) or platform_tag()
    return {"platform": platform, "files": records}, members


def _write_archive(path: Path, fmt: str, manifest: bytes,
                   files: list[tuple[str, Path, bool]]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            if fmt == "zip":
                _write_zip(f, manifest, files)
            else:
                _write_tar(f, manifest, files)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        fsutil.remove_tree(tmp)
        raise


def _write_tar(f: IO[bytes], manifest: bytes, files: list[tuple[str, Path, bool]]) -> None:
    now = int(time.time())
    with tarfile.open(fileobj=f, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size, info.mode, info.mtime = len(manifest), 0o644, now
        tf.addfile(info, _BytesReader(manifest))
        for name, src, executable in files:
            with open(src, "rb") as fh:
                info = tarfile.TarInfo(name)
                info.size = os.fstat(fh.fileno()).st_size
                info.mode, info.mtime = (0o755 if executable else 0o644), now
                tf.addfile(info, fh)


def _write_zip(f: IO[bytes], manifest: bytes, files: list[tuple[str, Path, bool]]) -> None:
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        members: list[tuple[str, Path | None, bool]] = [(MANIFEST_NAME, None, False), *files]
        for name, src, executable in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            with zf.open(info, "w") as out:
                if src is None:
                    out.write(manifest)
                else:
                    with open(src, "rb") as fh:
                        shutil.copyfileobj(fh, out, _CHUNK)


class _BytesReader:
    """The minimal file object tarfile.addfile reads from."""

    def __init__(self, data: bytes) -> None:
        self._view, self._pos = memoryview(data), 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n < 0 else self._pos + n
        chunk = bytes(self._view[self._pos:end])
        self._pos += len(chunk)
        return chunk


# -- reading archives -----------------------------------------------------------------

@dataclass
class _Member:
    name: str
    kind: str          # "file", "dir", or what else it is ("symlink", "hard link", ...)
    size: int
    executable: bool
    open: Callable[[], IO[bytes]]


_TAR_KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir",
              tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hard link",
              tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device",
              tarfile.FIFOTYPE: "fifo", tarfile.CONTTYPE: "contiguous file",
              tarfile.GNUTYPE_SPARSE: "sparse file"}


def _tar_members(tf: tarfile.TarFile) -> Iterator[_Member]:
    for ti in tf:
        kind = _TAR_KINDS.get(ti.type, f"special member (type {ti.type!r})")

        def opener(ti: tarfile.TarInfo = ti) -> IO[bytes]:
            fh = tf.extractfile(ti)
            if fh is None:  # pragma: no cover - only non-files, which are refused first
                raise BundleError(f"member {ti.name!r} has no data")
            return fh

        yield _Member(ti.name, kind, ti.size, bool(ti.mode & 0o100), opener)


def _zip_members(zf: zipfile.ZipFile) -> Iterator[_Member]:
    for zi in zf.infolist():
        mode = zi.external_attr >> 16
        if zi.flag_bits & 0x1:
            kind = "encrypted file"
        elif stat.S_ISLNK(mode):
            kind = "symlink"
        elif zi.is_dir() or stat.S_ISDIR(mode):
            kind = "dir"
        elif stat.S_IFMT(mode) == 0 or stat.S_ISREG(mode):  # no type: a plain zipper
            kind = "file"
        else:
            kind = f"special member (mode {mode:#o})"
        yield _Member(zi.filename, kind, zi.file_size, bool(mode & 0o100),
                      lambda zi=zi: zf.open(zi))


_READ_ERRORS = (OSError, EOFError, zlib.error, tarfile.TarError, zipfile.BadZipFile,
                RuntimeError, NotImplementedError, UnicodeError, ValueError)


def _unreadable(path: Path, e: BaseException) -> BundleError:
    return BundleError(f"cannot read bundle {path}: {type(e).__name__}: {e}")


@contextmanager
def _open_archive(path: Path) -> Iterator[Iterator[_Member]]:
    """Yield the members of a zip or tar (any compression) bundle, in archive order.
    Opening errors and damage found while iterating raise BundleError."""
    if not path.is_file():
        raise BundleError(f"cannot read bundle {path}: not a file")
    try:
        if zipfile.is_zipfile(path):
            archive: Any = zipfile.ZipFile(path)
            members = _zip_members(archive)
        else:
            archive = tarfile.open(path, "r:*")
            members = _tar_members(archive)
    except tarfile.ReadError as e:
        raise BundleError(f"cannot read bundle {path}: not a tar or zip archive ({e})") from e
    except _READ_ERRORS as e:
        raise _unreadable(path, e) from e
    with archive:
        yield _guarded(path, members)


def _guarded(path: Path, members: Iterator[_Member]) -> Iterator[_Member]:
    while True:
        try:
            member = next(members)
        except StopIteration:
            return
        except _READ_ERRORS as e:
            raise _unreadable(path, e) from e
        yield member


# -- import ---------------------------------------------------------------------------

def import_bundle(store: CacheStore, path: str | os.PathLike[str]) -> ImportReport:
    """Verify the whole bundle at ``path``, then publish its entries into ``store``.

    Refused with BundleError, before anything is published: an unreadable archive, a
    malformed manifest (or one that is not the first member), an entry whose platform
    tag is not this machine's ``platform_tag()``, a member with an absolute path or a
    ``..`` component, a symlink, hard link, device or other non-regular member, a
    file not listed in the manifest (or listed but absent, or present twice), a size
    or sha256 mismatch, or an entry whose meta.json does not match its files. Then
    each entry is published atomically; one already in the cache is skipped (counted).
    Needs no compiler. CacheUnavailable if the cache cannot be written.
    """
    path = Path(path)
    report = ImportReport()
    with _open_archive(path) as members:
        first = next(members, None)
        if first is None or first.name != MANIFEST_NAME or first.kind != "file":
            raise BundleError(f"bundle {path} is malformed: {MANIFEST_NAME} must be its "
                              "first member; nothing imported")
        manifest = _parse_manifest(_read_member(path, first, _MAX_MANIFEST_BYTES))
        here = platform_tag()
        for key, rec in manifest.items():
            if rec["platform"] != here:
                raise BundleError(
                    f"bundle entry {key[:12]} was built for platform {rec['platform']!r}, "
                    f"but this machine is {here!r}; nothing imported")
        with store.staging_dir() as staging:
            seen: set[str] = set()
            try:
                for member in members:
                    _stage_member(path, member, manifest, staging, seen)
            except OSError as e:  # reads are BundleErrors by now: this is our disk
                raise CacheUnavailable(f"cannot stage bundle in {store.root}: {e}") from e
            for key, rec in manifest.items():
                absent = sorted(n for n in rec["files"] if f"{key}/{n}" not in seen)
                if absent:
                    listed = ", ".join(f"{ENTRIES_DIR}/{key}/{n}" for n in absent)
                    raise BundleError(f"bundle {path} lacks files its manifest lists: "
                                      f"{listed}; nothing imported")
                _check_staged_entry(staging / key, key, rec)
            for key in manifest:  # everything verified: now publish, one rename each
                entry = store.adopt(key, staging / key)
                (report.imported if entry is not None else report.skipped).append(key)
    return report


def _fail(what: str) -> BundleError:
    return BundleError(f"malformed bundle manifest: {what}; nothing imported")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _fail(f"duplicate field {k!r}")
        out[k] = v
    return out


def _parse_manifest(data: bytes) -> dict[str, dict[str, Any]]:
    """Validated ``entries`` of a manifest, in sorted key order (BundleError if not)."""
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise _fail("not JSON (nested too deeply)") from None
    except (UnicodeError, ValueError) as e:
        if isinstance(e, BundleError):
            raise
        raise _fail(f"not JSON ({e})") from e
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        raise _fail(f"'format' is not {BUNDLE_FORMAT!r}")
    if doc.get("version") != BUNDLE_VERSION:
        raise _fail(f"unsupported version {doc.get('version')!r} (this theanolite reads "
                    f"version {BUNDLE_VERSION})")
    entries = doc.get("entries")
    if not isinstance(entries, dict):
        raise _fail("'entries' is not an object")
    for key, rec in entries.items():
        if not is_key(key):
            raise _fail(f"{key!r} is not a cache key")
        if not isinstance(rec, dict) or not isinstance(rec.get("platform"), str) \
                or not rec["platform"] or not isinstance(rec.get("files"), dict):
            raise _fail(f"entry {key[:12]} needs a 'platform' string and a 'files' object")
        files = rec["files"]
        if META_NAME not in files or len(files) != 3:
            raise _fail(f"entry {key[:12]} must list meta.json, a module and a C source")
        for name, f in files.items():
            if not _FILE_NAME_RE.fullmatch(name):
                raise _fail(f"entry {key[:12]} lists a bad file name {name!r}")
            if not (isinstance(f, dict) and type(f.get("size")) is int and f["size"] >= 0
                    and isinstance(f.get("sha256"), str)
                    and _HEX64_RE.fullmatch(f["sha256"])):
                raise _fail(f"entry {key[:12]} file {name!r} needs an integer 'size' and "
                            "a hex 'sha256'")
    return {k: entries[k] for k in sorted(entries)}


def _member_parts(path: Path, name: str) -> list[str]:
    """The components of a member name; BundleError on anything that could land
    outside the staging dir (absolute, ``..``, backslashes, NUL, empty components)."""
    bare = name[:-1] if name.endswith("/") else name
    parts = bare.split("/")
    if (name.startswith("/") or "\\" in name or "\x00" in name or not bare
            or any(p in ("", ".", "..") for p in parts) or re.match(r"[A-Za-z]:", name)):
        raise BundleError(f"bundle {path} refused: unsafe member path {name!r} (absolute "
                          "or leaving the bundle); nothing imported")
    return parts


def _listed(parts: list[str], kind: str, manifest: dict[str, dict[str, Any]]) -> bool:
    """Whether a member is the ``entries/`` dir, a listed entry's dir, or a listed file."""
    if parts[0] != ENTRIES_DIR:
        return False
    if len(parts) == 1:
        return kind == "dir"
    if parts[1] not in manifest:
        return False
    if len(parts) == 2:
        return kind == "dir"
    return len(parts) == 3 and kind == "file" and parts[2] in manifest[parts[1]]["files"]


def _stage_member(path: Path, member: _Member, manifest: dict[str, dict[str, Any]],
                  staging: Path, seen: set[str]) -> None:
    """Check one member and, if it is a listed file, copy it into ``staging/<key>/``
    while hashing it."""
    parts = _member_parts(path, member.name)
    if member.kind not in ("file", "dir"):
        raise BundleError(f"bundle {path} refused: member {member.name!r} is a "
                          f"{member.kind}; only regular files are allowed; nothing imported")
    if not _listed(parts, member.kind, manifest):
        raise BundleError(f"bundle {path} refused: {member.name!r} is not listed in its "
                          "manifest; nothing imported")
    if member.kind == "dir":
        return
    key, name = parts[1], parts[2]
    if f"{key}/{name}" in seen:
        raise BundleError(f"bundle {path} refused: {member.name!r} appears twice; "
                          "nothing imported")
    seen.add(f"{key}/{name}")
    want = manifest[key]["files"][name]
    if member.size != want["size"]:
        raise BundleError(f"bundle {path} refused: {member.name!r} has {member.size} "
                          f"bytes, the manifest says {want['size']}; nothing imported")
    fsutil.make_private_dir(staging / key)
    digest = _copy_member(path, member, staging / key / name, want["size"])
    if digest != want["sha256"]:
        raise BundleError(f"bundle {path} refused: sha256 of {member.name!r} does not "
                          "match the manifest; nothing imported")


def _read_member(path: Path, member: _Member, limit: int) -> bytes:
    if member.size > limit:
        raise BundleError(f"bundle {path} refused: {member.name!r} is too large "
                          f"({member.size} bytes)")
    try:
        with member.open() as fh:
            data = fh.read(limit + 1)
    except _READ_ERRORS as e:
        raise _unreadable(path, e) from e
    if len(data) > limit:
        raise BundleError(f"bundle {path} refused: {member.name!r} is too large")
    return data


def _copy_member(path: Path, member: _Member, dest: Path, size: int) -> str:
    """Copy at most ``size + 1`` bytes (a lying header cannot make us write more) into
    a new private file; return the sha256 of what was read. BundleError if the data
    is not exactly ``size`` bytes."""
    h, written = hashlib.sha256(), 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fh = member.open()
    except _READ_ERRORS as e:
        raise _unreadable(path, e) from e
    # Writes may raise OSError (disk full): the caller reports that as the cache's
    # problem, not the bundle's, so only the reads are converted here.
    with fh, os.fdopen(os.open(dest, flags, 0o700 if member.executable else 0o600),
                       "wb") as out:
        while written <= size:
            try:
                chunk = fh.read(min(_CHUNK, size + 1 - written))
            except _READ_ERRORS as e:
                raise _unreadable(path, e) from e
            if not chunk:
                break
            h.update(chunk)
            out.write(chunk)
            written += len(chunk)
    if written != size:
        raise BundleError(f"bundle {path} refused: {member.name!r} holds "
                          f"{'more' if written > size else 'fewer'} bytes than its header "
                          "says; nothing imported")
    return h.hexdigest()


def _check_staged_entry(d: Path, key: str, rec: dict[str, Any]) -> None:
    """The staged entry's meta.json must describe exactly its files, for ``key``, on
    the manifest's platform, with sizes and sha256s that match (inspect_entry)."""
    def refuse(why: str) -> BundleError:
        return BundleError(f"bundle entry {key[:12]} refused: {why}; nothing imported")

    try:
        meta = read_meta(d)  # a too deeply nested one is a ValueError too
    except (OSError, ValueError) as e:
        raise refuse(f"meta.json is not JSON ({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != META_FORMAT or meta.get("key") != key:
        raise refuse("meta.json has the wrong format version or key")
    try:
        names = {META_NAME, meta["module"]["name"], meta["c_source"]["name"]}
        created = float(meta["created"])
    except (KeyError, TypeError, ValueError) as e:
        raise refuse(f"meta.json lacks a field ({e})") from e
    if names != set(rec["files"]):
        raise refuse("meta.json names other files than the manifest lists")
    if not (isinstance(meta.get("summary"), str) and isinstance(meta.get("key_parts"), dict)
            and math.isfinite(created)):
        raise refuse("meta.json has a bad summary, key_parts or created time")
    recorded = entry_platform(meta)
    if recorded is not None and recorded != rec["platform"]:
        raise refuse(f"meta.json says platform {recorded!r}, the manifest says "
                     f"{rec['platform']!r}")
    status, found = inspect_entry(d, key, full=True)
    if status != "ok":
        raise refuse(f"{status}: {found}")
