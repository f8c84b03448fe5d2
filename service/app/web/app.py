"""The archive view as one Starlette app: ``create_app(reader, archive_dir)``.

Server-rendered Jinja2 pages (autoescaped: every value shown is escaped), a JSON API with cursor
pagination, Atom feeds and the replay of archived pages. Read-only: every route is GET (HEAD).
Query parameters are checked here: a malformed one is a 400 page (or JSON under ``/api``) naming
it; a page number or limit past the cap is lowered to the cap; an unknown id is a 404 page.
``auth`` (a bearer token and/or ``user:password`` for Basic) guards every route when set.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from service.errors import StoreError
from service.settings import Settings
from service.store import COUNT_HELP, Cursor, Reader, decode_cursor, encode_cursor
from service.text.dates import CST

#: the site's time zone: dates and times are shown as the site printed them
#: the pages' own CSP: no script at all, frames only from the app (the replay)
PAGE_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; img-src 'self' data:; style-src 'self'; "
    "frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)
STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True, slots=True)
class Auth:
    """Optional protection for exposure behind a proxy: a bearer token, Basic credentials, or both."""

    token: str = ""
    basic: str = ""  # "user:password"

    @property
    def enabled(self) -> bool:
        return bool(self.token or self.basic)

    def allows(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if self.token and scheme.lower() == "bearer":
            return hmac.compare_digest(value.encode(), self.token.encode())
        if self.basic and scheme.lower() == "basic":
            try:
                given = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(given, self.basic.encode())
        return False


class _Guard(BaseHTTPMiddleware):
    """Authentication (when configured), GET/HEAD only, and the security headers of every page."""

    def __init__(self, app: Any, auth: Auth) -> None:
        super().__init__(app)
        self.auth = auth

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if self.auth.enabled and not self.auth.allows(request.headers.get("authorization", "")):
            challenge = (
                'Basic realm="jinshan archive"' if self.auth.basic else 'Bearer realm="jinshan archive"'
            )
            return Response("authentication required\n", 401, {"WWW-Authenticate": challenge})
        if request.method not in ("GET", "HEAD"):
            return Response("the archive view is read-only: GET only\n", 405, {"Allow": "GET, HEAD"})
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response


# --- parameters ---------------------------------------------------------------------------------------


def bad(message: str) -> HTTPException:
    return HTTPException(400, message)


def int_param(request: Request, name: str, default: int, *, low: int = 1, cap: int) -> int:
    """An integer parameter: 400 when it is not one or below ``low``; values above ``cap`` are capped."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad(f"{name} must be a whole number, not {raw[:40]!r}") from None
    if value < low:
        raise bad(f"{name} must be at least {low}, not {value}")
    return min(value, cap)


def date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise bad(f"{name} must be a date as YYYY-MM-DD, not {raw[:40]!r}") from None


def cursor_param(request: Request, name: str = "cursor") -> Cursor | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return decode_cursor(raw)
    except ValueError as exc:
        raise bad(f"{name}: {exc}") from None


def path_id(request: Request, name: str = "id") -> int:
    """A numeric id from the path; an id that is not a number is as unknown as a missing one (404)."""
    raw = str(request.path_params[name])
    if not raw.isdigit() or len(raw) > 18:
        raise HTTPException(404, f"no such {name.removesuffix('_id')}: {raw[:40]}")
    return int(raw)


# --- rendering ----------------------------------------------------------------------------------------


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("service.app.web", "templates"),
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cst"] = lambda d, fmt="%Y-%m-%d %H:%M": d.astimezone(CST).strftime(fmt) if d else "—"
    env.filters["cursor"] = lambda c: encode_cursor(c) if c else ""
    env.globals["ROLE_NAMES"] = ROLE_NAMES
    env.globals["COUNT_HELP"] = COUNT_HELP
    return env


#: how each credit role is labelled on the pages
ROLE_NAMES = {
    "reporters": "记者 reporters",
    "correspondents": "通讯员 correspondents",
    "interns": "实习生 interns",
    "photographers": "摄影 photographers",
    "editors": "编辑 editors",
    "reviewers": "审核 reviewers",
    "proofreaders": "校对 proofreaders",
}


class View:
    """What every route needs: the reader, the WARC directory, the templates."""

    def __init__(self, reader: Reader, archive_dir: Path, *, title: str) -> None:
        self.reader, self.archive_dir, self.title = reader, archive_dir, title
        self.env = templates()

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(request=request, site_title=self.title, **context)
        return HTMLResponse(html, status_code=status)


def _error_handler(view: View) -> Any:
    def handle(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 503
        detail = exc.detail if isinstance(exc, HTTPException) else "the archive database could not be read"
        if isinstance(exc, HTTPException) and status == 404 and detail == "Not Found":
            detail = f"nothing at {request.url.path}"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": detail, "status": status}, status_code=status)
        return view.page(request, "error.html", status=status, status_code=status, detail=detail)

    return handle


def create_app(
    reader: Reader, archive_dir: Path, *, auth: Auth | None = None, title: str = "金山网 archive"
) -> Starlette:
    """The archive view over ``reader``, replaying WARC records from ``archive_dir``."""
    from service.app.web import api, changes, pages, photos, replay_routes

    view = View(reader, archive_dir, title=title)
    routes = [
        *pages.routes(view),
        *api.routes(view),
        *changes.routes(view),
        *replay_routes.routes(view),
        *photos.routes(view),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    handler = _error_handler(view)
    return Starlette(
        routes=routes,
        middleware=[Middleware(_Guard, auth=auth or Auth())],
        exception_handlers={HTTPException: handler, StoreError: handler},
    )


def archive_app(settings: Settings, reader: Reader) -> Starlette:
    """The archive view as configured: WARC files under ``[archive] path``, ``[web]`` auth."""
    auth = Auth(token=settings.web.auth_token, basic=settings.web.auth_basic)
    return create_app(reader, Path(settings.archive.path), auth=auth)


__all__ = ["Auth", "Route", "View", "archive_app", "create_app"]
