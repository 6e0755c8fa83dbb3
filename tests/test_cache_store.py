"""Tests of theanolite.cache.store: publish/lookup, safety checks, maintenance.

Keys are tested in test_cache_keys.py, races with real processes in
test_cache_concurrency.py.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from theanolite.cache import fsutil
from theanolite.cache.errors import CacheUnavailable, CacheWarning
from theanolite.cache.keys import describe_key_parts, make_key
from theanolite.cache.locks import KeyLock
from theanolite.cache.store import CacheStore, default_cache_dir

MODULE_BYTES = bytes(range(256)) * 40
C_SOURCE = "int entry(void) { return 0; }\n"


def make_parts(graph: str = "g0", **over: str | bytes) -> dict[str, str | bytes]:
    parts: dict[str, str | bytes] = {
        "graph": graph.encode() * 100, "codegen_version": "1", "compiler": "gcc 13.2",
        "flags": "-O2 -fPIC", "platform": "x86_64-linux-test"}
    parts.update(over)
    return parts


def make_build(module: bytes = MODULE_BYTES, log: list[Path] | None = None):
    def build(tmp: Path) -> tuple[str, str]:
        if log is not None:
            log.append(tmp)
        (tmp / "mod.so").write_bytes(module)
        (tmp / "src.c").write_text(C_SOURCE)
        (tmp / "scratch").mkdir()
        (tmp / "scratch" / "mod.o").write_bytes(b"object")
        return "mod.so", "src.c"
    return build


def publish(store: CacheStore, graph: str = "g0", **kw):
    parts = make_parts(graph)
    return store.publish(make_key(parts), parts, f"summary of {graph}", make_build(**kw))


@pytest.fixture
def store(tmp_path: Path) -> CacheStore:
    return CacheStore(tmp_path / "cache")


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- publish / lookup -------------------------------------------------------------------

def test_publish_then_lookup(store):
    log: list[Path] = []
    entry = publish(store, log=log)
    assert entry.module_path.read_bytes() == MODULE_BYTES
    assert entry.c_source_path.read_text() == C_SOURCE
    assert sorted(os.listdir(entry.path)) == ["hits", "meta.json", "mod.so", "src.c"]
    meta = json.loads((entry.path / "meta.json").read_text())
    assert meta["module"] == {"name": "mod.so", "size": len(MODULE_BYTES),
                              "sha256": fsutil.sha256_file(entry.module_path)}
    assert meta["c_source"]["sha256"] == fsutil.sha256_file(entry.c_source_path)
    assert meta["summary"] == "summary of g0" and meta["key"] == entry.key
    assert meta["key_parts"] == describe_key_parts(make_parts())
    assert stat.S_IMODE(os.stat(entry.path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(entry.module_path).st_mode) == 0o600
    assert os.listdir(store.root / "tmp") == [] and not log[0].exists()
    found = store.lookup(entry.key)
    assert found is not None and found.module_path == entry.module_path
    assert found.summary == "summary of g0"
    assert store.lookup(make_key(make_parts("other"))) is None


def test_publish_existing_key_does_not_build(store):
    first = publish(store)
    log: list[Path] = []
    assert publish(store, log=log).path == first.path and log == []


def test_publish_failure_leaves_nothing(store):
    parts = make_parts()

    def failing(tmp: Path):
        (tmp / "mod.so").write_bytes(b"half")
        raise RuntimeError("compiler crashed")

    with pytest.raises(RuntimeError, match="compiler crashed"):
        store.publish(make_key(parts), parts, "s", failing)
    assert store.lookup(make_key(parts)) is None
    assert os.listdir(store.root / "tmp") == []
    assert KeyLock(store.root / "locks" / f"{make_key(parts)}.lock").try_acquire()


@pytest.mark.parametrize("names", [("mod.so",), ("mod.so", "mod.so"), ("../x", "src.c"),
                                   ("mod.so", "meta.json"), ("mod.so", "missing.c")])
def test_publish_rejects_bad_build_results(store, names):
    parts = make_parts()

    def build(tmp: Path):
        make_build()(tmp)
        return names

    with pytest.raises(ValueError):
        store.publish(make_key(parts), parts, "s", build)
    assert os.listdir(store.root / "tmp") == [] and store.lookup(make_key(parts)) is None


def test_publish_rejects_key_not_matching_parts(store):
    with pytest.raises(ValueError):
        store.publish(make_key(make_parts("a")), make_parts("b"), "s", make_build())


def test_publish_accepts_absolute_names_and_umask(store):
    parts = make_parts()
    old = os.umask(0o002)  # a group-writable umask must not produce refused entries
    try:
        def build(tmp: Path):
            make_build()(tmp)
            return tmp / "mod.so", tmp / "src.c"
        entry = store.publish(make_key(parts), parts, "s", build)
    finally:
        os.umask(old)
    assert store.lookup(entry.key) is not None


def _truncate(e):
    with open(e.module_path, "r+b") as f:
        f.truncate(100)


def _bitflip(e):
    data = bytearray(e.module_path.read_bytes())
    data[1234] ^= 0x10
    e.module_path.write_bytes(bytes(data))


def _break_meta(e):
    (e.path / "meta.json").write_text('{"format": 1, "key": ')


def _drop_meta(e):
    (e.path / "meta.json").unlink()


def _drop_module(e):
    e.module_path.unlink()


@pytest.mark.parametrize("corrupt", [_truncate, _bitflip, _break_meta, _drop_meta,
                                     _drop_module])
def test_lookup_quarantines_corrupt_entries(store, corrupt):
    entry = publish(store)
    corrupt(entry)
    with pytest.warns(CacheWarning, match="corrupt"):
        assert store.lookup(entry.key) is None
    assert not entry.path.exists()
    (q,) = (store.root / "quarantine").iterdir()
    assert q.name.startswith(entry.key) and (q / "quarantine-reason.txt").exists()
    assert publish(store).module_path.read_bytes() == MODULE_BYTES  # rebuilt
    assert store.lookup(entry.key) is not None


def _chmod(rel: str, mode: int):
    return lambda e: os.chmod(e.path / rel, mode)


def _symlink_module(e):
    real = e.path.parent / "elsewhere.so"
    shutil.copy(e.module_path, real)
    e.module_path.unlink()
    e.module_path.symlink_to(real)


@pytest.mark.parametrize("make_unsafe", [
    pytest.param(_chmod(".", 0o770), id="dir-group-writable"),
    pytest.param(_chmod(".", 0o707), id="dir-world-writable"),
    pytest.param(_chmod("mod.so", 0o620), id="module-group-writable"),
    pytest.param(_chmod("mod.so", 0o666), id="module-world-writable"),
    pytest.param(_chmod("meta.json", 0o622), id="meta-writable"),
    pytest.param(_chmod("src.c", 0o660), id="c-source-writable"),
    pytest.param(_symlink_module, id="module-symlink")])
def test_lookup_refuses_group_or_world_writable_entries(store, make_unsafe):
    entry = publish(store)
    make_unsafe(entry)
    with pytest.warns(CacheWarning, match="refusing"):
        assert store.lookup(entry.key) is None
    assert entry.path.exists()  # refused, never loaded, but not ours to move silently
    with pytest.warns(CacheWarning, match="unusable"):
        assert publish(store).module_path.read_bytes() == MODULE_BYTES  # moved aside
    assert store.lookup(entry.key) is not None


def test_group_writable_shard_dir_is_refused(store):
    entry = publish(store)
    os.chmod(entry.path.parent, 0o775)
    with pytest.warns(CacheWarning, match="refusing"):
        assert store.lookup(entry.key) is None
    with pytest.raises(CacheUnavailable, match="unsafe"):
        publish(store)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to another user")
def test_entry_owned_by_another_user_is_refused(store):
    entry = publish(store)
    os.chown(entry.module_path, 65534, 65534)
    with pytest.warns(CacheWarning, match="owned by uid 65534"):
        assert store.lookup(entry.key) is None
    os.chown(entry.module_path, 0, 0)
    os.chown(entry.path, 65534, 65534)
    with pytest.warns(CacheWarning, match="owned by uid 65534"):
        assert store.lookup(entry.key) is None


def test_unsafe_root_disables_the_cache(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    os.chmod(root, 0o777)
    with pytest.warns(CacheWarning, match="disabled"):
        store = CacheStore(root)
    assert store.lookup(make_key(make_parts())) is None
    with pytest.raises(CacheUnavailable):
        publish(store)


# -- hits, eviction, maintenance ------------------------------------------------------

def test_record_hit_counts_and_stats(store):
    entry = publish(store)
    assert store.entries()[0].hits == 0
    for _ in range(3):
        assert store.record_hit(entry)
    (info,) = store.entries()
    assert info.hits == 3 and info.last_used >= info.created
    assert info.size == sum(p.stat().st_size for p in entry.path.iterdir())
    stats = store.stats()
    assert stats["entries"] == 1 and stats["hits"] == 3
    assert stats["total_bytes"] == info.size
    json.dumps(stats)  # the CLI prints it with --json


def test_evict_keeps_the_most_recently_used(store):
    entries = {g: publish(store, g) for g in ("a", "b", "c")}
    for g, t in (("a", 1000), ("b", 3000), ("c", 2000)):
        os.utime(entries[g].path / "hits", (t, t))
    one = max(i.size for i in store.entries())
    assert store.evict(max_bytes=one) == [entries["a"].key, entries["c"].key]
    assert [i.key for i in store.entries()] == [entries["b"].key]
    assert store.lookup(entries["b"].key) is not None


def test_evict_skips_entries_locked_by_others(store):
    a, b = publish(store, "a"), publish(store, "b")
    with KeyLock(store.root / "locks" / f"{a.key}.lock"):  # e.g. being verified elsewhere
        assert store.evict(max_bytes=0) == [b.key]
    assert store.lookup(a.key) is not None and store.lookup(b.key) is None


def test_remove_and_clear(store):
    a, b = publish(store, "a"), publish(store, "b")
    assert store.remove(a.key) and not store.remove(a.key)
    assert store.lookup(a.key) is None and store.lookup(b.key) is not None
    assert not (store.root / "locks" / f"{a.key}.lock").exists()
    assert store.clear() == 1 and store.entries() == []


def test_verify_rehashes_everything(store):
    good, bad = publish(store, "good"), publish(store, "bad")
    src = bytearray(bad.c_source_path.read_bytes())
    src[0] ^= 1
    bad.c_source_path.write_bytes(bytes(src))  # lookup only hashes the module
    assert store.lookup(bad.key) is not None
    report = store.verify()
    assert report.ok == [good.key] and list(report.quarantined) == [bad.key]
    assert store.lookup(bad.key) is None and store.stats()["quarantined"] == 1


def test_cleanup_tmp_removes_only_dead_builders(store):
    dead, alive = make_key(make_parts("dead")), make_key(make_parts("alive"))
    publish(store)  # creates tmp/ and locks/
    (store.root / "tmp" / f"{dead}.x1").mkdir()
    (store.root / "tmp" / f"{alive}.x2").mkdir()
    with KeyLock(store.root / "locks" / f"{alive}.lock"):
        removed = store.cleanup_tmp()
    assert f"{dead}.x1" in removed and f"{dead}.lock" in removed
    assert os.listdir(store.root / "tmp") == [f"{alive}.x2"]


# -- location and unavailable caches --------------------------------------------------

def test_default_cache_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("THEANOLITE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    path, why = default_cache_dir(None)
    assert path == tmp_path / "home" / ".cache" / "theanolite" and "default" in why
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir("") == (tmp_path / "xdg" / "theanolite",
                                     "$XDG_CACHE_HOME/theanolite")
    monkeypatch.setenv("THEANOLITE_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir(None)[0] == tmp_path / "env"
    assert default_cache_dir(str(tmp_path / "flag")) == (tmp_path / "flag",
                                                         "compiledir flag")
    assert default_cache_dir("~/c")[0] == tmp_path / "home" / "c"


def _make_read_only(root: Path) -> None:
    if os.geteuid() != 0:
        for p in [root, *root.rglob("*")]:
            os.chmod(p, stat.S_IMODE(p.stat().st_mode) & ~0o222)
        return
    # Root ignores modes; the immutable attribute stops it like a read-only mount.
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "-R", "+i", str(root)], capture_output=True).returncode:
        pytest.skip("no way to make a directory read-only for root here")


def _make_writable(root: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-R", "-i", str(root)], capture_output=True)
    else:
        for p in [root, *root.rglob("*")]:
            os.chmod(p, stat.S_IMODE(p.stat().st_mode) | 0o200)


def test_read_only_root_raises_cache_unavailable(store):
    old = publish(store, "old")
    before = tree(store.root)
    _make_read_only(store.root)
    try:
        assert store.lookup(old.key) is not None  # reading still works
        assert store.record_hit(old) is False  # and never raises
        with pytest.raises(CacheUnavailable):
            publish(store, "new")
        assert tree(store.root) == before
    finally:
        _make_writable(store.root)


@pytest.mark.parametrize("where", ["build", "meta"])
def test_full_disk_raises_cache_unavailable(store, monkeypatch, where):
    def enospc(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "meta":
        monkeypatch.setattr(fsutil, "write_new_file", enospc)
        build = make_build()
    else:
        build = enospc
    parts = make_parts()
    with pytest.raises(CacheUnavailable, match="No space"):
        store.publish(make_key(parts), parts, "s", build)
    assert os.listdir(store.root / "tmp") == [] and store.lookup(make_key(parts)) is None


def test_clear_also_deletes_the_derived_dirs(store):
    from theanolite.cache.maintenance import DERIVED_DIRS
    publish(store)
    for name in DERIVED_DIRS:
        (store.root / name).mkdir(mode=0o700)
        (store.root / name / "derived.bin").write_bytes(b"x")
    assert store.clear() == 1
    assert not any((store.root / name).exists() for name in DERIVED_DIRS)
    assert list(store.keys()) == []
