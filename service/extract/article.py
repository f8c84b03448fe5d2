"""The extraction cascade: a page's bytes to an ``Article``, or ``NotAnArticle`` with a reason.

Each field is filled by the first layer that yields a plausible value, and ``fields_from`` records
which one (docs/architecture.md, "Extraction in layers"):

1. ``structured`` — the Founder enpproperty comment, JSON-LD, og:/article: meta (structured.py);
2. ``profile:<template>`` — the site profile's selectors (profile.py, config/sites/jsw.toml);
3. ``generic`` — h1/title, date near the title, densest text block, breadcrumb (generic.py);
4. ``pattern`` — text patterns on the body and the page: credits, source, lead (body.py);
and ``url`` for a date or id read from the URL path. Pure: bytes and strings in, dataclasses out.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

from selectolax.lexbor import LexborHTMLParser, LexborNode

from service.errors import NotAnArticle
from service.extract import generic
from service.extract.blocks import blocks_of
from service.extract.body import BodyParts, assemble, clean_source, source_in
from service.extract.decode import decode_html
from service.extract.profile import choose_template, default_source, first_text, site_id
from service.extract.structured import Structured, read_structured
from service.model import CREDIT_ROLES, Article, Credits
from service.settings import SiteProfile, TemplateProfile
from service.site.urls import UrlShapes, absolute, article_page, date_from_path, shapes_of
from service.text.credits import credit_lines, has_writer, merge_all, parse_credit_line, person_names
from service.text.dates import at_midnight, find_datetime
from service.text.normalize import clean_spaces, hash_text, is_traditional, plain_text, to_display

#: a body with fewer characters than this is no body
MIN_BODY_CHARS = 20
#: a profile body shorter than this is not trusted; the generic layer is asked instead
MIN_PROFILE_BODY_CHARS = 40
#: titles outside these lengths are not titles
MIN_TITLE_CHARS, MAX_TITLE_CHARS = 2, 120
#: a page whose text is shorter than this is judged by its markers alone (block and 404 pages)
SHORT_PAGE_CHARS = 800
#: this many link-dense blocks in the body, outnumbering its paragraphs, make a list page
LIST_MIN_LINK_BLOCKS = 8
#: a paragraph this long is running text: no list page has one among its link blocks
MIN_RUNNING_TEXT_CHARS = 80
#: a body of at least this many paragraphs, this share of them short items (at most MAX_ITEM_CHARS,
#: no sentence punctuation) and few sentences overall is a list (table of contents, ranking)
LIST_MIN_ITEMS = 8
LIST_MIN_ITEM_SHARE = 0.75
MAX_ITEM_CHARS = 40
MAX_SENTENCES_PER_ITEM = 0.25
_SENTENCE_END = re.compile(r"[。！？!?；]")
#: ...unless its sentences add up to this many characters: an article with a list in it (winners, a
#: schedule) is still an article
MIN_PROSE_CHARS = 100
#: the e-paper page label, e.g. "第01版:头版"
_PAGE_LABEL = re.compile(r"第\s*[0-9A-Z]{1,3}\s*版\s*[:：]\s*[^\s<>|]{1,12}")


@dataclass(frozen=True, slots=True)
class _Page:
    """Everything the layers share about one page."""

    url: str
    html: str
    tree: LexborHTMLParser
    profile: SiteProfile
    template: TemplateProfile | None
    groups: dict[str, str]
    layer: str  # "profile:<name>" or "generic"


def extract_article(
    raw: bytes,
    url: str,
    *,
    profile: SiteProfile,
    content_type: str | None = None,
    fetched_on: date | None = None,
) -> Article:
    """Extract the article of one page.

    Raises ``NotAnArticle`` (reason: empty, blocked, not_found, list_page, no_title, no_body).
    """
    if not raw.strip():
        raise NotAnArticle("empty", "no bytes", url=url, rule="no_bytes")
    decoded = decode_html(raw, content_type)
    tree = LexborHTMLParser(decoded.text)
    if tree.body is None or not (page_text := tree.body.text(separator="\n")).strip():
        raise NotAnArticle("empty", "no text", url=url, rule="no_text")
    template, groups = choose_template(url, decoded.text, profile)
    page = _Page(
        url,
        decoded.text,
        tree,
        profile,
        template,
        groups,
        f"profile:{template.name}" if template else "generic",
    )
    _refuse_markers(page, page_text)
    structured = read_structured(decoded.text, tree)  # before any node is removed
    bylines = generic.author_texts(tree)  # before the body's junk is removed from the tree
    scan = generic.scan_page(tree, profile.breadcrumb_labels)
    fields: dict[str, str] = {}
    body, body_layer = _body(page, scan.body)
    traditional = _is_traditional(tree, body)
    page_text = plain_text(page_text, traditional=traditional)  # patterns below read Simplified text
    body_start = next((b.text[:16] for b in body if b.text and b.link_ratio <= 0.5), "")
    try:
        title = _title(
            page, structured, fields, traditional, page_text, to_display(body_start, traditional=traditional)
        )
    except NotAnArticle:  # a page without a headline may be a list: say so when it is one
        _refuse_weak_body(page, assemble(body, skip_texts=set(), lead_tags=(), traditional=traditional))
        raise
    skip = {title} | ({s} if (s := _subtitle(page, structured, fields, traditional)) else set())
    parts = assemble(body, skip_texts=skip, lead_tags=profile.lead_tags, traditional=traditional)
    _refuse_weak_body(page, parts, headline=True)
    fields["body_text"] = body_layer
    named = _Bylines(
        tuple(to_display(t, traditional=traditional) for t in bylines),
        tuple(to_display(t, traditional=traditional) for t in structured.authors),
    )
    credits = _credits(page_text, parts, title, traditional, fields, named)
    article = Article(
        url=url,
        title=title,
        subtitle=s,
        body_text="\n".join(parts.paragraphs),
        site_id=site_id(template, groups),
        published_at=_published(page, structured, page_text, title, fields, fetched_on, _first_line(parts)),
        channel=_channel(page, structured, scan.breadcrumb, page_text, fields, traditional),
        lead=parts.lead,
        images=tuple(parts.images),
        credits=replace(credits, source=_source(page, structured, parts, page_text, fields, traditional)),
        normalized_text=hash_text("\n".join(parts.paragraphs)),
        encoding=f"{decoded.encoding} ({decoded.method})",
        template=template.name if template else "generic",
        next_pages=next_page_urls(decoded.text, url, shapes_of(profile)),
    )
    for name, value in (("lead", article.lead), ("images", article.images), ("site_id", article.site_id)):
        if value:
            fields.setdefault(
                name, "pattern" if name == "lead" else ("url" if name == "site_id" else body_layer)
            )
    if damage := decoded.damage():  # bytes replaced or recovered: the text is not all as sent
        fields["encoding"] = damage
    return replace(article, fields_from=fields)


def _first_line(parts: BodyParts) -> str:
    return parts.paragraphs[0][:20] if parts.paragraphs else ""


# --- refusals ------------------------------------------------------------------------------------


def _refuse_markers(page: _Page, page_text: str) -> None:
    """Block and "not found" pages, judged on the title and headline, or on a short page's text."""
    if found := _marker(page.tree, page_text, page.profile):
        reason, marker = found
        raise NotAnArticle(reason, marker, url=page.url, rule=f"{reason}_marker".replace("blocked", "block"))


