"""Photos from the archive: an article's images (and a photographer's) shown from their archived
records, never from the live site. ``/photos/full?url=`` answers the archived bytes of an image;
``/photos/thumb?url=`` a thumbnail made once with Pillow and cached beside the WARC files
(``<archive>/.thumbs``, keyed by the payload digest: the same picture under two URLs is one file;
in memory when that folder cannot be written). An image that was not archived answers 404 with why.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.app.web.app import View, bad
from service.fetch.archive import ArchiveError, read_response

#: longest side of a thumbnail, pixels
THUMB_PX = 320
#: thumbnails kept in memory when the cache folder cannot be written
MEMORY_THUMBS = 256
#: pixels Pillow may decode for one image (a decompression bomb is refused, not decoded)
MAX_PIXELS = 60_000_000
HEADERS = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}
#: why an image is not archived, as a reader should read it
WHY_NOT = {
    "too_large": "too large to archive",
    "refused_type": "not an image type the archive keeps",
    "refused_host": "on a host the archive does not fetch from",
    "robots_disallowed": "robots.txt forbids it",
    "http_404": "the site answered 404",
    "http_410": "the site answered 410",
}


def thumb_url(url: str) -> str:
    return "/photos/thumb?url=" + quote(url, safe="")


def full_url(url: str) -> str:
    return "/photos/full?url=" + quote(url, safe="")


def why_not(row: dict[str, Any] | None) -> str:
    """What a reader is told about an image that is not shown."""
    if row is None:
        return "not archived"
    if row.get("status") == "pending":
        return "not archived yet"
    reason = row.get("why_not") or ""
    return "not archived: " + WHY_NOT.get(reason, reason or "unknown")


def photos_of(
    view: View, images: list[dict[str, Any]], photographers: list[tuple[int, str]]
) -> list[dict[str, Any]]:
    """The article's images as the page shows them: caption, the photographers its caption names
    (each linked to their page), and the archived photo or why there is none."""
    rows = view.reader.resources_for([i["url"] for i in images])
    out = []
    for image in images:
        row = rows.get(image["url"])
        caption = image.get("caption") or ""
        archived = row is not None and row.get("warc_file") is not None
        out.append({
            "url": image["url"], "caption": caption, "archived": archived,
            "thumb": thumb_url(image["url"]), "full": full_url(image["url"]),
            "why_not": "" if archived else why_not(row),
            "photographers": [(pid, name) for pid, name in photographers if name in caption],
        })  # fmt: skip
    return out


def person_photos(view: View, person_id: int) -> list[dict[str, Any]]:
    """A photographer's photos as their page shows them (archived, or why not)."""
    found = view.reader.photographer_photos(person_id)
    rows = view.reader.resources_for([p["url"] for p in found])
    out = []
    for p in found:
        row = rows.get(p["url"])
        archived = row is not None and row.get("warc_file") is not None
        out.append({**p, "archived": archived, "thumb": thumb_url(p["url"]), "full": full_url(p["url"]),
                    "why_not": "" if archived else why_not(row)})  # fmt: skip
    return out


class Thumbs:
    """Thumbnails made once: on disk under ``folder`` when it can be written, else in memory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.memory: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, digest: str, make: Any) -> bytes:
        """The thumbnail of the payload ``digest``; ``make()`` builds it the first time."""
        name = hashlib.sha1(digest.encode()).hexdigest() + f"-{THUMB_PX}.jpg"
        path = self.folder / name
        with self.lock:
            if name in self.memory:
                return self.memory[name]
        if path.is_file():
            return path.read_bytes()
        data: bytes = make()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            part = path.with_suffix(f".{threading.get_ident()}.part")
            part.write_bytes(data)
            part.replace(path)  # whole or not at all: two requests at once write the same bytes
        except OSError:
            with self.lock:
                self.memory[name] = data
                while len(self.memory) > MEMORY_THUMBS:
                    self.memory.popitem(last=False)
        return data


def make_thumbnail(data: bytes) -> bytes:
    """A JPEG no larger than ``THUMB_PX`` on its longest side. Raises ``ValueError`` for bytes
    that are not an image Pillow can read."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((THUMB_PX, THUMB_PX))
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image: {exc}") from exc
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()


def _archived(view: View, url: str) -> tuple[bytes, str, str]:
    """The archived bytes of image ``url``, its media type and payload digest; 404 with why not."""
    row = view.reader.resources_for([url]).get(url)
    if row is None or row.get("warc_file") is None:
        raise HTTPException(404, f"{why_not(row)}: {url}")
    place = (row["warc_file"], int(row["warc_offset"]))
    if row.get("revisit") and row.get("payload_digest"):
        place = view.reader.payload_of(row["payload_digest"]) or place
    path = Path(place[0]) if Path(place[0]).is_absolute() else view.archive_dir / place[0]
    try:
        record = read_response(path, place[1])
    except (ArchiveError, OSError) as exc:
        raise HTTPException(404, f"the archived record of {url} cannot be read: {exc}") from None
    media = (row.get("content_type") or "application/octet-stream").split(";")[0].strip()
    return record.body, media, row.get("payload_digest") or hashlib.sha1(record.body).hexdigest()


def routes(view: View) -> list[Route]:
    thumbs = Thumbs(view.archive_dir / ".thumbs")

    def url_param(request: Request) -> str:
        url = request.query_params.get("url", "")
        if not url.startswith(("http://", "https://")) or len(url) > 4000:
            raise bad("url must be an absolute http(s) URL")
        return url

    def full(request: Request) -> Response:
        body, media, _digest = _archived(view, url_param(request))
        if not media.startswith("image/"):
            raise HTTPException(404, "not an image")
        return Response(body, media_type=media, headers=HEADERS)

    def thumb(request: Request) -> Response:
        url = url_param(request)
        body, _media, digest = _archived(view, url)
        try:
            data = thumbs.get(digest, lambda: make_thumbnail(body))
        except ValueError as exc:
            raise HTTPException(404, f"{url}: {exc}") from None
        return Response(data, media_type="image/jpeg", headers=HEADERS)

    return [Route("/photos/full", full, name="photo_full"), Route("/photos/thumb", thumb, name="photo_thumb")]
