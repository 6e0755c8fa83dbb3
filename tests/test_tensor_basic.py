"""Tensor constructors, constants and their dtypes, as Theano names and types them."""
from __future__ import annotations

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T


@pytest.mark.parametrize("prefix, dtype", [("b", "int8"), ("w", "int16"), ("i", "int32"), ("l", "int64"),
                                           ("f", "float32"), ("d", "float64")])
@pytest.mark.parametrize("kind, bcast", [("scalar", ()), ("vector", (False,)), ("matrix", (False, False)),
                                         ("row", (True, False)), ("col", (False, True)),
                                         ("tensor3", (False,) * 3), ("tensor4", (False,) * 4)])
def test_typed_constructors(prefix, dtype, kind, bcast) -> None:
    var = getattr(T, prefix + kind)("v")
    assert (var.dtype, var.broadcastable, var.name) == (dtype, bcast, "v")
    plural = getattr(T, prefix + ("matrices" if kind == "matrix" else kind + "s"))
    a, b = plural("a", "b")
    assert (a.name, b.name, a.type) == ("a", "b", var.type)
    assert len(plural(3)) == 3


def test_floatx_defaults() -> None:
    assert T.matrix().dtype == "float64" and T.scalars("a", "b")[0].dtype == "float64"
    with theano.config.change_flags(floatX="float32"):
        assert T.matrix().dtype == "float32" and T.tensor3().dtype == "float32"
        assert T.constant(0.1).dtype == "float32"


@pytest.mark.parametrize("value, dtype", [(2, "int8"), (300, "int16"), (70000, "int32"), (2**40, "int64"),
                                          (0.5, "float32"), (0.1, "float64"), (True, "bool"),
                                          ([1, 2], "int8"), ([1.5, 2.0], "float64"), (np.float32(1), "float32")])
def test_constant_dtypes_follow_theano_autocasting(value, dtype) -> None:
    assert T.constant(value).dtype == dtype
    assert T.as_tensor_variable(value).dtype == dtype


def test_constant_broadcastable_flags_and_errors() -> None:
    c = T.constant(np.ones((1, 3)))
    assert c.broadcastable == (True, False)
    assert T.constant(2, ndim=2).broadcastable == (True, True)
    with pytest.raises(TypeError, match="cannot"):
        T.as_tensor_variable("text")
    with pytest.raises(TypeError, match="cannot"):
        T.as_tensor_variable(object())


def test_tensor_type_filter_rules() -> None:
    t = T.TensorType("float64", (False,))
    assert t.filter([1, 2]).dtype == np.float64
    assert t.filter(np.arange(2, dtype="int32")).dtype == np.float64  # lossless upcast
    with pytest.raises(TypeError, match="dimensions"):
        t.filter(np.ones((2, 2)))
    i = T.TensorType("int32", (False,))
    with pytest.raises(TypeError, match="accurately"):
        i.filter([1.5])
    with pytest.raises(TypeError, match="precision"):
        i.filter(np.ones(2, dtype="int64"))
    assert i.filter(np.ones(2, dtype="int64"), allow_downcast=True).dtype == np.int32
    row = T.TensorType("float64", (True, False))
    with pytest.raises(TypeError, match="broadcastable"):
        row.filter(np.ones((2, 2)))
    with pytest.raises(TypeError, match="dtype"):
        t.filter(np.ones(2, dtype="float32"), strict=True)


def test_shared_variables_of_numbers_and_arrays() -> None:
    s = theano.shared(0.5, name="lr")
    assert s.dtype == "float64" and s.ndim == 0 and s.name == "lr"
    m = theano.shared(np.zeros((2, 3), dtype="float32"))
    assert m.type == T.TensorType("float32", (False, False))
    assert (m * 2).dtype == "float32"
    with pytest.raises(TypeError, match="shared"):
        theano.shared("text")


def test_cast_and_astype() -> None:
    x = T.dvector("x")
    assert T.cast(x, "int32").dtype == "int32"
    assert x.astype("float32").dtype == "float32"
    assert T.cast(x, "floatX").dtype == theano.config.floatX
    assert T.cast(x, "float64") is x
    f = theano.function([x], T.cast(x, "int32"))
    assert f([1.7, -1.7]).tolist() == [1, -1]
