"""The fixture corpus (tests/fixtures/pages) and how extraction is scored against it.

Shared by the corpus tests and ``benchmarks/extract.py`` so that both judge the same way: body by
character-bigram F1, title, date and every credit role by exact match.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
EXACT_FIELDS = (
    "title",
    "published_at",
    "reporters",
    "correspondents",
    "interns",
    "photographers",
    "editors",
    "reviewers",
    "proofreaders",
)


@dataclass(frozen=True)
class Fixture:
    name: str
    html: Path
    meta: dict[str, Any] = field(hash=False)

    @property
    def raw(self) -> bytes:
        return self.html.read_bytes()

    @property
    def url(self) -> str:
        return str(self.meta["url"])

    @property
    def content_type(self) -> str | None:
        return self.meta.get("content_type")

    @property
    def template(self) -> str:
        return str(self.meta.get("template", ""))


def load_corpus() -> list[Fixture]:
    out = []
    for meta_path in sorted(PAGES.glob("*.json")):
        html = meta_path.with_suffix(".html")
        if html.exists():
            out.append(Fixture(meta_path.stem, html, json.loads(meta_path.read_text(encoding="utf-8"))))
    return out


def by_name() -> dict[str, Fixture]:
    return {f.name: f for f in load_corpus()}


def articles(corpus: list[Fixture]) -> Iterator[Fixture]:
    """Fixtures with an expected article (multi-page parts are judged through their first page)."""
    return (f for f in corpus if "expected" in f.meta)


def extract_joined(fixture: Fixture, profile: Any, fixtures: dict[str, Fixture] | None = None) -> Any:
    """Our extractor on a fixture, its further parts (``parts``) extracted and joined as the crawl does."""
    from service.extract import extract_article, join_parts

    fixtures = fixtures if fixtures is not None else by_name()
    first = extract_article(fixture.raw, fixture.url, profile=profile, content_type=fixture.content_type)
    rest = [
        extract_article(
            fixtures[n].raw, fixtures[n].url, profile=profile, content_type=fixtures[n].content_type
        )
        for n in fixture.meta.get("parts") or []
    ]
    return join_parts(first, rest)


def bigrams(text: str) -> Counter[str]:
    text = "".join(text.split())
    return Counter(text[i : i + 2] for i in range(len(text) - 1))


def bigram_f1(expected: str, got: str) -> float:
    """Character-bigram F1 of two texts, whitespace ignored; 1.0 when both are empty."""
    a, b = bigrams(expected), bigrams(got)
    if not a and not b:
        return 1.0
    overlap = sum((a & b).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / sum(b.values()), overlap / sum(a.values())
    return 2 * precision * recall / (precision + recall)


def score(expected: dict[str, Any], got: dict[str, Any] | None) -> dict[str, float]:
    """Per-field scores of one extraction: ``body`` F1 and 1.0/0.0 for each exact field."""
    if got is None:
        return {"body": 0.0, "day": 0.0, **{f: 0.0 for f in EXACT_FIELDS}}
    out = {"body": bigram_f1(expected.get("body_text") or "", got.get("body_text") or "")}
    for name in EXACT_FIELDS:
        out[name] = 1.0 if expected.get(name) == got.get(name) else 0.0
    out["day"] = (
        1.0
        if str(expected.get("published_at") or "")[:10] == str(got.get("published_at") or "")[:10]
        else 0.0
    )
    return out
