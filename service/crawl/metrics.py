"""Prometheus metrics of the daemon and the backfill, in one registry of our own.

Counters move as the crawl works; gauges are set at the end of each cycle from the database
(frontier sizes) and from the cycle's articles (fill rates, the template-change alarm). Label values
are closed vocabularies (statuses, outcomes, field names, layers): never URLs, never secrets.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

# the *_created series double every counter for no use of ours
disable_created_metrics()  # type: ignore[no-untyped-call]


class _Counter(Counter):
    """A counter whose labelled children are kept in a plain dict: prometheus-client checks and
    copies the label values under a lock at every ``labels`` call, and the crawl makes a dozen per
    article."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._by_values: dict[tuple[Any, ...], Any] = {}

    def labels(self, *values: Any, **by_name: Any) -> Any:
        key = values or tuple(by_name.items())
        child = self._by_values.get(key)
        if child is None:
            child = self._by_values[key] = super().labels(*values, **by_name)
        return child


class Metrics:
    """All metrics; one instance per process (tests make their own)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_start_time_seconds, memory: restarts and leaks show
        self.fetches = _Counter(
            "jinshan_fetches", "HTTP exchanges by status (or error reason).", ["status"], registry=r
        )
        self.articles = _Counter(
            "jinshan_articles",
            "Stored articles by outcome (new, changed, unchanged, duplicate, gone).",
            ["outcome"],
            registry=r,
        )
        self.not_articles = _Counter(
            "jinshan_not_articles", "Pages that were not articles, by reason.", ["reason"], registry=r
        )
        self.layers = _Counter(
            "jinshan_extraction_fields",
            "Fields filled, by the extraction layer that filled them.",
            ["field", "layer"],
            registry=r,
        )
        self.fill_rate = Gauge(
            "jinshan_field_fill_rate",
            "Share of the last cycle's articles with the field filled.",
            ["field"],
            registry=r,
        )
        self.frontier = Gauge(
            "jinshan_frontier_urls", "URLs in the frontier by state.", ["state"], registry=r
        )
        self.last_success = Gauge(
            "jinshan_last_success_timestamp_seconds",
            "End of the last successful cycle (Unix time).",
            registry=r,
        )
        self.alarm = Gauge(
            "jinshan_template_alarm",
            "1 while a field's fill rate dropped past the threshold.",
            ["field"],
            registry=r,
        )
        self.resources = _Counter(
            "jinshan_resources",
            "Resources of archived pages (images, stylesheets, fonts, scans) by kind and outcome "
            "(archived, revisit, unchanged, missing).",
            ["kind", "outcome"],
            registry=r,
        )
        self.resource_bytes = _Counter(
            "jinshan_resource_bytes", "Bytes of resources archived, by kind.", ["kind"], registry=r
        )
        self.cycles = _Counter(
            "jinshan_cycles", "Daemon cycles and backfills by result.", ["result"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
