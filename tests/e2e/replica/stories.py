"""The content of one generated article (``Story``) and its ground truth in the public JSON shape.

A ``Story`` is what a journalist wrote: headline, paragraphs, pictures, credits. Templates (pages.py)
decide how it is printed; the ground truth (``Story.truth``) is what a careful reader of any of those
printings would extract, following the extraction contract of tests/fixtures/README.md (lead tag cut
from the first paragraph, credit lines and captions out of ``body_text``, captions kept with their
image, names in page order).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tests.e2e.replica import words

SOURCES = ("镇江日报", "金山网", "京江晚报", "镇江发布")
REPORTER_LABELS = ("记者", "记者", "记者", "全媒体记者", "镇江报业全媒体记者")


@dataclass(frozen=True, slots=True)
class Picture:
    """An image of the body: server path, caption with its 摄 credit, and the paragraph it follows."""

    path: str
    caption: str
    photographers: tuple[str, ...]
    after: int


@dataclass(frozen=True)
class Story:
    """One article's text and credits, independent of the template that prints it."""

    title: str
    paragraphs: tuple[str, ...]
    subtitle: str | None = None
    lead: str | None = None
    pictures: tuple[Picture, ...] = ()
    reporters: tuple[str, ...] = ()
    reporter_label: str = "记者"
    correspondents: tuple[str, ...] = ()
    interns: tuple[str, ...] = ()
    editors: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    source: str | None = None
    byline_inline: bool = False
    indent: bool = False
    #: e-paper photo credit printed as its own last line, e.g. "王呈 摄影报道"
    photo_line: tuple[str, ...] = ()

    def byline(self) -> str:
        """The credit line in full-width parentheses, e.g. "（记者 陈志奎 通讯员 王五）"; "" if none."""
        parts: list[str] = []
        if self.reporters:
            glue = "" if self.reporter_label.startswith("镇江报业") else " "
            parts.append(self.reporter_label + glue + " ".join(self.reporters))
        if self.correspondents:
            parts.append("通讯员 " + " ".join(self.correspondents))
        if self.interns:
            parts.append("实习生 " + " ".join(self.interns))
        return f"（{' '.join(parts)}）" if parts else ""

    def photographers(self) -> list[str]:
        """Photographers in page order (captions first, then the e-paper photo line), each once."""
        names = [n for p in self.pictures for n in p.photographers] + list(self.photo_line)
        return list(dict.fromkeys(names))

    def with_edit(self, *, title: str | None, paragraphs: list[str] | None) -> Story:
        """This story with a new title and/or body; pictures keep their places where they still fit."""
        new = self
        if title is not None:
            new = replace(new, title=title)
        if paragraphs is not None:
            last = max(len(paragraphs) - 1, 0)
            pics = tuple(replace(p, after=min(p.after, last)) for p in self.pictures)
            new = replace(new, paragraphs=tuple(paragraphs), pictures=pics)
        return new

    def truth(
        self, *, url: str, site_id: str | None, published_at: datetime, channel: str | None, base_url: str
    ) -> dict[str, Any]:
        """The article JSON of ``service.model.Article.to_json`` (without ``fields_from``)."""
        return {
            "url": url,
            "site_id": site_id,
            "title": words.collapse(self.title),
            "subtitle": words.collapse(self.subtitle) if self.subtitle else None,
            "published_at": published_at.isoformat(),
            "channel": channel,
            "source": self.source,
            "lead": self.lead,
            "body_text": "\n".join(words.collapse(p) for p in self.paragraphs),
            "images": [{"url": base_url.rstrip("/") + p.path, "caption": p.caption} for p in self.pictures],
            "reporters": list(self.reporters),
            "correspondents": list(self.correspondents),
            "interns": list(self.interns),
            "photographers": self.photographers(),
            "editors": list(self.editors),
            "reviewers": list(self.reviewers),
        }


def _credits(rng: random.Random) -> dict[str, Any]:
    names = words.people(rng, 6)
    n_rep = rng.choice((1, 1, 2))
    n_cor = rng.choice((0, 0, 1, 2))
    return {
        "reporters": tuple(names[:n_rep]),
        "reporter_label": rng.choice(REPORTER_LABELS),
        "correspondents": tuple(names[n_rep : n_rep + n_cor]),
        "interns": (names[4],) if rng.random() < 0.08 else (),
        "editors": (names[5],),
        "reviewers": (names[3],) if rng.random() < 0.3 and n_rep + n_cor < 4 else (),
    }


