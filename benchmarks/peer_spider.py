"""The peer of the crawl benchmark: the stack a user would otherwise pick to archive the site.

A Scrapy spider that starts at the replica's home page and follows, from list pages, every list
page and article link, and from article pages only article links, as our backfill does (the URL
patterns of ``config/default.toml``, the replica's host only); trafilatura for the article (text and
metadata), and a SQLite pipeline that stores one row per article and commits each, with the URL and
the hash of the text unique, in the journal mode our store uses (WAL, ``synchronous=NORMAL``). Politeness lifted like ours (no robots.txt, no delay, 8
requests in flight). It does less than we do: no WARC archive, no credits, no versions, no
near-duplicates, no frontier in the database.

    python benchmarks/peer_spider.py BASE_URL DB_PATH     (DB_PATH.json: the responses it received)
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
import trafilatura
from scrapy.crawler import CrawlerProcess

DEFAULTS = tomllib.loads((Path(__file__).resolve().parent.parent / "config" / "default.toml").read_text())
ARTICLE = re.compile(DEFAULTS["site"]["article_url_pattern"])
HUB = re.compile(DEFAULTS["site"]["hub_url_pattern"])


class SitePeer(scrapy.Spider):
    name = "site_peer"

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [base_url]
        self.host = urlsplit(base_url).netloc

    def parse(self, response: Any) -> Iterator[Any]:
        path = urlsplit(response.url).path
        article = bool(ARTICLE.search(path))
        if article:
            doc = trafilatura.bare_extraction(response.text, url=response.url, with_metadata=True)
            if doc is not None:
                data = doc if isinstance(doc, dict) else doc.as_dict()
                yield {"url": response.url, "title": data.get("title"), "date": data.get("date"),
                       "author": data.get("author"), "text": data.get("text") or ""}  # fmt: skip
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            parts = urlsplit(url)
            # like our backfill: an article page leads only to other articles, a list page to both
            wanted = ARTICLE.search(parts.path) or (not article and HUB.search(parts.path))
            if parts.netloc == self.host and wanted:
                yield scrapy.Request(url, callback=self.parse)


class SQLitePipeline:
    """One row per article, committed as it comes; the same URL or the same text is stored once."""

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def from_crawler(cls, crawler: Any) -> SQLitePipeline:
        return cls(crawler.settings["PEER_DB"])

    def open_spider(self, spider: Any) -> None:
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # as service/store/db.py sets it
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS articles (id INTEGER PRIMARY KEY, url TEXT UNIQUE, title TEXT, "
            "published TEXT, author TEXT, body TEXT, content_hash TEXT UNIQUE)"
        )

    def process_item(self, item: dict[str, Any], spider: Any) -> dict[str, Any]:
        digest = hashlib.sha256(item["text"].encode("utf-8")).hexdigest()
        self.db.execute(
            "INSERT OR IGNORE INTO articles (url, title, published, author, body, content_hash) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (item["url"], item["title"], item["date"], item["author"], item["text"], digest),
        )
        self.db.commit()
        return item

    def close_spider(self, spider: Any) -> None:
        self.db.close()


def main() -> None:
    base_url, db_path = sys.argv[1], sys.argv[2]
    process = CrawlerProcess(
        settings={
            "ROBOTSTXT_OBEY": False,
            "CONCURRENT_REQUESTS": 8,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
            "DOWNLOAD_DELAY": 0,
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
            "ITEM_PIPELINES": {f"{__name__}.SQLitePipeline": 300},
            "PEER_DB": db_path,
            "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        }
    )
    crawler = process.create_crawler(SitePeer)
    process.crawl(crawler, base_url=base_url)
    process.start()
    responses = crawler.stats.get_value("downloader/response_count", 0) if crawler.stats else 0
    Path(f"{db_path}.json").write_text(json.dumps({"responses": responses}))


if __name__ == "__main__":
    main()
