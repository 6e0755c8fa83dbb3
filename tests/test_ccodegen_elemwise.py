"""The C loop emitter: layouts, broadcasting, Composite, views, in-place, errors.

A few functions are compiled once (module scope) and called on many array layouts:
contiguous, transposed, negative and zero strides, slices, 0-d, zero-size, misaligned.
C must give perform's result exactly (up to SIMD libm ulps where libm is involved).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import theanolite as theano
import theanolite.tensor as T
from theanolite.ccodegen import stats
from theanolite.graph.basic import Apply
from theanolite.graph.op import Op
from theanolite.scalar import basic as S
from theanolite.scalar.composite import Composite
from theanolite.tensor.elemwise import Elemwise
from theanolite.tensor.type import TensorType

from ccodegen_support import C_RAW, PY_RAW, assert_same, c_function, session_cache  # noqa: F401


def _composite() -> Composite:
    """sigmoid(x)*x + tanh(x)**2 (float64), y < 0.5 (bool), int32(x * y) and x // y."""
    x, y = S.ScalarType("float64")("x"), S.ScalarType("float32")("y")
    t = S.tanh(x)
    a = S.add(S.mul(S.sigmoid(x), x), S.sqr(t))
    b = S.lt(y, S.as_scalar(np.float32(0.5)))
    c = S.Cast("int32")(S.mul(x, y))
    d = S.int_div(x, y)
    return Composite([x, y], [a, b, c, d])


COMP = _composite()


def layouts(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> dict[str, np.ndarray]:
    """The same logical shape in many memory layouts."""
    def draw(shp):
        return (rng.standard_normal(shp) * 3).astype(dtype)

    out = {"c": draw(shape)}
    out["fortran"] = np.asfortranarray(draw(shape))
    big = draw(tuple(2 * n + 1 for n in shape))
    out["negative"] = big[tuple(slice(2 * n - 1 if n else 0, None, -2) for n in shape)][
        tuple(slice(0, n) for n in shape)]
    out["sliced"] = big[tuple(slice(1, 1 + 2 * n, 2) for n in shape)]
    if shape:
        row = draw(shape[-1:])
        out["zero_stride"] = np.broadcast_to(row, shape)  # stride 0 on a non-broadcastable axis
        raw = np.zeros(int(np.prod(shape)) * np.dtype(dtype).itemsize + 1, np.uint8)
        mis = np.frombuffer(raw.data, dtype=dtype, offset=1, count=int(np.prod(shape))).reshape(shape)
        mis[...] = draw(shape)
        out["misaligned"] = mis
    for name, arr in out.items():
        assert arr.shape == shape, name
    return out


@pytest.fixture(scope="module")
def fns():
    x, y = T.dmatrix("x"), T.fmatrix("y")
    r, c, s = T.drow("r"), T.dcol("c"), T.dscalar("s")
    outs = list(Elemwise(COMP)(x, y))
    outs += [x * r + c - s, T.maximum(x, c) ** 2, (x.T * 2.0).T, T.exp(x).dimshuffle(1, "x", 0)]
    inputs = [x, y, r, c, s]
    return c_function(inputs, outs), theano.function(inputs, outs, mode=PY_RAW)


def _args(rng, m, n, kind):
    x = layouts(rng, (m, n), "float64")[kind]
    y = layouts(rng, (m, n), "float32")[kind]
    y = np.where(np.abs(y) < 0.1, np.float32(1.5), y) if y.size else y
    r = layouts(rng, (1, n), "float64")[kind if kind != "zero_stride" else "c"]
    c = layouts(rng, (m, 1), "float64")["fortran"]
    return [x, y, r, c, np.array(0.25)]


def _compare(f_c, f_py, args):
    got, want = f_c(*args), f_py(*args)
    for k, (a, b) in enumerate(zip(got, want)):
        assert_same(a, b, ulps=8, where=f"output {k}", atol=1e-13)


@pytest.mark.parametrize("kind", ["c", "fortran", "negative", "sliced", "zero_stride", "misaligned"])
@pytest.mark.parametrize("shape", [(3, 5), (1, 7), (6, 1), (0, 4), (3, 0), (1, 1), (40, 33)])
def test_layouts_and_broadcasting(fns, kind, shape):
    rng = np.random.default_rng(hash((kind, shape)) % 2**32)
    _compare(*fns, _args(rng, *shape, kind))


@settings(max_examples=25, deadline=None)
@given(m=st.integers(0, 9), n=st.integers(0, 9),
       kind=st.sampled_from(["c", "fortran", "negative", "sliced", "zero_stride"]), seed=st.integers(0, 99))
def test_random_shapes_property(fns, m, n, kind, seed):
    _compare(*fns, _args(np.random.default_rng(seed), m, n, kind))


def test_special_values_through_composite(fns):
    f_c, f_py = fns
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, 40.0, -800.0, 1e-310])
    x = np.repeat(special[:, None], 10, axis=1)
    y = np.repeat(special[None, :], 10, axis=0).astype(np.float32)
    args = [x, np.where(np.isnan(y), np.float32(1), y), np.ones((1, 10)), np.ones((10, 1)), np.array(-0.0)]
    with np.errstate(all="ignore"):
        _compare(f_c, f_py, args)