def _marker(tree: LexborHTMLParser, page_text: str, profile: SiteProfile) -> tuple[str, str] | None:
    head = " ".join(generic.title_candidates(tree))
    short = len(page_text.strip()) < SHORT_PAGE_CHARS
    for reason, markers in (("blocked", profile.block_markers), ("not_found", profile.not_found_markers)):
        for marker in markers:
            if marker in head or (short and marker in page_text):
                return reason, marker
    return None


def _may_contain(raw: bytes, markers: tuple[str, ...]) -> bool:
    """A cheap byte search before any parsing: most pages carry none of the markers in any encoding."""
    return any(encoded in raw for encoded in _encoded(markers))


@functools.cache
def _encoded(markers: tuple[str, ...]) -> tuple[bytes, ...]:
    """``markers`` in every encoding a page of the site may use, once per profile."""
    out: dict[bytes, None] = {}
    for marker in markers:
        for encoding in ("utf-8", "gb18030"):
            with contextlib.suppress(UnicodeEncodeError):
                out.setdefault(marker.encode(encoding), None)
    return tuple(out)


def block_marker(raw: bytes, content_type: str | None, profile: SiteProfile) -> str | None:
    """The block/captcha marker a page carries, if it is a block page (for the fetcher's check)."""
    if not raw or raw.isspace() or not _may_contain(raw, profile.block_markers):
        return None
    tree = LexborHTMLParser(decode_html(raw, content_type).text)
    page_text = tree.body.text(separator="\n") if tree.body is not None else ""
    found = _marker(tree, page_text, profile)
    return found[1] if found and found[0] == "blocked" else None


