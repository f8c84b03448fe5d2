"""Settings: defaults, file merge, environment, validation that names the key, secret redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import ConfigError
from service.settings import env_overrides, load_settings, redact_url


def test_defaults_load_and_every_section_is_there() -> None:
    s = load_settings(environ={})
    assert s.database.url == "sqlite:///data/jinshan.db"
    assert s.fetch.requests_per_second == 1.0 and s.fetch.concurrency == 2
    assert "bbs.jsw.com.cn" not in s.fetchable_hosts and "szb.jsw.com.cn" in s.fetchable_hosts
    assert [t.name for t in s.profile.templates] == ["cmstop", "founder_jjwb", "founder_old", "epaper"]


def test_file_merges_key_by_key(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[fetch]\nrequests_per_second = 0.5\n[site]\nstart_urls = ["/news/"]\n', encoding="utf-8")
    s = load_settings(f, environ={})
    assert s.fetch.requests_per_second == 0.5
    assert s.fetch.concurrency == 2  # untouched keys keep their default
    assert s.site.start_urls == ("/news/",) and s.site.base_url == "https://www.jsw.com.cn/"


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[fetch]\nconcurrency = 3\n", encoding="utf-8")
    s = load_settings(
        f,
        environ={"JINSHAN_FETCH__CONCURRENCY": "5", "JINSHAN_DATABASE__URL": "postgresql+psycopg://u:p@h/db"},
    )
    assert s.fetch.concurrency == 5 and s.database.url.startswith("postgresql")


def test_env_values_parse_as_toml_else_string() -> None:
    env = env_overrides(
        {"JINSHAN_SITE__START_URLS": '["/a/", "/b/"]', "JINSHAN_LOG__FORMAT": "json", "OTHER": "x"}
    )
    assert env == {"site": {"start_urls": ["/a/", "/b/"]}, "log": {"format": "json"}}


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"JINSHAN_FETCH__REQUESTS_PER_SECOND": "-1"}, "fetch.requests_per_second"),
        ({"JINSHAN_FETCH__CONCURENCY": "3"}, "fetch.concurency"),
        ({"JINSHAN_DATABASE__URL": "mysql://x"}, "database.url"),
        ({"JINSHAN_SITE__ARTICLE_URL_PATTERN": "(unclosed"}, "site.article_url_pattern"),
        ({"JINSHAN_WEB__LISTEN": "nope"}, "web.listen"),
        ({"JINSHAN_LOG__FORMAT": "xml"}, "log.format"),
        # beyond what the near-duplicate index finds exactly: refused, not silently half-honoured
        ({"JINSHAN_DEDUP__SIMHASH_MAX_DISTANCE": "4"}, "dedup.simhash_max_distance"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert info.value.key == key
    assert str(info.value).startswith(f"config: {key}: ")


def test_missing_and_broken_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "absent.toml", environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[fetch\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, environ={})


def test_passwords_are_redacted() -> None:
    assert (
        redact_url("postgresql+psycopg://jinshan:s3cret@db:5432/j")
        == "postgresql+psycopg://jinshan:***@db:5432/j"
    )
    assert redact_url("sqlite:///data/jinshan.db") == "sqlite:///data/jinshan.db"
    assert "s3cret" not in redact_url("error connecting to postgresql://u:s3cret@h/db: refused")
