"""The probe's pure parts: DOM signatures, selectors of the generic layer's elements, the report."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from service.extract.probe import (
    PageProbe,
    apply_proposal,
    build_report,
    dom_signature,
    node_selector,
    probe_page,
    url_pattern,
)
from service.settings import load_settings
from tests.support.corpus import by_name

PROFILE = load_settings(environ={}).profile


def test_selector_finds_the_element_first() -> None:
    tree = LexborHTMLParser(
        '<div class="side"><h1>栏目</h1></div><div class="main story"><h1>标题</h1>'
        '<div id="art_12345" class="txt"><p>正文</p></div><span class="time">2024-05-19</span></div>'
    )
    h1 = tree.css("h1")[1]
    assert node_selector(h1, tree) == "div.main.story h1"
    body = tree.css_first("#art_12345")
    assert node_selector(body, tree) == "div.txt"  # the id has digits: generated per page, never used
    assert tree.css_first(node_selector(tree.css_first("span"), tree) or "").text() == "2024-05-19"


def test_signature_is_the_template_not_the_story() -> None:
    def page(cls: str, title: str, text: str) -> LexborHTMLParser:
        return LexborHTMLParser(
            f'<div class="{cls}"><h1>{title}</h1><div class="c"><p>{text}</p></div></div>'
        )

    a, b, c = page("art", "一", "甲"), page("art", "二", "乙乙"), page("news", "一", "甲")
    sig = [dom_signature(t.css_first("h1"), t.css_first("div.c"), t) for t in (a, b, c)]
    assert sig[0] == sig[1] != sig[2] and len(sig[0]) == 10


def test_url_pattern_generalises_digits() -> None:
    urls = ["http://h/2024/0519/1801234.shtml", "http://h/2023/1102/1799001.shtml"]
    assert url_pattern(urls) == r"^/\d{4}/\d{4}/\d+\.shtml$"


def test_a_profile_page_fills_from_the_profile_and_agrees_with_the_generic_layer() -> None:
    fixture = by_name()["cm_grain_benbaoxun"]
    page = probe_page(fixture.raw, fixture.url, PROFILE, kind="article", content_type=fixture.content_type)
    assert page.template == "cmstop" and page.refused is None
    assert page.filled["title"] == "profile:cmstop" and page.filled["body_text"] == "profile:cmstop"
    assert page.disagreements == ()
    assert page.selectors["body_text"]  # where the generic layer found the body


def test_a_broken_template_is_reported_and_its_proposal_fills_the_fields() -> None:
    broken = PROFILE.model_copy(
        update={
            "templates": tuple(
                t.model_copy(update={"title": (".nope",), "body": ("#nope",), "date": (".nope",)})
                if t.name == "cmstop"
                else t
                for t in PROFILE.templates
            )
        }
    )
    fixtures = [f for f in by_name().values() if f.template == "cmstop" and "expected" in f.meta][:6]
    pages = [probe_page(f.raw, f.url, broken, kind="article", content_type=f.content_type) for f in fixtures]
    (report,) = [r for r in build_report(pages) if r.template == "cmstop"][:1]
    assert {"title", "body_text"} <= set(report.broken(broken)) and report.missing(broken) == []
    fixed = apply_proposal(broken, "cmstop", report.proposed())
    again = [probe_page(f.raw, f.url, fixed, kind="article", content_type=f.content_type) for f in fixtures]
    same = [p for p in again if p.signature == report.signature]
    assert same and all(p.filled["title"] == "profile:cmstop" for p in same)
    assert all(p.filled["body_text"] == "profile:cmstop" for p in same)


def test_refused_pages_are_counted_by_rule() -> None:
    pages = [
        PageProbe("http://h/a", "list", signature="s1", refused="list_page/link_blocks"),
        PageProbe("http://h/b", "list", signature="s1", refused="list_page/link_blocks"),
        PageProbe(
            "http://h/c",
            "article",
            signature="s1",
            template="cmstop",
            filled={"title": "generic"},
            selectors={"title": "h1"},
        ),
    ]
    (report,) = build_report(pages)
    assert report.refused == {"list_page/link_blocks": 2} and report.accepted == 1
    assert (
        report.fill_rate("title") == 1.0
        and report.broken(PROFILE) == ["title"]
        and report.gaps() == ["title"]
    )
