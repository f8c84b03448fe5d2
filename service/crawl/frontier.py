"""The frontier as discovery sees it: the store's ``add_urls``, with known articles recognised first.

A link whose URL carries the id of an article we already have (the same CmsTop id under another date
folder, a redirecting alias) is that article: its URL is recorded as an alias at once and nothing is
fetched, so related lists full of aliases cost no requests. The id comes from the site profile's URL
patterns (``site_id`` of the templates), the same rung the store deduplicates on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from service.config import SiteProfile
from service.extract.profile import choose_template, site_id
from service.store.repo import Store
from service.store.types import Discoveries, NewUrl


class Frontier:
    """``add_urls`` for discovery: new URLs go to the store, aliases of stored articles are recorded."""

    def __init__(self, store: Store, profile: SiteProfile) -> None:
        self.store = store
        self.profile = profile

    def add_urls(self, urls: Iterable[NewUrl]) -> int:
        """Write what ``links`` makes of ``urls`` (one transaction); how many URLs were new."""
        return self.store.add_discoveries(self.links(urls), seen_at=datetime.now(UTC))

    def known_before(self, urls: Iterable[str], at: datetime) -> set[str]:
        """Those of ``urls`` the archive held before ``at`` (see ``Store.known_before``)."""
        return self.store.known_before(urls, at)

    def links(self, urls: Iterable[NewUrl]) -> Discoveries:
        """``urls`` with the site id of each (no database read): the store sets apart the addresses
        of stored articles in the transaction that writes them, alone (``add_urls``) or with the
        page they were found on (``Store.store_fetched``)."""
        items = tuple(urls)
        return Discoveries(items, site_ids=tuple(self._site_id(item.url) for item in items))

    def _site_id(self, url: str) -> str | None:
        template, groups = choose_template(url, "", self.profile)
        return site_id(template, groups) or None
