"""Sum, Max and Min in C over any axes, dtypes and layouts, against perform."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T

from ccodegen_support import PY_RAW, assert_same, c_function, session_cache  # noqa: F401

AXES = [None, 0, 1, 2, (0, 2), (1, 2), (0, 1)]


@pytest.fixture(scope="module", params=["float64", "float32", "int64", "uint8", "bool"])
def reducers(request):
    dt = request.param
    x = T.tensor3(dtype=dt)
    outs = [T.sum(x, axis=a) for a in AXES]
    if dt != "bool":
        outs += [T.max(x, axis=a) for a in AXES] + [T.min(x, axis=a) for a in AXES]
    f = c_function([x], outs)
    assert len(f.maker.program.partition.steps) == 1, f.maker.program.partition.steps
    return dt, f, theano.function([x], outs, mode=PY_RAW)


def _data(dt, shape, kind, rng):
    if dt == "bool":
        a = rng.integers(0, 2, shape).astype(bool)
    elif dt.startswith("float"):
        a = rng.standard_normal(shape).astype(dt)
    else:
        a = rng.integers(0, 200, shape).astype(dt)
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "negative":
        return np.ascontiguousarray(a[::-1, :, ::-1])[::-1, :, ::-1]
    if kind == "transposed":
        return np.ascontiguousarray(a.transpose(2, 1, 0)).transpose(2, 1, 0)
    return a


@pytest.mark.parametrize("kind", ["c", "fortran", "negative", "transposed"])
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 5, 1), (7, 1, 33)])
def test_reductions_match_perform(reducers, kind, shape):
    dt, f_c, f_py = reducers
    x = _data(dt, shape, kind, np.random.default_rng(sum(shape)))
    for k, (c, p) in enumerate(zip(f_c(x), f_py(x))):
        if dt.startswith("float"):
            assert c.dtype == p.dtype and c.shape == p.shape
            np.testing.assert_allclose(c, p, rtol=1e-5 if dt == "float32" else 1e-13, err_msg=str(k))
        else:
            assert_same(c, p, where=f"output {k}")


def test_nan_and_signed_zero(reducers):
    dt, f_c, f_py = reducers
    if not dt.startswith("float"):
        pytest.skip("float special values")
    x = np.full((2, 3, 4), -0.0, dt)
    x[0, 1, 2] = np.nan
    for c, p in zip(f_c(x), f_py(x)):
        assert_same(c, p)


def test_empty_reductions(reducers):
    dt, f_c, f_py = reducers
    x = np.zeros((0, 3, 2), dt)
    if dt == "bool":
        for c, p in zip(f_c(x), f_py(x)):
            assert_same(c, p)
        return
    with pytest.raises(ValueError, match=r"Max.*cannot reduce an input of shape \(0, 3, 2\): zero-size"):
        f_c(x)


def test_sum_of_empty_axis_is_zero():
    x = T.dmatrix()
    f = c_function([x], [T.sum(x, axis=1), T.sum(x)])
    a, b = f(np.zeros((3, 0)))
    np.testing.assert_array_equal(a, np.zeros(3))
    assert b.shape == () and b == 0
