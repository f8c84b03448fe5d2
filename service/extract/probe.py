"""What ``jinshan probe`` learns from one page, and the report over many: pure, no I/O.

For each page: the extraction as the crawl does it (profile first), the same page with the profile's
templates switched off (the generic layer alone), the page's DOM signature (the tag/class skeleton
around its title and body: pages of one template share it), the fields where the two disagree, and,
for each field the generic layer placed, a CSS selector of the element it chose — what the profile
would need to fill that field itself. The report groups pages by signature and proposes a
``[[templates]]`` section for ``config/sites/*.toml``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from service.errors import NotAnArticle
from service.extract import generic
from service.extract.article import extract_article
from service.extract.decode import decode_html
from service.model import Article
from service.settings import SiteProfile, TemplateProfile
from service.text.dates import find_datetime
from service.text.normalize import clean_spaces

#: the fields the report follows, in its order; the selector fields are those a template can fill
FIELDS = ("title", "subtitle", "published_at", "channel", "source", "body_text", "reporters", "editors")
SELECTOR_FIELDS = {"title": "title", "published_at": "date", "channel": "channel", "source": "source",
                   "body_text": "body"}  # fmt: skip
#: a body whose character-bigram similarity to the other layer's is below this disagrees with it
MIN_BODY_AGREEMENT = 0.9
#: how many ancestors a proposed selector may name
MAX_SELECTOR_DEPTH = 4
#: elements looked at for the date, source and breadcrumb lines (short texts only)
MAX_LINE_ELEMENTS = 3000
MAX_LINE_CHARS = 120
#: an id or class with a digit is generated per page (art_12345): never part of a selector
_UNSTABLE = re.compile(r"\d")
_CSS_NAME = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class PageProbe:
    """One probed page. ``filled`` maps each non-empty field to the layer that filled it."""

    url: str
    kind: str  # "list" | "article" | "epaper_page" | "epaper_article"
    found_on: str = ""
    signature: str = ""
    template: str = "generic"  # the profile template that matched, or "generic"
    filled: dict[str, str] = field(default_factory=dict)
    refused: str | None = None  # "reason/rule"
    disagreements: tuple[str, ...] = ()
    selectors: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def probe_page(
    raw: bytes,
    url: str,
    profile: SiteProfile,
    *,
    kind: str,
    found_on: str = "",
    content_type: str | None = None,
) -> PageProbe:
    """One page judged by both layers (see the module docstring). Never raises for a bad page."""
    base = PageProbe(url, kind, found_on)
    try:
        article: Article | None = extract_article(raw, url, profile=profile, content_type=content_type)
        refused = None
    except NotAnArticle as exc:
        article, refused = None, f"{exc.reason}/{exc.rule}"
    bare = replace_templates(profile, ())
    try:
        plain: Article | None = extract_article(raw, url, profile=bare, content_type=content_type)
    except NotAnArticle:
        plain = None
    tree = LexborHTMLParser(decode_html(raw, content_type).text)
    nodes = _generic_nodes(tree, plain, profile)
    signature = dom_signature(nodes.get("title"), nodes.get("body_text"), tree)
    if article is None:
        return replace(base, signature=signature, refused=refused)
    filled = {f: article.fields_from.get(f, "?") for f in FIELDS if _value(article, f)}
    selectors = {f: s for f, node in nodes.items() if (s := node_selector(node, tree))}
    return replace(
        base,
        signature=signature,
        template=article.template,
        filled=filled,
        disagreements=disagreements(article, plain) if plain is not None else (),
        selectors=selectors,
    )


def replace_templates(profile: SiteProfile, templates: tuple[TemplateProfile, ...]) -> SiteProfile:
    """``profile`` with other templates (none: the generic layer alone)."""
    return profile.model_copy(update={"templates": templates})


def _value(article: Article, name: str) -> Any:
    if name in ("reporters", "editors"):
        return getattr(article.credits, name)
    if name == "source":
        return article.credits.source
    return getattr(article, name)


def disagreements(article: Article, plain: Article) -> tuple[str, ...]:
    """The fields the profile filled with another value than the generic layer's."""
    out = []
    for name in ("title", "subtitle", "published_at", "channel", "source", "body_text"):
        if not article.fields_from.get(name, "").startswith("profile:"):
            continue
        mine, theirs = _value(article, name), _value(plain, name)
        if not mine or not theirs:
            continue
        if name == "body_text":
            if bigram_similarity(mine, theirs) < MIN_BODY_AGREEMENT:
                out.append(name)
        elif mine != theirs:
            out.append(name)
    return tuple(out)


