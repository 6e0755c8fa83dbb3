"""theanolite.precompile (declaring builders) and the CLI's behaviour that needs no compiler."""
from __future__ import annotations

import json
import textwrap
import types
from pathlib import Path

import pytest

from theanolite.precompile import builders_of, load_target, register
from theanolite.tools import precompile as cli

MODELS = '''
import numpy as np
import theanolite as theano
import theanolite.tensor as T
from theanolite.precompile import register


@register
def double():
    x = T.dvector("x")
    return theano.function([x], x * 2 + 1)


@register(name="shapes")
def build_shapes():
    x = T.dmatrix("x")
    return {"shape": theano.function([x], x.shape)}


def listed():
    y = T.dscalar("y")
    return [theano.function([y], y ** 2)]


THEANOLITE_PRECOMPILE = [listed, double]
'''


@pytest.fixture
def models(tmp_path: Path) -> Path:
    path = tmp_path / "models.py"
    path.write_text(MODELS)
    return path


def test_register_keeps_the_function_and_names_it():
    def fresh():
        return 1
    assert register(fresh) is fresh
    named = register(name="other")(lambda: 2)
    assert named() == 2
    module = types.ModuleType(__name__)
    names = [b.name for b in builders_of(module)]
    assert "fresh" in names and "other" in names


def test_register_rejects_bad_input():
    with pytest.raises(TypeError, match="builder function"):
        register(3)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="needs a name"):
        register(name="")(lambda: 0)


def test_builders_of_a_file_in_declaration_order(models):
    module = load_target(str(models))
    assert [b.name for b in builders_of(module)] == ["double", "shapes", "listed"]
    assert load_target(str(models)) is module  # imported once per process


def test_bad_list_entries_and_targets_are_named(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("THEANOLITE_PRECOMPILE = [1]\n")
    with pytest.raises(TypeError, match="not callable"):
        builders_of(load_target(str(bad)))
    with pytest.raises(ImportError, match="no such Python file"):
        load_target(str(tmp_path / "missing.py"))
    with pytest.raises(ImportError, match="no_such_module_xyz"):
        load_target("no_such_module_xyz")


def test_cli_usage_errors_exit_2(models, tmp_path, capsys):
    assert cli.main([str(tmp_path / "missing.py")]) == 2
    assert "no such Python file" in capsys.readouterr().err
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert cli.main([str(empty)]) == 2
    assert "declares no functions" in capsys.readouterr().err
    assert cli.main([str(models), "--check", "--bundle", str(tmp_path / "b.tgz")]) == 2
    assert cli.main([str(models), "--jobs", "0"]) == 2


def test_builder_errors_are_reported_and_exit_1(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text(textwrap.dedent('''
        from theanolite.precompile import register

        @register
        def boom():
            raise RuntimeError("the builder failed")

        @register
        def not_a_function():
            return 42
    '''))
    assert cli.main([str(path), "--jobs", "1", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in doc["results"]}
    assert by_name["boom"]["status"] == "error"
    assert "the builder failed" in by_name["boom"]["error"]
    assert "must return a compiled function" in by_name["not_a_function"]["error"]


def test_the_readme_example_declares_its_functions():
    example = Path(__file__).resolve().parents[1] / "examples" / "precompiled_models.py"
    module = load_target(str(example))
    assert [b.name for b in builders_of(module)] == ["train_step", "predict"]
