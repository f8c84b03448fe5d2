"""The archive view at 1,000,000 articles: p50/p95 server time of each page type.

Fills a database by direct bulk inserts (synthetic articles shaped like the real ones: 150 a day,
8 channels, 400 reporters, 80 editors, ~600 characters of Chinese body, 1 in 20 with two versions,
one article with 10), indexes the search table, then requests each page in-process through
Starlette's TestClient (the ASGI app and the database, no sockets) and prints a table.

    .venv/bin/python benchmarks/web.py [--articles 1000000] [--postgres] [--requests 40]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from service.config import DatabaseSettings
from service.store import db
from service.store.browse import Reader
from service.web.app import create_app

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
WORDS = ["镇江", "市区", "项目", "开工", "投资", "产业", "发展", "服务", "群众", "街道", "社区", "文化", "旅游", "西津渡", "金山", "焦山", "北固山", "长江", "经济", "城市", "建设", "交通", "教育", "医疗"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文斌志奎晨曦昊颖"
BATCH = 20000


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _body(rng: random.Random) -> str:
    paras = []
    for _ in range(rng.randint(3, 6)):
        paras.append(
            "，".join("".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))) for _ in range(4)) + "。"
        )
    return "\n".join(paras)


def fill(engine: Engine, n: int, seed: int = 14) -> dict[str, Any]:
    """``n`` articles by bulk insert; returns ids worth asking for."""
    rng = random.Random(seed)
    people = list(dict.fromkeys(_name(rng) for _ in range(2000)))[:480]
    _reporters, _editors = people[:400], people[400:480]
    per_day = 150
    start = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(days=n // per_day + 1)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO people (id, name) VALUES (:id, :name)"),
                     [{"id": i + 1, "name": p} for i, p in enumerate(people)])  # fmt: skip
    version_id = 0
    ten = n // 2
    for lo in range(0, n, BATCH):
        arts, vers, creds = [], [], []
        for i in range(lo + 1, min(n, lo + BATCH) + 1):
            when = start + timedelta(minutes=i * 24 * 60 / per_day + rng.random())
            local = when + timedelta(hours=8)
            channel = rng.choice(CHANNELS)
            reporter, editor = rng.randrange(400), 400 + rng.randrange(80)
            n_versions = 10 if i == ten else (2 if i % 20 == 0 else 1)
            body = _body(rng)
            for v in range(1, n_versions + 1):
                version_id += 1
                data = {"url": f"https://www.jsw.com.cn/{local:%Y/%m%d}/{i}.shtml", "site_id": str(i),
                        "subtitle": None, "published_at": local.strftime("%Y-%m-%dT%H:%M:00+08:00"),
                        "channel": channel, "source": "金山网", "lead": "金山网讯", "images": [],
                        "reporters": [people[reporter]], "correspondents": [], "interns": [],
                        "photographers": [], "editors": [people[editor]], "reviewers": [],
                        "fields_from": {"title": "profile:cmstop"}}  # fmt: skip
                text_v = body if v == 1 else body + f"\n第{v}次更新。"
                vers.append({"id": version_id, "article_id": i, "version": v, "version_hash": f"{i}-{v}",
                             "content_hash": f"c{i}-{v}", "title": f"{rng.choice(WORDS)}{rng.choice(WORDS)}{rng.choice(WORDS)}新闻{i}",
                             "body_text": text_v, "data": _json(data), "first_seen_at": _ts(when + timedelta(hours=v)),
                             "last_seen_at": _ts(when + timedelta(hours=v))})  # fmt: skip
                creds.append({"article_id": i, "version_id": version_id, "person_id": reporter + 1,
                              "role": "reporters", "position": 0})  # fmt: skip
                creds.append({"article_id": i, "version_id": version_id, "person_id": editor + 1,
                              "role": "editors", "position": 0})  # fmt: skip
            arts.append({"id": i, "url_key": f"//www.jsw.com.cn/{local:%Y/%m%d}/{i}.shtml",
                         "url": f"https://www.jsw.com.cn/{local:%Y/%m%d}/{i}.shtml", "site_id": str(i),
                         "current_version_id": version_id, "version": n_versions, "content_hash": f"c{i}",
                         "published_at": _ts(when), "published_on": local.date().isoformat(), "channel": channel,
                         "first_seen_at": _ts(when), "last_seen_at": _ts(when), "last_changed_at": _ts(when)})  # fmt: skip
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO articles (id, url_key, url, site_id, current_version_id, version, content_hash, "
                "published_at, published_on, channel, first_seen_at, last_seen_at, last_changed_at) VALUES "
                "(:id, :url_key, :url, :site_id, :current_version_id, :version, :content_hash, "
                f"{_cast(engine, ':published_at')}, {_cast(engine, ':published_on', 'date')}, :channel, "
                f"{_cast(engine, ':first_seen_at')}, {_cast(engine, ':last_seen_at')}, {_cast(engine, ':last_changed_at')})"), arts)  # fmt: skip
            conn.execute(text(
                "INSERT INTO article_versions (id, article_id, version, version_hash, content_hash, title, body_text, "
                f"data, first_seen_at, last_seen_at) VALUES (:id, :article_id, :version, :version_hash, :content_hash, "
                f":title, :body_text, {_cast(engine, ':data', 'json')}, {_cast(engine, ':first_seen_at')}, "
                f"{_cast(engine, ':last_seen_at')})"), vers)  # fmt: skip
            conn.execute(text("INSERT INTO credits (article_id, version_id, person_id, role, position) "
                              "VALUES (:article_id, :version_id, :person_id, :role, :position)"), creds)  # fmt: skip
        print(f"  {min(n, lo + BATCH):,} articles", file=sys.stderr, flush=True)
    from service.store.search import reindex

    t = time.perf_counter()
    reindex(engine, batch=20000)
    print(f"  search index: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    last_day = (start + timedelta(minutes=n * 24 * 60 / per_day, hours=8)).date() - timedelta(days=1)
    return {"ten": ten, "day": last_day, "reporter": 1}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _ts(when: datetime) -> Any:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


def _cast(engine: Engine, param: str, kind: str = "ts") -> str:
    if engine.dialect.name != "postgresql":
        return param
    return {
        "ts": f"CAST({param} AS timestamptz)",
        "date": f"CAST({param} AS date)",
        "json": f"CAST({param} AS json)",
    }[kind]


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


def run(url: str, n: int, requests: int, label: str) -> list[tuple[str, float, float]]:
    engine = db.make_engine(DatabaseSettings(url=url))
    db.upgrade(engine)
    t = time.perf_counter()
    ids = fill(engine, n)
    print(f"{label}: filled {n:,} articles in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    client = TestClient(create_app(Reader(engine), Path(tempfile.gettempdir())))
    cursor = cursor_of_page(client, 1000, 50)
    pages = [
        ("home", "/"),
        ("a day", f"/days/{ids['day'].isoformat()}"),
        ("a person's page", f"/people/{ids['reporter']}"),
        ("a channel", "/channels/镇江舆情"),
        ("an article with 10 versions", f"/articles/{ids['ten']}"),
        ("diff of 10 versions (1→10)", f"/articles/{ids['ten']}/diff?from=1&to=10"),
        ("/api/articles page 1000 (cursor)", f"/api/articles?limit=50&cursor={cursor}"),
        ("search 西津渡 (3 chars)", "/search?q=西津渡"),
        ("search 新闻12345 (rare)", "/search?q=新闻12345"),
        ("search 镇江 (2 chars, scan)", "/search?q=镇江&since=2026-10-01"),
    ]
    out = []
    for name, path in pages:
        p50, p95 = measure(client, path, requests)
        out.append((name, p50, p95))
        print(f"  {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", file=sys.stderr, flush=True)
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    args = ap.parse_args()
    results: dict[str, list[tuple[str, float, float]]] = {}
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
