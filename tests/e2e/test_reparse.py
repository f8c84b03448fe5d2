"""``jinshan reparse``: a profile fix reaches the whole archive from the WARC files, with no fetch."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from service.app.wiring import open_store
from service.crawl.reextract import CHUNK
from service.crawl.reparse import reparse
from service.settings import CONFIG_DIR, load_settings
from tests.e2e.conftest import Archiver, write_config
from tests.e2e.replica import Replica, ReplicaServer
from tests.e2e.test_crawl import CONTRACT, assert_matches_truth

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
    assert bad.run_here("backfill", "--since", "2026-10-01").returncode == 0
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

    for file in (tmp_path / "warc").iterdir():  # the archive lost: every article fails, exit 1
        file.unlink()
    lost = good.run("reparse", "--since", "2026-10-01")
    assert lost.returncode == 1, lost.stderr
    counts = json.loads(lost.stdout.strip().splitlines()[-1])
    assert counts["failed"] > 0 and counts["unchanged"] == counts["changed"] == 0


def test_interrupted_reparse_resumes_after_the_last_article(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    archiver = Archiver(write_config(tmp_path, server.base_url, database_url), tmp_path)
    assert archiver.run_here("backfill", "--since", "2026-10-01").returncode == 0
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
    third = reparse(
        settings, store, since=None, until=None
    )  # a finished reparse starts over, writing nothing
    assert third.total == first.total and third.counts["changed"] == third.counts["recovered"] == 0


#: the e-paper article template's <title> ends so; as a "not found" marker it refuses the whole template
EPAPER_TITLE_TAIL = "-镇江日报"


def refusing_profile(tmp: Path) -> Path:
    """The site profile with a "not found" marker that every e-paper article page carries: the
    extractor refuses that whole template, as a bad marker learnt from the live site would."""
    text = (CONFIG_DIR / "sites" / "jsw.toml").read_text(encoding="utf-8")
    refusing = tmp / "refusing.toml"
    refusing.write_text(
        text.replace("not_found_markers = [", f'not_found_markers = ["{EPAPER_TITLE_TAIL}", ', 1),
        encoding="utf-8",
    )
    assert refusing.read_text(encoding="utf-8") != text
    return refusing


def article_groups(rows: list[dict[str, Any]]) -> dict[frozenset[str], dict[str, Any]]:
    """Exported articles by the set of their addresses (own URL and aliases), each with its contract
    fields: which copy of a duplicated text got the row depends on the order of arrival, not what is
    stored."""
    fields = [f for f in CONTRACT if f not in ("url", "site_id")]
    return {frozenset([r["url"], *r["aliases"]]): {f: r[f] for f in fields} for r in rows}


def test_reparse_recovers_every_page_a_bad_setting_refused(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    (tmp_path / "bad").mkdir()
    bad = Archiver(
        write_config(tmp_path / "bad", server.base_url, database_url,
                     site={"profile": str(refusing_profile(tmp_path))}),
        tmp_path / "bad",
    )  # fmt: skip
    assert bad.run_here("backfill", "--since", "2026-10-01").returncode == 0
    epaper = {t["url"] for t in replica.articles() if "/PC/content/" in t["url"]}
    before = bad.export()
    assert epaper and not epaper & {u for r in before for u in [r["url"], *r["aliases"]]}
    refused = json.loads(bad.run_here("stats", "--json").stdout)["frontier"]["not_article"]
    assert refused == len(epaper) + len(replica.not_articles())
    requests_before = len(server.requests)

    # the setting fixed: the same archive, the shipped profile
    good = Archiver(write_config(tmp_path / "bad", server.base_url, database_url), tmp_path / "bad")
    done = good.run("reparse")
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["recovered"] == len(epaper), counts
    assert (
        counts["still_refused"] == len(replica.not_articles()) and counts["requeued"] == counts["failed"] == 0
    )
    assert len(server.requests) == requests_before, "reparse must not fetch anything"
    assert f"recovered={len(epaper)}" in done.stderr

    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean = Archiver(
        write_config(clean_dir, server.base_url, f"sqlite:///{clean_dir / 'clean.db'}"), clean_dir
    )
    assert clean.run_here("backfill", "--since", "2026-10-01").returncode == 0
    after, expected = good.export(), clean.export()
    assert_matches_truth(after, replica, since=date(2026, 10, 1))
    assert article_groups(after) == article_groups(expected)
    assert json.loads(good.run_here("stats", "--json").stdout)["frontier"]["not_article"] == len(
        replica.not_articles()
    )

    again = good.run("reparse")
    assert again.returncode == 0, again.stderr
    counts = json.loads(again.stdout.strip().splitlines()[-1])
    assert counts["recovered"] == counts["changed"] == counts["requeued"] == 0  # a re-run finds nothing new
    assert good.export() == after
