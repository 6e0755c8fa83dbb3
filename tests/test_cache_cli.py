"""Tests of the ``theanolite-cache`` CLI (cache/cli.py) and the small store API it is a
thin layer over: units.py, counters.py, resolve_cache_dir, resolve_key, info, prune,
stats. The CLI runs in-process through ``main([...])`` (and once as ``python -m``);
entries are published with fake module files, so no compiler is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import theanolite
from theanolite import config
from theanolite.cache import counters
from theanolite.cache.cli import main
from theanolite.cache.errors import CacheError, KeyPrefixError
from theanolite.cache.keys import make_key, platform_tag
from theanolite.cache.locks import KeyLock
from theanolite.cache.store import CacheStore, resolve_cache_dir
from theanolite.cache.units import format_age, format_size, parse_duration, parse_size
from theanolite.configparser import _size as config_size_flag

_PACKAGE_PARENT = str(Path(theanolite.__file__).resolve().parents[1])
DAY = 86400.0


def parts_of(graph: str) -> dict[str, str | bytes]:
    return {"graph": graph.encode() * 40, "codegen_version": "1", "compiler": "gcc 13",
            "flags": "-O2", "platform": platform_tag()}


def add(store: CacheStore, graph: str, module_size: int = 4000, summary: str | None = None,
        created_ago: float = 0.0, used_ago: float | None = None, hits: int = 0):
    """Publish a fake entry, then backdate its creation and last use."""
    parts = parts_of(graph)

    def build(tmp: Path):
        (tmp / "mod.so").write_bytes(b"\x7fELF" + b"m" * (module_size - 4))
        (tmp / "src.c").write_text(f"/* {graph} */\n")
        return "mod.so", "src.c"

    entry = store.publish(make_key(parts), parts, summary or f"graph {graph}", build)
    now = time.time()
    meta_path = entry.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["created"] = now - created_ago
    meta_path.write_text(json.dumps(meta))
    for _ in range(hits):
        store.record_hit(entry)
    used = now - (created_ago if used_ago is None else used_ago)
    os.utime(entry.path / "hits", (used, used))
    return entry


@pytest.fixture
def store(tmp_path: Path) -> CacheStore:
    return CacheStore(tmp_path / "cache")


@pytest.fixture
def cli(store, capsys):
    """cli(*args) -> (exit code, stdout, stderr), with --cache-dir set to ``store``."""
    def run(*args: str, cache_dir: bool = True):
        argv = [*(["--cache-dir", str(store.root)] if cache_dir else []), *args]
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err
    return run


# -- units --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["500MB", "500MiB", "1GiB", "2G", "512k", "12", "1.5GB",
                                  "0", "3TB"])
def test_parse_size_agrees_with_the_cache_max_size_flag(text):
    assert parse_size(text) == config_size_flag(text)


def test_units():
    assert parse_size("500MB") == 500 * 2**20 and parse_size(" 1.5 GiB ") == 3 * 2**29
    assert parse_duration("7d") == 7 * DAY and parse_duration("3h") == 3 * 3600
    assert parse_duration("30min") == parse_duration("30m") == 1800
    assert parse_duration("2w") == 14 * DAY and parse_duration("45s") == 45
    for bad in ("", "MB", "-1MB", "5XB", "1e3"):
        with pytest.raises(ValueError, match="size"):
            parse_size(bad)
    for bad in ("7", "d", "-1d", "7 days"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)
    assert [format_size(n) for n in (0, 512, 1024, int(12.3 * 2**20), 3 * 2**30)] == [
        "0 B", "512 B", "1.0 KiB", "12.3 MiB", "3.0 GiB"]
    assert [format_age(s) for s in (-5, 0, 59, 60, 3599, 3600, 3 * DAY + 7200)] == [
        "0 s", "0 s", "59 s", "1 min", "59 min", "1 h", "3 d"]
    assert format_age(float("nan")) == "?"


# -- counters and stats -------------------------------------------------------------------

def test_counters_count_misses_and_compiles(store):
    assert store.stats()["misses"] is None and store.stats()["compiles"] is None
    key = make_key(parts_of("a"))
    assert store.lookup(key) is None
    add(store, "a")
    assert store.lookup(key) is not None  # a hit is not a miss
    add(store, "a")  # already there: no compile
    stats = store.stats()
    assert stats["misses"] == 1 and stats["compiles"] == 1
    (store.root / "counters" / "misses").write_bytes(b"garbage")
    assert counters.read_counters(store.root)["misses"] == 0  # damaged: restarts
    with pytest.raises(ValueError):
        counters.bump(store.root, "hits")


def test_counters_do_not_lose_concurrent_increments(tmp_path):
    threads = [threading.Thread(target=lambda: [counters.bump(tmp_path, "misses")
                                                for _ in range(50)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counters.read_counters(tmp_path) == {"misses": 200}


def test_stats_oldest_and_newest(store):
    old, new = add(store, "old", created_ago=9 * DAY), add(store, "new", created_ago=DAY)
    stats = store.stats()
    infos = {i.key: i for i in store.entries()}
    assert stats["oldest_created"] == infos[old.key].created
    assert stats["newest_created"] == infos[new.key].created


# -- resolve_key, info, prune -------------------------------------------------------------

def _two_graphs_sharing_a_first_digit() -> tuple[str, str]:
    seen: dict[str, str] = {}
    for i in range(100):
        g = f"g{i}"
        first = make_key(parts_of(g))[0]
        if first in seen:
            return seen[first], g
        seen[first] = g
    raise AssertionError("unreachable: 100 keys over 16 digits")


def test_resolve_key(store):
    ga, gb = _two_graphs_sharing_a_first_digit()
    a, b = add(store, ga), add(store, gb)
    assert store.resolve_key(a.key) == a.key
    assert store.resolve_key(a.key[:10].upper()) == a.key
    with pytest.raises(KeyPrefixError, match="ambiguous: 2 entries"):
        store.resolve_key(a.key[0])
    other = next(c for c in "0123456789abcdef" if c != a.key[0])
    with pytest.raises(KeyPrefixError, match="no cache entry"):
        store.resolve_key(other * 8)
    for bad in ("", "xyz", "a" * 65):
        with pytest.raises(KeyPrefixError, match="not a key"):
            store.resolve_key(bad)


def test_info_reads_without_changing(store):
    entry = add(store, "a", hits=2)
    doc = store.info(entry.key)
    assert doc["hits"] == 2 and doc["summary"] == "graph a"
    assert doc["module_path"] == str(entry.module_path)
    assert doc["c_source_path"] == str(entry.c_source_path)
    assert set(doc["meta"]["key_parts"]) == set(parts_of("a"))
    json.dumps(doc)
    (entry.path / "meta.json").write_text("{")
    with pytest.raises(CacheError, match="broken"):
        store.info(entry.key)
    assert entry.path.exists()  # info never quarantines
    with pytest.raises(KeyPrefixError):
        store.info("0" * 64)


def test_prune_rules(store):
    a = add(store, "a", created_ago=10 * DAY, used_ago=0.5 * DAY)
    b = add(store, "b", created_ago=2 * DAY, used_ago=5 * DAY)
    c = add(store, "c", created_ago=1 * DAY, used_ago=1 * DAY)
    d = add(store, "d", created_ago=0, used_ago=0)
    size = max(e.size for e in store.entries())  # entries differ by a few bytes of metadata
    assert [i.key for i in store.prune(older_than=7 * DAY, dry_run=True)] == [a.key]
    assert [i.key for i in store.prune(unused_for=3 * DAY, dry_run=True)] == [b.key]
    # LRU order is b (5 d), c (1 d), a (0.5 d), d (now)
    assert [i.key for i in store.prune(max_bytes=2 * size, dry_run=True)] == [b.key, c.key]
    assert len(store.entries()) == 4  # dry runs touch nothing
    # Age rules first: removing a (old) already helps the cap, so only b goes by LRU.
    removed = store.prune(max_bytes=2 * size, older_than=7 * DAY)
    assert [i.key for i in removed] == [a.key, b.key]
    assert sorted(i.key for i in store.entries()) == sorted([c.key, d.key])


def test_prune_skips_busy_entries(store):
    a, b = add(store, "a", used_ago=2 * DAY), add(store, "b", used_ago=DAY)
    with KeyLock(store.root / "locks" / f"{a.key}.lock"):
        assert [i.key for i in store.prune(max_bytes=0)] == [b.key]
    assert [i.key for i in store.entries()] == [a.key]


# -- the CLI: dir -------------------------------------------------------------------------

def test_dir_reports_where_and_why(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("THEANOLITE_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def where():
        code, out, err = cli("dir", "--json", cache_dir=False)
        assert code == 0 and err == ""
        doc = json.loads(out)
        return doc["path"], doc["reason"], doc["exists"]

    with config.change_flags(compiledir=""):
        assert where() == (str(tmp_path / "home/.cache/theanolite"),
                           "default ~/.cache/theanolite", False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert where()[:2] == (str(tmp_path / "xdg/theanolite"), "$XDG_CACHE_HOME/theanolite")
        monkeypatch.setenv("THEANOLITE_CACHE_DIR", str(tmp_path / "env"))
        assert where()[:2] == (str(tmp_path / "env"), "$THEANOLITE_CACHE_DIR")
    with config.change_flags(compiledir=str(tmp_path / "flag")):  # what the compiler uses
        assert where()[:2] == (str(tmp_path / "flag"), "compiledir in $THEANOLITE_FLAGS")
        assert resolve_cache_dir(config.compiledir)[0] == tmp_path / "flag"
    assert not (tmp_path / "home").exists() and not (tmp_path / "env").exists()
    code, out, _ = cli("dir")
    assert code == 0 and out.startswith(f"{tmp_path / 'cache'}  (--cache-dir)")


# -- list ---------------------------------------------------------------------------------

def test_list_table_and_sorting(store, cli):
    big = add(store, "big", module_size=3 * 2**20, created_ago=3 * DAY, used_ago=2 * 3600,
              hits=17)
    small = add(store, "small", created_ago=DAY + 60, used_ago=DAY, hits=0,
                summary="add(x, y)\x1b[31m")
    code, out, err = cli("list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    sizes = {i.key: format_size(i.size) for i in store.entries()}
    assert sizes[small.key].endswith(" KiB") and sizes[big.key] == "3.0 MiB"
    assert lines[0].split() == ["KEY", "SIZE", "AGE", "LAST", "USED", "HITS", "SUMMARY"]
    assert lines[1].split() == [small.key[:12], *sizes[small.key].split(), "1", "d", "never",
                                "0", "add(x,", "y)\\x1b[31m"]  # control chars escaped
    assert lines[2].split() == [big.key[:12], "3.0", "MiB", "3", "d", "2", "h", "ago", "17",
                                "graph", "big"]
    assert lines[3].startswith("2 entries, 3.0 MiB in ")
    assert [line[:12] for line in cli("list", "--sort", "size")[1].splitlines()[1:3]] == [
        big.key[:12], small.key[:12]]
    assert [line[:12] for line in cli("list", "--sort", "hits", "--reverse")[1]
            .splitlines()[1:3]] == [small.key[:12], big.key[:12]]
    assert [line[:12] for line in cli("list", "--sort", "age")[1].splitlines()[1:3]] == [
        big.key[:12], small.key[:12]]


def test_list_json(store, cli):
    entry = add(store, "a", hits=3)
    code, out, _ = cli("list", "--json")
    (doc,) = json.loads(out)
    assert code == 0 and doc["key"] == entry.key and doc["hits"] == 3
    assert doc["summary"] == "graph a" and doc["path"] == str(entry.path)
    assert doc["size"] == store.entries()[0].size
    # global options work after the subcommand too
    code, after, _ = cli("list", "--cache-dir", str(store.root), "--json", cache_dir=False)
    assert code == 0 and after == out


def test_empty_and_missing_caches(store, cli, tmp_path):
    assert cli("list") == (0, f"0 entries, 0 B in {store.root}\n", "")
    for command in (["list"], ["stats"], ["verify"], ["info", "abc"], ["clear", "--yes"],
                    ["prune"], ["export", str(tmp_path / "b.tar.gz")]):
        code = main(["--cache-dir", str(tmp_path / "nowhere"), *command])
        assert code == 2, command
    assert not (tmp_path / "nowhere").exists()


def test_one_line_errors_without_traceback(store, cli, capsys):
    ga, gb = _two_graphs_sharing_a_first_digit()
    a, _ = add(store, ga), add(store, gb)
    for args, needle in ((["info", a.key[0]], "ambiguous"), (["info", "0123"], "no cache entry"),
                         (["info", "not-hex"], "not a key"),
                         (["--cache-dir", "/nonexistent/x", "list"], "no cache directory"),
                         (["import", str(store.root / "nope.tgz")], "cannot read bundle")):
        code, out, err = cli(*args)
        assert code == 2 and out == "", args
        assert err.startswith("theanolite-cache: error: ") and needle in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
    code, _, err = cli("prune", "--older-than", "7")
    assert code == 2 and "duration" in err
    assert cli("frobnicate")[0] == 2 and cli()[0] == 2


# -- info, stats --------------------------------------------------------------------------

def test_info_by_prefix(store, cli):
    a, b = add(store, "a", hits=1), add(store, "b")
    code, out, _ = cli("info", a.key[:8])
    assert code == 0
    for needle in (a.key, str(a.module_path), str(a.c_source_path), "graph a",
                   "codegen_version", "gcc 13", platform_tag(), "hits       1"):
        assert needle in out, needle
    code, out, _ = cli("info", a.key[:8], "--json", "--diff", b.key[:8])
    doc = json.loads(out)
    assert doc["key"] == a.key and doc["meta"]["key_parts"]["flags"]["value"] == "-O2"
    assert doc["differs_from"] == {"key": b.key, "parts": ["graph"]}
    assert "differs from" in cli("info", a.key, "--diff", b.key)[1]


def test_stats(store, cli):
    add(store, "a", created_ago=5 * DAY, hits=4)
    add(store, "b", created_ago=DAY)
    store.lookup(make_key(parts_of("never-built")))
    with config.change_flags(cache_max_size="500MB"):
        code, out, _ = cli("stats", "--json")
        text = cli("stats")[1]
    doc = json.loads(out)
    assert code == 0 and doc["entries"] == 2 and doc["hits"] == 4
    assert doc["misses"] == 1 and doc["compiles"] == 2 and doc["size_cap"] == 500 * 2**20
    assert doc["oldest_created"] < doc["newest_created"] and doc["reason"] == "--cache-dir"
    assert "500.0 MiB" in text and "5 d ago" in text and "compiles     2" in text


# -- clear --------------------------------------------------------------------------------

class FakeTTY:
    def __init__(self, answer: str) -> None:
        self.answer = answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answer


def test_clear_needs_confirmation(store, cli, monkeypatch):
    add(store, "a")
    code, _, err = cli("clear")  # pytest's stdin is not a terminal
    assert code == 2 and "--yes" in err and len(store.entries()) == 1
    monkeypatch.setattr(sys, "stdin", FakeTTY("n\n"))
    code, _, err = cli("clear")
    assert code == 1 and "Delete all 1 entries" in err and "aborted" in err
    assert len(store.entries()) == 1
    monkeypatch.setattr(sys, "stdin", FakeTTY("y\n"))
    assert cli("clear")[0] == 0 and store.entries() == []
    add(store, "b")
    monkeypatch.setattr(sys, "stdin", None)
    code, out, _ = cli("clear", "--yes", "--json")
    assert code == 0 and json.loads(out)["deleted"] == 1 and store.entries() == []


# -- prune, verify ------------------------------------------------------------------------

def test_prune_command(store, cli):
    old = add(store, "old", created_ago=8 * DAY, used_ago=0)
    idle = add(store, "idle", created_ago=4 * DAY, used_ago=4 * DAY)
    lru = add(store, "lru", created_ago=DAY, used_ago=2 * 3600)
    fresh = add(store, "fresh")
    code, out, _ = cli("prune", "--older-than", "7d", "--dry-run")
    assert code == 0 and "would remove" in out and old.key[:12] in out
    assert len(store.entries()) == 4
    code, out, _ = cli("prune", "--older-than", "7d", "--unused-for", "3d", "--json")
    doc = json.loads(out)
    assert code == 0 and sorted(doc["removed"]) == sorted([old.key, idle.key])
    assert doc["freed_bytes"] > 0
    size = max(e.size for e in store.entries())  # entries differ by a few bytes of metadata
    code, out, _ = cli("prune", "--max-size", f"{size + 10}")
    assert code == 0 and lru.key[:12] in out and "removed 1 entries" in out
    assert [i.key for i in store.entries()] == [fresh.key]
    with config.change_flags(cache_max_size=0):  # no rule: the configured cap
        assert cli("prune")[0] == 0 and store.entries() == []


def test_verify_quarantines_and_exits_1(store, cli):
    good, bad = add(store, "good"), add(store, "bad")
    assert cli("verify") == (0, "2 ok, 0 quarantined, 0 unsafe, 0 busy\n", "")
    data = bytearray(bad.module_path.read_bytes())
    data[100] ^= 0xFF
    bad.module_path.write_bytes(bytes(data))
    code, out, _ = cli("verify")
    assert code == 1 and f"corrupt      {bad.key[:12]}" in out and "quarantine" in out
    assert [i.key for i in store.entries()] == [good.key]
    assert len(os.listdir(store.root / "quarantine")) == 1
    code, out, _ = cli("verify", "--json")
    assert code == 0 and json.loads(out)["ok"] == [good.key]


# -- export, import -----------------------------------------------------------------------

def test_export_import_commands(store, cli, tmp_path):
    a, b = add(store, "a"), add(store, "b")
    code, out, _ = cli("export", str(tmp_path / "one.zip"), a.key[:10])
    assert code == 0 and "exported 1 entries" in out
    code, out, _ = cli("export", str(tmp_path / "all.tar.gz"), "--json")
    assert code == 0 and sorted(json.loads(out)["keys"]) == sorted([a.key, b.key])
    fresh = tmp_path / "fresh"
    code, out, _ = cli("--cache-dir", str(fresh), "import", str(tmp_path / "one.zip"),
                       cache_dir=False)
    assert code == 0 and "imported 1 entries" in out
    code, out, _ = cli("--cache-dir", str(fresh), "import", str(tmp_path / "all.tar.gz"),
                       "--json", cache_dir=False)
    assert json.loads(out)["imported"] == [b.key] and json.loads(out)["skipped"] == [a.key]
    assert sorted(CacheStore(fresh).keys()) == sorted([a.key, b.key])
    assert cli("export", str(tmp_path / "x.zip"), "0000")[0] == 2
    (tmp_path / "junk.tar.gz").write_bytes(b"junk")
    code, _, err = cli("import", str(tmp_path / "junk.tar.gz"))
    assert code == 2 and "not a tar or zip archive" in err


def test_python_dash_m_list_json(store, tmp_path):
    entry = add(store, "a", hits=2)
    env = {**os.environ, "PYTHONPATH": _PACKAGE_PARENT, "THEANOLITE_CACHE_DIR": str(store.root)}
    env.pop("THEANOLITE_FLAGS", None)
    done = subprocess.run([sys.executable, "-m", "theanolite.cache", "list", "--json"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (doc,) = json.loads(done.stdout)
    assert doc["key"] == entry.key and doc["hits"] == 2
