"""Pure parts of the store: fingerprints, CSV cells, the PostgreSQL fixture's skip-or-fail rule."""

from __future__ import annotations

import pytest

from service.model import Article
from service.settings import DedupSettings
from service.store.dedup import fingerprints
from service.store.export import EXPORT_FIELDS, csv_cell
from service.text.simhash import simhash
from tests.support import postgres


def article(title: str, body: str, normalized: str) -> Article:
    return Article(
        url="https://www.jsw.com.cn/2026/0301/1.shtml",
        title=title,
        body_text=body,
        normalized_text=normalized,
    )


def test_fingerprints_separate_content_from_version() -> None:
    settings = DedupSettings(min_chars=5)
    a = fingerprints(article("标题", "正文一段。", "正文一段"), settings)
    retitled = fingerprints(article("新标题", "正文一段。", "正文一段"), settings)
    assert a.content_hash == retitled.content_hash  # same normalised text
    assert a.version_hash != retitled.version_hash  # but a new version
    assert (
        fingerprints(article("ab", "c", "x"), settings).version_hash
        != fingerprints(article("a", "bc", "x"), settings).version_hash
    )


def test_short_texts_get_no_simhash_and_fallback_to_body() -> None:
    settings = DedupSettings(min_chars=10, shingle_size=3)
    assert fingerprints(article("t", "短文", "短文"), settings).simhash is None
    long_body = "镇江日报全媒体记者报道今天的新闻内容"
    fp = fingerprints(article("t", long_body, ""), settings)  # not normalised: the body is used
    assert fp.simhash == simhash(long_body, 3)


def test_csv_cells() -> None:
    assert csv_cell(None) == ""
    assert csv_cell(["张三", "李四"]) == "张三; 李四"
    assert csv_cell([{"url": "u", "caption": "图"}]) == '[{"url": "u", "caption": "图"}]'
    assert csv_cell({"title": "structured"}) == '{"title": "structured"}'
    assert csv_cell(3) == "3"


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://evil.example/","点击")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
     "\t=1+1", "\r=1+1"],
)  # fmt: skip
def test_csv_cells_never_start_a_spreadsheet_formula(text: str) -> None:
    cell = csv_cell(text)
    assert cell == "'" + text
    assert csv_cell([text, "李四"]).startswith("'")


def test_csv_cells_leave_ordinary_text_alone() -> None:
    assert csv_cell("镇江市=文明城市") == "镇江市=文明城市"
    assert csv_cell("2024-01-28") == "2024-01-28"
    storage = ("aliases", "duplicate_of", "version", "first_seen_at", "last_changed_at")
    assert set(storage) <= set(EXPORT_FIELDS) and EXPORT_FIELDS[0] == "url"


def test_missing_postgres_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(postgres.ENV_REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no initdb"):
        postgres._unavailable("no initdb")
    monkeypatch.setenv(postgres.ENV_REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="required"):
        postgres._unavailable("no initdb")
