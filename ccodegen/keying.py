"""The cache key of a compiled graph: named parts, each a pure function of its inputs.

Parts (hashed by ``theanolite.cache.make_key``, recorded in meta.json):

* ``graph``: canonical serialization of the optimized graph. Inputs and outputs by type;
  nodes in the graph's deterministic topological order, each as its op class and props
  spelled canonically, the C version of its entry (``node_version``: template version,
  scalar table version and the op's own ``c_code_version()``), its input references by
  position and its output types. Constants inlined into the C appear bit-exactly; larger
  constants are passed at run time, so only their type is recorded. No variable names,
  ids or addresses, so renaming variables keeps the key. Nodes without C are recorded by
  op class and types only (their props never reach the C).
* ``codegen``: ``CODEGEN_VERSION``, the cffi version, the fixed base flags and whether a
  BLAS was found (it decides which nodes get C).
* ``compiler``: the compiler's name, version and target (asked once per process).
* ``flags``: ``config.cxxflags`` (every flag of ``config.c_key_flags()``).
* ``platform``: ``theanolite.cache.platform_tag()`` plus the C library version (libmvec
  symbols depend on it).
"""
from __future__ import annotations

import functools
import os
import subprocess
from typing import Any

import numpy as np

from theanolite.ccodegen.partition import is_inlined
from theanolite.ccodegen.registry import c_entry
from theanolite.graph.basic import Constant, Variable
from theanolite.graph.fg import FunctionGraph
from theanolite.scalar.composite import canonical_constant, canonical_op

# Bump when the emitter, the runtime header or the ABI changes (2: dev-era entries invalid).
CODEGEN_VERSION = 2


def _type_text(var: Variable) -> str:
    t = var.type
    bcast = "".join("T" if b else "F" for b in getattr(t, "broadcastable", ()))
    return f"{type(t).__name__}({getattr(t, 'dtype', '?')},{bcast})"


def serialize_graph(fgraph: FunctionGraph) -> str:
    """The ``graph`` key part (see the module docstring)."""
    ref: dict[int, str] = {}
    lines = []
    for k, v in enumerate(fgraph.inputs):
        ref[id(v)] = f"i{k}"
        lines.append(f"input i{k} {_type_text(v)}")
    consts: list[str] = []

    def name_of(v: Variable) -> str:
        if id(v) not in ref:
            if not isinstance(v, Constant):
                raise ValueError(f"serialize_graph: {v} is not reachable from the inputs")
            ref[id(v)] = f"k{len(consts)}"
            consts.append(f"const k{len(consts)} {_const_text(v)}")
        return ref[id(v)]

    for j, node in enumerate(fgraph.toposort()):
        args = ",".join(name_of(v) for v in node.inputs)
        outs = ",".join(_type_text(v) for v in node.outputs)
        entry = c_entry(node)
        if entry is None:
            op_text = f"py:{type(node.op).__module__}.{type(node.op).__qualname__}"
        else:
            op_text = f"c:{canonical_op(node.op)} v{entry.node_version(node)}"
        for o, out in enumerate(node.outputs):
            ref[id(out)] = f"n{j}.{o}"
        lines.append(f"node n{j} {op_text}({args})->({outs})")
    lines += consts
    lines.append("outputs " + ",".join(name_of(v) for v in fgraph.outputs))
    return "\n".join(lines)


def _const_text(const: Constant) -> str:
    data = np.asarray(const.data)
    if is_inlined(const):
        return f"{_type_text(const)} shape={data.shape} value={canonical_constant(str(data.dtype), data.item())}"
    return f"{_type_text(const)} runtime"


@functools.lru_cache(maxsize=None)
def compiler_identity(cxx: str) -> str:
    """``<cxx basename> <version> <target>``, asked once per process and compiler."""
    try:
        proc = subprocess.run([cxx, "-dumpfullversion", "-dumpmachine"], capture_output=True,
                              text=True, timeout=60, check=False)
        words = " ".join(proc.stdout.split())
    except OSError as exc:
        words = f"unavailable ({exc})"
    return f"{os.path.basename(cxx)} {words}"


def libc_version() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or "unknown"
    except (ValueError, OSError, AttributeError):
        return "unknown"


def key_parts(fgraph: FunctionGraph, cxx: str, flag_values: dict[str, Any],
              base_flags: list[str]) -> dict[str, str]:
    """The named key parts of ``fgraph`` compiled by ``cxx`` with these flags."""
    import cffi
    from theanolite.cache import platform_tag
    from theanolite.ccodegen.blas_c import blas_available
    # BLAS availability decides which nodes get C, hence the generated code.
    codegen = (f"theanolite-ccodegen {CODEGEN_VERSION}; cffi {cffi.__version__}; "
               f"base {' '.join(base_flags)}; blas {int(blas_available())}")
    return {
        "graph": serialize_graph(fgraph),
        "codegen": codegen,
        # No compiler (cxx=""): only prebuilt entries can serve, found ignoring this part.
        "compiler": compiler_identity(cxx) if cxx else "none",
        "flags": ";".join(f"{k}={v}" for k, v in sorted(flag_values.items())),
        "platform": f"{platform_tag()} {libc_version()}",
    }
