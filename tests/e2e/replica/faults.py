"""Fault injection rules: which request gets which failure.

A rule matches a path exactly (``path``), by regular expression (``pattern``) or every path (neither).
It fires for the first ``times`` requests to each matching path and then lets it through (so a
crawler that retries succeeds), or for a ``share`` of the matching requests drawn from a seeded
generator (reproducible for a given request order), or always. Rules are tried in the order added.

Kinds: ``status`` (e.g. 500, 503, or 429 with ``retry_after`` seconds), ``slow`` (the response
starts after ``delay`` seconds, beyond a client's timeout), ``reset`` (headers and half the body,
then a TCP reset), ``truncate`` (headers announcing the full length, half the body, then a clean
close), ``poison`` (200 with a page of ``depth`` unclosed ``<div>``: 300,000 make 3.3 MB, under the
size cap, and keep an HTML parser busy for minutes), ``captcha`` (200 with a "please verify"
page, as a web application firewall answers a crawler it blocks).
"""

from __future__ import annotations

import itertools
import random
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("status", "slow", "reset", "truncate", "poison", "captcha")


@dataclass(frozen=True, slots=True)
class Fault:
    """One rule; see the module docstring. ``id`` is assigned by ``Faults.add``."""

    kind: str = "status"
    status: int = 503
    retry_after: float | None = None
    delay: float = 5.0
    depth: int = 300_000
    path: str | None = None
    pattern: str | None = None
    times: int | None = None
    share: float | None = None
    id: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def matches(self, path: str) -> bool:
        if self.path is not None:
            return path == self.path
        return self._regex is None or bool(self._regex.search(path))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("_regex")
        return out


class Faults:
    """The active rules and their per-path counters; safe to use from many threads."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: list[Fault] = []
        self._counts: dict[tuple[int, str], int] = {}
        self._rng = random.Random(f"{seed}:faults")
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, **spec: Any) -> Fault:
        """Add a rule (keyword arguments as the fields of ``Fault``); returns it with its id."""
        kind = spec.get("kind", "status")
        if kind not in KINDS:
            raise ValueError(f"fault kind must be one of {KINDS}, not {kind!r}")
        if spec.get("share") is not None and not 0 <= float(spec["share"]) <= 1:
            raise ValueError("share must be between 0 and 1")
        pattern = spec.get("pattern")
        with self._lock:
            rule = Fault(**spec, id=next(self._ids), _regex=re.compile(pattern) if pattern else None)
            self._rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.id != rule_id]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._counts.clear()

    def rules(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def pick(self, path: str) -> Fault | None:
        """The rule that fires for this request to ``path``, if any (counts it)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(path) and self._fires(rule, path):
                    return rule
        return None

    def _fires(self, rule: Fault, path: str) -> bool:
        if rule.times is not None:
            seen = self._counts.get((rule.id, path), 0)
            self._counts[(rule.id, path)] = seen + 1
            return seen < rule.times
        if rule.share is not None:
            return self._rng.random() < rule.share
        return True
