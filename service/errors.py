"""Every error the service raises on purpose, in one hierarchy.

    JinshanError
    ├── ConfigError          a setting is missing or wrong; names the key; start-up stops
    ├── FetchError           the network did not give us a usable response
    │   ├── TransientFetchError   worth retrying later (timeout, reset, 5xx, 429, robots unreachable)
    │   └── PermanentFetchError   retrying will not help (404, refused host, too large, not HTML)
    │       └── Redirected        a redirect the caller chose not to follow (it has the target)
    ├── ContentError         a response arrived but is not something we store
    │   └── NotAnArticle     list page, block page, "not found" served with 200, empty body…
    └── StoreError           the database refused a write or cannot be reached
        ├── NoArchiveError        the configured database does not exist or was never filled
        ├── DatabaseUnavailable   the database's fault, not the data's: unreachable, gone away, busy
        │   └── DatabaseLocked    another process held the lock (or the statement ran) past the timeout
        └── ReadOnlyDatabase      a write on a database that only allows reading

Each error carries the URL, status or key it is about, so a log line or a ``last_error`` column can
say what happened without a traceback. Third-party exceptions are wrapped at the boundary with
``raise … from exc``.
"""

from __future__ import annotations

from datetime import datetime


class JinshanError(Exception):
    """Base of every error raised on purpose by the service."""


class ConfigError(JinshanError):
    """A configuration value is missing or invalid. ``key`` is the dotted setting name."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"config: {key}: {problem}")


class FetchError(JinshanError):
    """The fetch of ``url`` failed; ``reason`` is a short machine-friendly word."""

    def __init__(self, url: str, reason: str, detail: str = "", *, status: int | None = None) -> None:
        self.url = url
        self.reason = reason
        self.detail = detail
        self.status = status
        msg = f"{reason}: {url}"
        if status is not None:
            msg += f" (HTTP {status})"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


class TransientFetchError(FetchError):
    """Worth trying again; ``retry_at`` says when, if the server (or our backoff) decided."""

    def __init__(
        self,
        url: str,
        reason: str,
        detail: str = "",
        *,
        status: int | None = None,
        retry_at: datetime | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(url, reason, detail, status=status)
        self.retry_at = retry_at
        #: False when no request left this process (the host is held off): not an attempt of the URL
        self.sent = sent


class PermanentFetchError(FetchError):
    """Retrying the same request will not help (refused host, 404, too large, wrong type)."""


class Redirected(PermanentFetchError):
    """The server redirected to ``target`` and the caller chose not to follow (it has that page)."""

    def __init__(self, url: str, target: str, *, status: int | None = None) -> None:
        super().__init__(url, "redirected", target, status=status)
        self.target = target


class ContentError(JinshanError):
    """A response was received but its content is not something we store."""


class NotAnArticle(ContentError):
    """The page is not an article. ``reason`` is one of a small vocabulary (see NOT_ARTICLE_REASONS);
    ``rule`` names the rule that refused it (see NOT_ARTICLE_RULES; the reason itself when the
    reason has one rule)."""

    def __init__(
        self, reason: str, detail: str = "", *, url: str | None = None, rule: str | None = None
    ) -> None:
        self.reason = reason
        self.detail = detail
        self.url = url
        self.rule = rule or reason
        named = f"{reason}, rule {self.rule}" if self.rule != reason else reason
        super().__init__(f"not an article ({named})" + (f": {detail}" if detail else ""))


#: The reasons ``NotAnArticle`` may carry; tests and metrics rely on this closed list.
NOT_ARTICLE_REASONS = (
    "empty",  # no bytes, or no text at all
    "not_html",  # binary or non-HTML content
    "not_found",  # a "page not found" page (often served with 200)
    "blocked",  # block, captcha or WAF page
    "list_page",  # a channel index or e-paper page list: many links, no body
    "no_title",  # no title could be found by any layer
    "no_body",  # a title but no article text
    "malformed",  # markup nested too deep to parse, or extraction past its time limit
)

#: The rules that refuse a page, each with the reason it gives; closed like the reasons.
NOT_ARTICLE_RULES = {
    "no_bytes": "empty",  # the response had no bytes
    "no_text": "empty",  # the page has no text at all
    "block_marker": "blocked",  # a block/captcha marker in the headline (or the text of a short page)
    "not_found_marker": "not_found",  # a "not found" marker in the same places
    "link_blocks": "list_page",  # many link blocks, no running text and no prose under a headline
    "item_list": "list_page",  # many short items without sentences (a table of contents, a ranking)
    "links_no_body": "list_page",  # no body text at a URL that is no article's, and many links
    "short_body": "no_body",  # a title but less body text than an article has
    "no_headline": "no_title",  # no layer found a headline
    "too_deep": "malformed",  # elements nested deeper than the parser is allowed to go
    "too_slow": "malformed",  # extraction past its time limit
    "not_html": "not_html",
}


class StoreError(JinshanError):
    """The database refused a write or could not be reached."""


#: how an archive gets filled, for the messages of the commands that only read one
FILL_ADVICE = (
    "fill one with `jinshan backfill --since YYYY-MM-DD` or the daemon (`jinshan run`), which create"
    " the tables and fetch the articles; in a source checkout, `make demo` shows a sample archive"
)


class NoArchiveError(StoreError):
    """A command that only reads found no archive at the configured database: no file, or one that
    was never migrated. The message says where it looked and how to fill one."""


class DatabaseUnavailable(StoreError):
    """The database cannot serve us now (unreachable, the connection dropped, the server shutting
    down, a lock or statement timeout): nothing is wrong with what was asked, so a crawl must not
    charge the URL for it; try again once the database is back."""


class DatabaseLocked(DatabaseUnavailable):
    """Another process held the write lock (SQLite) or a row lock, or the statement ran, past the
    configured timeout: the database is busy, not away."""


class ReadOnlyDatabase(StoreError):
    """A write on a database that only allows reading (a read-only file or mount, a PostgreSQL hot
    standby or ``default_transaction_read_only``)."""
