"""Shared helpers of the ccodegen tests: one private cache dir per test session (so a
module compiled by one test file is a cache hit for the next), modes, comparisons."""
from __future__ import annotations

import atexit
import shutil
import tempfile

import numpy as np
import pytest

import theanolite as theano
from theanolite.ccodegen.program import CProgram
from theanolite.compile.mode import Mode

SESSION_CACHE = tempfile.mkdtemp(prefix="theanolite-test-cache-")
atexit.register(shutil.rmtree, SESSION_CACHE, True)

C_RAW = Mode(linker="cvm", optimizer=None)   # exactly the graph we build, in C
PY_RAW = Mode(linker="py", optimizer=None)   # the same graph through perform
C_OPT = Mode(linker="cvm", optimizer="fast_run")


@pytest.fixture(scope="session", autouse=True)
def session_cache():
    with theano.config.change_flags(compiledir=SESSION_CACHE):
        yield SESSION_CACHE


def c_function(inputs, outputs, mode=C_RAW, **kwargs):
    """theano.function that must run in C (fails the test if it fell back to Python)."""
    f = theano.function(inputs, outputs, mode=mode, **kwargs)
    assert isinstance(f.maker.program, CProgram), "expected a C program"
    return f


def assert_same(c, ref, ulps: float = 0, where: str = "", atol: float = 0.0) -> None:
    """Equal dtype, shape and values; NaN where NaN; the sign of zeros and infinities
    too. ``ulps`` > 0 allows that many units in the last place on finite values, or an
    absolute error up to ``atol`` (for sums that cancel)."""
    c, ref = np.asarray(c), np.asarray(ref)
    assert c.dtype == ref.dtype, f"{where}: dtype {c.dtype} != {ref.dtype}"
    assert c.shape == ref.shape, f"{where}: shape {c.shape} != {ref.shape}"
    if c.dtype.kind != "f":
        np.testing.assert_array_equal(c, ref, err_msg=where)
        return
    nan_c, nan_r = np.isnan(c), np.isnan(ref)
    assert np.array_equal(nan_c, nan_r), f"{where}: NaN positions differ: {c[nan_c != nan_r]} vs {ref[nan_c != nan_r]}"
    fin = np.isfinite(ref) & np.isfinite(c)
    inf = ~nan_r & ~fin
    assert np.array_equal(c[inf], ref[inf]), f"{where}: infinities differ: {c[inf]} vs {ref[inf]}"
    if ulps == 0:
        same = (c[fin] == ref[fin]) & (np.signbit(c[fin]) == np.signbit(ref[fin]))
        assert same.all(), f"{where}: {c[fin][~same][:5]} vs {ref[fin][~same][:5]}"
    else:
        err = np.abs(c[fin].astype(np.float64) - ref[fin])
        diff = np.where(err <= atol, 0.0, err / np.spacing(np.abs(ref[fin])))
        assert (diff <= ulps).all(), f"{where}: {diff.max()} ulps > {ulps}"
