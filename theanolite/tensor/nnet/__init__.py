"""``T.nnet``: neural-network functions."""
from theanolite.tensor.math import sigmoid, softplus  # noqa: F401
