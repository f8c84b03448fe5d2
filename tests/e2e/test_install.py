"""The package as a user installs it (#11): ``pip install .`` (not editable), then the commands run
from another directory, with the default configuration and the site profile found inside the
installed package. Dependencies come from this test environment (``--no-deps --target``), so the
test needs no network; ``.ci/run`` also installs into a fresh virtualenv with its dependencies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "tests" / "fixtures" / "pages" / "cm_commentary_parks.html"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site-packages")
    source = tmp_path_factory.mktemp("src") / "tree"
    # a copy without config/ beside it would prove nothing: build from a clean copy of the tree
    shutil.copytree(
        ROOT,
        source,
        # virtualenvs (.venv, .venv-pywb), caches and screenshots are not the package's
        ignore=shutil.ignore_patterns(
            ".venv*", ".git", "data", "*.egg-info", "build", ".*_cache", "artifacts"
        ),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-v", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    # `make run` shows the build's output: setuptools must find nothing ambiguous to warn about
    # (data folders that look like packages were once absent from the `packages` list)
    assert "Warning" not in built.stdout + built.stderr, built.stdout + built.stderr
    shutil.rmtree(source)  # the installed package must not lean on the source tree
    return target


def _jinshan(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINSHAN_")}
    env["PYTHONPATH"] = str(installed)
    return subprocess.run(
        [sys.executable, "-c", "from service.app.cli import main; main()", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_web_templates_and_stylesheet_are_installed(installed: Path) -> None:
    web = installed / "service" / "app" / "web"
    assert (web / "templates" / "home.html").is_file() and (web / "static" / "style.css").is_file()


def test_help_from_another_directory(installed: Path, tmp_path: Path) -> None:
    result = _jinshan(installed, tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert "backfill" in result.stdout and "parse" in result.stdout


def test_parse_uses_the_shipped_profile(installed: Path, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    shutil.copy(PAGE, page)
    result = _jinshan(
        installed, tmp_path, "parse", str(page), "--url", "https://www.jsw.com.cn/2024/0128/1871234.shtml"
    )
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout.splitlines()[-1])
    expected = json.loads(PAGE.with_suffix(".json").read_text(encoding="utf-8"))["expected"]
    assert article["title"] == expected["title"]
    assert article["fields_from"]["body_text"].startswith("profile:")  # the site profile was found
