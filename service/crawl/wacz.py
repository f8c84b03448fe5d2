"""``jinshan export --format wacz``: the archived pages of a date range as one WACZ file.

WACZ (Web Archive Collection Zipped) is what pywb and ReplayWeb.page open. The file is built by the
webrecorder tools themselves: the selected WARC response records are copied (byte for byte, one
gzip member each) into one WARC file, a ``pages.jsonl`` names each article's page with its title,
and ``wacz create`` (py-wacz: cdxj-indexer for the CDXJ index, warcio, ``datapackage.json`` with
the hashes) packs them. A revisit record is replaced by the response that holds its payload, so
every page in the file replays on its own.

Orchestration only: the database through ``Reader``, the records through ``fetch.archive``.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO

from service.atomic import atomic_path
from service.errors import JinshanError
from service.fetch.archive import ArchiveError, record_bytes
from service.settings import Settings
from service.store import ArchivedAt, Reader

BATCH = 500
log = logging.getLogger(__name__)


class WaczError(JinshanError):
    """The WACZ file could not be written."""


@dataclass(frozen=True, slots=True)
class WaczResult:
    pages: int
    records: int
    missing: int  # records the database points at that the WARC files no longer hold


def _path(archive_dir: Path, at: ArchivedAt) -> Path:
    path = Path(at.warc_file)
    return path if path.is_absolute() else archive_dir / path


def _response_of(reader: Reader, archive_dir: Path, at: ArchivedAt) -> tuple[ArchivedAt, bytes]:
    data = record_bytes(_path(archive_dir, at), at.warc_offset)
    if b"WARC-Type: revisit" in data[:2000]:
        source = reader.payload_source(at)
        if source is None:
            raise ArchiveError(f"the payload of revisit {at.url} is not archived")
        return source, record_bytes(_path(archive_dir, source), source.warc_offset)
    return at, data


def export_wacz(
    reader: Reader,
    archive_dir: Path,
    output: Path,
    *,
    since: date | None,
    until: date | None,
    title: str = "金山网 archive",
) -> WaczResult:
    """Write the WACZ of the articles published in ``since``..``until`` to ``output``: whole, or not
    at all (written under a temporary name, renamed when complete). Raises ``WaczError``."""
    with tempfile.TemporaryDirectory(prefix="jinshan-wacz-") as tmp:
        warc, pages = Path(tmp) / "jinshan.warc.gz", Path(tmp) / "pages.jsonl"
        try:
            result = _collect(reader, archive_dir, warc, pages, since=since, until=until)
        except OSError as exc:
            raise WaczError(f"cannot stage the WACZ's records in {tmp}: {exc.strerror or exc}") from exc
        if result.records == 0:
            raise WaczError("no archived pages in that range: nothing to export")
        try:
            with atomic_path(output) as partial:
                _pack(partial, warc, pages, title)
        except OSError as exc:
            raise WaczError(f"cannot write {output}: {exc.strerror or exc}") from exc
    return result


def _pack(output: Path, warc: Path, pages: Path, title: str) -> None:
    """``wacz create`` (py-wacz) in a child process: py-wacz has no library API (its ``main()``
    parses a command line and may ``sys.exit``), and a child keeps its prints and its failures out of
    ours. ``-o`` must end in ``.wacz``, so the child writes into a scratch folder."""
    scratch = output.with_name(output.name + ".d")
    scratch.mkdir(exist_ok=True)
    packed = scratch / "out.wacz"
    try:
        args = [sys.executable, "-m", "wacz", "create", "-o", str(packed), "-p", str(pages),
                "--title", title, str(warc)]  # fmt: skip
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not packed.is_file():
            said = (done.stderr or done.stdout).strip().splitlines()
            why = _disk_full(said) or (said[-1] if said else f"exit {done.returncode}")
            raise WaczError(f"wacz create failed: {why}")
        os.replace(packed, output)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _disk_full(lines: list[str]) -> str | None:
    return next((line for line in reversed(lines) if "No space left" in line or "Errno 28" in line), None)


def _collect(
    reader: Reader, archive_dir: Path, warc: Path, pages: Path, *, since: date | None, until: date | None
) -> WaczResult:
    """Copy into ``warc`` (after a ``warcinfo`` record) the archived article pages of the range,
    the resources they use, and the HTML pages captured in the range (lists, the home page, the
    e-paper's pages); write ``pages.jsonl`` with each page's title and, for articles, its text."""
    out = _Copier(reader, archive_dir, warc)
    with out, pages.open("w", encoding="utf-8") as pg:
        pg.write(json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "Articles"}) + "\n")
        page_ids: set[int] = set()
        after = 0
        while batch := reader.fetches_between(since=since, until=until, after=after, limit=BATCH):
            after = batch[-1].fetch_id
            for at in batch:
                try:
                    source, data = _response_of(reader, archive_dir, at)
                except (ArchiveError, OSError):
                    out.missing += 1
                    continue
                page_ids.add(at.url_id)
                if out.copy(source.warc_file, source.warc_offset, data):
                    _page_line(pg, reader, _target(data) or source.url, source.fetched_at, data)
        for row in reader.resources_of_pages(sorted(page_ids)):
            out.copy_at(
                row["warc_file"],
                int(row["warc_offset"]),
                digest=row["payload_digest"] if row["revisit"] else None,
            )
        start = datetime.combine(since, time.min, UTC) if since else None
        end = datetime.combine(until + timedelta(days=1), time.min, UTC) if until else None
        after = 0
        while listed := reader.html_captures_between(start, end, after=after, limit=BATCH):
            after = listed[-1][0]
            for _id, cap in listed:
                if (cap.warc_file, cap.warc_offset) in out.written or reader.article_for_url(
                    cap.url
                ) is not None:
                    continue  # articles are exported by their publication date, above
                listed_data = out.read(cap.warc_file, cap.warc_offset)
                if listed_data is not None and out.copy(cap.warc_file, cap.warc_offset, listed_data):
                    _page_line(pg, reader, cap.url, cap.captured_at, listed_data)
    return WaczResult(pages=out.pages, records=len(out.written), missing=out.missing)


class _Copier:
    """Records copied into one WARC file (one gzip member each), each once, after a ``warcinfo``."""

    def __init__(self, reader: Reader, archive_dir: Path, warc: Path) -> None:
        self.reader, self.archive_dir, self.warc = reader, archive_dir, warc
        self.written: set[tuple[str, int]] = set()
        self.pages = self.missing = 0

    def __enter__(self) -> _Copier:
        self.fh = self.warc.open("wb")
        self.fh.write(gzip.compress(_warcinfo(self.warc.name), compresslevel=6))
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()

    def read(self, warc_file: str, offset: int) -> bytes | None:
        path = Path(warc_file) if Path(warc_file).is_absolute() else self.archive_dir / warc_file
        try:
            return record_bytes(path, offset)
        except (ArchiveError, OSError):
            self.missing += 1
            return None

    def copy(self, warc_file: str, offset: int, data: bytes, *, page: bool = True) -> bool:
        """Write ``data`` (the record at ``warc_file``/``offset``) unless written; True when new."""
        if (warc_file, offset) in self.written:
            return False
        self.written.add((warc_file, offset))
        self.fh.write(gzip.compress(data, compresslevel=6))
        self.pages += page
        return True

    def copy_at(self, warc_file: str, offset: int, *, digest: str | None) -> None:
        """A resource's record; for a revisit, also the record that holds its payload (a picture
        archived under another URL), so every resource replays from the file alone."""
        data = self.read(warc_file, offset)
        if data is None:
            return
        self.copy(warc_file, offset, data, page=False)
        if digest and (place := self.reader.payload_of(digest)) is not None:
            full = self.read(*place)
            if full is not None:
                self.copy(place[0], place[1], full, page=False)


def _warcinfo(filename: str) -> bytes:
    """The ``warcinfo`` record that opens the exported WARC file (who wrote it, in what format)."""
    import io as _io

    from warcio.warcwriter import WARCWriter

    buffer = _io.BytesIO()
    writer = WARCWriter(buffer, gzip=False)
    writer.write_record(writer.create_warcinfo_record(filename, {
        "software": "jinshan-archiver (export)", "format": "WARC File Format 1.1",
        "description": "金山网 archive: article pages, their resources and the list pages of the range",
    }))  # fmt: skip
    return buffer.getvalue()


def _target(data: bytes) -> str | None:
    head = data[:4000].split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"warc-target-uri:"):
            return line.split(b":", 1)[1].strip().decode("utf-8", "replace")
    return None


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _page_line(pg: IO[str], reader: Reader, url: str, when: datetime, data: bytes) -> None:
    """One line of ``pages.jsonl``: the page's URL and time, its title, and an article's text (what
    ReplayWeb.page searches)."""
    page: dict[str, str] = {"id": hashlib.sha1(f"{url} {when.isoformat()}".encode()).hexdigest()[:16],
                            "url": url, "ts": _ts(when)}  # fmt: skip
    known = reader.page_text(url)
    if known is not None and reader.is_canonical(url):
        page["title"], page["text"] = known
    elif (m := _TITLE.search(data)) is not None:
        raw = m.group(1)[:500]
        page["title"] = html.unescape(_decode(raw)).strip()
        if known is not None:  # a further page of an article: its title, the text is the article's
            page["title"] = known[0]
    pg.write(json.dumps(page, ensure_ascii=False) + "\n")


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def run_wacz_export(
    settings: Settings, *, since: date | None, until: date | None, output: Path
) -> WaczResult:
    """``jinshan export --format wacz``: read-only on the database, records from ``[archive] path``."""
    from service.store import open_reader

    if since and until and since > until:
        raise ValueError("--since is after --until")
    if output.suffix != ".wacz":
        raise ValueError(f"a WACZ file is named *.wacz, not {output.name}")
    _refresh_index(settings)
    with open_reader(settings) as reader:
        return export_wacz(reader, Path(settings.archive.path), output, since=since, until=until)


def run_warc_export(
    settings: Settings, *, since: date | None, until: date | None, output: Path
) -> WaczResult:
    """``jinshan export --format warc``: the same records as the WACZ (article pages, their
    resources, the list pages of the range, a ``warcinfo`` first) as one gzip WARC file, for the
    tools that take WARC (pywb's ``wb-manager add``, warcio, Heritrix's tools)."""
    from service.store import open_reader

    if since and until and since > until:
        raise ValueError("--since is after --until")
    if not output.name.endswith((".warc.gz", ".warc")):
        raise ValueError(f"a WARC file is named *.warc.gz, not {output.name}")
    if not output.parent.is_dir():
        raise ValueError(f"--output: no folder {output.parent}")
    _refresh_index(settings)
    with open_reader(settings) as reader, tempfile.TemporaryDirectory(prefix="jinshan-warc-") as tmp:
        result = _collect(reader, Path(settings.archive.path), output, Path(tmp) / "pages.jsonl",
                          since=since, until=until)  # fmt: skip
    if result.records == 0:
        output.unlink(missing_ok=True)
        raise WaczError("no archived pages in that range: nothing to export")
    return result


def _refresh_index(settings: Settings) -> None:
    """Read the WARC records a killed run left unindexed into the captures index; skipped (with a
    note) where the database cannot be written: the export then holds what was indexed."""
    from service.crawl.captures import index_archive
    from service.store import StoreError, open_store

    try:
        with open_store(settings) as store:
            index_archive(store, settings)
    except (StoreError, OSError) as exc:
        log.warning(
            "the captures index was not refreshed (%s): list pages of the last run may be missing", exc
        )


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
