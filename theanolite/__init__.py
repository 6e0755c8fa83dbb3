"""theanolite: a Theano-compatible symbolic tensor compiler.

``import theanolite as theano; import theanolite.tensor as T`` — build graphs, take
gradients, and compile them with ``theano.function``.
"""
import os as _os

# From a source checkout (not installed), the sibling folders ccodegen/, cache/ and tools/
# are the subpackages theanolite.ccodegen etc.; installs map them with package-dir.
_here = _os.path.dirname(_os.path.abspath(__file__))
_root = _os.path.dirname(_here)
if not _os.path.isdir(_os.path.join(_here, "cache")) and _os.path.isfile(
        _os.path.join(_root, "cache", "__init__.py")) and _os.path.isfile(_os.path.join(_root, "pyproject.toml")):
    __path__.append(_root)  # type: ignore[name-defined]

from theanolite.configparser import config, change_flags  # noqa: E402
from theanolite.graph.basic import Apply, Constant, Variable, clone_replace  # noqa: E402
from theanolite.graph.fg import FunctionGraph  # noqa: E402
from theanolite.graph.op import Op, Type  # noqa: E402
from theanolite.compile import (  # noqa: E402
    function, In, Out, Mode, shared, SharedVariable, shared_constructor)
from theanolite import tensor  # noqa: E402
from theanolite.tensor import raw_random, shared_randomstreams  # noqa: E402,F401 - T.shared_randomstreams; registers shared(RandomState)
from theanolite import gradient  # noqa: E402
from theanolite.gradient import grad, Rop, Lop  # noqa: E402,F401
from theanolite.printing import pp, pprint, debugprint  # noqa: E402
from theanolite import printing  # noqa: E402,F401

__version__ = "0.1.0"
from theanolite import scan_module  # noqa: E402,F401
from theanolite.scan_module import scan, map, reduce, foldl, foldr  # noqa: E402,F401,A004
