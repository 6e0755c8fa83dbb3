"""The theanolite graphs of the benchmarks, and their input data.

Used both in-process (workloads.py) and by the fresh-process compile probes (fresh.py):
the same builder must produce the same graph in every process, so a warm cache hits.
Each ``build_*`` returns a ``Built``: the arguments of ``theano.function`` and the call
arguments, ready for ``compile_built``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import theanolite as theano
import theanolite.tensor as T


@dataclass(frozen=True)
class MLPSpec:
    """An MLP training step: ``n_in``-``n_hidden``-``n_out``, tanh hidden layer, softmax
    + categorical crossentropy on integer labels, SGD with rate ``lr`` on ``batch`` rows."""
    n_in: int = 784
    n_hidden: int = 512
    n_out: int = 10
    batch: int = 128
    lr: float = 0.1
    seed: int = 0


@dataclass
class Built:
    """``theano.function(inputs, outputs, updates=updates)`` called as ``f(*args)``."""
    inputs: list
    outputs: Any
    args: tuple
    updates: list = field(default_factory=list)
    shared: list = field(default_factory=list)


def compile_built(built: Built, mode: Any) -> Any:
    """The compiled function of ``built`` under ``mode`` (a name or a ``Mode``)."""
    return theano.function(built.inputs, built.outputs, updates=built.updates or None, mode=mode)


# ----------------------------------------------------------------------------- graphs

def elemwise_expr(x: Any, exp: Callable, tanh: Callable) -> Any:
    """The fused elementwise workload, written once for every library."""
    return 1 / (1 + exp(-x)) * x + tanh(x) ** 2


def build_elemwise(n: int, dtype: str = "float64") -> Built:
    x = T.TensorType(dtype, (False,))("x")
    data = np.random.default_rng(1).standard_normal(n).astype(dtype)
    return Built([x], elemwise_expr(x, T.exp, T.tanh), (data,))


def build_overhead() -> Built:
    x = T.dscalar("x")
    return Built([x], x * 2 + 1, (np.asarray(1.5),))


def build_logistic(shape: tuple[int, int]) -> Built:
    x = T.dmatrix("x")
    data = np.random.default_rng(2).standard_normal(shape)
    return Built([x], T.grad(T.sum(1 / (1 + T.exp(-x))), x), (data,))


def mlp_initial(spec: MLPSpec, dtype: str) -> list[np.ndarray]:
    """Initial ``[W1, b1, W2, b2]`` (scaled normal weights, small nonzero biases)."""
    rng = np.random.default_rng(spec.seed)
    w1 = rng.standard_normal((spec.n_in, spec.n_hidden)) / np.sqrt(spec.n_in)
    b1 = rng.standard_normal(spec.n_hidden) * 0.01
    w2 = rng.standard_normal((spec.n_hidden, spec.n_out)) / np.sqrt(spec.n_hidden)
    b2 = rng.standard_normal(spec.n_out) * 0.01
    return [p.astype(dtype) for p in (w1, b1, w2, b2)]


def mlp_data(spec: MLPSpec, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch: inputs in [0, 1) (like pixel intensities) and int64 labels."""
    rng = np.random.default_rng(spec.seed + 1)
    x = rng.random((spec.batch, spec.n_in)).astype(dtype)
    y = rng.integers(0, spec.n_out, spec.batch).astype(np.int64)
    return x, y


def build_mlp(spec: MLPSpec, dtype: str = "float64",
              initial: list[np.ndarray] | None = None) -> Built:
    """The training step; returns the cost and updates the shared ``[W1, b1, W2, b2]``."""
    values = mlp_initial(spec, dtype) if initial is None else initial
    params = [theano.shared(v.copy(), name=n) for v, n in zip(values, ("W1", "b1", "W2", "b2"))]
    w1, b1, w2, b2 = params
    x = T.TensorType(dtype, (False, False))("x")
    y = T.lvector("y")
    hidden = T.tanh(T.dot(x, w1) + b1)
    prob = T.nnet.softmax(T.dot(hidden, w2) + b2)
    cost = T.mean(T.nnet.categorical_crossentropy(prob, y))
    grads = T.grad(cost, params)
    lr = np.asarray(spec.lr, dtype=dtype)
    updates = [(p, p - lr * g) for p, g in zip(params, grads)]
    return Built([x, y], cost, mlp_data(spec, dtype), updates, params)


def build_named(name: str, spec: MLPSpec, logistic_shape: tuple[int, int]) -> Built:
    """Builders by the names the fresh-process probes use."""
    if name == "logistic":
        return build_logistic(logistic_shape)
    if name == "mlp":
        return build_mlp(spec, "float64")
    raise ValueError(f"unknown graph {name!r}: expected 'logistic' or 'mlp'")


def describe_linker(f: Any) -> str:
    """Which linker actually runs ``f``: ``C`` (with segment and Python-node counts when
    the graph is mixed), ``py`` or ``py (fallback)`` when C was asked for, or the
    program's class name if it is something else."""
    maker = getattr(f, "maker", None)
    program = getattr(maker, "program", None)
    asked = getattr(getattr(maker, "mode", None), "linker", "?")
    kind = type(program).__name__
    part = getattr(program, "partition", None)
    if part is not None and hasattr(part, "steps"):
        segs = [s for s in part.steps if hasattr(s, "nodes")]
        n_py = len(part.steps) - len(segs)
        return f"C ({len(segs)} seg)" if n_py == 0 else f"C ({len(segs)} seg + {n_py} py nodes)"
    if kind in ("PyProgram", "LazyPyProgram"):
        return "py" if asked == "py" else "py (fallback)"
    return kind
