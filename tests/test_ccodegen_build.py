"""The build driver of the C backend: compiler identity records, the split build and
its kept fast-call object (ccodegen/keying.py, ccodegen/build.py)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest

import theanolite as theano
import theanolite.tensor as T
from theanolite.ccodegen import build, keying
from theanolite.ccodegen.partition import partition

from ccodegen_support import PY_RAW, c_function, session_cache  # noqa: F401

# ----------------------------------------------------------------------------- identity

FAKE_CC = textwrap.dedent("""\
    #!/bin/sh
    echo "$1" >> "$(dirname "$0")/calls"
    case "$1" in
      -dumpfullversion) echo "9.9.9" ;;
      -dumpmachine) echo "fake-linux-gnu" ;;
      *) exit 1 ;;
    esac
""")


@pytest.fixture
def fake_cc(tmp_path, monkeypatch):
    """A compiler answering the identity questions, logging each call to ``calls``, and
    an empty private cache root; the process memo starts empty."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    cc = bindir / "fakecc"
    cc.write_text(FAKE_CC)
    cc.chmod(0o755)
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    monkeypatch.setattr(keying, "_IDENTITIES", {})
    return cc, root


def _calls(cc: Path) -> int:
    log = cc.parent / "calls"
    return len(log.read_text().split()) if log.exists() else 0


def _new_process(monkeypatch) -> None:
    monkeypatch.setattr(keying, "_IDENTITIES", {})


def _record(root: Path) -> Path:
    (path,) = (root / keying.IDENTITY_DIR).glob("*.json")
    return path


def test_identity_names_version_and_target_and_is_remembered(fake_cc, monkeypatch):
    cc, root = fake_cc
    assert keying.compiler_identity(str(cc), root) == "fakecc 9.9.9 fake-linux-gnu"
    assert _calls(cc) == 2
    assert keying.compiler_identity(str(cc), root) == "fakecc 9.9.9 fake-linux-gnu"
    assert _calls(cc) == 2  # this process remembers
    _new_process(monkeypatch)
    assert keying.compiler_identity(str(cc), root) == "fakecc 9.9.9 fake-linux-gnu"
    assert _calls(cc) == 2  # a new process reads the record
    record = _record(root)
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    assert not [p for p in record.parent.iterdir() if p.name.startswith(".tmp")]


