"""Parsing and printing of sizes and durations for the cache CLI.

Sizes use binary multiples, like the ``cache_max_size`` flag: ``500MB`` and ``500MiB``
both mean 500 * 2**20 bytes, so ``--max-size`` and the flag agree on every value.
"""

from __future__ import annotations

import math
import re

_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)
_DURATION_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|min|m|h|d|w)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes from ``1073741824``, ``512K``, ``500MB``, ``1.5GiB`` (binary multiples;
    a trailing ``B``/``iB`` is optional). Raises ValueError naming the bad text."""
    m = _SIZE_RE.fullmatch(text)
    if not m:
        raise ValueError(f"expected a size such as 500MB or 1.5GiB, got {text!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).upper()])


def parse_duration(text: str) -> float:
    """Seconds from ``45s``, ``30m``/``30min``, ``12h``, ``7d``, ``2w``. A unit is
    required (a bare number is ambiguous). Raises ValueError naming the bad text."""
    m = _DURATION_RE.fullmatch(text)
    if not m:
        raise ValueError(f"expected a duration such as 7d, 12h or 30min, got {text!r}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2).lower()]


def format_size(n: int | float) -> str:
    """``512 B``, ``1.0 KiB``, ``12.3 MiB``, ``1.5 GiB``."""
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            break
    return f"{n:.1f} {unit}"


def format_age(seconds: float) -> str:
    """A short duration: ``12 s``, ``5 min``, ``3 h``, ``3 d`` (rounded down; negative
    values, e.g. from clock skew, show as ``0 s``; NaN/inf as ``?``)."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{max(0, int(seconds))} s"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover
