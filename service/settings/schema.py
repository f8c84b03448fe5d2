"""The settings' schema: one frozen pydantic model per section of ``config/default.toml``.

Every key's default lives in ``default.toml`` (one source; the README's table is generated from it);
the models say what a value may be, so a bad one stops start-up with one line naming the key.
The site profile (``SiteProfile``) is the selectors and URL patterns of the site's templates: data,
not code.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.settings.redact import ambiguous_url
from service.text.simhash import INDEX_DISTANCE


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from exc
    return value


class DatabaseSettings(_Section):
    url: str = "sqlite:///data/jinshan.db"
    busy_timeout_s: float = Field(30, gt=0)
    pool_size: int = Field(5, ge=1)
    sqlite_cache_mb: int = Field(64, ge=1)
    auto_upgrade: bool = True
    statement_timeout_s: float = Field(60, ge=0)
    tcp_keepalives: bool = True

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, v: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", v):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(v)
        except (ArgumentError, ValueError):
            raise ValueError(
                "is not a database URL (a password with special characters must be percent-encoded)"
            ) from None
        if ambiguous_url(v):
            raise ValueError("holds more than one '@': write an '@' in the user name or password as %40")
        del url
        return v


class SiteSettings(_Section):
    name: str = "jsw"
    profile: str = "sites/jsw.toml"
    base_url: str
    allowed_hosts: tuple[str, ...]
    host_aliases: dict[str, str]
    start_urls: tuple[str, ...] = ("/",)
    article_url_pattern: str
    hub_url_pattern: str
    drop_query_params: tuple[str, ...]
    follow_article_links: bool = True

    _re = field_validator("article_url_pattern", "hub_url_pattern")(_check_regex)

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str) -> str:
        if not re.match(r"^https?://[^/]+", v):
            raise ValueError("must be an absolute http(s) URL")
        return v if v.endswith("/") else v + "/"

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("must name at least one host")
        return tuple(h.lower().strip() for h in v)


def _check_http_url(value: str) -> str:
    if not re.match(r"^https?://[^/]+", value):
        raise ValueError("must be an absolute http(s) URL")
    return value if value.endswith("/") else value + "/"


class EpaperSettings(_Section):
    _re = field_validator("page_url_pattern")(_check_regex)
    _base = field_validator("base_url")(_check_http_url)

    enabled: bool = True
    base_url: str = "http://szb.jsw.com.cn/"
    papers: tuple[str, ...] = ("ZJRB",)
    layout_path: str = "{paper}/PC/layout/{yyyy}{mm}/{dd}/node_01.html"
    page_url_pattern: str = r"/[A-Z]+/PC/layout/\d{6}/\d{2}/node_\d+\.html$"
    issue_ready_hour: int = Field(6, ge=0, le=23)
    max_missing_days: int = Field(30, ge=1)

    @field_validator("layout_path")
    @classmethod
    def _layout(cls, v: str) -> str:
        try:
            v.format(paper="ZJRB", yyyy="2024", mm="01", dd="01")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"bad placeholder ({exc!s}): use {{paper}}, {{yyyy}}, {{mm}} and {{dd}}, and {{{{ }}}} for a brace"
            ) from None
        return v


class FetchSettings(_Section):
    user_agent: str
    contact_url: str
    requests_per_second: float = Field(1.0, gt=0)
    concurrency: int = Field(2, ge=1)
    connect_timeout_s: float = Field(10.0, gt=0)
    timeout_s: float = Field(30.0, gt=0)
    max_bytes: int = Field(5_000_000, ge=1024)
    max_redirects: int = Field(5, ge=0, le=20)
    retries: int = Field(2, ge=0)
    backoff_base_s: float = Field(1.0, ge=0)
    backoff_max_s: float = Field(60.0, ge=0)
    retry_after_s: float = Field(300, ge=0)
    retry_after_max_s: float = Field(86400, ge=0)
    max_attempts: int = Field(8, ge=1)
    obey_robots: bool = True
    robots_ttl_s: float = Field(86400, ge=0)
    robots_unreachable_hold_s: float = Field(1800, ge=0)
    conditional_requests: bool = True
    trust_env: bool = False
    http2: bool = False
    shared_politeness: bool = True
    max_resource_bytes: int = Field(10_000_000, ge=1024)
    resource_types: tuple[str, ...] = (
        "image/*", "text/css", "font/*", "application/font-woff", "application/x-font-woff",
        "application/vnd.ms-fontobject", "application/x-font-ttf", "application/pdf",
        "application/javascript", "text/javascript", "application/x-javascript",
    )  # fmt: skip

    @field_validator("resource_types")
    @classmethod
    def _types(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in v if not re.match(r"^[a-z0-9.+-]+/(?:\*|[a-z0-9.+-]+)$", t.strip().lower())]
        if bad:
            raise ValueError(f"not a media type or TYPE/*: {', '.join(bad)}")
        return tuple(t.strip().lower() for t in v)

    @field_validator("user_agent", "contact_url")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty: the site must be able to tell who is fetching")
        return v

    @property
    def user_agent_string(self) -> str:
        return self.user_agent.replace("{contact}", self.contact_url)


class ScheduleSettings(_Section):
    timezone: str = "Asia/Shanghai"
    poll_minutes: float = Field(10, gt=0)
    max_poll_minutes: float = Field(60, gt=0)
    target_new_per_poll: int = Field(10, ge=1)
    hub_every_minutes: float = Field(720, gt=0)
    max_list_pages: int = Field(10, ge=1)
    revisit_hours: tuple[float, ...] = (1, 6, 24, 168)
    sweep_ages_days: tuple[float, ...] = (30, 90)
    sweep_every_days: float = Field(180, gt=0)
    sweep_share: float = Field(0.15, ge=0, le=1)
    drain_seconds: float = Field(30, gt=0)
    batch_size: int = Field(50, ge=1)
    misfire_grace_s: int = Field(300, ge=1)
    unhealthy_after_minutes: float = Field(60, gt=0)
    start_grace_minutes: float = Field(30, ge=0)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as Asia/Shanghai)") from None
        return v

    @field_validator("sweep_ages_days")
    @classmethod
    def _positive(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(x <= 0 for x in v):
            raise ValueError("every age must be greater than 0")
        return v


class ArchiveSettings(_Section):
    enabled: bool = True
    path: str = "data/warc"
    rotate_bytes: int = Field(1_000_000_000, ge=1024)
    gzip_level: int = Field(6, ge=1, le=9)
    resources: str = Field("page", pattern="^(off|images|page)$")
    resource_scripts: bool = False
    resource_revisit_days: float = Field(30, ge=0)
    epaper_scans: bool = True
    epaper_pdfs: bool = False


class DedupSettings(_Section):
    # the index finds every fingerprint within INDEX_DISTANCE bits and no further: a larger
    # threshold would silently miss some near-duplicates, so it is refused
    simhash_max_distance: int = Field(INDEX_DISTANCE, ge=0, le=INDEX_DISTANCE)
    shingle_size: int = Field(4, ge=1, le=16)
    min_chars: int = Field(80, ge=0)


class AlarmSettings(_Section):
    baseline_runs: int = Field(20, ge=1)
    max_drop: float = Field(0.2, gt=0, le=1)
    min_articles: int = Field(5, ge=1)


class WebSettings(_Section):
    listen: str = "127.0.0.1:9410"
    archive: bool = True
    auth_token: str = Field("", repr=False)
    auth_basic: str = Field("", repr=False, pattern=r"^$|^[^:]+:.+$")

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        if v:
            listen_address(v)
        return v


def listen_address(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6; an empty host is 127.0.0.1) as (host, port); raises
    ``ValueError`` saying what is wrong: the setting ``web.listen`` and ``serve --listen`` share it."""
    m = re.fullmatch(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d{1,5})", listen)
    if m is None:
        raise ValueError("must be HOST:PORT, or empty to disable")
    port = int(m["port"])
    if not 0 <= port <= 65535:
        raise ValueError("the port must be between 0 (any free port) and 65535")
    return (m["v6"] or m["host"] or "127.0.0.1"), port


class LogSettings(_Section):
    format: str = Field("text", pattern="^(text|json)$")
    level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")


# --- the site profile (config/sites/*.toml) -------------------------------------------------------


class TemplateProfile(_Section):
    """Selectors of one page template. Every selector list is tried in order; first non-empty wins."""

    name: str
    #: regular expression on the URL path; the first template whose pattern matches is used
    url_pattern: str = ""
    #: a page whose HTML contains one of these strings uses this template even if the URL did not match
    markers: tuple[str, ...] = ()
    #: how to build site_id from the named groups of url_pattern, e.g. "{paper}/content_{n}"
    site_id: str = ""
    title: tuple[str, ...] = ()
    subtitle: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    #: removed from the body before paragraphs are read (share bars, related lists, ads)
    remove: tuple[str, ...] = ()
    #: the source when the page names none (an e-paper is its paper); "{paper_name}" is looked up in
    #: SiteProfile.paper_names from the URL's "paper" group
    source_default: str = ""

    _re = field_validator("url_pattern")(_check_regex)


def _named_groups(*names: str) -> Callable[[str], str]:
    """A validator: the value is a regular expression, with the named groups ``names`` when not empty."""

    def check(value: str) -> str:
        _check_regex(value)
        missing = [n for n in names if value and n not in re.compile(value).groupindex]
        if missing:
            raise ValueError(f"needs the named group(s) {', '.join(missing)}")
        return value

    return check


