"""Exceptions and warnings raised by the cache store.

The compiler backend catches ``CacheUnavailable`` to fall back to compiling into a
private temporary directory (or to Python thunks); everything else is a bug or a
build failure and propagates unchanged.
"""

from __future__ import annotations


class CacheError(Exception):
    """Base class of every cache error."""


class CacheUnavailable(CacheError):
    """The cache cannot take a new entry right now (read-only or full disk, missing
    permissions, an unsafe cache root, or a lock wait that timed out).

    Contract: when ``publish`` raises this, nothing half-written is left in the cache.
    The caller is expected to catch it and build without the cache.
    """


class LockTimeout(CacheUnavailable, TimeoutError):
    """A per-key lock could not be taken within the requested timeout."""


class CacheWarning(UserWarning):
    """An entry was refused (unsafe ownership or permissions) or quarantined
    (corrupt module, broken meta.json). The cache recovers by rebuilding."""


class KeyPrefixError(CacheError, LookupError):
    """A key prefix given by a user matches no entry, several entries, or is not hex.
    The message names the prefix (and, when ambiguous, the candidates)."""


class BundleError(CacheError, ValueError):
    """A bundle could not be read or was refused (unsafe member, unlisted file, hash
    mismatch, foreign platform, malformed manifest). When ``import_bundle`` raises
    this, nothing was published."""
