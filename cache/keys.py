"""Cache keys: a pure function of named key parts.

A key is the SHA-256 hex digest of a canonical framing of *named parts*, for example::

    {"graph": <canonical graph bytes>, "codegen_version": "3",
     "compiler": "gcc 13.2.0", "flags": "-O3 -fPIC", "platform": platform_tag()}

Contract:
  * Part names are non-empty ``str``; values are ``str`` (hashed as UTF-8) or ``bytes``.
    Nothing else is accepted: live objects are never pickled into a key, because a
    pickle is neither stable across versions nor reviewable.
  * Parts are hashed in sorted name order, so the key does not depend on the order in
    which the caller built the mapping; every name, type and value is length-prefixed,
    so no two different part mappings share a framing.
  * ``describe_key_parts`` gives the JSON form recorded in ``meta.json``; together with
    ``diff_key_parts`` it explains why two keys differ (a cache miss) without keeping
    large parts such as the graph serialization.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import sys
import sysconfig
from collections.abc import Mapping
from typing import Any, Union

PartValue = Union[str, bytes]

# Bump when the framing below changes: every existing key then becomes a miss.
KEY_FORMAT_VERSION = 1
_MAGIC = b"theanolite-cache-key\x00"
# Values up to this many characters are recorded verbatim in meta.json; longer ones
# (the graph) only by digest and size.
_VERBATIM_LIMIT = 256


def _frame(data: bytes) -> bytes:
    return struct.pack(">Q", len(data)) + data


def _typed_bytes(name: str, value: object) -> tuple[bytes, bytes]:
    """Return (type tag, payload); the tag keeps ``"x"`` and ``b"x"`` distinct."""
    if isinstance(value, str):
        return b"s", value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b"b", bytes(value)
    raise TypeError(
        f"key part {name!r} must be str or bytes, not {type(value).__name__}; "
        "serialize it canonically first (never pickle live objects into a key)")


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"key part names must be non-empty str, got {name!r}")
    return name


def make_key(parts: Mapping[str, PartValue]) -> str:
    """Return the 64-character SHA-256 hex key of ``parts`` (see module docstring).

    Raises TypeError on a non-str name or a value that is not str/bytes, and
    ValueError on an empty mapping.
    """
    if not parts:
        raise ValueError("a cache key needs at least one part")
    h = hashlib.sha256()
    h.update(_MAGIC + struct.pack(">I", KEY_FORMAT_VERSION))
    h.update(struct.pack(">Q", len(parts)))
    for name in sorted(_check_name(n) for n in parts):
        tag, payload = _typed_bytes(name, parts[name])
        h.update(_frame(name.encode("utf-8")) + tag + _frame(payload))
    return h.hexdigest()


def is_key(key: object) -> bool:
    """True if ``key`` looks like a key from ``make_key`` (64 lowercase hex digits)."""
    return (isinstance(key, str) and len(key) == 64
            and all(c in "0123456789abcdef" for c in key))


def part_digest(name: str, value: PartValue) -> str:
    """SHA-256 hex of one part's type tag and value (what ``diff_key_parts`` compares)."""
    tag, payload = _typed_bytes(name, value)
    return hashlib.sha256(tag + payload).hexdigest()


def describe_key_parts(parts: Mapping[str, PartValue]) -> dict[str, dict[str, Any]]:
    """JSON-ready record of ``parts`` for meta.json, in sorted name order.

    Each part becomes ``{"type": "str"|"bytes", "size": n, "sha256": part_digest}``,
    plus ``"value"`` for short str parts so ``theanolite-cache info`` can show them.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(_check_name(n) for n in parts):
        value = parts[name]
        tag, payload = _typed_bytes(name, value)
        rec: dict[str, Any] = {"type": "str" if tag == b"s" else "bytes",
                               "size": len(payload),
                               "sha256": hashlib.sha256(tag + payload).hexdigest()}
        if isinstance(value, str) and len(value) <= _VERBATIM_LIMIT:
            rec["value"] = value
        out[name] = rec
    return out


def _digest_of(name: str, value: object) -> str:
    # A recorded part (from meta.json) carries its digest; a raw part is hashed here.
    if isinstance(value, Mapping) and "sha256" in value:
        return str(value["sha256"])
    return part_digest(name, value)  # type: ignore[arg-type]


def diff_key_parts(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Sorted names of the parts that differ between ``a`` and ``b``.

    Each side may hold raw parts (str/bytes) or the recorded form from
    ``describe_key_parts`` / ``meta.json["key_parts"]``, so a live key can be compared
    with a stored entry. A name present on one side only counts as differing.
    """
    names = sorted(set(a) | set(b))
    return [n for n in names
            if n not in a or n not in b or _digest_of(n, a[n]) != _digest_of(n, b[n])]


@functools.lru_cache(maxsize=None)
def platform_tag() -> str:
    """Identity of the binary platform a compiled module is valid on.

    ``<cpu arch>-<os>-<python ABI tag>-numpy-abi-<hex>``, e.g.
    ``x86_64-linux-cpython-311-x86_64-linux-gnu-numpy-abi-0x2000000``. Computed from
    ``os.uname``, ``sysconfig`` and numpy's C ABI version: no subprocess, constant for the
    life of the process (cached). CPU *features* are not included: a backend that
    compiles with ``-march=native`` must put the host's CPU model/flags into a key part
    of its own.
    """
    arch = os.uname().machine if hasattr(os, "uname") else "unknown"
    soabi = sysconfig.get_config_var("SOABI") or (
        f"{sys.implementation.name}-{sys.version_info[0]}{sys.version_info[1]}")
    return f"{arch}-{sys.platform}-{soabi}-numpy-abi-{_numpy_abi()}"


def _numpy_abi() -> str:
    try:
        from numpy._core import _multiarray_umath as mu  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x layout
        try:
            from numpy.core import _multiarray_umath as mu  # type: ignore[no-redef]
        except ImportError:
            return "none"
    return hex(mu._get_ndarray_c_version())
