"""Store benchmark: articles stored per second, and near-duplicate lookup time as the index grows.

1. ``store_article`` for N articles (default 20,000: 85 % new, 10 % exact copies of an earlier one
   under another URL, 5 % near copies with one character changed), on SQLite (a file, WAL) and on
   PostgreSQL (a throwaway local server started like the test fixture: fsync off, so this measures
   the store's work, not the disk). Texts are 800 random CJK characters, three credited people and
   an image per article, like a typical 金山网 article.
2. The crawl's path: per article, ``claim_due`` (batches of 8, as the backfill's worker claims) and
   ``store_fetched`` (the fetch, the article, the URL's new state and, for one article in eight, a
   few links of the page with their site ids) on a frontier of N article URLs: CPU milliseconds of
   this process per article (``time.process_time``: the database's work on SQLite, only the
   client's on PostgreSQL), and statements and commits per article (over the last tenth).
3. Near-duplicate lookups (``dedup.nearest``: 10 key probes + Hamming) against 10k, 100k and 1M
   fingerprints bulk-inserted into ``simhash_index``; half the queries have a fingerprint exactly
   ``INDEX_DISTANCE`` (3) bits from one in the index. Mean time per lookup over Q queries, and the
   candidate rows a lookup reads. The peer, measured in the same run on the same table: the index
   of migration 0002 (four 16-bit bands), which the store used before 0005.

    .venv/bin/python benchmarks/store.py [--articles 20000] [--sizes 10000,100000,1000000]
                                         [--queries 2000] [--crawl 4000] [--no-postgres]
                                         [--no-sqlite] [--no-lookups]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, event, text

from service.model import Article, Credits, Image
from service.settings import DatabaseSettings, DedupSettings
from service.store import db, dedup
from service.store.repo import Store
from service.store.types import Discoveries, NewUrl
from service.text.simhash import INDEX_DISTANCE, hamming, index_keys, to_signed
from tests.support.postgres import PostgresServer, create_database, find_bindir

CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3500)]  # roughly the common-character range
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def workload(n: int, seed: int = 7) -> list[tuple[str, Article]]:
    """(kind, article) pairs: kind is "new", "exact" or "near"; copies follow their original."""
    rnd = random.Random(seed)
    kinds = ["exact"] * (n // 10) + ["near"] * (n // 20)
    kinds += ["new"] * (n - len(kinds))
    rnd.shuffle(kinds)
    originals: list[Article] = []
    out: list[tuple[str, Article]] = []
    for i, kind in enumerate(kinds):
        url = f"https://www.jsw.com.cn/2026/0301/{2_000_000 + i}.shtml"
        if kind == "new" or not originals:
            body = "".join(rnd.choices(CJK, k=800))
            a = _article(url, body, rnd)
            originals.append(a)
            out.append(("new", a))
            continue
        src = rnd.choice(originals)
        body = src.normalized_text
        if kind == "near":
            p = rnd.randrange(len(body))
            body = body[:p] + ("的" if body[p] != "的" else "了") + body[p + 1 :]
        out.append((kind, _article(url, body, rnd, title=src.title)))
    return out


def _article(url: str, body: str, rnd: random.Random, title: str | None = None) -> Article:
    names = [f"记者{rnd.randrange(300)}" for _ in range(3)]
    return Article(
        url=url,
        title=title or "".join(rnd.choices(CJK, k=14)),
        body_text="\n".join(body[i : i + 200] for i in range(0, len(body), 200)),
        normalized_text=body,
        published_at=T0,
        credits=Credits(reporters=tuple(names[:2]), editors=(names[2],)),
        images=(Image(url.replace(".shtml", ".jpg"), "图"),),
    )


def bench_upserts(engine: Engine, items: list[tuple[str, Article]]) -> dict[str, Any]:
    store = Store(engine, DedupSettings())
    outcomes: Counter[str] = Counter()
    near_found = 0
    start = time.perf_counter()
    for i, (kind, article) in enumerate(items):
        out = store.store_article(article, url_id=None, fetch_id=None, seen_at=T0 + timedelta(seconds=i))
        outcomes[out.kind] += 1
        near_found += kind == "near" and out.kind == "duplicate"
    elapsed = time.perf_counter() - start
    return {
        "rate": len(items) / elapsed,
        "elapsed": elapsed,
        "outcomes": dict(outcomes),
        "near_found": near_found,
    }


#: URLs a worker claims at once (``service.crawl.drain.CLAIM_BATCH``)
CLAIM_BATCH = 8


def bench_crawl_path(engine: Engine, n: int) -> dict[str, float]:
    """CPU ms per article of the crawl's store calls: ``claim_due`` in batches, then ``store_fetched``
    per URL; then statements and commits per article over the last tenth of them (SQLAlchemy's
    events, as ``instrument.py``: listeners cost CPU of their own, so the timed part runs without)."""
    items = [a for kind, a in workload(n, seed=11) if kind == "new"]
    store = Store(engine, DedupSettings())
    store.add_urls(NewUrl(a.url, "article", None, T0) for a in items)
    by_url = {a.url: a for a in items}
    timed = len(items) - len(items) // 10
    counts = {"statements": 0, "commits": 0}

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's BEGIN opens the transaction: not counted (as before)
            counts["statements"] += 1

    def commit(*_args: Any) -> None:
        counts["commits"] += 1

    start, stored, cpu = time.process_time(), 0, 0.0
    while batch := store.claim_due(limit=CLAIM_BATCH, now=T0 + timedelta(minutes=1), lease_s=120, worker="bench:1",
                                   max_attempts=5):  # fmt: skip
        for item in batch:
            stored += 1
            at = T0 + timedelta(minutes=1, milliseconds=stored)
            fetch = {"status": 200, "fetched_at": at, "warc_file": "bench-00000.warc.gz", "warc_offset": 1000 * stored,
                     "warc_length": 5000, "payload_digest": f"sha1:{stored:032d}", "error": None, "elapsed_s": None,
                     "run_id": None}  # fmt: skip
            found = None
            if stored % 8 == 0:  # links of the page (related articles), as the crawl harvests them
                links = tuple(NewUrl(f"https://www.jsw.com.cn/2026/0302/{3_000_000 + stored * 4 + k}.shtml",
                                     "article", item.url, at) for k in range(4))  # fmt: skip
                found = Discoveries(links, site_ids=tuple(str(3_000_000 + stored * 4 + k) for k in range(4)))
            store.store_fetched(by_url[item.url], url_id=item.id, fetch=fetch, next_due_at=None, etag='"e"',
                                last_modified=None, found=found)  # fmt: skip
        if stored >= timed and not cpu:  # a batch boundary: the claims are counted with their articles
            cpu, timed = time.process_time() - start, stored
            event.listen(engine, "before_cursor_execute", statement)
            event.listen(engine, "commit", commit)
    event.remove(engine, "before_cursor_execute", statement)
    event.remove(engine, "commit", commit)
    counted = stored - timed
    return {"articles": timed, "cpu_ms": cpu / timed * 1000, "statements": counts["statements"] / counted,
            "commits": counts["commits"] / counted}  # fmt: skip


#: index layout name -> (keys of a fingerprint, the largest distance it finds exactly)
def band_keys_0002(fp: int) -> tuple[int, ...]:
    """The keys of the index as migration 0002 built it (four 16-bit bands): the peer."""
    return tuple((band << 16) | ((fp >> (16 * band)) & 0xFFFF) for band in range(4))


LAYOUTS: dict[str, tuple[Callable[[int], tuple[int, ...]], int]] = {
    "pairs (0005)": (index_keys, INDEX_DISTANCE),
    "bands (0002)": (band_keys_0002, 3),  # the peer: the store's index until 0005
}


def fill_index(engine: Engine, total: int, fps: list[int], keys_of: Callable[[int], tuple[int, ...]]) -> None:
    """Grow ``simhash_index`` to ``total`` fingerprints (article ids need not exist: no FK checks
    matter for a lookup, so they are switched off for the bulk load on SQLite and dropped on
    PostgreSQL)."""
    rnd = random.Random(len(fps))
    new = [rnd.getrandbits(64) for _ in range(total - len(fps))]
    start_id = len(fps) + 1
    fps.extend(new)
    rows = [(k, to_signed(fp), start_id + i) for i, fp in enumerate(new) for k in keys_of(fp)]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("PRAGMA foreign_keys=OFF")
            cur.execute("BEGIN")
            cur.executemany("INSERT INTO simhash_index (key, fingerprint, article_id) VALUES (?, ?, ?)", rows)
            cur.execute("COMMIT")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("ANALYZE")
        else:
            cur.execute(
                "ALTER TABLE simhash_index DROP CONSTRAINT IF EXISTS fk_simhash_index_article_id_articles"
            )
            with cur.copy("COPY simhash_index (key, fingerprint, article_id) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
            raw.commit()
            driver = raw.driver_connection
            driver.autocommit = True  # type: ignore[union-attr]  # VACUUM refuses a transaction block
            driver.execute("VACUUM ANALYZE simhash_index")  # type: ignore[union-attr]  # index-only scans
            driver.autocommit = False  # type: ignore[union-attr]
        raw.commit()
    finally:
        raw.close()


def bench_lookups(
    engine: Engine, fps: list[int], queries: int, keys_of: Callable[[int], tuple[int, ...]], distance: int
) -> tuple[float, float, float]:
    """(mean µs per lookup, share of planted near fingerprints found, mean candidate rows).

    The store's layout is timed through ``dedup.nearest`` itself; the peer through a copy of it
    that differs only in its keys (and saves the per-call cursor of the SQLAlchemy connection).
    """
    rnd = random.Random(99)
    qs: list[tuple[int, bool]] = []
    for i in range(queries):
        if i % 2:
            fp = rnd.choice(fps)
            for bit in rnd.sample(range(64), distance):
                fp ^= 1 << bit
            qs.append((fp, True))
        else:
            qs.append((rnd.getrandbits(64), False))
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    sql = f"SELECT article_id, fingerprint FROM simhash_index WHERE key IN ({', '.join([mark] * len(keys_of(0)))})"
    with engine.connect() as conn:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

        def peer_nearest(fp: int) -> tuple[int, int] | None:
            cur.execute(sql, keys_of(fp))
            best: tuple[int, int] | None = None
            for article_id, other in cur.fetchall():
                d = hamming(fp, other)
                if d <= distance and (best is None or (d, article_id) < (best[1], best[0])):
                    best = (article_id, d)
            return best

        def our_nearest(fp: int) -> tuple[int, int] | None:
            return dedup.nearest(conn, fp, distance)

        nearest = our_nearest if keys_of is index_keys else peer_nearest
        for fp, _ in qs[:200]:  # warm the statement cache and the pages
            nearest(fp)
        start = time.perf_counter()
        found = sum(planted and nearest(fp) is not None for fp, planted in qs)
        elapsed = time.perf_counter() - start
        rows = 0
        for fp, _ in qs:
            cur.execute(sql, keys_of(fp))
            rows += len(cur.fetchall())
        cur.close()
    return elapsed / queries * 1e6, found / (queries // 2), rows / queries


def databases(use_pg: bool, use_sqlite: bool = True) -> Iterator[tuple[str, Engine]]:
    """Fresh migrated databases, one per call of the loop body: SQLite, then PostgreSQL."""
    if use_sqlite:
        yield from _sqlite()
    yield from _postgres(use_pg)


def _sqlite() -> Iterator[tuple[str, Engine]]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp}/bench.db"))
        db.upgrade(engine)
        yield "SQLite", engine
        engine.dispose()


def _postgres(use_pg: bool) -> Iterator[tuple[str, Engine]]:
    bindir = find_bindir() if use_pg else None
    if bindir is None:
        if use_pg:
            print("PostgreSQL: no initdb/pg_ctl found, skipped", file=sys.stderr)
        return
    server = PostgresServer(
        bindir, settings={"shared_buffers": "512MB"}
    )  # the 1M index fits, as in production
    try:
        server.start()
        engine = db.make_engine(DatabaseSettings(url=create_database(server.url)))
        db.upgrade(engine)
        yield "PostgreSQL", engine
        engine.dispose()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--crawl", type=int, default=4000, help="articles of the crawl's path (0: skip)")
    parser.add_argument("--upserts", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--lookups", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if args.crawl:
        print(
            "| database | crawl's path: CPU ms per article | statements per article | commits per article |"
        )
        print("|---|---:|---:|---:|")
        for name, engine in databases(not args.no_postgres, not args.no_sqlite):
            r = bench_crawl_path(engine, args.crawl)
            print(f"| {name} | {r['cpu_ms']:.3f} | {r['statements']:.2f} | {r['commits']:.2f} |", flush=True)
        print()
    if args.upserts or args.lookups:
        upserts_and_lookups(args)


def upserts_and_lookups(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    items = workload(args.articles)
    planted = Counter(kind for kind, _ in items)
    print(
        f"workload: {args.articles} articles: {planted['new']} new, {planted['exact']} exact, {planted['near']} near"
    )
    print()
    print("| database | articles/s | seconds | new | duplicate | unchanged/changed | near found |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    lookups: list[str] = []
    for name, engine in databases(not args.no_postgres, not args.no_sqlite):
        if args.upserts:
            up = bench_upserts(engine, items)
            o = up["outcomes"]
            print(
                f"| {name} | {up['rate']:,.0f} | {up['elapsed']:.1f} | {o.get('new', 0)} | {o.get('duplicate', 0)} | "
                f"{o.get('unchanged', 0) + o.get('changed', 0)} | {up['near_found']}/{planted['near']} |",
                flush=True,
            )
        if not args.lookups:
            continue
        for layout, (keys_of, distance) in LAYOUTS.items():
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM simhash_index"))
            fps: list[int] = []
            cells = []
            for size in sizes:
                fill_index(engine, size, fps, keys_of)
                us, recall, rows = bench_lookups(engine, fps, args.queries, keys_of, distance)
                cells.append(f"{us:.1f} µs, {rows:.1f} rows ({recall:.0%})")
            lookups.append(f"| {name} | {layout} | {len(keys_of(0))} | " + " | ".join(cells) + " |")
    if not args.lookups:
        return
    print()
    print(
        "| database | index | keys per fingerprint | "
        + " | ".join(f"lookup @{s // 1000}k" for s in sizes)
        + " |"
    )
    print("|---|---|---:|" + "---:|" * len(sizes))
    print("\n".join(lookups))
    print()
    print(
        "lookup cells: mean µs per near-duplicate lookup, candidate rows it read, (share of planted "
        "neighbours at the index's exact distance found); half the queries have no neighbour"
    )


if __name__ == "__main__":
    main()
