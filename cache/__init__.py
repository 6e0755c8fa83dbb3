"""theanolite.cache: the on-disk cache of compiled modules.

A small, self-contained library the compiler backend calls:

    from theanolite.cache import CacheStore, default_cache_dir, make_key, platform_tag

    root, why = default_cache_dir(config.compiledir or None)
    store = CacheStore(root)
    parts = {"graph": graph_bytes, "codegen_version": "1", "compiler": cc_id,
             "flags": flags, "platform": platform_tag()}
    key = make_key(parts)
    entry = store.lookup(key) or store.publish(key, parts, summary, build)
    store.record_hit(entry)
    load(entry.module_path)

See keys.py (what a key is), store.py (publish/lookup contracts), locks.py,
bundle.py (export/import), and cli.py (the ``theanolite-cache`` command).
"""

from .entry import Entry, EntryInfo, VerifyReport
from .errors import (BundleError, CacheError, CacheUnavailable, CacheWarning, KeyPrefixError,
                     LockTimeout)
from .keys import (describe_key_parts, diff_key_parts, is_key, make_key, part_digest,
                   platform_tag)
from .locks import KeyLock
from .store import CacheStore, default_cache_dir, resolve_cache_dir

__all__ = [
    "BundleError", "CacheError", "CacheStore", "CacheUnavailable", "CacheWarning", "Entry",
    "EntryInfo", "ExportReport", "ImportReport", "KeyLock", "KeyPrefixError", "LockTimeout",
    "VerifyReport", "default_cache_dir", "describe_key_parts", "diff_key_parts",
    "export_bundle", "import_bundle", "is_key", "make_key", "part_digest", "platform_tag",
    "resolve_cache_dir",
]


_BUNDLE_NAMES = frozenset({"ExportReport", "ImportReport", "export_bundle", "import_bundle"})


def __getattr__(name: str) -> object:
    # bundle.py (tarfile, zipfile) is only needed for export/import: loading it lazily
    # keeps it off the warm path of every process that merely loads compiled modules.
    if name in _BUNDLE_NAMES:
        from . import bundle
        return getattr(bundle, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
