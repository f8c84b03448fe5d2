"""Bounded streaming decode: caps on raw and decoded size, gzip, deflate (both forms), bad data."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator

import pytest

from service.fetch.body import BadEncoding, BodyTooLarge, decode_body, read_body

TEXT = "金山网讯 镇江新闻。".encode() * 200


async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def read(
    data: bytes, encoding: str = "", max_bytes: int = 1_000_000, size: int = 1000
) -> tuple[bytes, bytes]:
    body = asyncio.run(read_body(chunks(data, size), encoding=encoding, max_bytes=max_bytes))
    return body.raw, body.data


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("", lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: _raw_deflate(b)),
    ],
)
def test_decodes_and_keeps_raw(encoding: str, encode: object) -> None:
    raw = encode(TEXT)  # type: ignore[operator]
    got_raw, data = read(raw, encoding)
    assert got_raw == raw and data == TEXT


def _raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(wbits=-15)
    return z.compress(data) + z.flush()


def test_bomb_stops_at_the_cap_without_inflating_it_all() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    with pytest.raises(BodyTooLarge) as err:
        read(bomb, "gzip", max_bytes=100_000)
    assert err.value.seen <= 100_001


def test_raw_cap_applies_to_identity() -> None:
    with pytest.raises(BodyTooLarge):
        read(b"x" * 5000, "", max_bytes=4999)
    assert read(b"x" * 5000, "", max_bytes=5000)[1] == b"x" * 5000


@pytest.mark.parametrize(
    ("data", "encoding"),
    # mtime=0: the gzip header carries a timestamp, and pytest-xdist needs identical ids in every worker
    [(b"not gzip at all", "gzip"), (gzip.compress(TEXT, mtime=0)[:-30], "gzip")],
    ids=["not-gzip", "cut-gzip"],
)
def test_bad_or_cut_compressed_data(data: bytes, encoding: str) -> None:
    with pytest.raises(BadEncoding):
        read(data, encoding)


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(BadEncoding):
        read(b"abc", "br")


def test_decode_body_matches_streaming() -> None:
    raw = gzip.compress(TEXT)
    assert decode_body(raw, encoding="gzip", max_bytes=10**6) == read(raw, "gzip")[1]


def test_bomb_is_never_held_in_memory() -> None:
    import tracemalloc

    bomb = gzip.compress(b"\0" * 200_000_000)  # 200 MB of zeros, about 200 KB compressed
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            # one chunk holding the whole bomb: even a single decompress call must stay bounded
            read(bomb, "gzip", max_bytes=1_000_000, size=len(bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000
