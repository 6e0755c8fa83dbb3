"""Races on theanolite.cache with real processes: many publishers on one empty cache,
a builder killed with SIGKILL mid-build, lock files that die with their process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

import theanolite
from theanolite.cache.errors import CacheWarning, LockTimeout
from theanolite.cache.keys import make_key
from theanolite.cache.locks import KeyLock
from theanolite.cache.store import CacheStore

_PACKAGE_PARENT = str(Path(theanolite.__file__).resolve().parents[1])
PARTS = {"graph": "g" * 1000, "codegen_version": "1", "platform": "test"}
KEY = make_key(PARTS)

# A worker process: optionally waits for the "go" file, then publishes KEY. Its build
# appends its pid to out/builds (the build counter); in "hang" mode it announces
# itself in out/building and sleeps until killed.
WORKER = r"""
import hashlib, json, os, sys, time
from theanolite.cache.store import CacheStore

args = json.loads(sys.argv[1])
out = args["out"]

def build(tmp):
    fd = os.open(os.path.join(out, "builds"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, b"%d\n" % os.getpid())
    os.close(fd)
    (tmp / "mod.so").write_bytes(b"\x7fELF" + b"m" * 20000)
    if args["mode"] == "hang":
        open(os.path.join(out, "building"), "w").close()
        time.sleep(120)
    time.sleep(args["build_seconds"])  # hold the lock while the others pile up on it
    (tmp / "src.c").write_text("int f(void) { return 1; }\n")
    return "mod.so", "src.c"

open(os.path.join(out, "ready-%d" % args["idx"]), "w").close()
while args["wait_go"] and not os.path.exists(os.path.join(out, "go")):
    time.sleep(0.002)
entry = CacheStore(args["root"]).publish(args["key"], args["parts"], "race", build)
print(json.dumps({"module": str(entry.module_path),
                  "sha256": hashlib.sha256(entry.module_path.read_bytes()).hexdigest(),
                  "meta_sha256": entry.meta["module"]["sha256"]}))
"""


def spawn(tmp_path: Path, idx: int, mode: str = "publish", wait_go: bool = True,
          build_seconds: float = 0.0) -> subprocess.Popen:
    args = {"root": str(tmp_path / "cache"), "out": str(tmp_path / "out"), "idx": idx,
            "mode": mode, "wait_go": wait_go, "build_seconds": build_seconds,
            "key": KEY, "parts": PARTS}
    (tmp_path / "out").mkdir(exist_ok=True)
    # Import the same theanolite as this process (installed, or a source checkout).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [_PACKAGE_PARENT, *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(args)], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(cond, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the worker processes")
        time.sleep(0.005)


def build_here(tmp: Path) -> tuple[str, str]:
    (tmp / "mod.so").write_bytes(b"\x7fELF" + b"p" * 100)
    (tmp / "src.c").write_text("int f(void) { return 2; }\n")
    return "mod.so", "src.c"


def test_eight_processes_publishing_one_key_build_it_once(tmp_path):
    procs = [spawn(tmp_path, i, build_seconds=0.2) for i in range(8)]
    out = tmp_path / "out"
    try:
        wait_for(lambda: len(list(out.glob("ready-*"))) == 8)
        (out / "go").touch()
        store = CacheStore(tmp_path / "cache")
        # Readers take no lock: while the race runs, a lookup sees no entry or a whole
        # one, never a partial one (which would warn "corrupt").
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)
            while any(p.poll() is None for p in procs):
                store.lookup(KEY)
                time.sleep(0.002)
        results = [p.communicate(timeout=30) for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    for p, (stdout, stderr) in zip(procs, results):
        assert p.returncode == 0, stderr
    outs = [json.loads(stdout) for stdout, _ in results]
    assert len((out / "builds").read_text().splitlines()) == 1
    assert len({o["module"] for o in outs}) == 1
    assert all(o["sha256"] == o["meta_sha256"] for o in outs)
    entry = store.lookup(KEY)
    assert entry is not None and str(entry.module_path) == outs[0]["module"]
    assert os.listdir(tmp_path / "cache" / "tmp") == []


def _kill_mid_build(tmp_path: Path) -> None:
    proc = spawn(tmp_path, 0, mode="hang", wait_go=False)
    try:
        wait_for(lambda: (tmp_path / "out" / "building").exists() or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()[1]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()


def test_sigkill_mid_build_leaves_no_entry_and_no_stale_lock(tmp_path):
    _kill_mid_build(tmp_path)
    store = CacheStore(tmp_path / "cache")
    assert store.lookup(KEY) is None and not store.entry_dir(KEY).exists()
    lock = KeyLock(tmp_path / "cache" / "locks" / f"{KEY}.lock")
    assert lock.try_acquire(), "the lock of a killed process must be free"
    lock.release()
    assert len(os.listdir(tmp_path / "cache" / "tmp")) == 1  # its half-built dir
    entry = store.publish(KEY, PARTS, "after the kill", build_here)
    assert store.lookup(KEY) == entry and entry.module_path.read_bytes().endswith(b"p")
    assert os.listdir(tmp_path / "cache" / "tmp") == []  # publish swept the dead dir


def test_waiting_publisher_takes_over_from_a_killed_builder(tmp_path):
    proc = spawn(tmp_path, 0, mode="hang", wait_go=False)
    store = CacheStore(tmp_path / "cache")
    result: dict[str, object] = {}

    def waiter() -> None:
        try:
            result["entry"] = store.publish(KEY, PARTS, "waiter", build_here,
                                            lock_timeout=30)
        except BaseException as e:  # reported by the main thread
            result["error"] = e

    try:
        wait_for(lambda: (tmp_path / "out" / "building").exists() or proc.poll() is not None)
        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.1)
        assert thread.is_alive()  # blocked on the dying builder's lock
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    thread.join(30)
    assert "error" not in result, result.get("error")
    assert store.lookup(KEY) == result["entry"]


def test_cleanup_tmp_removes_a_killed_builders_dir(tmp_path):
    _kill_mid_build(tmp_path)
    store = CacheStore(tmp_path / "cache")
    removed = store.cleanup_tmp()
    assert any(name.startswith(KEY + ".") for name in removed)
    assert os.listdir(tmp_path / "cache" / "tmp") == []
    assert os.listdir(tmp_path / "cache" / "locks") == []  # no entry: lock file pruned


def test_lock_timeout(tmp_path):
    path = tmp_path / "k.lock"
    with KeyLock(path):
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            KeyLock(path).acquire(timeout=0.1)
        assert 0.09 <= time.monotonic() - start < 2
        assert not KeyLock(path).try_acquire()
    assert KeyLock(path).try_acquire()


def test_unlinking_a_held_lock_never_gives_two_holders(tmp_path):
    path = tmp_path / "k.lock"
    holder = KeyLock(path)
    holder.acquire()
    waiter = KeyLock(path)
    thread = threading.Thread(target=waiter.acquire, kwargs={"timeout": 10})
    thread.start()
    time.sleep(0.05)  # the waiter has opened the old file and blocks on it
    holder.release(unlink=True)
    thread.join(10)
    assert waiter.held
    assert not KeyLock(path).try_acquire()  # the waiter holds the file now at `path`
    waiter.release()
