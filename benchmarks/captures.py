"""Captures benchmark: what archiving each page with its resources costs, in requests, bytes and
disk, and what it does to a history backfill held to the site's politeness (1 request/s).

The real ``jinshan backfill`` against the generated replica on 127.0.0.1, once per value of
``archive.resources`` ("off", "images", "page"), each on a fresh SQLite database, politeness lifted
(the request counts do not depend on the rate). Reported per stored article: HTTP requests (every
request the replica saw: robots.txt, lists, pages, resources), bytes received (bodies as the
replica sent them), WARC bytes on disk and database bytes; then disk per 1,000 articles and the
hours a backfill of N articles takes at 1 request/s (requests / rate: politeness, not CPU, bounds
it). The replica's pages carry a stylesheet (with an import, a font and a background image), a
logo, two spacer GIFs and 0-2 photos of about 50 KB: real pages carry more and larger images, so
the figures are a lower bound of the real site's costs per article, and the replica's
speed an upper bound of ours.

    .venv/bin/python benchmarks/captures.py [--articles 400] [--days 20] [--rate 1.0] [--backfill 100000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import Archiver, write_config  # noqa: E402
from tests.e2e.replica import Replica, ReplicaServer  # noqa: E402

MODES = ("off", "images", "page")


def measure(mode: str, *, articles: int, days: int) -> dict[str, float]:
    """One backfill of a fresh replica with ``archive.resources = mode``; its counts."""
    tmp = Path(tempfile.mkdtemp(prefix=f"jinshan-captures-{mode}-"))
    try:
        replica = Replica(
            seed=3, n_articles=articles, days=days, epaper_days=2, epaper_pages=2, old_articles=4
        )
        with ReplicaServer(replica, log_size=1_000_000) as server:
            config = write_config(tmp, server.base_url, f"sqlite:///{tmp / 'archive.db'}",
                                  archive={"resources": mode})  # fmt: skip
            archiver = Archiver(config, tmp)
            started = time.monotonic()
            done = archiver.run("backfill", "--since", "2010-01-01", timeout=3600)
            elapsed = time.monotonic() - started
            if done.returncode != 0:
                raise SystemExit(f"backfill failed ({mode}): {done.stderr[-2000:]}")
            seen = server.requests
            stored = len(archiver.export())
            body_bytes = sum(
                len(server.site.resolve(r.path.split("?", 1)[0]).body) for r in seen if r.status == 200
            )
        warc = sum(p.stat().st_size for p in (tmp / "warc").glob("*.warc.gz"))
        db = sum(p.stat().st_size for p in tmp.glob("archive.db*"))
        resources = sum(1 for r in seen if not r.path.endswith((".shtml", ".htm", ".html", "/", ".txt")))
        return {"articles": stored, "requests": len(seen), "resource_requests": resources,
                "bytes": body_bytes, "warc": warc, "db": db, "seconds": elapsed}  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1.0, help="the site's politeness, requests/s")
    parser.add_argument("--backfill", type=int, default=100_000, help="articles of the history backfill")
    args = parser.parse_args()
    rows = {mode: measure(mode, articles=args.articles, days=args.days) for mode in MODES}
    print(f"replica: {args.articles} site articles over {args.days} days (+ e-paper, old pages); "
          f"SQLite; politeness lifted\n")  # fmt: skip
    print(
        "| archive.resources | articles | requests / article | resource requests / article "
        "| KB received / article | WARC KB / article | DB KB / article | disk MB / 1,000 articles "
        f"| backfill of {args.backfill:,} articles at {args.rate:g} req/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode, r in rows.items():
        n = r["articles"] or 1
        per = r["requests"] / n
        disk = (r["warc"] + r["db"]) / n * 1000 / 1e6
        hours = per * args.backfill / args.rate / 3600
        print(f"| {mode} | {int(r['articles'])} | {per:.2f} | {r['resource_requests'] / n:.2f} "
              f"| {r['bytes'] / n / 1024:.1f} | {r['warc'] / n / 1024:.1f} | {r['db'] / n / 1024:.1f} "
              f"| {disk:.1f} | {hours:,.0f} h ({hours / 24:.1f} days) |")  # fmt: skip


if __name__ == "__main__":
    main()
