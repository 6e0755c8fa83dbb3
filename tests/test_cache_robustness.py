"""Robustness of the compiled-module cache with real graphs compiled through the C
compiler (issue #6): concurrent compilers, a compiler killed mid-build, corrupted and
unsafe entries, a read-only or full cache, and the size cap.

The store's own contracts (publish/lookup/evict on fake modules) are tested in
test_cache_store.py and test_cache_concurrency.py; these tests go through
``theanolite.function`` -> ``ccodegen.build.get_module`` -> ``CacheStore``, in child
processes (each with its own cache dir) wherever a fresh process matters: a module
loaded once stays loaded in its process, so reloading a rebuilt entry needs a new one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.cache import cli
from theanolite.cache.locks import KeyLock
from theanolite.cache.store import CacheStore
from theanolite.ccodegen import build, stats

ROOT = Path(__file__).resolve().parents[1]
CXX = shutil.which(theano.config.cxx) if theano.config.cxx else None
pytestmark = pytest.mark.skipif(CXX is None, reason="needs a C compiler (config.cxx)")

INPUT = np.array([0.25, -1.0, 2.0])

# One child process: builds graph k of a family (same structure, the constant differs,
# so each k has its own key and entries of about the same size), calls it, reports.
CHILD = r"""
import json, os, sys, time, warnings
import numpy as np
args = json.loads(sys.argv[1])
import theanolite as theano, theanolite.tensor as T
from theanolite.ccodegen import build, stats
if args.get("go"):  # barrier: all children start compiling at the same moment
    open(args["ready"], "w").close()
    while not os.path.exists(args["go"]):
        time.sleep(0.002)
results = []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for k in args["graphs"]:
        x = T.dvector("x")
        f = theano.function([x], T.tanh(x) * (k + 1.5) + k)
        value = f(np.array([0.25, -1.0, 2.0]))
        results.append({"k": k, "value": value.tolist(),
                        "program": type(f.maker.program).__name__,
                        "key": build.key_of(f.maker.fgraph, theano.config.cxx,
                                            theano.config.c_key_flags())})
print(json.dumps({"stats": stats.snapshot(), "results": results,
                  "warnings": [[w.category.__name__, str(w.message)] for w in caught]}),
      flush=True)
if args.get("hold"):  # keep the modules loaded until the parent closes stdin
    sys.stdin.read()
"""


def expected(k: float) -> np.ndarray:
    return np.tanh(INPUT) * (k + 1.5) + k


def child_env(cache: Path, flags: str = "", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "THEANOLITE_FLAGS"}
    env.update(PYTHONPATH=str(ROOT), THEANOLITE_FLAGS=f"compiledir={cache}{flags}", **extra)
    return env


def spawn(cache: Path, graphs: list[float], flags: str = "", stdin=subprocess.DEVNULL,
          extra_env: dict[str, str] | None = None, start_new_session: bool = False,
          **args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps({"graphs": graphs, **args})],
        env=child_env(cache, flags, **(extra_env or {})), stdin=stdin,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=start_new_session)


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def run(cache: Path, graphs: list[float], flags: str = "", **kw) -> dict:
    return finish(spawn(cache, graphs, flags, **kw))


def check_values(report: dict, program: str = "CProgram") -> None:
    for r in report["results"]:
        np.testing.assert_allclose(r["value"], expected(r["k"]), rtol=1e-13)
        assert r["program"] == program, r


def keys_of(report: dict) -> dict[float, str]:
    return {r["k"]: r["key"] for r in report["results"]}


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def wait_for(cond, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def fresh_process_state(monkeypatch, tmp_path):
    """In-process tests: no module memoized from earlier tests (keys do not depend on
    the cache dir), and a private system temp dir to check for leftovers."""
    monkeypatch.setattr(build, "_LOADED", {})
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    return systmp


# Graphs compiled once into a template cache (module fixture); tests start from copies.
TEMPLATE_GRAPHS = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 9.0]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, dict[float, str]]:
    cache = tmp_path_factory.mktemp("template") / "cache"
    report = run(cache, TEMPLATE_GRAPHS)
    check_values(report)
    assert report["stats"]["compiles"] == len(TEMPLATE_GRAPHS)
    return cache, keys_of(report)


@pytest.fixture
def prebuilt(template, tmp_path) -> tuple[Path, dict[float, str]]:
    """This test's own cache dir, holding the entries of TEMPLATE_GRAPHS; their keys."""
    src, keys = template
    shutil.copytree(src, tmp_path / "cache", symlinks=True)  # modes and mtimes too
    return tmp_path / "cache", dict(keys)


