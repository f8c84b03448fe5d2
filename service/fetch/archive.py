"""The WARC archive: every HTTP exchange as it arrived, for evidence and for ``jinshan reparse``.

Part of the fetch stage (docs/architecture.md: "fetch … ──> archive (WARC, raw bytes)"). The ``Fetcher``
hands each exchange to ``WarcArchive.write`` (through ``awrite``, which runs a large one in a worker
thread so gzip never stalls the event loop for long; a small one is written at once, because the
hop to a thread and back cost more CPU than compressing the record). Records are built with warcio, one gzip member per record, a
request record followed by its response (or revisit) record. The response body is stored as the
server sent it (content-encoding kept; transfer-encoding already removed by the HTTP client, so that
header is dropped from the stored headers).

Readers: ``read_response(path, offset)`` returns one archived response for re-parsing;
``iter_records(path)`` lists every record. A file cut off mid-record (a crash while writing) reads up
to its last complete record; the torn one is skipped with a warning.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import hashlib
import io
import logging
import os
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import iso_date_to_datetime
from warcio.warcwriter import WARCWriter

from service.errors import JinshanError
from service.fetch.body import BadEncoding, decode_body
from service.settings import Settings

log = logging.getLogger(__name__)

#: Transfer-level headers that no longer describe the stored bytes.
_DROPPED_HEADERS = frozenset({"transfer-encoding"})
#: Reading decompresses a member at a time; a record larger than this is refused as corrupt.
_MAX_RECORD_BYTES = 256 * 1024 * 1024
_READ_CHUNK = 1 << 16
#: Payloads up to this size are archived on the caller's thread (gzip of 128 KB of HTML takes about
#: 1 ms); larger ones, and every write when ``fsync`` is on, in a worker thread. Writing a page on
#: the event loop instead of handing it to a thread saved about 0.4 ms of CPU per request
#: (benchmarks/fetch.py, 8 in flight).
INLINE_MAX_BYTES = 128 * 1024


class ArchiveError(JinshanError):
    """An archive file or offset does not hold the record asked for."""


def payload_digest(payload: bytes) -> str:
    """``sha1:BASE32`` of ``payload``, the form of WARC-Payload-Digest."""
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode("ascii")


@dataclass(frozen=True, slots=True)
class WarcRef:
    """Where one response was archived: file name (in the archive directory), offset, length; and
    the payload's digest, computed once for the record and handed on (the fetcher reports it)."""

    filename: str
    offset: int
    length: int
    revisit: bool = False
    payload_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and the response that came back, as the archive needs them."""

    url: str
    method: str
    request_target: str
    request_headers: tuple[tuple[str, str], ...]
    http_version: str
    status: int
    reason: str
    response_headers: tuple[tuple[str, str], ...]
    payload: bytes  # as transferred: content-encoding kept
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class ArchivedResponse:
    """A response read back from the archive. ``body`` is decoded (content-encoding undone).

    For a revisit record ``body`` is empty and ``refers_to_uri``/``payload_digest`` point to the
    response that holds the identical payload.
    """

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    date: datetime
    record_type: str
    payload_digest: str | None
    refers_to_uri: str | None = None
    refers_to_date: str | None = None


@dataclass(frozen=True, slots=True)
class RecordInfo:
    """One complete record of a WARC file, as listed by ``iter_records``."""

    offset: int
    length: int
    record_type: str
    url: str | None
    date: datetime | None
    record_id: str | None


def _warc_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gzip_member(data: bytes, level: int) -> bytes:
    z = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return z.compress(data) + z.flush()


class _RecordSerializer(WARCWriter):  # type: ignore[misc]
    """warcio's writer aimed at a buffer, uncompressed; we gzip at our own level."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), gzip=False)

    def to_bytes(self, record: Any) -> bytes:
        out = io.BytesIO()
        self._write_warc_record(out, record)
        return out.getvalue()


