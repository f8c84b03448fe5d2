"""Secrets out of every message: the database password masked in URLs and in any text."""

from __future__ import annotations


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ``***``: safe for logs, errors, metrics and
    stats. Read from the parsed URL object (whatever the password holds: / @ : # ? or escapes); a
    string that does not parse as a URL is not shown at all."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if ambiguous_url(url):  # an unescaped "@" in the password: no parser can tell where it ends
        return url.split("://", 1)[0] + "://***@" + url.rsplit("@", 1)[1]
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "(database URL not shown)"
    return parsed.render_as_string(hide_password=True)


def ambiguous_url(url: str) -> bool:
    return url.split("://", 1)[-1].count("@") > 1


def url_secrets(url: str) -> tuple[str, ...]:
    """The password of a database URL in every spelling a message may carry it (as written, decoded,
    percent-encoded); () when it has none. ``redact_text`` masks them."""
    from urllib.parse import quote, quote_plus

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    spellings: set[str] = set()
    userinfo = url.split("://", 1)[-1].rsplit("@", 1)
    if len(userinfo) == 2 and ":" in userinfo[0]:
        spellings.add(userinfo[0].split(":", 1)[1])  # as written, up to the last "@"
    try:
        password = None if ambiguous_url(url) else make_url(url).password
    except (ArgumentError, ValueError):
        password = None
    if password:
        spellings |= {str(password), quote(str(password), safe=""), quote_plus(str(password))}
    return tuple(sorted((s for s in spellings if s), key=len, reverse=True))


def redact_text(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every one of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
