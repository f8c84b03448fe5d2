"""Crawl benchmark: the real ``jinshan backfill`` against a generated replica on 127.0.0.1, beside the
stack a user would otherwise pick, and a simulated day of the real daemon polling a replica where
articles keep appearing.

1. Backfill, politeness lifted, SQLite, archiving on, a fresh database each: articles per second,
   CPU milliseconds per stored article (user + system time of the backfill's processes, exact: read
   from the rusage of the reaped children), articles per CPU-second, requests per article, peak RSS
   of each backfill process (VmHWM), and the cores the crawl and the replica used.
   ``--peer``: first the peer on a fresh replica of the same size, in the same run — a Scrapy
   spider with trafilatura and a SQLite pipeline (``benchmarks/peer_spider.py``, the ``bench``
   extra) — and every row's articles per CPU-second as a multiple of the peer's: a ratio that
   survives a change of machine or of load, where articles/s does not.
   ``--baseline DIR``: the 1-worker backfill of another source tree (``git archive`` of an older
   commit, unpacked) in the same run. ``--count-sql``: SQL statements, commits and write
   transactions per stored article (SQLAlchemy event listeners, ``benchmarks/instrument.py``; a run
   of its own). ``--profile FILE``: a cProfile (CPU time) of the 1-worker backfill.
   ``--prefill N``: the 1-worker backfill into an empty archive and into one that already holds N
   articles (written by direct inserts), and the change of CPU per article between the two.
2. Steady state: ``jinshan run`` with its schedule compressed (1 simulated minute = 1 real second,
   ``--scale``), articles published at random every few simulated minutes, the replica answering
   conditional requests. Reports HTTP requests per new article (everything the daemon asked for:
   robots.txt, list pages, e-paper, articles) and full re-downloads of unchanged pages.

    .venv/bin/python benchmarks/crawl.py [--sizes 5000,20000] [--workers 1,2] [--peer] [--count-sql]
        [--prefill 1000000] [--baseline DIR] [--profile FILE] [--day-minutes 1440] [--skip-backfill]
        [--skip-day] [--politeness shared,off]

Our rows come twice: with the defaults (``fetch.shared_politeness = true``: the per-host budget kept
in the database, as every run of the service keeps it) and with it off (this process's own limits).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.replica.control import ReplicaProcess  # noqa: E402
from tests.e2e.replica.settings import toml  # noqa: E402

LIFTED = {"requests_per_second": 5000.0, "concurrency": 8, "obey_robots": False, "timeout_s": 10.0}  # fmt: skip
#: ``archive.resources`` of our backfills (``--resources``): "off" by default, as the peer fetches no
#: photos nor stylesheets; what resources cost is ``benchmarks/captures.py``'s to measure
RESOURCES = ["off"]
#: the row labels of the two ways the politeness is kept (``fetch.shared_politeness``)
POLITENESS = {"shared": "ours (defaults: shared politeness)", "off": "ours (shared politeness off)"}


def jinshan(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "service", *args, "--config", str(config)]


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """User + system CPU of this process's children that have ended and been waited for: exact,
    where polling /proc would miss the last moments of a process."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def replica(n: int) -> ReplicaProcess:
    """A replica of ``n`` articles dated up to today (the backfill's --until defaults to today)."""
    days = max(30, n // 200)
    start = (datetime.now(UTC).date() - timedelta(days=days)).isoformat()
    return ReplicaProcess("--seed", "5", "--articles", str(n), "--days", str(days), "--start", start,
                          "--epaper-days", "0", "--old", "0", "--log-size", "1000")  # fmt: skip


def backfill(
    n: int,
    tmp: Path,
    workers: int = 1,
    *,
    db: Path | None = None,
    instrument: list[str] | None = None,
    root: Path = ROOT,
    shared: bool = True,
) -> dict[str, float]:
    """The real backfill of a fresh replica of ``n`` articles; ``db``: into this (pre-filled) database;
    ``instrument``: run through ``benchmarks/instrument.py`` with these arguments; ``root``: the
    source tree to run (another checkout, for a before/after in one run); ``shared``:
    ``fetch.shared_politeness`` (the default, on, or off)."""
    with replica(n) as site:
        label = ("" if root == ROOT else "base") + ("" if shared else "solo")
        db = db or tmp / f"bf{n}w{workers}{label}.db"
        config = tmp / f"bf{n}.toml"
        config.write_text(toml(site.base_url, {
            "database": {"url": f"sqlite:///{db}"},
            "archive": {"path": str(tmp / f"warc{n}w{workers}{label}"), "resources": RESOURCES[0]},
            "fetch": {**LIFTED, "shared_politeness": shared}, "web": {"listen": ""}, "log": {"level": "WARNING"}, "epaper": {"enabled": False},
        }))  # fmt: skip
        command = jinshan(config, "backfill", "--since", "2000-01-01", "--workers", str(workers))
        if instrument is not None:
            command = [
                sys.executable,
                str(ROOT / "benchmarks" / "instrument.py"),
                *instrument,
                "--",
                *command[3:],
            ]
        start, before = time.perf_counter(), children_cpu()
        proc = subprocess.Popen(command, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(root)})  # fmt: skip
        peaks: dict[int, float] = {}
        while proc.poll() is None:
            for pid in (proc.pid, *children(proc.pid)):
                peaks[pid] = max(peaks.get(pid, 0.0), peak_rss_mb(pid))
            time.sleep(0.2)
        cpu = children_cpu() - before  # the backfill and its helper processes, once all are reaped
        assert site.proc is not None
        replica_cpu = cpu_seconds(site.proc.pid)
        peak = max(peaks.values(), default=0.0)  # per process: the helper workers are processes of their own
        elapsed = time.perf_counter() - start
        err = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"backfill failed: {err[-2000:]}")
        stored, fetched = _stored(db)
    return {
        "articles": n,
        "workers": workers,
        "stored": stored,
        "seconds": elapsed,
        "per_s": stored / elapsed,
        "peak_mb": peak,
        # where the two cores went: the crawl (all its processes) and the replica serving it
        "crawl_cpu": cpu / elapsed,
        "replica_cpu": replica_cpu / elapsed,
        "cpu_ms": cpu / max(stored, 1) * 1000,
        "per_cpu_s": stored / max(cpu, 1e-9),
        "requests": fetched / max(stored, 1),
    }


