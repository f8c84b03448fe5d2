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
_CRUMB_ARROWS = re.compile(r">|»|›|→|＞|\s/\s")
_CRUMB_SEPARATORS = re.compile(r"\s*(?:>>|>|»|›|→|＞|/|\|)\s*")


def title_candidates(tree: LexborHTMLParser) -> list[str]:
    """``<h1>`` texts, then the ``<title>`` text, in that order, whitespace-cleaned."""
    out = [clean_spaces(n.text()) for n in tree.css("h1")]
    if (t := page_title(tree)) is not None:
        out.append(t)
    return [t for t in out if t]


def page_title(tree: LexborHTMLParser) -> str | None:
    node = tree.head.css_first("title") if tree.head is not None else tree.css_first("title")
    return clean_spaces(node.text()) if node is not None else None


#: separators between a headline and the site or section name in a <title>
_TITLE_SEPARATORS = re.compile(r"\s*(?:_|\||｜|—|–|\s-\s|-(?=[^-]{2,12}$))\s*")
#: elements that may hold the headline on a page without <h1>
HEADLINE_SELECTORS = "h2, h3, h4, [class*=title], [id*=title], [class*=tit], [class*=bt]"


def generic_titles(tree: LexborHTMLParser) -> list[str]:
    """Headline candidates of a page whose template we do not know, best first: each <h1>; a heading
    or title-like element whose text begins the <title>; the first part of the <title>."""
    out = [clean_spaces(n.text()) for n in tree.css("h1")]
    full = page_title(tree)
    if full:
        for node in tree.css(HEADLINE_SELECTORS):
            text = clean_spaces(node.text())
            if len(text) >= 4 and full.startswith(text):
                out.append(text)
                break
        out.append(_TITLE_SEPARATORS.split(full, maxsplit=1)[0])
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
    most non-link paragraph text) and the breadcrumb (one that starts with a label such as
    当前位置 wins over one that starts with 首页)."""
    scan = PageScan()
    root = tree.body
    if root is None:
        return scan
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    home_crumb: str | None = None
    for node in root.traverse(include_text=True):
        if node.tag != "-text":
            continue
        text = (node.text_content or "").strip()
        if scan.breadcrumb is None and text:
            if any(text.startswith(label) for label in crumb_labels):
                scan.breadcrumb = _crumb_text(node, crumb_labels, labelled=True)
            elif home_crumb is None and text.startswith("首页"):
                home_crumb = _crumb_text(node, crumb_labels, labelled=False)
        if len(text) < MIN_RUN_CHARS:
            continue
        target = _vote_target(node)
        if target is None or target.tag in ("script", "style", "a", "body", "html"):
            continue
        key = target.mem_id
        nodes[key] = target
        scores[key] = scores.get(key, 0.0) + len(text)
    scan.breadcrumb = scan.breadcrumb or home_crumb
    if scores:
        best = nodes[max(scores, key=lambda k: scores[k])]
        scan.body = _widen(best, scores, nodes)
    return scan


#: a container's parent is taken instead when the parent's text is this much larger: paragraphs that
#: each sit in their own <div> or <section> add up in the parent, not in any one child
WIDEN_RATIO = 1.4
MAX_WIDEN_STEPS = 4


def _widen(best: LexborNode, scores: dict[int, float], nodes: dict[int, LexborNode]) -> LexborNode:
    def under(ancestor: LexborNode) -> float:
        total = 0.0
        for key, node in nodes.items():
            current: LexborNode | None = node
            while current is not None:
                if current.mem_id == ancestor.mem_id:
                    total += scores[key]
                    break
                current = current.parent
        return total

    here = under(best)
    for _ in range(MAX_WIDEN_STEPS):
        parent = best.parent
        if parent is None or parent.tag in ("body", "html"):
            break
        wider = under(parent)
        if wider < WIDEN_RATIO * here:
            break
        best, here = parent, wider
    return best


def _crumb_text(node: LexborNode, labels: tuple[str, ...], *, labelled: bool) -> str | None:
    """The breadcrumb line around a text node that starts one: climb out of links and inline tags to
    the element holding the whole line; accept it when it is short and, unless it starts with a
    label, has arrow separators (a "首页 | 新闻中心" menu is not a breadcrumb)."""
    element = node.parent
    while element is not None and element.tag in INLINE_TAGS:
        element = element.parent
    if element is None:
        return None
    text = clean_spaces(element.text(deep=True))
    if len(text) > MAX_CRUMB_CHARS:
        return None
    if labelled or _CRUMB_ARROWS.search(text):
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


#: elements that may carry a second headline right before or after the <h1>
SUBTITLE_TAGS = frozenset({"h2", "h3", "h4", "p", "div"})
MIN_SUBTITLE_CHARS, MAX_SUBTITLE_CHARS = 4, 80
_NOT_SUBTITLE = re.compile(
    r"来源|來源|发布|發佈|發布|时间|時間|作者|编辑|記者|记者|责任|\d{4}\s*[-年/.]\s*\d{1,2}"
)


def subtitle_near_h1(tree: LexborHTMLParser) -> str | None:
    """A short headline element directly before or after the first <h1> (引题 or 副题), when it is
    not the date/source line. None when the page has no such sibling."""
    h1 = tree.css_first("h1")
    if h1 is None:
        return None
    for direction in ("next", "prev"):
        node = getattr(h1, direction)
        while (
            node is not None and node.tag in ("-text", "-comment") and not (node.text_content or "").strip()
        ):
            node = getattr(node, direction)
        if node is None or node.tag not in SUBTITLE_TAGS or node.css_first("a, img, p, div, ul, table"):
            continue
        text = clean_spaces(node.text(deep=True))
        if MIN_SUBTITLE_CHARS <= len(text) <= MAX_SUBTITLE_CHARS and not _NOT_SUBTITLE.search(text):
            return text
    return None