def _refuse_weak_body(page: _Page, parts: BodyParts, *, headline: bool = False) -> None:
    """A list page is refused on its structure: many link blocks and no running text, or many short
    items without a sentence among them (a table of contents, a ranking). A one-paragraph flash item
    beside a large sidebar is running text, and passes; so do a few sentences under a headline
    (``headline``: the page has a title) above a long related list."""
    longest = max((len(p) for p in parts.paragraphs), default=0)
    if (
        parts.link_blocks >= LIST_MIN_LINK_BLOCKS
        and parts.link_blocks > len(parts.paragraphs)
        and longest < MIN_RUNNING_TEXT_CHARS
        and not (headline and _is_prose(parts.paragraphs))  # a short article above a related list
    ):
        raise NotAnArticle(
            "list_page",
            f"{parts.link_blocks} link blocks, {len(parts.paragraphs)} paragraphs",
            url=page.url,
            rule="link_blocks",
        )
    if _is_item_list(parts.paragraphs):
        raise NotAnArticle(
            "list_page",
            f"{len(parts.paragraphs)} short items, no running text",
            url=page.url,
            rule="item_list",
        )
    if parts.chars < MIN_BODY_CHARS:
        links = len(page.tree.css("a[href]"))
        # an empty body at an article URL is an article without text; elsewhere, with many links, a list
        listy = not page.groups and links >= 2 * LIST_MIN_LINK_BLOCKS and parts.chars == 0
        reason, rule = ("list_page", "links_no_body") if listy else ("no_body", "short_body")
        raise NotAnArticle(
            reason, f"{parts.chars} characters of body text, {links} links", url=page.url, rule=rule
        )


#: prose: at least this many sentences, of at least this many characters in all
MIN_PROSE_SENTENCES = 2
MIN_SHORT_PROSE_CHARS = 40


def _is_prose(paragraphs: list[str]) -> bool:
    """Sentences, not items: the paragraphs hold a few sentences of some length."""
    sentences = [p for p in paragraphs if _SENTENCE_END.search(p)]
    count = sum(len(_SENTENCE_END.findall(p)) for p in sentences)
    return count >= MIN_PROSE_SENTENCES and sum(len(p) for p in sentences) >= MIN_SHORT_PROSE_CHARS


def _is_item_list(paragraphs: list[str]) -> bool:
    """Many paragraphs, nearly all of them short and without sentence punctuation: items, not prose."""
    if len(paragraphs) < LIST_MIN_ITEMS:
        return False
    items = sum(1 for p in paragraphs if len(p) <= MAX_ITEM_CHARS and not _SENTENCE_END.search(p))
    sentences = sum(len(_SENTENCE_END.findall(p)) for p in paragraphs)
    prose = sum(len(p) for p in paragraphs if _SENTENCE_END.search(p))
    return (
        items >= LIST_MIN_ITEM_SHARE * len(paragraphs)
        and sentences <= len(paragraphs) * MAX_SENTENCES_PER_ITEM
        and prose < MIN_PROSE_CHARS
    )


