"""Every fixture page of tests/fixtures/pages against its expected JSON, field by field.

Also the quality floors (trafilatura's eval-gate idea): the generic layer alone, with every profile
switched off, must keep a body F1 floor on the site's templates, so a template change degrades
instead of emptying articles.
"""

from __future__ import annotations

from statistics import mean

import pytest

from service.errors import NotAnArticle
from service.extract import extract_article
from service.model import Article
from service.settings import SiteProfile, load_settings
from service.text.normalize import hash_text
from tests.support.corpus import Fixture, articles, bigram_f1, by_name, extract_joined, load_corpus

CORPUS = load_corpus()
PROFILE = load_settings(environ={}).profile  # the defaults, whatever JINSHAN_* the developer has set
COMPARED = (
    "url", "site_id", "title", "subtitle", "published_at", "channel", "source", "lead", "body_text",
    "images", "reporters", "correspondents", "interns", "photographers", "editors", "reviewers",
    "proofreaders",
)  # fmt: skip
#: body F1 floor of the generic layer alone over the site templates (the issue asks ≥ 0.90)
GENERIC_BODY_F1_FLOOR = 0.90


def extract(fixture: Fixture, profile: SiteProfile = PROFILE) -> Article:
    return extract_joined(fixture, profile)  # type: ignore[no-any-return]


def test_corpus_is_large_and_varied() -> None:
    templates = {f.template for f in CORPUS}
    assert len(CORPUS) >= 40
    assert {"cmstop", "founder_old", "epaper", "mirror", "generic", "not_article"} <= templates
    assert sum(f.template == "generic" for f in CORPUS) >= 8


@pytest.mark.parametrize("fixture", list(articles(CORPUS)), ids=lambda f: f.name)
def test_article_fields(fixture: Fixture) -> None:
    got = extract(fixture).to_json()
    expected = fixture.meta["expected"]
    wrong = {k: (expected.get(k), got.get(k)) for k in COMPARED if expected.get(k) != got.get(k)}
    assert not wrong, "\n".join(f"{k}:\n  expected {e!r}\n  got      {g!r}" for k, (e, g) in wrong.items())


@pytest.mark.parametrize("fixture", [f for f in CORPUS if "not_article" in f.meta], ids=lambda f: f.name)
def test_not_articles(fixture: Fixture) -> None:
    with pytest.raises(NotAnArticle) as info:
        extract_article(fixture.raw, fixture.url, profile=PROFILE, content_type=fixture.content_type)
    assert info.value.reason == fixture.meta["not_article"]


@pytest.mark.parametrize("fixture", [f for f in CORPUS if "next_pages" in f.meta], ids=lambda f: f.name)
def test_next_pages(fixture: Fixture) -> None:
    got = extract_article(fixture.raw, fixture.url, profile=PROFILE, content_type=fixture.content_type)
    assert list(got.next_pages) == fixture.meta["next_pages"]


@pytest.mark.parametrize("fixture", [f for f in CORPUS if f.meta.get("same_as")], ids=lambda f: f.name)
def test_mirror_matches_its_original(fixture: Fixture) -> None:
    mirror = extract(fixture)
    original = extract(by_name()[fixture.meta["same_as"]])
    assert mirror.normalized_text == original.normalized_text
    assert mirror.credits == original.credits
    assert hash_text(mirror.title) == hash_text(original.title)


def test_generic_layer_alone_keeps_the_body_floor() -> None:
    bare = SiteProfile(**{**PROFILE.model_dump(), "templates": ()})
    scores = []
    for fixture in articles(CORPUS):
        if fixture.template not in ("cmstop", "founder_old", "founder_jjwb", "epaper"):
            continue
        try:
            got = extract(fixture, bare).body_text
        except NotAnArticle:
            got = ""
        scores.append(bigram_f1(fixture.meta["expected"]["body_text"], got))
    assert scores and mean(scores) >= GENERIC_BODY_F1_FLOOR, f"generic body F1 {mean(scores):.3f}"


def test_fields_from_names_the_layer() -> None:
    for fixture in articles(CORPUS):
        got = extract(fixture)
        assert got.fields_from["title"] in ("structured", "generic") or got.fields_from["title"].startswith(
            "profile:"
        )
        if fixture.template == "generic":
            assert got.fields_from["body_text"] == "generic", fixture.name
