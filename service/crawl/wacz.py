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
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from service.atomic import atomic_path
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