def compile_here(k: float):
    x = T.dvector("x")
    return theano.function([x], T.tanh(x) * (k + 1.5) + k)


# -- 1. concurrency ----------------------------------------------------------------------

def test_eight_processes_compile_each_key_once(tmp_path, capsys):
    cache, sync = tmp_path / "cache", tmp_path / "sync"
    sync.mkdir()
    shared = [0.5, 1.5]
    procs = []
    try:
        for i in range(8):
            graphs = shared + [10 + i % 4]  # 2 keys for all, 4 keys for 2 each
            graphs = graphs[i % 3:] + graphs[:i % 3]  # different orders: more collisions
            procs.append(spawn(cache, graphs, go=str(sync / "go"),
                               ready=str(sync / f"ready-{i}")))
        wait_for(lambda: len(list(sync.glob("ready-*"))) == 8, "the children to start")
        (sync / "go").touch()
        reports = [finish(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for rep in reports:
        check_values(rep)
        assert rep["warnings"] == []
    keys = {r["key"] for rep in reports for r in rep["results"]}
    assert len(keys) == 6
    # Every key has an entry, and the compiles of all processes add up to one per key.
    assert sum(rep["stats"]["compiles"] for rep in reports) == len(keys)
    assert sum(rep["stats"]["disk_hits"] for rep in reports) == 3 * 8 - len(keys)
    store = CacheStore(cache)
    assert {i.key for i in store.entries()} == keys
    assert store.stats()["compiles"] == len(keys)
    assert os.listdir(cache / "tmp") == [] and not (cache / "quarantine").exists()
    code, out = run_cli(capsys, "verify", "--cache-dir", str(cache))
    assert code == 0 and out.endswith("6 ok, 0 quarantined, 0 unsafe, 0 busy\n")


# -- 2. crash safety ---------------------------------------------------------------------

def make_slow_compiler(tmp_path: Path) -> Path:
    """A compiler wrapper: with $TL_SLOW_MARKER set, a compile (not the version query)
    creates the marker and sleeps instead of compiling."""
    wrapper = tmp_path / "slowcc"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ -n "$TL_SLOW_MARKER" ]; then\n'
        '  case " $* " in *" -shared "*) touch "$TL_SLOW_MARKER"; exec sleep 120;; esac\n'
        "fi\n"
        f'exec {CXX} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_sigkill_mid_compile_leaves_no_entry_and_no_lock(tmp_path, capsys):
    cache, marker = tmp_path / "cache", tmp_path / "compiling"
    flags = f",cxx={make_slow_compiler(tmp_path)}"
    # Its own process group, so that the orphaned "compilers" can be ended afterwards.
    proc = spawn(cache, [3.0], flags, extra_env={"TL_SLOW_MARKER": str(marker)},
                 start_new_session=True)
    try:
        wait_for(lambda: marker.exists() or proc.poll() is not None, "the compiler to start")
        assert proc.poll() is None, proc.communicate()[1]
    finally:
        proc.kill()  # SIGKILL to the Python process, mid-compile
        proc.communicate()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its compiler processes, now orphans
        except ProcessLookupError:
            pass
    assert proc.returncode == -signal.SIGKILL
    store = CacheStore(cache)
    assert list(store.keys()) == []
    (lock_file,) = (cache / "locks").iterdir()
    key = lock_file.name.removesuffix(".lock")
    (leftover,) = os.listdir(cache / "tmp")  # the half-built dir, named after its key
    assert leftover.startswith(key + ".")
    lock = KeyLock(lock_file)
    lock.acquire(timeout=5)  # free at once: the kernel dropped the dead process's flock
    lock.release()
    # The leftover is not an entry: nothing lists, verifies or loads it.
    code, out = run_cli(capsys, "list", "--json", "--cache-dir", str(cache))
    assert code == 0 and json.loads(out) == []
    code, out = run_cli(capsys, "verify", "--cache-dir", str(cache))
    assert code == 0 and out.endswith("0 ok, 0 quarantined, 0 unsafe, 0 busy\n")
    assert store.lookup(key) is None
    # The next process rebuilds (sweeping the dead build) and works.
    again = run(cache, [3.0], flags)
    check_values(again)
    assert again["stats"]["compiles"] == 1 and again["warnings"] == []
    assert keys_of(again) == {3.0: key}
    assert os.listdir(cache / "tmp") == []
    assert store.lookup(key) is not None


# -- 3. corruption -----------------------------------------------------------------------

def _module(d: Path) -> Path:
    meta = json.loads((d / "meta.json").read_text())
    return d / meta["module"]["name"]


def _truncate(d: Path) -> None:
    path = _module(d)
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def _flip_bit(d: Path) -> None:
    path = _module(d)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x04
    path.write_bytes(bytes(data))


def _break_meta_syntax(d: Path) -> None:
    (d / "meta.json").write_text('{"format": 1, "key": ')


def _invalid_meta(d: Path) -> None:  # valid JSON, but no module record
    (d / "meta.json").write_text(json.dumps({"format": 1, "key": d.name}))


def _nested_meta(d: Path) -> None:  # valid-looking JSON that overflows the parser
    (d / "meta.json").write_text("[" * 100_000)


def _drop_meta(d: Path) -> None:
    (d / "meta.json").unlink()


CORRUPTIONS = {0.0: _truncate, 1.0: _flip_bit, 2.0: _break_meta_syntax, 3.0: _invalid_meta,
               4.0: _nested_meta, 5.0: _drop_meta}


def test_corrupt_entries_are_quarantined_and_rebuilt_with_one_warning(prebuilt, capsys):
    cache, keys = prebuilt
    graphs = list(CORRUPTIONS)
    keys = {k: keys[k] for k in graphs}
    store = CacheStore(cache)

    def corrupt_all() -> None:
        for k, corrupt in CORRUPTIONS.items():
            corrupt(store.entry_dir(keys[k]))

    corrupt_all()
    for k, key in keys.items():  # `info` reads without verifying: it must fail cleanly
        code, _ = run_cli(capsys, "info", key[:16], "--cache-dir", str(cache))
        assert code == (0 if CORRUPTIONS[k] in (_truncate, _flip_bit) else 1)
    second = run(cache, graphs)
    check_values(second)
    assert second["stats"]["compiles"] == len(graphs)  # each one rebuilt
    assert len(second["warnings"]) == len(graphs), second["warnings"]
    for k, key in keys.items():
        (w,) = [w for w in second["warnings"] if key in w[1]]  # exactly one per entry
        assert w[0] == "CacheWarning" and "corrupt" in w[1] and "quarantine" in w[1]
    quarantined = os.listdir(cache / "quarantine")
    assert sorted(q.split(".")[0] for q in quarantined) == sorted(keys.values())
    assert os.listdir(cache / "tmp") == []
    code, out = run_cli(capsys, "verify", "--cache-dir", str(cache))
    total = len(TEMPLATE_GRAPHS)
    assert code == 0 and out.endswith(f"{total} ok, 0 quarantined, 0 unsafe, 0 busy\n")

    corrupt_all()  # the rebuilt entries, now found by `verify` instead of a load
    code, out = run_cli(capsys, "verify", "--cache-dir", str(cache))
    assert code == 1, out
    for key in keys.values():
        assert f"corrupt      {key[:12]}" in out
    n_bad = len(graphs)
    assert out.endswith(f"{total - n_bad} ok, {n_bad} quarantined, 0 unsafe, 0 busy\n")
    assert len(list(store.keys())) == total - len(graphs)


# -- 4. security -------------------------------------------------------------------------

def _group_writable_dir(d: Path) -> None:
    os.chmod(d, 0o770)


def _world_writable_module(d: Path) -> None:
    os.chmod(_module(d), 0o606)


def _owned_by_nobody(d: Path) -> None:
    for p in (d, *d.iterdir()):
        os.chown(p, 65534, 65534)


def check_unsafe_entries_are_rebuilt(prebuilt, unsafe: dict) -> None:
    """Make the entries of ``unsafe`` unsafe, and check a new process refuses them (one
    warning), moves them aside (one more) and rebuilds them, and loads a safe one."""
    cache, keys = prebuilt
    graphs = [*unsafe, 9.0]
    store = CacheStore(cache)
    for k, make_unsafe in unsafe.items():
        make_unsafe(store.entry_dir(keys[k]))
    report = run(cache, graphs)
    check_values(report)
    # Refused entries are not loaded: each is rebuilt (the safe one is a disk hit).
    assert report["stats"]["compiles"] == len(unsafe)
    assert report["stats"]["disk_hits"] == 1
    assert len(report["warnings"]) == 2 * len(unsafe), report["warnings"]
    for k in unsafe:
        refused, moved = [w for w in report["warnings"] if keys[k] in w[1]]
        assert refused[0] == moved[0] == "CacheWarning"
        assert "refusing" in refused[1] and "rebuilding" in moved[1]
    # The refused entries were moved aside whole, the new ones are private.
    assert sorted(q.split(".")[0] for q in os.listdir(cache / "quarantine")) == sorted(
        keys[k] for k in unsafe)
    assert sorted(store.verify().ok) == sorted(keys.values())


def test_group_or_world_writable_entries_are_never_loaded(prebuilt):
    check_unsafe_entries_are_rebuilt(prebuilt, {0.0: _group_writable_dir,
                                                1.0: _world_writable_module})


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="only root can make files owned by another user (chown)")
def test_entries_owned_by_another_user_are_never_loaded(prebuilt):
    check_unsafe_entries_are_rebuilt(prebuilt, {2.0: _owned_by_nobody})