def bigram_similarity(a: str, b: str) -> float:
    """Character-bigram F1 of two texts, whitespace ignored."""

    def grams(text: str) -> Counter[str]:
        text = re.sub(r"\s+", "", text)
        return Counter(text[i : i + 2] for i in range(len(text) - 1))

    x, y = grams(a), grams(b)
    if not x or not y:
        return 1.0 if x == y else 0.0
    common = sum((x & y).values())
    return 2 * common / (sum(x.values()) + sum(y.values()))


# --- the elements the generic layer chose ----------------------------------------------------------


def _generic_nodes(
    tree: LexborHTMLParser, plain: Article | None, profile: SiteProfile
) -> dict[str, LexborNode]:
    """field → the element that holds the generic layer's value of it."""
    out: dict[str, LexborNode] = {}
    if plain is not None and (node := _element_with_text(tree, plain.title)):
        out["title"] = node
    scan = generic.scan_page(tree, profile.breadcrumb_labels)
    if scan.body is not None:
        out["body_text"] = scan.body
    if plain is None:
        return out
    lines = _short_elements(tree)
    published, source, channel = plain.published_at, plain.credits.source, plain.channel
    wanted: list[tuple[str, Any, bool]] = [
        # the date line the generic layer read; the 来源 line; the breadcrumb that ends with the channel
        ("published_at", lambda t: _same_time(find_datetime(t), published), published is not None),
        ("source", lambda t: bool(source) and source in t and ("来源" in t or t == source), bool(source)),
        (
            "channel",
            lambda t: bool(channel) and t.rstrip(" >»›").endswith(channel) and t != channel,
            bool(channel),
        ),
    ]
    for name, test, present in wanted:
        if (
            present
            and plain.fields_from.get(name) in ("generic", "pattern")
            and (node := _smallest(lines, test))
        ):
            out[name] = node
    return out


def _same_time(found: datetime | None, wanted: datetime | None) -> bool:
    return (
        found is not None and wanted is not None and found.replace(tzinfo=None) == wanted.replace(tzinfo=None)
    )


def _element_with_text(tree: LexborHTMLParser, text: str) -> LexborNode | None:
    """The deepest element whose whole text is ``text`` (the headline as printed)."""
    if tree.body is None:
        return None
    candidates = tree.css("h1, h2, h3, " + generic.HEADLINE_SELECTORS)
    found = [n for n in candidates if clean_spaces(n.text(deep=True)) == text]
    return _deepest(found)


def _short_elements(tree: LexborHTMLParser) -> list[tuple[LexborNode, str]]:
    out: list[tuple[LexborNode, str]] = []
    if tree.body is None:
        return out
    for node in tree.body.traverse():
        if len(out) >= MAX_LINE_ELEMENTS:
            break
        tag = node.tag or "-"
        if tag in ("script", "style", "a", "body") or tag.startswith("-"):
            continue
        text = clean_spaces(node.text(deep=True))
        if text and len(text) <= MAX_LINE_CHARS:
            out.append((node, text))
    return out


def _smallest(lines: list[tuple[LexborNode, str]], wanted: Any) -> LexborNode | None:
    matches = [(len(text), i, node) for i, (node, text) in enumerate(lines) if wanted(text)]
    return min(matches, key=lambda m: (m[0], -m[1]))[2] if matches else None


def _deepest(nodes: list[LexborNode]) -> LexborNode | None:
    def depth(node: LexborNode) -> int:
        d, current = 0, node.parent
        while current is not None:
            d, current = d + 1, current.parent
        return d

    return max(nodes, key=depth) if nodes else None


# --- selectors and signatures ----------------------------------------------------------------------


def _piece(node: LexborNode, *, with_classes: bool = True) -> str:
    """``tag#id`` for a stable id, else ``tag.class…`` for its stable classes, else ``tag``."""
    attrs = node.attributes
    node_id = (attrs.get("id") or "").strip()
    if node_id and not _UNSTABLE.search(node_id) and _CSS_NAME.match(node_id):
        return f"{node.tag}#{node_id}"
    classes = [
        c for c in (attrs.get("class") or "").split() if not _UNSTABLE.search(c) and _CSS_NAME.match(c)
    ]
    return (node.tag or "") + "".join(f".{c}" for c in sorted(classes)[:2] if with_classes)