def _stored(db: Path) -> tuple[int, int]:
    """Articles stored by the crawl (versions it wrote; pre-filled ones have no fetch), and HTTP
    exchanges it recorded."""
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM article_versions WHERE fetch_id IS NOT NULL").fetchone()[
            0
        ]
        fetched = conn.execute("SELECT count(*) FROM fetches WHERE warc_file IS NOT NULL").fetchone()[0]
    return int(stored), int(fetched)


def peer(n: int, tmp: Path) -> dict[str, float]:
    """The Scrapy + trafilatura + SQLite peer (``benchmarks/peer_spider.py``) on a fresh replica of
    ``n`` articles: the same measures as ``backfill``."""
    with replica(n) as site:
        db = tmp / f"peer{n}.db"
        start, before = time.perf_counter(), children_cpu()
        proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "peer_spider.py"), site.base_url, str(db)],
                                cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        proc.wait()
        cpu = children_cpu() - before
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"peer failed: {(proc.stderr.read() if proc.stderr else '')[-2000:]}")
        assert site.proc is not None
        replica_cpu = cpu_seconds(site.proc.pid)
    with sqlite3.connect(db) as conn:
        stored = int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    return {"articles": n, "workers": 1, "stored": stored, "seconds": elapsed, "per_s": stored / elapsed,
            "peak_mb": 0.0, "crawl_cpu": cpu / elapsed, "replica_cpu": replica_cpu / elapsed,
            "cpu_ms": cpu / max(stored, 1) * 1000, "per_cpu_s": stored / max(cpu, 1e-9),
            "requests": json.loads(Path(f"{db}.json").read_text())["responses"] / max(stored, 1)}  # fmt: skip