class WarcArchive:
    """Appends exchanges to gzip WARC files under ``directory``, starting a new file past
    ``rotate_bytes``. Safe to call from many threads and coroutines at once: records are built and
    compressed outside the lock, only the append is serialised.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        rotate_bytes: int = 1_000_000_000,
        prefix: str = "jinshan",
        gzip_level: int = 6,
        fsync: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.rotate_bytes = rotate_bytes
        self.prefix = prefix
        self.gzip_level = gzip_level
        self.fsync = fsync
        self._lock = threading.Lock()
        self._name = ""
        self._file: IO[bytes] | None = None
        self._size = 0
        self._seq = 0
        self._serializer = _RecordSerializer()

    @classmethod
    def from_settings(cls, settings: Settings) -> WarcArchive | None:
        """The archive ``[archive]`` describes, or None when archiving is disabled."""
        if not settings.archive.enabled:
            return None
        cfg = settings.archive
        return cls(cfg.path, rotate_bytes=cfg.rotate_bytes, gzip_level=cfg.gzip_level)

    def path_of(self, ref: WarcRef) -> Path:
        """The file ``ref`` points into, for ``read_response(archive.path_of(ref), ref.offset)``."""
        return self.directory / ref.filename

    async def awrite(
        self,
        exchange: Exchange,
        *,
        previous_digest: str | None = None,
        refers_to: tuple[str, datetime] | None = None,
    ) -> WarcRef:
        """``write`` for a coroutine: at once for a small payload (``INLINE_MAX_BYTES``), in a worker
        thread for a large one or when every write waits for the disk (``fsync``), so compression
        and disk never block the event loop for long."""
        if len(exchange.payload) <= INLINE_MAX_BYTES and not self.fsync:
            return self.write(exchange, previous_digest=previous_digest, refers_to=refers_to)
        return await asyncio.to_thread(
            self.write, exchange, previous_digest=previous_digest, refers_to=refers_to
        )

    def write(
        self,
        exchange: Exchange,
        *,
        previous_digest: str | None = None,
        refers_to: tuple[str, datetime] | None = None,
    ) -> WarcRef:
        """Append the request and response records of ``exchange``; return the response's place.

        When ``previous_digest`` equals this payload's digest the response is written as a
        revisit record (identical-payload-digest profile) without the body. ``refers_to`` (URL,
        capture time): the archive holds this payload under that other URL (a picture served at two
        addresses): a revisit record that refers to it.
        """
        digest = payload_digest(exchange.payload)
        same = previous_digest is not None and previous_digest == digest
        revisit = (same or refers_to is not None) and 200 <= exchange.status < 300
        response = self._response_record(
            exchange, digest, revisit=revisit, refers_to=None if same else refers_to
        )
        request = self._request_record(exchange, response.rec_headers.get_header("WARC-Record-ID"))
        req_bytes = _gzip_member(self._serializer.to_bytes(request), self.gzip_level)
        resp_bytes = _gzip_member(self._serializer.to_bytes(response), self.gzip_level)
        with self._lock:
            fh = self._file
            if fh is None or self._size >= self.rotate_bytes:
                fh = self._start_file()
            offset = self._size + len(req_bytes)
            try:
                # unbuffered: handed to the OS at once, a killed process loses no record it returned
                # a place for
                _write_all(fh, req_bytes + resp_bytes)
                if self.fsync:
                    os.fsync(fh.fileno())
            except OSError:
                self._cut_back(fh)
                raise
            self._size += len(req_bytes) + len(resp_bytes)
            return WarcRef(self._name, offset, len(resp_bytes), revisit, digest)

    def close(self) -> None:
        """Finish the current file; the next write starts a new one."""
        with self._lock:
            self._close_file()

    def _cut_back(self, fh: IO[bytes]) -> None:
        """After an append the disk refused (full, over quota): part of the record may be in the
        file. Cut it back to its last whole record, so the file stays a valid WARC (truncating needs
        no space), and close it: the next record starts a new file."""
        with contextlib.suppress(OSError):
            fh.truncate(self._size)
        self._close_file()

    def _close_file(self) -> None:
        fh, self._file, self._name = self._file, None, ""
        if fh is not None:
            with contextlib.suppress(OSError):  # a full disk refuses the buffer's rest: it is torn anyway
                fh.close()

    def _start_file(self) -> IO[bytes]:
        self._close_file()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        name = f"{self.prefix}-{stamp}-{self._seq:05d}-{os.getpid()}.warc.gz"
        info = self._serializer.create_warcinfo_record(
            name, {"software": "jinshan-archiver", "format": "WARC File Format 1.0"}
        )
        data = _gzip_member(self._serializer.to_bytes(info), self.gzip_level)
        # kept open for the appends that follow (opening it per record cost more than its write)
        path = self.directory / name
        fh = path.open("xb", buffering=0)
        try:
            _write_all(fh, data)
        except OSError:  # a full disk: no file with half a warcinfo record is left behind
            fh.close()
            path.unlink(missing_ok=True)
            raise
        self._name, self._file, self._size = name, fh, len(data)
        return fh

    def _response_record(
        self, ex: Exchange, digest: str, *, revisit: bool, refers_to: tuple[str, datetime] | None = None
    ) -> Any:
        headers = [(k, v) for k, v in ex.response_headers if k.lower() not in _DROPPED_HEADERS]
        http = StatusAndHeaders(f"{ex.status} {ex.reason}".strip(), headers, protocol=ex.http_version)
        # the digest given, so warcio does not hash the payload again (it still hashes the block)
        warc_headers = {"WARC-Date": _warc_date(ex.fetched_at), "WARC-Payload-Digest": digest}
        builder: RecordBuilder = self._serializer
        if revisit:
            # The date of the earlier capture is not known here, so WARC-Refers-To-Date is omitted
            # (it is optional); the URI and digest identify the record holding the payload.
            record = builder.create_warc_record(
                ex.url, "revisit", http_headers=http, warc_headers_dict=warc_headers
            )
            record.rec_headers.add_header("WARC-Profile", RecordBuilder.REVISIT_PROFILE)
            record.rec_headers.add_header("WARC-Refers-To-Target-URI", refers_to[0] if refers_to else ex.url)
            if refers_to is not None:
                record.rec_headers.add_header("WARC-Refers-To-Date", _warc_date(refers_to[1]))
            return record
        return builder.create_warc_record(
            ex.url, "response", payload=io.BytesIO(ex.payload), length=len(ex.payload),
            http_headers=http, warc_headers_dict=warc_headers,
        )  # fmt: skip

    def _request_record(self, ex: Exchange, concurrent_to: str) -> Any:
        http = StatusAndHeaders(
            f"{ex.method} {ex.request_target}", list(ex.request_headers), protocol=ex.http_version,
            is_http_request=True,
        )  # fmt: skip
        warc_headers = {"WARC-Date": _warc_date(ex.fetched_at), "WARC-Concurrent-To": concurrent_to}
        return self._serializer.create_warc_record(
            ex.url, "request", http_headers=http, warc_headers_dict=warc_headers
        )


# --- reading ------------------------------------------------------------------------------------


def _member_at(fh: IO[bytes], offset: int) -> tuple[bytes, int] | None:
    """Decompress the gzip member starting at ``offset``: (record bytes, compressed length).

    None at end of file; ArchiveError when the member is torn or not gzip.
    """
    fh.seek(offset)
    z = zlib.decompressobj(zlib.MAX_WBITS | 16)
    out = bytearray()
    consumed = 0
    while not z.eof:
        chunk = fh.read(_READ_CHUNK)
        if not chunk:
            if consumed == 0:
                return None
            raise ArchiveError(f"record at offset {offset} is truncated")
        try:
            out += z.decompress(chunk)
        except zlib.error as exc:
            raise ArchiveError(f"record at offset {offset} is not gzip: {exc}") from exc
        if len(out) > _MAX_RECORD_BYTES:
            raise ArchiveError(f"record at offset {offset} is larger than {_MAX_RECORD_BYTES} bytes")
        consumed += len(chunk)
    return bytes(out), consumed - len(z.unused_data)


def _parse_record(data: bytes) -> Any:
    records = ArchiveIterator(io.BytesIO(data), ensure_http_headers=False)
    record = next(iter(records), None)
    if record is None:
        raise ArchiveError("no WARC record in member")
    return record


def _date_of(record: Any) -> datetime | None:
    value = record.rec_headers.get_header("WARC-Date")
    return iso_date_to_datetime(value).replace(tzinfo=UTC) if value else None


def _to_response(record: Any) -> ArchivedResponse:
    if record.rec_type not in ("response", "revisit") or record.http_headers is None:
        raise ArchiveError(f"record is a {record.rec_type!r} record, not a response")
    http = record.http_headers
    raw = record.raw_stream.read() if record.rec_type == "response" else b""
    try:
        body = decode_body(
            raw, encoding=http.get_header("content-encoding") or "", max_bytes=_MAX_RECORD_BYTES
        )
    except BadEncoding:
        body = raw  # evidence first: hand back what the server sent rather than nothing
    rh = record.rec_headers
    return ArchivedResponse(
        url=rh.get_header("WARC-Target-URI"),
        status=int(http.get_statuscode() or 0),
        headers=tuple((k, v) for k, v in http.headers),
        body=body,
        date=_date_of(record) or datetime.fromtimestamp(0, UTC),
        record_type=record.rec_type,
        payload_digest=rh.get_header("WARC-Payload-Digest"),
        refers_to_uri=rh.get_header("WARC-Refers-To-Target-URI"),
        refers_to_date=rh.get_header("WARC-Refers-To-Date"),
    )


def read_response(path: str | Path, offset: int) -> ArchivedResponse:
    """The response (or revisit) record at ``offset`` of the WARC file ``path``.

    Raises ArchiveError when the file cannot be read, nothing complete is there or the record is
    not a response.
    """
    try:
        with Path(path).open("rb") as fh:
            member = _member_at(fh, offset)
    except OSError as exc:
        raise ArchiveError(f"{path}: {exc.strerror or exc}") from exc
    if member is None:
        raise ArchiveError(f"{path}: no record at offset {offset}")
    return _to_response(_parse_record(member[0]))


def record_bytes(path: str | Path, offset: int) -> bytes:
    """The WARC record at ``offset`` of ``path``, uncompressed, as written (headers and payload):
    for copying records into another archive. Raises ArchiveError when nothing complete is there."""
    with Path(path).open("rb") as fh:
        member = _member_at(fh, offset)
    if member is None:
        raise ArchiveError(f"{path}: no record at offset {offset}")
    return member[0]


def _write_all(fh: IO[bytes], data: bytes) -> None:
    """Write all of ``data`` to an unbuffered file (a write may take only part of it); OSError when
    the disk refuses the rest."""
    view = memoryview(data)
    while view:
        written = fh.write(view)
        if not written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _complete_members(path: Path, start: int = 0) -> Iterator[tuple[int, int, bytes]]:
    with path.open("rb") as fh:
        offset = start
        while True:
            try:
                member = _member_at(fh, offset)
            except ArchiveError as exc:
                log.warning("%s: %s; skipping the rest of the file", path, exc)
                return
            if member is None:
                return
            data, length = member
            yield offset, length, data
            offset += length


def iter_records(path: str | Path) -> Iterator[RecordInfo]:
    """Every complete record of ``path`` in file order; a torn last record is logged and skipped."""
    for offset, length, data in _complete_members(Path(path)):
        record = _parse_record(data)
        rh = record.rec_headers
        yield RecordInfo(
            offset=offset,
            length=length,
            record_type=record.rec_type,
            url=rh.get_header("WARC-Target-URI"),
            date=_date_of(record),
            record_id=rh.get_header("WARC-Record-ID"),
        )


@dataclass(frozen=True, slots=True)
class CaptureInfo:
    """One response or revisit record as the replay's index needs it (no payload)."""

    offset: int
    length: int
    url: str
    date: datetime
    status: int | None
    content_type: str | None
    record_type: str
    payload_digest: str | None


