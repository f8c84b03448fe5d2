"""The line that ends a test run: which optional parts were missing, and how to get them
(``tests/conftest.py``)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import OPTIONAL_PARTS, optional_part, skipped_parts

TESTS = Path(__file__).resolve().parents[1]


def skip_messages() -> list[str]:
    """The reasons the suite's own code gives when it skips (literal strings and f-strings)."""
    found: list[str] = []
    for path in TESTS.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found += re.findall(r"pytest\.(?:skip|fail)\(\s*f?\"([^\"]+)\"", text)
        found += re.findall(r"MISSING = f?\"([^\"]+)\"", text)
    return found


def test_every_optional_part_is_recognised_in_a_real_skip_message() -> None:
    messages = skip_messages()
    for part in OPTIONAL_PARTS:
        assert any(part.reason.search(m) for m in messages), f"no skip of the suite names {part.name}"


def test_the_line_groups_skips_by_part_with_how_to_enable_them() -> None:
    reasons = [
        "chromium is not installed: apt-get install chromium fonts-noto-cjk",
        "chromium is not installed: apt-get install chromium fonts-noto-cjk",
        "pywb is not installed: make .venv-pywb",
        "PostgreSQL tests skipped: no initdb found (set JINSHAN_TEST_POSTGRES_URL or install postgresql)",
        "numpy is not installed: only the pure path exists",
    ]
    line = skipped_parts(reasons)
    assert line == (
        "skipped for want of optional parts: Chromium + fonts-noto-cjk (2 tests: apt-get install chromium"
        " fonts-noto-cjk), pywb (1 test: make .venv-pywb), PostgreSQL (1 test: apt-get install postgresql);"
        " 1 other skipped test"
    )
    assert optional_part("numpy is not installed") is None
    assert skipped_parts([]) == "optional parts: all present, none skipped"
