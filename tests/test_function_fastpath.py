"""The fast call paths of ``Function`` keep the full path's semantics.

A *tight* function (no shared variables, no updates, no output that may alias an input)
is called through the C fast call (ccodegen/tl_fastcall.h) when every argument is an
ndarray of exactly the input's dtype and ndim, and through a short Python path
otherwise. These tests pin what must not change: filtering and its errors (naming the
input), strict, allow_input_downcast, non-ndarray inputs, broadcastable dims, outputs
that never alias inputs unless borrowed, keyword and default inputs, trust_input,
shared variables and updates, and the C boundary's own contract (it declines, never
raises or crashes, on anything it does not handle exactly).
"""
from __future__ import annotations

import hashlib
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.compile import In, Out
from theanolite.compile.mode import Mode
from theanolite.configparser import config

needs_c = pytest.mark.skipif(not config.cxx, reason="needs a C compiler (config.cxx is empty)")
PY = Mode(linker="py")


def _affine(x):
    return x * 2 + 1


@pytest.fixture(scope="module")
def fvec():
    x = T.dvector("x")
    return theano.function([x], _affine(x))


# ----------------------------------------------------------------------------- which path

@needs_c
def test_tight_function_gets_the_c_fast_call_and_it_declines_what_it_cannot_take(fvec):
    fast = fvec._cfast
    assert fast is not None
    a = np.arange(3.0)
    np.testing.assert_array_equal(fast(a), _affine(a))
    assert fast(a.tolist()) is NotImplemented           # a list: filter's job
    assert fast(a.astype(np.float32)) is NotImplemented  # another dtype: filter upcasts
    assert fast(a.reshape(1, 3)) is NotImplemented       # another ndim: filter raises
    assert fast() is NotImplemented and fast(a, a) is NotImplemented
    misaligned = np.frombuffer(bytearray(8 * 3 + 1), np.uint8)[1:].view(np.float64)
    assert not misaligned.flags.aligned and fast(misaligned) is NotImplemented


def test_stateful_or_aliasing_functions_keep_the_full_path():
    x = T.dvector("x")
    s = theano.shared(np.zeros(2), name="s")
    assert theano.function([x], x + s)._tight is False
    assert theano.function([x], x, updates={s: s + 1})._tight is False
    assert theano.function([x], x)._tight is False             # returns its input
    assert theano.function([x], x[::-1])._tight is False       # returns a view of it
    y = x * 2
    assert theano.function([x], [y, y])._tight is False        # one result twice
    assert theano.function([x], [y, x + 1])._tight is True


# ----------------------------------------------------------------------------- values

@pytest.mark.parametrize("make", [
    lambda: np.asarray(1.5),
    lambda: np.arange(7.0),
    lambda: np.arange(12.0).reshape(3, 4).T,               # transposed
    lambda: np.arange(20.0)[::-3],                         # negative stride
    lambda: np.zeros((0,)),                                # zero-size
    lambda: np.arange(40000.0) - 3,                        # large: GIL released in C
])
def test_results_match_numpy_for_any_layout(make):
    a = make()
    x = T.TensorType("float64", (False,) * a.ndim)("x")
    f = theano.function([x], _affine(x))
    for _ in range(2):  # the second call reuses the first call's plans
        out = f(a)
        np.testing.assert_array_equal(out, _affine(a))
        assert type(out) is np.ndarray and out.dtype == np.float64 and out.shape == a.shape
        assert out.flags.c_contiguous and out.flags.writeable and out.flags.owndata
        assert not np.may_share_memory(out, a)


def test_changing_shapes_between_calls(fvec):
    for n in (3, 5, 3, 0, 5, 1):
        a = np.arange(float(n))
        np.testing.assert_array_equal(fvec(a), _affine(a))


def test_zero_d_result_is_a_0d_array_from_python_scalars():
    x = T.dscalar("x")
    f = theano.function([x], _affine(x))
    for value in (1.5, 2, np.float64(3.0), np.int32(4), np.asarray(5.0), np.float32(6.0)):
        got = f(value)
        assert isinstance(got, np.ndarray) and got.shape == () and got.dtype == np.float64
        assert got == _affine(float(value))


