"""Faults an operator meets: a full disk under an export, a stray environment variable, a bad
``--listen``, a database written by a newer release. Each ends in one line that says what to do,
the right exit code, and nothing half-written left behind."""

from __future__ import annotations

import signal
import sqlite3
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import Archiver, stop, wait_for, write_config
from tests.e2e.replica import ReplicaServer
from tests.e2e.test_failures import one_line_failure
from tests.support.fulldisk import full_disk

pytestmark = pytest.mark.e2e


@pytest.fixture()
def filled(tmp_path: Path, server: ReplicaServer) -> Archiver:
    archiver = Archiver(write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'a.db'}"), tmp_path)
    done = archiver.run_here("backfill", "--since", "2026-10-20")
    assert done.returncode == 0, done.stderr
    return archiver


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "wacz"])
def test_an_export_to_a_full_disk_is_one_line_and_leaves_no_partial_file(
    filled: Archiver, tmp_path: Path, fmt: str
) -> None:
    with full_disk(tmp_path / "small", size_kb=24) as small:
        (small / f"articles.{fmt}").write_bytes(b"the previous export")  # kept until a whole one replaces it
        done = filled.run(
            "export", "--format", fmt, "--since", "2010-01-01", "--output", str(small / f"articles.{fmt}")
        )
        one_line_failure(done, "No space left")
        assert "Exception ignored" not in done.stderr
        assert sorted(p.name for p in small.iterdir()) == [f"articles.{fmt}"], "a partial file was left"
        assert (small / f"articles.{fmt}").read_bytes() == b"the previous export"


def test_a_wacz_export_replaces_a_file_only_when_whole(filled: Archiver, tmp_path: Path) -> None:
    out = tmp_path / "a.wacz"
    out.write_bytes(b"old")
    done = filled.run_here("export", "--format", "wacz", "--since", "2010-01-01", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert zipfile.is_zipfile(out)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_stray_environment_variable_of_an_unknown_section_is_ignored_and_named(
    tmp_path: Path, server: ReplicaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    archiver = Archiver(write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'a.db'}"), tmp_path)
    assert archiver.run_here("db", "upgrade").returncode == 0
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "JINSHAN_NOSUCH__X": "1"}  # fmt: skip
    done = subprocess.run(archiver.command("stats"), capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "JINSHAN_NOSUCH__" in done.stderr and "ignored" in done.stderr
    # a misspelled key of a known section still stops, naming it
    env["JINSHAN_FETCH__CONCURENCY"] = "3"
    done = subprocess.run(archiver.command("stats"), capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)  # fmt: skip
    assert done.returncode == 2 and "fetch.concurency" in done.stderr


@pytest.mark.parametrize("listen", ["127.0.0.1:99999", "127.0.0.1:http", "nope"])
def test_serve_on_a_bad_address_is_one_line(filled: Archiver, listen: str) -> None:
    done = filled.run_here("serve", "--listen", listen)
    one_line_failure(done, listen)
    assert "OverflowError" not in done.stderr


def test_a_database_of_a_newer_release_says_so_and_db_upgrade_does_not_pretend(
    tmp_path: Path, server: ReplicaServer
) -> None:
    db_path = tmp_path / "a.db"
    archiver = Archiver(write_config(tmp_path, server.base_url, f"sqlite:///{db_path}"), tmp_path)
    assert archiver.run_here("db", "upgrade").returncode == 0
    with sqlite3.connect(db_path) as conn:  # as a later release would leave it
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    for command in (["stats"], ["db", "upgrade"], ["run", "--once"]):
        done = archiver.run_here(*command)
        one_line_failure(done, "newer release", "0099_from_the_future")
        assert "run `jinshan db upgrade`" not in done.stderr
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0099_from_the_future",)


def test_sighup_stops_a_backfill_cleanly(tmp_path: Path, server: ReplicaServer) -> None:
    """A closed terminal sends SIGHUP: the backfill stops as on Ctrl-C (exit 130, a summary, no URL
    left leased, the run interrupted), and a re-run resumes."""
    server.fault(pattern=r"/\d{4}/\d{4}/\d+\.shtml$", kind="slow", delay=1.0)
    db_path = tmp_path / "a.db"
    archiver = Archiver(write_config(tmp_path, server.base_url, f"sqlite:///{db_path}"), tmp_path)
    process = archiver.start("backfill", "--since", "2026-10-20")
    assert wait_for(lambda: sum(r.fault == "slow" for r in server.requests) >= 2, timeout=60)
    code, _, err = stop(process, signal.SIGHUP)
    assert code == 130, err
    assert "Traceback" not in err and "interrupted" in err, err
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM urls WHERE state = 'fetching'").fetchone() == (0,)
        assert ("interrupted",) in conn.execute("SELECT status FROM runs").fetchall()
