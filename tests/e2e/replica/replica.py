"""``Replica``: a deterministic generated copy of 金山网 with its ground truth and its controls.

The replica answers three questions: what the site contains (``articles``, ``expected``, ``aliases``,
``duplicates``, ``not_articles``), what a path serves (``site.resolve`` reads the state through the
methods here), and how the site changes while a crawler watches (``edit``, ``delete``, ``publish``).
Mutations take a lock, so the server's threads and the test thread may call in at any time.
"""

from __future__ import annotations

import bisect
import random
import re
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.replica import catalog, stories
from tests.e2e.replica.catalog import CHANNELS, SHANGHAI, OldEntry, PaperEntry, SiteEntry
from tests.e2e.replica.lists import PER_PAGE
from tests.e2e.replica.stories import Story

Key = tuple[str, int]
Entry = SiteEntry | OldEntry | PaperEntry

_SITE_PATH = re.compile(r"^/(\d{4})/(\d{4})/(\d+)(?:_(\d+))?\.shtml$")
_OLD_PATH = re.compile(r"^/(\d{4})-(\d{2})/(\d{2})/content_(\d+)\.htm$")
_PAPER_PATH = re.compile(r"^/ZJRB/PC/content/(\d{6})/(\d{2})/content_(\d+)\.html$")


