"""Routes of "as archived": the frame page, the replayed response, and links followed from it.

``/articles/{id}/archived`` shows the article's archived response in an ``<iframe sandbox>``
without ``allow-scripts``; the frame loads ``/replay/{fetch_id}``: the WARC record's body with
scripts removed and its URLs rewritten by ``service.app.web.replay``, under ``REPLAY_CSP``. A link in
it goes through ``/go?url=&at=`` to the archive's page for that URL (never the live site): the
article's page, or the capture of exactly that URL nearest in time to the page it was followed
from (a channel list, the home page, page 2 of an article: any archived HTML response, found in
the captures index), or a clear "not archived" page. A resource goes through
``/replay/at?url=&at=``, which answers the nearest capture from the archive or 404s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from service.app.web.app import View, bad, int_param, path_id
from service.app.web.replay import REPLAY_CSP, rewrite, rewrite_css
from service.extract.decode import decode_html
from service.fetch.archive import ArchivedResponse, ArchiveError, read_response
from service.store import ArchivedAt, Capture

REPLAY_HEADERS = {
    "Content-Security-Policy": REPLAY_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, max-age=3600",
}
#: response headers of the archived page that may describe the replayed bytes
_TYPE = "content-type"


def nav_url(url: str, at: datetime | None = None) -> str:
    return "/go?url=" + quote(url, safe="") + _at(at)


def resource_url(url: str, at: datetime | None = None) -> str:
    return "/replay/at?url=" + quote(url, safe="") + _at(at)


def _at(at: datetime | None) -> str:
    return "" if at is None else "&at=" + at.astimezone(UTC).strftime(STAMP)


#: capture times in replay links, as the Wayback Machine writes them (UTC, to the second)
STAMP = "%Y%m%d%H%M%S"


def _at_param(request: Request) -> datetime | None:
    raw = request.query_params.get("at", "")
    if not raw:
        return None
    try:
        return datetime.strptime(raw, STAMP).replace(tzinfo=UTC)
    except ValueError:
        raise bad(f"at must be a time as YYYYMMDDhhmmss (UTC), not {raw[:40]!r}") from None


def _url_param(request: Request) -> str:
    url = request.query_params.get("url", "")
    if not url.startswith(("http://", "https://")) or len(url) > 4000:
        raise bad("url must be an absolute http(s) URL")
    return url


def _read(view: View, at: ArchivedAt) -> ArchivedResponse:
    path = Path(at.warc_file)
    if not path.is_absolute():
        path = view.archive_dir / path
    try:
        return read_response(path, at.warc_offset)
    except (ArchiveError, OSError) as exc:
        raise HTTPException(404, f"the archived record of {at.url} cannot be read: {exc}") from None


def _read_capture(view: View, cap: Capture) -> ArchivedResponse:
    path = Path(cap.warc_file)
    if not path.is_absolute():
        path = view.archive_dir / path
    try:
        return read_response(path, cap.warc_offset)
    except (ArchiveError, OSError) as exc:
        raise HTTPException(404, f"the archived record of {cap.url} cannot be read: {exc}") from None


def _payload(view: View, revisit: ArchivedResponse, url: str) -> ArchivedResponse:
    """The response whose payload a revisit record refers to (same digest, any URL), with the
    revisit's own URL, date and headers."""
    place = view.reader.payload_of(revisit.payload_digest) if revisit.payload_digest else None
    if place is None:
        raise HTTPException(404, f"the archived payload of {url} is not in the archive")
    path = Path(place[0]) if Path(place[0]).is_absolute() else view.archive_dir / place[0]
    try:
        full = read_response(path, place[1])
    except (ArchiveError, OSError) as exc:
        raise HTTPException(404, f"the archived payload of {url} cannot be read: {exc}") from None
    return ArchivedResponse(revisit.url, revisit.status, revisit.headers, full.body, revisit.date, "response",
                            revisit.payload_digest)  # fmt: skip


