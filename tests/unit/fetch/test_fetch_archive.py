"""WARC writing and reading: records, digests, revisit, rotation, concurrency, torn files."""

from __future__ import annotations

import gzip
import logging
import random
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from service.fetch.archive import (
    ArchiveError,
    Exchange,
    WarcArchive,
    iter_records,
    iter_responses,
    payload_digest,
    read_response,
)

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def exchange(
    url: str = "https://www.jsw.com.cn/a.shtml", body: bytes = b"<html>a</html>", **kw: object
) -> Exchange:
    fields: dict[str, object] = {
        "url": url,
        "method": "GET",
        "request_target": "/a.shtml",
        "request_headers": (("Host", "www.jsw.com.cn"), ("User-Agent", "jinshan-archiver/0.1")),
        "http_version": "HTTP/1.1",
        "status": 200,
        "reason": "OK",
        "response_headers": (("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked")),
        "payload": body,
        "fetched_at": WHEN,
    }
    fields.update(kw)
    return Exchange(**fields)  # type: ignore[arg-type]


def test_digest_is_sha1_base32() -> None:
    assert payload_digest(b"") == "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"


def test_request_and_response_records_with_standard_headers(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    ref = archive.write(exchange())
    path = tmp_path / ref.filename
    with path.open("rb") as fh:
        records = [(r.rec_type, r.rec_headers) for r in ArchiveIterator(fh)]
    assert [t for t, _ in records] == ["warcinfo", "request", "response"]
    response = records[2][1]
    assert response.get_header("WARC-Target-URI") == "https://www.jsw.com.cn/a.shtml"
    assert response.get_header("WARC-Date") == "2026-03-04T05:06:07Z"
    assert response.get_header("WARC-Payload-Digest") == payload_digest(b"<html>a</html>")
    assert ref.payload_digest == payload_digest(b"<html>a</html>")  # handed on, not hashed again
    # one payload digest header, and the block digest warcio computes is still right
    assert [k for k, _ in response.headers].count("WARC-Payload-Digest") == 1
    assert response.get_header("WARC-Block-Digest")
    assert records[1][1].get_header("WARC-Concurrent-To") == response.get_header("WARC-Record-ID")
    back = read_response(path, ref.offset)
    assert back.date == WHEN and back.status == 200 and back.body == b"<html>a</html>"
    assert not any(k.lower() == "transfer-encoding" for k, _ in back.headers)


def test_each_record_is_its_own_gzip_member(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    ref = archive.write(exchange())
    data = (tmp_path / ref.filename).read_bytes()
    member = data[ref.offset : ref.offset + ref.length]
    record = gzip.decompress(member)
    assert record.startswith(b"WARC/1.0\r\n") and b"\r\nWARC-Type: response\r\n" in record
    assert ref.offset + ref.length == len(data)


def test_revisit_only_when_digest_matches(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    same = archive.write(exchange(), previous_digest=payload_digest(b"<html>a</html>"))
    other = archive.write(exchange(), previous_digest=payload_digest(b"older"))
    assert same.revisit and not other.revisit
    assert same.length < other.length or len(b"<html>a</html>") < 100
    back = read_response(tmp_path / same.filename, same.offset)
    assert back.record_type == "revisit" and back.refers_to_uri == "https://www.jsw.com.cn/a.shtml"


def test_rotation_by_size(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path, rotate_bytes=4096)
    body = random.Random(0).randbytes(1500)  # incompressible: each exchange adds ~2.3 KB
    refs = [archive.write(exchange(url=f"https://www.jsw.com.cn/{i}", body=body)) for i in range(6)]
    files = {r.filename for r in refs}
    assert len(files) == 3  # a file is closed once it has passed 4096 bytes: two exchanges each
    for ref in refs:
        assert read_response(tmp_path / ref.filename, ref.offset).body == body


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path, rotate_bytes=200_000)
    bodies = {i: f"<html>{i}</html>".encode() * (i % 50 + 1) for i in range(400)}
    with ThreadPoolExecutor(16) as pool:
        refs = list(
            pool.map(lambda i: (i, archive.write(exchange(url=f"https://x/{i}", body=bodies[i]))), bodies)
        )
    archive.close()
    for i, ref in refs:
        back = read_response(tmp_path / ref.filename, ref.offset)
        assert (back.url, back.body) == (f"https://x/{i}", bodies[i])
    total = sum(1 for f in tmp_path.glob("*.warc.gz") for r in iter_records(f) if r.record_type == "response")
    assert total == 400


def test_truncated_file_reads_up_to_last_complete_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive = WarcArchive(tmp_path)
    refs = [archive.write(exchange(url=f"https://x/{i}", body=b"<p>%d</p>" % i * 300)) for i in range(3)]
    archive.close()
    path = tmp_path / refs[0].filename
    data = path.read_bytes()
    path.write_bytes(data[: refs[2].offset + refs[2].length // 2])
    with caplog.at_level(logging.WARNING):
        responses = [r.url for _, r in iter_responses(path)]
    assert responses == ["https://x/0", "https://x/1"]
    assert "truncated" in caplog.text
    with pytest.raises(ArchiveError):
        read_response(path, refs[2].offset)


def test_garbage_after_records_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    archive = WarcArchive(tmp_path)
    ref = archive.write(exchange())
    archive.close()
    path = tmp_path / ref.filename
    with path.open("ab") as fh:
        fh.write(b"this is not gzip")
    with caplog.at_level(logging.WARNING):
        assert [t.record_type for t in iter_records(path)] == ["warcinfo", "request", "response"]
    assert "not gzip" in caplog.text


def test_reading_a_non_response_record_is_an_error(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    ref = archive.write(exchange())
    with pytest.raises(ArchiveError):
        read_response(tmp_path / ref.filename, 0)  # the warcinfo record
    with pytest.raises(ArchiveError):
        read_response(tmp_path / ref.filename, ref.offset + ref.length)  # end of file


def test_gzip_payload_is_stored_raw_and_read_decoded(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    html = "<html>金山网</html>".encode()
    raw = gzip.compress(html)
    ex = exchange(body=raw, response_headers=(("Content-Type", "text/html"), ("Content-Encoding", "gzip")))
    ref = archive.write(ex)
    member = (tmp_path / ref.filename).read_bytes()[ref.offset : ref.offset + ref.length]
    assert raw in zlib.decompress(member, 31)
    assert read_response(tmp_path / ref.filename, ref.offset).body == html


def test_from_settings_and_path_of(tmp_path: Path) -> None:
    from tests.support.faultserver import fast_settings

    assert WarcArchive.from_settings(fast_settings(archive_dir=str(tmp_path))) is not None
    archive = WarcArchive(tmp_path)
    ref = archive.write(exchange())
    assert read_response(archive.path_of(ref), ref.offset).status == 200


def test_gzip_level_comes_from_the_settings_and_trades_size(tmp_path: Path) -> None:
    from service.settings import load_settings

    body = "".join(f"<p>第{i}段：镇江新闻{random.Random(i).random():.6f}</p>" for i in range(400)).encode()
    sizes = {}
    for level in (1, 9):
        settings = load_settings(
            environ={}, overrides={"archive": {"path": str(tmp_path / str(level)), "gzip_level": level}}
        )
        archive = WarcArchive.from_settings(settings)
        assert archive is not None and archive.gzip_level == level
        ref = archive.write(exchange(body=body))
        archive.close()
        assert read_response(archive.path_of(ref), ref.offset).body == body  # either level reads back
        sizes[level] = ref.length
    assert sizes[9] < sizes[1]


def test_the_open_file_holds_every_returned_record_and_rotation_closes_it(tmp_path: Path) -> None:
    """The file is kept open between writes: each record is in the file once ``write`` returns (a
    kill after that loses nothing), and a rotation starts a new file."""
    archive = WarcArchive(tmp_path, rotate_bytes=4096)
    refs = [archive.write(exchange(body=random.Random(i).randbytes(3000))) for i in range(4)]
    for ref in refs:  # read through another handle, the writer's still open
        assert len(read_response(tmp_path / ref.filename, ref.offset).body) == 3000
    assert len({r.filename for r in refs}) >= 2
    archive.close()
    assert archive.write(exchange()).filename not in {r.filename for r in refs}


def test_a_failed_append_sends_the_next_record_to_a_new_file(tmp_path: Path) -> None:
    """A write the disk refused may have left part of a record: the file is cut back to its last
    whole record (a valid WARC), and the next record starts a new file, and reads back."""
    archive = WarcArchive(tmp_path)
    first = archive.write(exchange())
    kept = archive._file
    assert kept is not None
    whole = (tmp_path / first.filename).stat().st_size

    class Full:
        def write(self, _data: bytes) -> int:
            kept.write(b"\x1f\x8b torn")  # part of a record reached the file
            raise OSError(28, "No space left on device")

        def truncate(self, size: int) -> int:
            return kept.truncate(size)

        def close(self) -> None:
            kept.close()

    archive._file = Full()  # type: ignore[assignment]
    with pytest.raises(OSError):
        archive.write(exchange(body=b"<html>lost</html>"))
    after = archive.write(exchange(body=b"<html>b</html>"))
    assert after.filename != first.filename
    assert read_response(tmp_path / after.filename, after.offset).body == b"<html>b</html>"
    assert read_response(tmp_path / first.filename, first.offset).body == b"<html>a</html>"
    assert (tmp_path / first.filename).stat().st_size == whole  # the torn part is gone