class Replica:
    """A generated 金山网: current articles, old GBK pages, e-paper issues, lists, and ground truth.

    ``n_articles`` current articles are spread over ``days`` days from ``start``; the e-paper has an
    issue for each of the last ``epaper_days`` of them. ``base_url`` is where the pages are served
    (``ReplicaServer`` sets it); ground-truth URLs are built on it.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        n_articles: int = 240,
        start: date = date(2026, 10, 1),
        days: int = 32,
        epaper_days: int = 7,
        epaper_pages: int = 4,
        old_articles: int = 6,
        generic_share: float = 0.04,
        multipage_share: float = 0.08,
        crawl_delay: float | None = None,
        base_url: str = "http://127.0.0.1/",
    ) -> None:
        if n_articles < 1 or days < 1 or not 0 <= epaper_days <= days:
            raise ValueError("need n_articles >= 1, days >= 1 and 0 <= epaper_days <= days")
        self.seed, self.start, self.days = seed, start, days
        self.crawl_delay = crawl_delay
        self.base_url = base_url
        self._lock = threading.RLock()
        rng = random.Random(f"{seed}:catalog")
        self._site = catalog.build_site(
            rng, n=n_articles, start=start, days=days, generic_share=generic_share,
            multipage_share=multipage_share,
        )
        self._by_id = {e.site_id: e.index for e in self._site}
        self._old = catalog.build_old(random.Random(f"{seed}:old"), old_articles)
        self._old_by_n = {e.n: e for e in self._old}
        last = start + timedelta(days=days - 1)
        self.issues = [last - timedelta(days=k) for k in reversed(range(epaper_days))]
        self.epaper_pages = epaper_pages
        self._paper = catalog.build_epaper(
            random.Random(f"{seed}:epaper"), issues=self.issues, pages=epaper_pages, site=self._site
        )
        self._paper_by_n = {e.n: e for e in self._paper}
        self._channel_lists: list[list[int]] = [[] for _ in CHANNELS]
        for e in self._site:
            self._channel_lists[e.channel].append(e.index)
        self._live: list[int] = [e.index for e in self._site]
        #: the older headline the home page pins above the newest (real sites pin one for days): the
        #: last link of page 2 of the first channel's list, or its oldest when the list is shorter
        first = self._channel_lists[0]
        self.pinned: int | None = first[-min(len(first), 2 * PER_PAGE)] if first else None
        self._overrides: dict[Key, Story] = {}
        self._versions: dict[Key, int] = {}
        self._changed: dict[Key, datetime] = {}
        self._deleted: set[Key] = set()
        #: when, and how often, anything printed on list pages changed (publish, delete, retitle)
        self.lists_changed_at = self._site[-1].published
        self.lists_version = 0
        self.story = lru_cache(maxsize=4096)(self._generate)
        low = min(self._by_id) - 1000
        #: pages at article-pattern URLs that are not articles: path → reason
        day = start + timedelta(days=min(2, days - 1))
        self.special = {f"/{day:%Y/%m%d}/{low}.shtml": "not_found", f"/{day:%Y/%m%d}/{low - 7}.shtml": "list_page"}

    # -- lookup ---------------------------------------------------------------------------------

    def key_of(self, url: str) -> Key | None:
        """The article a URL (any host, alias, page or query) stands for, or None."""
        path = urlsplit(url).path
        if m := _SITE_PATH.match(path):
            index = self._by_id.get(int(m[3]))
            return ("site", index) if index is not None else None
        if m := _OLD_PATH.match(path):
            return ("old", int(m[4])) if int(m[4]) in self._old_by_n else None
        if m := _PAPER_PATH.match(path):
            return ("paper", int(m[3])) if int(m[3]) in self._paper_by_n else None
        return None

    def entry_at(self, url: str) -> Entry:
        """The catalogue record of the article at ``url``; KeyError if there is none."""
        return self.entry(self._require(url))

    def entry(self, key: Key) -> Entry:
        kind, k = key
        if kind == "site":
            return self._site[k]
        return self._old_by_n[k] if kind == "old" else self._paper_by_n[k]

    def site_entry(self, index: int) -> SiteEntry:
        return self._site[index]

    def site_by_id(self, site_id: int) -> SiteEntry | None:
        index = self._by_id.get(site_id)
        return None if index is None else self._site[index]

    def old_entries(self) -> list[OldEntry]:
        return list(self._old)

    def old_by_n(self, n: int) -> OldEntry | None:
        return self._old_by_n.get(n)

    def paper_by_n(self, n: int) -> PaperEntry | None:
        return self._paper_by_n.get(n)

    def paper_entries(self, issue: date, page: int | None = None) -> list[PaperEntry]:
        return [e for e in self._paper if e.issue == issue and (page is None or e.page == page)]

    def current(self, key: Key) -> Story:
        """The story as the site serves it now (edits applied)."""
        with self._lock:
            override = self._overrides.get(key)
        return override if override is not None else self.story(key)

    def title(self, index: int) -> str:
        """Headline of site article ``index`` as lists print it (cheap: no body is generated)."""
        with self._lock:
            override = self._overrides.get(("site", index))
        return override.title if override else catalog.title_for(self.seed, index)

    def version(self, key: Key) -> int:
        return self._versions.get(key, 0)

    def changed_at(self, key: Key) -> datetime:
        """When the page last changed: its publication, or its last edit."""
        return self._changed.get(key) or self.entry(key).published

    def is_deleted(self, key: Key) -> bool:
        return key in self._deleted

    def newest(self, count: int, channel: int | None = None, offset: int = 0) -> list[SiteEntry]:
        """Live site articles newest first, ``offset`` skipped, at most ``count``."""
        with self._lock:
            seq = self._live if channel is None else self._channel_lists[channel]
            end = len(seq) - offset
            picked = seq[max(end - count, 0) : max(end, 0)]
        return [self._site[i] for i in reversed(picked)]

    def pinned_entry(self) -> SiteEntry | None:
        """The pinned headline of the home page, while it is live."""
        with self._lock:
            live = self.pinned is not None and ("site", self.pinned) not in self._deleted
        return self._site[self.pinned] if live and self.pinned is not None else None

    def live_count(self, channel: int | None = None) -> int:
        with self._lock:
            return len(self._live if channel is None else self._channel_lists[channel])

    # -- generation -----------------------------------------------------------------------------

    def _generate(self, key: Key) -> Story:
        kind, k = key
        rng = random.Random(f"{self.seed}:{kind}:{k}")
        if kind == "site":
            e = self._site[k]
            return stories.site_story(
                rng, title=catalog.title_for(self.seed, k), when=e.published,
                commentary=e.channel == catalog.COMMENTARY, long=e.pages > 1,
            )
        if kind == "old":
            old = self._old_by_n[k]
            return stories.old_story(rng, when=old.published, dated_only=old.dated_only)
        paper = self._paper_by_n[k]
        if paper.dup_of is not None:
            return stories.as_print(self.story(("site", paper.dup_of)))
        return stories.epaper_story(rng, when=paper.published)

    # -- ground truth ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """Absolute URL of a server path."""
        return self.base_url.rstrip("/") + path

    def truth(self, key: Key) -> dict[str, Any]:
        """Ground truth of one article, as currently served."""
        story, e = self.current(key), self.entry(key)
        if isinstance(e, SiteEntry):
            site_id, channel = str(e.site_id), CHANNELS[e.channel].name
        elif isinstance(e, OldEntry):
            site_id, channel = f"content_{e.n}", e.channel
        else:
            site_id, channel = f"ZJRB/content_{e.n}", e.page_label
        return story.truth(
            url=self.url(e.path), site_id=site_id, published_at=e.published, channel=channel,
            base_url=self.base_url,
        )

    def expected(self, url: str) -> dict[str, Any]:
        """Ground truth of the article at ``url`` (canonical, alias or page-2 URL; deleted ones too).

        Raises KeyError when ``url`` is not an article of the replica.
        """
        key = self.key_of(url)
        if key is None:
            raise KeyError(url)
        return self.truth(key)

    def keys(self, *, include_deleted: bool = False) -> Iterator[Key]:
        """Every article: site (oldest first), then old pages, then e-paper."""
        with self._lock:
            keys = [("site", e.index) for e in self._site]
        keys += [("old", e.n) for e in self._old] + [("paper", e.n) for e in self._paper]
        return (k for k in keys if include_deleted or k not in self._deleted)

    def articles(self, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Ground truths of all articles, generated one at a time."""
        return (self.truth(k) for k in self.keys(include_deleted=include_deleted))

    def aliases(self, url: str) -> list[str]:
        """Other URLs of the same article that pages of the replica link to (see site.related)."""
        key = self.key_of(url)
        if key is None or key[0] != "site":
            return []
        e = self._site[key[1]]
        out = [self.url(e.alias_path)] if e.index % 5 == 2 else []
        return out + ([self.url(e.path) + "?from=app"] if e.index % 5 == 4 else [])

    def duplicates(self) -> list[tuple[str, str]]:
        """(e-paper URL, site URL) pairs whose bodies are the same text."""
        return [
            (self.url(p.path), self.url(self._site[p.dup_of].path)) for p in self._paper if p.dup_of is not None
        ]

    def not_articles(self) -> dict[str, str]:
        """URLs at the article URL pattern that are not articles → reason ("not_found", "list_page")."""
        return {self.url(path): reason for path, reason in self.special.items()}

    def deleted_urls(self) -> list[str]:
        with self._lock:
            return [self.url(self.entry(k).path) for k in sorted(self._deleted)]

    # -- controls -------------------------------------------------------------------------------

    def _require(self, url: str) -> Key:
        key = self.key_of(url)
        if key is None:
            raise KeyError(f"not an article of the replica: {url}")
        return key

    def edit(
        self, url: str, *, title: str | None = None, paragraphs: list[str] | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Change an article's title and/or paragraphs; with neither, append a correction paragraph.

        Its ETag and Last-Modified change; the new ground truth is returned.
        """
        key = self._require(url)
        with self._lock:
            story = self.current(key)
            if title is None and paragraphs is None:
                paragraphs = [*story.paragraphs, f"（更正：本文第{len(story.paragraphs)}段数据已更新。）"]
            self._overrides[key] = story.with_edit(title=title, paragraphs=paragraphs)
            self._versions[key] = self.version(key) + 1
            self._changed[key] = _now(at)
            if title is not None:
                self._lists_changed(self._changed[key])
        return self.truth(key)

    def delete(self, url: str, *, at: datetime | None = None) -> None:
        """Take an article down: 404 from now on, gone from every list."""
        key = self._require(url)
        with self._lock:
            self._deleted.add(key)
            if key[0] == "site":
                index = key[1]
                self._live.remove(index)
                self._channel_lists[self._site[index].channel].remove(index)
            self._lists_changed(_now(at))

    def restore(self, url: str, *, at: datetime | None = None) -> None:
        """Put a deleted article back, as it was: it answers 200 again and is listed again."""
        key = self._require(url)
        with self._lock:
            if key not in self._deleted:
                return
            self._deleted.discard(key)
            if key[0] == "site":
                index = key[1]
                bisect.insort(self._live, index)
                bisect.insort(self._channel_lists[self._site[index].channel], index)
            self._lists_changed(_now(at))

    def publish(self, n: int = 1, *, at: datetime | None = None, channel: int | None = None) -> list[str]:
        """Add ``n`` new current articles at the top of the lists, dated ``at`` (default: now).

        Their text comes from the seed and their position, so it is reproducible; returns their URLs.
        """
        with self._lock:
            when = max(_now(at).replace(second=0, microsecond=0), self._site[-1].published)
            out = []
            for _ in range(n):
                index = len(self._site)
                rng = random.Random(f"{self.seed}:publish:{index}")
                site_id = max(self._by_id) + rng.randint(1, 45)
                ch = channel if channel is not None else rng.choices(range(len(CHANNELS)), (40, 35, 10, 15))[0]
                entry = SiteEntry(index, site_id, when, ch, "cmstop", 1)
                self._site.append(entry)
                self._by_id[site_id] = index
                self._live.append(index)
                self._channel_lists[ch].append(index)
                out.append(self.url(entry.path))
            self._lists_changed(max(_now(at), when))
        return out

    def _lists_changed(self, when: datetime) -> None:
        self.lists_changed_at = max(self.lists_changed_at, when)
        self.lists_version += 1


def _now(at: datetime | None) -> datetime:
    return (at or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
