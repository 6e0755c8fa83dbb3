"""Tests of theanolite.cache.keys: the key is a pure, stable, unambiguous function of
named parts; each part matters; the platform tag needs no subprocess."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import sysconfig

import pytest

from theanolite.cache import keys as keys_mod
from theanolite.cache.keys import (describe_key_parts, diff_key_parts, is_key,
                                   make_key, platform_tag)


def make_parts() -> dict[str, str | bytes]:
    return {"graph": b"g0" * 100, "codegen_version": "1", "compiler": "gcc 13.2",
            "flags": "-O2 -fPIC", "platform": "x86_64-linux-test"}


def test_key_is_stable_and_pinned():
    # Pinned: a change here silently invalidates every user's cache; bump
    # KEY_FORMAT_VERSION deliberately instead.
    key = make_key({"graph": b"\x00\x01", "flags": "-O2"})
    assert key == "e372789cac1a7b2e560ef2f9624d718d76733c0dd0dda313e6e85323623f0e26"
    assert is_key(key) and make_key({"flags": "-O2", "graph": b"\x00\x01"}) == key
    # The documented framing: magic, version, count, then per sorted name
    # len(name) name type-tag len(value) value, lengths as 8-byte big-endian.
    def frame(b: bytes) -> bytes:
        return struct.pack(">Q", len(b)) + b
    expected = hashlib.sha256(
        b"theanolite-cache-key\x00" + struct.pack(">IQ", 1, 2)
        + frame(b"flags") + b"s" + frame(b"-O2")
        + frame(b"graph") + b"b" + frame(b"\x00\x01")).hexdigest()
    assert key == expected


@pytest.mark.parametrize("name", ["graph", "codegen_version", "compiler", "flags",
                                  "platform"])
def test_each_part_changes_the_key_and_is_named_by_diff(name):
    base = make_parts()
    changed = dict(base, **{name: base[name] + (b"x" if isinstance(base[name], bytes)
                                                else "x")})
    assert make_key(changed) != make_key(base)
    assert diff_key_parts(base, changed) == [name]
    # A stored entry records parts by digest; the diff works against that form too.
    assert diff_key_parts(describe_key_parts(base), changed) == [name]
    assert diff_key_parts(describe_key_parts(base), base) == []


def test_key_framing_is_unambiguous():
    keys = [make_key(p) for p in (
        {"a": "bc"}, {"ab": "c"}, {"a": "b", "c": ""}, {"a": b"bc"},
        {"a": "b\x00c"}, {"a": "bc", "b": ""})]
    assert len(set(keys)) == len(keys)
    assert diff_key_parts({"a": "1"}, {"b": "1"}) == ["a", "b"]


@pytest.mark.parametrize("bad", [{"a": 1}, {"a": None}, {"a": object()}, {1: "x"},
                                 {"": "x"}])
def test_key_rejects_live_objects(bad):
    with pytest.raises(TypeError):
        make_key(bad)
    with pytest.raises(ValueError):
        make_key({})


def test_describe_key_parts_keeps_short_strings_only():
    rec = describe_key_parts({"graph": b"g" * 5000, "flags": "-O2"})
    assert rec["flags"]["value"] == "-O2" and "value" not in rec["graph"]
    assert rec["graph"]["size"] == 5000 and len(rec["graph"]["sha256"]) == 64


def test_platform_tag_without_subprocess(monkeypatch):
    def no_subprocess(*a, **k):
        raise AssertionError("platform_tag must not spawn processes")
    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    tag = keys_mod.platform_tag.__wrapped__()
    assert tag == platform_tag()
    assert tag.startswith(os.uname().machine + "-" + sys.platform)
    assert sysconfig.get_config_var("SOABI") in tag and "numpy-abi-0x" in tag
