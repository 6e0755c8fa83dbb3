"""``theanolite.tensor`` (``T``): symbolic tensors and everything that builds them."""
from theanolite.tensor.type import TensorType
from theanolite.tensor.var import TensorVariable, TensorConstant, _tensor_py_operators
from theanolite.tensor.elemwise import Elemwise, DimShuffle
from theanolite.tensor.basic import *  # noqa: F401,F403
from theanolite.tensor.math import *  # noqa: F401,F403
from theanolite.tensor.shape_ops import *  # noqa: F401,F403
from theanolite.tensor.subtensor import *  # noqa: F401,F403
from theanolite.tensor.reduction import *  # noqa: F401,F403
from theanolite.tensor.linalg import *  # noqa: F401,F403
from theanolite.tensor.extra_ops import *  # noqa: F401,F403
from theanolite.tensor import subtensor, nnet  # noqa: F401
from theanolite.gradient import grad, Rop, Lop, jacobian, hessian, verify_grad  # noqa: F401
