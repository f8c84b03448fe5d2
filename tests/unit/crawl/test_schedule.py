"""When a stored article is checked next (``crawl.schedule``): from its publication time, whatever the
last check answered; the first week's revisits, then the sweep at growing ages, for ever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.crawl.schedule import (
    SWEEP_JITTER,
    SWEEP_PRIORITY,
    UNMETERED,
    SweepBudget,
    natural_check,
    next_check,
    spread,
)
from service.settings import ScheduleSettings, load_settings

SCHED = ScheduleSettings()
#: 20:00 in Zhenjiang (12:00 UTC): the case where a midnight anchor went wrong
PUBLISHED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_defaults_are_the_documented_ages() -> None:
    assert SCHED.revisit_hours == (1, 6, 24, 168)
    assert SCHED.sweep_ages_days == (30, 90) and SCHED.sweep_every_days == 180 and SCHED.sweep_share == 0.15


def test_first_week_revisits_come_from_the_publication_time_after_each_check() -> None:
    """The revisit after a 304 at 1 h is at 6 h, then 24 h, then 7 days: never from midnight."""
    now = PUBLISHED + timedelta(hours=1, seconds=3)  # the 1 h revisit just answered 304
    seen = []
    for _ in range(4):
        check = next_check(PUBLISHED, now, SCHED, url_id=7)
        assert check is not None
        seen.append(check)
        now = check.due_at + timedelta(seconds=2)
    assert [c.due_at - PUBLISHED for c in seen[:3]] == [timedelta(hours=6), timedelta(hours=24), timedelta(days=7)]
    assert [c.sweep for c in seen] == [False, False, False, True]
    jitter = seen[3].due_at - PUBLISHED - timedelta(days=30)
    assert timedelta(0) <= jitter < SWEEP_JITTER and seen[3].priority == SWEEP_PRIORITY


def test_the_sweep_goes_on_every_period_for_ever() -> None:
    now, ages = PUBLISHED + timedelta(days=8), []
    for _ in range(6):
        check = natural_check(PUBLISHED, now, SCHED, url_id=42)
        ages.append(round((check.due_at - PUBLISHED) / timedelta(days=1)))
        now = check.due_at + timedelta(minutes=1)
    assert ages == [30, 90, 270, 450, 630, 810]


def test_a_check_long_overdue_is_next_the_coming_period_not_in_the_past() -> None:
    now = PUBLISHED + timedelta(days=3000)
    check = natural_check(PUBLISHED, now, SCHED, url_id=5)
    assert now < check.due_at <= now + timedelta(days=SCHED.sweep_every_days) + SWEEP_JITTER


def test_an_article_entering_late_is_spread_between_now_and_its_natural_check() -> None:
    """A backfill of 2,000 articles of 1 to 5 years old: due over the next period, evenly, none now."""
    now = datetime(2026, 12, 5, tzinfo=UTC)
    dues = []
    for url_id in range(1, 2001):
        published = now - timedelta(days=365 + url_id % 1461)
        check = next_check(published, now, SCHED, url_id=url_id, entering=True)
        assert check is not None and check.sweep
        assert now <= check.due_at < now + timedelta(days=SCHED.sweep_every_days)
        dues.append((check.due_at - now) / timedelta(days=1))
    # no lump: each tenth of the period holds about a tenth of them
    tenths = [sum(1 for d in dues if k * 18 <= d < (k + 1) * 18) for k in range(10)]
    assert all(150 <= n <= 250 for n in tenths), tenths
    # after it, each goes on at its own ages
    later = next_check(now - timedelta(days=400), now + timedelta(days=200), SCHED, url_id=9)
    assert later is not None and later.due_at == natural_check(
        now - timedelta(days=400), now + timedelta(days=200), SCHED, url_id=9
    ).due_at


def test_a_young_article_entering_keeps_its_fixed_sweep_ages() -> None:
    now = PUBLISHED + timedelta(days=12)
    check = next_check(PUBLISHED, now, SCHED, url_id=3, entering=True)
    assert check is not None and check.sweep
    assert timedelta(days=30) <= check.due_at - PUBLISHED < timedelta(days=30) + SWEEP_JITTER


def test_a_fresh_article_entering_keeps_its_first_week() -> None:
    now = PUBLISHED + timedelta(hours=2)
    check = next_check(PUBLISHED, now, SCHED, url_id=3, entering=True)
    assert check is not None and check.due_at == PUBLISHED + timedelta(hours=6) and not check.sweep


def test_no_anchor_no_check_and_the_spread_is_stable() -> None:
    assert next_check(None, PUBLISHED, SCHED, url_id=1) is None
    assert spread(123) == spread(123) != spread(124)
    assert all(0 <= spread(i) < 1 for i in range(1000))


def test_the_sweep_budget_is_its_share_of_the_request_rate() -> None:
    settings = load_settings(environ={}, overrides={"fetch": {"requests_per_second": 2.0}})
    clock = [0.0]
    budget = SweepBudget.from_settings(settings, clock=lambda: clock[0])
    assert budget.per_second == 0.15 * 2.0
    assert budget.burst == 0.3 * settings.schedule.poll_minutes * 60
    taken = 0
    for _ in range(3600):  # an hour, a second at a time, claims of 8 whenever the band allows
        if budget.open():
            budget.spend(8)
            taken += 8
        clock[0] += 1
    assert budget.bands() == UNMETERED or budget.open()
    # at most the burst plus the share of the hour, plus one batch's overdraw
    assert taken <= budget.burst + 0.3 * 3600 + 8
    assert taken >= 0.3 * 3600  # and it does take its share