class UrlPatterns(_Section):
    """The shapes of the site's URLs (``[urls]`` of the profile): regular expressions searched in the
    URL path. Empty: the site has no such URLs (no page folded, no date read from a path)."""

    #: a page of an article split over several: named groups ``id`` (the article) and ``page`` (the
    #: page number, absent on page 1); page N is page 1 with the text from the end of ``id`` to the
    #: end of ``page`` put in
    article_page_pattern: str = ""
    #: dates written in paths, tried in order: named groups ``y``, ``m`` and ``d``
    date_path_patterns: tuple[str, ...] = ()
    #: a further page of a list: named group ``page`` (the page number; the list's first page does not match)
    list_page_pattern: str = ""

    _page = field_validator("article_page_pattern")(_named_groups("id", "page"))
    _list = field_validator("list_page_pattern")(_named_groups("page"))

    @field_validator("date_path_patterns")
    @classmethod
    def _dates(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        check = _named_groups("y", "m", "d")
        for pattern in v:
            check(pattern)
        return v


class SiteProfile(_Section):
    """Everything the extractor knows about one site, as data."""

    #: suffixes stripped from <title> text ("_金山网", " - 金山网")
    title_suffixes: tuple[str, ...] = ()
    #: the lead tag that opens a news paragraph
    lead_tags: tuple[str, ...] = ()
    #: text that marks a block, captcha or WAF page
    block_markers: tuple[str, ...] = ()
    #: text that marks a "page not found" page
    not_found_markers: tuple[str, ...] = ()
    #: labels that start a breadcrumb ("您现在的位置", "当前位置")
    breadcrumb_labels: tuple[str, ...] = ()
    #: removed everywhere before generic extraction (ads, share bars, comment boxes)
    boilerplate: tuple[str, ...] = ()
    #: paper codes of the e-paper URLs and the papers' names
    paper_names: dict[str, str] = {}
    templates: tuple[TemplateProfile, ...] = ()
    urls: UrlPatterns = UrlPatterns()
    #: hosts that serve the site's images, stylesheets and fonts (a CDN): fetched for resources only,
    #: never for pages
    resource_hosts: tuple[str, ...] = ()

    @field_validator("resource_hosts")
    @classmethod
    def _resource_hosts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(h.lower().strip() for h in v if h.strip())


class Settings(_Section):
    database: DatabaseSettings
    site: SiteSettings
    epaper: EpaperSettings
    fetch: FetchSettings
    schedule: ScheduleSettings
    archive: ArchiveSettings
    dedup: DedupSettings
    alarm: AlarmSettings
    web: WebSettings
    log: LogSettings
    profile: SiteProfile = SiteProfile()
    #: where the settings came from, for messages
    source_files: tuple[str, ...] = ()
    #: ``JINSHAN_…`` variables of sections this release does not have: ignored, and said so
    ignored_environment: tuple[str, ...] = ()

    @property
    def fetchable_hosts(self) -> frozenset[str]:
        """allowed_hosts plus the e-paper host while the e-paper is archived (enabled, with papers);
        without it, minus the e-paper host: no paper means no request to that host."""
        from urllib.parse import urlsplit

        hosts = set(self.site.allowed_hosts)
        epaper = (urlsplit(self.epaper.base_url).hostname or "").lower()
        if self.epaper.enabled and self.epaper.papers:
            hosts.add(epaper)
        elif epaper != (urlsplit(self.site.base_url).hostname or "").lower():
            hosts.discard(epaper)
        hosts.discard("")
        return frozenset(hosts)

    @property
    def resource_hosts(self) -> frozenset[str]:
        """The hosts a page's resources may come from: the fetchable hosts and the profile's
        ``resource_hosts`` (a CDN is asked for images and stylesheets, never for pages)."""
        return self.fetchable_hosts | frozenset(self.profile.resource_hosts)
