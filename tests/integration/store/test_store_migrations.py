"""Migrations on both databases: from empty to head, and from the previous revision with data."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, select
from sqlalchemy import text as sql

from service.settings import DatabaseSettings, DedupSettings, load_settings
from service.store import db, open_store
from service.store.dedup import nearest
from service.store.repo import Store
from service.store.schema import article_versions, articles, metadata, simhash_index
from service.text.simhash import index_keys, simhash, to_signed
from tests.integration.store.builders import SEEN, chinese_text, make_article, tweak


def fresh(db_url: str) -> Engine:
    return db.make_engine(DatabaseSettings(url=db_url))


def test_empty_database_to_head_matches_the_schema(db_url: str) -> None:
    engine = fresh(db_url)
    try:
        assert db.current_revision(engine) is None
        db.upgrade(engine)
        db.upgrade(engine)  # idempotent
        # the constant every start checks against without Alembic is Alembic's own head
        assert db.current_revision(engine) == db.head_revision() == db.HEAD_REVISION == "0013_people"
        assert db.at_head(engine)
        with engine.connect() as conn:
            # search_documents (0003) is dialect-specific (FTS5 / pg_trgm) and kept out of metadata
            skip = {"include_name": lambda n, t, _: not (t == "table" and n.startswith("search_documents"))}
            assert compare_metadata(MigrationContext.configure(conn, opts=skip), metadata) == []
    finally:
        engine.dispose()


def test_a_database_behind_head_is_upgraded_at_open(db_url: str, tmp_path: Path) -> None:
    """The fast start (one SELECT when at head) still migrates a database that is behind."""
    engine = fresh(db_url)
    try:
        db.upgrade(engine, "0009")
        assert not db.at_head(engine)
        overrides = {"database": {"url": db_url}, "archive": {"path": str(tmp_path)}}
        open_store(load_settings(environ={}, overrides=overrides)).close()
        assert db.current_revision(engine) == db.HEAD_REVISION
    finally:
        engine.dispose()


def test_from_0001_backfills_the_near_duplicate_index(db_url: str) -> None:
    engine = fresh(db_url)
    # a fingerprint with the top bit set: negative as BIGINT, the case where SQL shifts could go wrong
    text = next(t for t in (chinese_text(seed, n=1200) for seed in range(70, 200)) if simhash(t) >> 63)
    fp = simhash(text)
    try:
        db.upgrade(engine, "0001")
        assert db.current_revision(engine) == "0001"
        with engine.begin() as conn:  # an archive written by the 0001 code: fingerprints, no index
            article_id = conn.execute(
                insert(articles)
                .values(
                    url_key="//www.jsw.com.cn/2026/0301/1.shtml",
                    url="https://www.jsw.com.cn/2026/0301/1.shtml",
                    version=1,
                    content_hash="x",
                    simhash=to_signed(fp),
                    first_seen_at=SEEN,
                    last_seen_at=SEEN,
                    last_changed_at=SEEN,
                )
                .returning(articles.c.id)
            ).scalar_one()
            version_id = conn.execute(
                insert(article_versions)
                .values(
                    article_id=article_id,
                    version=1,
                    version_hash="v",
                    content_hash="x",
                    simhash=to_signed(fp),
                    title="t",
                    body_text=text,
                    data=make_article(text=text).to_json(),
                    first_seen_at=SEEN,
                    last_seen_at=SEEN,
                )
                .returning(article_versions.c.id)
            ).scalar_one()
            conn.execute(articles.update().values(current_version_id=version_id))
        db.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(select(simhash_index.c.key, simhash_index.c.fingerprint)).all()
        assert sorted(k for k, _ in rows) == sorted(index_keys(fp))
        assert {f for _, f in rows} == {to_signed(fp)}
        # the backfilled index serves the near-duplicate rung
        near = make_article("https://www.jsw.com.cn/2026/0301/2.shtml", text=tweak(text, (3,)))
        out = Store(engine, DedupSettings(simhash_max_distance=3)).store_article(
            near, url_id=None, fetch_id=None, seen_at=SEEN
        )
        assert (out.kind, out.duplicate_of) == ("duplicate", article_id)
    finally:
        engine.dispose()


def _index_rows(engine: Engine) -> dict[int, set[int]]:
    """article id -> the keys it is indexed under."""
    out: dict[int, set[int]] = {}
    with engine.connect() as conn:
        for key, article_id in conn.execute(select(simhash_index.c.key, simhash_index.c.article_id)):
            out.setdefault(int(article_id), set()).add(int(key))
    return out


def test_0005_rekeys_the_bands_of_0004_by_pairs_and_back(db_url: str) -> None:
    engine = fresh(db_url)
    texts = [chinese_text(seed, n=900) for seed in (11, 12, 13)]
    try:
        db.upgrade(engine)  # today's store writes the articles, then the schema goes back to 0004
        store = Store(engine, DedupSettings(simhash_max_distance=3))
        ids = {}
        for i, text in enumerate(texts):
            out = store.store_article(
                make_article(f"https://www.jsw.com.cn/2026/0301/{i}.shtml", text=text),
                url_id=None,
                fetch_id=None,
                seen_at=SEEN,
            )
            ids[out.article_id] = simhash(text)
        db.downgrade(engine, "0004")  # an archive indexed by the 0004 code, with 4 bands
        bands = {a: {(b << 16) | ((fp >> (16 * b)) & 0xFFFF) for b in range(4)} for a, fp in ids.items()}
        with engine.begin() as conn:  # what the 0004 code wrote: the 16-bit bands
            conn.execute(simhash_index.delete())
            conn.execute(
                insert(simhash_index),
                [
                    {"key": k, "fingerprint": to_signed(ids[a]), "article_id": a}
                    for a, keys in bands.items()
                    for k in keys
                ],
            )
        db.upgrade(engine)
        assert _index_rows(engine) == {a: set(index_keys(fp)) for a, fp in ids.items()}
        # 3 bits apart: found through the pairs as it was through the bands
        with engine.connect() as conn:
            for a, fp in ids.items():
                assert nearest(conn, fp ^ (1 | 1 << 20 | 1 << 40), 3) == (a, 3)
        db.downgrade(engine, "0004")
        assert db.current_revision(engine) == "0004"
        assert _index_rows(engine) == bands
    finally:
        engine.dispose()


def test_0009_moves_the_search_bookkeeping_onto_the_article_row_and_back(db_url: str) -> None:
    engine = fresh(db_url)
    try:
        db.upgrade(engine)
        store = Store(engine, DedupSettings())
        indexed = store.store_article(make_article(seed=1), url_id=None, fetch_id=None, seen_at=SEEN)
        assert store.refresh_search() == 1
        noted = store.store_article(make_article("https://www.jsw.com.cn/2026/0301/1900002.shtml", seed=2),
                                    url_id=None, fetch_id=None, seen_at=SEEN)  # fmt: skip
        db.downgrade(engine, "0008")  # the table of 0004 holds the one article still to index
        with engine.connect() as conn:
            assert conn.execute(sql("SELECT article_id FROM search_pending")).scalars().all() == [
                noted.article_id
            ]
        db.upgrade(engine)
        with engine.connect() as conn:
            flagged = conn.execute(select(articles.c.id).where(articles.c.search_pending)).scalars().all()
        assert flagged == [noted.article_id] and indexed.article_id != noted.article_id
        assert store.refresh_search() == 1
    finally:
        engine.dispose()
