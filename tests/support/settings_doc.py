"""The settings table of ``docs/configuration.md``, generated from ``config/default.toml`` (the one
source of every default and its comment), so the two cannot disagree. ``tests/unit/test_docs.py``
fails when the table is not what this renders; rewrite it with

    .venv/bin/python -m tests.support.settings_doc
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = ROOT / "config" / "default.toml"
CONFIGURATION = ROOT / "docs" / "configuration.md"
HEADER = "| key | default | meaning |\n|---|---|---|\n"
#: longer defaults are cut here in the table (default.toml has them whole)
MAX_VALUE_CHARS = 48


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_value(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif isinstance(value, list):
        text = "[" + ", ".join(render_value(v).strip("`") for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f'"{k}": {render_value(v).strip("`")}' for k, v in value.items()) + "}"
    else:
        text = str(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return "`" + _escape(text) + "`"


def comments() -> dict[str, str]:
    """Each key's comment: the comment lines right above it (a run of keys shares one)."""
    out: dict[str, str] = {}
    section, pending, last = "", [], ""
    for line in DEFAULTS.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^\[([a-z_]+)\]", line):
            section, pending, last = m[1], [], ""
        elif line.startswith("#"):
            if last:
                pending, last = [], ""
            pending.append(line.lstrip("# ").strip())
        elif m := re.match(r"^([a-z_][a-z0-9_]*)\s*=", line):
            last = " ".join(pending)
            out[f"{section}.{m[1]}"] = last
        elif not line.strip():
            pending, last = ([], "") if not last else (pending, last)
    return out


def render_table() -> str:
    defaults = tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))
    notes = comments()
    rows = [
        f"| `{section}.{key}` | {render_value(value)} | {_escape(notes[f'{section}.{key}'])} |\n"
        for section, values in defaults.items()
        for key, value in values.items()
    ]
    return HEADER + "".join(rows)


def doc_table(text: str) -> str:
    start = text.index(HEADER)
    end = text.find("\n\n", start)
    return text[start : end + 1] if end >= 0 else text[start:]


def main() -> None:
    text = CONFIGURATION.read_text(encoding="utf-8")
    CONFIGURATION.write_text(text.replace(doc_table(text), render_table()), encoding="utf-8")


if __name__ == "__main__":
    main()
