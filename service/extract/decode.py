"""Bytes to text: the charset from the BOM, the HTTP header, ``<meta>``, then detection.

Declared ``gb2312``/``gbk`` is read as GB18030, its superset: the site's old pages declare gb2312 but
contain GBK-only characters (镕, 堃). A declaration that does not decode the bytes strictly is
skipped (a server header saying utf-8 over GBK bytes is a real failure mode), and bytes that no
charset decodes become U+FFFD — counted in ``Decoded.replaced`` — never a silent ``?``.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

#: labels whose bytes are really GB18030 (a superset of all of them)
_GB_FAMILY = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936", "gb18030", "euc-cn", "hz-gb-2312", "csgb2312"}
#: declarations that decode anything and so prove nothing; tried last
_PERMISSIVE = {"latin-1", "iso8859-1", "cp1252", "windows-1252", "ascii", "us-ascii"}

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-.:]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-.:]+)", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
#: how much of the document head is searched for <meta charset>
META_SCAN_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str  # Python codec name actually used
    method: str  # "bom" | "header" | "meta" | "utf-8" | "gb18030" | "detected" | "fallback"
    replaced: int = 0  # characters that could not be decoded (U+FFFD)


def normalize_label(label: str) -> str | None:
    """A charset label as a Python codec name, GB family folded to gb18030; None when unknown."""
    label = label.strip().strip("\"'").lower()
    if label in _GB_FAMILY:
        return "gb18030"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return normalize_label(m.group(1)) if m else None


def meta_charset(raw: bytes) -> str | None:
    m = _META_CHARSET.search(raw[:META_SCAN_BYTES])
    return normalize_label(m.group(1).decode("ascii", "ignore")) if m else None


def _strict(raw: bytes, encoding: str) -> str | None:
    try:
        return raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(raw: bytes, content_type: str | None = None) -> Decoded:
    """Decode an HTML body; see the module docstring for the order of the evidence."""
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            text = raw.decode(enc, errors="replace")
            return Decoded(text, enc, "bom", text.count("\ufffd"))
    candidates = [(header_charset(content_type), "header"), (meta_charset(raw), "meta")]
    permissive: list[tuple[str, str]] = []
    for declared, method in candidates:
        if declared is None:
            continue
        if declared in _PERMISSIVE:
            permissive.append((declared, method))
            continue
        if (decoded := _strict(raw, declared)) is not None:
            return Decoded(decoded, declared, method)
    for guess in ("utf-8", "gb18030"):
        if (decoded := _strict(raw, guess)) is not None:
            return Decoded(decoded, guess, guess)
    for enc, method in permissive:
        return Decoded(raw.decode(enc), enc, method)
    return _fallback(raw)


def _fallback(raw: bytes) -> Decoded:
    best = from_bytes(raw).best()
    enc = normalize_label(best.encoding) if best is not None else None
    enc = enc or "gb18030"
    text = raw.decode(enc, errors="replace")
    return Decoded(text, enc, "detected" if best is not None else "fallback", text.count("\ufffd"))
