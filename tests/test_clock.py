"""The clock: review days across both DST changes of 2026, PREP_NOW, Anki-style day counts, and the
commands that count days (plan, the drill header, stats) agreeing on them."""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import pytest
from click.testing import CliRunner

from prep import clock, paths
from prep.errors import ConfigError

UTC = timezone.utc
HOUR = timedelta(hours=1)


@pytest.fixture
def zone() -> Iterator[Callable[[str], None]]:
    """Sets TZ (and the C library's idea of it) for the test; puts the previous zone back after."""
    before = os.environ.get("TZ")

    def set_zone(name: str) -> None:
        os.environ["TZ"] = name
        time.tzset()

    yield set_zone
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def wall(text: str) -> datetime:
    """A local wall time in the current zone (first occurrence of a repeated one), as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=clock.local_zone()).astimezone(UTC)


def hours(start: datetime, end: datetime) -> float:
    return (end - start) / HOUR


# The review day whose night has the change (changes are at 02:00/03:00, before the 04:00 rollover).
CHANGES_2026 = [
    ("America/New_York", date(2026, 3, 7), 23), ("America/New_York", date(2026, 10, 31), 25),
    ("Europe/Berlin", date(2026, 3, 28), 23), ("Europe/Berlin", date(2026, 10, 24), 25),
    # a POSIX rule string, no zone file: the C library's rules (New York's) are used
    ("XST5XDT,M3.2.0,M11.1.0", date(2026, 3, 7), 23), ("XST5XDT,M3.2.0,M11.1.0", date(2026, 10, 31), 25),
]


@pytest.mark.parametrize(("name", "day", "length"), CHANGES_2026)
def test_a_dst_day_runs_from_4am_to_4am_local(zone, name: str, day: date, length: int) -> None:
    zone(name)
    following = day + timedelta(days=1)
    start, end = clock.day_bounds(wall(f"{day}T12:00"), 4)
    assert [clock.local(t).replace(tzinfo=None) for t in (start, end)] == [
        datetime.combine(day, datetime.min.time()).replace(hour=4),
        datetime.combine(following, datetime.min.time()).replace(hour=4)]
    assert hours(start, end) == length
    assert clock.review_day(wall(f"{following}T03:59:59"), 4) == day.isoformat()  # past the change, still `day`
    assert clock.review_day(wall(f"{following}T04:00"), 4) == following.isoformat()
    next_start, next_end = clock.day_bounds(wall(f"{following}T04:00"), 4)
    assert next_start == end and hours(next_start, next_end) == 24
    assert clock.day_bounds(wall(f"{following}T00:30"), 4) == (start, end)  # between midnight and 4 am


def test_the_posix_zone_follows_dst(zone) -> None:
    zone("XST5XDT,M3.2.0,M11.1.0")
    assert not isinstance(clock.local_zone(), type(timezone.utc))
    assert clock.local(datetime(2026, 1, 15, 12, tzinfo=UTC)).utcoffset() == -5 * HOUR
    assert clock.local(datetime(2026, 7, 15, 12, tzinfo=UTC)).utcoffset() == -4 * HOUR


def test_a_boundary_hour_skipped_or_repeated_by_the_change(zone) -> None:
    zone("America/New_York")
    # 02:00 does not exist on 8 March: the day begins at the change itself (03:00 EDT, 07:00 UTC)
    spring = clock.start_of(date(2026, 3, 8), 2)
    assert spring == datetime(2026, 3, 8, 7, tzinfo=UTC)
    assert clock.review_date(spring, 2) == date(2026, 3, 8)
    assert clock.review_date(spring - timedelta(seconds=1), 2) == date(2026, 3, 7)
    # 01:00 happens twice on 1 November: the day begins at the first (EDT, 05:00 UTC) and keeps the second
    start, end = clock.day_bounds(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), 1)  # 01:30 EST, the second pass
    assert start == datetime(2026, 11, 1, 5, tzinfo=UTC) and hours(start, end) == 25  # the repeat is inside
    assert clock.review_date(start - timedelta(seconds=1), 1) == date(2026, 10, 31)


def test_lord_howe_shifts_by_half_an_hour(zone) -> None:
    zone("Australia/Lord_Howe")
    autumn, _ = clock.day_bounds(wall("2026-04-04T12:00"), 4)  # 02:00 +11 becomes 01:30 +10:30 on 5 April
    spring, _ = clock.day_bounds(wall("2026-10-03T12:00"), 4)  # 02:00 +10:30 becomes 02:30 +11 on 4 October
    for start, length in ((autumn, 24.5), (spring, 23.5)):
        end = clock.day_bounds(start, 4)[1]
        assert hours(start, end) == length
        assert clock.local(start).hour == clock.local(end).hour == 4
        assert clock.local(start).minute == clock.local(end).minute == 0
    # with a 2 am rollover the skipped half hour starts the day at the change (02:30 +11, 15:30 UTC)
    assert clock.start_of(date(2026, 10, 4), 2) == datetime(2026, 10, 3, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(("pinned", "expected"), [
    ("2026-03-08T06:59:59.5-05:00", datetime(2026, 3, 8, 11, 59, 59, 500000, tzinfo=UTC)),
    ("2026-03-08T12:00:00.123456789+0530", datetime(2026, 3, 8, 6, 30, 0, 123456, tzinfo=UTC)),
    ("2026-03-08T02:30:00.25Z", datetime(2026, 3, 8, 2, 30, 0, 250000, tzinfo=UTC)),
    ("2026-03-08 10:00+01", datetime(2026, 3, 8, 9, tzinfo=UTC)),
    ("2026-11-01T01:30:00", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),  # naive: local, the first 01:30 (EDT)
    ("2026-07-01T09:00:00.000001", datetime(2026, 7, 1, 13, 0, 0, 1, tzinfo=UTC)),
])
def test_prep_now_pins_the_clock(zone, monkeypatch: pytest.MonkeyPatch, pinned: str, expected: datetime) -> None:
    zone("America/New_York")
    monkeypatch.setenv("PREP_NOW", pinned)
    moment = clock.now()
    assert moment == expected and moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize("pinned", ["yesterday at noon", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_a_bad_prep_now_is_a_config_error(monkeypatch: pytest.MonkeyPatch, pinned: str) -> None:
    monkeypatch.setenv("PREP_NOW", pinned)  # the calendar's first and last days: stats and plans would overflow
    with pytest.raises(ConfigError, match="PREP_NOW"):
        clock.now()


@pytest.mark.parametrize("name", ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC"])
def test_the_real_clock_lies_inside_its_review_day(zone, name: str) -> None:
    zone(name)
    before = datetime.now(UTC)
    moment = clock.now()
    assert before <= moment <= datetime.now(UTC) and moment.tzinfo is not None
    start, end = clock.day_bounds(moment, 4)
    assert start <= moment < end
    assert clock.today(moment, 4) == clock.review_date(moment, 4)
    assert clock.local(start).hour == 4


def test_elapsed_days_count_rollovers_not_24_hours(zone) -> None:
    zone("America/New_York")
    assert clock.elapsed_days(wall("2026-05-04T23:50"), wall("2026-05-05T04:10"), 4) == 1  # 4 h 20 min
    assert clock.elapsed_days(wall("2026-05-05T04:10"), wall("2026-05-06T03:50"), 4) == 0  # 23 h 40 min
    assert clock.elapsed_days(wall("2026-05-04T23:50"), wall("2026-05-07T23:40"), 4) == 3  # 2 days 23 h 50 min
    # across the spring change: Saturday 05:00 to Sunday 04:30 is 22.5 hours and one day
    assert clock.elapsed_days(wall("2026-03-07T05:00"), wall("2026-03-08T04:30"), 4) == 1
    assert clock.day_number(wall("2026-03-08T03:59"), 4) - clock.day_number(wall("2026-03-07T04:00"), 4) == 0


def test_plan_and_the_review_header_agree_between_midnight_and_the_rollover(
        zone, decks_dir: Path, isolated: Path) -> None:
    from prep import decks, plan as planner, render
    from prep.config import Config
    from prep.store import Store

    zone("America/New_York")
    now = wall("2026-03-05T01:00")  # still the review day of 4 March
    interview = date(2026, 3, 20)
    with Store(paths.database_path()) as store:
        deck_index = decks.load(decks_dir)
        cards = deck_index.cards_in_scope()
        plan = planner.make_plan(store, cards, Config(), now, interview, 0.9)
        header = render.header(deck_index.card(cards[0][0]), 0, 1, {"interview": interview, "target": 0.9}, now)
    assert plan.days_left == clock.days_until(interview, now, 4) == 16
    assert f"in {plan.days_left} days" in header
    assert clock.interview_moment(interview) == datetime(2026, 3, 20, 13, tzinfo=UTC)  # 09:00 EDT


def test_stats_count_a_dst_night_by_local_review_days(zone, decks_dir: Path, isolated: Path) -> None:
    import fsrs

    from prep.cli import cli
    from prep.store import Store

    zone("America/New_York")
    # The review day of 31 October runs 25 hours: 04:00 EDT (08:00 UTC) to 04:00 EST on 1 November (09:00 UTC).
    reviews = {
        "prob-bayes-rule": ["2026-10-30T04:30-04:00", "2026-10-31T03:30-04:00"],  # both on the 30th
        "prob-pmf": ["2026-10-31T04:30-04:00", "2026-11-01T01:30-04:00", "2026-11-01T01:30-05:00"],  # the 31st
    }
    dues = {"prob-bayes-rule": "2026-11-02T03:30-05:00",  # before the rollover: the review day of 1 Nov
            "prob-pmf": "2026-11-02T04:30-05:00"}  # the review day of 2 Nov
    with Store(paths.database_path()) as store:
        for card_id, times in reviews.items():
            for text in times:
                due = datetime.fromisoformat(dues[card_id])
                store.apply(card_id, 3, datetime.fromisoformat(text), None, lambda current, at, due=due: fsrs.Card(
                    state=fsrs.State.Review, stability=10.0, difficulty=5.0, due=due, last_review=at))
    result = CliRunner().invoke(cli, ["stats", "--json"], env={"PREP_NOW": "2026-11-01T03:30:00-05:00"},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["reviews_today"] == 3
    assert data["calendar"][-2:] == [{"day": "2026-10-30", "reviews": 2}, {"day": "2026-10-31", "reviews": 3}]
    assert data["streak"] == 2
    assert data["forecast"][:3] == [0, 1, 1]
