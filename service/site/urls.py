"""URL knowledge shared by every stage: canonical form, allowed hosts, dates and ids in paths.

Pure functions. ``canonical_url`` is the first rung of deduplication (docs/architecture.md): the same
article reached by http or https, through a host alias, with tracking parameters, a fragment or as
page 2 of itself, has one canonical URL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

if TYPE_CHECKING:
    from service.settings import SiteProfile, UrlPatterns


@dataclass(frozen=True, slots=True)
class UrlShapes:
    """The shapes of one site's URLs, compiled from its profile's ``[urls]`` table (``shapes_of``);
    ``None`` or empty: the site has no such URLs."""

    #: a page of a split article: groups ``id`` and ``page`` (absent on page 1)
    article_page: re.Pattern[str] | None = None
    #: dates in paths: groups ``y``, ``m``, ``d``
    dates: tuple[re.Pattern[str], ...] = ()
    #: a further page of a list: group ``page``
    list_page: re.Pattern[str] | None = None


#: no shape known: no page folded, no date read from a path
NO_SHAPES = UrlShapes()


def shapes_of(profile: SiteProfile) -> UrlShapes:
    """The compiled URL shapes of ``profile`` (compiled once per distinct ``[urls]`` table)."""
    return _compiled(profile.urls)


@functools.lru_cache(maxsize=16)
def _compiled(patterns: UrlPatterns) -> UrlShapes:
    def one(pattern: str) -> re.Pattern[str] | None:
        return re.compile(pattern) if pattern else None

    return UrlShapes(
        article_page=one(patterns.article_page_pattern),
        dates=tuple(re.compile(p) for p in patterns.date_path_patterns),
        list_page=one(patterns.list_page_pattern),
    )


def host_of(url: str) -> str:
    """Lower-case host name without port; '' when the URL has none."""
    return (urlsplit(url).hostname or "").lower()


def is_allowed(url: str, allowed_hosts: Iterable[str]) -> bool:
    """True for http(s) URLs on one of ``allowed_hosts`` (any port)."""
    parts = urlsplit(url)
    hosts = allowed_hosts if isinstance(allowed_hosts, frozenset | set) else set(allowed_hosts)
    return parts.scheme in ("http", "https") and (parts.hostname or "").lower() in hosts


def absolute(base: str, href: str) -> str:
    """``href`` resolved against ``base``, whitespace trimmed, fragment dropped.

    A path from the root (``/2026/0301/1.shtml``, most links of the site) is joined to the base's
    origin directly: the same result as ``urljoin``, which costs 10 µs a link and a page has dozens.
    """
    href = href.strip()
    bare = href.split("#", 1)[0]
    # urljoin's own rewrites stay with urljoin: dot segments, "//host", empty query or params ("/a?", "/a;")
    plain = not any(s in bare for s in ("/.", "\\", ";")) and bare[-1:] != "?"
    if bare[:1] == "/" and bare[1:2] != "/" and plain:
        origin = _origin(base)
        if origin:
            return origin + bare
    return urljoin(base, href).split("#", 1)[0]


@functools.lru_cache(maxsize=256)
def _origin(base: str) -> str:
    """``scheme://netloc`` of an http(s) base URL, or '' when the general rules must apply."""
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def canonical_url(
    url: str,
    *,
    host_aliases: Mapping[str, str] | None = None,
    drop_params: Iterable[str] = (),
    shapes: UrlShapes = NO_SHAPES,
) -> str:
    """The one spelling of ``url`` under which an article is stored.

    The scheme is kept (some hosts may speak only http); compare URLs by ``url_key``, which ignores
    it. Host aliases resolved, default ports dropped, tracking parameters and the fragment dropped, remaining query
    parameters sorted, and a further page of a split article (``shapes.article_page``) folded onto its
    first page.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    host = (host_aliases or {}).get(host, host)
    port = parts.port
    scheme = parts.scheme.lower()
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    path = first_page_path(parts.path or "/", shapes)
    drop = {p.lower() for p in drop_params}
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in drop)
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def url_key(canonical: str) -> str:
    """The identity of a canonical URL: without its scheme, so http and https are one page."""
    return canonical.split(":", 1)[1] if "://" in canonical else canonical


def article_page(url: str, shapes: UrlShapes) -> tuple[str, int] | None:
    """The article id and page number (1 for the first page) of a page of an article, or None when
    the URL has not the shape of one."""
    m = shapes.article_page.search(urlsplit(url).path) if shapes.article_page else None
    if m is None:
        return None
    return m["id"], int(m["page"]) if m["page"] else 1


def first_page_path(path: str, shapes: UrlShapes) -> str:
    """``path`` of a further page of a split article made the path of its first page (the text from
    the end of the id to the end of the page number dropped); any other path as it is."""
    m = shapes.article_page.search(path) if shapes.article_page else None
    return path[: m.end("id")] + path[m.end("page") :] if m and m["page"] else path


def page_number(url: str, shapes: UrlShapes) -> int:
    """N for the N-th page of a split article, 1 for its first page and any other URL."""
    found = article_page(url, shapes)
    return found[1] if found else 1


def list_page_number(url: str, shapes: UrlShapes) -> int | None:
    """N for the N-th page of a list (``shapes.list_page``), None for any other URL."""
    m = shapes.list_page.search(urlsplit(url).path) if shapes.list_page else None
    return int(m["page"]) if m else None


def date_from_path(url: str, shapes: UrlShapes) -> date | None:
    """The publication date written in the URL path, if any (never derived from an id)."""
    path = urlsplit(url).path
    for pattern in shapes.dates:
        if m := pattern.search(path):
            try:
                return date(int(m["y"]), int(m["m"]), int(m["d"]))
            except ValueError:
                return None
    return None
