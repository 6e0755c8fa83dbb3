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
* ``compiler``: the compiler's name, version and target (``compiler_identity``: asked
  once per compiler binary and remembered in the cache root).
* ``flags``: ``config.cxxflags`` (every flag of ``config.c_key_flags()``).
* ``platform``: ``theanolite.cache.platform_tag()`` plus the C library version (libmvec
  symbols depend on it).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import numpy as np

from theanolite.cache.maintenance import DERIVED_DIRS
from theanolite.ccodegen.partition import is_inlined
from theanolite.ccodegen.registry import c_entry
from theanolite.graph.basic import Constant, Variable
from theanolite.graph.fg import FunctionGraph
from theanolite.scalar.composite import canonical_constant, canonical_op

# Bump when the emitter, the runtime header or the ABI changes (2: dev-era entries invalid;
# 3: the CPython fast-call export of tl_fastcall.h; 4: split build, the fast call in a
# unit of its own, kernels with hidden visibility).
CODEGEN_VERSION = 6


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


# ----------------------------------------------------------------------------- compiler

# Compiler identities asked in this process: (resolved path, mtime_ns, size) -> words.
_IDENTITIES: dict[tuple[str, int, int], str] = {}
# Under the cache root: one small JSON file per compiler binary (a derived dir of the cache).
IDENTITY_DIR = DERIVED_DIRS[0]


def compiler_identity(cxx: str, cache_root: str | os.PathLike[str] | None = None) -> str:
    """``<cxx basename> <version> <target>``, e.g. ``gcc 12.2.0 x86_64-linux-gnu``.

    ``<cxx> -dumpfullversion`` and ``-dumpmachine`` answer for the compiler binary, so
    they are asked once per binary (resolved path, ``st_mtime_ns``, ``st_size``):
    remembered for the process, and in ``<cache_root>/compiler/<digest>.json`` for later
    processes (written atomically, mode 0600). A remembered answer is used only if the
    file is ours, not writable by group/others, parses and names the same binary stat;
    anything else (a replaced or upgraded compiler, a corrupt or foreign file) asks the
    compiler again. A compiler that cannot be run gives ``unavailable (...)``, never
    remembered."""
    base = os.path.basename(cxx)
    binary = _stat_binary(cxx)
    if binary is None:
        return f"{base} {_ask_compiler(cxx)[0]}"
    words = _IDENTITIES.get(binary)
    if words is None:
        record = _record_path(cache_root, binary[0])
        words = _read_record(record, binary) if record is not None else None
        if words is None:
            words, ok = _ask_compiler(cxx)
            if not ok:
                return f"{base} {words}"
            if record is not None:
                _write_record(record, binary, words)
        _IDENTITIES[binary] = words
    return f"{base} {words}"


def _stat_binary(cxx: str) -> tuple[str, int, int] | None:
    """(resolved path, mtime_ns, size) of the compiler executable, or None if not found."""
    found = cxx if os.sep in cxx else shutil.which(cxx)
    if not found:
        return None
    resolved = os.path.realpath(found)
    try:
        st = os.stat(resolved)
    except OSError:
        return None
    return resolved, st.st_mtime_ns, st.st_size


