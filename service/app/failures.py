"""A failed cycle in plain words, for ``/healthz`` and the home page of the archive view.

A cycle records its failure as the fetch errors of its list walk (``FetchError`` messages such as
``robots_unavailable: https://www.jsw.com.cn/``, joined by ``; ``). A person reading the health
check or the home page first wants to know what happened to the site, then the detail.
"""

from __future__ import annotations

import re

#: what a fetch error's reason word means to a reader; the reason itself stays in the detail
REASONS = {
    "robots_unavailable": "the site did not answer (its robots.txt could not be read)",
    "connect_error": "the site could not be reached (no connection)",
    "timeout": "the site did not answer in time",
    "reset": "the site broke the connection off",
    "truncated": "the site sent incomplete pages",
    "http_5xx": "the site answered with a server error",
    "rate_limited": "the site asked us to slow down (HTTP 429)",
    "blocked": "the site answered with a block or captcha page",
    "refused_host": "a start page is not on an allowed host",
    "robots_disallowed": "robots.txt forbids the start pages",
    "archive_failed": "the pages could not be written to the WARC archive",
}
#: a cycle that failed without a fetch error: no list page answered anything usable
NO_ANSWER = "no list page of the site answered"


def in_plain_words(error: str | None) -> str:
    """``error`` (a run's recorded error, or None) as one sentence: what happened, then the
    technical detail in parentheses. Unknown reasons come back as they are."""
    if not error:
        return NO_ANSWER
    first = error.split("; ", 1)[0]
    reason = first.split(":", 1)[0].strip()
    status = re.fullmatch(r"http_(\d{3})", reason)
    meaning = REASONS.get(reason) or (f"the site answered HTTP {status.group(1)}" if status else None)
    return f"{meaning} ({error})" if meaning else error
