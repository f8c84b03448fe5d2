"""Crawl benchmark: the real ``jinshan backfill`` against a generated replica on 127.0.0.1, and a
simulated day of the real daemon polling a replica where articles keep appearing.

1. Backfill, politeness lifted, SQLite, archiving on: articles per second and peak RSS of the
   backfill process (VmHWM), for 5,000 and 20,000 articles (a fresh database each).
2. Steady state: ``jinshan run`` with its schedule compressed (1 simulated minute = 1 real second,
   ``--scale``), articles published at random every few simulated minutes, the replica answering
   conditional requests. Reports HTTP requests per new article (everything the daemon asked for:
   robots.txt, list pages, e-paper, articles) and full re-downloads of unchanged pages.

    .venv/bin/python benchmarks/crawl.py [--sizes 5000,20000] [--day-minutes 1440] [--skip-backfill]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.replica.control import ReplicaProcess  # noqa: E402
from tests.e2e.replica.settings import toml  # noqa: E402

LIFTED = {"requests_per_second": 5000.0, "concurrency": 8, "obey_robots": False, "timeout_s": 10.0,
          "shared_politeness": False}  # fmt: skip


def jinshan(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", *args, "--config", str(config)]


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


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def backfill(n: int, tmp: Path, workers: int = 1) -> dict[str, float]:
    days = max(30, n // 200)  # dated up to today: the backfill's --until defaults to today
    start = (datetime.now(UTC).date() - timedelta(days=days)).isoformat()
    with ReplicaProcess("--seed", "5", "--articles", str(n), "--days", str(days), "--start", start,
                        "--epaper-days", "0", "--old", "0", "--log-size", "1000") as replica:  # fmt: skip
        config = tmp / f"bf{n}.toml"
        config.write_text(toml(replica.base_url, {
            "database": {"url": f"sqlite:///{tmp / f'bf{n}w{workers}.db'}"}, "archive": {"path": str(tmp / f"warc{n}w{workers}")},
            "fetch": LIFTED, "web": {"listen": ""}, "log": {"level": "WARNING"}, "epaper": {"enabled": False},
        }))  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.Popen(jinshan(config, "backfill", "--since", "2000-01-01", "--workers", str(workers)), cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
        peaks: dict[int, float] = {}
        cpu: dict[int, float] = {}  # the last reading of each backfill process before it exits
        while proc.poll() is None:
            for pid in (proc.pid, *children(proc.pid)):
                peaks[pid] = max(peaks.get(pid, 0.0), peak_rss_mb(pid))
                cpu[pid] = max(cpu.get(pid, 0.0), cpu_seconds(pid))
            time.sleep(0.2)
        assert replica.proc is not None
        replica_cpu = cpu_seconds(replica.proc.pid)
        peak = max(peaks.values(), default=0.0)  # per process: the helper workers are processes of their own
        elapsed = time.perf_counter() - start
        err = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"backfill failed: {err[-2000:]}")
        stored = sum(1 for _ in subprocess.run(jinshan(config, "export"), capture_output=True, text=True, cwd=tmp,
                                               env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.splitlines())  # fmt: skip
    return {
        "articles": n,
        "workers": workers,
        "stored": stored,
        "seconds": elapsed,
        "per_s": stored / elapsed,
        "peak_mb": peak,
        # where the two cores went: the crawl (all its processes) and the replica serving it
        "crawl_cpu": sum(cpu.values()) / elapsed,
        "replica_cpu": replica_cpu / elapsed,
    }


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--day-minutes", type=int, default=1440, help="simulated minutes of steady polling")
    parser.add_argument("--scale", type=float, default=0.1, help="real seconds per simulated minute")
    parser.add_argument("--workers", default="1,2", help="backfill processes to compare")
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument("--skip-day", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jinshan-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if not args.skip_backfill:
            print("Backfill of a generated replica on 127.0.0.1 (politeness lifted, SQLite, WARC on)\n")
            print("| articles | workers | stored | seconds | articles/s | peak RSS MB per process | cores used: crawl | cores used: replica |")
            print("|---:|---:|---:|---:|---:|---:|---:|---:|")
            for n in (int(x) for x in args.sizes.split(",")):
                for w in (int(x) for x in args.workers.split(",")):
                    r = backfill(n, tmp, w)
                    print(f"| {n:,} | {w} | {r['stored']:,.0f} | {r['seconds']:.1f} | {r['per_s']:.0f} | {r['peak_mb']:.0f} | {r['crawl_cpu']:.2f} | {r['replica_cpu']:.2f} |",
                          flush=True)  # fmt: skip
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
