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


#: elements named for the byline (``<span id="author_baidu">``, ``class="article-author"``,
#: ``itemprop="author"``): their text may be a bare name beside the source
AUTHOR_SELECTOR = "[id*=author], [class*=author], [itemprop=author], [id*=byline], [class*=byline]"
MAX_AUTHOR_NODES = 20
MAX_AUTHOR_CHARS = 40


def author_texts(tree: LexborHTMLParser) -> list[str]:
    """The short texts of the byline-named elements, in page order (whether they name people is for
    the credit rules to say; where they stand, for the caller)."""
    out: list[str] = []
    for node in tree.css(AUTHOR_SELECTOR)[:MAX_AUTHOR_NODES]:
        text = clean_spaces(node.text(deep=True, separator=" "))
        if text and len(text) <= MAX_AUTHOR_CHARS and text not in out:
            out.append(text)
    return out


def title_candidates(tree: LexborHTMLParser) -> list[str]:
    """``<h1>`` texts, then the ``<title>`` text, in that order, whitespace-cleaned."""
    out = [clean_spaces(n.text()) for n in tree.css("h1")]
    if (t := page_title(tree)) is not None:
        out.append(t)
    return [t for t in out if t]


def page_title(tree: LexborHTMLParser) -> str | None:
    node = tree.head.css_first("title") if tree.head is not None else tree.css_first("title")
    return clean_spaces(node.text()) if node is not None else None


#: separators between a headline and the site or channel names in a <title>
_TITLE_SPLIT = re.compile(r"(\s*(?:_|\||｜|»|--+|——|—|–|\s-\s|-(?=[^-]{2,24}$))\s*)")
#: a <title> segment that names a site or a channel, not the story ("财经网", "CAIJING.COM.CN")
_SITE_SEGMENT = re.compile(
    r"(?:网|網|频道|頻道|首页|首頁|新闻|新聞|资讯|政府|日报|晚报|时报|商报|早报|晨报|报|客户端|门户|在线|官网|"
    r"平台|中心|专题|站|[A-Za-z0-9-]+\.(?:com|cn|net|org|gov)(?:\.cn)?|COM|CN|NET)\s*$",
    re.IGNORECASE,
)
#: a segment this short after "_" or "|" is a channel or an account name (经济, 苏银), not the story
MAX_CHANNEL_SEGMENT = 6
MAX_SITE_SEGMENT = 24
#: elements that may hold the headline, after the <h1>s
HEADLINE_SELECTORS = (
    "h2, h3, [class*=title], [id*=title], [class*=Title], [class*=tit], [class*=bt], "
    "[class*=head], [class*=Head], [class*=subject]"
)
MAX_HEADLINE_NODES = 60
#: a headline element whose text covers at least this share of the <title>'s story is the headline
MIN_HEADLINE_SHARE = 0.5


def title_core(full: str, site_names: tuple[str, ...] = ()) -> str:
    """The story part of a ``<title>`` or ``og:title``: site and channel names cut off at either end
    (``5月LPR按兵不动…_经济_宏观频道首页_财经网 - CAIJING.COM.CN`` → ``5月LPR按兵不动…``); separators
    inside the story are kept (``…力量——热烈祝贺…``, ``书记市长这一周 | 奋马扬鞭…``)."""
    parts = _TITLE_SPLIT.split(clean_spaces(full))
    texts, seps = parts[0::2], parts[1::2]
    cut = False
    while len(texts) > 1 and _is_site_segment(texts[-1], seps[-1], site_names, after_site=cut):
        texts, seps, cut = texts[:-1], seps[:-1], True
    while len(texts) > 1 and _is_site_segment(texts[0], seps[0], site_names, leading=True):
        texts, seps = texts[1:], seps[1:]
    out = texts[0] + "".join(sep + text for sep, text in zip(seps, texts[1:], strict=True))
    for name in site_names:  # "土豆不“土” 土豆无“土” 松花江网": a site name after a plain space
        if out.endswith(name) and len(out) > len(name) + 3:
            out = out[: -len(name)].rstrip(" -_|—")
    return out.strip()


def _is_site_segment(
    text: str, sep: str, site_names: tuple[str, ...], *, leading: bool = False, after_site: bool = False
) -> bool:
    """A site name; or, at the end, a short channel name after "_" or "|", or after any separator
    once a site name was cut behind it ("… - 要闻云南 - 云南日报网")."""
    text = text.strip()
    if not text:
        return True
    if text in site_names or (len(text) <= MAX_SITE_SEGMENT and _SITE_SEGMENT.search(text)):
        return True
    short = len(text) <= MAX_CHANNEL_SEGMENT
    return not leading and short and (after_site or sep.strip() in ("_", "|", "｜"))


