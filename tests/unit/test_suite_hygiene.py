"""The suite itself: it reads none of the developer's JINSHAN_* settings, and every test module
that runs the real commands against the replica carries the e2e marker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_corpus_ignores_the_developers_environment() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINSHAN_")}
    env["JINSHAN_FETCH__REQUESTS_PER_SECOND"] = "0"  # invalid: any module that reads it cannot load
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests/unit/extract/test_corpus.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_every_e2e_module_is_marked() -> None:
    unmarked = [
        path.name
        for path in (ROOT / "tests" / "e2e").glob("test_*.py")
        if not re.search(r"^pytestmark = .*pytest\.mark\.e2e", path.read_text(encoding="utf-8"), re.M)
    ]
    assert unmarked == []