def _shown(response: ArchivedResponse, url: str) -> Response:
    """An archived response as the replay serves it: HTML rewritten (links and resources to the
    captures nearest to this one's time), anything else as archived."""
    ctype = next((v for k, v in response.headers if k.lower() == _TYPE), "application/octet-stream")
    when = response.date
    if ctype.lower().startswith("text/css"):  # its images, fonts and imports from the archive too
        css = rewrite_css(response.body.decode("utf-8", "replace"), response.url or url,
                          lambda u: resource_url(u, when))  # fmt: skip
        return Response(css, media_type="text/css; charset=utf-8", headers=REPLAY_HEADERS)
    if "html" not in ctype.lower():
        return Response(response.body, media_type=ctype.split(";")[0], headers=REPLAY_HEADERS)
    text = decode_html(response.body, ctype).text

    html = rewrite(text, response.url or url, nav=lambda u: nav_url(u, when),
                   resource=lambda u: resource_url(u, when))  # fmt: skip
    return Response(html, media_type="text/html; charset=utf-8", headers=REPLAY_HEADERS)


def routes(view: View) -> list[Route]:
    def archived(request: Request) -> Response:
        aid = path_id(request)
        found = view.reader.article(aid)
        if found is None:
            raise HTTPException(404, f"no article with id {aid}")
        version = int_param(request, "version", found.current_version, cap=max(1, len(found.versions)))
        at = view.reader.replay_fetch(aid, version)
        return view.page(request, "archived.html", a=found, row=found.row, at=at, version=version)

    def replay(request: Request) -> Response:
        fid = path_id(request)
        at = view.reader.fetch(fid)
        if at is None:
            raise HTTPException(404, f"no archived response with id {fid}")
        response = _read(view, at)
        if response.record_type == "revisit":
            source = view.reader.payload_source(at)
            response = _read(view, source) if source is not None else _payload(view, response, at.url)
        return _shown(response, at.url)

    def replay_at(request: Request) -> Response:
        """The capture of ``url`` nearest in time to ``at`` (any archived response: a list page, an
        image, page 2 of an article), rewritten like any replay; 404 when there is none."""
        url, at = _url_param(request), _at_param(request)
        found = view.reader.captures_near(url, at, exact=True) or view.reader.captures_near(url, at)
        if not found:
            return Response("not archived\n", 404, {**REPLAY_HEADERS, "Content-Type": "text/plain"})
        response = _read_capture(view, found[0])
        if response.record_type == "revisit":
            response = _payload(view, response, url)
        return _shown(response, found[0].url)

    def replay_by_url(request: Request) -> Response:
        url = _url_param(request)
        at = view.reader.fetch_for_url(url)
        if at is None:
            return Response("not archived\n", 404, {**REPLAY_HEADERS, "Content-Type": "text/plain"})
        return RedirectResponse(f"/replay/{at.fetch_id}", status_code=302)

    def go(request: Request) -> Response:
        url, when = _url_param(request), _at_param(request)
        aid = view.reader.article_for_url(url)
        own = aid is not None and view.reader.is_canonical(url)
        if own:  # the article's own address: its page as archived
            return RedirectResponse(f"/articles/{aid}/archived", status_code=302)
        # exactly this URL, nearest in time: page 2 of an article is its own capture, not page 1
        if view.reader.captures_near(url, when, exact=True, limit=1):
            return RedirectResponse(resource_url(url, when), status_code=302)
        if aid is not None:  # another address of an article (a tracking parameter, a redirect)
            return RedirectResponse(f"/articles/{aid}/archived", status_code=302)
        at = view.reader.fetch_for_url(url)
        if at is not None:
            return RedirectResponse(f"/replay/{at.fetch_id}", status_code=302)
        raise HTTPException(
            404, f"not archived: {url} was never captured (the archive holds no response for it)"
        )

    return [
        Route("/articles/{id}/archived", archived, name="archived"),
        Route("/replay/url", replay_by_url, name="replay_url"),
        Route("/replay/at", replay_at, name="replay_at"),
        Route("/replay/{id}", replay, name="replay"),
        Route("/go", go, name="go"),
    ]