@pytest.mark.parametrize("where,mode", [("root", 0o770), ("root", 0o707), ("shard", 0o775)],
                         ids=["root-g+w", "root-o+w", "shard-g+w"])
def test_unsafe_cache_dir_builds_outside_the_cache(prebuilt, tmp_path, where, mode):
    cache, keys = prebuilt
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    unsafe = cache if where == "root" else cache / keys[9.0][:2]
    os.chmod(unsafe, mode)
    before = tree(unsafe)
    report = run(cache, [9.0], extra_env={"TMPDIR": str(systmp)})
    check_values(report)  # C still, compiled in a private temp dir
    assert report["stats"]["compiles"] == 1 and report["stats"]["disk_hits"] == 0
    assert report["warnings"]
    assert any("writable by group or others" in m for _, m in report["warnings"])
    assert tree(unsafe) == before  # nothing written into an unsafe directory
    assert os.listdir(systmp) == []  # and the temp builds were cleaned up


# -- 5. read-only cache, full disk ---------------------------------------------------------

def _under(path: object, root: Path) -> bool:
    """Whether ``path`` (a path argument of an os function; may be an fd) is in root."""
    try:
        full = os.path.abspath(os.fspath(path))
    except TypeError:
        return False
    return full == str(root) or full.startswith(str(root) + os.sep)


