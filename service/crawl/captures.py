"""The replay's index of captures: every response and revisit record of the WARC files, read from
the files into the store (``store.capture_index``), each file from where the last reading stopped.

Orchestration: ``fetch.archive`` reads the records, the store writes the rows. It runs after each
daemon cycle and backfill, and before a WACZ export; being derived from the files, it survives any
kill (a file read halfway is read on from its last complete record next time).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from service.fetch.archive import iter_captures
from service.settings import Settings

log = logging.getLogger(__name__)

#: records written to the store per transaction
BATCH = 500


def index_archive(store: Any, settings: Settings) -> int:
    """Read the WARC files under ``[archive] path`` into the captures index, each from where it was
    read to; how many records were new. Blocking (files and database): run it on a thread."""
    directory = Path(settings.archive.path)
    if not settings.archive.enabled or not directory.is_dir():
        return 0
    done = store.captures_indexed_to()
    new = 0
    for path in sorted(directory.glob("*.warc.gz")):
        start = done.get(path.name, 0)
        if path.stat().st_size <= start:
            continue
        new += _index_file(store, path, start)
    if new:
        log.info("indexed %d archived records for the replay", new)
    return new


def _index_file(store: Any, path: Path, start: int) -> int:
    rows: list[dict[str, Any]] = []
    new, read_to = 0, start
    for info in iter_captures(path, start):
        row = asdict(info)
        row["captured_at"] = row.pop("date")
        row["warc_offset"], row["warc_length"] = row.pop("offset"), row.pop("length")
        rows.append(row)
        read_to = info.offset + info.length
        if len(rows) >= BATCH:
            new += store.index_captures(path.name, rows, read_to=read_to)
            rows = []
    if rows or read_to > start:
        new += store.index_captures(path.name, rows, read_to=read_to)
    return new
