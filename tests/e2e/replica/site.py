"""Routing: what the replica serves at a path, as a ``Page`` (status, bytes, headers' inputs).

Pure with respect to HTTP: the server (server.py) turns a ``Page`` into a response and handles
conditional requests and faults; this module only reads the replica's state. Rendered pages are
kept in a bounded LRU keyed by the state they were rendered from (article version, list version),
so an edit or a publication is visible at once and memory stays flat for 20,000 articles.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from tests.e2e.replica import lists, pages, paper
from tests.e2e.replica.catalog import CHANNELS, SHANGHAI, SiteEntry, layout_path, title_for
from tests.e2e.replica.replica import Replica

HTML = "text/html; charset=utf-8"
STATIC_TIME = datetime(2026, 1, 1, tzinfo=SHANGHAI)
#: 1×1 transparent GIF served for every image path: the crawler may look, but need not download
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")



def png(
    width: int, height: int, rgb: tuple[int, int, int], stripe: tuple[int, int, int] | None = None,
    grain: int = 0,
) -> bytes:
    """A PNG image of one colour (with a band of ``stripe`` across the middle, and ``grain``: seeded
    noise, so it weighs what a photo does): a real picture for browsers and Pillow, without an
    imaging library in the replica."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = np.empty((height, width, 3), dtype=np.int16)
    pixels[:] = rgb
    if stripe:
        pixels[height // 3 : 2 * height // 3] = stripe
    if grain:
        pixels += np.random.default_rng(sum(rgb) * 7919 + width).integers(0, grain, size=pixels.shape, dtype=np.int16)
    rows = np.zeros((height, width * 3 + 1), dtype=np.uint8)  # each row: filter byte 0, then RGB
    rows[:, 1:] = np.clip(pixels, 0, 255).astype(np.uint8).reshape(height, width * 3)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) \
        + chunk(b"IEND", b"")


