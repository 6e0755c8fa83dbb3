"""Compilation modes: which rewrites run and which linker executes the graph."""
from __future__ import annotations

from typing import Any

from theanolite.configparser import config


class Mode:
    """A linker name (``py``, ``cvm``/``c``) plus a rewrite set, with include/exclude lists."""

    def __init__(self, linker: str | None = None, optimizer: str | None = "fast_run",
                 including: tuple[str, ...] = (), excluding: tuple[str, ...] = (),
                 name: str = "Mode") -> None:
        self.linker = linker or config.linker
        self.optimizer = "None" if optimizer is None else optimizer
        self.included_tags = tuple(including)
        self.excluded_tags = tuple(excluding)
        self.name = name

    def including(self, *tags: str) -> "Mode":
        """A copy of this mode that also runs the rewrites named or tagged ``tags``."""
        return Mode(self.linker, self.optimizer, self.included_tags + tags, self.excluded_tags, self.name)

    def excluding(self, *tags: str) -> "Mode":
        """A copy of this mode that skips the rewrites named or tagged ``tags``."""
        return Mode(self.linker, self.optimizer, self.included_tags, self.excluded_tags + tags, self.name)

    def __repr__(self) -> str:
        return (f"Mode(linker={self.linker!r}, optimizer={self.optimizer!r}, "
                f"including={self.included_tags}, excluding={self.excluded_tags})")


class DebugMode(Mode):
    """Runs every node through C and Python and raises on any difference."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(linker="debug", optimizer=kwargs.pop("optimizer", "fast_run"), name="DebugMode")


def get_mode(mode: Any) -> Mode:
    """Resolve ``mode=`` of ``function``: None (config.mode), a name, or a Mode."""
    if mode is None:
        mode = config.mode
    if isinstance(mode, Mode):
        return mode
    if mode == "FAST_RUN":
        return Mode(None, config.optimizer, _split(config.optimizer_including),
                    _split(config.optimizer_excluding), name="FAST_RUN")
    if mode == "FAST_COMPILE":
        return Mode("py", "fast_compile", name="FAST_COMPILE")
    if mode in ("DebugMode", "DEBUG_MODE"):
        return DebugMode()
    if mode == "Mode":
        return Mode()
    raise ValueError(f"unknown mode {mode!r}: expected 'FAST_RUN', 'FAST_COMPILE', 'DebugMode' or a Mode")


def _split(text: str) -> tuple[str, ...]:
    return tuple(t for t in text.split(":") if t)


FAST_RUN = "FAST_RUN"
FAST_COMPILE = "FAST_COMPILE"
