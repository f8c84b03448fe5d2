"""Layer 3: the generic extractor, for templates no profile knows.

Title from ``<h1>`` or ``<title>``; the date by pattern in the lines around the title; the body as
the element holding the most paragraph text that is not link text (the idea of GNE and readability,
reduced to what Chinese news pages need); the breadcrumb by its label or its ``>`` separators.
Only named thresholds below decide; nothing depends on a class name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from selectolax.lexbor import LexborHTMLParser, LexborNode

from service.text.dates import find_datetime
from service.text.normalize import clean_spaces

#: a text run shorter than this does not vote for its container (menus, labels, dates)
MIN_RUN_CHARS = 12
#: a paragraph element scores for its parent; text directly in a div/td scores for the div/td itself
PARAGRAPH_TAGS = frozenset({"p", "span", "font", "strong", "b", "em", "center"})
#: a container scores less the more of its text sits in links (related lists, navigation)
INLINE_TAGS = frozenset({"a", "span", "font", "strong", "b", "em", "i", "u", "small", "big", "sub", "sup"})
#: how far below the title the date line may sit, in characters of page text. Never above it: page
#: headers print today's date ("2024年03月28日 星期四"), which is not the publication date.
DATE_WINDOW_AFTER = 400
#: a breadcrumb longer than this is a menu, not a breadcrumb
MAX_CRUMB_CHARS = 120
_CRUMB_SEPARATORS = re.compile(r"\s*(?:>>|>|»|›|→|＞|/|\|)\s*")


def title_candidates(tree: LexborHTMLParser) -> list[str]:
    """``<h1>`` texts, then the ``<title>`` text, in that order, whitespace-cleaned."""
    out = [clean_spaces(n.text()) for n in tree.css("h1")]
    if tree.head is not None and (t := tree.head.css_first("title")) is not None:
        out.append(clean_spaces(t.text()))
    return [t for t in out if t]


def _vote_target(node: LexborNode) -> LexborNode | None:
    """The container a text node votes for, or None when the text sits inside a link."""
    parent = node.parent
    while parent is not None and parent.tag in INLINE_TAGS:
        if parent.tag == "a":
            return None
        parent = parent.parent
    if parent is not None and parent.tag == "p" and parent.parent is not None:
        return parent.parent
    return parent


@dataclass(slots=True)
class PageScan:
    """What one pass over the page's text nodes found: the body candidate and the breadcrumb."""

    body: LexborNode | None = None
    breadcrumb: str | None = None


def scan_page(tree: LexborHTMLParser, crumb_labels: tuple[str, ...] = ()) -> PageScan:
    """One traversal of the text nodes: votes for the body container (the element that holds the
    most non-link paragraph text) and the first breadcrumb-like line."""
    scan = PageScan()
    root = tree.body
    if root is None:
        return scan
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    for node in root.traverse(include_text=True):
        if node.tag != "-text":
            continue
        text = (node.text_content or "").strip()
        if scan.breadcrumb is None and text and _starts_crumb(text, crumb_labels):
            scan.breadcrumb = _crumb_text(node, crumb_labels)
        if len(text) < MIN_RUN_CHARS:
            continue
        target = _vote_target(node)
        if target is None or target.tag in ("script", "style", "a", "body", "html"):
            continue
        key = target.mem_id
        nodes[key] = target
        scores[key] = scores.get(key, 0.0) + len(text)
    if scores:
        scan.body = nodes[max(scores, key=lambda k: scores[k])]
    return scan


def _starts_crumb(text: str, labels: tuple[str, ...]) -> bool:
    return text.startswith("首页") or any(text.startswith(label) for label in labels)


def _crumb_text(node: LexborNode, labels: tuple[str, ...]) -> str | None:
    """The breadcrumb line around a text node that starts one: climb out of links and inline tags to
    the element holding the whole line; accept it when it is short and has separators or a label."""
    element = node.parent
    while element is not None and element.tag in INLINE_TAGS:
        element = element.parent
    if element is None:
        return None
    text = clean_spaces(element.text(deep=True))
    if len(text) > MAX_CRUMB_CHARS:
        return None
    if any(text.startswith(label) for label in labels) or _CRUMB_SEPARATORS.search(text):
        return text
    return None


def find_date(
    page_text: str, title: str | None, *, body_start: str = "", latest: date | None = None
) -> datetime | None:
    """The first date between the title and the start of the body (the info line);
    never from the body or what follows it (related lists carry other articles' dates)."""
    if title and (pos := page_text.find(title)) >= 0:
        end = pos + len(title) + DATE_WINDOW_AFTER
        if body_start and (body_pos := page_text.find(body_start, pos)) >= 0:
            end = min(end, body_pos)
        window = page_text[pos:end]
        if found := find_datetime(window, latest=latest):
            return found
    return None


def last_crumb(text: str, labels: tuple[str, ...] = ()) -> str | None:
    """The last item of a breadcrumb text: ``首页 > 镇江新闻 > 镇江新闻 - 社会`` → ``镇江新闻 - 社会``."""
    text = clean_spaces(text)
    for label in labels:
        if label in text:
            text = text.split(label, 1)[1].lstrip("：: ")
    parts = [p.strip() for p in _CRUMB_SEPARATORS.split(text) if p.strip()]
    parts = [p for p in parts if p not in ("正文", "首页", "内容", "正文内容")]
    return parts[-1] if parts else None
