"""Bytes to text: the charset from the BOM, the HTTP header, ``<meta>``, then detection.

Declared ``gb2312``/``gbk`` is read as GB18030, its superset: the site's old pages declare gb2312 but
contain GBK-only characters (镕, 堃). A declaration that does not decode the bytes strictly is kept
all the same when the page is mostly in it, and degrades by the byte: a page of UTF-8 with a few bad
bytes, or with one sentence pasted from a GBK system, is UTF-8 with that sentence recovered from
GB18030 where it reads as Chinese, and U+FFFD for the bytes nothing decodes (``Decoded.recovered``,
``Decoded.replaced``). Only when most of the page is not in the declared charset (a server header
saying utf-8 over GBK bytes is a real failure mode) is the declaration skipped. Never a silent ``?``.
"""

from __future__ import annotations

import codecs
import re
from contextvars import ContextVar
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
    recovered: int = 0  # characters read from GB18030 runs inside a UTF-8 page

    def damage(self) -> str | None:
        """What was replaced or recovered, in words (for ``fields_from``); None when nothing was."""
        said = [f"{self.recovered} characters recovered from gb18030"] if self.recovered else []
        said += [f"{self.replaced} undecodable bytes replaced"] if self.replaced else []
        return f"{self.encoding} ({self.method}): " + ", ".join(said) if said else None


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


#: a page whose undecodable spots are at most this share of its non-ASCII characters is in the
#: charset all the same (a few bad bytes, a pasted sentence); above it the page is in another one
MAX_BAD_SHARE = 0.5
#: a run read as GB18030 is kept when at least this share of it is Chinese
MIN_CJK_SHARE = 0.6
_CJK_CHAR = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_RECOVER = "jinshan-gb18030-runs"
#: what the error handler did during one decode: "+N" characters recovered, "-N" bytes replaced
_EVENTS: ContextVar[list[int] | None] = ContextVar("decode_events", default=None)


def _utf8_at(raw: bytes, pos: int) -> int:
    """The length of the valid UTF-8 multi-byte character at ``pos``, else 0."""
    lead = raw[pos] if pos < len(raw) else 0
    size = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else 4 if 0xF0 <= lead <= 0xF4 else 0
    if not size:
        return 0
    try:
        raw[pos : pos + size].decode("utf-8")
    except UnicodeDecodeError:
        return 0
    return size


def _utf8_resumes(raw: bytes, pos: int) -> bool:
    """Valid UTF-8 text starts at ``pos``: a multi-byte character followed by ASCII, the end, or
    another one (a cut character before UTF-8 text; GBK text rarely makes two in a row)."""
    if not (size := _utf8_at(raw, pos)):
        return False
    after = pos + size
    return after >= len(raw) or raw[after] < 0x80 or _utf8_at(raw, after) > 0


def _cut_utf8(run: bytes) -> bool:
    """``run`` is the start of a UTF-8 character cut short (a lead byte and too few continuation
    bytes): a bad byte of a UTF-8 page, which reads as one Chinese character in GB18030 by accident."""
    lead = run[0]
    size = 3 if 0xE0 <= lead <= 0xEF else 4 if 0xF0 <= lead <= 0xF4 else 0
    return 1 < len(run) < size and all(0x80 <= b <= 0xBF for b in run[1:])


def _gb_run_end(raw: bytes, start: int) -> int:
    """Where a run of GB18030 multi-byte characters starting at ``start`` ends: at the first byte
    that is not one, or where valid UTF-8 resumes."""
    pos, size = start, len(raw)
    while pos + 1 < size and 0x81 <= raw[pos] <= 0xFE and (pos == start or not _utf8_resumes(raw, pos)):
        second = raw[pos + 1]
        if 0x40 <= second <= 0xFE and second != 0x7F:
            pos += 2
        elif (
            0x30 <= second <= 0x39
            and pos + 3 < size
            and 0x81 <= raw[pos + 2] <= 0xFE
            and 0x30 <= raw[pos + 3] <= 0x39
        ):
            pos += 4
        else:
            break
    return pos


