"""Secrets out of every message: the database password masked in URLs and in any text.

SQLAlchemy and libpq accept a password in three places, and each is a secret wherever it is written:
the user-info (``user:PASSWORD@host``), a query key (``?password=…``, ``?sslpassword=…``: libpq's
connection parameters pass through SQLAlchemy's URL untouched) and any other query key whose name
says it holds a secret (``token``, ``secret``, ``key`` for a client certificate's passphrase …).
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote_plus

#: query keys of a database URL whose values are secrets (libpq: password, sslpassword; anything
#: named like a credential, since a driver may pass unknown keys on as connection parameters)
SECRET_QUERY_KEY = re.compile(r"pass|pwd|secret|token|credential|auth", re.IGNORECASE)
#: one ``key=value`` pair of a URL's query string
_QUERY_PAIR = re.compile(r"(?P<key>[^&=?#]+)=(?P<value>[^&#]*)")
MASK = "***"


def redact_url(url: str) -> str:
    """A database URL with every secret replaced by ``***``: safe for logs, errors, metrics and
    stats. The user-info password is read from the parsed URL object (whatever it holds: / @ : # ?
    or escapes); secret query keys are masked by name; a string that does not parse as a URL is not
    shown at all."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if ambiguous_url(url):  # an unescaped "@" in the password: no parser can tell where it ends
        return _mask_query(url.split("://", 1)[0] + "://***@" + url.rsplit("@", 1)[1])
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "(database URL not shown)"
    shown = parsed.render_as_string(hide_password=True)
    return _mask_query(shown) if parsed.query else shown


def _mask_query(url: str) -> str:
    head, sep, query = url.partition("?")
    if not sep:
        return url
    masked = _QUERY_PAIR.sub(
        lambda m: f"{m['key']}={MASK}" if SECRET_QUERY_KEY.search(m["key"]) else m[0], query
    )
    return f"{head}?{masked}"


def ambiguous_url(url: str) -> bool:
    return url.split("?", 1)[0].split("://", 1)[-1].count("@") > 1


def url_secrets(url: str) -> tuple[str, ...]:
    """Every secret of a database URL in every spelling a message may carry it (as written, decoded,
    percent-encoded); () when it has none. ``redact_text`` masks them."""
    raw: set[str] = set()
    authority = url.split("://", 1)[-1].split("?", 1)[0]
    userinfo = authority.rsplit("@", 1)
    if len(userinfo) == 2 and ":" in userinfo[0]:
        raw.add(userinfo[0].split(":", 1)[1])  # as written, up to the last "@"
    _, _, query = url.partition("?")
    for m in _QUERY_PAIR.finditer(query):
        if SECRET_QUERY_KEY.search(m["key"]):
            raw.add(m["value"])
    spellings: set[str] = set()
    for secret in raw:
        decoded = unquote_plus(secret)
        spellings |= {secret, decoded, quote(decoded, safe=""), quote_plus(decoded)}
    return tuple(sorted((s for s in spellings if s), key=len, reverse=True))


def redact_text(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every one of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


#: the secrets of this process's configuration, registered once the settings are loaded
_registered: tuple[str, ...] = ()


def register_secrets(url: str) -> tuple[str, ...]:
    """Remember the secrets of the database ``url`` for ``redacted``; returns them."""
    global _registered
    _registered = url_secrets(url)
    return _registered


def redacted(text: str) -> str:
    """``text`` with every registered secret masked: the last fence before a message leaves the
    process (an error line, a log record, a health answer), wherever the message came from."""
    return redact_text(text, _registered)
