"""The plain data that flows between the stages: frozen dataclasses, no I/O.

``Article`` is what ``extract`` returns and ``store`` consumes. ``Article.to_json`` is the public
article JSON of docs/architecture.md (the output of ``jinshan parse``; ``jinshan export`` adds the storage
fields ``aliases``, ``duplicate_of``, ``version``, ``first_seen_at``, ``last_changed_at``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Credit roles in the order they appear in the article JSON.
#: ``proofreaders`` (校对) came last, so the roles before it keep their place in the JSON and CSV.
CREDIT_ROLES = (
    "reporters",
    "correspondents",
    "interns",
    "photographers",
    "editors",
    "reviewers",
    "proofreaders",
)


@dataclass(frozen=True, slots=True)
class Image:
    """One image of the body, with its absolute URL and the caption printed with it."""

    url: str
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Credits:
    """Names by role, in page order, without duplicates; ``source`` is the 来源 line."""

    reporters: tuple[str, ...] = ()
    correspondents: tuple[str, ...] = ()
    interns: tuple[str, ...] = ()
    photographers: tuple[str, ...] = ()
    editors: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    proofreaders: tuple[str, ...] = ()
    source: str | None = None

    def merged(self, other: Credits) -> Credits:
        """Names of both, self first, each name once per role; self's source wins."""

        def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(a + b))

        return Credits(
            **{role: union(getattr(self, role), getattr(other, role)) for role in CREDIT_ROLES},
            source=self.source or other.source,
        )

    def is_empty(self) -> bool:
        return not self.source and not any(getattr(self, role) for role in CREDIT_ROLES)


@dataclass(frozen=True, slots=True)
class Link:
    """A link found on a page: absolute URL, its text, and what discovery made of it."""

    url: str
    text: str = ""
    kind: str = "article"  # "article" | "hub" | "next_page" | "epaper_page"


@dataclass(frozen=True)
class Article:
    """One extracted article. Text fields are already normalised to NFC Simplified display text."""

    url: str
    title: str
    body_text: str
    site_id: str | None = None
    subtitle: str | None = None
    published_at: datetime | None = None
    channel: str | None = None
    lead: str | None = None
    images: tuple[Image, ...] = ()
    credits: Credits = field(default_factory=Credits)
    #: field name → the layer that filled it ("structured", "profile:<name>", "generic", "pattern", "url");
    #: "encoding" says, when present, which bytes were replaced or recovered from another charset
    fields_from: dict[str, str] = field(default_factory=dict)
    #: text used for hashing and near-duplicate detection (Simplified, no spaces, no punctuation)
    normalized_text: str = ""
    #: the charset the bytes were decoded with, and how it was chosen ("header", "meta", "bom", …)
    encoding: str | None = None
    #: the profile that matched the page, or "generic"
    template: str = "generic"
    #: links to the further pages of an article split over several pages, in order
    next_pages: tuple[str, ...] = ()

    @property
    def source(self) -> str | None:
        return self.credits.source

    def to_json(self) -> dict[str, Any]:
        """The public article JSON (field names are a contract; see docs/architecture.md)."""
        out: dict[str, Any] = {
            "url": self.url,
            "site_id": self.site_id,
            "title": self.title,
            "subtitle": self.subtitle,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "channel": self.channel,
            "source": self.credits.source,
            "lead": self.lead,
            "body_text": self.body_text,
            "images": [{"url": i.url, "caption": i.caption} for i in self.images],
        }
        for role in CREDIT_ROLES:
            out[role] = list(getattr(self.credits, role))
        out["fields_from"] = dict(sorted(self.fields_from.items()))
        return out
