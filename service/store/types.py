"""The values that cross the store's public surface: what callers pass in and get back.

Plain frozen dataclasses and the closed vocabularies of URL kinds, URL states and outcome kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

#: what a frontier URL is expected to be
URL_KINDS = ("article", "hub", "epaper_layout", "epaper_article", "resource")
#: the life of a frontier URL (see ``Store.finish_url``)
URL_STATES = ("new", "fetching", "done", "retry", "failed", "not_article", "gone", "refused")
#: what ``Store.store_article`` did
OUTCOME_KINDS = ("new", "unchanged", "changed", "duplicate")


@dataclass(frozen=True, slots=True)
class NewUrl:
    """A URL for the frontier. ``found_on`` is the page it was discovered on, if any."""

    url: str
    kind: str
    found_on: str | None
    due_at: datetime
    published_on: date | None = None
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Discoveries:
    """What discovery found on one page, ready to write: URLs for the frontier, and addresses of
    articles already stored (``(article id, url)``: recorded as aliases, never fetched).

    ``site_ids``, when given, holds the site's article id of each URL (None where its address
    carries none): the store then looks them up in the same transaction that writes, and a URL
    whose id is a stored article's is recorded as its alias instead of entering the frontier.
    """

    urls: tuple[NewUrl, ...] = ()
    aliases: tuple[tuple[int, str], ...] = ()
    site_ids: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimedUrl:
    """A URL leased to one worker: fetch it, then ``record_fetch`` and ``finish_url``."""

    id: int
    url: str
    kind: str
    attempts: int
    etag: str | None
    last_modified: str | None
    payload_digest: str | None
    article_id: int | None
    published_on: date | None
    #: what the article's checks are scheduled from (publication, or first-seen, time), if stored
    published_at: datetime | None = None
    #: the claim priority it was due at (``crawl.schedule``: 0 fresh, -1 sweep, -2 ``jinshan recheck``)
    priority: int = 0


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """``kind``: "new" | "unchanged" | "changed" | "duplicate".

    ``article_id`` is the row that holds this text (for a near-duplicate, its own row);
    ``version`` its version number now; ``duplicate_of`` the original article when ``kind`` is
    "duplicate", else None. ``new_urls``: URLs new to the frontier among the links stored with it
    (``Store.store_fetched(found=…)``).
    """

    kind: str
    article_id: int
    version: int
    duplicate_of: int | None = None
    new_urls: int = 0
