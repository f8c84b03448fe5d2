"""The README cannot drift: every setting and every command is documented, and the first two
commands are the ones a new user runs (STYLE.md habit 10, after datasette's test_docs)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from typer.main import get_command

from service.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table() -> None:
    defaults = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    keys = [f"{section}.{key}" for section, values in defaults.items() for key in values]
    missing = [k for k in keys if f"`{k}`" not in README]
    assert not missing, f"settings missing from README.md: {missing}"


def test_the_readme_table_shows_the_defaults_of_default_toml() -> None:
    defaults = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    wrong = {}
    for section, values in defaults.items():
        for key, value in values.items():
            m = re.search(rf"^\| `{section}\.{key}` \| `([^`]*)`", README, re.M)
            if m is None or m.group(1).endswith("…"):
                continue  # missing: the test above; long values are shortened in the table
            text = m.group(1)
            shown = json.loads(text) if text.startswith("{") else tomllib.loads(f"x = {text}")["x"]
            if shown != value:
                wrong[f"{section}.{key}"] = (shown, value)
    assert not wrong, f"README.md table (shown, default.toml): {wrong}"


def test_every_setting_has_a_comment_in_default_toml() -> None:
    lines = (ROOT / "config" / "default.toml").read_text(encoding="utf-8").splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        if re.match(r"^[a-z_]+\s*=", line):
            j = i - 1
            while j >= 0 and re.match(r"^[a-z_]+\s*=", lines[j]):
                j -= 1  # a run of keys may share one comment
            if j < 0 or not lines[j].startswith("#"):
                uncommented.append(line.split("=")[0].strip())
    assert not uncommented


def test_every_command_is_in_the_readme() -> None:
    group = get_command(app)
    names = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if getattr(command, "commands", None):
            names += [f"{name} {sub}" for sub in command.commands]
        else:
            names.append(name)
    missing = [n for n in names if f"`jinshan {n}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_the_first_two_commands_are_make_run_and_make_test() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands[:2] == ["make run", "make test"]


def test_help_shows_no_value_for_flags_and_no_swallowed_words() -> None:
    from typer.testing import CliRunner

    for command in (["run"], ["export"], ["stats"], ["search"], ["backfill"]):
        shown = CliRunner().invoke(app, [*command, "--help"])
        assert shown.exit_code == 0, shown.output
        assert "<bool>" not in shown.output and "default:  " not in shown.output, command
    assert "log.format" in CliRunner().invoke(app, ["run", "--help"]).output
