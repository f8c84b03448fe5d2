"""``python -m tests.e2e.replica.loadcheck``: how many pages per second the replica server serves.

Starts the server as a subprocess on 127.0.0.1 (as the crawl benchmark does), then fetches distinct
article pages (first visits: nothing is cached) and list pages over keep-alive connections from a
few threads. Bounded by ``--requests`` and ``--seconds``; stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time
from urllib.parse import urlsplit

from tests.e2e.replica.control import ReplicaProcess
from tests.e2e.replica.replica import Replica


def _worker(host: str, port: int, paths: list[str], deadline: float, out: list[tuple[int, int]]) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    done = size = 0
    for path in paths:
        if time.monotonic() > deadline:
            break
        conn.request("GET", path)
        resp = conn.getresponse()
        size += len(resp.read())
        done += resp.status == 200
    conn.close()
    out.append((done, size))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--articles", type=int, default=20_000)
    p.add_argument("--requests", type=int, default=6_000)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--seconds", type=float, default=60)
    a = p.parse_args()
    replica = Replica(seed=1, n_articles=a.articles, days=90)
    step = max(1, a.articles // a.requests)
    paths = [replica.site_entry(i).path for i in range(0, a.articles, step)][: a.requests]
    with ReplicaProcess("--seed", "1", "--articles", str(a.articles), "--days", "90") as proc:
        parts = urlsplit(proc.base_url)
        assert parts.hostname == "127.0.0.1" and parts.port
        out: list[tuple[int, int]] = []
        shards = [paths[k :: a.concurrency] for k in range(a.concurrency)]
        started = time.monotonic()
        threads = [threading.Thread(target=_worker, args=(parts.hostname, parts.port, s, started + a.seconds, out))
                   for s in shards]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - started
    ok, size = sum(d for d, _ in out), sum(s for _, s in out)
    print(f"{ok} article pages (first visits, {size / max(ok, 1) / 1024:.1f} KiB each) in {took:.2f} s "
          f"with {a.concurrency} connections: {ok / took:.0f} pages/s")


if __name__ == "__main__":
    main()
