"""Reading a response body as it streams in, with a hard cap on the decoded size.

Part of the fetch stage. httpx would decode ``Content-Encoding`` for us, but one small compressed
chunk can inflate to many megabytes in a single call; here every ``decompress`` call is bounded by
the bytes still allowed, so a decompression bomb is cut off after at most ``max_bytes`` of output.
The raw (still encoded) bytes are kept too, because the archive stores what the server sent.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass


class BodyTooLarge(Exception):
    """The body (raw or decoded) passed the cap; ``seen`` is how many decoded bytes were produced."""

    def __init__(self, seen: int) -> None:
        super().__init__(f"body larger than the cap ({seen} bytes read)")
        self.seen = seen


class BadEncoding(Exception):
    """The body does not decode with the ``Content-Encoding`` the server declared."""


@dataclass(frozen=True, slots=True)
class Body:
    """A complete body: ``raw`` as transferred (content-encoded), ``data`` decoded."""

    raw: bytes
    data: bytes


class _Decoder:
    """Bounded incremental decoder for identity, gzip and deflate."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._z: zlib._Decompress | None = None
        self._raw_deflate_tried = False
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 32)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            raise BadEncoding(f"unsupported content-encoding {encoding!r}")

    def feed(self, chunk: bytes, room: int) -> bytes:
        """Decode ``chunk``; raise BodyTooLarge as soon as more than ``room`` bytes would come out."""
        if self._z is None:
            if len(chunk) > room:
                raise BodyTooLarge(len(chunk))
            return chunk
        out = bytearray()
        data = chunk
        while data:
            try:
                piece = self._z.decompress(data, room - len(out) + 1)
            except zlib.error as exc:
                if self.encoding == "deflate" and not out and not self._raw_deflate_tried:
                    # Some servers send raw deflate without the zlib wrapper.
                    self._raw_deflate_tried = True
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise BadEncoding(str(exc)) from exc
            out += piece
            if len(out) > room:
                raise BodyTooLarge(len(out))
            data = self._z.unconsumed_tail
            if self._z.eof:
                break
        return bytes(out)

    def finish(self) -> None:
        """Raise BadEncoding when a compressed stream ended before its end marker."""
        if self._z is not None and not self._z.eof:
            raise BadEncoding("compressed body ended early")


async def read_body(chunks: AsyncIterator[bytes], *, encoding: str, max_bytes: int) -> Body:
    """Collect raw ``chunks`` (as transferred) and decode them, never holding more than ``max_bytes``.

    Raises BodyTooLarge when raw or decoded size passes ``max_bytes`` and BadEncoding when the
    declared encoding does not fit the bytes. Network errors from ``chunks`` pass through.
    """
    decoder = _Decoder(encoding.strip().lower())
    raw = bytearray()
    data = bytearray()
    async for chunk in chunks:
        raw += chunk
        if len(raw) > max_bytes:
            raise BodyTooLarge(len(data))
        data += decoder.feed(chunk, max_bytes - len(data))
    if raw:
        decoder.finish()
    return Body(raw=bytes(raw), data=bytes(data))


def decode_body(raw: bytes, *, encoding: str, max_bytes: int) -> bytes:
    """Decode a complete ``raw`` body (the archive reader's path); same rules as ``read_body``."""
    decoder = _Decoder(encoding.strip().lower())
    data = decoder.feed(raw, max_bytes)
    if raw:
        decoder.finish()
    return data
