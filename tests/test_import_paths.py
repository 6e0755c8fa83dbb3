"""The import paths Theano code actually writes keep working under theanolite."""
from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("module, names", [
    ("theanolite", ["function", "shared", "config", "pp", "scan", "map", "reduce", "foldl", "foldr",
                    "In", "Out", "Mode", "grad", "Rop", "Lop", "printing", "gradient", "tensor"]),
    ("theanolite.gof", ["Op", "Apply", "Variable", "Constant", "FunctionGraph", "Type"]),
    ("theanolite.tensor.var", ["TensorVariable", "TensorConstant"]),
    ("theanolite.tensor", ["grad", "Rop", "Lop", "jacobian", "hessian", "nnet", "shared_randomstreams"]),
    ("theanolite.tensor.nnet", ["sigmoid", "softplus", "softmax", "categorical_crossentropy",
                                "binary_crossentropy", "relu"]),
    ("theanolite.tensor.shared_randomstreams", ["RandomStreams"]),
    ("theanolite.sandbox.rng_mrg", ["MRG_RandomStreams"]),
    ("theanolite.printing", ["pp", "debugprint", "pprint"]),
    ("theanolite.gradient", ["grad", "jacobian", "hessian", "verify_grad", "zero_grad",
                             "disconnected_grad", "grad_clip", "Rop", "Lop"]),
    ("theanolite.compile", ["In", "Out", "Mode", "function", "shared"]),
    ("theanolite.ifelse", ["ifelse"]),
    ("theanolite.updates", ["OrderedUpdates"]),
    ("theanolite.configparser", ["config", "change_flags"]),
])
def test_theano_import_paths(module, names) -> None:
    mod = importlib.import_module(module)
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"{module} lacks {missing}"
