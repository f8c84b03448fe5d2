"""The links of a page (channel lists, the home page, e-paper issue pages), for discovery.

Pure: bytes in, ``Link`` values out. What a link *is* (article, list page, next page) is decided by
URL patterns from the configuration in ``crawl.discover``, and by link text for pagination
(``下一页``), never by class names.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

from service.extract.decode import decode_html
from service.model import Link
from service.site.urls import absolute
from service.text.normalize import clean_spaces

#: link texts that lead to the next page of a list or of an article
NEXT_PAGE_TEXTS = ("下一页", "下页", "后页", "next", "Next", "›", "»", ">")
_SKIP_SCHEMES = re.compile(r"^(?:javascript|mailto|tel|data):", re.IGNORECASE)


def page_links(
    raw: bytes, url: str, content_type: str | None = None, *, href_filter: re.Pattern[str] | None = None
) -> list[Link]:
    """Every ``<a href>`` of the page, absolute, fragment dropped, in page order, each URL once
    (its first text kept). Links whose text says "next page" have kind ``next_page``.
    ``href_filter``: only hrefs it matches (searched in the raw attribute) are kept, before any
    resolving: a cheap cut when the caller wants one kind of link only."""
    tree = LexborHTMLParser(decode_html(raw, content_type).text)
    base = url
    if (base_node := tree.css_first("base[href]")) is not None:
        base = absolute(url, base_node.attributes.get("href") or url)
    seen: dict[str, Link] = {}
    for node in tree.css("a[href]"):
        href = (node.attributes.get("href") or "").strip()
        if not href or href.startswith("#") or _SKIP_SCHEMES.match(href):
            continue
        if href_filter is not None and not href_filter.search(href):
            continue
        target = absolute(base, href)
        text = clean_spaces(node.text(deep=True))
        kind = "next_page" if text in NEXT_PAGE_TEXTS or text.startswith("下一页") else "article"
        if target not in seen or (kind == "next_page" and seen[target].kind != "next_page"):
            seen[target] = Link(target, text, kind)
    return list(seen.values())


_HREF = re.compile(rb"""<a\s[^>]*?href\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)


def page_hrefs(raw: bytes, url: str, *, href_filter: re.Pattern[bytes]) -> list[str]:
    """Absolute URLs of the ``<a href>`` values that ``href_filter`` matches, by a regular expression
    over the raw bytes: no parse, for callers that need URLs only (the harvest of related links).
    Hrefs are ASCII in practice; a ``<base href>`` is not honoured here."""
    out: dict[str, None] = {}
    for href in _HREF.findall(raw):
        if href_filter.search(href):
            out.setdefault(absolute(url, href.decode("ascii", "ignore")), None)
    return list(out)
