"""The README cannot drift: every setting and every command is documented, and the first two
commands are the ones a new user runs (STYLE.md habit 10, after datasette's test_docs)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from typer.main import get_command

from service.app.cli import app
from service.settings import Settings
from tests.support import settings_doc

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table() -> None:
    defaults = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    keys = [f"{section}.{key}" for section, values in defaults.items() for key in values]
    missing = [k for k in keys if f"`{k}`" not in README]
    assert not missing, f"settings missing from README.md: {missing}"


def test_every_setting_has_a_comment_in_default_toml() -> None:
    lines = (ROOT / "config" / "default.toml").read_text(encoding="utf-8").splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        if re.match(r"^[a-z_][a-z0-9_]*\s*=", line):
            j = i - 1
            while j >= 0 and re.match(r"^[a-z_][a-z0-9_]*\s*=", lines[j]):
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


def test_the_readme_settings_table_is_default_toml_value_by_value() -> None:
    """Every default and its meaning have one source, config/default.toml; the README's table is
    rendered from it (rewrite it with ``python -m tests.support.settings_doc``)."""
    assert settings_doc.readme_table(README) == settings_doc.render_table()


def test_every_key_has_its_own_comment() -> None:
    notes = settings_doc.comments()
    shared = {k: v for k, v in notes.items() if list(notes.values()).count(v) > 1}
    assert not shared, f"give each of these keys its own comment in default.toml: {sorted(shared)}"


def test_the_settings_models_default_to_default_toml() -> None:
    """Where a pydantic field carries a default too (a Settings built in code), it is the file's."""
    defaults = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    wrong = []
    for section, values in defaults.items():
        for key, value in values.items():
            field = Settings.model_fields[section].annotation.model_fields[key]  # type: ignore[union-attr]
            if field.is_required():
                continue  # no default in code: the file is the one source
            default = field.get_default(call_default_factory=True)
            if isinstance(default, tuple):
                default = list(default)
            if default != value:
                wrong.append(f"{section}.{key}: model {default!r}, default.toml {value!r}")
    assert not wrong, wrong


def test_help_shows_no_value_for_flags_and_no_swallowed_words() -> None:
    from typer.testing import CliRunner

    for command in (["run"], ["export"], ["stats"], ["search"], ["backfill"]):
        shown = CliRunner().invoke(app, [*command, "--help"])
        assert shown.exit_code == 0, shown.output
        assert "<bool>" not in shown.output and "default:  " not in shown.output, command
    assert "log.format" in CliRunner().invoke(app, ["run", "--help"]).output


def test_the_readme_prose_quotes_the_defaults() -> None:
    """Numbers the README's prose states are the defaults of default.toml, not copies that drift."""
    defaults = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    sched = defaults["schedule"]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"({sched['poll_minutes']}–{sched['max_poll_minutes']} minutes)" in text
    assert f"reads the channel lists every {sched['hub_every_minutes'] // 60} hours" in text
    assert f"`target_new_per_poll = {sched['target_new_per_poll']}`" in text
    hours = sorted(sched["revisit_hours"])
    spoken = [f"{h // 24} days" if h >= 48 else f"{h} h" for h in hours]
    assert f"revisits each article {', '.join(spoken[:-1])} and {spoken[-1]} after publication" in text
