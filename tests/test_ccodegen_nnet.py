"""Softmax, LogSoftmax, the fused softmax-crossentropy ops, Shape_i and Shape in C:
C against perform against numpy, every layout, zero sizes, NaN/Inf, bad labels, and
the MLP training step of the benchmark as one C segment."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile.mode import Mode
from theanolite.tensor.basic import Shape, Shape_i
from theanolite.tensor.nnet.basic import LogSoftmax, Softmax
from theanolite.tensor.nnet.fused import CrossentropySoftmax1Hot, CrossentropySoftmax1HotDx
from theanolite.tools.bench.graphs import MLPSpec, build_mlp, compile_built, mlp_initial

from ccodegen_support import C_OPT, PY_RAW, assert_same, c_function, session_cache  # noqa: F401

FLOATS = ["float64", "float32"]
LABEL_DTYPES = ["int64", "int32", "int8", "uint8", "uint16", "uint64"]
XENT, XENT_DX = CrossentropySoftmax1Hot(), CrossentropySoftmax1HotDx()


def _tol(dtype: str) -> dict:
    """ulps allowed against perform (reassociated sums, SIMD exp/log) and the absolute
    error where log-softmax cancels."""
    return {"ulps": 8, "atol": 1e-14} if dtype == "float64" else {"ulps": 8, "atol": 1e-6}


# ----------------------------------------------------------------------------- numpy references

def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    x = x.astype(np.float64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    x = x.astype(np.float64)
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def np_xent(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    log_sm = np_log_softmax(x, 1)
    return -log_sm[np.arange(len(y)), y.astype(np.int64)], np.exp(log_sm)


def np_xent_dx(dnll: np.ndarray, sm: np.ndarray, y: np.ndarray) -> np.ndarray:
    onehot = np.zeros(sm.shape)
    onehot[np.arange(len(y)), y.astype(np.int64)] = 1
    return np.broadcast_to(dnll.astype(np.float64), (sm.shape[0],))[:, None] * (sm - onehot)


def _check(c, p, ref, dtype: str, where: str) -> None:
    """C equals perform (to the ulps of ``_tol``; NaN/Inf exactly), and both equal numpy."""
    assert_same(c, p, where=where, **_tol(dtype))
    rtol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(np.asarray(c, np.float64), ref, rtol=rtol, atol=rtol, err_msg=where)


def _layout(a: np.ndarray, kind: str) -> np.ndarray:
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "negative":
        flip = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[flip])[flip]
    if kind == "strided":
        big = np.zeros(tuple(2 * n + 1 for n in a.shape), a.dtype)
        view = big[tuple(slice(1, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if kind == "transposed":
        return np.ascontiguousarray(a.T).T
    return a


def _one_step(f_c, f_py, args: list, n_outputs: int) -> tuple[list, list]:
    c, p = f_c(*args), f_py(*args)
    assert len(c) == len(p) == n_outputs
    return c, p


# ----------------------------------------------------------------------------- softmax, log-softmax

# One row per output: (op class, axis, input: 0 tensor3 / 1 matrix / 2 vector, reference).
SOFTMAX_TABLE = [
    (Softmax, 0, 0, np_softmax), (Softmax, 1, 0, np_softmax), (Softmax, -1, 0, np_softmax),
    (LogSoftmax, 0, 0, np_log_softmax), (LogSoftmax, 1, 0, np_log_softmax), (LogSoftmax, 2, 0, np_log_softmax),
    (Softmax, 0, 1, np_softmax), (LogSoftmax, -1, 1, np_log_softmax), (Softmax, -1, 2, np_softmax),
]
N_SOFTMAX = len(SOFTMAX_TABLE)


@pytest.fixture(scope="module", params=FLOATS)
def softmaxes(request):
    """One C function: every row of SOFTMAX_TABLE (the axis innermost: one register
    pass per slice; not innermost: the lane passes through workspace)."""
    dt = request.param
    xs = [T.tensor3(dtype=dt), T.matrix(dtype=dt), T.vector(dtype=dt)]
    outs = [op(axis)(xs[i]) for op, axis, i, _ in SOFTMAX_TABLE]
    f = c_function(xs, outs)
    assert len(f.maker.program.partition.steps) == 1, f.maker.program.partition.steps
    return dt, f, theano.function(xs, outs, mode=PY_RAW)


def _softmax_refs(*xs: np.ndarray) -> list[np.ndarray]:
    return [ref(xs[i], axis) for _, axis, i, ref in SOFTMAX_TABLE]


@pytest.mark.parametrize("kind", ["c", "fortran", "negative", "strided", "transposed"])
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 5, 1), (7, 1, 33), (3, 2, 1)])
def test_softmax_layouts_match_perform_and_numpy(softmaxes, kind, shape):
    dt, f_c, f_py = softmaxes
    rng = np.random.default_rng(sum(shape))
    x3 = _layout((rng.standard_normal(shape) * 5).astype(dt), kind)
    x2 = _layout((rng.standard_normal(shape[1:]) * 5).astype(dt), kind)
    x1 = _layout(rng.standard_normal(shape[2]).astype(dt), kind if kind != "transposed" else "c")
    c, p = _one_step(f_c, f_py, [x3, x2, x1], N_SOFTMAX)
    for k, (a, b, r) in enumerate(zip(c, p, _softmax_refs(x3, x2, x1))):
        _check(a, b, r, dt, f"output {k}")


@pytest.mark.parametrize("shape", [(0, 3, 4), (2, 0, 4), (2, 3, 0), (0, 0, 0)])
def test_softmax_zero_size(softmaxes, shape):
    dt, f_c, f_py = softmaxes
    x3 = np.zeros(shape, dt)
    x2, x1 = np.zeros(shape[1:], dt), np.zeros(shape[2], dt)
    c, p = _one_step(f_c, f_py, [x3, x2, x1], N_SOFTMAX)
    for k, (a, b) in enumerate(zip(c, p)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"output {k}"


def test_softmax_broadcast_inputs(softmaxes):
    """Zero strides (np.broadcast_to) along and across the softmax axis."""
    dt, f_c, f_py = softmaxes
    rng = np.random.default_rng(3)
    x3 = np.broadcast_to(rng.standard_normal((1, 3, 1)).astype(dt), (2, 3, 4))
    x2 = np.broadcast_to(rng.standard_normal(5).astype(dt), (3, 5))
    x1 = np.broadcast_to(np.asarray(1.5, dt), (4,))
    c, p = _one_step(f_c, f_py, [x3, x2, x1], N_SOFTMAX)
    for k, (a, b, r) in enumerate(zip(c, p, _softmax_refs(x3, x2, x1))):
        _check(a, b, r, dt, f"output {k}")


def _special_matrix(dt: str) -> np.ndarray:
    big = np.finfo(dt).max
    inf, nan = np.inf, np.nan
    return np.array([
        [nan, 1.0, 2.0, 3.0],
        [inf, 1.0, 2.0, 3.0],
        [-inf, -inf, -inf, -inf],
        [-inf, 0.0, 1.0, -inf],
        [inf, inf, 0.0, 1.0],
        [big, -big, 0.0, big],
        [-0.0, 0.0, -0.0, 0.0],
        [1000.0, 1000.0, -1000.0, 999.0],
    ], dt)


def test_softmax_nan_inf_rows_like_perform(softmaxes):
    """Rows (axis -1: one register pass per row) and columns (axis 0: the lane passes)."""
    dt, f_c, f_py = softmaxes
    x2 = _special_matrix(dt)
    x3 = np.stack([x2, x2[::-1]]).transpose(1, 0, 2).copy()
    x1 = x2[3]
    with np.errstate(all="ignore"):
        c, p = _one_step(f_c, f_py, [x3, x2, x1], N_SOFTMAX)
        for k, (a, b) in enumerate(zip(c, p)):
            assert_same(a, b, where=f"output {k}", **_tol(dt))


@settings(max_examples=25, deadline=None)
@given(shape=st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 9)),
       kind=st.sampled_from(["c", "fortran", "negative", "strided"]), seed=st.integers(0, 2**16),
       scale=st.sampled_from([0.1, 10.0, 300.0]))
def test_softmax_random_property(softmaxes, shape, kind, seed, scale):
    dt, f_c, f_py = softmaxes
    rng = np.random.default_rng(seed)
    x3 = _layout((rng.standard_normal(shape) * scale).astype(dt), kind)
    x2, x1 = np.ascontiguousarray(x3[0]), np.ascontiguousarray(x3[0, 0])
    c, p = _one_step(f_c, f_py, [x3, x2, x1], N_SOFTMAX)
    for k, (a, b) in enumerate(zip(c, p)):
        assert_same(a, b, where=f"output {k}", **_tol(dt))
        op, axis, _, _ = SOFTMAX_TABLE[k]
        if op is Softmax:  # sums to 1 along its axis
            np.testing.assert_allclose(a.sum(axis=axis), 1, rtol=1e-5 if dt == "float32" else 1e-12)


def _workspace_bytes(f, *arrays: np.ndarray) -> int:
    """Phase 0 of the function's only segment, called through the documented entry ABI
    (segment.py): the workspace size it asks for these input shapes and strides."""
    from theanolite.ccodegen.segment import entry_name, layout
    program = f.maker.program
    seg = program.partition.segments[0]
    ffi, lay = program.module.ffi, layout(seg)
    meta = ffi.new(f"int64_t[{lay.meta_size}]")
    for (off, nd), a in zip(lay.inputs, arrays):
        meta[off:off + 2 * nd] = list(a.shape) + list(a.strides)
    nulls = [ffi.NULL] * (len(seg.inputs) + len(seg.outputs))
    rc = getattr(program.module.lib, entry_name(seg))(0, *nulls, meta, ffi.NULL, ffi.new("char[512]"))
    assert rc == 0
    return meta[1]


def test_softmax_scratch_lives_in_the_workspace():
    """Softmax over a non-innermost axis keeps one max and one sum per slice: the entry
    asks for them in its workspace (C never allocates), sized by the number of slices."""
    x = T.dmatrix()
    f = c_function([x], Softmax(0)(x))
    a = np.random.default_rng(0).standard_normal((6, 50))
    assert _workspace_bytes(f, a) >= 2 * 50 * 8
    assert _workspace_bytes(f, np.zeros((6, 500))) >= 2 * 500 * 8
    for arg in (a, a[:, ::-1], np.asfortranarray(a)):
        np.testing.assert_allclose(f(arg), np_softmax(arg, 0), rtol=1e-12)


# ----------------------------------------------------------------------------- CrossentropySoftmax1Hot

@pytest.fixture(scope="module", params=[(dt, lt) for dt in FLOATS for lt in ("int64", "uint8", "int32")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def xents(request):
    dt, lt = request.param
    x, y = T.matrix(dtype=dt), T.vector(dtype=lt)
    nll, sm = XENT(x, y)
    f = c_function([x, y], [nll, sm])
    assert len(f.maker.program.partition.steps) == 1
    return dt, lt, f, theano.function([x, y], [nll, sm], mode=PY_RAW)


@pytest.mark.parametrize("kind", ["c", "fortran", "negative", "strided", "transposed"])
@pytest.mark.parametrize("shape", [(5, 4), (1, 1), (3, 17), (16, 1)])
def test_xent_layouts_match_perform_and_numpy(xents, kind, shape):
    dt, lt, f_c, f_py = xents
    rng = np.random.default_rng(shape[0] * 31 + shape[1])
    x = _layout((rng.standard_normal(shape) * 4).astype(dt), kind)
    y = _layout(rng.integers(0, shape[1], shape[0]).astype(lt), "strided" if kind == "strided" else "c")
    c, p = _one_step(f_c, f_py, [x, y], 2)
    for k, (a, b, r) in enumerate(zip(c, p, np_xent(x, y))):
        _check(a, b, r, dt, f"output {k}")


def test_xent_nan_inf_rows_like_perform(xents):
    dt, lt, f_c, f_py = xents
    x = _special_matrix(dt)
    for labels in ([0, 0, 0, 0, 0, 0, 0, 0], [3, 1, 2, 3, 2, 1, 3, 2]):
        y = np.array(labels, lt)
        with np.errstate(all="ignore"):
            c, p = _one_step(f_c, f_py, [x, y], 2)
        for k, (a, b) in enumerate(zip(c, p)):
            assert_same(a, b, where=f"output {k} labels {labels}", **_tol(dt))
    assert np.isinf(c[0][3]) and c[0][3] > 0  # -log of an exactly-0 probability


def test_xent_zero_size_batch(xents):
    dt, lt, f_c, f_py = xents
    c, p = _one_step(f_c, f_py, [np.zeros((0, 5), dt), np.zeros(0, lt)], 2)
    for a, b in zip(c, p):
        assert_same(a, b)
    with pytest.raises(ValueError, match=r"CrossentropySoftmax1Hot: x has no classes \(shape \(0, 0\)\)"):
        f_c(np.zeros((0, 0), dt), np.zeros(0, lt))


def _messages(f_c, f_py, args, exc_class) -> tuple[str, str]:
    with pytest.raises(exc_class) as c_info:
        f_c(*args)
    with pytest.raises(exc_class) as p_info:
        f_py(*args)
    return str(c_info.value), str(p_info.value)


@pytest.mark.parametrize("bad", ["negative", "too_big", "zero_classes"])
def test_xent_bad_labels_are_index_errors(xents, bad):
    dt, lt, f_c, f_py = xents
    x = np.zeros((4, 0 if bad == "zero_classes" else 3), dt)
    labels = {"negative": [0, 1, -1, 2], "too_big": [0, 1, 2, 3], "zero_classes": [0, 0, 0, 0]}[bad]
    if lt.startswith("uint") and bad == "negative":
        labels = [0, 1, np.iinfo(lt).max, 2]
    y = np.array(labels).astype(lt)
    c_msg, p_msg = _messages(f_c, f_py, [x, y], IndexError)
    assert c_msg == p_msg
    assert c_msg.startswith("CrossentropySoftmax1Hot: label ") and "at position" in c_msg


def test_xent_label_count_mismatch_is_a_value_error(xents):
    dt, lt, f_c, f_py = xents
    c_msg, p_msg = _messages(f_c, f_py, [np.zeros((4, 3), dt), np.zeros(3, lt)], ValueError)
    assert c_msg == p_msg == "CrossentropySoftmax1Hot: 3 labels for 4 rows"


@pytest.mark.parametrize("lt", LABEL_DTYPES)
def test_every_label_dtype_is_bounds_checked(lt):
    x, y = T.dmatrix(), T.vector(dtype=lt)
    f = c_function([x, y], XENT(x, y))
    data = np.random.default_rng(1).standard_normal((3, 5))
    ok = np.array([4, 0, 2], lt)
    np.testing.assert_allclose(f(data, ok)[0], np_xent(data, ok)[0], rtol=1e-12)
    top = np.iinfo(lt).max
    for labels, shown in (([0, 5, 1], "5"), ([0, 1, top], str(top))):
        with pytest.raises(IndexError, match=f"CrossentropySoftmax1Hot: label {shown} at position"):
            f(data, np.array(labels, lt))
    if np.iinfo(lt).min < 0:
        with pytest.raises(IndexError, match=r"label -128 at position 2 is out of range for 5 classes"):
            f(data, np.array([0, 1, -128], lt))


# ----------------------------------------------------------------------------- CrossentropySoftmax1HotDx

@pytest.fixture(scope="module", params=FLOATS)
def xent_dxs(request):
    """Dx with a full dnll vector, a broadcastable one, and mixed dtypes."""
    dt = request.param
    other = "float32" if dt == "float64" else "float64"
    dnll, dnll_b, dnll_o = T.vector(dtype=dt), T.TensorType(dt, (True,))(), T.vector(dtype=other)
    dnll_i, sm, y = T.lvector(), T.matrix(dtype=dt), T.lvector()
    outs = [XENT_DX(dnll, sm, y), XENT_DX(dnll_b, sm, y), XENT_DX(dnll_o, sm, y), XENT_DX(dnll_i, sm, y)]
    ins = [dnll, dnll_b, dnll_o, dnll_i, sm, y]
    f = c_function(ins, outs)
    assert len(f.maker.program.partition.steps) == 1
    assert [o.dtype for o in outs] == [dt, dt, "float64", "float64"]
    return dt, other, f, theano.function(ins, outs, mode=PY_RAW)


def _dx_args(dt, other, sm, y, rng):
    n = sm.shape[0]
    return [rng.standard_normal(n).astype(dt), np.array([0.25], dt), rng.standard_normal(n).astype(other),
            rng.integers(-3, 4, n).astype(np.int64), sm, y]


@pytest.mark.parametrize("kind", ["c", "fortran", "negative", "strided", "transposed"])
@pytest.mark.parametrize("shape", [(5, 4), (1, 1), (3, 17), (0, 4)])
def test_xent_dx_layouts_match_perform_and_numpy(xent_dxs, kind, shape):
    dt, other, f_c, f_py = xent_dxs
    rng = np.random.default_rng(shape[0] + 7 * shape[1])
    sm = _layout(rng.random(shape).astype(dt), kind)
    y = _layout(rng.integers(0, shape[1], shape[0]).astype(np.int64), "strided" if kind == "strided" else "c")
    args = _dx_args(dt, other, sm, y, rng)
    c, p = _one_step(f_c, f_py, args, 4)
    for k, (a, b) in enumerate(zip(c, p)):
        ref = np_xent_dx(args[k], sm, y)
        _check(a, b, ref, a.dtype.name, f"output {k}")


def test_xent_dx_nan_inf_like_perform(xent_dxs):
    dt, other, f_c, f_py = xent_dxs
    sm = _special_matrix(dt)
    y = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    args = _dx_args(dt, other, sm, y, np.random.default_rng(5))
    args[0][2] = np.inf
    args[0][4] = np.nan
    with np.errstate(all="ignore"):
        c, p = _one_step(f_c, f_py, args, 4)
    for k, (a, b) in enumerate(zip(c, p)):
        assert_same(a, b, where=f"output {k}")  # one cast, one subtraction, one product: exact


def test_xent_dx_errors(xent_dxs):
    dt, other, f_c, f_py = xent_dxs
    rng = np.random.default_rng(6)
    sm = rng.random((4, 3)).astype(dt)
    args = _dx_args(dt, other, sm, np.array([0, 1, 2, 3]), rng)
    c_msg, p_msg = _messages(f_c, f_py, args, IndexError)
    assert c_msg == p_msg == "CrossentropySoftmax1HotDx: label 3 at position 3 is out of range for 3 classes"
    args = _dx_args(dt, other, sm, np.array([0, 1, 2]), rng)
    c_msg, p_msg = _messages(f_c, f_py, args, ValueError)
    assert c_msg == p_msg == "CrossentropySoftmax1HotDx: 3 labels for 4 rows"
    args = _dx_args(dt, other, sm, np.array([0, 1, 2, 0]), rng)
    args[0] = args[0][:3]
    with pytest.raises(ValueError, match=r"CrossentropySoftmax1HotDx: dnll of shape \(3,\) cannot be broadcast"):
        f_c(*args)
    with pytest.raises(ValueError):
        f_py(*args)


# ----------------------------------------------------------------------------- Shape_i, Shape

@pytest.mark.parametrize("dt", ["float64", "int8", "bool"])
def test_shape_ops_in_c(dt):
    x, s = T.tensor3(dtype=dt), T.scalar(dtype=dt)
    outs = [Shape_i(0)(x), Shape_i(2)(x), Shape()(x), Shape()(s)]
    f = c_function([x, s], outs)
    assert len(f.maker.program.partition.steps) == 1
    f_py = theano.function([x, s], outs, mode=PY_RAW)
    for shape in [(2, 3, 4), (0, 5, 1), (3, 0, 0)]:
        a = np.zeros(shape, dt)[::-1]
        for k, (c, p) in enumerate(zip(f(a, np.zeros((), dt)), f_py(a, np.zeros((), dt)))):
            assert_same(c, p, where=f"output {k} shape {shape}")
        assert f(a, np.zeros((), dt))[2].tolist() == list(shape)


def test_shape_i_joins_c_nodes_into_one_segment():
    """mean(x) divides by Shape_i: with Shape_i in C the whole graph is one call."""
    x = T.dmatrix()
    out = T.sum(x, axis=0) / T.cast(Shape_i(0)(x), "float64")
    f = c_function([x], out)
    assert len(f.maker.program.partition.steps) == 1
    a = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(f(a), a.mean(axis=0))


# ----------------------------------------------------------------------------- the MLP step

SMALL = MLPSpec(n_in=20, n_hidden=12, n_out=5, batch=9)


@pytest.mark.parametrize("spec, dtype", [(MLPSpec(), "float64"), (SMALL, "float32"), (SMALL, "float64")],
                         ids=["bench-f64", "small-f32", "small-f64"])
def test_mlp_step_is_one_segment_matching_python(spec, dtype):
    """The benchmark's training graph: one C segment, no Python step, and two SGD steps
    that match the Python linker (cost and every updated parameter)."""
    initial = mlp_initial(spec, dtype)
    built_c, built_py = build_mlp(spec, dtype, initial), build_mlp(spec, dtype, initial)
    f_c = compile_built(built_c, "FAST_RUN")
    f_py = compile_built(built_py, Mode(linker="py"))
    steps = f_c.maker.program.partition.steps
    assert len(steps) == 1 and hasattr(steps[0], "nodes"), [getattr(s, "op", s) for s in steps]
    ops = {type(n.op) for n in steps[0].nodes}
    assert {CrossentropySoftmax1Hot, CrossentropySoftmax1HotDx, Shape_i} <= ops
    x, y = built_c.args
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for _ in range(2):
        np.testing.assert_allclose(f_c(x, y), f_py(x, y), rtol=rtol)
        for a, b in zip(built_c.shared, built_py.shared):
            np.testing.assert_allclose(a.get_value(), b.get_value(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", FLOATS)
def test_mlp_step_under_debugmode(dtype):
    """DebugMode runs the C segment and every perform in lockstep and raises on any
    difference beyond its dtype tolerance."""
    built = build_mlp(SMALL, dtype)
    f = compile_built(built, "DebugMode")
    assert len(f.maker.program.c_program.partition.steps) == 1
    x, y = built.args
    costs = [float(f(x, y)) for _ in range(3)]
    assert costs[-1] < costs[0]


def _bad_label_step():
    built = build_mlp(SMALL, "float64")
    f = compile_built(built, C_OPT)
    x, y = built.args
    bad = y.copy()
    bad[3] = SMALL.n_out
    return f, x, y, bad, built.shared


def test_mlp_bad_label_raises_and_leaves_parameters_untouched():
    f, x, y, bad, shared = _bad_label_step()
    before = [s.get_value() for s in shared]
    with pytest.raises(IndexError, match=r"CrossentropySoftmax1Hot: label 5 at position 3 is out of range"):
        f(x, bad)
    after = [s.get_value() for s in shared]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(f(x, y))  # the function still works after the error


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_error_path_does_not_leak():
    f, x, _, bad, _ = _bad_label_step()
    for _ in range(50):
        with pytest.raises(IndexError):
            f(x, bad)
    start = _rss_bytes()
    for _ in range(1000):
        try:
            f(x, bad)
        except IndexError:
            pass
    assert _rss_bytes() - start < 2 * 2**20
