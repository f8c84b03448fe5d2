"""The HTML pages of the archive view: home, days, channels, people, search, article, diff."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.app.failures import in_plain_words
from service.app.web.app import View, bad, cursor_param, date_param, int_param, path_id
from service.app.web.diff import paragraphs, side_by_side
from service.app.web.photos import person_photos, photos_of
from service.model import CREDIT_ROLES
from service.store import RANK_WINDOW, ListFilter, ListPage, SearchQuery

#: articles per list page by default, and the most a page may ask for
PER_PAGE, MAX_PER_PAGE = 50, 200
SEARCH_PER_PAGE = 20
#: search pages beyond this are capped (a search ranks at most RANK_WINDOW matches)
MAX_SEARCH_PAGE = RANK_WINDOW // SEARCH_PER_PAGE
#: people per page of the people list, and the last page one may ask for
PEOPLE_PER_PAGE, MAX_PEOPLE_PAGE = 50, 100_000
#: roles a search may filter on, by query parameter
SEARCH_ROLES = {"reporter": "reporters", "photographer": "photographers", "editor": "editors"}


def last_failure(cycle: dict[str, Any] | None) -> dict[str, str] | None:
    """The home page's notice when the daemon's last cycle failed: when (UTC), why in plain words,
    and when the daemon tries again (recorded by the daemon; absent from older runs)."""
    if cycle is None or cycle.get("status") != "failed":
        return None
    when = str(cycle.get("finished_at") or cycle.get("started_at") or "")
    next_try = str((cycle.get("params") or {}).get("next_try_at") or "")
    return {
        "at": _utc_minute(when),
        "reason": in_plain_words(cycle.get("error")),
        "next_try": _utc_minute(next_try),
    }


def _utc_minute(iso: str) -> str:
    """``2026-12-05T23:04:56.123+00:00`` → ``2026-12-05 23:04`` (the page says UTC)."""
    return iso[:16].replace("T", " ")


def routes(view: View) -> list[Route]:
    def home(request: Request) -> Response:
        newest, _ = view.reader.page(ListFilter(), limit=20)
        info = view.reader.home()
        alarms = sorted({k[6:] for r in info["runs"] for k, v in (r.get("counters") or {}).items()
                         if k.startswith("alarm_") and v})  # fmt: skip
        return view.page(request, "home.html", newest=newest, alarms=alarms,
                         failure=last_failure(info.pop("last_cycle")), **info)  # fmt: skip

    def days(request: Request) -> Response:
        first, last = view.reader.date_span()
        if first is None or last is None:
            return view.page(request, "days.html", year=None, years=[], months=[])
        year = int_param(request, "year", last.year, low=1, cap=9999)
        start, end = date(year, 1, 1), date(year, 12, 31)
        counts = view.reader.day_counts(start, end)
        months = [(m, calendar.Calendar().monthdatescalendar(year, m)) for m in range(1, 13)]
        years = list(range(last.year, first.year - 1, -1))
        return view.page(request, "days.html", year=year, years=years, months=months, counts=counts)

    def day(request: Request) -> Response:
        raw = str(request.path_params["day"])
        try:
            when = date.fromisoformat(raw)
        except ValueError:
            raise bad(f"a day is written YYYY-MM-DD, not {raw[:40]!r}") from None
        flt = ListFilter(since=when, until=when)
        return _page(request, view.reader.window(flt, **_paging(request)), title=when.isoformat(), day=when)

    def channel_list(request: Request) -> Response:
        return view.page(request, "channels.html", channels=view.reader.channels())

    def channel(request: Request) -> Response:
        name = str(request.path_params["name"])
        return _page(request, view.reader.window(ListFilter(channel=name), **_paging(request)), title=name,
                     channel=name)  # fmt: skip

    def people(request: Request) -> Response:
        q = request.query_params.get("q", "").strip()[:50]
        page = int_param(request, "page", 1, cap=MAX_PEOPLE_PAGE)
        found = view.reader.people_list(q, page=page, per_page=PEOPLE_PER_PAGE)
        return view.page(request, "people.html", found=found, q=q)

    def person(request: Request) -> Response:
        pid = path_id(request)
        role = request.query_params.get("role") or None
        if role is not None and role not in CREDIT_ROLES:
            raise bad(f"role must be one of {', '.join(CREDIT_ROLES)}")
        got = view.reader.person_window(pid, ListFilter(role=role), **_paging(request))
        if got is None:
            raise HTTPException(404, f"no person with id {pid}")
        found, listed = got
        years = sorted({y for y, _ in found.counts}, key=lambda y: (y is None, -(y or 0)))
        roles = [r for r in CREDIT_ROLES if any(k[1] == r for k in found.counts)]
        pictures = (
            person_photos(view, pid) if "photographers" in roles and role in (None, "photographers") else []
        )
        return _page(request, listed, title=found.name, person=found, years=years, roles=roles, role=role,
                     person_photos=pictures)  # fmt: skip

    def _paging(request: Request) -> dict[str, Any]:
        """``cursor`` (older than) or ``before`` (newer than), and ``limit``, of a list page."""
        before = cursor_param(request, "before")
        return {
            "cursor": None if before is not None else cursor_param(request),
            "before": before,
            "limit": int_param(request, "limit", PER_PAGE, cap=MAX_PER_PAGE),
        }

    def _page(request: Request, listed: ListPage, *, title: str, **extra: Any) -> Response:
        limit = int_param(request, "limit", PER_PAGE, cap=MAX_PER_PAGE)
        keep = {"limit": limit, **({"role": extra["role"]} if extra.get("role") else {})}
        return view.page(
            request, "list.html", title=title, listed=listed, rows=listed.rows, keep=keep, **extra
        )

    def search(request: Request) -> Response:
        q = request.query_params.get("q", "").strip()[:200]
        names = {role: request.query_params.get(p, "").strip()[:100] for p, role in SEARCH_ROLES.items()}
        since, until = date_param(request, "since"), date_param(request, "until")
        page = int_param(request, "page", 1, cap=MAX_SEARCH_PAGE)
        form = {"q": q, "since": since, "until": until, **{p: names[r] for p, r in SEARCH_ROLES.items()}}
        if not q and not any(names.values()):
            return view.page(request, "search.html", form=form, hits=None, page=1, more=False)
        try:
            query = SearchQuery.build(q, since=since, until=until, credits=names, limit=SEARCH_PER_PAGE,
                                      offset=(page - 1) * SEARCH_PER_PAGE)  # fmt: skip
        except ValueError as exc:
            raise bad(str(exc)) from None
        shown = view.reader.search_view(query)
        found = shown.results
        more = found.total > page * SEARCH_PER_PAGE and page < MAX_SEARCH_PAGE
        return view.page(request, "search.html", form=form, hits=found.hits, found=found, shown=shown,
                         page=page, more=more, per_page=SEARCH_PER_PAGE)  # fmt: skip

    def article(request: Request) -> Response:
        aid = path_id(request)
        found = view.reader.article(aid)
        if found is None:
            raise HTTPException(404, f"no article with id {aid}")
        show_fields = request.query_params.get("fields_from") in ("1", "true", "yes")
        shown = photos_of(view, found.row.get("images") or [], found.people.get("photographers", []))
        return view.page(request, "article.html", a=found, row=found.row, show_fields=show_fields,
                         roles=CREDIT_ROLES, photos=shown)  # fmt: skip

    def diff(request: Request) -> Response:
        aid = path_id(request)
        versions = view.reader.versions(aid)
        if not versions:
            raise HTTPException(404, f"no article with id {aid}")
        top = versions[-1].number
        new = int_param(request, "to", top, cap=top)
        old = int_param(request, "from", max(1, new - 1), cap=top)
        by_number = {v.number: v for v in versions}
        a, b = by_number[old], by_number[new]
        rows = side_by_side(paragraphs(a.title, a.body_text), paragraphs(b.title, b.body_text))
        found = view.reader.article(aid)
        return view.page(request, "diff.html", aid=aid, title=b.title, versions=versions, old=a, new=b,
                         rows=rows, a=found)  # fmt: skip

    return [
        Route("/", home, name="home"),
        Route("/days", days, name="days"),
        Route("/days/{day}", day, name="day"),
        Route("/channels", channel_list, name="channels"),
        Route("/channels/{name:path}", channel, name="channel"),
        Route("/people", people, name="people"),
        Route("/people/{id}", person, name="person"),
        Route("/search", search, name="search"),
        Route("/articles/{id}", article, name="article"),
        Route("/articles/{id}/diff", diff, name="diff"),
    ]
