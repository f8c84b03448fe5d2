"""Readers for the files under deploy/: systemd units, the Dockerfile, the env example.

Small parsers of just what the tests in this folder assert on, kept apart so that each test reads
as a statement about a deployment file rather than about parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SYSTEMD = DEPLOY / "systemd"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "jinshan.env.example"
DEPLOY_README = DEPLOY / "README.md"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "schema" / "compose-spec.json"
ALERT_RULES = DEPLOY / "prometheus" / "jinshan-alerts.yml"
#: the metrics the daemon exports for alerting (ARCHITECTURE: web.py), each with the label alerted on
ALERTED_METRICS = {
    "jinshan_last_success_timestamp_seconds": None,
    "jinshan_fetches_total": "status",
    "jinshan_articles_total": "outcome",
    "jinshan_frontier_urls": "state",
    "jinshan_template_alarm": "field",
}


def read_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as lists of (key, value), in order.

    Lists, not dicts: systemd allows a key several times (ExecStartPre=, Environment=), and an empty
    assignment resets the list, which a dict would hide.
    """
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        if current is None:
            raise ValueError(f"{path.name}: assignment outside a section: {line!r}")
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def unit_values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    """Every value given to ``key`` in ``section``, in order."""
    return [v for k, v in unit.get(section, []) if k == key]


def unit_value(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> str | None:
    """The value systemd uses for a single-valued key: the last assignment wins."""
    values = unit_values(unit, section, key)
    return values[-1] if values else None


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    line: int
    keyword: str
    args: str


def read_dockerfile(path: Path) -> list[Instruction]:
    """Instructions in order; comments dropped, backslash continuations joined."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        keyword, _, args = " ".join(p for p in pending if p).partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
        pending = []
    return out


_ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


@dataclass(frozen=True)
class EnvVar:
    """A variable of the env example: set (``NAME=value``) or shown commented out (``# NAME=value``)."""

    name: str
    value: str
    active: bool
    documented: bool


def read_env_example(path: Path) -> list[EnvVar]:
    """Variables in order, each marked documented when a comment explains it.

    A variable is documented when the line right above it is a plain comment: not a blank line,
    not a section rule (``# --- … ---``), not another variable. One comment per variable.
    """
    out: list[EnvVar] = []
    has_comment = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        match = _ASSIGNMENT.match(line)
        if match:
            active = match.group(1) is None
            out.append(EnvVar(match.group(2), match.group(3), active, has_comment))
            has_comment = False
        elif not line or line.startswith("#"):
            has_comment = bool(line) and not line.lstrip("# ").startswith("---")
        else:
            raise ValueError(f"{path.name}: not an assignment or a comment: {line!r}")
    return out
