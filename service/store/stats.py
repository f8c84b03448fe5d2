"""``jinshan stats``: what the archive holds and how the crawl is doing, as one plain dict.

Fill rates are measured on the current version of the most recent ``FILL_SAMPLE`` articles, so the
command stays fast on a large archive and reflects today's extractor. The database URL is shown with
its password redacted; nothing else secret is stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, func, select

from service.model import CREDIT_ROLES
from service.settings import redact_url
from service.store import frontier, recheck, resources, runs
from service.store.schema import article_urls, article_versions, articles, fetches, urls

FILL_SAMPLE = 5000
FILL_FIELDS = ("site_id", "subtitle", "published_at", "channel", "source", "lead", "images", *CREDIT_ROLES)


def collect(conn: Connection) -> dict[str, Any]:
    """Everything ``jinshan stats`` shows, read on ``conn``."""
    states = frontier.counts(conn)  # kept by triggers: the frontier is never counted
    return {
        "database": redact_url(conn.engine.url.render_as_string(hide_password=False)),
        "counts": _counts(conn, urls_total=sum(states.values())),
        "fill_rates": _fill_rates(conn),
        "frontier": states,
        "last_runs": runs.last(conn),
        "errors": _errors(conn),
        # edits found late: articles with a version first seen at least 1 day, … after publication
        "changed_after": recheck.change_ages(conn),
        # resources archived with pages, by kind, with their bytes (images, stylesheets, fonts …)
        "resources": resources.counts(conn),
    }


def _count(conn: Connection, q: Any) -> int:
    return int(conn.execute(q).scalar_one())


def _counts(conn: Connection, *, urls_total: int) -> dict[str, int]:
    n = func.count()
    return {
        "articles": _count(conn, select(n).select_from(articles).where(articles.c.duplicate_of.is_(None))),
        "versions": _count(conn, select(n).select_from(article_versions)),
        "changed_articles": _count(conn, select(n).select_from(articles).where(articles.c.version > 1)),
        # every URL found to hold an already stored text is recorded once, as an alias
        "duplicates": _count(conn, select(n).select_from(article_urls)),
        "near_duplicates": _count(
            conn, select(n).select_from(articles).where(articles.c.duplicate_of.is_not(None))
        ),
        "gone": _count(conn, select(n).select_from(articles).where(articles.c.gone_at.is_not(None))),
        "urls": urls_total,
        "fetches": _count(conn, select(n).select_from(fetches)),
    }


def _fill_rates(conn: Connection) -> dict[str, Any]:
    rows = conn.execute(
        select(article_versions.c.data)
        .join(articles, articles.c.current_version_id == article_versions.c.id)
        .order_by(articles.c.id.desc())
        .limit(FILL_SAMPLE)
    ).scalars()
    filled = dict.fromkeys(FILL_FIELDS, 0)
    total = 0
    for data in rows:
        total += 1
        for field in FILL_FIELDS:
            if data.get(field):
                filled[field] += 1
    rates = {f: round(filled[f] / total, 3) if total else None for f in FILL_FIELDS}
    return {"sample": total, "rates": rates}


def _errors(conn: Connection, top: int = 10) -> list[dict[str, Any]]:
    """The most frequent last errors of URLs, with their state."""
    return [
        {"state": r.state, "error": r.last_error, "count": int(r.n)} for r in conn.execute(errors_query(top))
    ]


def errors_query(top: int) -> Select[Any]:
    """Reads the partial index ``ix_urls_errors`` (0006): only the URLs that hold an error."""
    n = func.count().label("n")
    return (
        select(urls.c.state, urls.c.last_error, n)
        .where(urls.c.last_error.is_not(None))
        .group_by(urls.c.state, urls.c.last_error)
        .order_by(n.desc())
        .limit(top)
    )
