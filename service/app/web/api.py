"""The JSON API (the article JSON of the README, cursor-paginated) and the Atom feeds.

Every answer is an object (never a bare list), so a field can be added without breaking a client;
``docs/api.md`` describes the endpoints, parameters and objects.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.app.web.app import View, bad, cursor_param, date_param, int_param, path_id
from service.model import CREDIT_ROLES
from service.store import COUNT_HELP, RANK_WINDOW, ListFilter, SearchQuery, encode_cursor

API_LIMIT, API_MAX = 50, 200
FEED_ENTRIES = 50
#: the prefix of every feed and entry id: a ``tag:`` URI (RFC 4151) from the article id alone, so
#: an entry keeps its id whatever host, port or proxy serves the feed. The date is the day this
#: naming began and never changes.
TAG = "tag:jinshan-archiver,2026:"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class _JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def bool_param(request: Request, name: str) -> bool:
    """A yes/no parameter (``true``/``false``, ``1``/``0``, ``yes``/``no``); 400 on anything else."""
    raw = request.query_params.get(name, "").strip().lower()
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise bad(f"{name} must be true or false, not {raw[:40]!r}")


def person_param(view: View, request: Request) -> int | None:
    """The person filter: ``person`` is an id as the pages and feeds use (400 when not a whole
    number); ``person_name`` a name, exactly. An unknown one selects nothing (-1: no such id)."""
    raw, name = request.query_params.get("person", ""), request.query_params.get("person_name", "").strip()
    if raw and name:
        raise bad("give person (an id) or person_name, not both")
    if raw:
        if not raw.isdigit() or len(raw) > 18:
            raise bad(f"person must be a person's id (a whole number, as in /people/ID), not {raw[:40]!r}; "
                      "use person_name for a name")  # fmt: skip
        return int(raw)
    if name:
        found = view.reader.person_by_name(name[:200])
        return -1 if found is None else found
    return None


def _filter(view: View, request: Request) -> ListFilter:
    since, until = date_param(request, "since"), date_param(request, "until")
    if since and until and since > until:
        raise bad("since is after until")
    role = request.query_params.get("role") or None
    if role is not None and role not in CREDIT_ROLES:
        raise bad(f"role must be one of {', '.join(CREDIT_ROLES)}")
    return ListFilter(since=since, until=until, channel=request.query_params.get("channel") or None,
                      person_id=person_param(view, request), role=role,
                      originals_only=not bool_param(request, "include_duplicates"))  # fmt: skip


def _offset(request: Request) -> int:
    """The cursor of a search's pages: ``s`` and the number of results before the page."""
    raw = request.query_params.get("cursor") or "s0"
    if not raw.startswith("s") or not raw[1:].isdigit() or int(raw[1:]) >= RANK_WINDOW:
        raise bad(f"cursor: malformed cursor {raw[:40]!r} (a search pages with the cursor it returned)")
    return int(raw[1:])


def _newest(rows: list[dict[str, Any]]) -> str:
    """The feed's ``updated``: the newest of its entries' (RFC 4287: the latest significant change)."""
    times = [datetime.fromisoformat(r["last_changed_at"]) for r in rows if r.get("last_changed_at")]
    return max(times).isoformat() if times else "1970-01-01T00:00:00+00:00"


def routes(view: View) -> list[Route]:
    def articles(request: Request) -> Response:
        flt = _filter(view, request)
        limit = int_param(request, "limit", API_LIMIT, cap=API_MAX)
        q = request.query_params.get("q", "").strip()[:200]
        if q:
            return search(request, q, flt, limit)
        rows, nxt, total = view.reader.api_list(flt, cursor=cursor_param(request), limit=limit)
        return _page(request, rows, encode_cursor(nxt) if nxt else None, limit, total, capped=False)

    def search(request: Request, q: str, flt: ListFilter, limit: int) -> Response:
        offset = _offset(request)
        try:
            query = SearchQuery.build(q, since=flt.since, until=flt.until, channel=flt.channel,
                                      person_id=flt.person_id, role=flt.role if flt.person_id else None,
                                      include_duplicates=not flt.originals_only, limit=limit,
                                      offset=offset)  # fmt: skip
        except ValueError as exc:
            raise bad(str(exc)) from None
        rows, found = view.reader.api_search(query)
        end = offset + len(found.hits)
        nxt = f"s{end}" if end < min(found.total, RANK_WINDOW) else None
        return _page(request, rows, nxt, limit, found.total, capped=found.capped)

    def _page(request: Request, rows: list[dict[str, Any]], nxt: str | None, limit: int, total: int,
              *, capped: bool) -> Response:  # fmt: skip
        next_url = str(request.url.include_query_params(cursor=nxt)) if nxt else None
        return _JSON({"articles": rows, "total": total, "total_capped": capped, "limit": limit,
                      "next_cursor": nxt, "next": next_url})  # fmt: skip

    def article(request: Request) -> Response:
        aid = path_id(request)
        found = view.reader.article(aid)
        if found is None:
            raise HTTPException(404, f"no article with id {aid}")
        return _JSON(found.row)

    def versions(request: Request) -> Response:
        aid = path_id(request)
        found = view.reader.versions(aid)
        if not found:
            raise HTTPException(404, f"no article with id {aid}")
        return _JSON({"article_id": aid, "count": len(found), "versions": [
            {"version": v.number, "title": v.title, "body_text": v.body_text,
             "first_seen_at": v.first_seen_at.isoformat(), "last_seen_at": v.last_seen_at.isoformat(),
             "fetched_at": v.fetched_at.isoformat() if v.fetched_at else None}
            for v in found]})  # fmt: skip

    def counts(request: Request) -> Response:
        return _JSON({"counts": view.reader.counts(), "help": COUNT_HELP})

    def feed(request: Request, flt: ListFilter, title: str, feed_id: str) -> Response:
        rows, _ = view.reader.api_page(flt, limit=FEED_ENTRIES)
        xml = view.env.get_template("feed.xml").render(request=request, title=title, rows=rows, tag=TAG,
                                                        feed_id=TAG + feed_id, updated=_newest(rows),
                                                        site_title=view.title)  # fmt: skip
        return Response(xml, media_type="application/atom+xml; charset=utf-8")

    def newest(request: Request) -> Response:
        return feed(request, ListFilter(), f"{view.title}: newest", "feed/articles")

    def channel(request: Request) -> Response:
        name = str(request.path_params["name"])
        return feed(request, ListFilter(channel=name), f"{view.title}: {name}", f"feed/channels/{name}")

    def person(request: Request) -> Response:
        pid = path_id(request)
        found = view.reader.person(pid)
        if found is None:
            raise HTTPException(404, f"no person with id {pid}")
        return feed(request, ListFilter(person_id=pid), f"{view.title}: {found.name}", f"feed/people/{pid}")

    return [
        Route("/api/articles", articles, name="api_articles"),
        Route("/api/articles/{id}", article, name="api_article"),
        Route("/api/articles/{id}/versions", versions, name="api_versions"),
        Route("/api/counts", counts, name="api_counts"),
        Route("/feeds/articles.atom", newest, name="feed"),
        Route("/feeds/channels/{name:path}.atom", channel, name="feed_channel"),
        Route("/feeds/people/{id}.atom", person, name="feed_person"),
    ]
