"""The package installs whole: every package of the tree is listed in pyproject.toml, and the
default configuration and site profiles ship inside it (a plain ``pip install .`` is tested end to
end in CI by ``.ci/run``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _setuptools() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]  # type: ignore[no-any-return]


def test_every_package_of_the_tree_is_listed() -> None:
    tree = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "service").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    listed = set(_setuptools()["packages"])  # type: ignore[arg-type]
    assert tree <= listed, f"add to [tool.setuptools] packages: {sorted(tree - listed)}"


def test_the_configuration_ships_in_the_package() -> None:
    setuptools = _setuptools()
    assert setuptools["package-dir"] == {"service._config": "config", "service._config.sites": "config/sites"}  # type: ignore[comparator-overlap]
    assert (ROOT / "config" / "default.toml").is_file()
    assert list((ROOT / "config" / "sites").glob("*.toml"))