def node_selector(node: LexborNode, tree: LexborHTMLParser) -> str | None:
    """A CSS selector whose first match in ``tree`` is ``node``: its own tag, id or classes, with as
    few ancestors as make it so (at most MAX_SELECTOR_DEPTH); None when there is none."""
    parts: list[str] = []
    current: LexborNode | None = node
    for _ in range(MAX_SELECTOR_DEPTH):
        if current is None or current.tag in ("html", "body"):
            break
        parts.insert(0, _piece(current))
        selector = " ".join(parts)
        first = tree.css_first(selector)
        if first is not None and first.mem_id == node.mem_id:
            return selector
        if "#" in parts[0]:
            return None  # an id that is not unique: a longer path will not help
        current = current.parent
    return None


def _path(node: LexborNode | None) -> str:
    parts: list[str] = []
    while node is not None and (node.tag or "html") not in ("html", "-undef"):
        parts.insert(0, _piece(node))
        node = node.parent
    return ">".join(parts)


def dom_signature(title: LexborNode | None, body: LexborNode | None, tree: LexborHTMLParser) -> str:
    """Ten hex digits over the tag/id/class paths from the root to the title and body elements (the
    skeleton of the template, not of this story); the body's top-level skeleton when neither exists."""
    if title is None and body is None:
        root = tree.body
        skeleton = "|".join(_piece(child) for child in root.iter()) if root is not None else ""
    else:
        skeleton = f"{_path(title)}|{_path(body)}"
    return hashlib.sha1(skeleton.encode()).hexdigest()[:10]


# --- the report ------------------------------------------------------------------------------------


@dataclass
class TemplateReport:
    """The pages of one DOM signature, summed up."""

    signature: str
    pages: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    templates: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    accepted: int = 0
    fields: dict[str, Counter[str]] = field(default_factory=dict)  # field → layer → pages
    refused: Counter[str] = field(default_factory=Counter)
    disagreements: Counter[str] = field(default_factory=Counter)
    selectors: dict[str, Counter[str]] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)

    @property
    def template(self) -> str:
        return self.templates.most_common(1)[0][0] if self.templates else "generic"

    def fill_rate(self, name: str) -> float:
        return sum(self.fields.get(name, Counter()).values()) / self.accepted if self.accepted else 0.0

    def gaps(self) -> list[str]:
        """The fields another layer than the profile (or the page's structured data) filled on most
        pages, where the generic layer's element gives a selector."""
        out = []
        for name in SELECTOR_FIELDS:
            layers = self.fields.get(name, Counter())
            filled = sum(layers.values())
            by_profile = sum(n for layer, n in layers.items() if layer.startswith("profile:"))
            if filled and by_profile + layers.get("structured", 0) < filled / 2 and self.selectors.get(name):
                out.append(name)
        return out

    def broken(self, profile: SiteProfile) -> list[str]:
        """The gaps where the matched template has selectors: they are wrong (a changed template)."""
        template = _template(profile, self.template)
        return [n for n in self.gaps() if template is not None and getattr(template, SELECTOR_FIELDS[n])]

    def missing(self, profile: SiteProfile) -> list[str]:
        """The gaps where no template matched or it has no selectors for the field."""
        broken = self.broken(profile)
        return [n for n in self.gaps() if n not in broken]

    def proposed(self) -> dict[str, str]:
        """field → the selector most pages agree on, for every gap."""
        return {name: self.selectors[name].most_common(1)[0][0] for name in self.gaps()}

    def to_json(self, profile: SiteProfile) -> dict[str, Any]:
        return {
            "signature": self.signature,
            "pages": self.pages,
            "kinds": dict(self.kinds),
            "template": self.template,
            "examples": self.examples,
            "accepted": self.accepted,
            "fields": {
                name: {"fill_rate": round(self.fill_rate(name), 3), "layers": dict(self.fields.get(name, {}))}
                for name in FIELDS
            },
            "refused": dict(self.refused),
            "disagreements": dict(self.disagreements),
            "broken": self.broken(profile),
            "missing": self.missing(profile),
            "proposed_selectors": self.proposed(),
            "proposed_toml": proposed_toml(self, profile),
        }


