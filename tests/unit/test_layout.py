"""The tree reads like the data flow (issue #11): each job has one home, and the layers hold.

These read the source, not the behaviour: they fail when a later change puts a job back in a second
place (a command built outside ``app/commands``, a split article joined outside ``crawl/pages``,
the engine reached from outside the store), which no behavioural test would notice.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from service.app.cli import app

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "service"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def modules(under: str) -> dict[str, ast.Module]:
    return {
        str(p.relative_to(ROOT)): ast.parse(p.read_text(encoding="utf-8"))
        for p in sorted((SERVICE / under).rglob("*.py"))
        if "migrations" not in p.parts
    }


def imported(tree: ast.Module) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_nothing_outside_the_store_reaches_its_engine() -> None:
    offenders = [
        f"{path}:{n}"
        for path in [*modules("crawl"), *modules("app")]
        for n, line in enumerate((ROOT / path).read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bstore\.engine\b|\.engine\b", line)
    ]
    assert offenders == []


def test_the_store_is_entered_through_its_package_only() -> None:
    """Callers import ``service.store``; its modules (schema, dedup, frontier …) are its own."""
    offenders = {
        path: sorted(
            m
            for m in imported(tree)
            if re.match(r"service\.store\.\w+\.", m + ".") and not m.startswith("service.store.migrations")
        )
        for under in ("crawl", "app", "fetch", "extract", "text", "settings", "site")
        for path, tree in modules(under).items()
    }
    wrong = {
        path: [m for m in found if m.count(".") >= 2 and m.split(".")[2] not in _STORE_EXPORTS]
        for path, found in offenders.items()
    }
    assert {p: m for p, m in wrong.items() if m} == {}


_STORE_EXPORTS = set(__import__("service.store", fromlist=["__all__"]).__all__)


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("text", ("service.extract", "service.fetch", "service.store", "service.crawl", "service.app")),
        ("extract", ("service.fetch", "service.store", "service.crawl", "service.app")),
        ("fetch", ("service.store", "service.crawl", "service.app", "service.extract.article")),
        ("store", ("service.crawl", "service.app", "service.fetch", "service.extract")),
        ("crawl", ("service.app",)),
        ("settings", ("service.store", "service.crawl", "service.app", "service.fetch")),
        ("site", ("service.store", "service.crawl", "service.app", "service.fetch")),
    ],
)
def test_data_flows_one_way(layer: str, forbidden: tuple[str, ...]) -> None:
    wrong = {
        path: sorted(m for m in imported(tree) if m.startswith(forbidden))
        for path, tree in modules(layer).items()
    }
    assert {p: m for p, m in wrong.items() if m} == {}


def test_one_module_builds_each_command() -> None:
    commands = [(c.name or c.callback.__name__, c.callback) for c in app.registered_commands]
    homes = {name: callback.__module__ for name, callback in commands if callback}
    assert homes == {name: f"service.app.commands.{name}" for name in homes}
    assert set(homes) == {
        "run", "backfill", "parse", "probe", "reparse", "recheck", "export", "stats", "search", "serve"
    }
    db = next(g.typer_instance for g in app.registered_groups if g.name == "db")
    assert {c.callback.__module__ for c in db.registered_commands if c.callback} == {
        "service.app.commands.db"
    }


def test_one_routine_joins_split_articles() -> None:
    """``join_parts`` and the page cap are used in ``crawl/pages.py`` alone."""
    callers = {
        path
        for under in ("crawl", "app", "store", "fetch")
        for path, tree in modules(under).items()
        if any(isinstance(n, ast.Name | ast.Attribute) and getattr(n, "id", getattr(n, "attr", None)) == "join_parts"
               for n in ast.walk(tree))
    }  # fmt: skip
    assert callers == {"service/crawl/pages.py"}
    readers = {
        path
        for under in ("crawl", "app")
        for path, tree in modules(under).items()
        if "service.crawl.pages.read_article" in imported(tree)
    }
    # the crawl, `parse` and `reparse` all read articles through it
    assert readers == {"service/crawl/pipeline.py", "service/crawl/parse.py", "service/crawl/reextract.py"}


def test_no_rich_markup_below_the_command_line() -> None:
    wrong = {
        path: sorted(m for m in imported(tree) if m.startswith("rich"))
        for under in ("store", "crawl", "fetch", "extract", "text", "settings", "site")
        for path, tree in modules(under).items()
    }
    assert {p: m for p, m in wrong.items() if m} == {}


def _architecture() -> str:
    return ARCHITECTURE.read_text(encoding="utf-8")


def test_every_package_architecture_names_exists() -> None:
    layout = _architecture().split("## Layout", 1)[1].split("```")[1]
    named = re.findall(r"^  (\w+(?:\.py|/))", layout, re.M)
    assert named, "the layout block of docs/architecture.md was not found"
    missing = [n for n in named if not (SERVICE / n.rstrip("/")).exists()]
    assert missing == []
    # crawl's parts and app's faces, as docs/architecture.md lists them
    for part in ("context", "pages", "pipeline", "discover", "drain", "cycle", "backfill", "reparse"):
        assert (SERVICE / "crawl" / f"{part}.py").is_file(), part
    for face in ("cli.py", "commands", "render.py", "daemon.py", "web", "logs.py"):
        assert (SERVICE / "app" / face).exists(), face


def test_the_settings_architecture_names_are_default_toml_keys_with_its_values() -> None:
    text = _architecture()
    defaults = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    config = text.split("Configuration:", 1)[1].split("## Storage", 1)[0]
    for section, keys in re.findall(r"`\[(\w+)\]\s+([\w, …]+)`", config):
        for key in (k.strip() for k in keys.split(",")):
            if key and key != "…":
                assert key in defaults[section], f"[{section}] {key}"
    url = re.search(r"`\[database\] url` \(default `([^`]+)`", config)
    assert url is not None and url.group(1) == defaults["database"]["url"]
    env = re.search(r"`JINSHAN_(\w+)__(\w+)`", config)
    assert env is not None and env.group(2).lower() in defaults[env.group(1).lower()]


def test_the_command_line_starts_without_the_crawl_and_the_store() -> None:
    """``jinshan --help`` and ``jinshan parse`` start in a fraction of a second: the commands import
    the crawl, the store and Rich's bars when they run, not when the command line is built."""
    import subprocess
    import sys

    probe = (
        "import sys, service.app.cli; "
        "print(sorted({m.split('.')[0] + '.' + m.split('.')[1] if m.startswith('service.') else m.split('.')[0] "
        "for m in sys.modules if m.startswith(('sqlalchemy', 'service.store', 'service.crawl', 'service.fetch', 'rich.progress', 'httpx'))}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
