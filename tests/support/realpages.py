"""The development set of real pages (``../shared/realpages``) and its scorer.

Real pages of other Chinese news sites with hand-made truth, written by nobody on this project: the
honest measure of the generic layer. The set lives beside the repository, not in it, so a user's
clone has none: ``available()`` says whether it is there, and callers skip with ``MISSING``.
Scoring is the set's own ``score.py`` (standard library), loaded from there, so the tests, the
benchmark and a person running ``score.py`` judge alike.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from types import ModuleType
from typing import Any

ROOT = Path(
    os.environ.get("JINSHAN_REALPAGES", Path(__file__).resolve().parents[2].parent / "shared" / "realpages")
)
MISSING = f"the real-page development set is not here ({ROOT}); it ships beside the repository in CI"


@dataclass(frozen=True)
class RealPage:
    name: str
    html: Path
    truth: dict[str, Any] = field(hash=False)

    @property
    def raw(self) -> bytes:
        return self.html.read_bytes()

    @property
    def url(self) -> str | None:
        return self.truth.get("original_url")

    @property
    def is_article(self) -> bool:
        return not self.truth.get("not_article")


def available() -> bool:
    return (ROOT / "score.py").is_file() and (ROOT / "pages").is_dir()


def load_pages() -> list[RealPage]:
    out = []
    for truth in sorted((ROOT / "pages").glob("*.json")):
        html = truth.with_suffix(".html")
        if html.exists():
            out.append(RealPage(truth.stem, html, json.loads(truth.read_text(encoding="utf-8"))))
    return out


def scorer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("realpages_score", ROOT / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Summary:
    """What score.py prints at its foot, as numbers."""

    articles: int
    title: int
    date: int
    credits: int
    roles: dict[str, int]
    body_f1: float
    refused_articles: int
    not_articles: int
    refused_not_articles: int


def summarise(pages: list[RealPage], outputs: list[dict[str, Any]]) -> Summary:
    """Score one extractor's outputs (the ``parse`` JSON, or ``{"not_article": …}``) against the truth."""
    score = scorer()
    rows = [score.score_page(o, p.truth) for p, o in zip(pages, outputs, strict=True)]
    arts = [r for r in rows if r["kind"] == "article"]
    nots = [r for r in rows if r["kind"] != "article"]
    return Summary(
        articles=len(arts),
        title=sum(r["title"] for r in arts),
        date=sum(r["date"] for r in arts),
        credits=sum(r["cred"] for r in arts),
        roles={role: sum(r["roles"][role] for r in arts) for role in score.ROLES},
        body_f1=mean(r["f1"] for r in arts) if arts else 0.0,
        refused_articles=sum(1 for r in arts if r.get("refused")),
        not_articles=len(nots),
        refused_not_articles=sum(1 for r in nots if r["ok"]),
    )


def run_all(pages: list[RealPage], extract: Callable[[RealPage], dict[str, Any]]) -> list[dict[str, Any]]:
    return [extract(p) for p in pages]