def iter_captures(path: str | Path, start: int = 0) -> Iterator[CaptureInfo]:
    """The response and revisit records of ``path`` from byte ``start`` (a record's start), in
    file order, complete ones only (a torn last record is logged and skipped)."""
    for offset, length, data in _complete_members(Path(path), start):
        record = _parse_record(data)
        if record.rec_type not in ("response", "revisit") or record.http_headers is None:
            continue
        rh, http = record.rec_headers, record.http_headers
        status = http.get_statuscode()
        yield CaptureInfo(
            offset=offset, length=length, url=rh.get_header("WARC-Target-URI") or "",
            date=_date_of(record) or datetime.fromtimestamp(0, UTC),
            status=int(status) if status and status.isdigit() else None,
            content_type=http.get_header("content-type"), record_type=record.rec_type,
            payload_digest=rh.get_header("WARC-Payload-Digest"),
        )  # fmt: skip


def file_size(path: str | Path) -> int:
    """The size of an archive file now (records past it are still being written)."""
    return Path(path).stat().st_size


def iter_responses(path: str | Path) -> Iterator[tuple[int, ArchivedResponse]]:
    """(offset, response) for every complete response and revisit record of ``path``."""
    for offset, _length, data in _complete_members(Path(path)):
        record = _parse_record(data)
        if record.rec_type in ("response", "revisit"):
            yield offset, _to_response(record)
