"""Resources in the store: queued once per URL below every page, linked to each page that uses
them, asked again only after ``resource_revisit_days``, recorded with why not when missing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update

from service.store import NewUrl, ResourceResult
from service.store.repo import Store
from service.store.schema import urls

SITE = "https://www.jsw.com.cn"
LOGO = SITE + "/images/logo.png"


def page(store: Store, n: int) -> int:
    url = f"{SITE}/2026/0301/{1000 + n}.shtml"
    store.add_urls([NewUrl(url, "article", None, datetime(2026, 1, 1, tzinfo=UTC), date(2026, 3, 1))])
    claimed = store.claim_due(limit=1, now=datetime.now(UTC), lease_s=60, worker="w:1", kinds=["article"])
    assert claimed and claimed[0].url == url
    return claimed[0].id


def test_a_logo_used_by_every_page_is_one_resource_claimed_after_the_pages(store: Store) -> None:
    ids = [page(store, n) for n in range(3)]
    queued = [store.add_page_resources(i, [(LOGO, "image"), (f"{SITE}/uploads/{i}.jpg", "image")],
                                       found_on="p", published_on=date(2026, 3, 1), revisit_days=30)
              for i in ids]  # fmt: skip
    assert queued == [2, 1, 1]  # the logo once
    store.add_urls([NewUrl(SITE + "/2026/0302/2000.shtml", "article", None, datetime(2026, 1, 2, tzinfo=UTC))])
    batch = store.claim_due(limit=10, now=datetime.now(UTC), lease_s=60, worker="w:1")
    assert [c.kind for c in batch] == ["article", "resource", "resource", "resource", "resource"]
    assert all(c.published_on == date(2026, 3, 1) for c in batch[1:])
    rows = store.resources_of([LOGO])
    assert rows[LOGO]["status"] == "pending"


def test_an_archived_resource_is_asked_again_only_after_the_revisit_days(store: Store, engine) -> None:  # type: ignore[no-untyped-def]
    first = page(store, 1)
    store.add_page_resources(first, [(LOGO, "image")], found_on="p", published_on=None, revisit_days=30)
    (logo,) = store.claim_due(limit=5, now=datetime.now(UTC), lease_s=60, worker="w:1", kinds=["resource"])
    now = datetime.now(UTC)
    result = ResourceResult("archived", fetched_at=now, http_status=200, content_type="image/png", size=10,
                            payload_digest="sha1:AAA", warc_file="a.warc.gz", warc_offset=5, warc_length=9)  # fmt: skip
    fetch = {"status": 200, "fetched_at": now, "warc_file": "a.warc.gz", "warc_offset": 5, "warc_length": 9,
             "payload_digest": "sha1:AAA", "error": None, "elapsed_s": None, "run_id": None}  # fmt: skip
    store.record_resource(logo.id, LOGO, result, fetch=fetch, state="done", etag='"e1"')
    second = page(store, 2)
    assert store.add_page_resources(second, [(LOGO, "image")], found_on="p", published_on=None, revisit_days=30) == 0
    assert store.known_payload(SITE + "/images/other.png", "sha1:AAA") == (LOGO, now)
    assert store.known_payload(LOGO, "sha1:AAA") is None  # its own URL: not "another"
    with engine.begin() as conn:  # 31 days pass
        conn.execute(update(urls).where(urls.c.id == logo.id).values(last_fetched_at=now - timedelta(days=31)))
    assert store.add_page_resources(second, [(LOGO, "image")], found_on="p", published_on=None, revisit_days=30) == 1
    (again,) = store.claim_due(limit=5, now=datetime.now(UTC), lease_s=60, worker="w:1", kinds=["resource"])
    assert again.etag == '"e1"' and again.payload_digest == "sha1:AAA"  # a conditional request
    # it is gone now: the archived record stays, the reason is said
    missing = ResourceResult("missing", fetched_at=datetime.now(UTC), http_status=404, why_not="http_404")
    store.record_resource(again.id, LOGO, missing, fetch=None, state="gone")
    row = store.resources_of([LOGO])[LOGO]
    assert row["status"] == "archived" and row["why_not"] == "http_404" and row["warc_file"] == "a.warc.gz"
    counts = store.resource_counts()
    assert counts["by_kind"]["image"]["archived"] == 1 and counts["by_kind"]["image"]["bytes"] == 10