def _recover_gb_runs(exc: UnicodeError) -> tuple[str, int]:
    """The error handler: an undecodable run that reads as Chinese in GB18030 is that Chinese, else
    the bad byte is U+FFFD."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    raw = bytes(exc.object)
    events = _EVENTS.get()
    end = _gb_run_end(raw, exc.start)
    if end - exc.start >= 2 and not _cut_utf8(raw[exc.start : end]):
        text = raw[exc.start : end].decode("gb18030", errors="replace")
        if "\ufffd" not in text and len(_CJK_CHAR.findall(text)) >= MIN_CJK_SHARE * len(text):
            if events is not None:
                events.append(len(text))
            return text, end
    if events is not None:
        events.append(-(exc.end - exc.start))
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error(_RECOVER, _recover_gb_runs)


def _bad_share(raw: bytes, encoding: str) -> tuple[int, float]:
    """How many non-ASCII characters ``raw`` has in ``encoding`` that decode, and the share of the
    undecodable spots among all non-ASCII ones (1.0 when there is no non-ASCII text)."""
    text = raw.decode(encoding, errors="replace")
    bad = text.count("\ufffd") - raw.count("\ufffd".encode(encoding, errors="ignore"))
    good = len(text) - len(text.encode("ascii", errors="ignore")) - text.count("\ufffd")
    return good, (bad / (good + bad) if good + bad else 1.0)


def _mostly(raw: bytes, encoding: str) -> bool:
    """Most of the page's non-ASCII text is in ``encoding``: its bad spots are a minority."""
    good, bad_share = _bad_share(raw, encoding)
    return good > 0 and bad_share <= MAX_BAD_SHARE


#: valid UTF-8 multi-byte sequences are rare by accident in GBK text (about one character in ten):
#: a page with at least this many and this few bad spots is UTF-8 whatever it declares
CLEARLY_UTF8_CHARS = 10
CLEARLY_UTF8_BAD_SHARE = 0.1


def _clearly_utf8(raw: bytes) -> bool:
    good, bad_share = _bad_share(raw, "utf-8")
    return good >= CLEARLY_UTF8_CHARS and bad_share <= CLEARLY_UTF8_BAD_SHARE


def _degraded(raw: bytes, encoding: str, method: str) -> Decoded:
    """``raw`` in ``encoding`` with GB18030 runs recovered (UTF-8 only) and bad bytes replaced."""
    events: list[int] = []
    token = _EVENTS.set(events)
    try:
        text = raw.decode(encoding, errors=_RECOVER if encoding == "utf-8" else "replace")
    finally:
        _EVENTS.reset(token)
    recovered = sum(n for n in events if n > 0)
    replaced = -sum(n for n in events if n < 0) if encoding == "utf-8" else text.count("\ufffd")
    return Decoded(text, encoding, method, replaced, recovered)


def decode_html(raw: bytes, content_type: str | None = None) -> Decoded:
    """Decode an HTML body; see the module docstring for the order of the evidence."""
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            text = raw.decode(enc, errors="replace")
            return Decoded(text, enc, "bom", text.count("\ufffd"))
    candidates = [(header_charset(content_type), "header"), (meta_charset(raw), "meta")]
    permissive: list[tuple[str, str]] = []
    declared_ok: list[tuple[str, str]] = []
    for declared, method in candidates:
        if declared is None:
            continue
        if declared in _PERMISSIVE:
            permissive.append((declared, method))
            continue
        if declared == "gb18030" and _clearly_utf8(raw):
            # GB18030 reads most UTF-8 bytes without an error, as nonsense: the bytes decide
            return _degraded(raw, "utf-8", "utf-8")
        if (decoded := _strict(raw, declared)) is not None:
            return Decoded(decoded, declared, method)
        declared_ok.append((declared, method))
    # nothing declared decodes strictly: UTF-8 when it does (a wrong declaration over UTF-8 bytes),
    # else the declaration the page is mostly in, by the byte
    if (decoded := _strict(raw, "utf-8")) is not None:
        return Decoded(decoded, "utf-8", "utf-8")
    for declared, method in declared_ok:
        if _is_codec(declared) and _mostly(raw, declared):
            return _degraded(raw, declared, method)
    if not declared_ok and _mostly(raw, "utf-8"):  # undeclared, mostly UTF-8: GB18030 would garble it
        return _degraded(raw, "utf-8", "utf-8")
    if (decoded := _strict(raw, "gb18030")) is not None:
        return Decoded(decoded, "gb18030", "gb18030")
    for enc, method in permissive:
        return Decoded(raw.decode(enc), enc, method)
    return _fallback(raw)


def _is_codec(encoding: str) -> bool:
    try:
        codecs.lookup(encoding)
    except LookupError:
        return False
    return True


def _fallback(raw: bytes) -> Decoded:
    best = from_bytes(raw).best()
    enc = normalize_label(best.encoding) if best is not None else None
    enc = enc or "gb18030"
    if enc == "utf-8" or _mostly(raw, "utf-8"):
        return _degraded(raw, "utf-8", "detected")
    text = raw.decode(enc, errors="replace")
    return Decoded(text, enc, "detected" if best is not None else "fallback", text.count("\ufffd"))
