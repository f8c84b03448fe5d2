"""Extraction with bounds: a page may cost the crawl some CPU, never the process.

Between fetch and store. Two guards around ``extract_article``:

1. ``check_nesting`` refuses, before any parsing, markup nested deeper than ``MAX_DEPTH`` (a byte
   scan of the tags): the HTML parser's time grows with the square of the depth, and a 3.3 MB page
   of 300,000 unclosed ``<div>`` kept it busy for over ten minutes (64,000 took 11 s per parse);
   real pages stay under a hundred levels. Pages with fewer tags than ``MAX_DEPTH`` skip the scan.
2. ``extract_bounded`` runs the extraction in a thread of its own, with a time limit: the parser
   releases the GIL, so the event loop (``/healthz``, signals, the other URLs) goes on meanwhile,
   and a page that still takes longer than ``EXTRACT_TIMEOUT_S`` is refused as "malformed". A thread
   cannot be killed: the runaway one finishes in the background (a daemon thread, never waited for
   at exit), its result discarded. Threads are kept for the next page (up to ``MAX_IDLE_THREADS``
   idle): starting one per page was 2.5 % of the crawl's CPU in a profile of ``benchmarks/crawl.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import threading
from collections.abc import Callable
from typing import ClassVar, TypeVar

from service.errors import NotAnArticle

T = TypeVar("T")

#: deeper than this the page is refused unparsed (8,000 levels parse in about 0.1 s)
MAX_DEPTH = 5_000
#: the longest one page's extraction may take, in seconds
EXTRACT_TIMEOUT_S = 60.0
#: finished extraction threads kept waiting for the next page (more at once start new ones)
MAX_IDLE_THREADS = 4

_TAG = re.compile(rb"<(/?)([a-zA-Z][a-zA-Z0-9]{0,15})(?=[\s/>])[^>]*?(/?)>")
#: elements that never hold content, and those whose end tag the parser implies (a new <p> closes
#: the open one): neither makes the tree deeper
_FLAT = frozenset(
    b"area base br col embed hr img input link meta source track wbr p li dt dd option tr td th".split()
)


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of elements in ``body`` as a tag scan sees it (end tags close the
    innermost open element; void and self-closing tags do not count)."""
    depth = deepest = 0
    for closing, name, selfclosing in _TAG.findall(body):
        if name.lower() in _FLAT or selfclosing:
            continue
        if closing:
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def check_nesting(body: bytes, *, url: str | None = None, limit: int = MAX_DEPTH) -> None:
    """Raise ``NotAnArticle("malformed")`` when ``body`` nests elements deeper than ``limit``."""
    if body.count(b"<") <= limit:
        return
    depth = nesting_depth(body)
    if depth > limit:
        raise NotAnArticle(
            "malformed", f"elements nested {depth} deep (limit {limit}): not parsed", url=url, rule="too_deep"
        )


async def run_bounded(work: Callable[[], T], *, timeout: float, what: str) -> T:
    """``work()`` in a daemon thread; its result, or ``NotAnArticle("malformed")`` after ``timeout``
    seconds (the thread is left to finish). Exceptions of ``work`` are raised here."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not done.done():
            outcome()

    def target() -> None:
        threading.current_thread().name = f"extract {what}"[:60]
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting task, raised there
            error = exc
            _call_soon(loop, settle, lambda: done.set_exception(error))
        else:
            _call_soon(loop, settle, lambda: done.set_result(result))

    _Worker.submit(target)
    late = NotAnArticle(
        "malformed", f"extraction took longer than {timeout:.0f} s", url=what, rule="too_slow"
    )
    timer = loop.call_later(timeout, settle, lambda: done.set_exception(late))
    try:
        return await done
    finally:
        timer.cancel()


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: object) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed while the thread ran (a stop)
        loop.call_soon_threadsafe(fn, *args)


class _Worker(threading.Thread):
    """A daemon thread that runs one job at a time and then waits, idle, for the next."""

    _idle: ClassVar[list[_Worker]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        super().__init__(name="extract", daemon=True)
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    @classmethod
    def submit(cls, job: Callable[[], None]) -> None:
        """Run ``job`` on an idle thread, or on a new one when none is idle."""
        with cls._lock:
            worker = cls._idle.pop() if cls._idle else None
        if worker is None:
            worker = cls()
            worker.start()
        worker.jobs.put(job)

    def run(self) -> None:
        while True:
            self.jobs.get()()
            with self._lock:
                if len(self._idle) >= MAX_IDLE_THREADS:
                    return
                self._idle.append(self)

    @classmethod
    def forget(cls) -> None:
        """In a forked child the parent's threads do not exist: never hand them a job."""
        cls._idle = []
        cls._lock = threading.Lock()


os.register_at_fork(after_in_child=_Worker.forget)
