"""``map``, ``reduce``, ``foldl`` and ``foldr``: common loops written with ``scan``."""
from __future__ import annotations

from typing import Any, Callable

from theanolite.scan_module.scan import scan
from theanolite.scan_module.utils import OrderedUpdates


def map(fn: Callable, sequences: Any, non_sequences: Any = None, truncate_gradient: int = -1,
        go_backwards: bool = False, mode: Any = None, name: str | None = None) -> tuple[Any, OrderedUpdates]:
    """``fn`` applied to each row of the sequences; every output is stacked (no recurrence)."""
    return scan(fn, sequences=sequences, outputs_info=[], non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode, name=name)


def reduce(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None,
           go_backwards: bool = False, mode: Any = None, name: str | None = None) -> tuple[Any, OrderedUpdates]:
    """Like ``scan`` but returns only the value of each output after the last step."""
    outputs, updates = scan(fn, sequences=sequences, outputs_info=outputs_info,
                            non_sequences=non_sequences, go_backwards=go_backwards,
                            mode=mode, name=name)
    if isinstance(outputs, list):
        return [o[-1] for o in outputs], updates
    if outputs is None:
        return None, updates
    return outputs[-1], updates


def foldl(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None,
          mode: Any = None, name: str | None = None) -> tuple[Any, OrderedUpdates]:
    """``reduce`` from the first row to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, mode=mode, name=name)


def foldr(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None,
          mode: Any = None, name: str | None = None) -> tuple[Any, OrderedUpdates]:
    """``reduce`` from the last row to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, mode=mode, name=name)


__all__ = ["map", "reduce", "foldl", "foldr"]
