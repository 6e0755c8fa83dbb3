"""Scalar types and the scalar ops that ``Elemwise`` applies elementwise."""
from theanolite.scalar.basic import *  # noqa: F401,F403
from theanolite.scalar.basic import ScalarOp, ScalarType, upcast, upgrade_to_float  # noqa: F401
