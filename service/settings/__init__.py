"""The settings: the schema (``schema``), how they are loaded (``load``), secrets kept out of
messages (``redact``). Everything a caller needs is importable from here."""

from service.settings.load import (
    CONFIG_DIR,
    DEFAULT_FILE,
    ENV_PREFIX,
    deep_merge,
    env_overrides,
    load_profile,
    load_settings,
)
from service.settings.redact import redact_text, redact_url, redacted, register_secrets, url_secrets
from service.settings.schema import (
    AlarmSettings,
    ArchiveSettings,
    DatabaseSettings,
    DedupSettings,
    EpaperSettings,
    FetchSettings,
    LogSettings,
    ScheduleSettings,
    Settings,
    SiteProfile,
    SiteSettings,
    TemplateProfile,
    UrlPatterns,
    WebSettings,
)

__all__ = [
    "CONFIG_DIR",
    "DEFAULT_FILE",
    "ENV_PREFIX",
    "AlarmSettings",
    "ArchiveSettings",
    "DatabaseSettings",
    "DedupSettings",
    "EpaperSettings",
    "FetchSettings",
    "LogSettings",
    "ScheduleSettings",
    "Settings",
    "SiteProfile",
    "SiteSettings",
    "TemplateProfile",
    "UrlPatterns",
    "WebSettings",
    "deep_merge",
    "env_overrides",
    "load_profile",
    "load_settings",
    "redact_text",
    "redact_url",
    "redacted",
    "register_secrets",
    "url_secrets",
]
