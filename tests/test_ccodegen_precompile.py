"""theanolite-precompile end to end: build into the cache and a bundle, --check, and a
deployment on a machine with no compiler; plus the cache-miss explanation and the
compile_on_cache_miss flag."""
from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.ccodegen import stats
from theanolite.configparser import config
from theanolite.tools import precompile as cli

REPO = Path(__file__).resolve().parents[1]

MODELS = '''
import numpy as np
import theanolite as theano
import theanolite.tensor as T
from theanolite.precompile import register


@register
def logistic():
    x = T.dmatrix("x")
    return theano.function([x], 1 / (1 + T.exp(-x)))


@register(name="grad")
def build_grad():
    x = T.dvector("x")
    w = theano.shared(np.linspace(-1, 1, 3), name="w")
    cost = T.sum(T.tanh(x * w) ** 2)
    return theano.function([x], [cost, T.grad(cost, w)])
'''

RUN_MODELS = '''
import json, sys, warnings
import numpy as np
sys.path.insert(0, sys.argv[1])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import models
    from theanolite.ccodegen import stats
    f, g = models.logistic(), models.build_grad()
    out = {"programs": [type(h.maker.program).__name__ for h in (f, g)],
           "logistic": f(np.zeros((2, 2))).tolist(),
           "grad": [np.asarray(v).tolist() for v in g(np.ones(3))],
           "stats": stats.snapshot(),
           "warnings": [str(w.message) for w in caught]}
print(json.dumps(out))
'''


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THEANOLITE")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@pytest.fixture
def models(tmp_path: Path) -> Path:
    d = tmp_path / "app"
    d.mkdir()
    (d / "models.py").write_text(MODELS)
    return d / "models.py"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "theanolite.tools.precompile", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_precompile_check_bundle_and_deploy_without_compiler(models, tmp_path):
    build_cache = tmp_path / "build-cache"
    env = _env()
    check = _cli(str(models), "--check", "--cache-dir", str(build_cache), env=env)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "missing" in check.stdout and not list(build_cache.glob("??/*"))

    bundle = tmp_path / "app.tar.gz"
    built = _cli(str(models), "--jobs", "2", "--cache-dir", str(build_cache), "--bundle",
                 str(bundle), "--json", env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    doc = json.loads(built.stdout)
    assert {r["name"]: r["status"] for r in doc["results"]} == {"logistic": "built",
                                                                "grad": "built"}
    assert all(r["backend"] == "C" and len(r["keys"]) == 1 for r in doc["results"])
    assert bundle.exists()
    again = _cli(str(models), "--jobs", "1", "--cache-dir", str(build_cache), env=env)
    assert again.returncode == 0 and again.stdout.count("cached") == 2, again.stdout
    assert _cli(str(models), "--check", "--cache-dir", str(build_cache), env=env).returncode == 0

    # The target machine: no compiler anywhere (fake ones record being called), cxx=''.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    called = tmp_path / "compiler-called"
    for name in ("gcc", "cc", "clang"):
        fake = bin_dir / name
        fake.write_text(f"#!/bin/sh\ntouch {called}\nexit 1\n")
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    deploy_cache = tmp_path / "deploy-cache"
    target = _env(PATH=str(bin_dir), THEANOLITE_FLAGS="cxx=",
                  THEANOLITE_CACHE_DIR=str(deploy_cache))
    imported = subprocess.run([sys.executable, "-m", "theanolite.cache", "import", str(bundle)],
                              capture_output=True, text=True, env=target, timeout=300)
    assert imported.returncode == 0, imported.stderr
    run = subprocess.run([sys.executable, "-c", RUN_MODELS, str(models.parent)],
                         capture_output=True, text=True, env=target, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["programs"] == ["CProgram", "CProgram"]
    assert out["stats"]["compiles"] == 0 and out["stats"]["disk_hits"] == 2
    assert out["stats"]["fallbacks"] == 0 and out["warnings"] == []
    np.testing.assert_allclose(out["logistic"], 0.5)
    w = np.linspace(-1, 1, 3)
    np.testing.assert_allclose(out["grad"][0], np.sum(np.tanh(w) ** 2))
    np.testing.assert_allclose(out["grad"][1], 2 * np.tanh(w) * (1 - np.tanh(w) ** 2))
    assert not called.exists()
    st = subprocess.run([sys.executable, "-m", "theanolite.cache", "stats", "--json"],
                        capture_output=True, text=True, env=target, timeout=300)
    assert json.loads(st.stdout)["hits"] == 2
    # --check on the deployment machine passes too: the entries serve without a compiler.
    assert _cli(str(models), "--check", env=target).returncode == 0


def test_without_compiler_a_missing_graph_runs_in_python(tmp_path):
    x = T.dvector("x")
    with config.change_flags(cxx="", compiledir=str(tmp_path)):
        f = theano.function([x], T.exp(x) + 1)
    assert type(f.maker.program).__name__ == "PyProgram"
    np.testing.assert_allclose(f(np.zeros(2)), [2.0, 2.0])


def test_compile_on_cache_miss_false_falls_back_with_one_warning(tmp_path):
    x = T.dvector("x")
    before = stats.snapshot()
    with config.change_flags(compile_on_cache_miss=False, compiledir=str(tmp_path)):
        import theanolite.ccodegen.linker as c_linker
        c_linker._warned_not_compiled = False
        with pytest.warns(RuntimeWarning, match="compile_on_cache_miss is False") as rec:
            f = theano.function([x], T.exp(x) * 3)
            g = theano.function([x], T.exp(x) * 5)
    assert len([w for w in rec if "compile_on_cache_miss" in str(w.message)]) == 1
    assert stats.compiles == before["compiles"]
    assert type(f.maker.program).__name__ == type(g.maker.program).__name__ == "PyProgram"
    np.testing.assert_allclose(f(np.zeros(2)), [3.0, 3.0])


def test_explain_cache_misses_names_the_differing_part(tmp_path, caplog):
    x = T.dvector("x")
    with config.change_flags(compiledir=str(tmp_path)):
        theano.function([x], T.tanh(x) * 7)
        with config.change_flags(explain_cache_misses=True, cxxflags="-O2 -fPIC"), \
                caplog.at_level(logging.WARNING, logger="theanolite.cache"):
            theano.function([x], T.tanh(x) * 7)
            theano.function([x], T.sinh(x) * 11)
    messages = [r.getMessage() for r in caplog.records if r.name == "theanolite.cache"]
    assert any("differs in flags: 'cxxflags=-O3" in m and "'cxxflags=-O2 -fPIC'" in m
               for m in messages), messages
    assert any("no entry was built from this graph" in m for m in messages), messages


def test_size_cap_is_enforced_after_publishing(tmp_path):
    x = T.dvector("x")
    from theanolite.cache import CacheStore
    with config.change_flags(compiledir=str(tmp_path)):
        theano.function([x], T.tanh(x) * 13)
        store = CacheStore(tmp_path)
        first = [i.key for i in store.entries()]
        size = store.entries()[0].size
        with config.change_flags(cache_max_size=int(size * 1.5)):
            f = theano.function([x], T.tanh(x) * 17)
    keys = [i.key for i in store.entries()]
    assert len(keys) == 1 and keys != first  # the older entry went, the new one stayed
    np.testing.assert_allclose(f(np.zeros(1)), [0.0])
