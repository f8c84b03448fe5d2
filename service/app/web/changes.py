"""The site's changes, day by day: articles edited (with a link to the diff) and deleted, filtered
by channel and kind, as a page (``/changes``) and an Atom feed (``/feeds/changes.atom``)."""

from __future__ import annotations

from datetime import date, datetime
from itertools import groupby

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.app.web.app import View, bad, int_param
from service.store import CHANGE_KINDS as KINDS
from service.store import Change
from service.text.dates import CST

#: changes per page by default, the most a page may ask for, and the entries of the feed
PER_PAGE, MAX_PER_PAGE, FEED_ENTRIES = 100, 500, 50


def _kinds(request: Request) -> tuple[str, ...]:
    kind = request.query_params.get("kind") or "all"
    if kind == "all":
        return KINDS
    if kind not in KINDS:
        raise bad(f"kind must be all, {' or '.join(KINDS)}, not {kind[:40]!r}")
    return (kind,)


def _before(request: Request) -> datetime | None:
    raw = request.query_params.get("before")
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise bad(f"before must be a time as YYYY-MM-DDTHH:MM:SS+08:00, not {raw[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=CST)  # as the pages show times: the site's
    return when


def by_day(changes: list[Change]) -> list[tuple[date, list[Change]]]:
    """The changes grouped by the day (the site's time zone) the archive saw them, newest first."""
    return [(day, list(items)) for day, items in groupby(changes, key=lambda c: c.at.astimezone(CST).date())]


def routes(view: View) -> list[Route]:
    def page(request: Request) -> Response:
        kinds = _kinds(request)
        channel = request.query_params.get("channel") or None
        limit = int_param(request, "limit", PER_PAGE, cap=MAX_PER_PAGE)
        found = view.reader.changes(before=_before(request), channel=channel, kinds=kinds, limit=limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return view.page(request, "changes.html", days=by_day(found), channel=channel,
                         kind=kinds[0] if len(kinds) == 1 else "all", channels=view.reader.channels(),
                         before=found[-1].at.isoformat() if more and found else None, limit=limit)  # fmt: skip

    def feed(request: Request) -> Response:
        kinds = _kinds(request)
        channel = request.query_params.get("channel") or None
        found = view.reader.changes(channel=channel, kinds=kinds, limit=FEED_ENTRIES)
        what = " and ".join(kinds) + (f" · {channel}" if channel else "")
        xml = view.env.get_template("changes.xml").render(request=request, title=f"{view.title}: changes ({what})",
                                                           changes=found)  # fmt: skip
        return Response(xml, media_type="application/atom+xml; charset=utf-8")

    return [Route("/changes", page, name="changes"), Route("/feeds/changes.atom", feed, name="feed_changes")]
