"""Shared test setup: make the tests folder importable (op_table) for every test module."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_collection_modifyitems(config, items):
    """The C backend's own tests need a compiler; with cxx='' (or none found) they skip,
    and every other test must pass on the Python fallback alone."""
    import pytest
    from theanolite.configparser import config as tl_config
    if tl_config.cxx:
        return
    skip = pytest.mark.skip(reason="needs a C compiler (config.cxx is empty)")
    for item in items:
        if item.fspath.basename.startswith("test_ccodegen_"):
            item.add_marker(skip)


def pytest_configure(config):
    """With the C backend disabled, use an empty private cache: modules left by a C run
    would otherwise load (as they should for users) and the Python fallback would go
    untested."""
    import tempfile
    from theanolite.configparser import config as tl_config
    if not tl_config.cxx and not tl_config.compiledir:
        tl_config.compiledir = tempfile.mkdtemp(prefix="theanolite-nocc-cache-")