def _fd_under(fd: int, root: Path) -> bool:
    try:
        return _under(os.readlink(f"/proc/self/fd/{fd}"), root)
    except OSError:
        return False


def make_read_only(root: Path, monkeypatch) -> None:
    """chmod a-w on every directory; as root (who ignores modes) simulate a read-only
    filesystem instead: every call that would change something under ``root`` fails
    with EROFS."""
    if os.geteuid() != 0:
        for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
            os.chmod(d, 0o500)
        return

    def guard(name: str, path_args: int, writes=lambda *a, **k: True):
        real = getattr(os, name)

        def fake(*args, **kwargs):
            if any(_under(a, root) for a in args[:path_args]) and writes(*args, **kwargs):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(args[0]))
            return real(*args, **kwargs)
        monkeypatch.setattr(os, name, fake)

    def open_writes(path, flags, *a, **k):
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))

    guard("open", 1, open_writes)
    for name in ("mkdir", "rmdir", "unlink", "chmod", "utime"):
        guard(name, 1)
    for name in ("rename", "replace"):
        guard(name, 2)


def make_writable(root: Path) -> None:
    if os.geteuid() != 0:
        for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
            os.chmod(d, 0o700)


def test_read_only_cache_still_serves_and_builds_elsewhere(prebuilt, fresh_process_state):
    cache, _ = prebuilt
    with theano.config.change_flags(compiledir=str(cache)), pytest.MonkeyPatch.context() as mp:
        before = tree(cache)
        make_read_only(cache, mp)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = stats.snapshot()
                served = compile_here(4.0)  # an entry from before: a hit, no warning
                assert caught == []
                assert stats.snapshot()["disk_hits"] == start["disk_hits"] + 1
                fresh = compile_here(5.5)
                assert stats.snapshot()["compiles"] == start["compiles"] + 1
            np.testing.assert_allclose(served(INPUT), expected(4.0), rtol=1e-13)
            np.testing.assert_allclose(fresh(INPUT), expected(5.5), rtol=1e-13)
            assert type(fresh.maker.program).__name__ == "CProgram"
            assert len(caught) == 1 and "cache unavailable" in str(caught[0].message)
        finally:
            mp.undo()
            make_writable(cache)
    assert tree(cache) == before  # nothing half-written
    assert os.listdir(fresh_process_state) == []  # the temp build dir was removed


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("call", ["write", "rename"])
def test_disk_full_during_publish(tmp_path, fresh_process_state, call):
    cache = tmp_path / "cache"
    real = getattr(os, call)
    if call == "write":  # meta.json of the new entry cannot be written
        def fake(fd, data):
            return _enospc() if _fd_under(fd, cache) else real(fd, data)
    else:  # the finished entry cannot be renamed into place (ENOSPC: no room in the dir)
        def fake(src, dst, **kw):
            publishing = _under(src, cache / "tmp") and not _under(dst, cache / "tmp")
            return _enospc() if publishing else real(src, dst, **kw)
    with theano.config.change_flags(compiledir=str(cache)):
        with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings(record=True) as caught:
            mp.setattr(os, call, fake)
            warnings.simplefilter("always")
            f = compile_here(6.0)
    np.testing.assert_allclose(f(INPUT), expected(6.0), rtol=1e-13)
    assert type(f.maker.program).__name__ == "CProgram"
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert "cache unavailable" in str(caught[0].message)
    assert "No space left" in str(caught[0].message)
    store = CacheStore(cache)
    assert list(store.keys()) == [] and os.listdir(cache / "tmp") == []
    assert not (cache / "quarantine").exists()
    assert os.listdir(fresh_process_state) == []


