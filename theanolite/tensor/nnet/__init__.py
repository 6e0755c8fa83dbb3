"""``T.nnet``: neural-network functions."""
from theanolite.tensor.math import sigmoid, softplus  # noqa: F401
from theanolite.tensor.nnet.basic import *  # noqa: F401,F403
from theanolite.tensor.nnet.basic import __all__ as _basic_all

__all__ = ["sigmoid", "softplus"] + list(_basic_all)
