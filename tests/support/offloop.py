"""A sanitizer for code that runs on an event loop: it records every ``Store`` call and every
``time.sleep`` made on a thread that is running an event loop (the loop's own thread), where they
block everything else (fetches, signals, /healthz)."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from service.store import Store

#: ``Store`` methods that never touch the database (pure, or building an object used elsewhere)
NO_IO = {"key", "reader", "leader_lock", "close"}


def on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class OnLoop:
    """What was called on an event loop's thread: ``(what, thread name)`` each."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.off_loop = 0
        self._lock = threading.Lock()

    def note(self, what: str) -> None:
        with self._lock:
            if on_a_loop():
                self.calls.append((what, threading.current_thread().name))
            else:
                self.off_loop += 1


def _wrap(what: str, fn: Callable[..., Any], seen: OnLoop) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        seen.note(what)
        return fn(*args, **kwargs)

    return call


@contextmanager
def watch(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[OnLoop]:
    """Every public method of ``store`` (those that reach the database) and ``time.sleep``
    record where they run while the block lasts."""
    seen = OnLoop()
    for name in dir(Store):
        if name.startswith("_") or name in NO_IO or not callable(getattr(Store, name)):
            continue
        monkeypatch.setattr(store, name, _wrap(f"Store.{name}", getattr(store, name), seen))
    monkeypatch.setattr(time, "sleep", _wrap("time.sleep", time.sleep, seen))
    yield seen
