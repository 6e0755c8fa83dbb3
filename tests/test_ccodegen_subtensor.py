"""Subtensor, IncSubtensor, AdvancedSubtensor1 and AdvancedIncSubtensor1 in C
(ccodegen/subtensor_c.py), against perform and numpy."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.ccodegen.registry import c_entry
from theanolite.ccodegen.subtensor_c import (AdvancedIncSubtensor1C, AdvancedSubtensor1C,
                                             IncSubtensorC, SubtensorC)
from theanolite.tensor.subtensor import IncSubtensor, SliceSpec, Subtensor
from theanolite.tensor.subtensor_advanced import AdvancedIncSubtensor1, AdvancedSubtensor1

from ccodegen_support import C_OPT, PY_RAW, assert_same, c_function, session_cache  # noqa: F401


def _k(value, dtype):
    return T.constant(np.asarray(value, dtype=dtype))


def _copy(t):
    """An elementwise copy, so a view is read by a C kernel inside the segment (a view
    that is itself a graph output is recomputed by Python from the exported base)."""
    return t * _k(1, t.dtype)


def _inc(r, index, y):
    """numpy reference of IncSubtensor's increment (perform's np.add call)."""
    region = r[index + (Ellipsis,)] if isinstance(index, tuple) else r[index, ...]
    np.add(region, y, out=region, casting="unsafe")
    return r


def _set(r, index, y):
    r[index] = y
    return r


def _add_at(r, idx, y):
    np.add.at(r, idx, np.asarray(y).astype(r.dtype))
    return r


# (name, graph from the symbols s, numpy reference from the values n)
SPECS = [
    ("x[1:3]", lambda s: _copy(s.x[1:3]), lambda n: n.x[1:3]),
    ("x[::-1]", lambda s: _copy(s.x[::-1]), lambda n: n.x[::-1]),
    ("x[i, :, ::-1]", lambda s: _copy(s.x[s.i, :, ::-1]), lambda n: n.x[n.i, :, ::-1]),
    ("x[-1, 1:-1:2, j]", lambda s: _copy(s.x[-1, 1:-1:2, s.j]), lambda n: n.x[-1, 1:-1:2, n.j]),
    ("x[i, j]", lambda s: _copy(s.x[s.i, s.j]), lambda n: n.x[n.i, n.j]),
    ("x[1, 2, i] (0-d)", lambda s: _copy(s.x[1, 2, s.i]), lambda n: n.x[1, 2, n.i, ...]),
    ("x[3:1] (empty)", lambda s: _copy(s.x[3:1]), lambda n: n.x[3:1]),
    ("x[:, ::-2, 1:]", lambda s: _copy(s.x[:, ::-2, 1:]), lambda n: n.x[:, ::-2, 1:]),
    ("x[10:] (empty)", lambda s: _copy(s.x[10:]), lambda n: n.x[10:]),
    ("x[-10:, -100:100:3]", lambda s: _copy(s.x[-10:, -100:100:3]), lambda n: n.x[-10:, -100:100:3]),
    ("view of views", lambda s: _copy(s.x[::-1][1:, ::-1][:, 0]), lambda n: n.x[::-1][1:, ::-1][:, 0]),
    ("set x[i, 1:3] = 2 x[0, :2]",
     lambda s: T.set_subtensor(s.x[s.i, 1:3], s.x[0, :2] * _k(2, s.x.dtype)),
     lambda n: _set(n.x.copy(), (n.i, slice(1, 3)), n.x[0, :2] * n.x.dtype.type(2))),
    ("inc x[:, ::-1, 1] += v", lambda s: T.inc_subtensor(s.x[:, ::-1, 1], s.v),
     lambda n: _inc(n.x.copy(), (slice(None), slice(None, None, -1), 1), n.v)),
    ("inc x[1:, i] += ys (float64)", lambda s: T.inc_subtensor(s.x[1:, s.i], s.ys),
     lambda n: _inc(n.x.copy(), (slice(1, None), n.i), n.ys)),
    ("set x[1, i, -1] = ys (0-d region)", lambda s: T.set_subtensor(s.x[1, s.i, -1], s.ys),
     lambda n: _set(n.x.copy(), (1, n.i, -1), n.ys)),
    ("inc x[a:b:s] += 2 (symbolic slice)", lambda s: T.inc_subtensor(s.x[s.a:s.b:s.s], _k(2, s.x.dtype)),
     lambda n: _inc(n.x.copy(), (slice(n.a, n.b, n.s),), n.x.dtype.type(2))),
    ("set x[::-1, :, j] = v", lambda s: T.set_subtensor(s.x[::-1, :, s.j], s.v),
     lambda n: _set(n.x.copy(), (slice(None, None, -1), slice(None), n.j), n.v)),
    ("x[idx]", lambda s: _copy(s.x[s.idx]), lambda n: n.x[n.idx]),
    ("x[idx32]", lambda s: _copy(s.x[s.idx32]), lambda n: n.x[n.idx32]),
    ("v[idx32] (1-d)", lambda s: _copy(s.v[s.idx32]), lambda n: n.v[n.idx32]),
    ("inc x[idx] += 2 x[idx]", lambda s: T.inc_subtensor(s.x[s.idx], s.x[s.idx] * _k(2, s.x.dtype)),
     lambda n: _add_at(n.x.copy(), n.idx, n.x[n.idx] * n.x.dtype.type(2))),
    ("set x[idx] = ys", lambda s: T.set_subtensor(s.x[s.idx], s.ys),
     lambda n: _set(n.x.copy(), n.idx, np.asarray(n.ys).astype(n.x.dtype))),
    ("inc x[idx] += x[0] (row broadcast)", lambda s: T.inc_subtensor(s.x[s.idx], s.x[0]),
     lambda n: _add_at(n.x.copy(), n.idx, n.x[0])),
    ("set v[idx] = w (last duplicate wins)", lambda s: T.set_subtensor(s.v[s.idx], s.w),
     lambda n: _set(n.v.copy(), n.idx, n.w)),
    ("inc v[idx] += w (duplicates add up)", lambda s: T.inc_subtensor(s.v[s.idx], s.w),
     lambda n: _add_at(n.v.copy(), n.idx, n.w)),
    ("inc v[idx32] += ys (float64)", lambda s: T.inc_subtensor(s.v[s.idx32], s.ys),
     lambda n: _add_at(n.v.copy(), n.idx32, n.ys)),
]
NAMES = ("x", "v", "w", "i", "j", "idx", "idx32", "ys", "a", "b", "s")


def _symbols(dt):
    return SimpleNamespace(
        x=T.tensor3("x", dtype=dt), v=T.vector("v", dtype=dt), w=T.vector("w", dtype=dt),
        i=T.lscalar("i"), j=T.iscalar("j"), idx=T.lvector("idx"), idx32=T.ivector("idx32"),
        ys=T.dscalar("ys"), a=T.lscalar("a"), b=T.lscalar("b"), s=T.lscalar("s"))


@pytest.fixture(scope="module", params=["float64", "float32", "int64"])
def table(request):
    dt = request.param
    s = _symbols(dt)
    inputs = [getattr(s, k) for k in NAMES]
    outs = [build(s) for _, build, _ in SPECS]
    f = c_function(inputs, outs)
    # Indexing mixed with elementwise ops and a reduction-free graph: one C function.
    assert len(f.maker.program.partition.steps) == 1, f.maker.program.partition.steps
    nodes = f.maker.program.partition.steps[0].nodes
    for op in (Subtensor, IncSubtensor, AdvancedSubtensor1, AdvancedIncSubtensor1):
        assert any(type(n.op) is op for n in nodes), op
    return dt, f, theano.function(inputs, outs, mode=PY_RAW)


def _array(rng, shape, dt, layout="c"):
    if dt.startswith("float"):
        a = rng.standard_normal(shape).astype(dt)
        if a.size > 2:
            a.flat[1], a.flat[2] = -0.0, np.nan
    else:
        a = rng.integers(-50, 50, shape).astype(dt)
    if layout == "transposed":
        return np.ascontiguousarray(a.transpose(2, 1, 0)).transpose(2, 1, 0)
    if layout == "reversed":
        return np.ascontiguousarray(a[::-1])[::-1]
    return a


def _values(dt, case, rng):
    """Inputs of one call (numpy values by symbol name)."""
    if case == "c":
        x, v, i, j, idx, idx32, abs_ = (_array(rng, (4, 5, 3), dt), _array(rng, (5,), dt), -1, 2,
                                        [0, 3, -1, 0, -4], [1, -2, 3], (3, 0, -2))
    elif case == "strided":
        x, v, i, j, idx, idx32, abs_ = (_array(rng, (6, 5, 4), dt, "transposed"),
                                        _array(rng, (5,), dt, "reversed"), 0, -3,
                                        [3, -4, 2], [-1, 0], (-100, 100, 1))
    else:  # empty index vectors and an empty symbolic slice
        x, v, i, j, idx, idx32, abs_ = (_array(rng, (4, 5, 3), dt), _array(rng, (5,), dt), 2, 0,
                                        [], [], (2, 2, 1))
    w = _array(rng, (len(idx),), dt)
    return SimpleNamespace(x=x, v=v, w=w, i=np.int64(i), j=np.int32(j), idx=np.array(idx, np.int64),
                           idx32=np.array(idx32, np.int32), ys=np.float64(1.75),
                           a=np.int64(abs_[0]), b=np.int64(abs_[1]), s=np.int64(abs_[2]))


@pytest.mark.parametrize("case", ["c", "strided", "empty"])
def test_indexing_matches_perform_and_numpy(table, case):
    dt, f_c, f_py = table
    n = _values(dt, case, np.random.default_rng(7))
    args = [getattr(n, k) for k in NAMES]
    before = [a.copy() for a in args]
    for (name, _, ref), c, p in zip(SPECS, f_c(*args), f_py(*args)):
        assert_same(c, p, where=f"{name} vs perform")
        assert_same(c, np.asarray(ref(n)), where=f"{name} vs numpy")
    for a, b in zip(args, before):  # nothing was written in place
        np.testing.assert_array_equal(a, b)


def test_entries_and_versions():
    x, i, n = T.dmatrix(), T.lscalar(), T.lscalar()
    assert isinstance(c_entry(x[i, 1:].owner), SubtensorC)
    assert isinstance(c_entry(T.set_subtensor(x[:n], 0.0).owner), IncSubtensorC)
    assert isinstance(c_entry(x[T.lvector()].owner), AdvancedSubtensor1C)
    assert isinstance(c_entry(T.inc_subtensor(x[T.lvector()], 1.0).owner), AdvancedIncSubtensor1C)
    # A symbolic slice bound decides the output shape: perform runs it (see subtensor_c).
    assert c_entry(x[:n].owner) is None
    assert c_entry(x[::n].owner) is None
    # ... unless it is a constant input.
    assert isinstance(c_entry(Subtensor([SliceSpec(None, "int64", None)])(x, _k(2, "int64")).owner),
                      SubtensorC)
    # Each entry carries its own version (bumped when its C changes), in the cache key.
    node = x[i].owner
    for cls in (SubtensorC, IncSubtensorC, AdvancedSubtensor1C, AdvancedIncSubtensor1C):
        assert "version" in cls.__dict__
        assert cls().node_version(node)[:len(cls.version)] == cls.version


def test_constant_slice_input_and_uint_indices():
    x = T.dmatrix()
    u, uv = T.scalar(dtype="uint8"), T.vector(dtype="uint16")
    outs = [_copy(Subtensor([SliceSpec("int8", None, "int64")])(x, _k(-2, "int8"), _k(-1, "int64"))),
            _copy(x[u]), _copy(x[uv]), T.inc_subtensor(x[uv], 1.0), T.set_subtensor(x[1:, u], 3.0)]
    f = c_function([x, u, uv], outs)
    g = theano.function([x, u, uv], outs, mode=PY_RAW)
    xv = np.arange(12.0).reshape(3, 4)
    for c, p in zip(f(xv, np.uint8(2), np.array([2, 0, 2], np.uint16)),
                    g(xv, np.uint8(2), np.array([2, 0, 2], np.uint16))):
        assert_same(c, p)


# ----------------------------------------------------------------------------- errors

@pytest.fixture(scope="module")
def failing():
    x, ym, yv = T.dmatrix("x"), T.dmatrix("ym"), T.dvector("yv")
    i1, i2, s = T.lscalar("i1"), T.lscalar("i2"), T.lscalar("s")
    u, ig, ii = T.scalar("u", dtype="uint64"), T.lvector("ig"), T.lvector("ii")
    ug = T.vector("ug", dtype="uint64")
    inputs = [x, ym, yv, i1, i2, s, u, ig, ii, ug]
    outs = [_copy(x[i1, ::-1]), _copy(x[1:, u]), _copy(x[ig]), _copy(x[ug]),
            T.inc_subtensor(x[ii], ym), T.set_subtensor(x[::s], 0.0), T.set_subtensor(x[i2], yv)]
    good = dict(x=np.zeros((3, 4)), ym=np.ones((1, 4)), yv=np.ones(4), i1=np.int64(0), i2=np.int64(0),
                s=np.int64(1), u=np.uint64(1), ig=np.array([0]), ii=np.array([0]),
                ug=np.array([0], np.uint64))
    return ([v.name for v in inputs], good, c_function(inputs, outs),
            theano.function(inputs, outs, mode=PY_RAW))


def _both_raise(failing, exc, **bad):
    names, good, f_c, f_py = failing
    args = [bad.get(k, good[k]) for k in names]
    with pytest.raises(exc) as c_err:
        f_c(*args)
    with pytest.raises(exc) as py_err:
        f_py(*args)
    return str(c_err.value), str(py_err.value)


@pytest.mark.parametrize("bad", [dict(i1=np.int64(3)), dict(i1=np.int64(-4))])
def test_basic_index_out_of_bounds(failing, bad):
    c_msg, _ = _both_raise(failing, IndexError, **bad)
    assert c_msg.startswith("Subtensor{") and "out of bounds for axis" in c_msg, c_msg
    assert "input shape (3, 4)" in c_msg


def test_huge_unsigned_index_is_index_error(failing):
    # (perform raises OverflowError here: numpy cannot take the Python int)
    names, good, f_c, _ = failing
    with pytest.raises(IndexError, match=r"Subtensor\{1:, uint64\}: index 9223372036854775813 is out "
                                         r"of bounds for axis 1 with size 4"):
        f_c(*[np.uint64(2**63 + 5) if k == "u" else good[k] for k in names])


@pytest.mark.parametrize("bad", [dict(ig=np.array([0, 5, -9])), dict(ig=np.array([2, 3])),
                                 dict(ug=np.array([1, 2**64 - 1], np.uint64)),
                                 dict(ii=np.array([0, -4])), dict(ii=np.array([7, 3]))])
def test_vector_index_out_of_bounds_has_performs_message(failing, bad):
    c_msg, py_msg = _both_raise(failing, IndexError, **bad)
    assert c_msg == py_msg
    assert c_msg.startswith("AdvancedSubtensor1: index") or c_msg.startswith("AdvancedIncSubtensor1{")


@pytest.mark.parametrize("bad", [dict(ym=np.ones((2, 4))), dict(ii=np.array([0, 1])),
                                 dict(yv=np.ones(3)), dict(yv=np.ones(1))])
def test_value_shape_mismatch_has_performs_message(failing, bad):
    c_msg, py_msg = _both_raise(failing, ValueError, **bad)
    assert c_msg == py_msg
    assert "region of shape" in c_msg


def test_zero_step_is_value_error(failing):
    c_msg, py_msg = _both_raise(failing, ValueError, s=np.int64(0))
    assert c_msg.startswith("IncSubtensor{Set;::int64}: slice step cannot be zero"), c_msg
    assert "step cannot be zero" in py_msg


def test_error_then_success_reuses_the_plan(failing):
    names, good, f_c, _ = failing
    with pytest.raises(IndexError):
        f_c(*[np.int64(9) if k == "i1" else good[k] for k in names])
    out = f_c(*[good[k] for k in names])
    assert_same(out[0], good["x"][0, ::-1])


# ----------------------------------------------------------------------------- in place

@pytest.mark.parametrize("dt", ["float64"])
def test_gather_gradient_runs_in_place(dt):
    """A training step: W -= lr * grad((W[idx] ** 2).sum()) is AdvancedIncSubtensor1 into
    zeros, made in place by the rewrites and written in place by the segment."""
    W, idx = T.matrix("W", dtype=dt), T.lvector("idx")
    cost = (T.tanh(W[idx]) ** 2).sum()
    new_w = W - _k(0.5, dt) * T.grad(cost, W)
    f = c_function([W, idx], [new_w], mode=C_OPT)
    nodes = f.maker.fgraph.toposort()
    inc = [n for n in nodes if isinstance(n.op, AdvancedIncSubtensor1)]
    assert len(inc) == 1 and inc[0].op.inplace, nodes
    segs = f.maker.program.partition.segments
    assert len(f.maker.program.partition.steps) == 1 and inc[0].outputs[0] in segs[0].inplace
    w = np.random.default_rng(3).standard_normal((5, 3)).astype(dt)
    ids = np.array([1, 4, 1, -1, 0])
    g_ref = np.zeros_like(w)
    t = np.tanh(w[ids])
    np.add.at(g_ref, ids, 2 * t * (1 - t * t))
    ref = w
    for _ in range(2):  # the step runs twice on fresh buffers: no stale state
        (w2,) = f(w, ids)
        tol = 1e-6 if dt == "float32" else 1e-14
        np.testing.assert_allclose(w2, ref - 0.5 * g_ref, rtol=tol, atol=tol)
        assert w2.dtype == dt


def test_basic_inc_gradient_runs_in_place():
    W = T.dmatrix("W")
    cost = T.exp(W[1:, ::-2]).sum()
    f = c_function([W], [W - 0.5 * T.grad(cost, W)], mode=C_OPT)
    inc = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, IncSubtensor)]
    assert len(inc) == 1 and inc[0].op.inplace
    assert inc[0].outputs[0] in f.maker.program.partition.segments[0].inplace
    w = np.arange(12.0).reshape(3, 4) / 10
    g = np.zeros_like(w)
    g[1:, ::-2] = np.exp(w[1:, ::-2])
    np.testing.assert_allclose(f(w)[0], w - 0.5 * g, rtol=1e-14)


def test_in_place_into_a_segment_input():
    """The destroyed value comes from a Python node (AdvancedSubtensor has no C): the
    segment writes into that array and returns it."""
    x, idx, k = T.dmatrix("x"), T.lvector("idx"), T.lvector("k")
    out1 = AdvancedIncSubtensor1(inplace=True)(x[idx, 1:], _k(1.0, "float64"), k)
    out2 = IncSubtensor([SliceSpec(None, None, -2)], inplace=True, set_instead_of_inc=True)(
        x[idx, :2], _k(5.0, "float64"))
    f = c_function([x, idx, k], [_copy(out1), out2])
    seg = f.maker.program.partition.segments[0]
    assert len(seg.inplace) == 2 and seg.out_alias
    xv = np.arange(12.0).reshape(3, 4)
    a, b = f(xv, np.array([0, 2]), np.array([0, 0, -1]))
    np.testing.assert_array_equal(a, [[3, 4, 5], [10, 11, 12]])
    np.testing.assert_array_equal(b, [[0, 1], [5, 5]])
    np.testing.assert_array_equal(xv, np.arange(12.0).reshape(3, 4))


# ----------------------------------------------------------------------------- properties

@pytest.fixture(scope="module")
def random_graph():
    x, i, idx = T.dmatrix("x"), T.lscalar("i"), T.lvector("idx")
    a, b, s = T.lscalar("a"), T.lscalar("b"), T.lscalar("s")
    outs = [_copy(x[i, ::-1]), T.inc_subtensor(x[a:b:s], 2.5), _copy(x[idx]),
            T.inc_subtensor(x[idx], x[i]), T.set_subtensor(x[a:b:s, ::-2], x[i, ::-2]), _copy(x[:, 1:]),
            T.set_subtensor(x[idx, ...], x[idx] * 2.0)]
    inputs = [x, i, idx, a, b, s]
    return c_function(inputs, outs), theano.function(inputs, outs, mode=PY_RAW)


def _compare(random_graph, xv, i, idx, a, b, s):
    f_c, f_py = random_graph
    args = [xv, np.int64(i), np.array(idx, np.int64), np.int64(a), np.int64(b), np.int64(s)]
    try:
        expected = f_py(*args)
    except IndexError:
        with pytest.raises(IndexError):
            f_c(*args)
        return False
    for c, p in zip(f_c(*args), expected):
        assert_same(c, p)
    return True


@pytest.mark.parametrize("shape, i, idx", [((3, 0), 1, [1, -3]), ((2, 0), -2, []), ((1, 3), 0, [])])
def test_zero_size_inputs_and_results(random_graph, shape, i, idx):
    assert _compare(random_graph, np.zeros(shape), i, idx, 0, 5, 1)
    assert _compare(random_graph, np.ones(shape), i, idx, 5, 0, 1)  # empty slices


def test_index_into_an_empty_axis_is_index_error(random_graph):
    assert not _compare(random_graph, np.zeros((0, 3)), 0, [], 0, 5, 1)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(0, 5), cols=st.integers(1, 4), i=st.integers(-6, 6),
       idx=st.lists(st.integers(-6, 6), max_size=6), a=st.integers(-8, 8), b=st.integers(-8, 8),
       s=st.integers(-4, 4).filter(bool))
def test_random_indices_match_perform(random_graph, rows, cols, i, idx, a, b, s):
    xv = np.arange(rows * cols, dtype=np.float64).reshape(rows, cols)
    _compare(random_graph, xv, i, idx, a, b, s)
