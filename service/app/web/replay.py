"""An archived page made safe to show: scripts out, every link into the archive, nothing live.

Pure functions over text (no I/O): ``rewrite`` takes the archived HTML and the page's URL and
returns HTML in which

- ``<script>``, ``<noscript>``, ``<base>``, ``<object>``, ``<embed>``, ``<applet>``, refresh and
  charset ``<meta>`` tags and every ``on*`` handler attribute are gone (the replay response's CSP
  forbids scripts as well: two locks);
- links (``a``/``area href``) point to ``nav(url)``: the archive's own page for that URL;
- resources (``src``, stylesheets, ``poster``, CSS ``url(…)``) point to ``resource(url)``: the
  archived copy of that URL, which answers 404 when it was never archived, so the live site is
  never asked; ``srcset`` candidates likewise; a lazily loaded image (``data-src``,
  ``data-original`` …) shows its real picture, as the page's script would have made it;
- forms lose their ``action``; non-HTTP schemes (``javascript:``, ``mailto:``) lose their link.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

#: the CSP of a replayed response: nothing but our own images and styles
REPLAY_CSP = "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"

_DROP_TAGS = "script, noscript, base, object, embed, applet, meta[http-equiv], template"
_RESOURCE_ATTRS = (
    ("img", "src"),
    ("input", "src"),
    ("source", "src"),
    ("video", "src"),
    ("video", "poster"),
    ("audio", "src"),
    ("track", "src"),
    ("iframe", "src"),
    ("frame", "src"),
    ("link", "href"),
)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])([^'"]+)\1""", re.IGNORECASE)

Rewriter = Callable[[str], str]


def _absolute(base: str, raw: str) -> str | None:
    """``raw`` resolved against ``base`` when it is an http(s) URL; None for other schemes."""
    raw = raw.strip()
    if not raw or raw.startswith("#"):
        return None
    url = urljoin(base, raw)
    return url if urlsplit(url).scheme in ("http", "https") else None


def rewrite_css(css: str, base: str, resource: Rewriter) -> str:
    """``url(…)`` and ``@import`` in CSS text pointed at ``resource``; data: URLs kept."""

    def one(m: re.Match[str]) -> str:
        target = m.group(2).strip()
        if target.lower().startswith("data:"):
            return m.group(0)
        url = _absolute(base, target)
        return f"url('{resource(url)}')" if url else "url('')"

    def imported(m: re.Match[str]) -> str:
        url = _absolute(base, m.group(2))
        return f"@import '{resource(url)}'" if url else ""

    return _CSS_IMPORT.sub(imported, _CSS_URL.sub(one, css))


def rewrite(html: str, page_url: str, *, nav: Rewriter, resource: Rewriter) -> str:
    """The archived ``html`` of ``page_url`` with scripts removed and every URL into the archive."""
    tree = LexborHTMLParser(html)
    base = page_url
    for node in tree.css("base[href]"):
        base = urljoin(page_url, node.attributes.get("href") or "")
        break
    for node in tree.css(_DROP_TAGS):
        node.decompose()
    for node in tree.css("meta[charset]"):
        node.attrs["charset"] = "utf-8"  # the replay is served as UTF-8 whatever the site declared
    for node in tree.css("img"):
        lazy = next(
            (node.attributes.get(a) for a in LAZY_ATTRS if (node.attributes.get(a) or "").strip()), None
        )
        if lazy:  # the replay runs no script: do what the lazy loader would have done
            node.attrs["src"] = lazy
    for node in tree.css("*"):
        for name in [n for n in node.attributes if n.lower().startswith("on")]:
            del node.attrs[name]
    for node in tree.css("[srcset], [data-srcset]"):
        for attr in ("srcset", "data-srcset"):
            if attr in node.attributes:
                node.attrs[attr] = _rewrite_srcset(node.attributes.get(attr) or "", base, resource)
    for node in tree.css("a[href], area[href]"):
        raw = node.attributes.get("href") or ""
        url = _absolute(base, raw)
        if url is not None:
            node.attrs["href"] = nav(url)
            node.attrs["target"] = "_top"
        elif not raw.strip().startswith("#"):
            del node.attrs["href"]
    for tag, attr in _RESOURCE_ATTRS:
        for node in tree.css(f"{tag}[{attr}]"):
            raw = node.attributes.get(attr) or ""
            if raw.strip().lower().startswith("data:") and tag == "img":
                continue
            url = _absolute(base, raw)
            if url is None:
                del node.attrs[attr]
            else:
                node.attrs[attr] = resource(url)
    for node in tree.css("form"):
        for attr in ("action", "formaction"):
            if attr in node.attributes:
                del node.attrs[attr]
    for node in tree.css("[style]"):
        node.attrs["style"] = rewrite_css(node.attributes.get("style") or "", base, resource)
    for node in tree.css("style"):
        css = node.text(deep=True)
        if "url(" in css.lower() or "@import" in css.lower():
            fresh = LexborHTMLParser(f"<style>{_escape_style(rewrite_css(css, base, resource))}</style>")
            replacement = fresh.css_first("style")
            if replacement is not None:
                node.replace_with(replacement)
    return tree.html or ""


#: attributes of lazily loaded images that hold the real picture (as ``extract.resources`` reads them)
LAZY_ATTRS = ("data-original", "data-src", "data-lazy-src", "data-echo")


def _rewrite_srcset(value: str, base: str, resource: Rewriter) -> str:
    out = []
    for candidate in re.split(r",\s+", value.strip()):
        parts = candidate.split()
        url = _absolute(base, parts[0]) if parts else None
        if url is not None:
            out.append(" ".join([resource(url), *parts[1:]]))
    return ", ".join(out)


def _escape_style(css: str) -> str:
    # a stylesheet cannot close its own element
    return css.replace("</", "<\\/")
