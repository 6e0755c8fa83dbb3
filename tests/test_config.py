"""theanolite.config: flag parsing, validation and change_flags."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import theanolite.tensor as T
from theanolite.configparser import Config, config


def test_flags_are_read_from_the_environment_string() -> None:
    cfg = Config("floatX=float32, mode=FAST_COMPILE,cache_max_size=512MB")
    assert cfg.floatX == "float32" and cfg.mode == "FAST_COMPILE"
    assert cfg.cache_max_size == 512 * 2**20


def test_bad_flags_name_the_flag() -> None:
    with pytest.raises(AttributeError, match="no flag 'nope'"):
        Config("nope=1")
    with pytest.raises(ValueError, match="'floatX'.*float64"):
        Config("floatX=float128")
    with pytest.raises(ValueError, match="name=value"):
        Config("floatX")


def test_change_flags_is_a_context_manager_and_decorator() -> None:
    assert config.floatX == "float64"
    with config.change_flags(floatX="float32"):
        assert T.matrix().dtype == "float32"
    assert T.matrix().dtype == "float64"

    @config.change_flags(floatX="float32")
    def make():
        return T.vector()

    assert make().dtype == "float32" and config.floatX == "float64"


def test_change_flags_restores_on_error() -> None:
    with pytest.raises(RuntimeError):
        with config.change_flags(floatX="float32"):
            raise RuntimeError
    assert config.floatX == "float64"


def test_environment_variable_is_honoured_in_a_fresh_process() -> None:
    env = dict(os.environ, THEANOLITE_FLAGS="floatX=float32")
    out = subprocess.run([sys.executable, "-c", "import theanolite.tensor as T; print(T.scalar().dtype)"],
                         capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert out == "float32"


def test_c_key_flags_are_an_explicit_list() -> None:
    assert set(config.c_key_flags()) == {"cxxflags"}
