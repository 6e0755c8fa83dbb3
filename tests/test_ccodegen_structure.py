"""Reshape, Alloc, ARange, Join, MakeVector (ccodegen/structure_c.py) and Prod, Argmax,
Argmin (ccodegen/reduce_c.py) in C, against perform and numpy.

Every C function here is one distinct graph (one compile): each fixture packs many
outputs into one function and feeds it several layouts and special values.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.ccodegen.partition import Segment
from theanolite.ccodegen.structure_c import ReshapeC
from theanolite.tensor.alloc_ops import ARange, Alloc, MakeVector
from theanolite.tensor.reduction import Argmax, Argmin, Prod, ProdWithoutZeros
from theanolite.tensor.shape_ops import Join, Reshape

from ccodegen_support import C_OPT, PY_RAW, assert_same, c_function, session_cache  # noqa: F401


def _layout(a: np.ndarray, kind: str) -> np.ndarray:
    """``a``'s values in another memory layout."""
    if kind == "transposed":
        return np.ascontiguousarray(a.T).T
    if kind == "negative":
        flip = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[flip])[flip]
    if kind == "strided":
        big = np.zeros(tuple(2 * n + 1 for n in a.shape), a.dtype)
        view = big[tuple(slice(1, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    return a


def _data(dt: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    if dt == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dt.startswith("float"):
        return rng.standard_normal(shape).astype(dt)
    return rng.integers(-50, 50, shape).astype(dt) if dt.startswith("int") else rng.integers(0, 200, shape).astype(dt)


def _c_ops(f) -> set[type]:
    """Op classes of the nodes that run inside C segments."""
    return {type(n.op) for s in f.maker.program.partition.steps if isinstance(s, Segment) for n in s.nodes}


def _py_ops(f) -> set[type]:
    """Op classes of the nodes that run ``perform`` (all of them without a C program)."""
    program = f.maker.program
    if not hasattr(program, "partition"):
        return {type(n.op) for n in f.maker.fgraph.toposort()}
    return {type(s.op) for s in program.partition.steps if not isinstance(s, Segment)}


def _same_all(c_outs, p_outs, where: str = "") -> None:
    assert len(c_outs) == len(p_outs)
    for k, (c, p) in enumerate(zip(c_outs, p_outs)):
        assert_same(c, p, where=f"{where} output {k}")


class _Multi:
    """One C function and its perform twin holding the same sub-graph for several dtypes
    (one compile instead of one per dtype). ``build(dt) -> (inputs, outputs)``."""

    def __init__(self, dtypes: list[str], build) -> None:
        self.dtypes = dtypes
        inputs, outputs, self.spans = [], [], {}
        for dt in dtypes:
            ins, outs = build(dt)
            self.spans[dt] = (len(inputs), len(ins), len(outputs), len(outs))
            inputs += ins
            outputs += outs
        self.f_c = c_function(inputs, outputs)
        self.f_py = theano.function(inputs, outputs, mode=PY_RAW)

    def args(self, per_dtype: dict) -> list:
        return [a for dt in self.dtypes for a in per_dtype[dt]]

    def run(self, per_dtype: dict) -> dict:
        """{dtype: (C outputs, perform outputs)} for {dtype: arguments}."""
        args = self.args(per_dtype)
        c, p = self.f_c(*args), self.f_py(*args)
        return {dt: (c[o:o + n], p[o:o + n]) for dt, (_, _, o, n) in self.spans.items()}


def _messages(f_c, f_py, args, exc_class) -> tuple[str, str]:
    with pytest.raises(exc_class) as c_info:
        f_c(*args)
    with pytest.raises(exc_class) as p_info:
        f_py(*args)
    return str(c_info.value), str(p_info.value)


# ----------------------------------------------------------------------------- Reshape

def _reshapes(dt: str) -> tuple[list, list]:
    """Reshapes of a matrix: constant shapes (with -1), shapes from x.shape; for float64
    also arithmetic on them, a -1 known only at run time, a reshape consumed inside the
    segment and one of an intermediate (each Elemwise on shapes costs a kernel to compile)."""
    x = T.matrix(dtype=dt)
    n0, n1 = x.shape[0], x.shape[1]
    outs = [
        T.reshape(x, (-1,)),
        T.reshape(x, (n1, n0)),                      # MakeVector of Shape_i
        T.reshape(x, T.shape(x)),                    # Shape of the input
    ]
    if dt == "float64":
        outs += [
            T.reshape(x, (1, n0 - n0 - 1)),          # -1 known only at run time
            T.reshape(x, (n0 * n1, 1, 1)),           # arithmetic on Shape_i
            T.flatten(x, 1),
            T.reshape(x, (-1, 1)) * 2,               # consumed in the segment (view or copy)
            T.reshape(x * 3, (1, -1)),               # of an intermediate (a workspace slot)
        ]
    return [x], outs


RESHAPE_DTYPES = ["float64", "float32", "int64"]


@pytest.fixture(scope="module")
def reshapes():
    multi = _Multi(RESHAPE_DTYPES, _reshapes)
    assert len(multi.f_c.maker.program.partition.steps) == 1, multi.f_c.maker.program.partition.steps
    assert Reshape in _c_ops(multi.f_c) and MakeVector in _c_ops(multi.f_c)
    return multi


@pytest.mark.parametrize("kind", ["c", "transposed", "strided", "negative"])
@pytest.mark.parametrize("shape", [(2, 3), (1, 4), (3, 0), (0, 0)])
def test_reshape_matches_perform_and_numpy(reshapes, kind, shape):
    data = {dt: _data(dt, shape, np.random.default_rng(sum(shape))) for dt in RESHAPE_DTYPES}
    for dt, (c, p) in reshapes.run({dt: [_layout(a, kind)] for dt, a in data.items()}).items():
        a = data[dt]
        _same_all(c, p, f"{dt} {kind} {shape}")
        assert_same(c[0], a.reshape(-1))
        assert_same(c[1], a.reshape(shape[1], shape[0]))
        assert_same(c[2], a)
        if dt == "float64" and a.size:
            assert_same(c[3], a.reshape(1, -1))


@settings(max_examples=20, deadline=None)
@given(shape=st.tuples(st.integers(0, 4), st.integers(0, 4)),
       kind=st.sampled_from(["c", "transposed", "strided", "negative"]), seed=st.integers(0, 2**16))
def test_reshape_random_property(reshapes, shape, kind, seed):
    rng = np.random.default_rng(seed)
    data = {dt: _data(dt, shape, rng) for dt in RESHAPE_DTYPES}
    for dt, (c, p) in reshapes.run({dt: [_layout(a, kind)] for dt, a in data.items()}).items():
        _same_all(c, p, f"{dt} {kind} {shape}")
        assert_same(c[1], data[dt].reshape(shape[1], shape[0]))


def test_reshape_errors_like_perform():
    """Bad sizes, numpy's zero rule for -1, and run-time negative entries (numpy takes any
    negative entry as the unknown one; two are an error). One input is bad at a time."""
    x, y, z, w, s, v = T.dmatrix(), T.dvector(), T.dmatrix(), T.dmatrix(), T.dscalar(), T.dvector()
    nz, nw = z.shape[0], w.shape[0]
    outs = [T.reshape(x, (4, -1)) + 1, T.reshape(y, (y.shape[0] - 1, -1)) + 1,
            T.reshape(z, (nz - 3, 2)) + 1, T.reshape(w, (nw - 2, nw - 2)) + 1,
            T.reshape(s, (1, 1)), T.reshape(s, (-1,)), T.reshape(v, ()) * 2]  # 0-d in and out
    inputs = [x, y, z, w, s, v]
    f_c, f_py = c_function(inputs, outs), theano.function(inputs, outs, mode=PY_RAW)
    good = [np.zeros((4, 2)), np.zeros(2), np.arange(6.0).reshape(1, 6), np.ones((4, 1)), np.float64(2.5),
            np.array([7.0])]
    c, p = f_c(*good), f_py(*good)
    _same_all(c, p)
    assert [a.shape for a in c] == [(4, 2), (1, 2), (3, 2), (2, 2), (1, 1), (1,), ()]  # -2: z's unknown
    _same_all(f_c(np.zeros((0, 2)), *good[1:]), f_py(np.zeros((0, 2)), *good[1:]))  # (4, 0)
    bad = [
        (0, np.zeros((2, 3)), "(2, 3) (size 6) to shape (4, -1)"),
        (1, np.zeros(1), "(1,) (size 1) to shape (0, -1)"),  # no -1 next to a zero length
        (2, np.zeros((3, 2)), "(3, 2) (size 6) to shape (0, 2)"),
        (3, np.zeros((1, 4)), "(1, 4) (size 4) to shape (-1, -1)"),  # two unknowns
        (5, np.zeros(2), "(2,) (size 2) to shape ()"),
    ]
    for k, value, tail in bad:
        args = good[:k] + [value] + good[k + 1:]
        c_msg, p_msg = _messages(f_c, f_py, args, ValueError)
        assert c_msg == p_msg == "Reshape: cannot reshape an input of shape " + tail


def test_reshape_targets_are_in_the_key():
    """Graphs differing only in a reshape target held in a runtime constant (not inlined,
    so the graph key records its type only) must not share a compiled module."""
    x = T.dvector()
    f1 = c_function([x], T.reshape(x, (2, 3)) + 1)
    f2 = c_function([x], T.reshape(x, (3, 2)) + 1)
    a = np.arange(6.0)
    assert f1(a).shape == (2, 3) and f2(a).shape == (3, 2)


def test_reshape_aliases_a_contiguous_input_and_copies_otherwise():
    """Numerical check of both run-time paths of an internal reshape of a segment input,
    plus the workspace: an aliased result must not be overwritten by later nodes."""
    x = T.dmatrix()
    r = T.reshape(x, (-1,))
    r2 = T.reshape(T.exp(x), (-1,))  # of a workspace value: always copied
    outs = [T.exp(r) + T.sum(r), T.log1p(T.abs(r)) * r + r2]
    f_c, f_py = c_function([x], outs), theano.function([x], outs, mode=PY_RAW)
    seg = f_c.maker.program.partition.segments[0]
    alias = {n.inputs[0].owner is None: ReshapeC._may_alias(n, seg) for n in seg.nodes if isinstance(n.op, Reshape)}
    assert alias == {True: True, False: False}
    a = np.random.default_rng(3).standard_normal((3, 4))
    for kind in ["c", "transposed", "strided"]:
        for c, p in zip(f_c(_layout(a, kind)), f_py(_layout(a, kind))):
            np.testing.assert_allclose(c, p, rtol=1e-14, atol=1e-13)
    b = _layout(a, "c")
    before = b.copy()
    f_c(b)
    assert_same(b, before)  # the input is never written


# ----------------------------------------------------------------------------- Alloc

ALLOC_DTYPES = ["float64", "float32", "int32"]


def _allocs(dt: str) -> tuple[list, list]:
    v, row, s = T.vector(dtype=dt), T.row(dtype=dt), T.scalar(dtype=dt)
    return [v, row, s], [
        T.alloc(v, 2, v.shape[0]),               # shape from the value's own shape
        T.alloc(v, 3, 1, 4),                     # constant shape (v must have length 4)
        T.alloc(row, 2, 3, 4),                   # broadcastable value dimension
        T.alloc(s, 2, 3),
        T.alloc(s),                              # 0-d
        T.alloc(v, 0, 4),                        # zero-size
        T.alloc(v, v.shape[0] - 4, v.shape[0]),  # arithmetic on the value's shape
    ]


@pytest.fixture(scope="module")
def allocs():
    multi = _Multi(ALLOC_DTYPES, _allocs)
    assert len(multi.f_c.maker.program.partition.steps) == 1
    assert Alloc in _c_ops(multi.f_c)
    return multi


@pytest.mark.parametrize("kind", ["c", "strided", "negative"])
def test_alloc_matches_perform_and_numpy(allocs, kind):
    rng = np.random.default_rng(1)
    data = {dt: (_data(dt, (4,), rng), _data(dt, (1, 4), rng), _data(dt, (), rng)) for dt in ALLOC_DTYPES}
    results = allocs.run({dt: [_layout(v, kind), _layout(row, kind), s] for dt, (v, row, s) in data.items()})
    for dt, (c, p) in results.items():
        v, row, _ = data[dt]
        _same_all(c, p, f"{dt} {kind}")
        assert_same(c[0], np.broadcast_to(v, (2, 4)))
        assert_same(c[2], np.broadcast_to(row, (2, 3, 4)))
        assert c[5].shape == (0, 4) and c[6].shape == (0, 4)


def test_alloc_errors_like_perform():
    """Perform's messages; one input is bad at a time."""
    u, v, w = T.dvector(), T.dvector(), T.dvector()
    outs = [T.alloc(u, 3, 1, 4) * 2, T.alloc(v, 2, 4) * 2, T.alloc(w, 4 - w.shape[0] * 5, w.shape[0]) * 2]
    f_c, f_py = c_function([u, v, w], outs), theano.function([u, v, w], outs, mode=PY_RAW)
    good = [np.zeros(4), np.ones(4), np.zeros(0)]
    _same_all(f_c(*good), f_py(*good))
    bad = [
        (0, np.zeros(3), "Alloc: cannot fill shape (3, 1, 4) with a value of shape (3,): "
                         "dimension 0 of the value has length 3, expected 4"),
        (1, np.zeros(1), "Alloc: cannot fill shape (2, 4) with a value of shape (1,): dimension 0 of "
                         "the value has length 1, expected 4 (a length-1 dimension broadcasts only if "
                         "its type is broadcastable)"),
        (2, np.zeros(4), "Alloc: negative dimension in the requested shape (-16, 4)"),
    ]
    for k, value, message in bad:
        args = good[:k] + [value] + good[k + 1:]
        c_msg, p_msg = _messages(f_c, f_py, args, ValueError)
        assert c_msg == p_msg == message


# ----------------------------------------------------------------------------- ARange

ARANGES = [
    (0, 10, 1, "int64"), (2, 9, 3, "int64"), (5, 0, -1, "int64"), (5, 0, 1, "int64"),
    (5, 0, -1, "uint8"), (-3, 4, 2, "int8"), (0.5, 5, 1.5, "int64"),
    (0.5, 3.2, 0.3, "float64"), (0.5, 3.2, 0.3, "float32"), (1, -1, -0.25, "float32"),
    (0, 1e-3, 1e-4, "float64"), (3, 4, 7, "int32"), (2**62, 2**62 + 5, 2, "int64"),
]


def test_arange_constant_bounds_match_numpy_exactly():
    outs = [ARange(dt)(*[T.constant(b) for b in (a, b, c)]) for a, b, c, dt in ARANGES]
    f_c, f_py = c_function([], outs), theano.function([], outs, mode=PY_RAW)
    assert ARange in _c_ops(f_c) and not _py_ops(f_c)
    for c, p, (a, b, s, dt) in zip(f_c(), f_py(), ARANGES):
        assert_same(c, p, where=f"arange{(a, b, s, dt)}")
        assert_same(c, np.arange(a, b, s, dtype=dt), where=f"arange{(a, b, s, dt)}")


@pytest.mark.parametrize("bounds", [(0, 5, 0), (0.0, float("nan"), 1.0)])
def test_arange_errors_like_perform(bounds):
    out = ARange("float64")(*[T.constant(b) for b in bounds])
    f_c, f_py = c_function([], [out * 2]), theano.function([], [out * 2], mode=PY_RAW)
    c_msg, p_msg = _messages(f_c, f_py, [], ValueError)
    assert c_msg == p_msg


# ----------------------------------------------------------------------------- Join, MakeVector

JOIN_DTYPES = ["float64", "int32"]


def _joins(dt: str) -> tuple[list, list]:
    a, b, r, f32 = T.matrix(dtype=dt), T.matrix(dtype=dt), T.row(dtype=dt), T.fmatrix()
    i, j = T.scalar(dtype=dt), T.dscalar()
    return [a, b, r, f32, i, j], [
        T.concatenate([a, b], axis=0),
        T.concatenate([a, b, a], axis=1),
        T.concatenate([a, b], axis=-1),
        T.concatenate([a, r], axis=0),             # broadcastable row joined on axis 0
        T.concatenate([a, f32], axis=1),           # mixed dtypes: upcast
        T.stack([a, b], axis=1),                   # Join of DimShuffles
        T.stack([i, j]),
        MakeVector("float64")(i, j),               # casts its int input
        T.exp(T.concatenate([a, b], axis=0) * 1),  # consumed inside the segment
    ]


@pytest.fixture(scope="module")
def joins():
    multi = _Multi(JOIN_DTYPES, _joins)
    assert len(multi.f_c.maker.program.partition.steps) == 1
    assert Join in _c_ops(multi.f_c) and MakeVector in _c_ops(multi.f_c)
    return multi


def _join_args(dt: str, a, b, r=None, m=None) -> list:
    r = np.zeros((1, a.shape[1]), dt) if r is None else r
    m = np.zeros((a.shape[0], 2), "float32") if m is None else m
    return [a, b, r, m, np.ones((), dt), np.float64(2.5)]


@pytest.mark.parametrize("kind", ["c", "transposed", "strided"])
@pytest.mark.parametrize("shape", [(2, 3), (0, 3), (2, 0)])
def test_join_matches_perform_and_numpy(joins, kind, shape):
    rng = np.random.default_rng(shape[0] + 3 * shape[1])
    data = {dt: [_data(dt, shape, rng), _data(dt, shape, rng), _data(dt, (1, shape[1]), rng),
                 _data("float32", (shape[0], 2), rng)] for dt in JOIN_DTYPES}
    per_dtype = {dt: _join_args(dt, *[_layout(x, kind) for x in xs]) for dt, xs in data.items()}
    for dt, (c, p) in joins.run(per_dtype).items():
        a, b, r, m = data[dt]
        for k, (cv, pv) in enumerate(zip(c, p)):
            if k == 8:
                np.testing.assert_allclose(cv, pv, rtol=1e-15)  # exp: SIMD libm vs numpy
            else:
                assert_same(cv, pv, where=f"{dt} {kind} {shape} output {k}")
        assert_same(c[1], np.concatenate([a, b, a], axis=1))
        assert_same(c[3], np.concatenate([a, r], axis=0))
        assert_same(c[4], np.concatenate([a, m], axis=1).astype(np.result_type(dt, "float32")))
        assert_same(c[5], np.stack([a, b], axis=1))
        assert_same(c[7], np.array([1.0, 2.5]))


def test_join_shape_mismatch_is_perform_value_error(joins):
    good = {dt: _join_args(dt, np.zeros((2, 3), dt), np.zeros((2, 3), dt)) for dt in JOIN_DTYPES}
    bad = dict(good, int32=_join_args("int32", np.zeros((2, 3), "int32"), np.zeros((2, 4), "int32")))
    c_msg, p_msg = _messages(joins.f_c, joins.f_py, joins.args(bad), ValueError)
    assert c_msg == p_msg == ("Join: cannot join along axis 0 tensors of shapes (2, 3), (2, 4): "
                              "all dimensions except the axis must agree")
    bad = dict(good, float64=_join_args("float64", np.zeros((2, 3)), np.zeros((3, 3))))  # axis-1 joins fail
    c_msg, p_msg = _messages(joins.f_c, joins.f_py, joins.args(bad), ValueError)
    assert c_msg == p_msg == ("Join: cannot join along axis 1 tensors of shapes (2, 3), (3, 3), (2, 3): "
                              "all dimensions except the axis must agree")


# ----------------------------------------------------------------------------- Prod

PROD_DTYPES = ["float64", "float32", "int32", "bool"]


def _prods(dt: str) -> tuple[list, list]:
    x = T.tensor3(dtype=dt)
    outs = [T.prod(x, axis=a) for a in [None, 1, (0, 2)]]
    return [x], outs + [ProdWithoutZeros((1,))(x)]


@pytest.fixture(scope="module")
def prods():
    multi = _Multi(PROD_DTYPES, _prods)
    assert len(multi.f_c.maker.program.partition.steps) == 1
    assert {Prod, ProdWithoutZeros} <= _c_ops(multi.f_c)
    return multi


def _prod_data(dt: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    if dt.startswith("float"):  # near 1, so products neither vanish nor overflow
        return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dt)
    return _data(dt, shape, rng)


@pytest.mark.parametrize("kind", ["c", "transposed", "negative"])
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 5, 1), (3, 0, 2)])
def test_prod_matches_perform_and_numpy(prods, kind, shape):
    rng = np.random.default_rng(sum(shape))
    data = {dt: _prod_data(dt, shape, rng) for dt in PROD_DTYPES}
    for a in data.values():
        if a.size:
            a.reshape(-1)[::5] = 0  # zeros for ProdWithoutZeros
    for dt, (c, p) in prods.run({dt: [_layout(a, kind)] for dt, a in data.items()}).items():
        for k, (cv, pv) in enumerate(zip(c, p)):
            if dt.startswith("float"):
                assert cv.dtype == pv.dtype and cv.shape == pv.shape
                np.testing.assert_allclose(cv, pv, rtol=1e-5 if dt == "float32" else 1e-13, err_msg=f"{dt} {k}")
            else:
                assert_same(cv, pv, where=f"{dt} output {k}")  # integer products wrap as numpy's
        assert_same(c[0], np.asarray(np.prod(data[dt], dtype=p[0].dtype)))


def test_prod_special_values(prods):
    x = np.ones((2, 3, 4))
    x[0, 0, :] = [np.inf, 0.0, 2.0, 3.0]     # inf * 0 = nan
    x[0, 1, :] = [-np.inf, 2.0, -0.0, 1.0]   # -inf * -0.0 = nan
    x[1, 0, :] = [np.nan, 1.0, 1.0, 1.0]
    x[1, 1, :] = [-0.0, 1.0, 1.0, 1.0]       # -0.0
    x[1, 2, :] = [np.inf, -1.0, 2.0, 1.0]    # -inf
    data = {dt: x if dt.startswith("float") else np.ones((2, 3, 4), dt) for dt in PROD_DTYPES}
    for dt, (c, p) in prods.run({dt: [a.astype(dt)] for dt, a in data.items()}).items():
        _same_all(c, p, dt)


# ----------------------------------------------------------------------------- Argmax, Argmin

ARG_AXES = [None, 0, 2, (0, 2)]
ARG_DTYPE_AXES = {"float32": [None, 2]}  # the others: ARG_AXES (every kernel costs compile time)


ARG_DTYPES = ["float64", "float32", "int64", "uint8", "bool"]


def _args(dt: str) -> tuple[list, list]:
    x = T.tensor3(dtype=dt)
    axes = ARG_DTYPE_AXES.get(dt, ARG_AXES)
    outs = [T.argmax(x, axis=a) for a in axes] + [T.argmin(x, axis=a) for a in axes]
    if dt == "float64":  # max_and_argmax: a Max and an Argmax node
        outs.append(T.max_and_argmax(x, axis=1)[1] + T.cast(T.max(x, axis=1), "int64"))
    return [x], outs


@pytest.fixture(scope="module")
def args_fns():
    multi = _Multi(ARG_DTYPES, _args)
    assert len(multi.f_c.maker.program.partition.steps) == 1
    assert {Argmax, Argmin} <= _c_ops(multi.f_c)
    return multi


def _np_arg(a: np.ndarray, axis, pick) -> np.ndarray:
    axes = tuple(range(a.ndim)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    keep = [d for d in range(a.ndim) if d not in axes]
    flat = np.transpose(a, keep + list(axes)).reshape([a.shape[d] for d in keep] + [-1])
    return np.asarray(pick(flat, axis=-1), dtype="int64")


def _check_args(results: dict, data: dict) -> None:
    for dt, (c, p) in results.items():
        _same_all(c, p, dt)
        axes = ARG_DTYPE_AXES.get(dt, ARG_AXES)
        for k, axis in enumerate(axes):
            assert_same(c[k], _np_arg(data[dt], axis, np.argmax), where=f"{dt} argmax axis={axis}")
            assert_same(c[len(axes) + k], _np_arg(data[dt], axis, np.argmin), where=f"{dt} argmin axis={axis}")


@pytest.mark.parametrize("kind", ["c", "transposed", "strided", "negative"])
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 5, 1), (4, 1, 7)])
def test_argmax_argmin_match_perform_and_numpy(args_fns, kind, shape):
    rng = np.random.default_rng(sum(shape))
    data = {}
    for dt in ARG_DTYPES:  # few distinct values: many ties
        a = _data(dt, shape, rng)
        data[dt] = a if dt == "bool" else np.round(a * 2).astype(dt) if dt.startswith("float") else (a // 8).astype(dt)
    _check_args(args_fns.run({dt: [_layout(a, kind)] for dt, a in data.items()}), data)


def test_argmax_nan_inf_first_occurrence(args_fns):
    x = np.zeros((2, 3, 4))
    x[0, 0, :] = [1.0, np.nan, 5.0, np.nan]       # the first NaN wins, for max and min
    x[0, 1, :] = -np.inf                           # all -inf: index 0
    x[0, 2, :] = [np.inf, np.inf, -np.inf, 0.0]   # ties: the first
    x[1, 0, :] = [-0.0, 0.0, -0.0, 0.0]           # -0.0 == 0.0: the first
    x[1, 1, :] = [3.0, 2.0, np.nan, np.inf]
    x[1, 2, :] = np.inf
    data = {dt: x.astype(dt) if dt.startswith("float") else np.zeros((2, 3, 4), dt) for dt in ARG_DTYPES}
    _check_args(args_fns.run({dt: [a] for dt, a in data.items()}), data)
    # the extremes of each integer range (the identities the C starts from)
    for dt in ["int64", "uint8"]:
        info = np.iinfo(dt)
        data[dt] = np.full((2, 3, 4), info.min, dt)
        data[dt][1] = info.max
    data["bool"] = np.ones((2, 3, 4), bool)
    _check_args(args_fns.run({dt: [a] for dt, a in data.items()}), data)


@settings(max_examples=20, deadline=None)
@given(shape=st.tuples(*[st.integers(1, 4)] * 3), kind=st.sampled_from(["c", "transposed", "strided", "negative"]),
       nan_rate=st.sampled_from([0.0, 0.2]), seed=st.integers(0, 2**16))
def test_argmax_random_property(args_fns, shape, kind, nan_rate, seed):
    rng = np.random.default_rng(seed)
    data = {}
    for dt in ARG_DTYPES:
        a = _data(dt, shape, rng)
        if dt.startswith("float"):
            a = np.round(a).astype(dt)
            a[rng.random(shape) < nan_rate] = np.nan
        data[dt] = a
    _check_args(args_fns.run({dt: [_layout(a, kind)] for dt, a in data.items()}), data)


def test_argmax_empty_reduction_is_perform_value_error(args_fns):
    per_dtype = {dt: [np.zeros((0, 3, 2) if dt == "uint8" else (1, 1, 1), dt)] for dt in ARG_DTYPES}
    c_msg, p_msg = _messages(args_fns.f_c, args_fns.f_py, args_fns.args(per_dtype), ValueError)
    assert c_msg == p_msg
    assert "cannot take the arg-extremum of an empty reduction (input shape (0, 3, 2), axis " in c_msg


def test_argmax_keeps_empty_outputs_and_0d():
    x, s = T.dtensor3(), T.dscalar()
    outs = [T.argmax(x, axis=2), T.argmin(x, axis=(1, 2)), T.argmax(s), T.argmin(s)]
    f_c, f_py = c_function([x, s], outs), theano.function([x, s], outs, mode=PY_RAW)
    _same_all(f_c(np.zeros((0, 2, 3)), 1.5), f_py(np.zeros((0, 2, 3)), 1.5))


# ----------------------------------------------------------------------------- run-time shapes

def test_shapes_from_run_time_values_run_perform():
    """A shape, bound or axis given at run time cannot size an output in phase 0 (the
    runner caches phase 0 per input geometry): those nodes run perform, the rest C."""
    x, shp, n, ax = T.dmatrix(), T.lvector(), T.lscalar(), T.lscalar()
    outs = [T.exp(T.reshape(x, shp, ndim=2)), T.alloc(np.float64(1.5), n, 2) * x[0, 0],
            T.arange(n) * 2, T.exp(T.join(ax, x, x))]
    f = theano.function([x, shp, n, ax], outs, mode=C_OPT)
    assert {Reshape, Alloc, ARange, Join} <= _py_ops(f)
    a = np.arange(6.0).reshape(2, 3)
    got = f(a, np.array([3, 2]), 4, -1)
    np.testing.assert_allclose(got[0], np.exp(a.reshape(3, 2)))
    assert_same(got[1], np.full((4, 2), 0.0))
    assert_same(got[2], np.arange(4) * 2)
    np.testing.assert_allclose(got[3], np.exp(np.concatenate([a, a], axis=-1)))


# ----------------------------------------------------------------------------- one segment

def test_mixed_graph_is_one_c_segment():
    """Elementwise ops around every entry of this file: one segment, one C call."""
    x, v = T.dmatrix(), T.dvector()
    flat = T.flatten(T.tanh(x), 1)
    joined = T.concatenate([flat, v * 2], axis=0)
    filled = T.alloc(T.sum(joined), 2, 10) + joined
    cube = T.reshape(T.arange(6) * 1.0, (1, 2, 3))
    outs = [T.prod(filled, axis=0) + 1, T.argmax(filled, axis=1) + T.argmin(joined),
            T.exp(cube) * T.stack([T.max(v), T.min(v)]).sum()]
    f = c_function([x, v], outs)
    steps = f.maker.program.partition.steps
    assert len(steps) == 1 and isinstance(steps[0], Segment), steps
    assert {Reshape, Join, Alloc, ARange, Prod, Argmax, Argmin} <= _c_ops(f)
    f_py = theano.function([x, v], outs, mode=PY_RAW)
    a, b = np.random.default_rng(0).standard_normal((2, 3)), np.random.default_rng(1).standard_normal(4)
    for c, p in zip(f(a, b), f_py(a, b)):
        np.testing.assert_allclose(c, p, rtol=1e-13)


def test_flatten_before_dot_stays_in_c_after_fast_run():
    """The MLP input pattern: reshape(x, (x.shape[0], prod(rest))) feeding a dot."""
    x, w = T.dtensor3(), T.dmatrix()
    out = T.tanh(T.dot(T.flatten(x, 2), w))
    f = theano.function([x, w], [out, T.argmax(out, axis=1)], mode=C_OPT)
    assert Reshape in _c_ops(f) and Reshape not in _py_ops(f)
    a = _layout(np.random.default_rng(4).standard_normal((3, 2, 2)), "transposed")
    wv = np.random.default_rng(5).standard_normal((4, 5))
    ref = np.tanh(a.reshape(3, 4) @ wv)
    got, idx = f(a, wv)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert_same(idx, np.argmax(ref, axis=1))
