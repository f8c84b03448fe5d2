"""What the replica site contains: small metadata records built eagerly, stories generated on demand.

The catalogue holds one small record per article (id, date, channel, template) so that list pages,
pagination and routing are cheap even for 20,000 articles; the text of an article (``Story``) is
generated from the seed when a page or a ground truth needs it, and only a bounded number are
cached. Everything is derived from ``random.Random`` streams named after the seed and the article,
so one seed always gives the same site, whatever is asked first.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from tests.e2e.replica import words

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST_ID = 1_960_000


@dataclass(frozen=True, slots=True)
class Channel:
    """A list of the site: its slug under /news/, the breadcrumb label and the crumbs above it."""

    slug: str
    name: str
    parents: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        return f"/news/{self.slug}/index.shtml"


_ZJXW = (("首页", "/"), ("新闻中心", "/news/"), ("镇江新闻", "/news/zjxw/"))
CHANNELS = (
    Channel("zjxw", "镇江新闻 - 要闻", _ZJXW),
    Channel("shehui", "镇江新闻 - 社会", _ZJXW),
    Channel("yuqing", "镇江舆情", _ZJXW[:2]),
    Channel("jsrp", "金山热评", _ZJXW[:2]),
)
COMMENTARY = 3
EPAPER_PAGE_NAMES = ("头版", "要闻", "综合", "民生", "经济", "文体", "副刊", "专版")


@dataclass(frozen=True, slots=True)
class SiteEntry:
    """A current article: /YYYY/MMDD/<id>.shtml, in the "cmstop" or "generic" template."""

    index: int
    site_id: int
    published: datetime
    channel: int
    template: str
    pages: int

    @property
    def path(self) -> str:
        return f"/{self.published:%Y/%m%d}/{self.site_id}.shtml"

    def page_path(self, page: int) -> str:
        return self.path if page == 1 else self.path.replace(".shtml", f"_{page}.shtml")

    @property
    def alias_path(self) -> str:
        """The same id under the previous day's folder: the server answers 301 to ``path``."""
        return f"/{self.published - timedelta(days=1):%Y/%m%d}/{self.site_id}.shtml"


@dataclass(frozen=True, slots=True)
class OldEntry:
    """An article of the old Founder site, GBK-encoded: /YYYY-MM/DD/content_<n>.htm."""

    index: int
    n: int
    published: datetime
    dated_only: bool
    channel: str

    @property
    def path(self) -> str:
        return f"/{self.published:%Y-%m/%d}/content_{self.n}.htm"


@dataclass(frozen=True, slots=True)
class PaperEntry:
    """An e-paper article: /ZJRB/PC/content/YYYYMM/DD/content_<n>.html on page ``page`` of an issue."""

    n: int
    issue: date
    page: int
    dup_of: int | None

    @property
    def path(self) -> str:
        return f"/ZJRB/PC/content/{self.issue:%Y%m/%d}/content_{self.n}.html"

    @property
    def page_label(self) -> str:
        return f"第{self.page:02d}版:{EPAPER_PAGE_NAMES[(self.page - 1) % len(EPAPER_PAGE_NAMES)]}"

    @property
    def published(self) -> datetime:
        return datetime.combine(self.issue, time(0, 0), SHANGHAI)


def layout_path(issue: date, page: int) -> str:
    """Path of page ``page`` of the e-paper issue of ``issue``."""
    return f"/ZJRB/PC/layout/{issue:%Y%m/%d}/node_{page:02d}.html"


def build_site(
    rng: random.Random, *, n: int, start: date, days: int, generic_share: float, multipage_share: float
) -> list[SiteEntry]:
    """``n`` current articles over ``days`` days from ``start``, oldest first.

    Ids rise with time but not strictly (SITE.md): a few neighbours on different days swap ids.
    """
    minutes = sorted((i * days // n, rng.randint(7 * 60, 22 * 60 + 59)) for i in range(n))
    stamps = [datetime.combine(start + timedelta(days=d), time(m // 60, m % 60), SHANGHAI) for d, m in minutes]
    ids, cur = [], FIRST_ID + rng.randint(0, 999)
    for _ in range(n):
        cur += rng.randint(1, 45)
        ids.append(cur)
    boundaries = [i for i in range(n - 1) if stamps[i].date() != stamps[i + 1].date()]
    for k, i in enumerate(boundaries):
        if k == 0 or rng.random() < 0.2:
            ids[i], ids[i + 1] = ids[i + 1], ids[i]
    entries = []
    for i in range(n):
        channel = rng.choices(range(len(CHANNELS)), weights=(40, 35, 10, 15))[0]
        template = "generic" if rng.random() < generic_share or i == 3 else "cmstop"
        multi = template == "cmstop" and channel != COMMENTARY and (rng.random() < multipage_share or i == 5)
        entries.append(SiteEntry(i, ids[i], stamps[i], channel, template, 2 if multi else 1))
    return entries


def build_old(rng: random.Random, count: int) -> list[OldEntry]:
    """``count`` old Founder articles between 2012 and 2016, oldest first, half with a date only."""
    picks = sorted(
        (date(2012, 1, 1) + timedelta(days=rng.randint(0, 5 * 365)), rng.randint(7 * 60, 21 * 60))
        for _ in range(count)
    )
    out = []
    for k, (day, minute) in enumerate(picks):
        dated_only = k % 2 == 1
        clock = time(0, 0) if dated_only else time(minute // 60, minute % 60)
        n = 1_000_000 + k * 7919 + rng.randint(0, 7000)
        out.append(OldEntry(k, n, datetime.combine(day, clock, SHANGHAI), dated_only, CHANNELS[k % 2].name))
    return out


def build_epaper(
    rng: random.Random, *, issues: list[date], pages: int, site: list[SiteEntry]
) -> list[PaperEntry]:
    """The articles of each issue, page by page; the first of each issue reprints a site article."""
    stamps = [e.published for e in site]
    out, n = [], 40_000 + rng.randint(0, 99)
    for day in issues:
        before = bisect.bisect_left(stamps, datetime.combine(day, time(0, 0), SHANGHAI))
        for page in range(1, pages + 1):
            for k in range(rng.randint(2, 4)):
                n += rng.randint(1, 3)
                dup = site[before - 1].index if page == 1 and k == 0 and before > 0 else None
                out.append(PaperEntry(n, day, page, dup))
    return out


@lru_cache(maxsize=65_536)
def title_for(seed: int, index: int) -> str:
    """The generated headline of site article ``index`` (its own stream, so lists stay cheap;
    cached because every article page prints 14 titles of its neighbours)."""
    return words.title(random.Random(f"{seed}:title:{index}"))
