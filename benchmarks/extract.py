"""Extraction benchmark: our extractor, the generic layer alone, trafilatura and GNE, in one process,
first on the real pages of ``../shared/realpages`` (other sites' templates, truth typed by hand:
what the extractor does on a template it never saw), then on the fixture corpus. Prints pages per second, the speed ratio against trafilatura, and field
accuracy against the expected JSON (body by character-bigram F1; title, date and each credit role
exact; "site templates" = cmstop, founder_old, founder_jjwb, epaper).

    .venv/bin/python benchmarks/extract.py [--rounds N]

Speeds are pages per CPU-second of this process (``time.process_time``), for every contender alike:
on a shared machine wall time measures the neighbours as much as the extractor, CPU time does not.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from statistics import mean
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.errors import NotAnArticle
from service.extract.decode import decode_html
from service.settings import SiteProfile, load_settings
from tests.support import realpages
from tests.support.corpus import EXACT_FIELDS, Fixture, articles, by_name, extract_joined, load_corpus, score

SITE_TEMPLATES = ("cmstop", "founder_old", "founder_jjwb", "epaper")
Extractor = Callable[[Fixture], dict[str, Any] | None]


def ours(profile: SiteProfile) -> Extractor:
    fixtures = by_name()

    def run(f: Fixture) -> dict[str, Any] | None:
        try:
            return extract_joined(f, profile, fixtures).to_json()  # type: ignore[no-any-return]
        except NotAnArticle:
            return None

    return run


PeerOnHtml = Callable[[bytes, str | None, str], dict[str, Any] | None]


def on_fixtures(peer: PeerOnHtml | None) -> Extractor | None:
    return None if peer is None else (lambda f: peer(f.raw, f.content_type, f.url))


def trafilatura_extractor() -> PeerOnHtml | None:
    try:
        import trafilatura
    except ImportError:
        return None

    def run(raw: bytes, content_type: str | None, url: str) -> dict[str, Any] | None:
        html = decode_html(raw, content_type).text
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, favor_precision=True)
        if doc is None:
            return None
        data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
        return {
            "title": data.get("title"),
            "body_text": data.get("text") or "",
            "published_at": data.get("date"),
        }

    return run


def gne_extractor() -> PeerOnHtml | None:
    try:
        from gne import GeneralNewsExtractor
    except ImportError:
        return None
    extractor = GeneralNewsExtractor()

    def run(raw: bytes, content_type: str | None, url: str) -> dict[str, Any] | None:
        html = decode_html(raw, content_type).text
        try:
            data = extractor.extract(html, noise_node_list=['//div[@class="comment-list"]'])
        except Exception:
            return None
        return {
            "title": data.get("title"),
            "body_text": data.get("content") or "",
            "published_at": data.get("publish_time"),
        }

    return run


def timed(
    extractor: Extractor, pages: list[Fixture], rounds: int
) -> tuple[float, list[dict[str, Any] | None]]:
    results: list[dict[str, Any] | None] = []
    start = time.process_time()
    for _ in range(rounds):
        results = [extractor(f) for f in pages]
    elapsed = time.process_time() - start
    return rounds * len(pages) / elapsed, results


def accuracy(
    pages: list[Fixture], results: list[dict[str, Any] | None], templates: tuple[str, ...] | None
) -> dict[str, float]:
    rows = [
        score(f.meta["expected"], r)
        for f, r in zip(pages, results, strict=True)
        if "expected" in f.meta and (templates is None or f.template in templates)
    ]
    return {k: mean(r[k] for r in rows) for k in rows[0]} if rows else {}


RealExtractor = Callable[[bytes, str], dict[str, Any]]


def ours_real(profile: SiteProfile) -> RealExtractor:
    from service.extract import extract_article

    def run(raw: bytes, url: str) -> dict[str, Any]:
        try:
            return extract_article(raw, url, profile=profile).to_json()  # type: ignore[no-any-return]
        except NotAnArticle as exc:
            return {"not_article": exc.reason}

    return run


def peer_real(peer: PeerOnHtml | None) -> RealExtractor | None:
    """A peer's output on a real page; no body counts as refusing the page."""
    if peer is None:
        return None

    def run(raw: bytes, url: str) -> dict[str, Any]:
        data = peer(raw, None, url)
        if not data or not (data.get("body_text") or "").strip():
            return {"not_article": "no body"}
        return data

    return run


