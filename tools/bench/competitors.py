"""Optional competitors: PyTensor, JAX and torch versions of the workloads.

Nothing here is installed by the benchmark: a library is used only if
``importlib.util.find_spec`` finds it, and is imported lazily, inside the workload that
needs it. Each ``*_cases`` function returns ``{column: (fn, args)}`` for the libraries
that are present and a list of notes (skipped or failed libraries); a library that
fails to build a case is reported, never fatal. Every callable waits for its result
(JAX dispatches asynchronously) so the times are comparable to numpy's.
"""
from __future__ import annotations

import importlib.util
from typing import Any, Callable

import numpy as np

from theanolite.tools.bench.graphs import MLPSpec, elemwise_expr

LIBRARIES = {"PyTensor": "pytensor", "JAX": "jax", "torch": "torch"}

Cases = dict[str, tuple[Callable, tuple]]


def available() -> list[str]:
    """Column names of the competitor libraries that are installed."""
    return [col for col, mod in LIBRARIES.items() if importlib.util.find_spec(mod) is not None]


def missing_note() -> str | None:
    """A note naming the competitors that are not installed, or None."""
    absent = [col for col, mod in LIBRARIES.items() if importlib.util.find_spec(mod) is None]
    return f"not installed, skipped: {', '.join(absent)}" if absent else None


def _collect(builders: dict[str, Callable[[], tuple[Callable, tuple]]]) -> tuple[Cases, list[str]]:
    cases, notes = {}, []
    for col in available():
        try:
            cases[col] = builders[col]()
        except Exception as exc:  # a broken optional library must not stop the benchmark
            notes.append(f"{col} failed: {type(exc).__name__}: {exc}"[:200])
    return cases, notes


def _jax() -> Any:
    import jax
    jax.config.update("jax_enable_x64", True)
    return jax


def _torch() -> Any:
    import torch
    torch.set_num_threads(1)
    return torch


def _blocking(fn: Callable) -> Callable:
    """Wrap a jitted JAX function so a call returns only when the result is ready."""
    def call(*args: Any) -> Any:
        return fn(*args).block_until_ready()
    return call


# ----------------------------------------------------------------------------- workloads

def elemwise_cases(x: np.ndarray) -> tuple[Cases, list[str]]:
    def pytensor_case() -> tuple[Callable, tuple]:
        import pytensor
        import pytensor.tensor as pt
        v = pt.vector("x", dtype=str(x.dtype))
        return pytensor.function([v], elemwise_expr(v, pt.exp, pt.tanh)), (x,)

    def jax_case() -> tuple[Callable, tuple]:
        jax = _jax()
        import jax.numpy as jnp
        f = jax.jit(lambda v: elemwise_expr(v, jnp.exp, jnp.tanh))
        return _blocking(f), (jnp.asarray(x),)

    def torch_case() -> tuple[Callable, tuple]:
        torch = _torch()
        return (lambda v: elemwise_expr(v, torch.exp, torch.tanh)), (torch.from_numpy(x),)

    return _collect({"PyTensor": pytensor_case, "JAX": jax_case, "torch": torch_case})


def overhead_cases(x: np.ndarray) -> tuple[Cases, list[str]]:
    def pytensor_case() -> tuple[Callable, tuple]:
        import pytensor
        import pytensor.tensor as pt
        s = pt.dscalar("x")
        return pytensor.function([s], s * 2 + 1), (x,)

    def jax_case() -> tuple[Callable, tuple]:
        jax = _jax()
        return _blocking(jax.jit(lambda s: s * 2 + 1)), (x,)

    def torch_case() -> tuple[Callable, tuple]:
        torch = _torch()
        return (lambda s: s * 2 + 1), (torch.from_numpy(x),)

    return _collect({"PyTensor": pytensor_case, "JAX": jax_case, "torch": torch_case})


def logistic_cases(x: np.ndarray) -> tuple[Cases, list[str]]:
    def pytensor_case() -> tuple[Callable, tuple]:
        import pytensor
        import pytensor.tensor as pt
        m = pt.dmatrix("x")
        return pytensor.function([m], pytensor.grad(pt.sum(1 / (1 + pt.exp(-m))), m)), (x,)

    def jax_case() -> tuple[Callable, tuple]:
        jax = _jax()
        import jax.numpy as jnp
        f = jax.jit(jax.grad(lambda m: jnp.sum(1 / (1 + jnp.exp(-m)))))
        return _blocking(f), (jnp.asarray(x),)

    def torch_case() -> tuple[Callable, tuple]:
        torch = _torch()

        def grad(m: Any) -> Any:
            m = m.detach().requires_grad_()
            torch.sum(1 / (1 + torch.exp(-m))).backward()
            return m.grad
        return grad, (torch.from_numpy(x),)

    return _collect({"PyTensor": pytensor_case, "JAX": jax_case, "torch": torch_case})


def mlp_cases(spec: MLPSpec, initial: list[np.ndarray], x: np.ndarray,
              y: np.ndarray) -> tuple[Cases, list[str]]:
    lr = spec.lr

    def pytensor_case() -> tuple[Callable, tuple]:
        import pytensor
        import pytensor.tensor as pt
        params = [pytensor.shared(p.copy()) for p in initial]
        w1, b1, w2, b2 = params
        xs, ys = pt.matrix("x", dtype=str(x.dtype)), pt.lvector("y")
        prob = pt.special.softmax(pt.dot(pt.tanh(pt.dot(xs, w1) + b1), w2) + b2, axis=-1)
        cost = -pt.mean(pt.log(prob)[pt.arange(ys.shape[0]), ys])
        grads = pytensor.grad(cost, params)
        rate = np.asarray(lr, dtype=x.dtype)
        f = pytensor.function([xs, ys], cost, updates=[(p, p - rate * g) for p, g in zip(params, grads)])
        return f, (x, y)

    def jax_case() -> tuple[Callable, tuple]:
        jax = _jax()
        import jax.numpy as jnp

        def loss(params: tuple, xb: Any, yb: Any) -> Any:
            w1, b1, w2, b2 = params
            logits = jnp.tanh(xb @ w1 + b1) @ w2 + b2
            return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(yb.shape[0]), yb])

        @jax.jit
        def step(params: tuple, xb: Any, yb: Any) -> tuple:
            cost, grads = jax.value_and_grad(loss)(params, xb, yb)
            return cost, tuple(p - lr * g for p, g in zip(params, grads))

        state = [tuple(jnp.asarray(p) for p in initial)]

        def run(xb: Any, yb: Any) -> Any:
            cost, state[0] = step(state[0], xb, yb)
            return cost.block_until_ready()
        return run, (jnp.asarray(x), jnp.asarray(y))

    def torch_case() -> tuple[Callable, tuple]:
        torch = _torch()
        params = [torch.tensor(p, requires_grad=True) for p in initial]
        w1, b1, w2, b2 = params

        def run(xb: Any, yb: Any) -> Any:
            cost = torch.nn.functional.cross_entropy(torch.tanh(xb @ w1 + b1) @ w2 + b2, yb)
            cost.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
            return cost
        return run, (torch.from_numpy(x), torch.from_numpy(y))

    return _collect({"PyTensor": pytensor_case, "JAX": jax_case, "torch": torch_case})


def import_statements() -> dict[str, str]:
    """``column -> import statement`` for the installed competitors (fresh-process timing)."""
    return {col: f"import {LIBRARIES[col]}" for col in available()}
