"""Small filesystem helpers for the store: safety checks, hashing, durable writes.

Everything here works on paths the store owns; nothing follows symlinks that could
have been planted inside the cache.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import shutil
import stat
from pathlib import Path

# Errors that mean "this filesystem cannot take more data" rather than a bug.
CAPACITY_ERRNOS = frozenset(
    e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EROFS, errno.EFBIG)
    if e is not None)


def unsafe_reason(path: Path, st: os.stat_result, want_dir: bool) -> str | None:
    """Why ``path`` (with ``lstat`` result ``st``) must not be trusted, or None if safe.

    Safe means: the expected kind (a real directory or a regular file, never a symlink),
    owned by the effective user, and not writable by group or others: anyone else who
    can write there could substitute the compiled code we are about to load.
    """
    if want_dir and not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    if not want_dir and not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    if st.st_uid != os.geteuid():
        return f"{path} is owned by uid {st.st_uid}, not by the current user {os.geteuid()}"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):#o})"
    return None


def check_path(path: Path, want_dir: bool) -> str | None:
    """``unsafe_reason`` of ``path`` via lstat; FileNotFoundError propagates."""
    return unsafe_reason(path, os.lstat(path), want_dir)


def read_file(path: Path) -> bytes:
    """Read a whole file without following a symlink at ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def sha256_file(path: Path) -> str:
    """SHA-256 hex of a file's content (no symlink following)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` (must not exist), write ``data`` and fsync it, mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes) -> bool:
    """Write ``data`` to a private temp file next to ``path`` (mode 0600) and rename it
    over ``path`` in one step; readers see the old file or the new one, never a part.
    Returns False (leaving nothing behind) when it could not: for best-effort records."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a directory fsync makes renames in it durable)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) with mode 0700 if missing; never loosen or tighten
    an existing directory."""
    os.makedirs(path, mode=0o700, exist_ok=True)


def remove_tree(path: Path) -> None:
    """Delete a file or directory tree, ignoring a missing path and later errors
    (used on cleanup paths that must not mask the original exception)."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def tree_size(path: Path) -> int:
    """Total bytes of the regular files directly inside ``path`` (entries are flat)."""
    total = 0
    with os.scandir(path) as it:
        for item in it:
            if item.is_file(follow_symlinks=False):
                total += item.stat(follow_symlinks=False).st_size
    return total
