"""The JSON API (the article JSON of the README, cursor-paginated) and the Atom feeds."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.app.web.app import View, bad, cursor_param, date_param, int_param, path_id
from service.model import CREDIT_ROLES
from service.store import ListFilter, encode_cursor

API_LIMIT, API_MAX = 50, 200
FEED_ENTRIES = 50


class _JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        import json

        return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def _filter(view: View, request: Request) -> ListFilter:
    since, until = date_param(request, "since"), date_param(request, "until")
    if since and until and since > until:
        raise bad("since is after until")
    person_id = None
    person = request.query_params.get("person")
    if person:
        person_id = view.reader.person_by_name(person)
        if person_id is None:
            person_id = -1  # nobody by that name: an empty list, not an error
    role = request.query_params.get("role") or None
    if role is not None and role not in CREDIT_ROLES:
        raise bad(f"role must be one of {', '.join(CREDIT_ROLES)}")
    return ListFilter(since=since, until=until, channel=request.query_params.get("channel") or None,
                      person_id=person_id, role=role, originals_only=False)  # fmt: skip


def routes(view: View) -> list[Route]:
    def articles(request: Request) -> Response:
        flt = _filter(view, request)
        limit = int_param(request, "limit", API_LIMIT, cap=API_MAX)
        rows, nxt = view.reader.api_page(flt, cursor=cursor_param(request), limit=limit)
        next_url = None
        if nxt is not None:
            next_url = str(request.url.include_query_params(cursor=encode_cursor(nxt)))
        return _JSON({"articles": rows, "limit": limit,
                      "next_cursor": encode_cursor(nxt) if nxt else None, "next": next_url})  # fmt: skip

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
        return _JSON([{"version": v.number, "title": v.title, "body_text": v.body_text,
                       "first_seen_at": v.first_seen_at.isoformat(), "last_seen_at": v.last_seen_at.isoformat(),
                       "fetched_at": v.fetched_at.isoformat() if v.fetched_at else None}
                      for v in found])  # fmt: skip

    def feed(request: Request, flt: ListFilter, title: str) -> Response:
        rows, _ = view.reader.api_page(flt, limit=FEED_ENTRIES)
        xml = view.env.get_template("feed.xml").render(request=request, title=title, rows=rows,
                                                        site_title=view.title)  # fmt: skip
        return Response(xml, media_type="application/atom+xml; charset=utf-8")

    def newest(request: Request) -> Response:
        return feed(request, ListFilter(), f"{view.title}: newest")

    def channel(request: Request) -> Response:
        name = str(request.path_params["name"])
        return feed(request, ListFilter(channel=name), f"{view.title}: {name}")

    def person(request: Request) -> Response:
        pid = path_id(request)
        found = view.reader.person(pid)
        if found is None:
            raise HTTPException(404, f"no person with id {pid}")
        return feed(request, ListFilter(person_id=pid), f"{view.title}: {found.name}")

    return [
        Route("/api/articles", articles, name="api_articles"),
        Route("/api/articles/{id}", article, name="api_article"),
        Route("/api/articles/{id}/versions", versions, name="api_versions"),
        Route("/feeds/articles.atom", newest, name="feed"),
        Route("/feeds/channels/{name:path}.atom", channel, name="feed_channel"),
        Route("/feeds/people/{id}.atom", person, name="feed_person"),
    ]