def _template(profile: SiteProfile, name: str) -> TemplateProfile | None:
    return next((t for t in profile.templates if t.name == name), None)


def build_report(pages: list[PageProbe]) -> list[TemplateReport]:
    """One report per DOM signature, the most pages first."""
    reports: dict[str, TemplateReport] = {}
    for page in pages:
        if page.error is not None:
            continue
        report = reports.setdefault(page.signature, TemplateReport(page.signature))
        report.pages += 1
        report.kinds[page.kind] += 1
        report.urls.append(page.url)
        if len(report.examples) < 3:
            report.examples.append(page.url)
        if page.refused:
            report.refused[page.refused] += 1
            continue
        report.accepted += 1
        report.templates[page.template] += 1
        for name, layer in page.filled.items():
            report.fields.setdefault(name, Counter())[layer] += 1
        report.disagreements.update(page.disagreements)
        for name, selector in page.selectors.items():
            report.selectors.setdefault(name, Counter())[selector] += 1
    return sorted(reports.values(), key=lambda r: (-r.pages, r.signature))


def url_pattern(urls: list[str]) -> str:
    """A ``url_pattern`` for the paths of ``urls``: digit runs generalised, the rest literal; the
    most common one when they differ otherwise."""
    patterns = Counter(f"^{_generalise(urlsplit(u).path or '/')}$" for u in urls)
    return patterns.most_common(1)[0][0] if patterns else ""


def _generalise(path: str) -> str:
    out, last = [], 0
    for m in re.finditer(r"\d+", path):
        out.append(re.escape(path[last : m.start()]))
        run = len(m.group(0))
        out.append(rf"\d{{{run}}}" if run <= 4 else r"\d+")
        last = m.end()
    out.append(re.escape(path[last:]))
    return "".join(out)


def proposed_toml(report: TemplateReport, profile: SiteProfile) -> str:
    """A ``[[templates]]`` section that makes the profile fill what the generic layer found: the
    matched template with the proposed selectors put first, or a new template for these URLs."""
    proposal = report.proposed()
    if not proposal:
        return ""
    existing = _template(profile, report.template)
    lines = [f"# proposed by jinshan probe from {report.accepted} pages of DOM signature {report.signature}"]
    lines.append("[[templates]]")
    if existing is not None:
        lines.append(f"name = {json.dumps(existing.name)}")
        if existing.url_pattern:
            lines.append(f"url_pattern = '{existing.url_pattern}'")
    else:
        lines.append(f'name = "probe_{report.signature}"')
        lines.append(f"url_pattern = '{url_pattern(report.urls)}'")
    for name, key in SELECTOR_FIELDS.items():
        old = tuple(getattr(existing, key)) if existing is not None else ()
        new = (proposal[name], *[s for s in old if s != proposal[name]]) if name in proposal else old
        if new:
            lines.append(f"{key} = {json.dumps(list(new), ensure_ascii=False)}")
    lines.append("# …the template's other keys (site_id, markers, subtitle, remove) as they are")
    return "\n".join(lines)


def apply_proposal(profile: SiteProfile, template: str, proposal: dict[str, str]) -> SiteProfile:
    """``profile`` with ``proposal``'s selectors put first in ``template`` (for checking them)."""
    out = []
    for t in profile.templates:
        if t.name == template:
            update = {
                key: (proposal[name], *getattr(t, key))
                for name, key in SELECTOR_FIELDS.items()
                if name in proposal
            }
            t = t.model_copy(update=update)
        out.append(t)
    return replace_templates(profile, tuple(out))


def report_json(pages: list[PageProbe], failed: dict[str, str], profile: SiteProfile) -> dict[str, Any]:
    """The whole report as JSON (``jinshan probe --json``): per template, the refusals page by page,
    and the URLs that could not be fetched."""
    kinds = Counter(p.kind for p in pages)
    return {
        "pages": len(pages),
        "kinds": dict(kinds),
        "templates": [r.to_json(profile) for r in build_report(pages)],
        "refused": [
            {"url": p.url, "kind": p.kind, "refused": p.refused, "signature": p.signature}
            for p in pages
            if p.refused
        ],
        "failed": failed,
    }
