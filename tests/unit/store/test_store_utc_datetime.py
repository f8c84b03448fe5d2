"""``UtcDateTime`` writes on SQLite exactly the text SQLAlchemy's own ``DATETIME`` writes for the naive
UTC value (its faster bind processor changes nothing stored), and refuses naive datetimes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite

from service.store.schema import UtcDateTime

SQLITE = sqlite.dialect()


def _processor(type_: Any, dialect: Any) -> Callable[[Any], Any]:
    processor = type_.dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    return cast(Callable[[Any], Any], processor)


def _ours(value: datetime | None) -> object:
    return _processor(UtcDateTime(), SQLITE)(value)


def _sqlalchemys(value: datetime) -> object:
    return _processor(DateTime(), SQLITE)(value.astimezone(UTC).replace(tzinfo=None))


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_sqlite_text_is_sqlalchemys(naive: datetime, offset_min: int) -> None:
    value = naive.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    assert _ours(value) == _sqlalchemys(value)


def test_fixed_values_and_refusals() -> None:
    assert (
        _ours(datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8))))
        == "2026-03-01 01:30:00.000000"
    )
    assert _ours(None) is None
    with pytest.raises(ValueError, match="naive"):
        _ours(datetime(2026, 3, 1))
    pg = postgresql.dialect()
    with pytest.raises(ValueError, match="naive"):
        _processor(UtcDateTime(), pg)(datetime(2026, 3, 1))
