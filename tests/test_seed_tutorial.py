"""The first acceptance test: every ``>>>`` example of the seed tutorial, verbatim.

The examples are extracted from ``../shared/seeds/gradients-tutorial.zh.md`` at test time,
in document order, with only the import names changed (theano -> theanolite), and run as
one doctest session with an output checker that accepts numpy 2 reprs (``array(8.)`` for
``array(8.0)``) and compares numbers with a tolerance.
"""
from __future__ import annotations

import doctest
import re
from pathlib import Path

import numpy as np
import pytest

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "gradients-tutorial.zh.md"

_IMPORTS = [
    (re.compile(r"^(\s*>>> )import theano\.tensor as T\b", re.M), r"\1import theanolite.tensor as T"),
    (re.compile(r"^(\s*>>> )import theano\b", re.M), r"\1import theanolite as theano"),
    (re.compile(r"^(\s*>>> )from theano import\b", re.M), r"\1from theanolite import"),
]


def seed_blocks(text: str) -> list[str]:
    """The fenced code blocks of the markdown that hold ``>>>`` examples, in order."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    return [b for b in blocks if re.search(r"^\s*>>> ", b, flags=re.M)]


def port_to_theanolite(block: str) -> str:
    for pattern, replacement in _IMPORTS:
        block = pattern.sub(replacement, block)
    return block


def _as_number(text: str):
    text = " ".join(text.split())
    namespace = {"array": np.array, "nan": np.nan, "inf": np.inf, "float64": np.float64,
                 "float32": np.float32, "int64": np.int64, "__builtins__": {}}
    try:
        return np.asarray(eval(text, namespace))  # noqa: S307 - doctest output of our own run
    except Exception:
        return None


class NumericOutputChecker(doctest.OutputChecker):
    """Exact match, or numerically equal arrays/numbers (numpy 1 vs 2 reprs)."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        if " ".join(want.split()) == " ".join(got.split()):
            return True
        expected, actual = _as_number(want), _as_number(got)
        if expected is None or actual is None or expected.dtype.kind not in "biuf" \
                or actual.dtype.kind not in "biuf":
            return False
        return expected.shape == actual.shape and bool(
            np.allclose(actual, expected, rtol=1e-6, atol=1e-7, equal_nan=True))


def seed_examples() -> list[doctest.Example]:
    text = SEED.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    examples = []
    for block in seed_blocks(text):
        examples.extend(parser.get_examples(port_to_theanolite(block)))
    return examples


@pytest.mark.skipif(not SEED.exists(), reason=f"seed tutorial not found at {SEED}")
def test_every_seed_example_runs_verbatim_and_prints_what_it_shows() -> None:
    examples = seed_examples()
    assert len(examples) >= 50, f"expected the seed's examples, found {len(examples)}"
    test = doctest.DocTest(examples, {}, "gradients-tutorial.zh.md", str(SEED), 0, None)
    report: list[str] = []
    runner = doctest.DocTestRunner(checker=NumericOutputChecker(),
                                   optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_checker_accepts_numpy2_reprs_and_rejects_wrong_numbers() -> None:
    checker = NumericOutputChecker()
    assert checker.check_output("array(8.0)\n", "array(8.)\n", 0)
    assert checker.check_output("array([[ 0.25      ,  0.19661193],\n [ 0.19661193,  0.10499359]]) \n",
                                "array([[0.25      , 0.19661193],\n       [0.19661193, 0.10499359]])\n", 0)
    assert not checker.check_output("array(8.0)\n", "array(8.1)\n", 0)
    assert not checker.check_output("array([ 2.,  2.])\n", "array([[2., 2.]])\n", 0)
    assert not checker.check_output("'(x ** 2)'\n", "'(x ** 3)'\n", 0)


def test_imports_are_ported_and_nothing_else_changes() -> None:
    block = ">>> import theano\n>>> import theano.tensor as T\n>>> from theano import pp\n>>> theano.function\n"
    ported = port_to_theanolite(block)
    assert ported == (">>> import theanolite as theano\n>>> import theanolite.tensor as T\n"
                      ">>> from theanolite import pp\n>>> theano.function\n")
