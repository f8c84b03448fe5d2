"""Routes of "as archived": the frame page, the replayed response, and links followed from it.

``/articles/{id}/archived`` shows the article's archived response in an ``<iframe sandbox>``
without ``allow-scripts``; the frame loads ``/replay/{fetch_id}``: the WARC record's body with
scripts removed and its URLs rewritten by ``service.app.web.replay``, under ``REPLAY_CSP``. A link in
it goes through ``/go?url=`` to the archive's page for that URL (never the live site); a resource
goes through ``/replay/url?url=``, which answers from the archive or 404s.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from service.app.web.app import View, bad, int_param, path_id
from service.app.web.replay import REPLAY_CSP, rewrite
from service.extract.decode import decode_html
from service.fetch.archive import ArchivedResponse, ArchiveError, read_response
from service.store import ArchivedAt

REPLAY_HEADERS = {
    "Content-Security-Policy": REPLAY_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, max-age=3600",
}
#: response headers of the archived page that may describe the replayed bytes
_TYPE = "content-type"


def nav_url(url: str) -> str:
    return "/go?url=" + quote(url, safe="")


def resource_url(url: str) -> str:
    return "/replay/url?url=" + quote(url, safe="")


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
            if source is None:
                raise HTTPException(404, f"the archived payload of {at.url} is not in the archive")
            response = _read(view, source)
        ctype = next((v for k, v in response.headers if k.lower() == _TYPE), "application/octet-stream")
        if "html" not in ctype.lower():
            return Response(response.body, media_type=ctype.split(";")[0], headers=REPLAY_HEADERS)
        text = decode_html(response.body, ctype).text
        html = rewrite(text, response.url or at.url, nav=nav_url, resource=resource_url)
        return Response(html, media_type="text/html; charset=utf-8", headers=REPLAY_HEADERS)

    def replay_by_url(request: Request) -> Response:
        url = _url_param(request)
        at = view.reader.fetch_for_url(url)
        if at is None:
            return Response("not archived\n", 404, {**REPLAY_HEADERS, "Content-Type": "text/plain"})
        return RedirectResponse(f"/replay/{at.fetch_id}", status_code=302)

    def go(request: Request) -> Response:
        url = _url_param(request)
        aid = view.reader.article_for_url(url)
        if aid is not None:
            return RedirectResponse(f"/articles/{aid}/archived", status_code=302)
        at = view.reader.fetch_for_url(url)
        if at is not None:
            return RedirectResponse(f"/replay/{at.fetch_id}", status_code=302)
        raise HTTPException(404, f"not in the archive: {url}")

    return [
        Route("/articles/{id}/archived", archived, name="archived"),
        Route("/replay/url", replay_by_url, name="replay_url"),
        Route("/replay/{id}", replay, name="replay"),
        Route("/go", go, name="go"),
    ]
