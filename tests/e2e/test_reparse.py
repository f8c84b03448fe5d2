"""``jinshan reparse``: a profile fix reaches the whole archive from the WARC files, with no fetch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.config import CONFIG_DIR, load_settings
from service.crawl.reextract import CHUNK
from service.crawl.reparse import reparse
from service.crawl.wiring import open_store
from tests.e2e.conftest import Archiver, write_config
from tests.e2e.replica import Replica, ReplicaServer

pytestmark = pytest.mark.e2e


def broken_profile(tmp: Path) -> Path:
    """The site profile as it would be with a template change we did not follow: no lead tag known."""
    text = (CONFIG_DIR / "sites" / "jsw.toml").read_text(encoding="utf-8")
    broken = tmp / "broken.toml"
    broken.write_text(
        text.replace('lead_tags = ["金山网讯", "金山网消息", "本报讯"]', "lead_tags = []"), encoding="utf-8"
    )
    assert broken.read_text(encoding="utf-8") != text
    return broken


def test_reparse_applies_a_profile_fix_to_the_archive(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    bad = Archiver(
        write_config(
            tmp_path, server.base_url, database_url, site={"profile": str(broken_profile(tmp_path))}
        ),
        tmp_path,
    )
    assert bad.run("backfill", "--since", "2026-10-01").returncode == 0
    before = {r["url"]: r for r in bad.export()}
    with_lead = [u for u, r in before.items() if r["body_text"].startswith("金山网讯")]
    assert with_lead and all(before[u]["lead"] is None for u in with_lead)
    requests_before = len(server.requests)

    good = Archiver(write_config(tmp_path, server.base_url, database_url), tmp_path)
    done = good.run("reparse", "--since", "2026-10-01")
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["changed"] >= len(with_lead) and counts["failed"] == 0
    assert len(server.requests) == requests_before, "reparse must not fetch anything"
    after = {r["url"]: r for r in good.export()}
    for url in with_lead:
        assert after[url]["lead"] == "金山网讯" and after[url]["version"] == 2
        assert after[url]["body_text"] == replica.expected(url)["body_text"]

    again = good.run("reparse", "--since", "2026-10-01")
    assert json.loads(again.stdout.strip().splitlines()[-1])["changed"] == 0  # idempotent


def test_interrupted_reparse_resumes_after_the_last_article(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    archiver = Archiver(write_config(tmp_path, server.base_url, database_url), tmp_path)
    assert archiver.run("backfill", "--since", "2026-10-01").returncode == 0
    settings = load_settings(archiver.config, environ={})
    store = open_store(settings)
    seen: list[int] = []
    # stopped after the first chunk of results was written
    first = reparse(settings, store, since=None, until=None, workers=2, should_stop=lambda: len(seen) >= 1,
                    on_progress=lambda p: seen.append(p.last_id))  # fmt: skip
    done = sum(first.counts.values())
    assert done == CHUNK and first.last_id == seen[0] and not first.articles_done
    second = reparse(settings, store, since=None, until=None, workers=1)
    assert second.total == first.total - done
    assert sum(second.counts.values()) == second.total and second.counts["failed"] == 0
    third = reparse(settings, store, since=None, until=None)  # a finished reparse starts over, writing nothing
    assert third.total == first.total and third.counts["changed"] == third.counts["recovered"] == 0
