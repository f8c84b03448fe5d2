"""The package installs whole: every package of the tree is listed in pyproject.toml, and the
default configuration and site profiles ship inside it (a plain ``pip install .`` is tested end to
end in CI by ``.ci/run``)."""

from __future__ import annotations

import ast
import re
import sys
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


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]  # type: ignore[no-any-return]


def _distribution(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("-", "_")


#: the module a distribution is imported as, where the names differ
IMPORTED_AS = {"pyyaml": "yaml", "psycopg": "psycopg", "charset_normalizer": "charset_normalizer"}
#: what a benchmark's peer imports at run time without declaring it (lxml 5.2 split lxml.html.clean
#: out; trafilatura imports it on first use)
NEEDS_TOO = {"trafilatura": ["lxml_html_clean"]}


def test_the_bench_extra_installs_what_the_benchmarks_import() -> None:
    project = _project()
    extras: dict[str, list[str]] = project["optional-dependencies"]  # type: ignore[assignment]
    declared = {_distribution(r) for r in [*project["dependencies"], *extras["dev"], *extras["bench"]]}  # type: ignore[misc]
    modules = {IMPORTED_AS.get(d, d) for d in declared}
    imported: set[str] = set()
    for script in (ROOT / "benchmarks").glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"service", "tests", "benchmarks"}
    assert {"trafilatura", "scrapy"} <= third_party  # the scan sees the peers' imports
    assert third_party <= modules, f"add to the bench extra: {sorted(third_party - modules)}"
    bench = {_distribution(r) for r in extras["bench"]}
    for peer, needs in NEEDS_TOO.items():
        assert peer not in bench or set(needs) <= bench, f"{peer} needs {needs} in the bench extra"
