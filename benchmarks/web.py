"""The archive view at 1,000,000 articles: p50/p95 server time of each page type.

Fills a database by direct bulk inserts (SQLite: one transaction of executemany batches with the
journal and fsync off; PostgreSQL: COPY) with synthetic articles shaped like the real ones (150 a day,
8 channels, 400 reporters, 80 editors, ~600 characters of Chinese body, 1 in 20 with two versions,
one article with 10; bodies drawn from a pool of 4,096), indexes the search table, then requests each page in-process through
Starlette's TestClient (the ASGI app and the database, no sockets) and prints a table.

    .venv/bin/python benchmarks/web.py [--articles 1000000] [--postgres] [--no-sqlite] [--requests 40] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from service.app.web.app import create_app
from service.settings import DatabaseSettings
from service.store import db
from service.store.browse import Reader

CHANNELS = [
    "镇江新闻 - 要闻",
    "镇江新闻 - 社会",
    "镇江舆情",
    "金山热评",
    "第01版:头版",
    "第02版:要闻",
    "句容",
    "丹阳",
]
WORDS = [
    "镇江",
    "市区",
    "项目",
    "开工",
    "投资",
    "产业",
    "发展",
    "服务",
    "群众",
    "街道",
    "社区",
    "文化",
    "旅游",
    "西津渡",
    "金山",
    "焦山",
    "北固山",
    "长江",
    "经济",
    "城市",
    "建设",
    "交通",
    "教育",
    "医疗",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文斌志奎晨曦昊颖"
CHUNK = 50_000
POOL = 4096  # distinct bodies: generating 1,000,000 random ones would dominate the fill

ARTICLE_COLS = ("id", "url_key", "url", "site_id", "current_version_id", "version", "content_hash",
                "published_at", "published_on", "channel", "first_seen_at", "last_seen_at", "last_changed_at")  # fmt: skip
VERSION_COLS = ("id", "article_id", "version", "version_hash", "content_hash", "title", "body_text", "data",
                "first_seen_at", "last_seen_at")  # fmt: skip
CREDIT_COLS = ("article_id", "version_id", "person_id", "role", "position")


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _body(rng: random.Random) -> str:
    paras = []
    for _ in range(rng.randint(3, 6)):
        paras.append(
            "，".join("".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))) for _ in range(4)) + "。"
        )
    return "\n".join(paras)


class Shape:
    """The synthetic archive: 150 articles a day ending 2026-10-31, ids in publication order."""

    per_day = 150

    def __init__(self, n: int, seed: int = 14) -> None:
        rng = random.Random(seed)
        self.n = n
        self.people = list(dict.fromkeys(_name(rng) for _ in range(2000)))[:480]
        self.bodies = [_body(rng) for _ in range(POOL)]
        self.start = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(days=n // self.per_day + 1)
        self.ten = n // 2  # the article with 10 versions
        self.reporter = self.people[0]  # person 1: "a person's page"
        self.rng = rng

    def chunks(
        self, ts: Any
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """(articles, versions, credits) rows, ``CHUNK`` articles at a time; ``ts`` formats a UTC time."""
        rng, people, bodies, words = self.rng, self.people, self.bodies, WORDS
        step = timedelta(minutes=24 * 60 / self.per_day)
        version_id = 0
        for lo in range(1, self.n + 1, CHUNK):
            arts: list[tuple[Any, ...]] = []
            vers: list[tuple[Any, ...]] = []
            creds: list[tuple[Any, ...]] = []
            for i in range(lo, min(self.n, lo + CHUNK - 1) + 1):
                when = self.start + step * i + timedelta(seconds=rng.random() * 60)
                local = when + timedelta(hours=8)
                channel = CHANNELS[i * 7 % len(CHANNELS)]
                reporter, editor = i * 7919 % 400, 400 + i * 104729 % 80
                n_versions = 10 if i == self.ten else (2 if i % 20 == 0 else 1)
                body = bodies[i * 2654435761 % POOL]
                url = f"https://www.jsw.com.cn/{local:%Y/%m%d}/{i}.shtml"
                data = json.dumps({"url": url, "site_id": str(i), "subtitle": None,
                                   "published_at": local.strftime("%Y-%m-%dT%H:%M:00+08:00"), "channel": channel,
                                   "source": "金山网", "lead": "金山网讯", "images": [], "reporters": [people[reporter]],
                                   "correspondents": [], "interns": [], "photographers": [], "editors": [people[editor]],
                                   "reviewers": [], "fields_from": {"title": "profile:cmstop"}}, ensure_ascii=False)  # fmt: skip
                title = f"{words[i % 24]}{words[i * 7 % 24]}{words[i * 13 % 24]}新闻{i}"
                for v in range(1, n_versions + 1):
                    version_id += 1
                    seen = ts(when + timedelta(hours=v))
                    vers.append((version_id, i, v, f"{i}-{v}", f"c{i}-{v}", title,
                                 body if v == 1 else body + f"\n第{v}次更新。", data, seen, seen))  # fmt: skip
                    creds.append((i, version_id, reporter + 1, "reporters", 0))
                    creds.append((i, version_id, editor + 1, "editors", 0))
                t = ts(when)
                arts.append((i, url.removeprefix("https:"), url, str(i), version_id, n_versions, f"c{i}", t,
                             local.date().isoformat(), channel, t, t, t))  # fmt: skip
            yield arts, vers, creds

    @property
    def last_day(self) -> date:
        return (self.start + timedelta(minutes=self.n * 24 * 60 / self.per_day, hours=8)).date() - timedelta(
            days=1
        )


#: every current version into the search index at once (the FTS5 table's id is its rowid)
DOCUMENTS = (
    "INSERT INTO search_documents ({id}, version_id, title, body) SELECT a.id, v.id, v.title, v.body_text "
    "FROM articles a JOIN article_versions v ON v.id = a.current_version_id"
)


def _insert(table: str, cols: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


def fill_sqlite(path: str, shape: Shape) -> None:
    """One transaction of prepared executemany batches, journal and fsync off for the fill only."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-1000000")
        con.execute("BEGIN")
        con.executemany(_insert("people", ("id", "name")), list(enumerate(shape.people, 1)))
        done = 0
        for arts, vers, creds in shape.chunks(lambda t: t.strftime("%Y-%m-%d %H:%M:%S.%f")):
            con.executemany(_insert("articles", ARTICLE_COLS), arts)
            con.executemany(_insert("article_versions", VERSION_COLS), vers)
            con.executemany(_insert("credits", CREDIT_COLS), creds)
            done += len(arts)
            _progress(done)
        t = time.perf_counter()
        con.execute(DOCUMENTS.format(id="rowid"))
        print(f"  search index: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
        con.execute("COMMIT")
        con.execute("ANALYZE")
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def fill_postgres(engine: Engine, shape: Shape) -> None:
    """COPY into each table, then the search documents by one INSERT … SELECT, then ANALYZE."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy("COPY people (id, name) FROM STDIN") as cp:  # type: ignore[attr-defined]
            for row in enumerate(shape.people, 1):
                cp.write_row(row)
        done = 0
        for arts, vers, creds in shape.chunks(lambda t: t.isoformat()):
            for table, cols, rows in (("articles", ARTICLE_COLS, arts), ("article_versions", VERSION_COLS, vers),
                                      ("credits", CREDIT_COLS, creds)):  # fmt: skip
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:  # type: ignore[attr-defined]
                    for row in rows:
                        cp.write_row(row)
            done += len(arts)
            _progress(done)
        t = time.perf_counter()
        cur.execute(DOCUMENTS.format(id="article_id"))
        raw.commit()
        print(f"  search index: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
        for table in ("people", "articles", "article_versions", "credits"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def _progress(done: int) -> None:
    if done % 200_000 == 0:
        print(f"  {done:,} articles", file=sys.stderr, flush=True)


def measure(client: TestClient, path: str, n: int) -> tuple[float, float]:
    client.get(path)  # warm: first compile, page cache
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def cursor_of_page(client: TestClient, page: int, limit: int) -> str:
    """Walk the API to page ``page`` (as a harvester would) and return that page's cursor."""
    url = f"/api/articles?limit={limit}"
    cursor = ""
    for _ in range(page - 1):
        got = client.get(url + (f"&cursor={cursor}" if cursor else "")).json()
        cursor = got["next_cursor"]
    return cursor


def run(
    url: str, n: int, requests: int, label: str, *, filled: bool = False
) -> list[tuple[str, float, float]]:
    engine = db.make_engine(DatabaseSettings(url=url))
    shape = Shape(n)
    if not filled:
        db.upgrade(engine)
        t = time.perf_counter()
        if engine.dialect.name == "sqlite":
            engine.dispose()
            fill_sqlite(engine.url.database or "", shape)
        else:
            fill_postgres(engine, shape)
        print(f"{label}: filled {n:,} articles in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    client = TestClient(create_app(Reader(engine), Path(tempfile.gettempdir())))
    cursor = cursor_of_page(client, 1000, 50)
    pages = [
        ("home", "/"),
        ("a day", f"/days/{shape.last_day.isoformat()}"),
        ("a person's page", f"/people/{1}"),
        ("a channel", "/channels/镇江舆情"),
        ("an article with 10 versions", f"/articles/{shape.ten}"),
        ("diff of 10 versions (1→10)", f"/articles/{shape.ten}/diff?from=1&to=10"),
        ("/api/articles page 1000 (cursor)", f"/api/articles?limit=50&cursor={cursor}"),
        ("search 西津渡 (3 chars)", "/search?q=西津渡"),
        ("search 新闻12345 (rare)", "/search?q=新闻12345"),
        ("search 镇江 (2 chars, scan)", "/search?q=镇江"),
        ("search 镇江 since a month", "/search?q=镇江&since=2026-10-01"),
        ("search 金山 项目 page 5", "/search?q=金山+项目&page=5"),
        ("search a reporter's name", f"/search?q={shape.reporter}"),
        ("people list by pinyin, page 3", "/people?page=3"),
        ("people whose name has 张", "/people?q=张"),
        ("/api/articles page 1 with its total", "/api/articles?limit=50"),
        ("/api/articles q=西津渡", "/api/articles?q=西津渡&limit=50"),
    ]
    # what the Reader keeps for a minute (channel sizes, the sorted people, an API total), each
    # computed afresh on every request: the cost of the first request of a minute
    fresh = TestClient(create_app(Reader(engine, cache_s=0), Path(tempfile.gettempdir())))
    uncached = [
        ("channels (uncached)", "/channels"),
        ("people list (uncached sort)", "/people?page=3"),
        ("/api/articles of a channel, total uncached", "/api/articles?limit=50&channel=镇江舆情"),
        ("/api/articles, total uncached", "/api/articles?limit=50"),
    ]
    out = []
    for name, path, on in [(n, p, client) for n, p in pages] + [(n, p, fresh) for n, p in uncached]:
        p50, p95 = measure(on, path, requests)
        out.append((name, p50, p95))
        print(f"  {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", file=sys.stderr, flush=True)
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    ap.add_argument(
        "--keep", type=Path, help="keep the SQLite database in this directory; reuse it next time"
    )
    args = ap.parse_args()
    results: dict[str, list[tuple[str, float, float]]] = {}
    if args.keep and not args.no_sqlite:
        args.keep.mkdir(parents=True, exist_ok=True)
        path = args.keep / f"web-{args.articles}.db"
        results["SQLite"] = run(
            f"sqlite:///{path}", args.articles, args.requests, "SQLite", filled=path.exists()
        )
    elif not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="jinshan-webbench-") as tmp:
            results["SQLite"] = run(f"sqlite:///{tmp}/bench.db", args.articles, args.requests, "SQLite")
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.support.postgres import PostgresServer, create_database, find_bindir

        bindir = find_bindir()
        if bindir is None:
            sys.exit("no PostgreSQL binaries (apt-get install postgresql)")
        server = PostgresServer(bindir)
        server.start()
        try:
            url = create_database(server.url, "webbench")
            results["PostgreSQL"] = run(url, args.articles, args.requests, "PostgreSQL")
        finally:
            server.stop()
    load = os.getloadavg()
    print(f"\n{args.articles:,} articles, {args.requests} requests per page, in-process (Starlette TestClient);"
          f" load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores\n")  # fmt: skip
    dbs = list(results)
    print("| page | " + " | ".join(f"{d} p50 ms | {d} p95 ms" for d in dbs) + " |")
    print("|---|" + "---:|---:|" * len(dbs))
    for i, (name, _, _) in enumerate(results[dbs[0]]):
        cells = " | ".join(f"{results[d][i][1]:.1f} | {results[d][i][2]:.1f}" for d in dbs)
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
