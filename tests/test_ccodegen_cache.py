"""The cache key and the compile counter of the C backend; the golden C; no compiler."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.ccodegen import build, keying, stats
from theanolite.ccodegen.partition import partition
from theanolite.compile.linker import PyProgram
from theanolite.scalar import basic as S

from ccodegen_support import C_OPT, C_RAW, c_function, session_cache  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def _key(f) -> str:
    return build.key_of(f.maker.fgraph, theano.config.cxx, theano.config.c_key_flags())


def _graph(names=("x", "y")):
    x, y = T.dmatrix(names[0]), T.dvector(names[1])
    return [x, y], T.tanh(x * y + 1.5) - T.exp(-x)


def test_renaming_variables_keeps_the_key_and_compiles_nothing():
    ins, out = _graph()
    f1 = c_function(ins, out, mode=C_OPT)
    before = stats.snapshot()
    ins2, out2 = _graph(("a", "b"))
    f2 = c_function(ins2, out2, mode=C_OPT)
    after = stats.snapshot()
    assert _key(f1) == _key(f2)
    assert after["compiles"] == before["compiles"]
    assert after["memory_hits"] == before["memory_hits"] + 1
    a, b = np.ones((2, 3)), np.arange(3.0)
    np.testing.assert_array_equal(f1(a, b), f2(a, b))


def test_only_code_changing_flags_change_the_key():
    ins, out = _graph()
    f = theano.function(ins, out, mode=C_RAW)
    fg, cxx = f.maker.fgraph, theano.config.cxx
    base = build.key_of(fg, cxx, theano.config.c_key_flags())
    for flag in theano.config.flags():
        if flag.in_c_key:
            changed = dict(theano.config.c_key_flags(), **{flag.name: "-O1 -fPIC"})
            assert build.key_of(fg, cxx, changed) != base, flag.name
    with theano.config.change_flags(on_unused_input="ignore", optimizer_verbose=True,
                                    exception_verbosity="high", cache_max_size="1GiB"):
        assert build.key_of(fg, cxx, theano.config.c_key_flags()) == base
    assert set(theano.config.c_key_flags()) == {"cxxflags"}


def test_an_op_c_code_version_is_part_of_the_key(monkeypatch):
    ins, out = _graph()
    f = theano.function(ins, out, mode=C_RAW)
    base = _key(f)
    monkeypatch.setattr(S.Tanh, "c_code_version", lambda self: (7,), raising=False)
    assert _key(f) != base
    monkeypatch.undo()
    assert _key(f) == base


def test_codegen_version_and_constants_are_in_the_key(monkeypatch):
    x = T.dvector()
    f1 = theano.function([x], x + 1.0, mode=C_RAW)
    f2 = theano.function([x], x + 2.0, mode=C_RAW)
    f3 = theano.function([x], x + T.constant(np.arange(50.0)), mode=C_RAW)
    f4 = theano.function([x], x + T.constant(np.ones(50)), mode=C_RAW)
    assert _key(f1) != _key(f2)          # inlined scalars: their value is in the C
    assert _key(f3) == _key(f4)          # run-time constants: only their type
    base = _key(f1)
    monkeypatch.setattr(keying, "CODEGEN_VERSION", keying.CODEGEN_VERSION + 1)
    assert _key(f1) != base


# A fixed graph whose generated C is pinned. If this fails you changed what the emitter,
# a template or tl_runtime.h produce: bump CODEGEN_VERSION (ccodegen/keying.py) so old
# cache entries miss, then update both constants below.
GOLDEN_VERSION = 6
GOLDEN_SHA256 = "4cb37fecc8c0dea0953e31823fb4ada8f6c602f79619cec60243b2f298a3be0d"


def _golden_source() -> str:
    """No rewrites run (they are not under test here): the graph is built as it is."""
    from theanolite.scalar.composite import Composite
    from theanolite.tensor.elemwise import Elemwise
    a, b = S.ScalarType("float64")(), S.ScalarType("float32")()
    comp = Composite([a, b], [S.switch(S.lt(a, S.as_scalar(0.0)), S.sqr(a), S.log1p(a)),
                              S.Cast("float32")(S.int_div(a, S.as_scalar(2.0)))])
    x, y = T.dmatrix("x"), T.frow("y")
    z, w = Elemwise(comp)(x, T.cast(y, "float32"))
    f = theano.function([x, y], [z * 2, w, x.T * y], mode=C_RAW)
    source, decls = build.module_source(partition(f.maker.fgraph))
    return source + "\n/* cdef */\n" + decls


def test_golden_c():
    sha = hashlib.sha256(_golden_source().encode()).hexdigest()
    if keying.CODEGEN_VERSION == GOLDEN_VERSION:
        assert sha == GOLDEN_SHA256, (
            "the generated C changed but CODEGEN_VERSION did not: bump it in "
            f"ccodegen/keying.py and update GOLDEN_VERSION/GOLDEN_SHA256 (new sha {sha})")
    else:
        pytest.fail(f"CODEGEN_VERSION is {keying.CODEGEN_VERSION}: set GOLDEN_VERSION to it and "
                    f"GOLDEN_SHA256 to {sha}")


_CHILD = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    import theanolite as theano, theanolite.tensor as T
    from theanolite.ccodegen import stats
    x = T.dvector("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = theano.function([x], T.sigmoid(x) * 3.25 + T.sqr(x))
        g = theano.function([x], T.exp(x) * 0.5)
        value = f(np.array([0.0, 1.0])).tolist() + g(np.array([0.0])).tolist()
    print(json.dumps({"stats": stats.snapshot(), "value": value,
                      "program": type(f.maker.program).__name__,
                      "warnings": [str(w.message) for w in caught]}))
""")


def _child(env_extra: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env_extra)
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env,
                         timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_cache_hit_across_processes_compiles_zero_times(tmp_path):
    env = {"THEANOLITE_CACHE_DIR": str(tmp_path / "cache")}
    first = _child(env)
    second = _child(env)
    assert first["program"] == second["program"] == "CProgram"
    assert first["stats"]["compiles"] == 2 and first["stats"]["disk_hits"] == 0
    assert second["stats"]["compiles"] == 0 and second["stats"]["disk_hits"] == 2
    assert first["value"] == second["value"]
    np.testing.assert_allclose(first["value"], [1.625, 1 / (1 + np.exp(-1)) * 3.25 + 1, 0.5])
    metas = list((tmp_path / "cache").glob("*/*/meta.json"))
    assert len(metas) == 2
    meta = json.loads(metas[0].read_text())
    assert set(meta["key_parts"]) == {"graph", "codegen", "compiler", "flags", "platform"}
    assert ") -> (" in meta["summary"] and " in C: " in meta["summary"]
    assert len(meta["c_source"]["sha256"]) == 64


def test_no_compiler_runs_in_python_with_one_warning(tmp_path):
    result = _child({"THEANOLITE_CACHE_DIR": str(tmp_path), "THEANOLITE_FLAGS": "cxx="})
    assert result["program"] == "PyProgram"
    assert result["stats"]["compiles"] == 0
    no_cc = [w for w in result["warnings"] if "no C compiler" in w]
    assert len(no_cc) == 1, result["warnings"]
    np.testing.assert_allclose(result["value"], [1.625, 1 / (1 + np.exp(-1)) * 3.25 + 1, 0.5])


def test_py_linker_never_compiles():
    x = T.dvector()
    before = stats.snapshot()
    with theano.config.change_flags(linker="py"):
        f = theano.function([x], x * 3.0)
    assert isinstance(f.maker.program, PyProgram)
    assert stats.snapshot() == before
