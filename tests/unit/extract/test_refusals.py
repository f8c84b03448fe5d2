"""No refusal of an article with a headline and prose; every refusal names the rule that made it."""

from __future__ import annotations

import pytest

from service.errors import NOT_ARTICLE_REASONS, NOT_ARTICLE_RULES, NotAnArticle
from service.extract import extract_article
from service.settings import load_settings
from tests.support.corpus import load_corpus

PROFILE = load_settings(environ={}).profile
URL = "http://www.example-county.gov.cn/xwzx/2024/0519/a1024.html"
TITLE = "全市重点项目建设提速"
SENTENCES = [
    "今年以来，全市重点项目建设进展顺利。",
    "一批重大项目相继开工，为经济发展注入动能。",
    "下一步，将继续优化营商环境。",
]
RELATED = "".join(
    f'<li><a href="/xwzx/2024/05{i:02d}/a{i}.html">城市建设相关新闻第{i}条标题</a></li>' for i in range(1, 13)
)


def extract(html: str) -> str:
    article = extract_article(html.encode(), URL, profile=PROFILE, content_type="text/html; charset=utf-8")
    assert article.title == TITLE
    return article.body_text


def test_paragraphs_right_under_body_are_an_article() -> None:
    page = f"<html><head><title>{TITLE}</title></head><body><h1>{TITLE}</h1>{''.join(f'<p>{s}</p>' for s in SENTENCES)}"
    assert extract(page) == "\n".join(SENTENCES)


def test_text_under_body_split_by_br_is_an_article() -> None:
    page = f"<html><head><title>{TITLE}</title></head><body><h1>{TITLE}</h1>{'<br>'.join(SENTENCES)}</body></html>"
    assert extract(page) == "\n".join(SENTENCES)


def test_a_short_article_above_a_long_related_list_is_an_article() -> None:
    page = (
        f"<html><head><title>{TITLE}_某县政府网</title></head><body><div class='main'><h1>{TITLE}</h1>"
        f"<div class='c'>{''.join(f'<p>{s}</p>' for s in SENTENCES)}<ul>{RELATED}</ul></div></div></body></html>"
    )
    assert extract(page) == "\n".join(SENTENCES)


def test_a_list_of_headlines_is_still_refused_by_its_rule() -> None:
    page = f"<html><head><title>城市建设_某县政府网</title></head><body><h1>城市建设</h1><ul>{RELATED}{RELATED}</ul></body></html>"
    with pytest.raises(NotAnArticle) as info:
        extract_article(page.encode(), URL, profile=PROFILE, content_type="text/html; charset=utf-8")
    assert info.value.reason == "list_page" and info.value.rule in (
        "link_blocks",
        "item_list",
        "links_no_body",
    )
    assert f"rule {info.value.rule}" in str(info.value)


def test_the_rules_are_a_closed_list_of_known_reasons() -> None:
    assert set(NOT_ARTICLE_RULES.values()) <= set(NOT_ARTICLE_REASONS)
    assert set(NOT_ARTICLE_REASONS) <= set(NOT_ARTICLE_RULES.values())  # every reason has a rule


@pytest.mark.parametrize(
    "fixture", [f for f in load_corpus() if "not_article" in f.meta], ids=lambda f: f.name
)
def test_every_refusal_names_a_rule_of_its_reason(fixture) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotAnArticle) as info:
        extract_article(fixture.raw, fixture.url, profile=PROFILE, content_type=fixture.content_type)
    assert NOT_ARTICLE_RULES[info.value.rule] == info.value.reason == fixture.meta["not_article"]