def _ask_compiler(cxx: str) -> tuple[str, bool]:
    """(``<version> <target>``, whether the compiler answered both). gcc prints only the
    first ``-dump*`` option it is given, so each is asked on its own (at once)."""
    import subprocess
    procs: list[subprocess.Popen] = []
    try:
        for question in ("-dumpfullversion", "-dumpmachine"):
            procs.append(subprocess.Popen([cxx, question], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
    except OSError as exc:
        for proc in procs:
            proc.kill()
            proc.communicate()
        return f"unavailable ({exc})", False
    answers = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        text = out.decode(errors="replace") if proc.returncode == 0 else ""
        answers.append(" ".join(text.split()))
    ok = all(answers)
    return " ".join(a or "?" for a in answers), ok


def _record_path(cache_root: str | os.PathLike[str] | None, resolved: str) -> Path | None:
    """Where the identity of ``resolved`` is remembered, or None when the cache root is
    missing or not safely ours (then nothing is read or written)."""
    root = trusted_cache_root(cache_root)
    if root is None:
        return None
    digest = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:32]
    return root / IDENTITY_DIR / f"{digest}.json"


def trusted_cache_root(cache_root: str | os.PathLike[str] | None = None) -> Path | None:
    """``cache_root`` (default: the one ``config.compiledir`` selects) if it is an existing
    directory of ours not writable by group/others, else None. Creates nothing."""
    if cache_root is None:
        from theanolite.cache import resolve_cache_dir
        from theanolite.configparser import config
        cache_root = resolve_cache_dir(config.compiledir or None)[0]
    root = Path(cache_root)
    try:
        return None if unsafe(os.lstat(root), want_dir=True) else root
    except OSError:
        return None


def private_subdir(root: Path, name: str) -> Path | None:
    """``root/name``, created 0700 if missing, or None if it cannot be or is not ours."""
    path = root / name
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        return None if unsafe(os.lstat(path), want_dir=True) else path
    except OSError:
        return None


def unsafe(st: os.stat_result, want_dir: bool) -> bool:
    """Not a real directory/regular file (``lstat``) of ours, or writable by group or
    others: someone else could have put what we are about to trust there."""
    kind_ok = stat.S_ISDIR(st.st_mode) if want_dir else stat.S_ISREG(st.st_mode)
    return (not kind_ok or st.st_uid != os.geteuid()
            or bool(st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)))


def _read_record(path: Path, binary: tuple[str, int, int]) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            if unsafe(os.fstat(f.fileno()), want_dir=False):
                return None
            data = json.loads(f.read(65536))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if [data.get("path"), data.get("mtime_ns"), data.get("size")] != list(binary):
        return None  # another binary (or a replaced one) under the same name
    words = data.get("words")
    return words if isinstance(words, str) and words else None


def _write_record(path: Path, binary: tuple[str, int, int], words: str) -> None:
    """Publish the record atomically (private temp file + rename); failures are ignored:
    the record only saves a subprocess."""
    data = json.dumps({"path": binary[0], "mtime_ns": binary[1], "size": binary[2],
                       "words": words}).encode()
    if private_subdir(path.parent.parent, path.parent.name) is None:
        return
    from theanolite.cache.fsutil import replace_file
    replace_file(path, data)


def libc_version() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or "unknown"
    except (ValueError, OSError, AttributeError):
        return "unknown"


def key_parts(fgraph: FunctionGraph, cxx: str, flag_values: dict[str, Any],
              base_flags: list[str], cache_root: str | os.PathLike[str] | None = None
              ) -> dict[str, str]:
    """The named key parts of ``fgraph`` compiled by ``cxx`` with these flags.
    ``cache_root`` is where the compiler identity is remembered (default: the root
    ``config.compiledir`` selects); it does not change any part."""
    # cffi's own version without importing cffi (its parser is slow to import): the
    # backend module of a cffi install always has the same version as the package.
    from _cffi_backend import __version__ as cffi_version
    from theanolite.cache import platform_tag
    from theanolite.ccodegen.blas_c import blas_available
    # BLAS availability decides which nodes get C, hence the generated code.
    codegen = (f"theanolite-ccodegen {CODEGEN_VERSION}; cffi {cffi_version}; "
               f"base {' '.join(base_flags)}; blas {int(blas_available())}")
    return {
        "graph": serialize_graph(fgraph),
        "codegen": codegen,
        # No compiler (cxx=""): only prebuilt entries can serve, found ignoring this part.
        "compiler": compiler_identity(cxx, cache_root) if cxx else "none",
        "flags": ";".join(f"{k}={v}" for k, v in sorted(flag_values.items())),
        "platform": f"{platform_tag()} {libc_version()}",
    }