def real_pages_table(profile: SiteProfile, bare: SiteProfile, rounds: int) -> None:
    if not realpages.available():
        print(f"Real pages: skipped, {realpages.MISSING}\n")
        return
    pages = realpages.load_pages()
    inputs = [(p.raw, p.url or p.html.resolve().as_uri()) for p in pages]
    contenders: list[tuple[str, RealExtractor | None, int]] = [
        ("ours", ours_real(profile), rounds),
        ("ours, generic layer only (profiles off)", ours_real(bare), rounds),
        ("trafilatura", peer_real(trafilatura_extractor()), 1),
        ("GNE", peer_real(gne_extractor()), 1),
    ]
    rows = []
    for name, extract, n in contenders:
        if extract is None:
            print(f"{name}: not installed (pip install -e '.[bench]')", file=sys.stderr)
            continue
        extract(*inputs[0])
        start = time.process_time()
        for _ in range(n):
            outputs = [extract(raw, url) for raw, url in inputs]
        speed = n * len(inputs) / (time.process_time() - start)
        rows.append((name, speed, realpages.summarise(pages, outputs)))
    base = next((speed for name, speed, _ in rows if name == "trafilatura"), None)
    arts = rows[0][2].articles
    nots = rows[0][2].not_articles
    size = mean(len(raw) for raw, _ in inputs) / 1024
    print(
        f"Real pages (../shared/realpages): {arts} articles and {nots} pages that are not, mean {size:.0f} KB\n"
    )
    print("| extractor | pages per CPU-s | × trafilatura | title | date | reporters | editors | photographers | "
          "credits exact | body F1 | articles refused | not-articles refused |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, speed, sm in rows:
        ratio = f"{speed / base:.1f}×" if base else "n/a"
        peer = name in ("trafilatura", "GNE")
        credit = (lambda v: "–") if peer else (lambda v: f"{v}/{arts}")
        print(f"| {name} | {speed:,.1f} | {ratio} | {sm.title}/{arts} | {sm.date}/{arts} | "
              f"{credit(sm.roles['reporters'])} | {credit(sm.roles['editors'])} | {credit(sm.roles['photographers'])} | "
              f"{credit(sm.credits)} | {sm.body_f1:.3f} | {sm.refused_articles}/{arts} | {sm.refused_not_articles}/{nots} |")  # fmt: skip
    print("\nTitle exact, date to the day, each credit role an exact set of names (score.py); trafilatura and GNE "
          "extract no credits ('–'). A peer that returns no body refuses the page.\n")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--rounds", type=int, default=20, help="passes over the corpus for the timing of our extractor"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    profile = load_settings().profile
    bare = SiteProfile(**{**profile.model_dump(), "templates": ()})
    real_pages_table(profile, bare, max(1, args.rounds // 4))
    corpus = load_corpus()
    pages = [f for f in articles(corpus) if not f.meta.get("part_of")]
    contenders: list[tuple[str, Extractor | None, int]] = [
        ("ours", ours(profile), args.rounds),
        ("ours, generic layer only", ours(bare), args.rounds),
        ("trafilatura", on_fixtures(trafilatura_extractor()), max(1, args.rounds // 10)),
        ("GNE", on_fixtures(gne_extractor()), max(1, args.rounds // 10)),
    ]
    table = []
    for name, extractor, rounds in contenders:
        if extractor is None:
            print(f"{name}: not installed (pip install -e '.[bench]')", file=sys.stderr)
            continue
        extractor(pages[0])  # warm-up: imports, caches
        speed, results = timed(extractor, pages, rounds)
        table.append(
            (
                name,
                speed,
                accuracy(pages, results, SITE_TEMPLATES),
                accuracy(pages, results, ("generic", "mirror")),
            )
        )
    base = next((speed for name, speed, *_ in table if name == "trafilatura"), None)
    print(
        f"Extraction on the fixture corpus: {len(pages)} article pages (site templates: {', '.join(SITE_TEMPLATES)})\n"
    )
    header = (
        "| extractor | pages per CPU-s | × trafilatura | body F1 (site) | body F1 (generic+mirror) | title | date | day | "
        + " | ".join(EXACT_FIELDS[2:])
        + " |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, speed, site, other in table:
        ratio = f"{speed / base:.1f}×" if base else "n/a"
        roles = " | ".join(f"{site.get(role, 0):.2f}" for role in EXACT_FIELDS[2:])
        print(f"| {name} | {speed:,.0f} | {ratio} | {site.get('body', 0):.3f} | {other.get('body', 0):.3f} | "
              f"{site.get('title', 0):.2f} | {site.get('published_at', 0):.2f} | {site.get('day', 0):.2f} | {roles} |")  # fmt: skip
    print("\nCredit roles, title and date: share of site-template pages exactly right. trafilatura and GNE do "
          "not extract credits (0.00 there means not attempted); 'date' is the exact timestamp, 'day' the date alone.")  # fmt: skip


if __name__ == "__main__":
    main()
