"""Tests of theanolite.cache.bundle (export/import) and the store API it publishes
through (staging_dir, adopt). Every refusal case is a crafted archive: the import must
raise BundleError and leave the destination cache exactly as it was."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import theanolite
from theanolite.cache.bundle import (BUNDLE_FORMAT, MANIFEST_NAME, ExportReport,
                                     export_bundle, import_bundle)
from theanolite.cache.errors import BundleError, CacheError, KeyPrefixError, LockTimeout
from theanolite.cache.keys import make_key, platform_tag
from theanolite.cache.locks import KeyLock
from theanolite.cache.store import CacheStore

_PACKAGE_PARENT = str(Path(theanolite.__file__).resolve().parents[1])
HERE = platform_tag()


def add_entry(store: CacheStore, graph: str, platform: str = HERE, module: bytes = b""):
    parts = {"graph": graph * 50, "codegen_version": "1", "platform": platform}
    data = module or (b"\x7fELF" + graph.encode() * 3000)

    def build(tmp: Path):
        (tmp / "mod.so").write_bytes(data)
        (tmp / "src.c").write_text(f"/* {graph} */ int entry(void) {{ return 0; }}\n")
        os.chmod(tmp / "mod.so", 0o755)
        return "mod.so", "src.c"

    return store.publish(make_key(parts), parts, f"summary {graph}", build)


@pytest.fixture
def src(tmp_path: Path) -> CacheStore:
    store = CacheStore(tmp_path / "src")
    for g in ("a", "b"):
        add_entry(store, g)
    return store


@pytest.fixture
def dst(tmp_path: Path) -> CacheStore:
    return CacheStore(tmp_path / "dst")


def ls(d: Path) -> list[str]:
    return sorted(os.listdir(d)) if d.exists() else []


def snapshot(store: CacheStore) -> list[str]:
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*"))


# -- export -> import roundtrip ----------------------------------------------------------

@pytest.mark.parametrize("name", ["b.tar.gz", "b.zip"])
def test_roundtrip_into_a_fresh_cache(src, tmp_path, name):
    bundle = tmp_path / name
    report = export_bundle(src, bundle)
    assert isinstance(report, ExportReport) and report.size == bundle.stat().st_size
    assert sorted(report.keys) == sorted(src.keys()) and report.skipped == {}
    assert (zipfile.is_zipfile(bundle)) == name.endswith(".zip")
    fresh = CacheStore(tmp_path / "fresh" / "cache")
    result = import_bundle(fresh, bundle)
    assert sorted(result.imported) == sorted(src.keys()) and result.skipped == []
    for key in src.keys():
        old, new = src.lookup(key), fresh.lookup(key)
        assert new is not None and new.meta == old.meta
        assert new.module_path.read_bytes() == old.module_path.read_bytes()
        assert new.c_source_path.read_bytes() == old.c_source_path.read_bytes()
        assert (new.path / "hits").read_bytes() == b""  # usage is not carried over
        assert stat.S_IMODE(new.module_path.stat().st_mode) == 0o700  # was executable
        assert stat.S_IMODE(new.path.stat().st_mode) == 0o700
    assert os.listdir(fresh.root / "tmp") == []
    again = import_bundle(fresh, bundle)  # already present: skipped, counted
    assert again.imported == [] and sorted(again.skipped) == sorted(src.keys())
    assert fresh.verify().quarantined == {}


def test_manifest_lists_platform_and_every_hash(src, tmp_path):
    export_bundle(src, tmp_path / "b.tar.gz")
    with tarfile.open(tmp_path / "b.tar.gz") as tf:
        names = tf.getnames()
        manifest = json.loads(tf.extractfile(MANIFEST_NAME).read())
        assert names[0] == MANIFEST_NAME
        assert manifest["format"] == BUNDLE_FORMAT and manifest["version"] == 1
        for key, rec in manifest["entries"].items():
            assert rec["platform"] == HERE
            assert sorted(rec["files"]) == ["meta.json", "mod.so", "src.c"]
            for fname, f in rec["files"].items():
                data = tf.extractfile(f"entries/{key}/{fname}").read()
                assert f == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        assert len(names) == 1 + 3 * len(manifest["entries"])


def test_export_selected_keys_and_errors(src, tmp_path):
    key = sorted(src.keys())[0]
    report = export_bundle(src, tmp_path / "one.zip", [key, key])
    assert report.keys == [key]
    with pytest.raises(KeyPrefixError):
        export_bundle(src, tmp_path / "x.tar.gz", ["0" * 64])
    with pytest.raises(BundleError, match="cannot write"):
        export_bundle(src, tmp_path / "no" / "such" / "dir.tar.gz")
    assert not (tmp_path / "x.tar.gz").exists()
    with pytest.raises(ValueError):
        export_bundle(src, tmp_path / "x.tar.gz", fmt="rar")


def test_export_leaves_out_broken_entries_unless_named(src, tmp_path):
    bad = sorted(src.keys())[0]
    entry = src.entry_dir(bad)
    data = bytearray((entry / "src.c").read_bytes())
    data[0] ^= 1
    (entry / "src.c").write_bytes(bytes(data))  # only a full rehash notices
    report = export_bundle(src, tmp_path / "all.tar.gz")
    assert bad not in report.keys and "sha256" in report.skipped[bad]
    with pytest.raises(CacheError, match="corrupt"):
        export_bundle(src, tmp_path / "bad.tar.gz", [bad])


def test_platform_part_with_qualifiers(tmp_path):
    # The backend records "<platform_tag()> <libc version>": the tag is the first word.
    store = CacheStore(tmp_path / "c")
    entry = add_entry(store, "q", platform=f"{HERE} glibc 2.99")
    export_bundle(store, tmp_path / "b.tar.gz")
    with tarfile.open(tmp_path / "b.tar.gz") as tf:
        manifest = json.loads(tf.extractfile(MANIFEST_NAME).read())
    assert manifest["entries"][entry.key]["platform"] == HERE
    dst = CacheStore(tmp_path / "d")
    assert import_bundle(dst, tmp_path / "b.tar.gz").imported == [entry.key]


def test_foreign_platform_entries_export_with_their_tag(tmp_path):
    store = CacheStore(tmp_path / "c")
    add_entry(store, "x", platform="riscv64-linux-cpython-399-numpy-abi-0x1 glibc 2.31")
    export_bundle(store, tmp_path / "b.tar.gz")
    dst = CacheStore(tmp_path / "d")
    with pytest.raises(BundleError) as err:
        import_bundle(dst, tmp_path / "b.tar.gz")
    assert "'riscv64-linux-cpython-399-numpy-abi-0x1'" in str(err.value)
    assert repr(HERE) in str(err.value)
    assert list(dst.keys()) == []


# -- crafted bundles ---------------------------------------------------------------------

Member = tuple[tarfile.TarInfo, "bytes | None"]


def load_members(bundle: Path) -> tuple[dict, list[Member]]:
    with tarfile.open(bundle) as tf:
        members = [(ti, tf.extractfile(ti).read() if ti.isreg() else None) for ti in tf]
    return json.loads(members[0][1]), members[1:]


def write_tar(path: Path, manifest: dict | bytes, members: list[Member]) -> Path:
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(raw)
        tf.addfile(info, io.BytesIO(raw))
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name: str, data: bytes) -> Member:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    return ti, data


def special_member(name: str, kind: bytes, linkname: str = "") -> Member:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = kind, linkname
    return ti, None


@pytest.fixture
def valid(src, tmp_path):
    """(manifest, members, one key, path of that key's module member) of a good bundle."""
    export_bundle(src, tmp_path / "good.tar.gz")
    manifest, members = load_members(tmp_path / "good.tar.gz")
    key = sorted(manifest["entries"])[0]
    return manifest, members, key, f"entries/{key}/mod.so"


def replace(members: list[Member], name: str, new: Member | None) -> list[Member]:
    out = [m for m in members if m[0].name != name]
    return out if new is None else [*out, new]


def rehash(manifest: dict, key: str, fname: str, data: bytes) -> dict:
    m = json.loads(json.dumps(manifest))
    m["entries"][key]["files"][fname] = {"size": len(data),
                                         "sha256": hashlib.sha256(data).hexdigest()}
    return m


def _evil(manifest, members, key, mod):
    """name -> (manifest, members, expected message) for every refusal case."""
    mod_data = dict((ti.name, d) for ti, d in members)[mod]
    flipped = bytes([mod_data[0] ^ 1]) + mod_data[1:]
    meta_name = f"entries/{key}/meta.json"
    meta_raw = dict((ti.name, d) for ti, d in members)[meta_name]
    meta = json.loads(meta_raw)
    other_key = dict(meta, key="f" * 64)
    other_platform = json.loads(json.dumps(meta))
    other_platform["key_parts"]["platform"]["value"] = "sparc-sunos-cpython-311"
    foreign = json.loads(json.dumps(manifest))
    foreign["entries"][key]["platform"] = "aarch64-darwin-cpython-312-numpy-abi-0x2"

    def with_meta(new_meta: dict):
        raw = json.dumps(new_meta).encode()
        return (rehash(manifest, key, "meta.json", raw),
                replace(members, f"entries/{key}/meta.json",
                        file_member(f"entries/{key}/meta.json", raw)), "refused")

    return {
        "dotdot": (manifest, [*members, file_member("../evil", b"x")], "unsafe member path"),
        "dotdot-inside": (manifest, [*members, file_member(f"entries/{key}/../../../evil",
                                                           b"x")], "unsafe member path"),
        "absolute": (manifest, [*members, file_member("/tmp/evil-theanolite", b"x")],
                     "unsafe member path"),
        "symlink": (manifest, replace(members, mod, special_member(mod, tarfile.SYMTYPE,
                                                                   "/etc/passwd")), "symlink"),
        "hardlink": (manifest, replace(members, mod, special_member(mod, tarfile.LNKTYPE,
                                                                    "manifest.json")),
                     "hard link"),
        "device": (manifest, [*members, special_member(f"entries/{key}/dev",
                                                       tarfile.CHRTYPE)], "device"),
        "fifo": (manifest, [*members, special_member(f"entries/{key}/fifo",
                                                     tarfile.FIFOTYPE)], "fifo"),
        "unlisted-file": (manifest, [*members, file_member(f"entries/{key}/extra.so", b"x")],
                          "not listed"),
        "unlisted-top": (manifest, [*members, file_member("README", b"hi")], "not listed"),
        "unlisted-entry": (manifest, [*members, file_member(f"entries/{'e' * 64}/meta.json",
                                                            b"{}")], "not listed"),
        "hash-mismatch": (manifest, replace(members, mod, file_member(mod, flipped)),
                          "sha256"),
        # Same size, self-consistent entry: only the manifest's sha256 catches it.
        "meta-hash-mismatch": (manifest, replace(members, meta_name, file_member(
            meta_name, meta_raw.replace(b"summary ", b"SUMMARY "))), "sha256"),
        "size-mismatch": (manifest, replace(members, mod, file_member(mod, mod_data + b"!")),
                          "bytes"),
        "missing-file": (manifest, replace(members, mod, None), "lacks"),
        "duplicate": (manifest, [*members, file_member(mod, mod_data)], "twice"),
        "platform": (foreign, members, "aarch64-darwin-cpython-312-numpy-abi-0x2"),
        "meta-key": with_meta(other_key),
        "meta-platform": with_meta(other_platform),
        "meta-not-json": (rehash(manifest, key, "meta.json", b"{"),
                          replace(members, f"entries/{key}/meta.json",
                                  file_member(f"entries/{key}/meta.json", b"{")), "not JSON"),
    }


EVIL_CASES = ["dotdot", "dotdot-inside", "absolute", "symlink", "hardlink", "device", "fifo",
              "unlisted-file", "unlisted-top", "unlisted-entry", "hash-mismatch", "meta-hash-mismatch",
              "size-mismatch", "missing-file", "duplicate", "platform", "meta-key",
              "meta-platform", "meta-not-json"]


@pytest.mark.parametrize("case", EVIL_CASES)
def test_import_refuses_crafted_bundles(valid, dst, tmp_path, case):
    manifest, members, key, mod = valid
    bad_manifest, bad_members, message = _evil(manifest, members, key, mod)[case]
    bundle = write_tar(tmp_path / f"{case}.tar.gz", bad_manifest, bad_members)
    before = snapshot(dst)
    with pytest.raises(BundleError, match=message):
        import_bundle(dst, bundle)
    assert list(dst.keys()) == [] and ls(dst.root / "tmp") == []
    assert ls(dst.root / "locks") == []
    assert set(snapshot(dst)) - {"tmp", "locks"} == set(before) - {"tmp", "locks"}
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil-theanolite").exists()


@pytest.mark.parametrize("edit, message", [
    (lambda m: b"not json", "not JSON"),
    (lambda m: b"[" * 100_000, "nested too deeply"),
    (lambda m: b'{"format": "theanolite-cache-bundle", "format": "x"}', "duplicate"),
    (lambda m: {**m, "format": "tarball"}, "format"),
    (lambda m: {**m, "version": 2}, "unsupported version 2"),
    (lambda m: {**m, "entries": []}, "entries"),
    (lambda m: {**m, "entries": {"ABC": {}}}, "not a cache key"),
    (lambda m: {**m, "entries": {k: {"files": v["files"]} for k, v in m["entries"].items()}},
     "platform"),
    (lambda m: {**m, "entries": {k: {**v, "files": {"meta.json": v["files"]["meta.json"]}}
                                 for k, v in m["entries"].items()}}, "must list"),
    (lambda m: {**m, "entries": {k: {**v, "files": {**v["files"], "src.c": {"size": -1,
                                                                              "sha256": "0"}}}
                                 for k, v in m["entries"].items()}}, "integer 'size'"),
])
def test_import_refuses_malformed_manifests(valid, dst, tmp_path, edit, message):
    manifest, members, _, _ = valid
    bundle = write_tar(tmp_path / "m.tar.gz", edit(manifest), members)
    with pytest.raises(BundleError, match=message):
        import_bundle(dst, bundle)
    assert list(dst.keys()) == []


def test_manifest_must_come_first(valid, dst, tmp_path):
    manifest, members, _, _ = valid
    path = tmp_path / "late.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data))
        raw = json.dumps(manifest).encode()
        ti = tarfile.TarInfo(MANIFEST_NAME)
        ti.size = len(raw)
        tf.addfile(ti, io.BytesIO(raw))
    with pytest.raises(BundleError, match="first member"):
        import_bundle(dst, path)


def _zip(path: Path, manifest: dict, members: list[Member], extra: zipfile.ZipInfo,
         data: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MANIFEST_NAME, json.dumps(manifest))
        for ti, d in members:
            zf.writestr(ti.name, d)
        zf.writestr(extra, data)
    return path


@pytest.mark.parametrize("name, mode, message", [
    ("entries/{key}/link", stat.S_IFLNK | 0o777, "symlink"),
    ("../../evil", stat.S_IFREG | 0o644, "unsafe member path"),
    ("entries/{key}/sock", stat.S_IFSOCK | 0o644, "special member"),
])
def test_import_refuses_crafted_zips(valid, dst, tmp_path, name, mode, message):
    manifest, members, key, _ = valid
    info = zipfile.ZipInfo(name.format(key=key))
    info.external_attr = mode << 16
    bundle = _zip(tmp_path / "evil.zip", manifest, members, info, b"/etc/passwd")
    with pytest.raises(BundleError, match=message):
        import_bundle(dst, bundle)
    assert list(dst.keys()) == [] and not (tmp_path / "evil").exists()


def test_unreadable_bundles(src, dst, tmp_path):
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not an archive at all" * 10)
    export_bundle(src, tmp_path / "good.tar.gz")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes((tmp_path / "good.tar.gz").read_bytes()[:300])
    for path in (garbage, truncated, tmp_path / "missing.tar.gz", tmp_path):
        with pytest.raises(BundleError, match="cannot read bundle"):
            import_bundle(dst, path)
    assert list(dst.keys()) == [] and ls(dst.root / "tmp") == []


def test_import_replaces_a_corrupt_existing_entry(src, dst, tmp_path):
    export_bundle(src, tmp_path / "b.tar.gz")
    key = sorted(src.keys())[0]
    import_bundle(dst, tmp_path / "b.tar.gz")
    (dst.entry_dir(key) / "mod.so").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unusable"):
        report = import_bundle(dst, tmp_path / "b.tar.gz")
    assert key in report.imported and dst.lookup(key) is not None


# -- the store API underneath: staging_dir and adopt -------------------------------------

def test_adopt_validates_the_staged_entry(src, dst):
    key = sorted(src.keys())[0]
    with dst.staging_dir() as staging:
        staged = staging / key
        staged.mkdir()
        for name in ("meta.json", "mod.so", "src.c"):
            (staged / name).write_bytes((src.entry_dir(key) / name).read_bytes())
        (staged / "extra").write_bytes(b"x")
        with pytest.raises(ValueError, match="unexpected files"):
            dst.adopt(key, staged)
        (staged / "extra").unlink()
        (staged / "src.c").write_bytes(b"changed")
        with pytest.raises(ValueError, match="not valid"):
            dst.adopt(key, staged)
        (staged / "src.c").write_bytes((src.entry_dir(key) / "src.c").read_bytes())
        entry = dst.adopt(key, staged)
        assert entry is not None and not staged.exists()
        assert dst.lookup(key).meta == src.lookup(key).meta
    assert os.listdir(dst.root / "tmp") == [] and os.listdir(dst.root / "locks") == [
        f"{key}.lock"]


STAGING_WORKER = r"""
import os, sys
from theanolite.cache.store import CacheStore
with CacheStore(sys.argv[1]).staging_dir() as d:
    (d / "half-imported").write_bytes(b"x")
    print(d.name, flush=True)
    os._exit(0)  # killed mid-import: no cleanup runs
"""


def test_staging_dir_of_a_dead_process_is_reclaimed(dst):
    with dst.staging_dir() as mine:  # a live importer's dir is left alone
        assert stat.S_IMODE(mine.stat().st_mode) == 0o700
        assert mine.name not in dst.cleanup_tmp() and mine.exists()
    env = {**os.environ, "PYTHONPATH": _PACKAGE_PARENT}
    out = subprocess.run([sys.executable, "-c", STAGING_WORKER, str(dst.root)], env=env,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert os.listdir(dst.root / "tmp") == [out.strip()]
    removed = dst.cleanup_tmp()
    assert out.strip() in removed and os.listdir(dst.root / "tmp") == []
    assert os.listdir(dst.root / "locks") == []


def test_import_needs_no_compiler(src, tmp_path):
    export_bundle(src, tmp_path / "b.tar.gz")
    env = {**os.environ, "PYTHONPATH": _PACKAGE_PARENT, "PATH": str(tmp_path / "empty"),
           "THEANOLITE_FLAGS": "cxx=", "THEANOLITE_CACHE_DIR": str(tmp_path / "nocc")}
    done = subprocess.run([sys.executable, "-m", "theanolite.cache", "import",
                           str(tmp_path / "b.tar.gz")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "imported 2 entries" in done.stdout
    imported = CacheStore(tmp_path / "nocc")
    assert sorted(imported.keys()) == sorted(src.keys())
    assert sorted(imported.verify().ok) == sorted(src.keys())


def test_zip_without_unix_modes_is_accepted(src, dst, tmp_path):
    export_bundle(src, tmp_path / "b.zip")
    with zipfile.ZipFile(tmp_path / "b.zip") as zin, \
            zipfile.ZipFile(tmp_path / "plain.zip", "w") as zout:
        for info in zin.infolist():
            plain = zipfile.ZipInfo(info.filename)  # external_attr 0, as Windows zippers
            zout.writestr(plain, zin.read(info))
    assert len(import_bundle(dst, tmp_path / "plain.zip").imported) == 2


def test_import_waits_for_a_busy_key_lock(src, dst, tmp_path):
    export_bundle(src, tmp_path / "b.tar.gz")
    key = sorted(src.keys())[0]  # published first
    (dst.root / "locks").mkdir(exist_ok=True)
    dst.lock_timeout = 0.05
    with KeyLock(dst.root / "locks" / f"{key}.lock"):  # e.g. a compile in progress
        with pytest.raises(LockTimeout):
            import_bundle(dst, tmp_path / "b.tar.gz")
    assert list(dst.keys()) == [] and ls(dst.root / "tmp") == []
    assert len(import_bundle(dst, tmp_path / "b.tar.gz").imported) == 2


def test_directory_members_are_allowed(valid, dst, tmp_path):
    # e.g. a bundle repacked with `tar czf` from an unpacked directory
    manifest, members, _, _ = valid
    dirs = [special_member("entries/", tarfile.DIRTYPE)] + [
        special_member(f"entries/{k}", tarfile.DIRTYPE) for k in manifest["entries"]]
    bundle = write_tar(tmp_path / "dirs.tar.gz", manifest, [*dirs, *members])
    assert sorted(import_bundle(dst, bundle).imported) == sorted(manifest["entries"])
    stray = write_tar(tmp_path / "stray.tar.gz", manifest,
                      [*members, special_member("entries/" + "d" * 64, tarfile.DIRTYPE)])
    with pytest.raises(BundleError, match="not listed"):
        import_bundle(CacheStore(tmp_path / "other"), stray)