def test_identity_is_asked_again_when_the_compiler_file_changes(fake_cc, monkeypatch):
    cc, root = fake_cc
    keying.compiler_identity(str(cc), root)
    st = cc.stat()
    os.utime(cc, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # replaced: new mtime
    _new_process(monkeypatch)
    keying.compiler_identity(str(cc), root)
    assert _calls(cc) == 4
    cc.write_text(FAKE_CC.replace("9.9.9", "9.9.10"))  # upgraded: new size
    os.utime(cc, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    _new_process(monkeypatch)
    assert keying.compiler_identity(str(cc), root) == "fakecc 9.9.10 fake-linux-gnu"
    assert _calls(cc) == 6


@pytest.mark.parametrize("damage", ["corrupt", "group_writable", "foreign", "symlink",
                                    "other_binary"])
def test_identity_record_is_ignored_unless_trustworthy(fake_cc, monkeypatch, damage):
    cc, root = fake_cc
    keying.compiler_identity(str(cc), root)
    record = _record(root)
    if damage == "corrupt":
        record.write_text('{"path": ')
    elif damage == "group_writable":
        record.write_text(record.read_text().replace("9.9.9", "6.6.6"))
        record.chmod(0o620)
    elif damage == "foreign":
        if os.geteuid() != 0:
            pytest.skip("needs root to give a file away")
        record.write_text(record.read_text().replace("9.9.9", "6.6.6"))
        os.chown(record, 4242, -1)
    elif damage == "symlink":
        target = root / "elsewhere.json"
        target.write_text(record.read_text().replace("9.9.9", "6.6.6"))
        target.chmod(0o600)
        record.unlink()
        record.symlink_to(target)
    else:  # a record naming another binary under this digest
        record.write_text(record.read_text().replace(str(os.path.realpath(cc)), "/usr/bin/cc"))
    _new_process(monkeypatch)
    assert keying.compiler_identity(str(cc), root) == "fakecc 9.9.9 fake-linux-gnu"
    assert _calls(cc) == 4


def test_identity_of_a_failing_compiler_is_not_remembered(fake_cc, monkeypatch):
    cc, root = fake_cc
    cc.write_text("#!/bin/sh\nexit 3\n")
    ident = keying.compiler_identity(str(cc), root)
    assert ident.startswith("fakecc ") and "9.9.9" not in ident
    assert not (root / keying.IDENTITY_DIR).exists()
    assert keying.compiler_identity("/nonexistent/cc", root).startswith("cc unavailable")


def test_identity_without_a_usable_cache_root(fake_cc, monkeypatch):
    cc, root = fake_cc
    assert keying.compiler_identity(str(cc), root / "missing") == "fakecc 9.9.9 fake-linux-gnu"
    root.chmod(0o777)  # not private: neither read nor written
    try:
        _new_process(monkeypatch)
        assert keying.compiler_identity(str(cc), root) == "fakecc 9.9.9 fake-linux-gnu"
        assert not (root / keying.IDENTITY_DIR).exists()
    finally:
        root.chmod(0o700)


def test_a_key_with_a_remembered_identity_runs_no_subprocess_and_no_parser(tmp_path):
    """The warm path: with the identity recorded in the cache root, computing a key
    starts no process (no compiler question, no ``find_library``) and imports neither
    cffi's parser nor ``ctypes.util``."""
    if not theano.config.cxx:
        pytest.skip("no compiler")
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    child = textwrap.dedent("""
        import subprocess, sys
        import theanolite as theano, theanolite.tensor as T
        from theanolite.ccodegen import build
        from theanolite.compile.mode import Mode
        x = T.dvector()
        f = theano.function([x], x * 2, mode=Mode(linker="py"))
        started = []
        real = subprocess.Popen.__init__
        def spy(self, *args, **kwargs):
            started.append(args[0])
            return real(self, *args, **kwargs)
        subprocess.Popen.__init__ = spy
        build.key_of(f.maker.fgraph, theano.config.cxx, theano.config.c_key_flags())
        print(len(started), *(m in sys.modules for m in ("pycparser", "cffi", "ctypes.util")))
    """)
    env = dict(os.environ, THEANOLITE_CACHE_DIR=str(root),
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    env.pop("THEANOLITE_FLAGS", None)  # a compiledir flag would win over the root
    outs = [subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                           env=env, check=True).stdout.split() for _ in range(2)]
    assert outs[0][0] != "0"  # the first process asks the compiler (and records it)
    assert outs[1] == ["0", "False", "False", "False"]


def test_the_real_compiler_identity_has_a_target():
    if not theano.config.cxx:
        pytest.skip("no compiler")
    words = keying.compiler_identity(theano.config.cxx).split()
    assert len(words) >= 3 and "?" not in words, words


# ----------------------------------------------------------------------------- split build

def _source(expr_of):
    """(C source, cdef) of a small graph (built without compiling it)."""
    x = T.dvector("x")
    f = theano.function([x], expr_of(x), mode=PY_RAW)
    return build.module_source(partition(f.maker.fgraph))


@pytest.fixture
def private_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    with theano.config.change_flags(compiledir=str(root)):
        yield root


def _compile(expr_of, outdir: Path, name: str) -> tuple[Path, Path]:
    outdir.mkdir()
    source, decls = _source(expr_of)
    so_name, c_name = build.compile_module(source, decls, name, outdir, theano.config.cxx,
                                           theano.config.cxxflags)
    return outdir / so_name, outdir / c_name


def _kept(root: Path) -> list[Path]:
    return sorted((root / build.RUNTIME_DIR).glob("fastcall-*.o"))


def _count_fastcall_compiles(monkeypatch) -> list[int]:
    started = [0]
    real = build._FastcallObject.start

    def start(self):
        started[0] += 1
        return real(self)
    monkeypatch.setattr(build._FastcallObject, "start", start)
    return started


def _run(so: Path, name: str) -> None:
    """The module loads and its entry and fast-call export exist."""
    module = build.load_module(so, name)
    assert hasattr(module.lib, "tl_seg0") and hasattr(module.lib, "tl_fast_kit")


def test_fast_call_object_is_kept_and_reused(private_root, tmp_path, monkeypatch):
    started = _count_fastcall_compiles(monkeypatch)
    so, _ = _compile(lambda x: x * 2 + 1, tmp_path / "a", "_tl_build_a")
    _run(so, "_tl_build_a")
    (kept,) = _kept(private_root)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    so, _ = _compile(lambda x: T.exp(x) - 3, tmp_path / "b", "_tl_build_b")
    _run(so, "_tl_build_b")
    assert started[0] == 1 and _kept(private_root) == [kept]


@pytest.mark.parametrize("damage", ["garbage", "group_writable", "empty"])
def test_a_damaged_kept_object_is_rebuilt(private_root, tmp_path, monkeypatch, damage):
    _compile(lambda x: x * 2 + 1, tmp_path / "a", "_tl_build_c")
    (kept,) = _kept(private_root)
    good = kept.read_bytes()
    if damage == "garbage":
        kept.write_bytes(b"\x7fELF" + b"\0" * 100)
    elif damage == "empty":
        kept.write_bytes(b"")
    else:
        kept.chmod(0o660)
    started = _count_fastcall_compiles(monkeypatch)
    so, _ = _compile(lambda x: x * 3 - 1, tmp_path / "b", "_tl_build_d_" + damage)
    _run(so, "_tl_build_d_" + damage)
    assert started[0] == 1
    assert kept.read_bytes() == good and stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_without_a_cache_root_nothing_is_kept(tmp_path, monkeypatch):
    root = tmp_path / "shared"
    root.mkdir(mode=0o777)
    root.chmod(0o777)  # group/other-writable: not trusted
    with theano.config.change_flags(compiledir=str(root)):
        so, _ = _compile(lambda x: x + 5, tmp_path / "a", "_tl_build_e")
    _run(so, "_tl_build_e")
    assert not (root / build.RUNTIME_DIR).exists()


def test_the_c_file_alone_builds_the_module(private_root, tmp_path):
    """The stored C file is the whole module: compiled as one unit, it loads and runs."""
    _, c_path = _compile(lambda x: T.tanh(x) * 2, tmp_path / "a", "_tl_build_f")
    cxx, cxxflags = theano.config.cxx, theano.config.cxxflags
    out = tmp_path / "one" / ("_tl_build_f" + build._extension_suffix())
    out.parent.mkdir()
    cmd = [cxx, *build.base_flags(cxxflags), *cxxflags.split(), "-I",
           sysconfig.get_paths()["include"], str(c_path), "-o", str(out), "-lm"]
    cmd += ["-lmvec"] if build.use_libmvec() else []
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    _run(out, "_tl_build_f")


@pytest.mark.parametrize("flags,extra", [("-O3 -fno-math-errno -fPIC", ["-O1"]), ("-O2", ["-O1"]),
                                         ("-Ofast", ["-O1"]), ("-O0 -g", []), ("-Os", []),
                                         ("", []), ("-O3 -O1", [])])
def test_cffi_glue_is_never_optimized_beyond_o1(flags, extra):
    assert build._glue_opt(flags) == extra


def test_compile_errors_name_the_command_and_leave_no_process(private_root, tmp_path,
                                                              monkeypatch):
    jobs = []
    real_init = build._Job.__init__

    def init(self, cmd, cwd):
        real_init(self, cmd, cwd)
        jobs.append(self)
    monkeypatch.setattr(build._Job, "__init__", init)
    (tmp_path / "a").mkdir()
    source = "#include <stdint.h>\nint tl_seg0(int phase) { return undeclared_name; }\n"
    with pytest.raises(build.CompileError, match="undeclared_name"):
        build.compile_module(source, "int tl_seg0(int phase);", "_tl_build_g", tmp_path / "a",
                             theano.config.cxx, theano.config.cxxflags)
    assert jobs and all(job.proc.returncode is not None for job in jobs)


def test_functions_still_compile_and_run(session_cache):  # noqa: F811
    x = T.dmatrix("x")
    f = c_function([x], T.grad(T.sum(1 / (1 + T.exp(-x))), x))
    v = np.linspace(-3, 3, 12).reshape(3, 4)
    s = 1 / (1 + np.exp(-v))
    np.testing.assert_allclose(f(v), s * (1 - s), rtol=1e-12)
