"""Smoke test of the benchmark suite (theanolite.tools.bench): tiny sizes, no timing
assertions. Checks that every workload produces its rows and a printable table, that the
hand-written numpy MLP step matches theanolite (and a finite-difference gradient), and
the harness contracts (sampling, ratios, targets, JSON, CLI parsing)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from theanolite.tools.bench import workloads
from theanolite.tools.bench.__main__ import _parse
from theanolite.tools.bench.graphs import MLPSpec, mlp_data, mlp_initial
from theanolite.tools.bench.harness import (Row, Target, format_report, format_seconds,
                                            format_table, measure_side_by_side, write_json)
from theanolite.tools.bench.mlp_numpy import check_mlp_reference, numpy_mlp_step, tolerance

TINY_MLP = MLPSpec(n_in=12, n_hidden=7, n_out=4, batch=5)
TINY = dataclasses.replace(workloads.QUICK, min_time=0.002, min_samples=2, elemwise_sizes=(1000,),
                           logistic_shape=(16, 16), mlp=TINY_MLP, fresh_runs=1, competitors=False)

EXPECTED_ROWS = {"elemwise": 1, "overhead": 1, "logistic": 1, "mlp": 2, "compile": 4, "import": 1}


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[Row]:
    patch = pytest.MonkeyPatch()
    patch.setenv("THEANOLITE_CACHE_DIR", str(tmp_path_factory.mktemp("bench-cache")))
    try:
        yield workloads.run(TINY)
    finally:
        patch.undo()


def test_every_workload_has_its_rows_in_the_table(rows: list[Row]) -> None:
    counts = {name: sum(r.workload == name for r in rows) for name in workloads.WORKLOADS}
    assert counts == EXPECTED_ROWS
    table = format_table(rows)
    for row in rows:
        assert row.name in table
    for name in ("fused elemwise n=1e3", "call overhead", "logistic grad 16x16", "MLP step f64",
                 "MLP step f32", "cold function(): logistic grad", "warm function() fresh proc: MLP",
                 "import theanolite"):
        assert name in table
    report = format_report(rows, ["header"], workloads.ANCHORS)
    assert "PyTensor-C 19.3 ms" in report and "JAX persistent cache 0.11 s" in report


def test_rows_have_times_linkers_and_passing_checks(rows: list[Row]) -> None:
    for row in rows:
        assert row.times.get("C", 0) > 0, row
        assert row.linker, row
        assert not row.notes or not any("failed" in n for n in row.notes), row.notes
        if row.workload in ("elemwise", "overhead", "logistic", "mlp"):
            assert row.check.startswith("ok"), (row.name, row.check)
            assert row.times["py"] > 0 and row.times["ref"] > 0
            assert row.ratio("C") == pytest.approx(row.times["ref"] / row.times["C"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["FAST_RUN", "py"])
def test_numpy_mlp_reference_matches_theanolite(dtype: str, mode: str) -> None:
    from theanolite.compile.mode import Mode
    diff = check_mlp_reference(TINY_MLP, dtype, mode if mode == "FAST_RUN" else Mode(linker="py"), steps=3)
    assert diff["cost"] <= tolerance(dtype)
    assert diff["params"] <= tolerance(dtype)


def _numpy_cost(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    w1, b1, w2, b2 = params
    z = np.tanh(x @ w1 + b1) @ w2 + b2
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def test_numpy_mlp_step_is_a_gradient_step() -> None:
    """Independent of theanolite: the update equals -lr * a central-difference gradient."""
    params = mlp_initial(TINY_MLP, "float64")
    x, y = mlp_data(TINY_MLP, "float64")
    updated = [p.copy() for p in params]
    cost = numpy_mlp_step(updated, x, y, TINY_MLP.lr)
    assert float(cost) == pytest.approx(_numpy_cost(params, x, y), rel=1e-12)
    eps = 1e-6
    for k, index in ((0, (3, 2)), (1, (4,)), (2, (6, 1)), (3, (0,))):
        plus = [p.copy() for p in params]
        minus = [p.copy() for p in params]
        plus[k][index] += eps
        minus[k][index] -= eps
        numeric = (_numpy_cost(plus, x, y) - _numpy_cost(minus, x, y)) / (2 * eps)
        step = (params[k][index] - updated[k][index]) / TINY_MLP.lr
        assert step == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_measure_side_by_side_meets_its_sampling_contract() -> None:
    timings = measure_side_by_side({"a": (abs, (-1.0,)), "b": (max, (1, 2))}, min_time=0.003, min_samples=3)
    for t in timings.values():
        assert t.samples >= 3 and t.total >= 0.003 and t.number >= 1 and t.median > 0


def test_targets_ratios_and_formatting() -> None:
    row = Row("x", "x", times={"C": 1e-3, "py": 4e-3, "ref": 3e-3}, ref_label="numpy",
              target=Target("ratio", 2.5, ">=2.5x"))
    assert row.ratio("C") == pytest.approx(3.0) and row.ratio("py") == pytest.approx(0.75)
    assert row.met() is True
    row.target = Target("seconds", 5e-4, "<0.5 ms")
    assert row.met() is False
    assert Row("y", "y").met() is None and Row("y", "y").ratio("C") is None
    assert format_seconds(1.5e-3) == "1.50 ms"
    assert format_seconds(0.53e-6) == "530 ns"
    assert format_seconds(12.3) == "12.3 s"
    assert format_seconds(None) == "-"


def test_json_output_round_trips(tmp_path) -> None:
    path = tmp_path / "out.json"
    row = Row("mlp", "MLP", times={"C": 2.0, "ref": 3.0}, target=Target("ratio", 1.1, ">=1.1x"))
    write_json(str(path), [row], {"mode": "quick"})
    data = json.loads(path.read_text())
    assert data["meta"] == {"mode": "quick"}
    assert data["rows"][0]["ratio_ref_over_C"] == pytest.approx(1.5)
    assert data["rows"][0]["target_met"] is True


def test_cli_options_and_unknown_workload() -> None:
    args = _parse(["--quick", "--only", "mlp,logistic", "--only", "import", "--json", "o.json"])
    assert args.quick and args.json == "o.json" and args.only == ["mlp,logistic", "import"]
    with pytest.raises(ValueError, match="unknown workload"):
        workloads.run(TINY, ["nope"])
