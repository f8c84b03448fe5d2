"""URL knowledge shared by every stage: canonical form, allowed hosts, dates and ids in paths.

Pure functions. ``canonical_url`` is the first rung of deduplication (ARCHITECTURE.md): the same
article reached by http or https, through a host alias, with tracking parameters, a fragment or as
page 2 of itself, has one canonical URL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import date
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

#: ``<id>_2.shtml`` → ``<id>.shtml``: the continuation pages of a CmsTop article
_PAGE_SUFFIX = re.compile(r"_(\d+)(\.s?html?)$")

_PATH_DATES = (
    re.compile(r"/(?P<y>\d{4})/(?P<m>\d{2})(?P<d>\d{2})/\d+(?:_\d+)?\.shtml$"),
    re.compile(r"/(?P<y>\d{4})-(?P<m>\d{2})/(?P<d>\d{2})/content_\d+\.html?$"),
    re.compile(r"/(?P<y>\d{4})(?P<m>\d{2})/(?P<d>\d{2})/(?:content|node)_\d+\.html?$"),
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
    strip_page: bool = True,
) -> str:
    """The one spelling of ``url`` under which an article is stored.

    The scheme is kept (some hosts may speak only http); compare URLs by ``url_key``, which ignores
    it. Host aliases resolved, default ports dropped, tracking parameters and the fragment dropped, remaining query
    parameters sorted, and (``strip_page``) ``<id>_N.shtml`` folded onto ``<id>.shtml``.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    host = (host_aliases or {}).get(host, host)
    port = parts.port
    scheme = parts.scheme.lower()
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    path = parts.path or "/"
    if strip_page:
        path = _PAGE_SUFFIX.sub(r"\2", path) if _is_article_page_path(path) else path
    drop = {p.lower() for p in drop_params}
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in drop)
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def url_key(canonical: str) -> str:
    """The identity of a canonical URL: without its scheme, so http and https are one page."""
    return canonical.split(":", 1)[1] if "://" in canonical else canonical


def _is_article_page_path(path: str) -> bool:
    return bool(re.search(r"/\d{4}/\d{4}/\d+_\d+\.shtml$", path))


def page_number(url: str) -> int:
    """1 for ``<id>.shtml``, N for ``<id>_N.shtml``."""
    m = re.search(r"/\d+_(\d+)\.shtml$", urlsplit(url).path)
    return int(m.group(1)) if m else 1


def date_from_path(url: str) -> date | None:
    """The publication date written in the URL path, if any (never derived from an id)."""
    path = urlsplit(url).path
    for pattern in _PATH_DATES:
        if m := pattern.search(path):
            try:
                return date(int(m["y"]), int(m["m"]), int(m["d"]))
            except ValueError:
                return None
    return None
