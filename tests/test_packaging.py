"""Every Python package in the source tree is listed for installation (a regular install
must contain what an editable one sees)."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_declared_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            parts = [p for p in rel.parts]
            if any(p.startswith(("_", ".")) for p in parts):
                continue
            found.add(".".join([name] + parts))
    # subpackages of theanolite/ that map elsewhere are counted under their own mapping
    found = {f for f in found if not any(f.startswith(m + ".") and f.split(".")[1] in ("ccodegen", "cache", "tools")
                                          and m == "theanolite" for m in mapping)}
    missing = found - declared
    assert not missing, f"packages missing from pyproject.toml: {sorted(missing)}"
