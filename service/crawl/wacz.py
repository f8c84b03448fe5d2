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

import contextlib
import gzip
import io
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from service.errors import JinshanError
from service.fetch.archive import ArchiveError, record_bytes
from service.settings import Settings
from service.store import ArchivedAt, Reader

BATCH = 500


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
    """Write the WACZ of the articles published in ``since``..``until`` to ``output``."""
    from wacz.main import main as wacz_main

    with tempfile.TemporaryDirectory(prefix="jinshan-wacz-") as tmp:
        warc, pages = Path(tmp) / "jinshan.warc.gz", Path(tmp) / "pages.jsonl"
        result = _collect(reader, archive_dir, warc, pages, since=since, until=until)
        if result.records == 0:
            raise WaczError("no archived pages in that range: nothing to export")
        args = ["create", "-o", str(output), "-p", str(pages), "--title", title, str(warc)]
        said = io.StringIO()  # py-wacz prints its progress: keep stdout clean, show it on failure
        try:
            with contextlib.redirect_stdout(said):
                code = wacz_main(args)
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
        if code not in (0, None):
            raise WaczError(f"wacz create failed (exit {code}): {said.getvalue().strip()[-500:]}")
    return result


def _collect(
    reader: Reader, archive_dir: Path, warc: Path, pages: Path, *, since: date | None, until: date | None
) -> WaczResult:
    seen: set[int] = set()
    n_pages = missing = 0
    with warc.open("wb") as out, pages.open("w", encoding="utf-8") as pg:
        pg.write(json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "Articles"}) + "\n")
        after = 0
        while batch := reader.fetches_between(since=since, until=until, after=after, limit=BATCH):
            after = batch[-1].fetch_id
            for at in batch:
                try:
                    source, data = _response_of(reader, archive_dir, at)
                except (ArchiveError, OSError):
                    missing += 1
                    continue
                if source.fetch_id in seen:
                    continue
                seen.add(source.fetch_id)
                out.write(gzip.compress(data, compresslevel=6))
                n_pages += 1
                page = {"id": f"fetch-{source.fetch_id}", "url": source.url, "ts": _ts(source.fetched_at)}
                title = reader.title_for_url(source.url)
                if title:
                    page["title"] = title
                pg.write(json.dumps(page, ensure_ascii=False) + "\n")
    return WaczResult(pages=n_pages, records=len(seen), missing=missing)


def run_wacz_export(
    settings: Settings, *, since: date | None, until: date | None, output: Path
) -> WaczResult:
    """``jinshan export --format wacz``: read-only on the database, records from ``[archive] path``."""
    from service.store import open_reader

    if since and until and since > until:
        raise ValueError("--since is after --until")
    if output.suffix != ".wacz":
        raise ValueError(f"a WACZ file is named *.wacz, not {output.name}")
    with open_reader(settings) as reader:
        return export_wacz(reader, Path(settings.archive.path), output, since=since, until=until)


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
