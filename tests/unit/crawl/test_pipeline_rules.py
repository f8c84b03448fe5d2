from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from service.crawl.pipeline import retry_time
from service.settings import load_settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_retry_time_doubles_with_jitter_and_honours_the_server() -> None:
    settings = load_settings(environ={})
    rng = random.Random(1)
    first = retry_time(0, settings, NOW, None, rng)
    third = retry_time(2, settings, NOW, None, rng)
    assert timedelta(seconds=240) <= first - NOW <= timedelta(seconds=360)
    assert timedelta(seconds=960) <= third - NOW <= timedelta(seconds=1440)
    capped = retry_time(30, settings, NOW, None, rng)
    assert capped - NOW <= timedelta(seconds=settings.fetch.retry_after_max_s * 1.2)
    later = NOW + timedelta(hours=3)
    assert retry_time(0, settings, NOW, later, rng) == later
