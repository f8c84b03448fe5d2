"""What a page needs to be shown as it looked: the images, stylesheets, fonts (and, when asked,
scripts) an HTML page or a stylesheet refers to.

Pure: bytes in, ``ResourceLink`` values out, in page order, each URL once. Between fetch and the
frontier (docs/captures.md): the crawl hands each archived page's bytes here and puts
what comes back in the frontier as resources, claimed after the pages. Lazy-loading attributes
(``data-src``, ``data-original``, ``data-srcset`` …), ``srcset`` candidates and ``<picture>``
sources count as images; ``url()`` and ``@import`` of ``<style>`` blocks, ``style`` attributes and
stylesheets are followed; old table layouts' ``background`` attributes too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from service.extract.decode import decode_html
from service.site.urls import absolute

#: the kinds of resource, in the order a page's need for them is judged
RESOURCE_KINDS = ("image", "stylesheet", "font", "script", "scan", "pdf")
#: how much of the page is archived beside its HTML (``archive.resources``)
SCOPES = ("off", "images", "page")

#: attributes that hold an image's address, lazy-loading ones first (they name the real picture
#: where ``src`` holds a placeholder)
IMAGE_ATTRS = ("data-original", "data-src", "data-lazy-src", "data-echo", "data-url", "src")
SRCSET_ATTRS = ("srcset", "data-srcset")
_FONT_EXT = re.compile(r"\.(?:woff2?|ttf|otf|eot)(?:[?#]|$)", re.IGNORECASE)
_CSS_EXT = re.compile(r"\.css(?:[?#]|$)", re.IGNORECASE)
_SCHEMES = re.compile(r"^(?:https?:)?//|^[^:]*$", re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?["']?([^"')\s;]+)["']?\s*\)?""", re.IGNORECASE)
_PRELOAD = {"font": "font", "style": "stylesheet", "image": "image"}
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+?)["']?\s*\)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ResourceLink:
    """One resource a page needs: absolute URL (fragment dropped) and its kind (``RESOURCE_KINDS``)."""

    url: str
    kind: str


def page_resources(
    raw: bytes,
    url: str,
    *,
    content_type: str | None = None,
    scope: str = "page",
    scripts: bool = False,
    photos: Iterable[str] = (),
) -> tuple[ResourceLink, ...]:
    """The resources of the HTML page ``raw`` fetched from ``url``.

    ``scope`` "images": the article's photos (``photos``, the URLs extraction found, and every
    ``srcset``/``<picture>`` variant of an ``<img>`` that shows one); "page": also every other
    image, stylesheet, icon and font the page refers to, and with ``scripts`` its scripts; "off":
    nothing. Raises ``ValueError`` for an unknown scope."""
    if scope not in SCOPES:
        raise ValueError(f"unknown resource scope {scope!r}; expected one of {SCOPES}")
    if scope == "off":
        return ()
    tree = LexborHTMLParser(decode_html(raw, content_type).text)
    base = url
    if (node := tree.css_first("base[href]")) is not None:
        base = absolute(url, node.attributes.get("href") or url)
    found = _Found(base)
    wanted = set(photos)
    for photo in wanted:
        found.add(photo, "image")
    for img in tree.css("img, picture source, input[type=image]"):
        addresses = _image_addresses(img, base)
        if scope == "page" or wanted.intersection(addresses) or _in_picture_of(img, wanted, base):
            for address in addresses:
                found.add(address, "image")
    if scope == "page":
        _page_parts(tree, found, scripts=scripts)
    return found.links()


def css_resources(css: bytes | str, url: str) -> tuple[ResourceLink, ...]:
    """The resources the stylesheet ``css`` (fetched from ``url``) refers to: ``@import`` ed
    stylesheets, fonts and images of ``url()``, in order, each once."""
    text = css.decode("utf-8", "replace") if isinstance(css, bytes) else css
    found = _Found(url)
    _css_into(_CSS_COMMENT.sub("", text), found)
    return found.links()


class _Found:
    """URLs collected in order, each once, resolved against ``base``; data: and script URLs left out."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.seen: dict[str, str] = {}

    def add(self, href: str, kind: str) -> None:
        href = href.strip()
        if not href or href.startswith("#") or not _SCHEMES.match(href):
            return  # data:, javascript:, about: … carry nothing to fetch
        target = absolute(self.base, href)
        if target.startswith(("http://", "https://")):
            self.seen.setdefault(target, kind)

    def links(self) -> tuple[ResourceLink, ...]:
        return tuple(ResourceLink(u, k) for u, k in self.seen.items())


def _image_addresses(node: LexborNode, base: str) -> list[str]:
    attrs = node.attributes
    out = [attrs.get(name) or "" for name in IMAGE_ATTRS if node.tag != "source"]
    for name in SRCSET_ATTRS:
        out += srcset_urls(attrs.get(name) or "")
    return [absolute(base, a) for a in out if a.strip() and _SCHEMES.match(a.strip())]


def _in_picture_of(node: LexborNode, wanted: set[str], base: str) -> bool:
    """A ``<source>`` of a ``<picture>`` whose ``<img>`` shows one of the article's photos."""
    parent = node.parent
    if node.tag != "source" or parent is None or parent.tag != "picture":
        return False
    img = parent.css_first("img")
    return img is not None and bool(wanted.intersection(_image_addresses(img, base)))


def srcset_urls(value: str) -> list[str]:
    """The URLs of a ``srcset`` value ("a.jpg 1x, b.jpg 2x", "a.jpg 480w,b.jpg 800w")."""
    out = []
    for candidate in re.split(r",\s+|,(?=\S+\s+\d)", value.strip()):
        parts = candidate.strip().split()
        if parts:
            out.append(parts[0].rstrip(","))
    return out


def _page_parts(tree: LexborHTMLParser, found: _Found, *, scripts: bool) -> None:
    for link in tree.css("link[href]"):
        rel = (link.attributes.get("rel") or "").lower().split()
        href = link.attributes.get("href") or ""
        if "stylesheet" in rel or (not rel and _CSS_EXT.search(href)):
            found.add(href, "stylesheet")
        elif "icon" in rel or "apple-touch-icon" in rel:
            found.add(href, "image")
        elif "preload" in rel and (kind := _PRELOAD.get(link.attributes.get("as") or "")):
            found.add(href, kind)
    for node in tree.css("[background]"):  # old table layouts: <td background="…">
        found.add(node.attributes.get("background") or "", "image")
    for node in tree.css("style"):
        _css_into(_CSS_COMMENT.sub("", node.text(deep=True)), found)
    for node in tree.css("[style]"):
        _css_into(node.attributes.get("style") or "", found)
    if scripts:
        for node in tree.css("script[src]"):
            found.add(node.attributes.get("src") or "", "script")


def _css_into(text: str, found: _Found) -> None:
    for href in _CSS_IMPORT.findall(text):
        found.add(href, "stylesheet")
    for href in _CSS_URL.findall(text):
        if _CSS_EXT.search(href):
            found.add(href, "stylesheet")
        else:
            found.add(href, "font" if _FONT_EXT.search(href) else "image")


def kind_of(content_type: str | None, url: str) -> str:
    """The kind of a fetched resource from its media type (its URL's extension when it has none)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    path = url.split("?", 1)[0].lower()
    if media == "text/css" or (not media and path.endswith(".css")):
        return "stylesheet"
    if media == "application/pdf" or (not media and path.endswith(".pdf")):
        return "pdf"
    if media.startswith("font/") or "font" in media or (not media and _FONT_EXT.search(path)):
        return "font"
    if "javascript" in media or (not media and path.endswith(".js")):
        return "script"
    return "image"


def epaper_scans(
    raw: bytes, url: str, *, content_type: str | None = None, pdfs: bool = False
) -> tuple[ResourceLink, ...]:
    """The scan of an e-paper page (the Founder page image, ``<img usemap>``: the page as printed,
    its articles mapped on it), and with ``pdfs`` the PDF of the page it links."""
    tree = LexborHTMLParser(decode_html(raw, content_type).text)
    found = _Found(url)
    for img in tree.css("img[usemap]"):
        found.add(img.attributes.get("src") or "", "scan")
    if pdfs:
        for a in tree.css("a[href]"):
            href = a.attributes.get("href") or ""
            if href.lower().split("?", 1)[0].endswith(".pdf"):
                found.add(href, "pdf")
    return found.links()
