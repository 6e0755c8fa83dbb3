"""Run-time configuration: ``theanolite.config``.

Flags are read once from ``THEANOLITE_FLAGS`` (``"floatX=float32,mode=FAST_COMPILE"``)
at import and may be changed at run time by assignment or, in tests, with
``config.change_flags(...)``. Unknown names and bad values raise at once, naming the flag.
This object is the only global mutable state of the library.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
from dataclasses import dataclass
from typing import Any, Callable, Iterator


@dataclass(frozen=True)
class Flag:
    name: str
    default: Any
    parse: Callable[[str], Any]
    doc: str
    # Flags that change the generated C must be part of the cache key.
    in_c_key: bool = False


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {value!r}")
        return value
    return parse


def _bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean (True/False/1/0), got {value!r}")


def _size(value: str | int) -> int:
    """Bytes from ``1073741824``, ``512MB``, ``1GiB``, ``2G``."""
    if isinstance(value, int):
        return value
    text = str(value).strip().upper().replace("IB", "B")
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    text = text[:-1] if text.endswith("B") else text
    mult = units.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in units else text
    try:
        result = int(float(number) * mult)
    except ValueError:
        raise ValueError(f"expected a size such as 1GiB or 500MB, got {value!r}") from None
    if result < 0:
        raise ValueError(f"expected a non-negative size, got {value!r}")
    return result


def _str(value: str) -> str:
    return str(value)


def _default_cxx() -> str:
    # shutil.which is a PATH lookup, not a subprocess: import stays cheap.
    for candidate in ("gcc", "cc", "clang"):
        path = shutil.which(candidate)
        if path:
            return path
    return ""


_FLAGS = [
    Flag("floatX", "float64", _choice("float64", "float32", "float16"),
         "Default float dtype of T.scalar()/T.matrix() and of Python float constants."),
    Flag("mode", "FAST_RUN", _choice("FAST_RUN", "FAST_COMPILE", "DebugMode", "DEBUG_MODE", "Mode"),
         "Default compilation mode of theanolite.function."),
    Flag("optimizer", "fast_run", _choice("fast_run", "merge", "fast_compile", "None", "o1"),
         "Which rewrite set FAST_RUN uses."),
    Flag("optimizer_excluding", "", _str, "Colon-separated rewrite names or tags to skip."),
    Flag("optimizer_including", "", _str, "Colon-separated rewrite names or tags to add."),
    Flag("optimizer_verbose", False, _bool, "Print each rewrite as it fires."),
    Flag("linker", "cvm", _choice("cvm", "c", "py", "c|py", "vm"),
         "cvm/c: C where ops have C code; py: every node runs perform."),
    Flag("cxx", None, _str, "C compiler; empty string disables the C backend."),
    Flag("cxxflags", "-O3 -fno-math-errno -fPIC", _str,
         "Flags for the C compiler (part of the cache key).", in_c_key=True),
    Flag("compiledir", "", _str, "Cache directory (default: $THEANOLITE_CACHE_DIR, XDG, ~/.cache)."),
    Flag("cache_max_size", 2**30, _size, "Size cap of the on-disk cache, LRU-evicted."),
    Flag("explain_cache_misses", False, _bool,
         "On a cache miss, log (logger theanolite.cache) which key parts differ from the "
         "closest entry built from the same graph."),
    Flag("compile_on_cache_miss", True, _bool,
         "False: never run the C compiler; graphs missing from the cache run in Python "
         "(deployment machines, `theanolite-precompile --check`)."),
    Flag("cast_policy", "custom", _choice("custom", "numpy+floatX"),
         "How Python scalar constants get their dtype."),
    Flag("on_unused_input", "raise", _choice("raise", "warn", "ignore"),
         "Default of function(on_unused_input=...)."),
    Flag("compute_test_value", "off", _choice("off", "ignore", "warn", "raise", "pdb"),
         "Accepted for Theano compatibility; test values are not computed."),
    Flag("exception_verbosity", "low", _choice("low", "high"), "Detail of runtime errors."),
    Flag("warn_float64", "ignore", _choice("ignore", "warn", "raise", "pdb"),
         "Accepted for Theano compatibility."),
    Flag("allow_gc", True, _bool, "Free intermediate results during a call."),
    Flag("device", "cpu", _choice("cpu"), "Only the CPU is supported."),
    Flag("deterministic", "default", _choice("default", "more"), "Accepted for compatibility."),
]

_BY_NAME = {flag.name: flag for flag in _FLAGS}


class Config:
    """Attribute access to flags; assignment validates."""

    def __init__(self, env: str | None = None) -> None:
        object.__setattr__(self, "_values", {f.name: f.default for f in _FLAGS})
        if env:
            for item in env.split(","):
                item = item.strip()
                if not item:
                    continue
                if "=" not in item:
                    raise ValueError(f"THEANOLITE_FLAGS: expected name=value, got {item!r}")
                name, value = item.split("=", 1)
                setattr(self, name.strip(), value.strip())

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            value = values[name]
            if name == "cxx" and value is None:
                value = _default_cxx()
                values[name] = value
            return value
        raise AttributeError(f"theanolite.config has no flag {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        flag = _BY_NAME.get(name)
        if flag is None:
            raise AttributeError(
                f"theanolite.config has no flag {name!r}; known flags: {', '.join(sorted(_BY_NAME))}")
        if isinstance(value, str) or flag.parse in (_bool, _size):
            try:
                value = flag.parse(value)
            except ValueError as exc:
                raise ValueError(f"config flag {name!r}: {exc}") from None
        self._values[name] = value

    def flags(self) -> list[Flag]:
        return list(_FLAGS)

    def c_key_flags(self) -> dict[str, Any]:
        """The flags that change generated code: these, and only these, go into cache keys."""
        return {f.name: getattr(self, f.name) for f in _FLAGS if f.in_c_key}

    @contextlib.contextmanager
    def _changed(self, overrides: dict[str, Any]) -> Iterator[None]:
        old = {name: self._values[name] for name in overrides if name in self._values}
        try:
            for name, value in overrides.items():
                setattr(self, name, value)
            yield
        finally:
            self._values.update(old)

    def change_flags(self, **overrides: Any) -> "_ChangeFlags":
        """Context manager and decorator: ``with config.change_flags(floatX='float32'):``."""
        return _ChangeFlags(self, overrides)

    def __str__(self) -> str:
        return "\n".join(f"{f.name} = {getattr(self, f.name)!r}  # {f.doc}" for f in _FLAGS)


class _ChangeFlags:
    def __init__(self, config: Config, overrides: dict[str, Any]) -> None:
        self._config = config
        self._overrides = overrides
        self._stack: list[contextlib.AbstractContextManager] = []

    def __enter__(self) -> None:
        manager = self._config._changed(self._overrides)
        manager.__enter__()
        self._stack.append(manager)

    def __exit__(self, *exc: Any) -> None:
        self._stack.pop().__exit__(*exc)

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._config._changed(self._overrides):
                return func(*args, **kwargs)
        return wrapper


config = Config(os.environ.get("THEANOLITE_FLAGS", ""))
change_flags = config.change_flags