@functools.lru_cache(maxsize=4096)
def photo(path: str) -> bytes:
    """The photo at ``path``: 160×120, its colours from the path, so each photo's bytes differ."""
    h = hashlib.md5(path.encode()).digest()
    return png(160, 120, (h[0] // 2, h[1] // 2, h[2] // 2), (255 - h[0] // 2, 255 - h[1] // 2, 255 - h[2] // 2),
               grain=48)


#: the site's stylesheets, fonts and logo (query strings are ignored: ``?v=2`` is the same file)
STATIC: dict[str, tuple[bytes, str]] = {
    "/css/style.css": (
        b'@charset "utf-8";\n@import url("/css/print.css") print;\n'
        b'@font-face { font-family: "jsw"; src: url(/fonts/jsw.woff) format("woff"); }\n'
        b"body { margin: 0; font-family: sans-serif; background: #fff url(../images/bg.png) repeat-x; }\n"
        b".header { background: #b40000; padding: 8px; } .header .nav li { display: inline; margin: 4px; }\n"
        b".header .nav a { color: #fff; } .article h1 { color: #b40000; border-bottom: 6px solid #b40000; }\n"
        b"/* old rule: url(/images/unused.png) */\n",
        "text/css",
    ),
    "/css/print.css": (b".header, .footer, .share { display: none; }\n", "text/css"),
    "/fonts/jsw.woff": (b"wOFF\x00\x01\x00\x00" + bytes(range(64)), "font/woff"),
    "/images/logo.png": (png(120, 40, (180, 0, 0), (255, 255, 255)), "image/png"),
    "/images/bg.png": (png(4, 60, (250, 240, 240)), "image/png"),
}

#: the e-paper's page scans and PDFs (Founder: /ZJRB/PC/images/YYYYMM/DD/page_01.jpg)
_SCAN = re.compile(r"^/ZJRB/PC/images/\d{6}/\d{2}/page_\d+\.jpg$")
_PDF = re.compile(r"^/ZJRB/PC/images/\d{6}/\d{2}/page_\d+\.pdf$")
_SITE = re.compile(r"^/(\d{4})/(\d{4})/(\d+)(?:_(\d+))?\.shtml$")
_OLD = re.compile(r"^/(\d{4})-(\d{2})/(\d{2})/content_(\d+)\.htm$")
_PAPER = re.compile(r"^/ZJRB/PC/content/(\d{6})/(\d{2})/content_(\d+)\.html$")
_LAYOUT = re.compile(r"^/ZJRB/PC/layout/(\d{6})/(\d{2})/node_(\d+)\.html$")
_CHANNEL = re.compile(r"^/news/([a-z]+)/(?:index(?:_(\d+))?\.shtml)?$")


@dataclass(frozen=True, slots=True)
class Page:
    """One response body and what the headers are made of; ``etag`` is derived from the body."""

    status: int
    body: bytes
    content_type: str = HTML
    last_modified: datetime | None = None
    location: str | None = None
    etag: str | None = None


def _page(body: str | bytes, when: datetime | None, content_type: str = HTML, status: int = 200) -> Page:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    tag = f'"{hashlib.md5(raw).hexdigest()[:20]}"' if status == 200 else None
    return Page(status, raw, content_type, when, None, tag)


NOT_FOUND = _page(lists.error_404(), None, status=404)


class Site:
    """Maps request paths to pages of ``replica`` (query strings are ignored, as the CMS does)."""

    def __init__(self, replica: Replica, *, cache_size: int = 2048) -> None:
        self.replica = replica
        self._cache: OrderedDict[tuple[object, ...], Page] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._list_stamps: dict[str, tuple[str | None, datetime | None]] = {}

    def resolve(self, path: str) -> Page:
        """The page at ``path``; a 404 page for anything the site does not have."""
        r = self.replica
        if path in ("/", "/index.shtml", "/index.html"):
            return self._listed(path, self._cached(("home", r.lists_version), self._home))
        if path in ("/news/", "/news/index.shtml"):
            return _page(lists.news_index(self.epaper_href()), STATIC_TIME)
        if path == "/robots.txt":
            return _page(lists.robots(r.crawl_delay), STATIC_TIME, "text/plain; charset=utf-8")
        if path == "/archive/index.htm":
            return self._cached(("archive",), self._archive)
        if path in r.special:
            return self._special(r.special[path])
        for pattern, handler in self._routes():
            if m := pattern.match(path):
                return handler(path, m)
        if path in STATIC:
            return _page(STATIC[path][0], STATIC_TIME, STATIC[path][1])
        if path.startswith("/uploads/") or _SCAN.match(path):
            return _page(photo(path), STATIC_TIME, "image/png")
        if _PDF.match(path):
            return _page(b"%PDF-1.4\n% \xe9\x95\x87\xe6\xb1\x9f\n" + photo(path) + b"\n%%EOF\n", STATIC_TIME, "application/pdf")
        if path.startswith(("/uploads/", "/images/")):
            return _page(PIXEL, STATIC_TIME, "image/gif")
        if path.startswith("/search/"):
            return _page(lists.search_page(self.epaper_href()), STATIC_TIME)
        return NOT_FOUND

    def _routes(self) -> tuple[tuple[re.Pattern[str], Callable[[str, re.Match[str]], Page]], ...]:
        return ((_SITE, self._site), (_CHANNEL, self._channel), (_OLD, self._old), (_PAPER, self._paper),
                (_LAYOUT, self._layout))

    def _listed(self, path: str, page: Page) -> Page:
        """A list page whose Last-Modified is when *its* bytes last changed.

        List pages are rendered from the global state, but a publication in one channel leaves the
        other channels' pages byte-identical: they keep their ETag and must keep their date too, or a
        client that only sends If-Modified-Since would download them again for nothing.
        """
        with self._lock:
            seen = self._list_stamps.get(path)
            if seen is not None and seen[0] == page.etag:
                return replace(page, last_modified=seen[1])
            self._list_stamps[path] = (page.etag, page.last_modified)
        return page

    def _cached(self, key: tuple[object, ...], render: Callable[[], Page]) -> Page:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        page = render()
        with self._lock:
            self._cache[key] = page
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return page

    def epaper_href(self) -> str:
        r = self.replica
        day = r.issues[-1] if r.issues else r.start + timedelta(days=r.days - 1)
        return layout_path(day, 1)

    # -- site articles and lists ----------------------------------------------------------------

    def _site(self, path: str, m: re.Match[str]) -> Page:
        r = self.replica
        entry = r.site_by_id(int(m[3]))
        page_no = int(m[4] or 1)
        if entry is None or r.is_deleted(("site", entry.index)) or page_no > entry.pages:
            return NOT_FOUND
        canonical = entry.page_path(page_no)
        if path != canonical:
            return Page(301, b"", HTML, None, r.url(canonical))
        key = ("site", entry.index)
        return self._cached((path, r.version(key)), lambda: self._render_site(entry, page_no))

    def _render_site(self, entry: SiteEntry, page_no: int) -> Page:
        r = self.replica
        key = ("site", entry.index)
        story, href = r.current(key), self.epaper_href()
        related, hot = self._related(entry), self._hot(entry)
        if entry.template == "generic":
            html = pages.generic(entry, story, related=related, hot=hot, epaper_href=href)
        else:
            html = pages.cmstop(entry, story, page_no, related=related, hot=hot, epaper_href=href)
        return _page(html, r.changed_at(key))

    def _related(self, entry: SiteEntry) -> list[lists.Link]:
        """Up to 6 earlier articles of the same channel; some linked through their alias URLs.

        Fixed by the catalogue and the generated titles (not by what is live or edited), so an
        article page stays byte-identical while others change, as the CMS's static pages do.
        """
        r, out = self.replica, []
        for i in range(entry.index - 1, max(entry.index - 80, -1), -1):
            e = r.site_entry(i)
            if e.channel == entry.channel:
                href = e.alias_path if i % 5 == 2 else (f"{e.path}?from=app" if i % 5 == 4 else e.path)
                out.append(lists.entry_link(e, title_for(r.seed, i), href))
                if len(out) == 6:
                    break
        return out

    def _hot(self, entry: SiteEntry) -> list[lists.Link]:
        r = self.replica
        span = range(entry.index - 1, max(entry.index - 9, -1), -1)
        return [lists.entry_link(r.site_entry(i), title_for(r.seed, i)) for i in span]

    def _channel(self, path: str, m: re.Match[str]) -> Page:
        r = self.replica
        slugs = [c.slug for c in CHANNELS]
        if m[1] not in slugs:
            return NOT_FOUND
        channel, page_no = slugs.index(m[1]), int(m[2] or 1)
        pages_total = max(1, -(-r.live_count(channel) // lists.PER_PAGE))
        if page_no > pages_total or m[2] == "1":
            return NOT_FOUND

        def render() -> Page:
            entries = r.newest(lists.PER_PAGE, channel, (page_no - 1) * lists.PER_PAGE)
            links = [lists.entry_link(e, r.title(e.index)) for e in entries]
            html = lists.channel_page(channel, page_no, pages_total, links, self.epaper_href())
            return _page(html, r.lists_changed_at)

        return self._listed(path, self._cached((path, r.lists_version), render))

    def _home(self) -> Page:
        r = self.replica
        pinned = r.pinned_entry()
        newest = [lists.entry_link(e, r.title(e.index)) for e in ([pinned] if pinned else []) + r.newest(30)]
        aliased = [lists.entry_link(e, r.title(e.index), f"{e.path}?from=app") for e in r.newest(6)]
        specials = [(p, "聚焦镇江项目建设" if why == "list_page" else "镇江这十年", "") for p, why in r.special.items()]
        html = lists.home(
            newest=newest, aliased=aliased, specials=specials, epaper_href=self.epaper_href(), base_url=r.base_url
        )
        return _page(html, r.lists_changed_at)

    def _special(self, reason: str) -> Page:
        r = self.replica
        if reason == "not_found":
            return _page(lists.not_found_200(self.epaper_href()), STATIC_TIME)
        links = [lists.entry_link(e, r.title(e.index)) for e in r.newest(12, offset=r.live_count() // 2)]
        return _page(lists.topic_page(links, self.epaper_href()), STATIC_TIME)

    # -- Founder pages --------------------------------------------------------------------------

    def _old(self, path: str, m: re.Match[str]) -> Page:
        r = self.replica
        entry = r.old_by_n(int(m[4]))
        if entry is None or entry.path != path or r.is_deleted(("old", entry.n)):
            return NOT_FOUND
        key = ("old", entry.n)
        # the old server sent no charset at all, or the (wrong: the bytes are GBK) gb2312
        ctype = "text/html" if entry.index % 2 == 0 else "text/html; charset=gb2312"

        def render() -> Page:
            return _page(paper.old_article(entry, r.current(key)).encode("gbk"), r.changed_at(key), ctype)

        return self._cached((path, r.version(key)), render)

    def _archive(self) -> Page:
        r = self.replica
        entries = r.old_entries()
        titles = [r.current(("old", e.n)).title for e in entries]
        when = entries[-1].published if entries else STATIC_TIME
        return _page(paper.archive_list(entries, titles).encode("gbk"), when, "text/html")

    def _paper(self, path: str, m: re.Match[str]) -> Page:
        r = self.replica
        entry = r.paper_by_n(int(m[3]))
        if entry is None or entry.path != path or r.is_deleted(("paper", entry.n)):
            return NOT_FOUND
        key = ("paper", entry.n)

        def render() -> Page:
            siblings = r.paper_entries(entry.issue, entry.page)
            titles = [r.current(("paper", e.n)).title for e in siblings]
            html = paper.epaper_article(entry, r.current(key), r.epaper_pages, siblings, titles)
            return _page(html, r.changed_at(key))

        return self._cached((path, r.version(key)), render)

    def _layout(self, path: str, m: re.Match[str]) -> Page:
        r = self.replica
        day = next((d for d in r.issues if f"{d:%Y%m}" == m[1] and f"{d:%d}" == m[2]), None)
        page_no = int(m[3])
        if day is None or not 1 <= page_no <= r.epaper_pages or path != layout_path(day, page_no):
            return NOT_FOUND
        prev = r.issues[r.issues.index(day) - 1] if day != r.issues[0] else None

        def render() -> Page:
            entries = r.paper_entries(day, page_no)
            titles = [r.current(("paper", e.n)).title for e in entries]
            html = paper.layout(f"{day:%Y%m%d}", page_no, r.epaper_pages, entries, titles,
                                f"{prev:%Y%m%d}" if prev else None)
            return _page(html, datetime.combine(day, datetime.min.time(), SHANGHAI))

        return self._cached((path, r.lists_version), render)