# --- fields --------------------------------------------------------------------------------------


def _body(page: _Page, generic_node: LexborNode | None) -> tuple[list, str]:  # type: ignore[type-arg]
    """The body blocks from the profile's selectors when plausible, else from the generic layer."""
    remove = page.profile.boilerplate + (page.template.remove if page.template else ())
    if page.template is not None:
        for selector in page.template.body:
            for node in page.tree.css(selector):
                blocks = blocks_of(_cleaned(node, remove), page.url)
                if sum(len(b.text) for b in blocks if b.link_ratio <= 0.5) >= MIN_PROFILE_BODY_CHARS:
                    return blocks, page.layer
    if generic_node is None:
        return [], "generic"
    return blocks_of(_cleaned(generic_node, remove), page.url), "generic"


def _cleaned(node: LexborNode, selectors: tuple[str, ...]) -> LexborNode:
    if selectors:  # one query for all of them: each query is parsed anew, which costs more than the match
        # in reverse document order, so that a match inside another match goes before its container
        for junk in reversed(node.css(", ".join(selectors))):
            junk.decompose()
    return node


def _is_traditional(tree: LexborHTMLParser, blocks: list) -> bool:  # type: ignore[type-arg]
    sample = " ".join(generic.title_candidates(tree)) + "".join(b.text for b in blocks[:40])
    return is_traditional(sample[:3000])


def _plausible_title(profile: SiteProfile) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        return MIN_TITLE_CHARS <= len(text) <= MAX_TITLE_CHARS and text not in profile.title_suffixes

    return check


def _strip_suffix(text: str, profile: SiteProfile) -> str:
    for suffix in profile.title_suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)].rstrip(" -_|—")
    return text


def _title(
    page: _Page,
    structured: Structured,
    fields: dict[str, str],
    traditional: bool,
    page_text: str,
    body_start: str,
) -> str:
    ok = _plausible_title(page.profile)
    site_names = tuple(s.strip(" -_|—") for s in page.profile.title_suffixes)
    if structured.site_name:
        site_names += (structured.site_name,)
    hints = [structured.og_title or "", generic.page_title(page.tree) or ""]
    # best first, each asked only when the ones before it gave nothing plausible
    candidates: list[tuple[Callable[[], str | None], str]] = [(lambda: structured.title, "structured")]
    if page.template:
        template = page.template
        candidates.append((lambda: first_text(page.tree, template.title, ok), page.layer))
    candidates.append((lambda: generic.generic_title(page.tree, hints, site_names), "generic"))
    candidates.append((lambda: generic.title_above(page_text, body_start), "generic"))
    for find, layer in candidates:
        if (text := find()) and ok(
            title := _strip_suffix(to_display(text, traditional=traditional), page.profile)
        ):
            fields["title"] = layer
            return title
    raise NotAnArticle("no_title", url=page.url, rule="no_headline")


def _subtitle(page: _Page, structured: Structured, fields: dict[str, str], traditional: bool) -> str | None:
    text, layer = structured.subtitle, "structured"
    if not text and page.template:
        text, layer = (
            first_text(page.tree, page.template.subtitle, lambda t: len(t) <= MAX_TITLE_CHARS),
            page.layer,
        )
    if not text:
        text, layer = generic.subtitle_near_h1(page.tree), "generic"
    if not text:
        return None
    fields["subtitle"] = layer
    return to_display(text, traditional=traditional)


