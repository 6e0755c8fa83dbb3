"""Per-key lock files built on ``fcntl.flock``.

Why flock: the kernel drops the lock when the last descriptor of the open file is
closed, which includes the death of the process (even by SIGKILL). So there is no
stale lock and no "unlock" command, ever; the lock *file* may stay on disk, but an
unlocked file means nothing.

Contract:
  * ``KeyLock(path)`` is an exclusive, non-reentrant lock. flock locks belong to the
    open file description: a second ``KeyLock`` on the same path in the same process
    conflicts with the first (tests rely on it), and a child created by ``fork`` while
    the lock is held shares it until it exits or execs (descriptors are O_CLOEXEC).
  * ``acquire(timeout=None)`` blocks; with a timeout it polls and raises ``LockTimeout``;
    ``try_acquire()`` never waits.
  * A holder may delete the lock file (``release(unlink=True)``); waiters that locked
    the unlinked inode notice and retry on the new file, so deleting never lets two
    processes hold the same key.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from .errors import LockTimeout

_POLL_MIN = 0.001   # seconds; doubled up to _POLL_MAX while waiting with a timeout
_POLL_MAX = 0.05


class KeyLock:
    """Exclusive flock on one lock file; usable as a context manager."""

    def __init__(self, path: str | os.PathLike[str], timeout: float | None = None) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self, timeout: float | None = None) -> None:
        """Take the lock, waiting at most ``timeout`` seconds (None: wait forever).

        Raises ``LockTimeout`` when the wait runs out and ``OSError`` when the lock file
        cannot be created (read-only or full disk). Re-acquiring a held lock is a bug.
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this KeyLock")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            fd = self._open()
            try:
                self._wait(fd, deadline)
                if self._is_current(fd):
                    self._fd = fd
                    return
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # we locked a file that a holder has since unlinked: retry

    def try_acquire(self) -> bool:
        """Take the lock if it is free right now; return whether it was taken."""
        try:
            self.acquire(timeout=0)
        except LockTimeout:
            return False
        return True

    def release(self, unlink: bool = False) -> None:
        """Release the lock; with ``unlink``, delete the lock file first (while held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if unlink:
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass
        finally:
            os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> "KeyLock":
        self.acquire(self.timeout)
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    # -- internals -------------------------------------------------------------------

    def _open(self) -> int:
        # O_NOFOLLOW: a planted symlink must not make us create or lock another file.
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        return os.open(self.path, flags, 0o600)

    def _wait(self, fd: int, deadline: float | None) -> None:
        if deadline is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        pause = _POLL_MIN
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockTimeout(f"lock {self.path} is held by another process") from None
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, _POLL_MAX)

    def _is_current(self, fd: int) -> bool:
        try:
            on_disk = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


# -- "in use" marks: shared flocks that keep an entry from being evicted ------------------
#
# A process that loads an entry's module holds a shared flock on one of the entry's
# files for as long as it lives (modules are never unloaded); ``unless_held`` in any
# process yields False while another process holds it. The kernel drops the flocks of a
# dead process, so a crash leaves no stale mark.

MAX_HOLDS = 256  # descriptors a process spends on holds; beyond, files are used unheld
_HOLDS: dict[str, int] = {}  # this process's holds: path -> descriptor


def _same_file(fd: int, path: str) -> bool:
    try:
        mine, now = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def hold_shared(path: str | os.PathLike[str]) -> bool:
    """Mark the file at ``path`` in use by this process until it exits (a shared flock,
    never waiting). Returns True if the file is there: held, or used unheld once this
    process holds MAX_HOLDS files; False if it is missing, being deleted (``unless_held``
    has it) or replaced meanwhile (the caller should look it up again)."""
    key = os.fspath(path)
    old = _HOLDS.get(key)
    if old is not None:
        if _same_file(old, key):
            return True
        os.close(_HOLDS.pop(key))  # the file was replaced: hold the new one
    if len(_HOLDS) >= MAX_HOLDS:
        return os.path.lexists(key)
    try:
        fd = os.open(key, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        if _same_file(fd, key):
            _HOLDS[key] = fd
            return True
    except OSError:
        pass
    os.close(fd)
    return False


@contextlib.contextmanager
def unless_held(path: str | os.PathLike[str]) -> Iterator[bool]:
    """Yield True if no *other* process holds ``path`` (``hold_shared``), keeping an
    exclusive flock on it (if it exists) for the whole block so that nobody can start
    holding it meanwhile; yield False if another process holds it (or it cannot be
    checked). This process's own hold does not count: it becomes the exclusive lock
    for the block, and a shared hold again afterwards."""
    key = os.fspath(path)
    own = _HOLDS.get(key)
    if own is not None and _same_file(own, key):
        try:
            fcntl.flock(own, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            # Held elsewhere too. A failed conversion may have dropped our shared lock.
            _relock_shared(key, own)
            yield False
            return
        try:
            yield True
        finally:
            if _same_file(own, key):
                _relock_shared(key, own)
            else:  # the block deleted or replaced the file: nothing left to hold
                del _HOLDS[key]
                os.close(own)
        return
    try:
        fd = os.open(key, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        yield True  # nothing to hold: e.g. the entry is already gone
        return
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _relock_shared(key: str, fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # another process took it exclusively meanwhile: no hold left
        if _HOLDS.get(key) == fd:
            del _HOLDS[key]
        os.close(fd)
