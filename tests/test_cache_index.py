"""The by-graph index (cache/index.py): deployment lookups ignoring the compiler, and the
closest entry that explains a miss."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from theanolite.cache import export_bundle, import_bundle, make_key, platform_tag
from theanolite.cache.store import CacheStore


def parts(graph: str = "g", compiler: str = "gcc 13", flags: str = "-O3",
          platform: str = "x86_64-test") -> dict[str, str]:
    return {"graph": graph * 300, "codegen": "1", "compiler": compiler, "flags": flags,
            "platform": platform}


def build(tmp: Path) -> tuple[str, str]:
    (tmp / "mod.so").write_bytes(b"\x7fELF" + os.urandom(64))
    (tmp / "mod.c").write_text("int f(void) { return 1; }\n")
    return "mod.so", "mod.c"


def publish(store: CacheStore, p: dict[str, str]):
    return store.publish(make_key(p), p, "summary", build)


@pytest.fixture
def store(tmp_path: Path) -> CacheStore:
    return CacheStore(tmp_path / "cache")


def test_find_compatible_ignores_only_the_named_parts(store):
    built = publish(store, parts(compiler="gcc 13"))
    wanted = parts(compiler="none")
    assert store.lookup(make_key(wanted)) is None
    found = store.find_compatible(wanted, {"compiler"})
    assert found is not None and found.key == built.key
    # Any other difference still misses: flags, platform, graph.
    assert store.find_compatible(parts(compiler="none", flags="-O2"), {"compiler"}) is None
    assert store.find_compatible(parts(compiler="none", platform="arm"), {"compiler"}) is None
    assert store.find_compatible(parts("h", compiler="none"), {"compiler"}) is None


def test_find_compatible_prefers_the_newest_of_several_compilers(store):
    publish(store, parts(compiler="gcc 12"))
    newer = publish(store, parts(compiler="gcc 13"))
    assert store.find_compatible(parts(compiler="none"), {"compiler"}).key == newer.key


def test_closest_names_the_differing_parts(store):
    assert store.closest(parts()) is None  # nothing built from this graph
    publish(store, parts(compiler="gcc 12", flags="-O2"))
    near = publish(store, parts(compiler="gcc 12"))
    entry, differing = store.closest(parts(compiler="gcc 13"))
    assert entry.key == near.key and differing == ["compiler"]


def test_markers_of_removed_entries_are_dropped(store):
    entry = publish(store, parts())
    marker_dirs = list((store.root / "by-graph").iterdir())
    assert len(marker_dirs) == 1 and [p.name for p in marker_dirs[0].iterdir()] == [entry.key]
    assert store.remove(entry.key)
    assert store.find_compatible(parts(compiler="x"), {"compiler"}) is None
    assert list(marker_dirs[0].iterdir()) == []
    store.cleanup_tmp()
    assert not marker_dirs[0].exists()


def test_a_corrupt_indexed_entry_is_not_served(store):
    entry = publish(store, parts())
    with open(entry.module_path, "r+b") as f:
        f.write(b"XXXX")
    with pytest.warns(Warning, match="corrupt"):
        assert store.find_compatible(parts(compiler="y"), {"compiler"}) is None


def test_imported_bundle_entries_are_indexed(tmp_path, store):
    src = CacheStore(tmp_path / "src")
    here = platform_tag()
    built = publish(src, parts(compiler="gcc 13", platform=here))
    bundle = tmp_path / "b.tar.gz"
    export_bundle(src, bundle)
    import_bundle(store, bundle)
    found = store.find_compatible(parts(compiler="none", platform=here), {"compiler"})
    assert found is not None and found.key == built.key
