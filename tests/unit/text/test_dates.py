from __future__ import annotations

from datetime import date

import pytest

from service.text.dates import find_datetime, parse_iso


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024-01-28 09:30", "2024-01-28T09:30:00+08:00"),
        ("发布时间：2012-10-15 08:23 金山网 www.jsw.com.cn", "2012-10-15T08:23:00+08:00"),
        ("发布时间：2007-12-23 来源：镇江日报", "2007-12-23T00:00:00+08:00"),
        ("2024年06月23日 星期日", "2024-06-23T00:00:00+08:00"),
        ("2024-06-23 00:00:00:0", "2024-06-23T00:00:00+08:00"),
        ("2026/1/5 7:05:09", "2026-01-05T07:05:09+08:00"),
    ],
)
def test_site_date_forms(text: str, iso: str) -> None:
    found = find_datetime(text)
    assert found is not None and found.isoformat() == iso


def test_no_date_from_ids_or_impossible_dates() -> None:
    assert find_datetime("id 1710173") is None
    assert find_datetime("2024-13-45") is None


def test_dates_after_latest_are_skipped() -> None:
    found = find_datetime("2030-01-01 and 2024-01-01", latest=date(2026, 1, 1))
    assert found is not None and found.year == 2024


def test_iso_is_converted_to_shanghai() -> None:
    found = parse_iso("2024-01-28T01:30:00Z")
    assert found is not None and found.isoformat() == "2024-01-28T09:30:00+08:00"
