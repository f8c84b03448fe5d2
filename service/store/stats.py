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
from service.store.schema import article_urls, article_versions, articles, fetches, people, urls

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
    numbers = archive_counts(conn)
    numbers.update(
        changed_articles=_count(conn, select(n).select_from(articles).where(articles.c.version > 1)),
        gone=_count(conn, select(n).select_from(articles).where(articles.c.gone_at.is_not(None))),
        urls=urls_total,
        fetches=_count(conn, select(n).select_from(fetches)),
    )
    # the names of the first release, kept one more release (``stats --json`` is a public
    # contract): ``duplicates`` counted the aliases, ``near_duplicates`` every copy, exact or near
    numbers.update({old: sum(numbers[k] for k in new) for old, new in DEPRECATED_COUNTS.items()})
    return numbers


#: stats keys of the first release → the counts they were (summed); removed in the next release
DEPRECATED_COUNTS = {"duplicates": ("aliases",), "near_duplicates": ("copies_exact", "copies_near")}

#: what each count of ``archive_counts`` is, for the docs and the home page's tooltips
COUNT_HELP = {
    "articles": "articles, each counted once: copies are folded under their original",
    "copies_exact": "articles of their own (another site id) whose text is an original's, exactly",
    "copies_near": "articles of their own whose text is nearly an original's (SimHash)",
    "aliases": "other URLs found to hold an article already stored (redirects, mirrors, reprints)",
    "versions": "texts of articles, every version counted (an edit makes a new one)",
    "people": "names found in credit lines (reporters, editors, photographers …)",
}


def archive_counts(conn: Connection) -> dict[str, int]:
    """The archive's numbers under the names the home page, the API (``/api/counts``) and
    ``jinshan stats`` share: ``COUNT_HELP`` says what each is. A copy is exact when its current
    text is one of its original's versions (same normalised-text hash), near otherwise."""
    n = func.count()
    a = articles.c
    copy = a.duplicate_of.is_not(None)
    same_text = (
        select(article_versions.c.id)
        .where(
            article_versions.c.article_id == a.duplicate_of, article_versions.c.content_hash == a.content_hash
        )
        .exists()
    )
    copies = _count(conn, select(n).select_from(articles).where(copy))
    exact = _count(conn, select(n).select_from(articles).where(copy, same_text))
    return {
        "articles": _count(conn, select(n).select_from(articles).where(a.duplicate_of.is_(None))),
        "copies_exact": exact,
        "copies_near": copies - exact,
        "aliases": _count(conn, select(n).select_from(article_urls)),
        "versions": _count(conn, select(n).select_from(article_versions)),
        "people": _count(conn, select(n).select_from(people)),
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