def test_composite_outputs_and_dtypes(fns):
    f_c, _ = fns
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 3)), rng.uniform(0.6, 2, (4, 3)).astype(np.float32)
    a, b, c, d = f_c(x, y, np.ones((1, 3)), np.ones((4, 1)), np.array(1.0))[:4]
    assert (a.dtype, b.dtype, c.dtype, d.dtype) == (np.float64, np.bool_, np.int32, np.float64)
    np.testing.assert_allclose(a, 1 / (1 + np.exp(-x)) * x + np.tanh(x) ** 2, rtol=1e-14)
    np.testing.assert_array_equal(b, y < 0.5)
    np.testing.assert_array_equal(c, (x * y.astype(np.float64)).astype(np.int32))
    np.testing.assert_array_equal(d, np.floor_divide(x, y.astype(np.float64)))
    assert all(o.flags.c_contiguous and o.flags.owndata for o in (a, b, c, d))


def test_zero_dim_inputs_and_outputs():
    a, b = T.dscalar(), T.lscalar()
    f = c_function([a, b], [a * b + 1, T.exp(a), a > b, (a // 0.0)])
    out = f(np.array(2.5), np.array(3))
    assert [o.shape for o in out] == [()] * 4
    assert [o.dtype for o in out] == [np.float64, np.float64, np.bool_, np.float64]
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out, [8.5, np.exp(2.5), False, np.floor_divide(2.5, 0.0)])


def test_dimshuffle_is_a_view_inside_c():
    x = T.dtensor3()
    y = x.dimshuffle(2, "x", 0, 1)  # only read inside the segment
    f = c_function([x], T.exp(y) * 2)
    seg = f.maker.program.partition.segments[0]
    assert any(type(n.op).__name__ == "DimShuffle" for n in seg.nodes)
    assert seg.outputs == f.maker.fgraph.outputs  # no copy of the view was exported
    a = np.random.default_rng(0).standard_normal((2, 3, 4))[:, ::-1]
    assert_same(f(a), np.exp(a.transpose(2, 0, 1)[:, None]) * 2, ulps=4)


def test_view_output_is_produced_by_python_without_copy():
    x = T.dmatrix()
    e = T.exp(x)
    f = c_function([x], [e.T, e * 2])
    part = f.maker.program.partition
    assert [type(s).__name__ for s in part.steps] == ["Segment", "Apply"]
    a = np.arange(6.0).reshape(2, 3)
    t, two = f(a)
    np.testing.assert_allclose(t, np.exp(a).T)
    assert not t.flags.c_contiguous  # a transposed view of the exported exp(x)


class _Fresh(Op):
    """A Python-only op returning a fresh array (feeds an in-place C node)."""
    __props__ = ()

    def make_node(self, x):
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, out):
        out[0][0] = inputs[0] * 1.0


def test_inplace_on_internal_and_segment_input_buffers():
    x = T.dvector()
    add_inplace = Elemwise(S.add, {0: 0})
    # add writes into x*2's slot; mul's result is an output, so it gets a fresh buffer
    internal = Elemwise(S.mul, {0: 0})(add_inplace(x * 2.0, 1.0), 3.0)
    fresh = _Fresh()(x)
    on_input = Elemwise(S.exp, {0: 0})(fresh)  # writes into the Python node's result
    f = c_function([x], [internal, on_input])
    segs = f.maker.program.partition.segments
    assert sum(len(s.inplace) for s in segs) == 2
    assert any(s.out_alias for s in segs)
    a = np.array([0.5, -1.0, 2.0])
    got = f(a)
    np.testing.assert_array_equal(got[0], (a * 2 + 1) * 3)
    np.testing.assert_allclose(got[1], np.exp(a), rtol=1e-15)
    np.testing.assert_array_equal(a, [0.5, -1.0, 2.0])  # the user's input is untouched


def test_shape_mismatch_is_a_python_error_naming_the_op():
    x, y = T.dmatrix(), T.dmatrix()
    f = c_function([x, y], T.exp(x) + y)
    with pytest.raises(ValueError, match=r"Elemwise\{add\}.*mismatch on axis 1 \(3 vs 4\)") as info:
        f(np.ones((2, 3)), np.ones((2, 4)))
    assert any("Elemwise{add}" in note for note in info.value.__notes__)
    np.testing.assert_allclose(f(np.zeros((2, 3)), np.ones((2, 3))), 2.0)  # still usable


def test_large_constants_are_passed_at_run_time():
    x = T.dvector()
    k1 = np.arange(1000.0)
    k2 = np.arange(1000.0)[::-1].copy()
    before = stats.snapshot()
    f1 = c_function([x], x * T.constant(k1) + T.constant(2.0))
    f2 = c_function([x], x * T.constant(k2) + T.constant(2.0))
    after = stats.snapshot()
    assert after["compiles"] - before["compiles"] <= 1  # same C, same key
    a = np.ones(1000)
    np.testing.assert_array_equal(f1(a), k1 + 2)
    np.testing.assert_array_equal(f2(a), k2 + 2)
    seg = f1.maker.program.partition.segments[0]
    assert len(seg.inputs) == 2 and len(seg.consts) == 1


def test_unsupported_dtypes_fall_back_per_node():
    x = T.vector(dtype="float16")
    y = T.dvector()
    f = theano.function([x, y], [x * 2, y + 1], mode=C_RAW)
    steps = f.maker.program.partition.steps
    assert [type(s).__name__ for s in steps].count("Segment") == 1
    assert any(getattr(s, "op", None) is not None and s.outputs[0].dtype == "float16" for s in steps)
    out = f(np.ones(3, np.float16), np.ones(3))
    assert out[0].dtype == np.float16 and out[1].dtype == np.float64


def test_intermediates_share_workspace_slots():
    from theanolite.ccodegen.segment import plan_memory
    x = T.dvector()
    y = x
    for k in range(6):
        y = T.sin(y) * float(k + 1)  # a chain: each value dies after the next node
    f = c_function([x], y)
    slot_of, nslots = plan_memory(f.maker.program.partition.segments[0])
    assert nslots <= 2 < len(slot_of)
    a = np.linspace(-3, -1, 5)
    expected = a
    for k in range(6):
        expected = np.sin(expected) * (k + 1)
    np.testing.assert_allclose(f(a), expected, rtol=1e-12)
