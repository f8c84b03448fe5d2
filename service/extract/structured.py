"""Layer 1: structured data the page carries about itself.

The Founder ``<!--enpproperty …/enpproperty-->`` comment of the e-paper (the most reliable source of
date, paper, page and title when present), JSON-LD ``NewsArticle``, and ``og:``/``article:`` meta
tags. Values found here win over every other layer, except where they are implausible (empty, or a
title that is only the site's name).
"""

from __future__ import annotations

import html as htmllib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from service.text.dates import find_datetime, parse_iso
from service.text.normalize import clean_spaces

_ENP = re.compile(r"<!--\s*enpproperty(?P<body>.*?)/enpproperty\s*-->", re.DOTALL | re.IGNORECASE)
_ENP_TAG = re.compile(r"<(?P<tag>[a-z]+)>(?P<value>.*?)</(?P=tag)>", re.DOTALL | re.IGNORECASE)


#: meta tags (lower-cased names) that carry the publication time, best first
PUBLISHED_META = (
    "article:published_time",
    "og:release_date",
    "pubdate",
    "publishdate",
    "publish_date",
    "publishtime",
    "datepublished",
    "weibo: article:create_at",
    "dc.date.issued",
    "dc.date",
    "date",
)


@dataclass(frozen=True, slots=True)
class Structured:
    title: str | None = None
    subtitle: str | None = None
    published_at: datetime | None = None
    channel: str | None = None
    source: str | None = None
    #: og:title and og:site_name: hints for the generic title (they usually carry the site's name)
    og_title: str | None = None
    site_name: str | None = None
    #: the byline fields the page carries (``<meta name="author">``, JSON-LD ``author``), as printed:
    #: whether they name people is for the credit rules to say
    authors: tuple[str, ...] = ()
    #: which kind of structured data gave each field: "enpproperty", "json-ld" or "meta"
    origin: tuple[tuple[str, str], ...] = ()


def enpproperty(html: str) -> dict[str, str]:
    """The tags of a Founder enpproperty comment as a dict of non-empty, unescaped values."""
    m = _ENP.search(html)
    if not m:
        return {}
    return {
        t["tag"].lower(): value
        for t in _ENP_TAG.finditer(m["body"])
        if (value := clean_spaces(htmllib.unescape(t["value"])))
    }


def _json_ld(tree: LexborHTMLParser) -> dict[str, Any]:
    for node in tree.css('script[type="application/ld+json"]'):
        try:
            data = json.loads(node.text() or "")
        except ValueError:
            continue
        for item in data if isinstance(data, list) else data.get("@graph", [data]):
            if isinstance(item, dict) and str(item.get("@type", "")).endswith(
                ("Article", "NewsArticle", "Report")
            ):
                return item
    return {}


def _meta(tree: LexborHTMLParser) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in tree.css("meta[property], meta[name]"):
        key = (node.attributes.get("property") or node.attributes.get("name") or "").lower()
        value = clean_spaces(node.attributes.get("content") or "")
        if key and value and key not in out:
            out[key] = value
    return out


#: meta tags (lower-cased names) that carry the byline
AUTHOR_META = ("author", "article:author", "dc.creator", "byline")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def read_structured(html: str, tree: LexborHTMLParser) -> Structured:
    """Every field layer 1 can fill, with where each came from."""
    found: dict[str, Any] = {}
    origin: dict[str, str] = {}

    def put(field: str, value: Any, where: str) -> None:
        if value and field not in found:
            found[field] = value
            origin[field] = where

    enp = enpproperty(html)
    if enp:
        put("title", enp.get("title"), "enpproperty")
        put("subtitle", enp.get("subtitle") or enp.get("introtitle"), "enpproperty")
        put("published_at", find_datetime(enp.get("date", "")), "enpproperty")
        put("channel", enp.get("nodename"), "enpproperty")
        put("source", enp.get("sourcename"), "enpproperty")
    ld = _json_ld(tree)
    if ld:
        put("title", clean_spaces(str(ld.get("headline") or "")), "json-ld")
        put("published_at", parse_iso(str(ld.get("datePublished") or "")), "json-ld")
    authors = [
        str(a.get("name") or "") if isinstance(a, dict) else str(a) for a in _as_list(ld.get("author"))
    ]
    meta = _meta(tree)
    authors += [meta[key] for key in AUTHOR_META if key in meta]
    put(
        "authors",
        tuple(dict.fromkeys(a for a in authors if a.strip())),
        "json-ld" if ld.get("author") else "meta",
    )
    put("og_title", meta.get("og:title") or meta.get("twitter:title"), "meta")
    put("site_name", meta.get("og:site_name"), "meta")
    for key in PUBLISHED_META:
        put("published_at", parse_iso(meta[key]) if key in meta else None, "meta")
    return Structured(**found, origin=tuple(origin.items()))
