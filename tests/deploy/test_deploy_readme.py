"""deploy/README.md cannot drift from the files and commands it describes.

Every deployment file, unit, alert and alerted metric is named in it; every ``jinshan`` command
and ``JINSHAN_`` variable it shows exists.
"""

from __future__ import annotations

import re
import tomllib

import typer.main

from service.app.cli import app
from service.settings import DEFAULT_FILE
from tests.deploy.deployfiles import ALERT_RULES, ALERTED_METRICS, DEPLOY, DEPLOY_README, SYSTEMD

TEXT = DEPLOY_README.read_text(encoding="utf-8")
CODE = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", TEXT, flags=re.DOTALL))


def test_every_deployment_file_is_described() -> None:
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.name not in {"README.md", ".gitignore"}]
    missing = [str(p.relative_to(DEPLOY)) for p in files if str(p.relative_to(DEPLOY)) not in TEXT]
    assert missing == []


def test_every_unit_is_installed_by_the_instructions() -> None:
    install_lines = [line for line in CODE.splitlines() if "/etc/systemd/system/" in line]
    block = CODE[CODE.index("cd /opt/jinshan/src/deploy/systemd") :]
    block = block[: block.index("/etc/systemd/system/")]
    assert install_lines
    assert [p.name for p in sorted(SYSTEMD.iterdir()) if p.name not in block] == []


def test_every_alert_and_alerted_metric_is_explained() -> None:
    alerts = re.findall(r"^\s*- alert: (\w+)$", ALERT_RULES.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert alerts
    assert [a for a in alerts if f"`{a}`" not in TEXT] == []
    assert [m for m in ALERTED_METRICS if f"`{m}" not in TEXT] == []


def _cli_commands() -> set[str]:
    """Command paths of the CLI as typed: ``run``, ``db upgrade``, …"""
    root = typer.main.get_command(app)
    out: set[str] = set()
    # Groups are told apart by their `commands`: typer may bring its own click, so no isinstance.
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        out.add(name)
        out.update(f"{name} {sub}" for sub in getattr(command, "commands", {}))
    return out


def test_every_command_shown_exists() -> None:
    # `jinshan` as a command word: start of line, after a space, `/` or `--rm `, before a lowercase word.
    shown = set(re.findall(r"(?:^|[\s/])jinshan ((?:db )?[a-z]+)\b", CODE, flags=re.MULTILINE))
    assert {"backfill", "db upgrade", "parse", "reparse", "stats", "export"} <= shown
    assert shown - _cli_commands() == set()


def test_every_setting_shown_exists() -> None:
    defaults = tomllib.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    shown = set(re.findall(r"JINSHAN_([A-Z]+)__([A-Z][A-Z0-9_]*)", TEXT))
    assert shown
    unknown = [f"{s}__{k}" for s, k in shown if k.lower() not in defaults.get(s.lower(), {})]
    assert unknown == []
