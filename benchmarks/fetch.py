"""Fetch throughput and memory: the Fetcher against a local server, politeness lifted, archiving on.

Prints a table (the one quoted in docs/benchmarks.md). Run from the repository root:

    .venv/bin/python benchmarks/fetch.py                     # 5,000 then 20,000 requests
    .venv/bin/python benchmarks/fetch.py --checkpoints 3000 --concurrency 2,4,8,16,32
    .venv/bin/python benchmarks/fetch.py --checkpoints 3000 --no-archive

The Fetcher runs as the service runs it: httpx's own transport (httpcore's connection pool).

Peak RSS is the process high-water mark (it never goes down), so within one pass a flat peak between
the checkpoints shows that memory does not grow with the number of requests.

The server (tests/support/faultserver.py, asyncio streams, keep-alive) runs in its own process so
it does not share the client's core; its CPU share is printed to show it is not the bottleneck.
Everything stays on 127.0.0.1, the run is bounded by --checkpoints and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from service.errors import FetchError  # noqa: E402
from service.fetch import Fetcher, WarcArchive  # noqa: E402
from tests.support.faultserver import fast_settings  # noqa: E402


@dataclass
class Row:
    requests: int
    seconds: float
    errors: int
    peak_rss_mb: float
    rss_mb: float
    archive_mb: float
    server_cpu: float
    client_cpu_s: float

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.client_cpu_s / self.requests

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def start_server() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.faultserver", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, int(line.split()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.glob("*")) / 1e6


async def run(
    port: int,
    server_pid: int,
    checkpoints: list[int],
    concurrency: int,
    archive_dir: Path | None,
) -> list[Row]:
    settings = fast_settings(
        requests_per_second=1e6, concurrency=concurrency, obey_robots=False, timeout_s=30
    )
    archive = WarcArchive(archive_dir) if archive_dir else None
    rows: list[Row] = []
    done = errors = 0
    async with Fetcher(settings, archive=archive) as fetcher:
        queue: asyncio.Queue[int] = asyncio.Queue()

        async def worker() -> None:
            nonlocal done, errors
            while True:
                i = await queue.get()
                try:
                    await fetcher.fetch(f"http://127.0.0.1:{port}/bench?i={i}")
                except FetchError:
                    errors += 1
                done += 1
                queue.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        start, cpu0, own0 = time.perf_counter(), cpu_seconds(server_pid), time.process_time()
        for target in checkpoints:
            for i in range(done + queue.qsize(), target):
                queue.put_nowait(i)
            await queue.join()
            elapsed = time.perf_counter() - start
            server_cpu = (cpu_seconds(server_pid) - cpu0) / elapsed
            size = dir_mb(archive_dir) if archive_dir else 0.0
            own = time.process_time() - own0
            rows.append(Row(done, elapsed, errors, peak_rss_mb(), rss_mb(), size, server_cpu, own))
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    if archive is not None:
        archive.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="Fetcher throughput and memory against 127.0.0.1")
    parser.add_argument("--checkpoints", default="5000,20000", help="cumulative request counts to report at")
    parser.add_argument(
        "--concurrency", default="8", help="requests in flight; a comma list runs one pass per value"
    )
    parser.add_argument("--no-archive", action="store_true")
    args = parser.parse_args()
    checkpoints = sorted(int(x) for x in args.checkpoints.split(","))
    if checkpoints[-1] > 200_000:
        raise SystemExit("at most 200,000 requests: this is a bounded benchmark")
    proc, port = start_server()
    results: list[tuple[int, Row]] = []
    try:
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            with tempfile.TemporaryDirectory(prefix="jinshan-bench-warc-") as tmp:
                archive_dir = None if args.no_archive else Path(tmp)
                rows = asyncio.run(run(port, proc.pid, checkpoints, concurrency, archive_dir))
            results += [(concurrency, r) for r in rows]
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"fetch benchmark: {os.cpu_count()} CPUs, archive {'off' if args.no_archive else 'on (gzip WARC)'}, "
          f"page {len(_page())} bytes, one host, robots off, rate unlimited")  # fmt: skip
    print("| in flight | requests | seconds | req/s | client CPU ms per request | errors | peak RSS MB "
          "| RSS MB | WARC MB | server CPU |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for concurrency, r in results:
        print(
            f"| {concurrency} | {r.requests:,} | {r.seconds:.1f} | {r.rate:.0f} | {r.cpu_ms_per_request:.2f} "
            f"| {r.errors} | {r.peak_rss_mb:.0f} "
            f"| {r.rss_mb:.0f} | {r.archive_mb:.1f} | {r.server_cpu:.0%} |"
        )


def _page() -> bytes:
    from tests.support.faultserver import BENCH_PAGE

    return BENCH_PAGE


if __name__ == "__main__":
    main()
