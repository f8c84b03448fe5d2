"""Settings: ``config/default.toml``, then a ``--config`` file, then ``JINSHAN_…`` environment.

Loaded and validated once at start-up into a frozen ``Settings`` object that is passed down
explicitly; nothing else reads files or the environment for configuration. A bad value raises
``ConfigError`` naming the dotted key, so start-up stops with one clear line.

The site profile (``[site] profile``, e.g. ``config/sites/jsw.toml``) is loaded here too, into
``SiteProfile``: the selectors and URL patterns of the site's templates are data, not code.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.errors import ConfigError
from service.text.simhash import INDEX_DISTANCE


def _config_dir() -> Path:
    """``config/`` beside the package in a source tree (a checkout, an editable install); else the copy
    of it that ships inside the installed package (``service/_config``, see pyproject.toml)."""
    here = Path(__file__).resolve().parent
    source_tree = here.parent / "config"
    return source_tree if (source_tree / "default.toml").is_file() else here / "_config"


CONFIG_DIR = _config_dir()
DEFAULT_FILE = CONFIG_DIR / "default.toml"
ENV_PREFIX = "JINSHAN_"


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
    sqlite_cache_mb: int = Field(32, ge=1)
    auto_upgrade: bool = True

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
        if _ambiguous(v):
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
    shared_politeness: bool = True

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


class ArchiveSettings(_Section):
    enabled: bool = True
    path: str = "data/warc"
    rotate_bytes: int = Field(1_000_000_000, ge=1024)


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
        if v and not re.match(r"^[^:]*:\d{1,5}$", v):
            raise ValueError("must be HOST:PORT, or empty to disable")
        if v and not 0 <= int(v.rsplit(":", 1)[1]) <= 65535:
            raise ValueError("the port must be between 0 (any free port) and 65535")
        return v


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


# --- loading -----------------------------------------------------------------------------------


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``over`` merged in, table by table; ``over`` wins on leaves."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(what, f"file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(what, f"{path} is not valid TOML: {exc}") from exc


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``JINSHAN_SECTION__KEY=value`` pairs as a nested dict; values parsed as TOML when they can be."""
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _first_error(exc: ValidationError, prefix: str = "") -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown setting (check the spelling against config/default.toml)"
    elif err["type"] == "missing":
        msg = "required setting is missing"
    return ConfigError(prefix + key, msg)


def load_profile(path: Path) -> SiteProfile:
    data = _read_toml(path, "site.profile")
    try:
        return SiteProfile.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, prefix=f"{path.name}: ") from None


def load_settings(
    config_file: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults < ``config_file`` < environment < ``overrides``; validated and frozen.

    Raises ``ConfigError`` naming the first bad key.
    """
    data = _read_toml(DEFAULT_FILE, "defaults")
    files = [str(DEFAULT_FILE)]
    if config_file is not None:
        data = deep_merge(data, _read_toml(Path(config_file), "--config"))
        files.append(str(config_file))
    data = deep_merge(data, env_overrides(os.environ if environ is None else environ))
    if overrides:
        data = deep_merge(data, overrides)
    for key in ("profile", "source_files"):
        if key in data:
            raise ConfigError(key, "is not a configuration section")
    try:
        settings = Settings.model_validate({**data, "source_files": tuple(files)})
    except ValidationError as exc:
        raise _first_error(exc) from None
    profile_path = Path(settings.site.profile)
    if not profile_path.is_absolute():
        profile_path = CONFIG_DIR / profile_path
    return settings.model_copy(update={"profile": load_profile(profile_path)})


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ``***``: safe for logs, errors, metrics and
    stats. Read from the parsed URL object (whatever the password holds: / @ : # ? or escapes); a
    string that does not parse as a URL is not shown at all."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if _ambiguous(url):  # an unescaped "@" in the password: no parser can tell where it ends
        return url.split("://", 1)[0] + "://***@" + url.rsplit("@", 1)[1]
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "(database URL not shown)"
    return parsed.render_as_string(hide_password=True)


def _ambiguous(url: str) -> bool:
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
        password = None if _ambiguous(url) else make_url(url).password
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