def test_list_and_other_dtype_inputs_are_filtered(fvec):
    np.testing.assert_array_equal(fvec([1, 2, 3]), [3.0, 5.0, 7.0])
    np.testing.assert_array_equal(fvec(np.array([1, 2], np.int32)), [3.0, 5.0])
    np.testing.assert_array_equal(fvec(np.array([1, 2], np.float32)), [3.0, 5.0])
    np.testing.assert_array_equal(fvec(np.ones(2, ">f8")), [3.0, 3.0])  # byte-swapped


def test_ndarray_subclass_and_readonly_and_misaligned_inputs(fvec):
    class Sub(np.ndarray):
        pass

    sub = np.arange(3.0).view(Sub)
    out = fvec(sub)
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, _affine(np.arange(3.0)))
    ro = np.arange(3.0)
    ro.flags.writeable = False
    np.testing.assert_array_equal(fvec(ro), _affine(ro))
    mis = np.frombuffer(bytearray(8 * 3 + 1), np.uint8)[1:].view(np.float64)
    mis[:] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(fvec(mis), [3.0, 5.0, 7.0])
    assert mis.tolist() == [1.0, 2.0, 3.0]


# ----------------------------------------------------------------------------- filtering

def test_lossy_inputs_raise_naming_the_input():
    x = T.fvector("xf")
    f = theano.function([x], x * 2)
    with pytest.raises(TypeError, match="'xf' at index 0.*float64"):
        f(np.array([1.5, 2.5]))
    with pytest.raises(TypeError, match="'xf' at index 0"):
        f(np.array([1, 2], np.int64))
    np.testing.assert_array_equal(f(np.array([1.5], np.float32)), [3.0])
    g = theano.function([x], x * 2, allow_input_downcast=True)
    out = g(np.array([1.5, 2.5]))
    assert out.dtype == np.float32 and out.tolist() == [3.0, 5.0]


def test_int_input_rejects_floats_and_complex_is_rejected_by_float_inputs():
    i = T.lvector("i")
    f = theano.function([i], i + 1)
    with pytest.raises(TypeError, match="'i' at index 0"):
        f(np.array([1.5]))
    np.testing.assert_array_equal(f([1, 2]), [2, 3])
    x = T.dvector("x")
    g = theano.function([x], x + 1)
    with pytest.raises(TypeError, match="'x' at index 0"):
        g(np.array([1j]))


def test_strict_inputs_take_only_exact_arrays():
    x = T.dvector("x")
    f = theano.function([In(x, strict=True)], x + 1)
    np.testing.assert_array_equal(f(np.zeros(2)), [1.0, 1.0])
    with pytest.raises(TypeError, match="'x' at index 0.*ndarray"):
        f([0.0, 1.0])
    with pytest.raises(TypeError, match="'x' at index 0.*float32"):
        f(np.zeros(2, np.float32))


def test_wrong_ndim_raises_naming_the_input(fvec):
    with pytest.raises(TypeError, match="'x' at index 0.*1 dimensions"):
        fvec(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="'x' at index 0"):
        fvec(1.0)


def test_broadcastable_dims_must_have_length_one():
    r = T.drow("r")
    f = theano.function([r], r * 2)
    np.testing.assert_array_equal(f(np.ones((1, 3))), np.full((1, 3), 2.0))
    with pytest.raises(TypeError, match="'r' at index 0.*broadcastable"):
        f(np.ones((2, 3)))
    if f._cfast is not None:
        assert f._cfast(np.ones((2, 3))) is NotImplemented
        np.testing.assert_array_equal(f._cfast(np.ones((1, 3))), np.full((1, 3), 2.0))


def test_shape_errors_come_from_the_python_path_with_the_node_named():
    x, y = T.dvectors("x", "y")
    f = theano.function([x, y], x * y + 1)
    with pytest.raises(ValueError) as info:
        f(np.ones(3), np.ones(4))
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "(3,)" in str(info.value) + notes and "(4,)" in str(info.value) + notes
    np.testing.assert_array_equal(f(np.ones(3), np.ones(3)), [2.0, 2.0, 2.0])  # still usable


# ----------------------------------------------------------------------------- binding

