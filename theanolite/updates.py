"""``theanolite.updates.OrderedUpdates``: the ordered mapping scan returns (Theano's path)."""
from theanolite.scan_module.utils import OrderedUpdates  # noqa: F401
