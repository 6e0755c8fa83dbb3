"""Cache-wide event counters (misses, compiles) for ``theanolite-cache stats``.

Each counter is one small file ``<root>/counters/<name>`` holding a decimal number,
updated under an ``flock`` of that file (read, add one, write back), so concurrent
processes never lose an increment and a killed process never leaves a stale lock.
Hits are not counted here: they live in each entry's ``hits`` file (entry.py).

Counters are statistics, not state: ``bump`` is best effort and never raises (a
read-only cache simply stops counting), and a damaged file restarts from zero.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from . import fsutil

COUNTERS_DIR = "counters"
COUNTER_NAMES = ("misses", "compiles")
_MAX_LEN = 32  # far more digits than any counter will have


def bump(root: Path, name: str) -> bool:
    """Add one to counter ``name`` (one of COUNTER_NAMES); return False if it could
    not be recorded. Cost: a mkdir attempt, open, flock, pread, pwrite, close."""
    if name not in COUNTER_NAMES:
        raise ValueError(f"unknown counter {name!r}; known: {', '.join(COUNTER_NAMES)}")
    try:
        fsutil.make_private_dir(root / COUNTERS_DIR)
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(root / COUNTERS_DIR / name, flags, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = os.pread(fd, _MAX_LEN, 0)
        new = b"%d\n" % (_parse(data) + 1)
        os.pwrite(fd, new, 0)
        os.ftruncate(fd, len(new))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also drops the flock


def read_counters(root: Path) -> dict[str, int]:
    """Current value of every counter that was ever recorded (absent ones are left out,
    so a caller can tell "never recorded" from zero)."""
    out = {}
    for name in COUNTER_NAMES:
        try:
            data = fsutil.read_file(root / COUNTERS_DIR / name)
        except OSError:
            continue
        out[name] = _parse(data[:_MAX_LEN])
    return out


def _parse(data: bytes) -> int:
    try:
        value = int(data.strip() or b"0")
    except ValueError:
        return 0  # torn or damaged file: statistics restart rather than fail
    return max(value, 0)
