"""theanolite.ccodegen: the C backend.

An optimized graph is partitioned into maximal runs of nodes with C (partition.py); each
run becomes one C function with a plain ABI (segment.py) built from per-op tables and
templates (scalar_c.py, elemwise_c.py + elemwise.c, blas_c.py, reduce_c.py), compiled
once through cffi and a direct compiler call, and cached on disk by a named key
(keying.py, build.py, theanolite.cache). ``stats`` counts compiles and cache hits.
"""
from theanolite.ccodegen import stats  # noqa: F401

__all__ = ["stats"]
