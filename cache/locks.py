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

import fcntl
import os
import time
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
