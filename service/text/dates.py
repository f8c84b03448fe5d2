"""Dates as the site prints them, to aware datetimes in Asia/Shanghai.

Pure functions. The site prints ``2024-01-28 09:30`` (no seconds), old pages ``发布时间：2007-12-23``,
the e-paper ``2024年06月23日`` and Founder metadata ``2024-06-23 00:00:00:0``. A date alone is taken
as midnight; nothing here guesses a date from an article id (ids are not in date order).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: the fixed +08:00 offset the article JSON prints (China has had no daylight saving since 1991)
CST = timezone(timedelta(hours=8))

_DATETIME = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[-年/.]\s*(?P<m>\d{1,2})\s*[-月/.]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[\sT]*(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{2})(?:\s*[:：分]\s*(?P<S>\d{2}))?)?"
)
#: dates outside this range are typos or ids, not publication dates
EARLIEST_YEAR = 1995


def find_datetime(text: str, *, latest: date | None = None) -> datetime | None:
    """The first plausible date (with time when printed) in ``text``, aware in Asia/Shanghai.

    ``latest``: dates after it are skipped (a page cannot be published after it was fetched).
    """
    for m in _DATETIME.finditer(text):
        found = _build(m)
        if found is None:
            continue
        if latest is not None and found.date() > latest:
            continue
        return found
    return None


def _build(m: re.Match[str]) -> datetime | None:
    try:
        day = date(int(m["y"]), int(m["m"]), int(m["d"]))
        clock = time(int(m["H"]), int(m["M"]), int(m["S"] or 0)) if m["H"] is not None else time()
    except ValueError:
        return None
    if day.year < EARLIEST_YEAR:
        return None
    return datetime.combine(day, clock, tzinfo=SHANGHAI)


def parse_iso(text: str) -> datetime | None:
    """An ISO 8601 timestamp (JSON-LD, ``article:published_time``); naive values are Shanghai time."""
    value = text.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return find_datetime(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=SHANGHAI)
    return parsed.astimezone(SHANGHAI)


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=SHANGHAI)
