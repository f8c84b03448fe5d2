"""The docs cannot drift: every setting and every command is documented (the settings table of
docs/configuration.md value by value), the quick start's commands are the ones a new user runs, the
README stays a guide of at most 300 lines, and no product file points outside the repository
(after datasette's test_docs)."""

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
DOCS = ROOT / "docs"
CONFIGURATION = (DOCS / "configuration.md").read_text(encoding="utf-8")
COMMANDS = (DOCS / "commands.md").read_text(encoding="utf-8")
#: the folders and files a user's clone holds that make up the product and its documentation
PRODUCT = ("README.md", "config", "deploy", "service", "docs")


def test_every_setting_is_in_the_configuration_table() -> None:
    defaults = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    keys = [f"{section}.{key}" for section, values in defaults.items() for key in values]
    missing = [k for k in keys if f"`{k}`" not in CONFIGURATION]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_the_readme_settings_it_quotes_are_the_defaults() -> None:
    """The README's short table of the keys most often set quotes their defaults."""
    defaults = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (`[a-z_.]+`(?:, `[a-z_.]+`)*) \| ([^|]+) \|", table, re.M)
    assert len(rows) >= 5
    for keys, shown in rows:
        for key, value in zip(re.findall(r"`([a-z_.]+)`", keys), shown.split(", ", len(keys.split(", ")) - 1), strict=True):
            section, name = key.split(".")
            expected = defaults[section][name]
            if key == "fetch.contact_url":
                assert expected.startswith("https://github.com/"), expected
                continue
            assert value.strip().strip("`") == str(expected).replace("'", '"').replace("True", "true"), key


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
    missing = [n for n in names if f"`jinshan {n}" not in COMMANDS]
    assert not missing, f"commands missing from docs/commands.md: {missing}"


def test_the_quick_start_is_make_run_make_test_make_demo() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make run", "make test", "make demo"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert all(re.search(rf"^{c.split()[1]}:", makefile, re.M) for c in commands)
    assert ". .venv/bin/activate" in README and "pip install ." in README  # jinshan on the PATH


def test_the_readme_is_a_guide_of_at_most_300_lines_with_the_layout_near_the_top() -> None:
    lines = README.splitlines()
    assert len(lines) <= 300, len(lines)
    headings = [line for line in lines if line.startswith("## ")]
    assert headings.index("## Layout") <= 2, headings


def test_the_docs_index_lists_every_document_and_every_link_resolves() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    unlisted = [p.name for p in DOCS.glob("*.md") if p.name != "README.md" and f"]({p.name})" not in index]
    assert not unlisted, f"add to docs/README.md: {unlisted}"
    assert "](docs/README.md)" in README
    broken = []
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_no_product_file_points_outside_the_repository() -> None:
    """A user's clone has nothing beside it: no product file names ../shared, an issue number or the
    notes the project was built from."""
    pattern = re.compile(r"\.\./shared|issue [0-9]+|\(#[0-9]+\)|\b(?:ARCHITECTURE|SITE|STYLE)\.md")
    found = []
    for name in PRODUCT:
        path = ROOT / name
        for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            if file.suffix in {".png", ".pyc"} or "__pycache__" in file.parts:
                continue
            for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{file.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
    assert not found, found


def test_the_readme_settings_table_is_default_toml_value_by_value() -> None:
    """Every default and its meaning have one source, config/default.toml; the table of
    docs/configuration.md is rendered from it (rewrite it with ``python -m tests.support.settings_doc``)."""
    assert settings_doc.doc_table(CONFIGURATION) == settings_doc.render_table()


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


def test_the_docs_prose_quotes_the_defaults() -> None:
    """Numbers the docs' prose states are the defaults of default.toml, not copies that drift."""
    defaults = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    sched = defaults["schedule"]
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    assert f"({sched['poll_minutes']}–{sched['max_poll_minutes']} minutes)" in text
    assert f"reads the channel lists every {sched['hub_every_minutes'] // 60} hours" in text
    benchmarks = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    assert f"`target_new_per_poll = {sched['target_new_per_poll']}`" in benchmarks
    hours = sorted(sched["revisit_hours"])
    spoken = [f"{h // 24} days" if h >= 48 else f"{h} h" for h in hours]
    assert f"revisits each article {', '.join(spoken[:-1])} and {spoken[-1]} after publication" in text
