"""``python -m tests.e2e.replica``: serve a replica until SIGTERM or Ctrl-C.

Prints one line ``READY <base_url>`` on stdout when it listens (``ReplicaProcess`` waits for it).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import date
from types import FrameType

from tests.e2e.replica.replica import Replica
from tests.e2e.replica.server import ReplicaServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.e2e.replica", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="only 127.0.0.1 makes sense here")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--articles", type=int, default=240, help="current articles")
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 1), help="first day")
    p.add_argument("--days", type=int, default=32)
    p.add_argument("--epaper-days", type=int, default=7, help="issues, for the last N days")
    p.add_argument("--epaper-pages", type=int, default=4)
    p.add_argument("--old", type=int, default=6, help="old GBK Founder articles")
    p.add_argument("--crawl-delay", type=float, default=None, help="Crawl-delay line in robots.txt")
    p.add_argument("--log-size", type=int, default=100_000, help="requests kept in memory")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    replica = Replica(
        seed=a.seed, n_articles=a.articles, start=a.start, days=a.days, epaper_days=min(a.epaper_days, a.days),
        epaper_pages=a.epaper_pages, old_articles=a.old, crawl_delay=a.crawl_delay,
    )
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with ReplicaServer(replica, host=a.host, port=a.port, log_size=a.log_size) as server:
        print(f"READY {server.base_url}", flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