def _pictures(rng: random.Random, n_paragraphs: int, stem: str, taken: set[str]) -> tuple[Picture, ...]:
    pics = []
    for k in range(rng.choice((0, 0, 1, 1, 2))):
        shooters = tuple(words.people(rng, rng.choice((1, 2)), avoid=taken))
        caption = f"{words.caption(rng)} {' '.join(shooters)} 摄"
        after = min(k * 2, n_paragraphs - 1)
        pics.append(Picture(f"/uploads/{stem}_{k + 1}.jpg", caption, shooters, after))
    return tuple(pics)


def site_story(rng: random.Random, *, title: str, when: datetime, commentary: bool, long: bool) -> Story:
    """A current article of the site (CmsTop or generic template)."""
    n = rng.randint(8, 12) if long else rng.randint(3, 8)
    paragraphs = words.paragraphs(rng, n, when.month, when.day)
    lead = "金山网讯" if rng.random() < 0.92 else None
    if commentary:
        paragraphs[0] = words.commentary_opening(rng)
    elif lead:
        paragraphs[0] = f"{when.month}月{when.day}日，" + paragraphs[0].split("，", 1)[-1]
    credits = _credits(rng)
    taken = {*credits["reporters"], *credits["correspondents"], *credits["editors"], *credits["reviewers"]}
    stem = f"{when:%Y%m}/{when:%d}/{rng.getrandbits(40):010x}"
    subtitle = f"——{words.fill('{district}{adj}推进{project}项目建设侧记', rng)}" if rng.random() < 0.15 else None
    return Story(
        title=title,
        subtitle=subtitle,
        paragraphs=tuple(paragraphs),
        lead=lead,
        pictures=_pictures(rng, n, stem, taken),
        source=rng.choice(SOURCES) if rng.random() < 0.85 else None,
        byline_inline=rng.random() < 0.25,
        indent=rng.random() < 0.5,
        **credits,
    )


def old_story(rng: random.Random, *, when: datetime, dated_only: bool) -> Story:
    """An article of the old Founder site: credits carry GBK-only characters (镕, 堃, 喆, 玥)."""
    n = rng.randint(3, 6)
    paragraphs = words.paragraphs(rng, n, when.month, when.day)
    paragraphs[0] = f"{when.month}月{when.day}日，" + paragraphs[0].split("，", 1)[-1]
    reporter = rng.choice(words.SURNAMES) + rng.choice(words.GIVEN_GBK_ONLY)
    editor = words.person(rng)
    return Story(
        title=words.title(rng),
        paragraphs=tuple(paragraphs),
        lead="金山网讯",
        reporters=(reporter,),
        editors=(editor,) if editor != reporter else (),
        source="镇江日报" if dated_only else None,
    )


def epaper_story(rng: random.Random, *, when: datetime) -> Story:
    """An article of the printed 镇江日报 (本报讯 lead, no editor line, sometimes a 摄影报道 line)."""
    n = rng.randint(3, 7)
    paragraphs = words.paragraphs(rng, n, when.month, when.day)
    lead = "本报讯" if rng.random() < 0.6 else None
    names = words.people(rng, 3)
    sub = words.fill("——{district}{adj}推进{project}项目建设纪实", rng) if rng.random() < 0.2 else None
    return Story(
        title=words.title(rng),
        subtitle=sub,
        paragraphs=tuple(paragraphs),
        lead=lead,
        reporters=(names[0],),
        correspondents=(names[1],) if rng.random() < 0.4 else (),
        source="镇江日报",
        photo_line=(_shooter(rng, names),) if rng.random() < 0.3 else (),
    )


def _shooter(rng: random.Random, names: list[str]) -> str:
    """The paper's photographer: often 王呈 (as on the real pages), never one of the article's writers."""
    return "王呈" if rng.random() < 0.5 and "王呈" not in names[:2] else names[2]


def as_print(story: Story) -> Story:
    """The printed paper's copy of a site story: same body and reporters, 本报讯, no pictures."""
    return replace(
        story,
        subtitle=None,
        lead="本报讯",
        pictures=(),
        editors=(),
        reviewers=(),
        source="镇江日报",
        byline_inline=False,
        photo_line=(),
    )
