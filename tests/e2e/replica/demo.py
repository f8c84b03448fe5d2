"""``make demo``: the product on a filled archive, on a machine that cannot reach the site.

Serves a replica of the site on 127.0.0.1 (this package), backfills it into a throwaway archive (a
temporary folder: SQLite and WARC files) with the real ``jinshan backfill``, then serves the web view
with the real ``jinshan serve`` and prints its address. Ctrl-C (or SIGTERM) stops everything and
removes the folder (``--keep`` keeps it).

It lives beside the replica, not in ``service/``: the replica is test code, which the product never
imports, and neither is shipped in the package. The configuration it writes is a demo's: a local
replica may be fetched at 50 requests/s; the product's defaults (1 request/s) are not touched.

Prints ``demo: …`` lines on stdout, the last one before the wait being ``demo: the archive is on
http://127.0.0.1:PORT/``. Exit codes: 0 after Ctrl-C or SIGTERM (or ``--exit-after-backfill``), 2
when the backfill or the web view could not run.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from tests.e2e.replica.replica import Replica
from tests.e2e.replica.server import ReplicaServer
from tests.e2e.replica.settings import toml

ROOT = Path(__file__).resolve().parents[3]
#: politeness for a replica on this machine: a demo setting, far above the product's 1 request/s
DEMO_FETCH = {"requests_per_second": 50.0, "concurrency": 4, "timeout_s": 10.0, "retry_after_s": 5.0}
#: how long `jinshan serve` may take to print its address
SERVE_START_S = 60.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.e2e.replica.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", type=int, default=400, help="current articles of the replica")
    p.add_argument("--days", type=int, default=45, help="days they span, up to yesterday")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--listen", default="127.0.0.1:0", help="the web view's HOST:PORT (port 0: a free one)")
    p.add_argument("--keep", type=Path, default=None, help="put the archive in this folder and keep it")
    p.add_argument("--exit-after-backfill", action="store_true", help="stop once the archive is filled")
    return p.parse_args(argv)


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


#: the C library, loaded before any fork: a child between fork and exec must not import anything
_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In a child, before it runs: the kernel sends it SIGTERM when the demo dies, even by
    ``kill -9`` (Linux), so no server outlives the demo."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


class Children:
    """The demo's child processes; ``stop_all`` ends them (SIGTERM, then SIGKILL after 10 s)."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[Any]] = []

    def start(self, args: list[str], **kw: Any) -> subprocess.Popen[Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JINSHAN_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        process = subprocess.Popen(args, cwd=ROOT, env=env, preexec_fn=_die_with_parent, **kw)
        self.running.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def write_config(folder: Path, base_url: str) -> Path:
    path = folder / "demo.toml"
    header = (
        "# make demo: a replica of the site on this machine, archived into this folder.\n"
        "# Politeness is lifted for the local replica only; the product's defaults are unchanged.\n"
    )
    sections = {
        "database": {"url": f"sqlite:///{folder / 'archive.db'}"},
        "archive": {"path": str(folder / "warc")},
        "fetch": DEMO_FETCH,
        "web": {"listen": ""},
    }
    path.write_text(header + toml(base_url, sections), encoding="utf-8")
    return path


def jinshan(*args: str) -> list[str]:
    return [sys.executable, "-m", "service", *args]


def serve(children: Children, config: Path, listen: str) -> tuple[subprocess.Popen[str], str]:
    """``jinshan serve`` on ``listen``; the process and the address it printed."""
    process = children.start(jinshan("serve", "--listen", listen, "--config", str(config)),
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stderr is not None
    found: list[str] = []

    def read() -> None:  # the address line, then its log lines passed on as they come
        assert process.stderr is not None
        for line in process.stderr:
            if not found and (m := re.search(r"http://[\d.]+:\d+/", line)):
                found.append(m.group(0))
            else:
                sys.stderr.write(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + SERVE_START_S
    while not found and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not found:
        raise RuntimeError(f"jinshan serve did not start (exit code {process.poll()})")
    return process, found[0]


def run(a: argparse.Namespace, folder: Path, done: threading.Event, children: Children) -> int:
    today = date.today()
    start = today - timedelta(days=a.days)
    replica = Replica(seed=a.seed, n_articles=a.articles, start=start, days=a.days,
                      epaper_days=min(7, a.days), epaper_pages=4, old_articles=6)  # fmt: skip
    with ReplicaServer(replica) as site:
        say(f"a replica of the site ({a.articles} articles, {start} to {today - timedelta(days=1)}, "
            f"e-paper, old GBK pages) on {site.base_url}")  # fmt: skip
        config = write_config(folder, site.base_url)
        say(f"backfilling it into {folder} (configuration: {config.name})")
        began = time.monotonic()
        backfill = children.start(jinshan("backfill", "--since", "2010-01-01", "--config", str(config)))
        while backfill.poll() is None:
            if done.wait(0.2):
                return 0
        if backfill.returncode not in (0, 1):  # 1: some URLs failed, the archive is still worth a look
            say(f"the backfill failed (exit code {backfill.returncode})")
            return 2
        say(f"backfill done in {time.monotonic() - began:.0f} s")
        if a.exit_after_backfill:
            return 0
        try:
            server, address = serve(children, config, a.listen)
        except RuntimeError as exc:
            say(str(exc))
            return 2
        say(f"the archive is on {address} (Ctrl-C stops the demo)")
        while not done.wait(0.5):
            if server.poll() is not None:
                say(f"jinshan serve stopped (exit code {server.returncode})")
                return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    children = Children()
    folder = a.keep or Path(tempfile.mkdtemp(prefix="jinshan-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return run(a, folder.resolve(), done, children)
    finally:
        children.stop_all()
        if a.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
        say("stopped" if done.is_set() else "done")


if __name__ == "__main__":
    sys.exit(main())
