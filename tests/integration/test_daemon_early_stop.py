"""The daemon's stop: a signal that arrives while it is still starting ends it cleanly, and the stop
does not wait for the web listener as if it were a crawl job."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from service.app import daemon as daemon_module
from service.app.daemon import Daemon
from service.settings import load_settings


@pytest.mark.parametrize("listen", ["", "127.0.0.1:0"], ids=["no-web", "web"])
def test_a_signal_caught_before_the_loop_handlers_stops_the_daemon(
    tmp_path: Path, listen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the grace for jobs in flight is longer than the test's bound: waiting for the web listener's
    # task (which only ends after the grace) would time the test out
    monkeypatch.setattr(daemon_module, "STOP_GRACE_S", 3600.0)
    settings = load_settings(
        environ={},
        overrides={
            "database": {"url": f"sqlite:///{tmp_path / 'archive.db'}"},
            "archive": {"path": str(tmp_path / "warc")},
            "web": {"listen": listen},
        },
    )
    daemon = Daemon(settings, early_signals=[signal.SIGTERM])

    async def run() -> None:
        # without the early signal, run_forever schedules the crawl and never returns
        await asyncio.wait_for(daemon.run_forever(), timeout=120)

    asyncio.run(run())
    assert daemon.stop.is_set()
    assert daemon.role == "leader"
    assert (daemon.web is not None) == bool(listen)
