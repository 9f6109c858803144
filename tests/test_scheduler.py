"""The FSRS wrapper: settings it cannot use are a ConfigError the CLI reports in one line."""

from __future__ import annotations

import pytest

from prep import scheduler
from prep.config import Config
from prep.errors import ConfigError


@pytest.mark.parametrize("parameters, shown", [([1.0, 2.0, 3.0], "Expected 21 parameters, got 3."),
                                               ([float("nan")] * 21, "out of bounds")])
def test_hand_edited_parameters_fsrs_refuses_are_a_config_error(parameters: list[float], shown: str) -> None:
    with pytest.raises(ConfigError, match="FSRS parameters set in the config file cannot be used") as raised:
        scheduler.make(Config(parameters=parameters))
    assert shown in str(raised.value) and "\n" not in str(raised.value)


# Anki's own unit tests for its fuzz (rslib/src/scheduler/states/fuzz.rs): interval, minimum, maximum →
# the lowest and highest day its fuzz factor can pick
@pytest.mark.parametrize("interval, minimum, maximum, days", [
    (1.0, 1, 1000, (1, 1)), (2.49, 1, 1000, (2, 2)),  # no fuzz below 2.5 days
    (2.5, 1, 1000, (2, 4)), (7.0, 1, 1000, (5, 9)), (17.0, 1, 1000, (14, 20)), (37.0, 1, 1000, (33, 41)),
    (2.0, 3, 1000, (3, 4)), (2.0, 3, 3, (3, 3)), (19.9, 3, 1000, (17, 23)),
    (100.0, 101, 1000, (101, 108)), (100.0, 1, 99, (92, 99)), (100.0, 97, 103, (97, 103)),
])
def test_fuzz_ranges_are_anki_s(interval: float, minimum: int, maximum: int, days: tuple[int, int]) -> None:
    assert scheduler.fuzz_range(interval, minimum, maximum) == days


def days_possible(intervals: dict[int, float], rating: int, previous: int | None) -> tuple[int, int]:
    return tuple(scheduler.anki_interval(intervals, rating, previous, 36500, factor) for factor in (0.0, 0.99999))


def test_good_after_a_close_hard_can_go_past_its_own_fuzz_range() -> None:
    """The card whose due differed by 5 days: fsrs-rs gave Hard 14.5, Good 15.9, Easy 18.9 days on a
    card with a 14-day interval; Anki gave Good 21 (its Hard fuzzed to 17, Good at least 18). prep used
    to round Good to 16."""
    intervals = {1: 3.0, 2: 14.48, 3: 15.85, 4: 18.87}
    assert scheduler.fuzz_range(15.85) == (13, 18)  # Good's own range does not reach 21...
    assert days_possible(intervals, 3, previous=14) == (15, 21)  # ...but after a fuzzed Hard it does
    assert scheduler.anki_interval(intervals, 3, 14, 36500, None) == 16  # without fuzz: FSRS's own, rounded


def test_a_growing_interval_is_never_fuzzed_below_the_one_the_card_is_on() -> None:
    intervals = {1: 5.0, 2: 41.2, 3: 44.0, 4: 60.0}
    assert scheduler.fuzz_range(44.0)[0] < 41  # the fuzz alone could go below 41...
    assert days_possible(intervals, 3, previous=40)[0] >= 42  # ...but not below Hard's 41 + 1
    assert days_possible(intervals, 2, previous=40)[0] == 41
    shrinking = {1: 5.0, 2: 30.0, 3: 33.0, 4: 45.0}  # FSRS shortens it (a new retention): not held up
    assert days_possible(shrinking, 2, previous=40) == scheduler.fuzz_range(30.0)


def test_easy_from_learning_is_a_day_past_a_fuzzed_good() -> None:
    intervals = {1: 0.2, 2: 1.3, 3: 2.3, 4: 2.4}  # Easy barely longer than Good
    low, high = days_possible(intervals, 4, previous=None)
    assert low >= 3 and high >= scheduler.fuzz_range(2.3)[1] + 1
    assert days_possible(intervals, 3, previous=None) == (2, 2)  # Good graduates on its rounded interval


def test_the_same_card_and_review_get_the_same_interval_in_a_preview_and_a_replay() -> None:
    from datetime import datetime, timedelta, timezone

    config = Config()
    engine = scheduler.make(config)
    start = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    state = scheduler.anki_review(engine, config, None, "c", 3, start)
    state = scheduler.anki_review(engine, config, state, "c", 3, start + timedelta(minutes=10))
    later = start + timedelta(days=9)
    first = scheduler.anki_review(engine, config, state, "c", 3, later)
    assert scheduler.anki_review(engine, config, state, "c", 3, later) == first
    local_due = first.due.astimezone()  # due when its day starts, in local time
    assert local_due.hour == config.day_starts_at and local_due.minute == 0 and local_due.second == 0
    others = {scheduler.anki_review(engine, config, state, f"card-{n}", 3, later).due for n in range(30)}
    assert len(others) > 1  # the fuzz spreads cards reviewed alike


# Anki's own unit test (rslib/src/scheduler/states/fuzz.rs, 26.08+): interval, previous → the minimum
@pytest.mark.parametrize("interval, previous, minimum", [(2.7269483, 4, 4), (2.7269483, 5, 0), (4.591988, 4, 5)])
def test_the_review_minimum_is_anki_s(interval: float, previous: int, minimum: int) -> None:
    assert scheduler._review_minimum(interval, previous, 36500) == minimum


def test_an_interval_that_barely_shrank_is_kept_not_fuzzed_shorter() -> None:
    """An early review: FSRS gives 162.9 days to a card on 164; Anki keeps 164, with or without fuzz."""
    intervals = {1: 20.0, 2: 150.0, 3: 162.9, 4: 190.0}
    assert scheduler.anki_interval(intervals, 3, 164, 36500, None) == 164
    assert days_possible(intervals, 3, previous=164)[0] >= 164
    assert days_possible(intervals, 2, previous=164) == scheduler.fuzz_range(150.0)  # 164 is past Hard's reach