def _published(
    page: _Page,
    structured: Structured,
    page_text: str,
    title: str,
    fields: dict[str, str],
    fetched_on: date | None,
    body_start: str,
) -> datetime | None:
    template = page.template

    def from_template() -> datetime | None:
        if template is None or not template.date:
            return None
        text = first_text(page.tree, template.date, lambda t: find_datetime(t) is not None)
        return find_datetime(text) if text else None

    def from_url() -> datetime | None:
        path_day = date_from_path(page.url, shapes_of(page.profile))
        return at_midnight(path_day) if path_day else None

    # best first, each asked only when the ones before it found nothing
    found: list[tuple[Callable[[], datetime | None], str]] = [
        (lambda: structured.published_at, "structured"),
        (from_template, page.layer),
        (lambda: generic.find_date(page_text, title, body_start=body_start, latest=fetched_on), "generic"),
        (lambda: generic.labelled_date(page_text, latest=fetched_on), "generic"),
        (from_url, "url"),
    ]
    for find, layer in found:
        if (value := find()) is not None:
            fields["published_at"] = layer
            return value
    return None


def _channel(
    page: _Page,
    structured: Structured,
    crumb: str | None,
    page_text: str,
    fields: dict[str, str],
    traditional: bool,
) -> str | None:
    labels = page.profile.breadcrumb_labels
    candidates: list[tuple[str | None, str]] = [(structured.channel, "structured")]
    if page.template and page.template.channel:
        text = first_text(page.tree, page.template.channel)
        candidates.append((generic.last_crumb(text, labels) if text else None, page.layer))
    candidates.append((generic.last_crumb(crumb, labels) if crumb else None, "generic"))
    label = _PAGE_LABEL.search(page_text[:3000])
    candidates.append((clean_spaces(label.group(0)) if label else None, "pattern"))
    for value, layer in candidates:
        if value:
            fields["channel"] = layer
            return to_display(value, traditional=traditional)
    return None


def _source(
    page: _Page,
    structured: Structured,
    parts: BodyParts,
    page_text: str,
    fields: dict[str, str],
    traditional: bool,
) -> str | None:
    candidates: list[tuple[str | None, str]] = [(structured.source, "structured")]
    if page.template and page.template.source:
        text = first_text(page.tree, page.template.source)
        candidates.append((clean_source(text) if text else None, page.layer))
    candidates.append((parts.source or parts.credits.source, "pattern"))
    candidates.append((source_in(page_text[:4000]), "pattern"))
    candidates.append((default_source(page.template, page.groups, page.profile), page.layer))
    for value, layer in candidates:
        if value:
            fields["source"] = layer
            return to_display(value, traditional=traditional)
    return None


@dataclass(frozen=True, slots=True)
class _Bylines:
    """Byline fields outside the text: elements named for the author, and the structured data's."""

    elements: tuple[str, ...] = ()
    structured: tuple[str, ...] = ()


def _credits(
    page_text: str,
    parts: BodyParts,
    title: str,
    traditional: bool,
    fields: dict[str, str],
    bylines: _Bylines = _Bylines(),
) -> Credits:
    """Credits of the body, then credit lines elsewhere on the page: editors and reviewers anywhere
    ("责任编辑：X" below the body, in a side box), writers and photographers only between the title and
    the end of the body (a header byline, "作者：X" in the info line), never from related lists.
    When nobody is credited as a writer, the first of these names them: the body's bare names
    (a dateline's, a closing parenthesis's), a byline element in the article's header, the
    structured data; never a person the page credits as photographer or editor."""
    outside: list[Credits] = []
    lines = _JOINED_LABEL.sub(r"\1", _CLOSING_ALONE.sub("", page_text))
    start, end = _article_span(lines, parts, title)
    for offset, raw_line in credit_lines(lines):
        line = to_display(raw_line, traditional=traditional)
        if (credits := parse_credit_line(line)) is None:
            continue
        if not start - BYLINE_BEFORE_TITLE <= offset <= end:
            credits = Credits(
                editors=credits.editors, reviewers=credits.reviewers, proofreaders=credits.proofreaders
            )
        outside.append(credits)
    merged = merge_all([parts.credits, *outside])
    if has_writer(parts.credits):  # a CMS fills 作者 with the editor's name: the body's own writer wins
        editors = set(merged.editors)
        extra = {n for c in outside for n in c.reporters if n in editors and n not in parts.credits.reporters}
        merged = replace(merged, reporters=tuple(n for n in merged.reporters if n not in extra))
    for role in CREDIT_ROLES:
        if getattr(merged, role):
            fields[role] = "pattern"
    if not has_writer(merged):
        taken = set(merged.photographers) | set(merged.editors)
        for names, layer in (
            (parts.bare_writers, "pattern"),
            (_header_bylines(lines, bylines.elements, start, end), "generic"),
            (tuple(n for text in bylines.structured for n in person_names(text)), "structured"),
        ):
            if kept := tuple(n for n in names if n not in taken):
                fields["reporters"] = layer
                return replace(merged, reporters=kept)
    return merged