def test_no_writable_place_at_all_runs_in_python(tmp_path, fresh_process_state):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)

    def no_temp_dir(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with theano.config.change_flags(compiledir=str(cache)), pytest.MonkeyPatch.context() as mp:
        make_read_only(cache, mp)
        mp.setattr(tempfile, "mkdtemp", no_temp_dir)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                f = compile_here(6.5)
        finally:
            mp.undo()
            make_writable(cache)
    np.testing.assert_allclose(f(INPUT), expected(6.5), rtol=1e-13)
    assert type(f.maker.program).__name__ == "PyProgram"
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2, messages
    assert "cache unavailable" in messages[0]
    assert "no writable directory" in messages[1] and "in Python" in messages[1]
    assert tree(cache) == set()


# -- 6. size cap -------------------------------------------------------------------------

def test_size_cap_evicts_lru_but_not_new_or_held_entries(prebuilt):
    cache, keys = prebuilt
    store = CacheStore(cache)
    for k in (3.0, 4.0, 5.0, 9.0):  # keep three: 0, 1, 2
        assert store.remove(keys.pop(k))
    size = max(i.size for i in store.entries())

    def age(k: float, seconds: float) -> None:
        t = time.time() - seconds
        os.utime(store.entry_dir(keys[k]) / "hits", (t, t))

    holder = spawn(cache, [0.0], stdin=subprocess.PIPE, hold=True)
    try:
        line = holder.stdout.readline()  # 0.0 is loaded (a disk hit) and stays loaded
        assert line, holder.communicate()[1]
        assert json.loads(line)["stats"]["disk_hits"] == 1
        age(0.0, 300)  # the least recently used entry, but held open
        age(1.0, 200)
        age(2.0, 100)
        cap = f",cache_max_size={int(size * 2.5)}"
        report = run(cache, [23.0], cap)
        check_values(report)
        keys.update(keys_of(report))
        # LRU eviction down to 2.5 entries: 1 and 2 go; 0 is held, 23 just published.
        assert {i.key for i in store.entries()} == {keys[0.0], keys[23.0]}
    finally:
        holder.stdin.close()  # the holder exits: its flock dies with it
        try:
            holder.wait(timeout=60)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
    assert holder.returncode == 0, holder.stderr.read()
    # Nobody holds 0 any more; a tiny cap leaves only the entry just published.
    report = run(cache, [24.0], ",cache_max_size=1")
    check_values(report)
    assert [i.key for i in store.entries()] == [keys_of(report)[24.0]]
    assert store.verify().ok == [keys_of(report)[24.0]]