def test_keyword_default_and_missing_inputs():
    x, y = T.dvectors("x", "y")
    f = theano.function([x, In(y, value=np.array([10.0]))], x + y)
    a, b = np.array([1.0]), np.array([2.0])
    assert f(a).tolist() == [11.0]
    assert f(a, b).tolist() == [3.0]
    assert f(a, y=b).tolist() == [3.0]
    assert f(x=a, y=b).tolist() == [3.0]
    with pytest.raises(TypeError, match="missing required input 'x'"):
        f()
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        f(a, z=b)
    with pytest.raises(TypeError, match="takes 2 input"):
        f(a, b, b)
    with pytest.raises(TypeError, match="twice"):
        f(a, x=a)


def test_trust_input_skips_filtering_but_not_correctness(fvec, monkeypatch):
    g = fvec.copy()
    g.trust_input = True

    def no_filter(k, value):
        raise AssertionError("trust_input must not filter")

    monkeypatch.setattr(g, "_filter", no_filter)
    class Sub(np.ndarray):
        pass

    a = np.arange(3.0)
    np.testing.assert_array_equal(g(a), _affine(a))
    np.testing.assert_array_equal(g(a.view(Sub)), _affine(a))  # not exact: would be filtered
    if g._cfast is not None:  # unfiltered bad input: the C runner still checks it
        with pytest.raises(ValueError, match="input 0 has 2 dimensions"):
            g(np.zeros((2, 2)))


# ----------------------------------------------------------------------------- outputs

def test_returned_inputs_are_copies_unless_borrowed():
    x = T.dvector("x")
    a = np.arange(3.0)
    out = theano.function([x], x)(a)
    assert out is not a and not np.may_share_memory(out, a)
    view = theano.function([x], x[::-1])(a)
    assert not np.may_share_memory(view, a)
    borrowed = theano.function([x], Out(x, borrow=True))(a)
    np.testing.assert_array_equal(borrowed, a)


def test_output_lists_and_dicts_are_fresh_each_call():
    x = T.dvector("x")
    f = theano.function([x], [x + 1, x * 3])
    first = f(np.ones(2))
    first.append("junk")
    first[0][0] = 99.0
    second = f(np.ones(2))
    assert len(second) == 2 and second[0].tolist() == [2.0, 2.0]
    assert not np.may_share_memory(second[0], second[1])
    d = theano.function([x], {"a": x + 1, "b": x * 3})(np.ones(1))
    assert d["a"].tolist() == [2.0] and d["b"].tolist() == [3.0]


def test_duplicate_outputs_are_distinct_arrays():
    x = T.dvector("x")
    y = x * 2
    a, b = theano.function([x], [y, y])(np.ones(2))
    a[0] = 7.0
    assert b.tolist() == [2.0, 2.0]


# ----------------------------------------------------------------------------- state

def test_shared_variables_and_updates_still_apply():
    x = T.dvector("x")
    s = theano.shared(np.zeros(2), name="s")
    f = theano.function([x], s * 1 + x, updates={s: s + x})
    assert f(np.ones(2)).tolist() == [1.0, 1.0]
    assert f(np.ones(2)).tolist() == [2.0, 2.0]
    assert s.get_value().tolist() == [2.0, 2.0]
    g = theano.function([], s)
    got = g()
    got[0] = 100.0
    assert s.get_value().tolist() == [2.0, 2.0]


def test_in_update_state_carries_between_calls():
    x, acc = T.dscalars("x", "acc")
    f = theano.function([x, In(acc, value=0.0, update=acc + x)], acc + x)
    assert [float(f(1.0)) for _ in range(3)] == [1.0, 2.0, 3.0]


# ----------------------------------------------------------------------------- other modes

@pytest.mark.parametrize("mode", [PY, "DebugMode"])
def test_python_and_debug_modes_take_the_same_paths(mode):
    x = T.dvector("x")
    f = theano.function([x], _affine(x), mode=mode)
    assert f._cfast is None
    np.testing.assert_array_equal(f(np.arange(3.0)), _affine(np.arange(3.0)))
    np.testing.assert_array_equal(f([1, 2]), [3.0, 5.0])
    with pytest.raises(TypeError, match="'x' at index 0"):
        f(np.zeros((1, 1)))


def test_copy_and_pickle_keep_working(fvec):
    a = np.arange(3.0)
    np.testing.assert_array_equal(fvec.copy()(a), _affine(a))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fvec))(a), _affine(a))