def _header_bylines(lines: str, texts: tuple[str, ...], start: int, end: int) -> tuple[str, ...]:
    """The writers named by byline elements that stand in the article (not in a comment box below it
    or a related list): the first element that names people."""
    for text in texts:
        names = person_names(text)
        where = lines.find(names[0], max(start - BYLINE_BEFORE_TITLE, 0)) if names else -1
        if names and 0 <= where <= end:
            return names
    return ()


#: a line that ends with a label's colon or an opening bracket continues on the next line
_JOINED_LABEL = re.compile(r"([:：（(【\[])[ \t\u3000]*+\n\s*+")
#: a closing bracket alone on its line belongs to the line before: "（责任编辑：\n黄帅\n）"
_CLOSING_ALONE = re.compile(r"\n\s*+(?=[）)】\]])")  # possessive: no backtracking over blank lines
#: how far below the body's last paragraph a byline may stand, in characters of page text
BYLINE_AFTER_BODY = 300
#: how far above the title's place a byline may stand (an info table or line above the headline)
BYLINE_BEFORE_TITLE = 80


def _article_span(lines: str, parts: BodyParts, title: str) -> tuple[int, int]:
    """Where the article stands in the page text: from its title to a little past its last paragraph."""
    start = max(lines.find(title[:20]), 0) if title else 0
    if not parts.paragraphs:
        return start, start
    last = parts.paragraphs[-1]
    end = lines.find(last[:16], start)
    if end < 0:
        return start, len(lines)
    return start, end + len(last) + BYLINE_AFTER_BODY


# --- articles over several pages -----------------------------------------------------------------


#: every link's target in an HTML text (the page's own links, read without parsing it again)
_HREF = re.compile(r"""href\s*=\s*["']?([^"'\s>]+)""")


def next_page_urls(html: str, url: str, shapes: UrlShapes) -> tuple[str, ...]:
    """Absolute URLs of the further pages of a split article (``shapes.article_page``), in page
    order, only those after this page."""
    here = article_page(url, shapes)
    if here is None:
        return ()
    article_id, number = here
    found: dict[int, str] = {}
    for href in _HREF.findall(html):
        if article_id not in href:
            continue  # most links: not a page of this article (a cheap test before resolving it)
        target = absolute(url, href)
        page = article_page(target, shapes)
        if page and page[0] == article_id and page[1] > number:
            found.setdefault(page[1], target)
    return tuple(found[n] for n in sorted(found))


def join_parts(first: Article, rest: list[Article]) -> Article:
    """One article from its pages, in order: paragraphs, images and credits of all parts."""
    if not rest:
        return first
    parts = [first, *rest]
    body = "\n".join(p.body_text for p in parts if p.body_text)
    credits = merge_all([p.credits for p in parts])
    return replace(
        first,
        body_text=body,
        images=tuple(i for p in parts for i in p.images),
        credits=replace(credits, source=first.credits.source or credits.source),
        normalized_text=hash_text(body),
        next_pages=(),
    )
