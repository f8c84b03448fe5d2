"""The control endpoint under ``/__control/`` and its clients, for a replica run as a subprocess.

The crawler never sees these URLs: no page links them and robots.txt disallows them. Requests are
JSON over POST (GET for reads); answers are JSON. ``RemoteReplica`` wraps them with the method names
of ``ReplicaServer`` so a test reads the same in-process or not; ``ReplicaProcess`` starts
``python -m tests.e2e.replica`` and waits until it listens.

    GET  /__control/ping                      {"ok": true, "base_url": …}
    GET  /__control/requests?since=N          the request log from entry N on
    POST /__control/clear_requests
    GET  /__control/expected?url=U            ground truth of one article (404 if none)
    GET  /__control/articles                  every live ground truth, JSON Lines
    GET  /__control/info                      duplicates, not_articles, deleted URLs, issues
    POST /__control/edit      {url, title?, paragraphs?}
    POST /__control/delete    {url}
    POST /__control/publish   {n, at?}         → {"urls": […]}
    POST /__control/fault     {kind, status?, retry_after?, delay?, depth?, path?, pattern?, times?, share?}
    POST /__control/clear_faults
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

if TYPE_CHECKING:
    from tests.e2e.replica.server import ReplicaServer

PREFIX = "/__control/"
ROOT = Path(__file__).resolve().parents[3]


def _json(status: int, payload: Any) -> tuple[int, bytes]:
    return status, json.dumps(payload, ensure_ascii=False).encode("utf-8")


def handle(app: ReplicaServer, method: str, path: str, query: str, body: bytes) -> tuple[int, bytes]:
    """Run one control action; returns (status, JSON bytes). Bad input gives 400 with the reason."""
    action = path.removeprefix(PREFIX).strip("/")
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    try:
        args = json.loads(body) if body else {}
        return _dispatch(app, action, method, args, params)
    except KeyError as exc:
        return _json(404, {"error": f"unknown: {exc.args[0]}"})
    except (TypeError, ValueError) as exc:
        return _json(400, {"error": str(exc)})


def _dispatch(app: ReplicaServer, action: str, method: str, args: dict[str, Any], params: dict[str, str]) -> tuple[int, bytes]:
    r = app.replica
    if action == "ping":
        return _json(200, {"ok": True, "base_url": app.base_url})
    if action == "requests":
        return _json(200, [rec.to_json() for rec in app.requests[int(params.get("since", 0)) :]])
    if action == "expected":
        return _json(200, r.expected(params["url"]))
    if action == "articles":
        lines = "\n".join(json.dumps(a, ensure_ascii=False) for a in r.articles())
        return 200, lines.encode("utf-8")
    if action == "info":
        return _json(200, {"duplicates": r.duplicates(), "not_articles": r.not_articles(),
                           "deleted": r.deleted_urls(), "issues": [d.isoformat() for d in r.issues]})
    if method != "POST":
        return _json(405, {"error": f"{action} needs POST"})
    return _mutate(app, action, args)


def _mutate(app: ReplicaServer, action: str, args: dict[str, Any]) -> tuple[int, bytes]:
    if action == "clear_requests":
        app.clear_requests()
    elif action == "edit":
        return _json(200, app.edit(args["url"], title=args.get("title"), paragraphs=args.get("paragraphs")))
    elif action == "delete":
        app.delete(args["url"])
    elif action == "publish":
        at = datetime.fromisoformat(args["at"]) if args.get("at") else None
        return _json(200, {"urls": app.publish(int(args.get("n", 1)), at=at)})
    elif action == "fault":
        return _json(200, app.fault(**args).to_json())
    elif action == "clear_faults":
        app.clear_faults()
    else:
        raise KeyError(action)
    return _json(200, {"ok": True})


class RemoteReplica:
    """The controls of a replica server in another process, by its base URL."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout

    def _call(self, action: str, payload: dict[str, Any] | None = None, query: str = "") -> Any:
        url = f"{self.base_url}{PREFIX.lstrip('/')}{action}{'?' + query if query else ''}"
        data = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else None
        req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            raw = resp.read().decode("utf-8")
        return raw if action == "articles" else json.loads(raw)

    def ping(self) -> bool:
        try:
            return bool(self._call("ping")["ok"])
        except (OSError, urllib.error.URLError):
            return False

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self._call("requests", query=f"since={since}"))

    def clear_requests(self) -> None:
        self._call("clear_requests", {})

    def expected(self, url: str) -> dict[str, Any]:
        return dict(self._call("expected", query="url=" + quote(url, safe="")))

    def articles(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._call("articles").splitlines() if line]

    def info(self) -> dict[str, Any]:
        return dict(self._call("info"))

    def edit(self, url: str, *, title: str | None = None, paragraphs: list[str] | None = None) -> dict[str, Any]:
        return dict(self._call("edit", {"url": url, "title": title, "paragraphs": paragraphs}))

    def delete(self, url: str) -> None:
        self._call("delete", {"url": url})

    def publish(self, n: int = 1, *, at: datetime | None = None) -> list[str]:
        return list(self._call("publish", {"n": n, "at": at.isoformat() if at else None})["urls"])

    def fault(self, **spec: Any) -> dict[str, Any]:
        return dict(self._call("fault", spec))

    def clear_faults(self) -> None:
        self._call("clear_faults", {})


class ReplicaProcess(RemoteReplica):
    """``python -m tests.e2e.replica …`` as a child process; ``args`` are its command-line options.

    Use as a context manager: it starts the server on a free port, waits for its READY line, and
    terminates it on exit (killing it if it does not stop within 5 seconds).
    """

    def __init__(self, *args: str, python: str = sys.executable, timeout: float = 30.0) -> None:
        super().__init__("http://127.0.0.1:0/", timeout=timeout)
        self.argv = [python, "-m", "tests.e2e.replica", "--port", "0", *args]
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> ReplicaProcess:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + self.timeout
        line = self.proc.stdout.readline()  # "READY http://127.0.0.1:PORT/"
        if not line.startswith("READY ") or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"replica did not start: {line!r}")
        self.base_url = line.split()[1]
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> ReplicaProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
