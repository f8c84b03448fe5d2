"""End-to-end fixtures: a replica of the site on 127.0.0.1, a config pointing at it, the real
``jinshan`` commands as subprocesses, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.replica import Replica, ReplicaServer
from tests.e2e.replica.settings import toml
from tests.support.postgres import postgres_db_url, postgres_url

__all__ = ["postgres_db_url", "postgres_url"]

ROOT = Path(__file__).resolve().parents[2]
#: every command is bounded: a hang fails the test instead of blocking CI
COMMAND_TIMEOUT_S = 120


@dataclass
class Archiver:
    """The real command line against one database and one replica."""

    config: Path
    tmp: Path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "service", *args, "--config", str(self.config)]

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), capture_output=True, text=True, timeout=timeout, cwd=self.tmp, env=_env()
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.tmp, env=_env())  # fmt: skip

    def export(self) -> list[dict[str, Any]]:
        done = self.run("export", "--format", "jsonl")
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINSHAN_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return str(request.getfixturevalue("postgres_db_url"))


@pytest.fixture()
def replica() -> Replica:
    return Replica(seed=11, n_articles=120, days=30, epaper_days=3, epaper_pages=3, old_articles=3)


@pytest.fixture()
def server(replica: Replica) -> Iterator[ReplicaServer]:
    with ReplicaServer(replica) as srv:
        yield srv


def write_config(tmp: Path, base_url: str, database_url: str, **sections: dict[str, Any]) -> Path:
    """A config for the replica with politeness lifted and quick retries; ``sections`` override."""
    extra: dict[str, dict[str, Any]] = {
        "database": {"url": database_url},
        "archive": {"path": str(tmp / "warc")},
        "fetch": {"requests_per_second": 500.0, "concurrency": 4, "timeout_s": 3.0, "connect_timeout_s": 2.0,
                  "retries": 2, "backoff_base_s": 0.05, "backoff_max_s": 0.5, "retry_after_s": 1.0},
        "web": {"listen": ""},
        "log": {"level": "INFO"},
    }  # fmt: skip
    for name, values in sections.items():
        extra.setdefault(name, {}).update(values)
    path = tmp / "jinshan.toml"
    path.write_text(toml(base_url, extra), encoding="utf-8")
    return path


@pytest.fixture()
def archiver(tmp_path: Path, server: ReplicaServer, database_url: str) -> Archiver:
    return Archiver(write_config(tmp_path, server.base_url, database_url), tmp_path)


def stop(
    process: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 15
) -> tuple[int, float, str]:
    """Send ``sig``; the exit code, the seconds it took to exit, and stderr."""
    started = time.monotonic()
    process.send_signal(sig)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        return -999, time.monotonic() - started, err
    return process.returncode, time.monotonic() - started, err


def wait_for(predicate: Any, *, timeout: float, every: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False
