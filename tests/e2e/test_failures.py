"""Failures look like failures: exit codes, one-line errors naming what is wrong, no password in any
output, read commands that never create nor migrate a database. The real ``jinshan`` command as a
subprocess, against the replica and the throwaway PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import Archiver, write_config
from tests.e2e.replica import ReplicaServer
from tests.support.postgres import create_database, free_port

pytestmark = pytest.mark.e2e

#: passwords as an operator writes them in the URL (an "@" must be written %40, anything else may
#: stand as it is), and what each one is
PASSWORDS = ["pa/ss:wo#rd?x", "p%40ss/w%3Ard", "s3cr%2Fet#?"]
#: every place SQLAlchemy and libpq take a password from: the user-info, and query keys (which
#: SQLAlchemy passes to the driver as connection parameters)
URL_FORMS = {
    "userinfo": "postgresql+psycopg://jin:{written}@{host}:{port}/{db}",
    "query": "postgresql+psycopg://jin@{host}:{port}/{db}?connect_timeout=5&password={escaped}",
    "sslpassword": "postgresql+psycopg://jin@{host}:{port}/{db}?sslmode=disable&sslpassword={escaped}",
}


def db_url_with(form: str, password: str, host: str, port: int | None, db: str | None) -> str:
    escaped = quote(make_url(f"postgresql://u:{password}@h/d").password or "", safe="")
    return URL_FORMS[form].format(written=password, escaped=escaped, host=host, port=port, db=db)


def one_line_failure(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def secrets_of(password: str) -> set[str]:
    """The password as written and decoded, and its longer pieces (a partial leak is a leak)."""
    decoded = make_url(f"postgresql://u:{password}@h/d").password or ""
    pieces = {p for p in [password, decoded, quote(decoded, safe="")] if p}
    pieces |= {
        part
        for p in (password, decoded)
        for part in p.replace("/", " ").replace("@", " ").split()
        if len(part) >= 4
    }
    return pieces


def no_secret(done: subprocess.CompletedProcess[str], password: str) -> None:
    for secret in secrets_of(password):
        assert secret not in done.stdout and secret not in done.stderr, (secret, done.stderr)


@pytest.mark.parametrize(
    ("section", "values", "key"),
    [
        ("schedule", {"timezone": "Mars/Phobos"}, "schedule.timezone"),
        ("web", {"listen": ":99999"}, "web.listen"),
        ("epaper", {"layout_path": "{nope}"}, "epaper.layout_path"),
        ("fetch", {"user_agent": ""}, "fetch.user_agent"),
        ("epaper", {"base_url": "ftp://szb.jsw.com.cn/"}, "epaper.base_url"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_key(
    tmp_path: Path, server: ReplicaServer, section: str, values: dict[str, Any], key: str
) -> None:
    archiver = Archiver(
        write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'a.db'}", **{section: values}),
        tmp_path,
    )
    # one bad setting through real processes; the others by main() in this process (run_in_process)
    run = archiver.run if key == "schedule.timezone" else archiver.run_here
    for command in (["stats"], ["run", "--once"]):
        one_line_failure(run(*command), key)


def test_an_unescaped_at_in_the_password_is_refused_without_showing_it(
    tmp_path: Path, server: ReplicaServer
) -> None:
    url = "postgresql+psycopg://jin:p@ss/w:rd@127.0.0.1:1/jinshan"
    archiver = Archiver(write_config(tmp_path, server.base_url, url), tmp_path)
    done = archiver.run("db", "upgrade")
    one_line_failure(done, "database.url", "%40")
    assert "p@ss" not in done.stderr and "w:rd" not in done.stderr and "ss/w" not in done.stderr


@pytest.mark.parametrize("form", list(URL_FORMS))
@pytest.mark.parametrize("password", PASSWORDS)
def test_the_password_never_shows_when_the_database_is_unreachable(
    tmp_path: Path, server: ReplicaServer, password: str, form: str
) -> None:
    url = db_url_with(form, password, "127.0.0.1", free_port(), "jinshan")
    archiver = Archiver(write_config(tmp_path, server.base_url, url), tmp_path)
    # whatever reaches the file descriptors is checked with real processes for one spelling; the
    # masking of the others, by main() in this process
    run = archiver.run if password == PASSWORDS[0] and form == "userinfo" else archiver.run_here
    for command in (["db", "upgrade"], ["run", "--once"], ["stats"], ["backfill", "--since", "2026-10-01"]):
        done = run(*command)
        one_line_failure(done)
        no_secret(done, password)
        assert "127.0.0.1" in done.stderr and "***" in done.stderr, done.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("form", list(URL_FORMS))
@pytest.mark.parametrize("password", PASSWORDS)
def test_the_password_never_shows_while_working(
    tmp_path: Path, server: ReplicaServer, postgres_url: str, password: str, form: str
) -> None:
    # the throwaway server trusts every password: the daemon logs its start-up line, works, stops
    db = make_url(create_database(postgres_url))
    url = db_url_with(form, password, str(db.host), db.port, db.database).replace("//jin", f"//{db.username}", 1)
    archiver = Archiver(write_config(tmp_path, server.base_url, url), tmp_path)
    run = archiver.run if password == PASSWORDS[0] and form == "query" else archiver.run_here  # as above
    for command in (["db", "upgrade"], ["run", "--once"], ["stats"]):
        done = run(*command)
        assert done.returncode == 0, done.stderr
        no_secret(done, password)
    assert "INFO" in done.stderr or "database" in done.stdout


@pytest.mark.postgres
def test_read_commands_work_on_a_read_only_database_and_db_upgrade_fails_in_one_line(
    tmp_path: Path, server: ReplicaServer, postgres_url: str
) -> None:
    import psycopg

    url = create_database(postgres_url)
    archiver = Archiver(write_config(tmp_path, server.base_url, url), tmp_path)
    assert archiver.run_here("backfill", "--since", "2026-10-25").returncode == 0
    name = make_url(url).database
    conninfo = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        conn.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    for command in (["stats", "--json"], ["export"], ["search", "镇江"]):
        done = archiver.run_here(*command)
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout.strip()
    with psycopg.connect(conninfo, autocommit=True) as conn:  # an old schema on a read-only database
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
    with psycopg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    ) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    one_line_failure(archiver.run("stats"), "jinshan db upgrade")
    one_line_failure(archiver.run("db", "upgrade"), "read-only")


@pytest.mark.postgres
def test_db_upgrade_on_a_database_that_does_not_exist_is_one_line(
    tmp_path: Path, server: ReplicaServer, postgres_url: str
) -> None:
    url = make_url(postgres_url).set(database="no_such_db").render_as_string(hide_password=False)
    archiver = Archiver(write_config(tmp_path, server.base_url, url), tmp_path)
    one_line_failure(archiver.run("db", "upgrade"), "no_such_db")


def test_read_commands_never_create_nor_migrate_a_database(tmp_path: Path, server: ReplicaServer) -> None:
    config = tmp_path / "jinshan.toml"
    write_config(tmp_path, server.base_url, "sqlite:///data/jinshan.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    archiver = Archiver(config, elsewhere)
    for command in (["stats"], ["export"], ["search", "镇江"]):
        one_line_failure(archiver.run(*command), "no database at", "jinshan backfill --since")
    assert list(elsewhere.iterdir()) == [], "a read command created files"
    (elsewhere / "data").mkdir()
    (elsewhere / "data" / "jinshan.db").write_bytes(b"")  # a file, but never migrated
    for command in (["stats"], ["export"], ["search", "镇江"]):
        one_line_failure(archiver.run_here(*command), "holds no archive yet", "jinshan backfill --since")
    assert (elsewhere / "data" / "jinshan.db").stat().st_size == 0


def test_export_to_a_folder_that_does_not_exist_is_one_line(archiver: Archiver) -> None:
    assert archiver.run_here("db", "upgrade").returncode == 0
    one_line_failure(archiver.run("export", "--output", "/nonexistent/x"), "/nonexistent")


def test_debug_shows_the_traceback(tmp_path: Path, server: ReplicaServer) -> None:
    archiver = Archiver(write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'a.db'}"), tmp_path)
    assert archiver.run_here("db", "upgrade").returncode == 0
    (tmp_path / "warc").write_text("a file where the archive folder should be")
    quiet = archiver.run("run", "--once")
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr, quiet.stderr
    loud = archiver.run("run", "--once", "--debug")
    assert loud.returncode != 0


def test_exit_codes_say_when_the_site_is_unreachable(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    archiver = Archiver(write_config(tmp_path, dead, f"sqlite:///{tmp_path / 'a.db'}"), tmp_path)
    backfill = archiver.run("backfill", "--since", "2026-10-28")
    assert backfill.returncode == 2, backfill.stderr
    once = archiver.run("run", "--once")
    assert once.returncode == 2, once.stderr


def test_run_once_fails_when_nothing_can_be_archived(tmp_path: Path, server: ReplicaServer) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file: no folder can be made under it")
    config = write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'a.db'}",
                          archive={"path": str(blocked / "warc")})  # fmt: skip
    done = Archiver(config, tmp_path).run("run", "--once")
    assert done.returncode != 0, done.stderr


def test_parse_reads_only_regular_files_within_the_cap(tmp_path: Path, server: ReplicaServer) -> None:
    archiver = Archiver(write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'a.db'}",
                                     fetch={"max_bytes": 2048}), tmp_path)  # fmt: skip
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big.html"
    big.write_bytes(b"<html>" + b"x" * 4096 + b"</html>")
    done = archiver.run("parse", "/dev/zero", str(fifo), str(big), timeout=30)
    assert done.returncode == 2
    errors = [line for line in done.stdout.splitlines() if '"error"' in line]
    assert len(errors) == 3, done.stdout
    assert "regular file" in errors[0] and "regular file" in errors[1] and "max_bytes" in errors[2]
