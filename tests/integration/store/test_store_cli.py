"""`jinshan export`, `jinshan stats` and `jinshan db upgrade` against both databases."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.app.cli import app
from service.settings import DatabaseSettings, DedupSettings, redact_url
from service.store import db, export
from service.store.repo import Store
from tests.integration.store.builders import SEEN, make_article


@pytest.fixture()
def runner(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("JINSHAN_DATABASE__URL", db_url)
    return CliRunner()


def test_db_upgrade_reports_and_is_idempotent(runner: CliRunner) -> None:
    first = runner.invoke(app, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert f"empty → {db.head_revision()}" in first.output
    second = runner.invoke(app, ["db", "upgrade"])
    assert second.exit_code == 0 and f"already at {db.head_revision()}" in second.output


def test_export_and_stats_commands(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    engine = db.make_engine(DatabaseSettings(url=db_url))
    db.upgrade(engine)
    store = Store(engine, DedupSettings())
    for i in range(3):
        a = make_article(f"https://www.jsw.com.cn/2026/030{i + 1}/19{i:05d}.shtml", seed=900 + i)
        store.store_article(a, url_id=None, fetch_id=None, seen_at=SEEN + timedelta(minutes=i))
    counters = {f"counter_{i:02d}": i for i in range(12)}
    store.finish_run(store.start_run("cycle", {}), status="ok", counters=counters)
    engine.dispose()

    out = runner.invoke(app, ["export"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 3 and tuple(rows[0]) == export.EXPORT_FIELDS

    target = tmp_path / "out.csv"
    out = runner.invoke(app, ["export", "--format", "csv", "--output", str(target), "--since", "2026-03-01"])
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["url"] for r in table] == [r["url"] for r in rows]

    excel = tmp_path / "excel.csv"
    out = runner.invoke(app, ["export", "--format", "csv", "--bom", "--output", str(excel)])
    assert out.exit_code == 0, out.output
    assert excel.read_bytes().startswith(b"\xef\xbb\xbfurl,") and not target.read_bytes().startswith(b"\xef")
    assert runner.invoke(app, ["export", "--format", "csv", "--bom"]).stdout.startswith("\ufeffurl,")
    assert runner.invoke(app, ["export", "--bom"]).exit_code == 2  # JSON lines take no byte-order mark

    bad = runner.invoke(app, ["export", "--format", "xml"])
    assert bad.exit_code == 2 and "--format" in bad.output

    stats = runner.invoke(app, ["stats", "--json"])
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["counts"]["articles"] == 3
    table_out = runner.invoke(app, ["stats"])
    assert table_out.exit_code == 0 and "articles" in table_out.output and "frontier" in table_out.output
    # piped (CliRunner is no terminal): the tables at their natural width, no cell cut to fit 80 columns
    assert "…" not in table_out.stdout and "database: " + redact_url(db_url) in table_out.stdout
    assert ", ".join(f"{k}={v}" for k, v in counters.items()) in table_out.stdout
