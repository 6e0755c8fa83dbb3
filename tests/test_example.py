"""The README's main job runs and its loss falls."""
from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "logistic_regression.py"


def test_logistic_regression_example_trains(capsys) -> None:
    spec = importlib.util.spec_from_file_location("logistic_regression_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    final = module.main(n_samples=60, n_features=8, steps=40)
    out = capsys.readouterr().out
    first = float(out.split("cost ")[1].split()[0])
    assert final < 0.7 * first
    assert "C modules:" in out and "training accuracy" in out