def steady_day(tmp: Path, day_minutes: int, scale: float, seed: int) -> dict[str, float]:
    """``day_minutes`` simulated minutes; one simulated minute lasts ``scale`` real seconds."""
    rng = random.Random(seed)
    with ReplicaProcess("--seed", "9", "--articles", "300", "--epaper-days", "0", "--old", "0") as replica:
        config = tmp / "day.toml"
        minute = scale / 60  # one simulated minute, in real minutes
        config.write_text(toml(replica.base_url, {
            "database": {"url": f"sqlite:///{tmp / 'day.db'}"}, "archive": {"path": str(tmp / "warcday")},
            "fetch": {"requests_per_second": 50.0, "concurrency": 2}, "web": {"listen": ""},
            "epaper": {"enabled": False}, "log": {"level": "WARNING"},
            "schedule": {"poll_minutes": 10 * minute, "max_poll_minutes": 60 * minute, "hub_every_minutes": 720 * minute,
                         "drain_seconds": 30 * scale, "revisit_hours": [24.0 * 365]},
        }))  # fmt: skip
        # the archive starts complete: the day measures steady polling, not the first catch-up
        subprocess.run(jinshan(config, "run", "--once"), cwd=tmp, check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
        replica.clear_requests()
        daemon = subprocess.Popen(jinshan(config, "run"), cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
        published = 0
        try:
            start = time.monotonic()
            next_at = rng.expovariate(1 / 6.0)  # a new article every 6 simulated minutes on average
            while (elapsed_min := (time.monotonic() - start) / scale) < day_minutes:
                if elapsed_min >= next_at:
                    replica.publish(1)
                    published += 1
                    next_at += rng.expovariate(1 / 6.0)
                time.sleep(min(0.05, scale / 4))
            time.sleep(70 * scale)  # let the last poll (at most max_poll_minutes away) happen
        finally:
            daemon.terminate()
            daemon.wait(timeout=20)
        requests = replica.requests()
        if os.environ.get("BENCH_DEBUG"):
            import sqlite3

            rows = (
                sqlite3.connect(tmp / "day.db")
                .execute("select started_at, counters from runs where kind='cycle' order by id")
                .fetchall()
            )
            for started, counters in rows:
                c = json.loads(counters)
                print(started[11:19], c.get("list_pages"), c.get("discovered"), c.get("new"), file=sys.stderr)
    seen: set[str] = set()
    unconditional_again = 0
    for r in requests:
        if r["status"] == 200:
            if r["path"] in seen and not r["if_none_match"] and not r["if_modified_since"]:
                unconditional_again += 1  # a page we had, downloaded again without asking if it changed
            seen.add(r["path"])
    kinds: dict[str, int] = {}
    for r in requests:
        kind = ("robots" if r["path"] == "/robots.txt" else "list" if r["path"].endswith("/") or "index" in r["path"]
                else f"article {r['status']}")  # fmt: skip
        kinds[kind] = kinds.get(kind, 0) + 1
    print("requests by kind:", dict(sorted(kinds.items())), file=sys.stderr)
    return {"published": published, "requests": len(requests), "per_article": len(requests) / max(published, 1),
            "not_modified": sum(1 for r in requests if r["status"] == 304),
            "changed_lists": sum(1 for r in requests if r["status"] == 200 and r["if_none_match"]),
            "full_redownloads": unconditional_again}  # fmt: skip


HEADER = ("| crawler | articles | workers | stored | seconds | articles/s | CPU ms per article | articles per CPU-second "
          "| × peer per CPU-second | requests per article | peak RSS MB per process | cores used: crawl | cores used: replica |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")  # fmt: skip


def row(name: str, r: dict[str, float], peer_rate: float | None) -> str:
    ratio = f"{r['per_cpu_s'] / peer_rate:.2f}×" if peer_rate else "–"
    return (f"| {name} | {r['articles']:,.0f} | {r['workers']:.0f} | {r['stored']:,.0f} | {r['seconds']:.1f} | "
            f"{r['per_s']:.0f} | {r['cpu_ms']:.1f} | {r['per_cpu_s']:.0f} | {ratio} | {r['requests']:.2f} | {r['peak_mb'] or '–'!s:.3} | "
            f"{r['crawl_cpu']:.2f} | {r['replica_cpu']:.2f} |")  # fmt: skip


def crawl_table(args: argparse.Namespace, tmp: Path) -> None:
    print(f"Backfill of a generated replica on 127.0.0.1 (politeness lifted, SQLite, WARC on); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at start\n")  # fmt: skip
    print(HEADER)
    for n in (int(x) for x in args.sizes.split(",")):
        peer_rate = None
        if args.peer:
            p = peer(n, tmp)
            peer_rate = p["per_cpu_s"]
            print(row("Scrapy + trafilatura + SQLite", p, None), flush=True)
        if args.baseline:
            print(row(f"ours at {args.baseline_label}", backfill(n, tmp, 1, root=Path(args.baseline)), peer_rate),
                  flush=True)  # fmt: skip
        for w in (int(x) for x in args.workers.split(",")):
            for politeness in args.politeness.split(","):
                profile = f"{args.profile}.{politeness}" if args.profile and w == 1 else None
                instrument = ["/dev/null", "--profile", profile] if profile else None
                r = backfill(n, tmp, w, instrument=instrument, shared=politeness == "shared")
                print(row(POLITENESS[politeness], r, peer_rate), flush=True)
        if args.count_sql:
            print(sql_counts(n, tmp), flush=True)
        if args.prefill:
            print(prefilled(n, tmp, args.prefill, peer_rate), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def prefilled(n: int, tmp: Path, size: int, peer_rate: float | None) -> str:
    """The same backfill into an archive that already holds ``size`` articles (direct inserts), and
    the same into an empty one right before it: the cost per article should not grow with the archive."""
    db = tmp / f"prefill{size}.db"
    t0 = time.perf_counter()
    prefill(db, size)
    fill_s = time.perf_counter() - t0
    empty = backfill(n, tmp, 1, db=tmp / f"empty{n}.db")  # a database of its own, not an earlier run's
    full = backfill(n, tmp, 1, db=db)
    return (f"{row('ours, empty archive', empty, peer_rate)}\n{row(f'ours, archive of {size:,}', full, peer_rate)}\n"
            f"\nCPU per article, {size:,}-article archive vs empty: {full['cpu_ms'] / empty['cpu_ms'] - 1:+.1%} "
            f"(the archive written in {fill_s:.0f} s)\n")  # fmt: skip


def prefill(db_path: Path, size: int, batch: int = 100_000) -> None:
    """A migrated SQLite archive of ``size`` articles, written directly: per article a fetched URL,
    an exchange, one version with 3 credits among 5,000 people, 10 near-duplicate index rows, and one
    alias in 20. Only the full-text index stays empty (it is filled outside the write path)."""
    from service.settings import DatabaseSettings
    from service.store import db
    from service.text.simhash import index_keys, to_signed

    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{db_path}"))
    db.upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    at = "'2020-01-01 00:00:00.000000'"
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO people (id, name) VALUES (?, ?)", [(i, f"人物{i}") for i in range(1, 5001)])
    conn.execute("COMMIT")
    rnd = random.Random(size)
    for lo in range(1, size + 1, batch):
        hi = min(size, lo + batch - 1)
        ids = f"WITH RECURSIVE n(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM n WHERE i < {hi})"
        path = "'2010/0101/' || (9000000 + i) || '.shtml'"
        conn.execute("BEGIN")
        conn.execute(f"{ids} INSERT INTO urls (id, url_key, url, kind, state, priority, due_at, attempts, article_id, "
                     f"created_at, updated_at) SELECT i, '//www.jsw.com.cn/' || {path}, 'https://www.jsw.com.cn/' || "
                     f"{path}, 'article', 'done', 0, NULL, 0, i, {at}, {at} FROM n")  # fmt: skip
        conn.execute(
            f"{ids} INSERT INTO fetches (id, url_id, status, fetched_at) SELECT i, i, 200, {at} FROM n"
        )
        conn.execute(f"{ids} INSERT INTO articles (id, url_key, url, site_id, current_version_id, version, "
                     f"content_hash, published_on, first_seen_at, last_seen_at, last_changed_at) SELECT i, "
                     f"'//www.jsw.com.cn/' || {path}, 'https://www.jsw.com.cn/' || {path}, 'pre' || i, i, 1, "
                     f"hex(randomblob(32)), '2010-01-01', {at}, {at}, {at} FROM n")  # fmt: skip
        conn.execute(f"{ids} INSERT INTO article_versions (id, article_id, version, version_hash, content_hash, title, "
                     f"body_text, data, url_id, fetch_id, first_seen_at, last_seen_at) SELECT i, i, 1, "
                     f"hex(randomblob(32)), (SELECT content_hash FROM articles WHERE id = i), '标题' || i, "
                     f"hex(randomblob(300)), '{{}}', NULL, NULL, {at}, {at} FROM n")  # fmt: skip
        conn.execute(f"{ids}, k(p) AS (VALUES (0), (1), (2)) INSERT INTO credits (article_id, version_id, person_id, "
                     f"role, position) SELECT i, i, (i * 7 + p * 1013) % 5000 + 1, 'reporters', p FROM n, k")  # fmt: skip
        conn.execute(f"{ids} INSERT INTO article_urls (article_id, url_key, url, reason, first_seen_at) SELECT i, "
                     f"'//www.jsw.com.cn/m/' || i || '.shtml', 'https://www.jsw.com.cn/m/' || i || '.shtml', "
                     f"'site_id', {at} FROM n WHERE i % 20 = 0")  # fmt: skip
        fps = [(i, rnd.getrandbits(64)) for i in range(lo, hi + 1)]
        conn.executemany(
            "UPDATE articles SET simhash = ? WHERE id = ?", [(to_signed(fp), i) for i, fp in fps]
        )
        conn.executemany("INSERT OR IGNORE INTO simhash_index (key, fingerprint, article_id) VALUES (?, ?, ?)",
                         [(k, to_signed(fp), i) for i, fp in fps for k in index_keys(fp)])  # fmt: skip
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def sql_counts(n: int, tmp: Path) -> str:
    """Statements and commits per stored article, 1 worker, counted by SQLAlchemy event listeners
    (a separate run: the listeners cost CPU of their own)."""
    out = tmp / "sql.json"
    r = backfill(n, tmp, 1, db=tmp / f"sql{n}.db", instrument=[str(out)])
    counts = json.loads(out.read_text())
    per = {k: v / r["stored"] for k, v in counts["statements"].items()}
    top = ", ".join(f"{k}: {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.05)
    txn = ", ".join(
        f"{k}: {v / r['stored']:.2f}"
        for k, v in sorted(counts["transactions"].items(), key=lambda kv: -kv[1])
    )
    shapes = "\n".join(f"- {v / r['stored']:.2f}: {k}" for k, v in Counter(counts["shapes"]).most_common(8))
    return (f"\nSQL per stored article (1 worker, {r['stored']:,.0f} articles): {sum(per.values()):.1f} statements, "
            f"{counts['commits'] / r['stored']:.2f} commits\nstatements: {top}\nwrite transactions: {txn}\n"
            f"commonest committed transactions (per article: statements in order):\n{shapes}\n")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--day-minutes", type=int, default=1440, help="simulated minutes of steady polling")
    parser.add_argument("--scale", type=float, default=0.1, help="real seconds per simulated minute")
    parser.add_argument("--workers", default="1,2", help="backfill processes to compare")
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument(
        "--peer", action="store_true", help="the Scrapy + trafilatura + SQLite peer, same run"
    )
    parser.add_argument(
        "--count-sql", action="store_true", help="statements and commits per article (1 worker)"
    )
    parser.add_argument("--profile", help="write a cProfile of the 1-worker backfill to this file (.shared/.off)")
    parser.add_argument("--politeness", default="shared,off", choices=["shared,off", "shared", "off", "off,shared"],
                        help="fetch.shared_politeness of our rows: shared (the default) and/or off")  # fmt: skip
    parser.add_argument(
        "--prefill", type=int, default=0, help="also crawl into an archive of this many articles"
    )
    parser.add_argument("--baseline", help="another source tree (e.g. `git archive main` unpacked): its 1-worker "
                        "backfill in the same run")  # fmt: skip
    parser.add_argument("--baseline-label", default="baseline")
    parser.add_argument("--skip-day", action="store_true")
    parser.add_argument("--resources", default="off", choices=["off", "images", "page"],
                        help="archive.resources of our backfills (off: like the peer, which fetches no photos)")
    args = parser.parse_args()
    RESOURCES[0] = args.resources
    with tempfile.TemporaryDirectory(prefix="jinshan-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if not args.skip_backfill:
            crawl_table(args, tmp)
        if not args.skip_day:
            r = steady_day(tmp, args.day_minutes, args.scale, seed=3)
            print(
                f"\nSteady polling, {args.day_minutes} simulated minutes ({args.day_minutes * args.scale:.0f} s real)\n"
            )
            print(
                "| new articles | HTTP requests | requests per new article | 304 answers | lists that changed (200 to a conditional request) | unconditional re-downloads |"
            )
            print("|---:|---:|---:|---:|---:|---:|")
            print(
                f"| {r['published']:.0f} | {r['requests']:.0f} | {r['per_article']:.2f} | {r['not_modified']:.0f} | "
                f"{r['changed_lists']:.0f} | {r['full_redownloads']:.0f} |"
            )
            print(json.dumps(r), file=sys.stderr)


if __name__ == "__main__":
    main()