def generic_title(tree: LexborHTMLParser, hints: list[str], site_names: tuple[str, ...] = ()) -> str | None:
    """The headline of a page whose template we do not know, best first:
    1. an <h1> whose text is the story of the <title>/og:title (or its first line is: a title and
       its subtitle in one <h1>);
    2. a heading or title-like element that is (most of) that story (``<h2 id="cont_title">``);
    3. the story of the <title>/og:title itself;
    4. without any <title>: the first <h1>, else the first title-like element of headline length.
    """
    cores = [c for h in hints if h and (c := title_core(h, site_names))]
    h1s = _headline_texts(tree.css("h1"))
    others = _headline_texts(tree.css(HEADLINE_SELECTORS)[:MAX_HEADLINE_NODES])
    if cores:
        for texts in (h1s, others):
            if found := _matching_headline(texts, cores):
                return found
        return cores[0]
    for text in (*h1s, *others):
        if 4 <= len(text) <= 80 and not _SITE_SEGMENT.search(text):
            return text
    return None


#: how many lines above the body a headline may stand
TITLE_ABOVE_LINES = 12
_NOT_HEADLINE = re.compile(r"(?:19|20)\d{2}\s*[-年/.]|来源|來源|作者|编辑|记者|首页|位置|>|»")


def title_above(page_text: str, body_start: str) -> str | None:
    """The last line of headline length above the body that is no date, source, credit or
    breadcrumb line: the headline of a page that has neither a <title> nor an <h1>."""
    pos = page_text.find(body_start) if body_start else -1
    if pos <= 0:
        return None
    lines = [x for raw in page_text[:pos].rsplit("\n", 4 * TITLE_ABOVE_LINES) if (x := clean_spaces(raw))]
    for line in reversed(lines[-TITLE_ABOVE_LINES:]):
        if 6 <= len(line) <= 80 and not _NOT_HEADLINE.search(line) and line[-1] not in "。，；：:":
            return line
    return None


#: an element with more text than this is a container (a header, a whole column), not a headline
MAX_HEADLINE_ELEMENT_CHARS = 300


def _headline_texts(nodes: list[LexborNode]) -> list[str]:
    return [clean_spaces(t) for n in nodes if len(t := n.text()) <= MAX_HEADLINE_ELEMENT_CHARS]


def _matching_headline(texts: list[str], cores: list[str]) -> str | None:
    best: tuple[float, str] | None = None
    for text in texts:
        for core in cores:
            if not text:
                continue
            if text == core:
                return text
            if len(text) > len(core) and text.startswith(core):
                return core  # the headline and its subtitle in one element
            if len(text) >= 4 and core.startswith(text) and len(text) >= MIN_HEADLINE_SHARE * len(core):
                share = len(text) / len(core)
                if best is None or share > best[0]:
                    best = (share, text)
    return best[1] if best else None


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


#: site footer text (copyright, reporting hotlines, licences): it never votes for the body, so a
#: one-paragraph article is not outvoted by the footer below it
_FOOTER_TEXT = re.compile(
    r"版权所有|即为侵权|请勿转载|未经[^，。]{0,12}授权|举报电话|举报邮箱|违法和不良信息|ICP[备证]|备案号|"
    r"许可证[号:：]|联系我们|Copyright|©|All Rights Reserved",
    re.IGNORECASE,
)


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
            if text.startswith(crumb_labels):
                scan.breadcrumb = _crumb_text(node, crumb_labels, labelled=True)
            elif home_crumb is None and text.startswith("首页"):
                home_crumb = _crumb_text(node, crumb_labels, labelled=False)
        if len(text) < MIN_RUN_CHARS or _FOOTER_TEXT.search(text):
            continue
        target = _vote_target(node)
        # text right under <body> votes for it: a bare page with no container is an article too
        if target is None or target.tag in ("script", "style", "a", "html"):
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


#: a date after a label anywhere on the page: "发布日期：2019-03-06", "本文来源于 国家统计局 2024-05-11 09:36"
_LABELLED_DATE = re.compile(
    r"(?:发布日期|发布时间|發佈時間|發布時間|发表时间|发表日期|更新时间|出版日期|时间|時間|日期|来源|來源)"
    r"[^。]{0,40}?(?=(?:19|20)\d{2}\s*[-年/.]\s*\d{1,2}\s*[-月/.]\s*\d{1,2})"
)


def labelled_date(page_text: str, *, latest: date | None = None) -> datetime | None:
    """The first date printed after a date or source label anywhere on the page (an info line far
    from the title, a source line below the body, a footer)."""
    for m in _LABELLED_DATE.finditer(page_text):
        if found := find_datetime(page_text[m.end() : m.end() + 40], latest=latest):
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
