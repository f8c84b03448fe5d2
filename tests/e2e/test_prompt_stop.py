"""SIGINT/SIGTERM stop a backfill at once, fetches in flight included: a page that takes its time
to answer is not waited for, and its URL goes back to the frontier untouched (no attempt counted,
nothing left "fetching"). The real ``jinshan backfill`` as a subprocess, against the replica."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.settings import DatabaseSettings
from service.store.db import make_engine
from tests.e2e.conftest import Archiver, stop, wait_for, write_config
from tests.e2e.replica import ReplicaServer

pytestmark = pytest.mark.e2e

#: how long the site takes to answer an article page: far longer than the stop may take
SLOW_S = 120.0
ARTICLE = r"^/\d{4}/\d{4}/\d+\.shtml$"


def claimed(database_url: str) -> bool:
    engine = make_engine(DatabaseSettings(url=database_url))
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM urls WHERE state = 'fetching'")).scalar())
    except SQLAlchemyError:  # not created yet
        return False
    finally:
        engine.dispose()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_does_not_wait_for_the_fetches_in_flight(
    tmp_path: Path, server: ReplicaServer, database_url: str, sig: signal.Signals
) -> None:
    archiver = Archiver(write_config(tmp_path, server.base_url, database_url,
                                     fetch={"timeout_s": SLOW_S * 2, "retries": 0, "requests_per_second": 5.0}),
                        tmp_path)  # fmt: skip
    process = archiver.start("backfill", "--since", "2026-10-01")
    try:
        # the discovery is done and the fetching under way (URLs are claimed) …
        assert wait_for(lambda: claimed(database_url), timeout=90)
        # … when the article pages begin to take their time
        seen = len(server.requests)
        server.fault(kind="slow", delay=SLOW_S, pattern=ARTICLE)
        assert wait_for(lambda: any(re.search(ARTICLE, r.path) for r in server.requests[seen:]), timeout=90)
    finally:
        # the article pages answer only after SLOW_S: an exit before it did not wait for them
        code, _, err = stop(process, sig, timeout=SLOW_S / 2)
    assert code == 130, err
    assert "Traceback" not in err, err
    engine = make_engine(DatabaseSettings(url=database_url))
    try:
        with engine.connect() as conn:
            left = conn.execute(text("SELECT url FROM urls WHERE state = 'fetching' OR attempts > 0")).all()
            status = conn.execute(text("SELECT status FROM runs")).scalars().all()
    finally:
        engine.dispose()
    assert left == []
    assert status == ["interrupted"]
