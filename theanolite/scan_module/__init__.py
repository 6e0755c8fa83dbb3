"""``theanolite.scan`` and friends: loops over symbolic graphs (Theano's scan module).

``scan`` builds a ``Scan`` op from a Python step function; ``map``, ``reduce``, ``foldl``
and ``foldr`` are thin wrappers. Gradients (backpropagation through time, optionally
truncated) and R-operators go through the op's ``L_op`` / ``R_op``.
"""
from theanolite.scan_module.op import Scan
from theanolite.scan_module.scan import scan
from theanolite.scan_module.utils import OrderedUpdates, until
from theanolite.scan_module.views import foldl, foldr, map, reduce  # noqa: A004

__all__ = ["scan", "map", "reduce", "foldl", "foldr", "until", "Scan", "OrderedUpdates"]