# ----------------------------------------------------------------------------- C boundary

@needs_c
def test_no_reference_leaks_in_the_c_fast_call(fvec):
    import sys
    a = np.arange(3.0)
    dtype = a.dtype
    out = fvec(a)  # holds one reference to dtype, as every later ``out`` does
    before = sys.getrefcount(a), sys.getrefcount(dtype), sys.getrefcount(NotImplemented)
    for _ in range(2000):
        out = fvec(a)
        fvec._cfast([1.0])  # declines
    assert sys.getrefcount(out) == 2
    after = sys.getrefcount(a), sys.getrefcount(dtype), sys.getrefcount(NotImplemented)
    assert after == before


@needs_c
def test_threads_share_a_function_with_the_gil_released():
    x = T.dvector("x")
    f = theano.function([x], T.exp(x) * 2 + x)
    data = [np.linspace(-1, 1, 20000) + k for k in range(4)]
    want = [f(d) for d in data]  # one thread: the reference, bit for bit
    np.testing.assert_allclose(want[0], np.exp(data[0]) * 2 + data[0], rtol=1e-14, atol=1e-14)
    errors = []

    def work(k):
        for _ in range(20):
            if not np.array_equal(f(data[k]), want[k]):
                errors.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@needs_c
@pytest.mark.parametrize("allow_gc", [True, False])
def test_workspace_graphs_with_and_without_kept_workspace(allow_gc):
    with config.change_flags(allow_gc=allow_gc):
        x, w = T.dmatrix("x"), T.dmatrix("w")
        f = theano.function([x, w], T.tanh(T.dot(x, w)) + T.sum(x))
    rng = np.random.default_rng(0)
    for n in (4, 9, 4):
        a, b = rng.standard_normal((n, 3)), rng.standard_normal((3, 5))
        np.testing.assert_allclose(f(a, b), np.tanh(a @ b) + a.sum(), rtol=1e-12)


@needs_c
def test_runner_python_path_remembers_geometries_and_rechecks_ndim():
    x, y = T.dvectors("x", "y")
    f = theano.function([x, y], x * y + 1)
    runner = f.maker.program.runners[0]
    for n in (2, 3, 2, 3):
        a = np.arange(float(n))
        out = runner._call_py((a, a))[0]
        np.testing.assert_array_equal(out, a * a + 1)
    assert len(runner._plans) == 2
    with pytest.raises(ValueError, match="input 1 has 2 dimensions"):
        runner._call_py((np.ones(2), np.ones((1, 2))))
    np.testing.assert_array_equal(runner._call_py((np.ones(2), np.ones(2)))[0], [2.0, 2.0])


@needs_c
def test_array_layout_probe_agrees_with_numpy(fvec):
    from theanolite.ccodegen import program
    assert fvec._cfast is not None and program._layout_checked is True


# A pinned fingerprint of the fast-call C text, which is compiled into every module but
# is not part of the golden source of test_ccodegen_cache.py: changing it needs a
# CODEGEN_VERSION bump (ccodegen/keying.py) so old cache entries miss. Pinned at
# FASTCALL_VERSION; other changes may bump CODEGEN_VERSION past it.
FASTCALL_VERSION = 4
FASTCALL_SHA256 = "0e99bdbc76646b8043e043d659edf8061f1ec892d679ab31684cb6c0432cc056"


def test_fastcall_source_changes_bump_the_codegen_version():
    from theanolite.ccodegen import keying
    text = (Path(keying.__file__).parent / "tl_fastcall.h").read_bytes()
    sha = hashlib.sha256(text).hexdigest()
    if sha == FASTCALL_SHA256:
        assert keying.CODEGEN_VERSION >= FASTCALL_VERSION
    elif keying.CODEGEN_VERSION > FASTCALL_VERSION:
        pytest.fail(f"tl_fastcall.h changed: set FASTCALL_VERSION to {keying.CODEGEN_VERSION} "
                    f"and FASTCALL_SHA256 to {sha}")
    else:
        pytest.fail("tl_fastcall.h changed but CODEGEN_VERSION did not: bump it in "
                    "ccodegen/keying.py, then update FASTCALL_VERSION/FASTCALL_SHA256 here")
