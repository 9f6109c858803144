"""A thin wrapper over `fsrs.Scheduler`: (state, rating, time) → next state, with the clock passed in."""

from __future__ import annotations

import functools
import math
import random
from copy import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prep import clock
from prep.config import Config
from prep.errors import ConfigError

if TYPE_CHECKING:
    import fsrs

RATINGS = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}


def make(config: Config) -> fsrs.Scheduler:
    import fsrs

    options = dict(
        desired_retention=config.desired_retention,
        learning_steps=config.steps("learning_steps"),
        relearning_steps=config.steps("relearning_steps"),
        maximum_interval=config.maximum_interval,
        enable_fuzzing=config.enable_fuzzing,
    )
    if config.parameters:
        options["parameters"] = tuple(config.parameters)
    try:
        return fsrs.Scheduler(**options)
    except ValueError as error:  # fsrs checks the count and bounds of hand-edited parameters
        first = str(error).strip().splitlines()[0] if str(error).strip() else "rejected by FSRS"
        raise ConfigError(f"the FSRS parameters set in the config file cannot be used ({first}); remove "
                          "'parameters' to use the defaults, or run 'prep optimize'") from None


def new_card(when: datetime) -> fsrs.Card:
    import fsrs

    # card_id is irrelevant to scheduling; passing one avoids fsrs's clock-based id generation.
    return fsrs.Card(card_id=0, due=when)


def whole_ms(moment: datetime) -> datetime:
    """`moment` cut to whole milliseconds, the precision the database keeps: a state scheduled from it
    reads back from the cards table exactly as the review log wrote it."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def review(scheduler: fsrs.Scheduler, state: fsrs.Card | None, card_id: str, rating: int,
           when: datetime) -> fsrs.Card:
    """The card's state after `rating` at `when` (a new card when `state` is None), to the millisecond."""
    import fsrs
    import fsrs.scheduler as engine

    when = whole_ms(when)
    # fsrs fuzzes intervals with `random()` from its module. A private generator seeded by the card and
    # the review it is at (the previous review's time; never the clock) makes the fuzz the same in a
    # preview, the rating and any later replay of the log, and leaves the global `random` alone.
    previous = state.last_review.isoformat() if state is not None and state.last_review else "new"
    shared, engine.random = engine.random, random.Random(f"{card_id}@{previous}").random
    try:
        card, _ = scheduler.review_card(state or new_card(when), fsrs.Rating(rating), review_datetime=when)
    finally:
        engine.random = shared
    card.due = whole_ms(card.due)
    return card


def outcomes(scheduler: fsrs.Scheduler, state: fsrs.Card | None, card_id: str,
             when: datetime) -> dict[int, fsrs.Card]:
    """The state each rating would give at `when`, for the rating buttons and then the rating itself."""
    return {rating: review(scheduler, state, card_id, rating, when) for rating in RATINGS}


def moved(outcome: fsrs.Card, computed_at: datetime, when: datetime, day_starts_at: int | None = None) -> fsrs.Card:
    """An outcome computed at `computed_at`, given at `when` instead: same state and interval. With
    `day_starts_at` (a card Anki's engine schedules), a review card's interval is in review days: due at
    the start of the day as many days after `when`'s as it was."""
    import fsrs as py_fsrs

    card = copy(outcome)
    if day_starts_at is not None and outcome.state == py_fsrs.State.Review:
        days = clock.elapsed_days(computed_at, outcome.due, day_starts_at)
        card.due = clock.start_of(clock.review_date(when, day_starts_at) + timedelta(days=days), day_starts_at)
    else:
        card.due = whole_ms(when) + (outcome.due - whole_ms(computed_at))
    card.last_review = whole_ms(when)
    return card


def next_state(scheduler: fsrs.Scheduler, config: Config, state: fsrs.Card | None, card_id: str, rating: int,
               when: datetime, anki: bool) -> fsrs.Card:
    """The state after a rating: for a card with a history in Anki (`anki`), as Anki's engine and rules give
    it, so prep and Anki keep one memory state; for every other card, py-fsrs's."""
    if anki:
        return anki_review(scheduler, config, state, card_id, rating, when)
    return review(scheduler, state, card_id, rating, when)


def anki_review(scheduler: fsrs.Scheduler, config: Config, state: fsrs.Card | None, card_id: str, rating: int,
                when: datetime) -> fsrs.Card:
    """`review` as Anki schedules it: the memory state from Anki's own FSRS engine (fsrs-rs) with days
    counted Anki's way (rollovers passed, not 24-hour periods, which py-fsrs counts), and a review
    card's interval chosen by Anki's rules (`anki_interval`), due at the start of the day it ends.
    The learning steps (state, step, learning due times) stay py-fsrs's, which match Anki's."""
    import fsrs as py_fsrs
    from fsrs_rs_python import MemoryState

    card = review(scheduler, state, card_id, rating, when)
    memory = None
    days = 0
    if state is not None and state.stability is not None and state.difficulty is not None:
        memory = MemoryState(state.stability, state.difficulty)
        if state.last_review is not None:
            days = max(0, clock.elapsed_days(state.last_review, when, config.day_starts_at))
    states = _anki_engine(tuple(scheduler.parameters)).next_states(memory, config.desired_retention, days)
    chosen = getattr(states, RATINGS[rating].lower())
    card.stability, card.difficulty = chosen.memory.stability, chosen.memory.difficulty
    if card.state == py_fsrs.State.Review:
        previous = None  # the interval the card is on, if it is a review card
        if state is not None and state.state == py_fsrs.State.Review and state.last_review is not None:
            previous = clock.elapsed_days(state.last_review, state.due, config.day_starts_at)
        factor = _fuzz_factor(card_id, state) if config.enable_fuzzing else None
        interval = anki_interval({r: getattr(states, name.lower()).interval for r, name in RATINGS.items()},
                                 rating, previous, config.maximum_interval, factor)
        card.due = clock.start_of(clock.review_date(when, config.day_starts_at) + timedelta(days=interval),
                                  config.day_starts_at)
    return card


def anki_interval(intervals: dict[int, float], rating: int, previous: int | None, maximum: int,
                  factor: float | None) -> int:
    """The days Anki gives a card entering review with `rating`, from fsrs-rs's unfuzzed `intervals`
    (rating → days). From a review card on a `previous` interval, Hard, Good and Easy each get at
    least a day more than the button below (fuzzed first), and at least `_review_minimum` (fuzz never
    shortens a growing or steady interval); graduating from learning,
    Easy gets a day more than a fuzzed Good. `factor` (0..1) picks the day in each fuzz range, the
    same for every button as in Anki; None: no fuzz. Anki seeds its factor with its own card id,
    which prep does not have, so the day differs from Anki's within the range by design."""
    def pick(interval: float, minimum: int) -> int:
        if factor is None:
            minimum = max(1, min(minimum, maximum))
            return min(max(_round(interval), minimum), maximum)
        lower, upper = fuzz_range(interval, minimum, maximum)
        return min(int(lower + factor * (1 + upper - lower)), upper)

    if previous is not None and rating > 1:
        chosen = 0
        for button in range(2, rating + 1):
            chosen = pick(intervals[button], max(_review_minimum(intervals[button], previous, maximum), chosen + 1))
        return chosen
    if rating == 4:
        return pick(max(1, _round(intervals[4])), pick(intervals[3], 1) + 1)
    return pick(max(1, _round(intervals[rating])), 1)


def _review_minimum(interval: float, previous: int, maximum: int) -> int:
    """The fewest days a passing review of a card on a `previous`-day interval may get (Anki 26.08+):
    a day more when FSRS's interval grew past it; the same when it did not grow much (`previous` is
    within the interval's fuzz range), so fuzz never shortens it; else no minimum (it shrank)."""
    if _round(interval) > previous:
        return previous + 1
    return previous if previous <= fuzz_range(interval, 1, maximum)[1] else 0


FUZZ_RANGES = ((2.5, 7.0, 0.15), (7.0, 20.0, 0.1), (20.0, float("inf"), 0.05))  # Anki's: start, end, factor


def fuzz_range(interval: float, minimum: int = 1, maximum: int = 36500) -> tuple[int, int]:
    """The days (lowest, highest) Anki's fuzz may give `interval` kept within [minimum, maximum]:
    none below 2.5 days, then a day plus 15 % of the days from 2.5 to 7, 10 % to 20, 5 % beyond."""
    maximum = max(1, maximum)
    minimum = min(max(1, minimum), maximum)
    interval = min(max(interval, minimum), maximum)
    delta = 0.0 if interval < 2.5 else 1.0 + sum(
        factor * max(min(interval, end) - start, 0.0) for start, end, factor in FUZZ_RANGES)
    lower = min(max(_round(interval - delta), minimum), maximum)
    upper = min(max(_round(interval + delta), minimum), maximum)
    if upper == lower and 2 < upper < maximum:
        upper = lower + 1
    return lower, upper


def _round(value: float) -> int:
    """Rounded half away from zero, as Rust's `round` (Python's rounds half to even)."""
    return math.floor(value + 0.5)


def _fuzz_factor(card_id: str, state: fsrs.Card | None) -> float:
    """Where in its fuzz range a card's next interval falls: seeded by the card and the review it is
    at, like `review`'s fuzz, so a preview, the rating and a replay of the log agree."""
    previous = state.last_review.isoformat() if state is not None and state.last_review else "new"
    return random.Random(f"anki-fuzz:{card_id}@{previous}").random()


@functools.lru_cache(maxsize=4)
def _anki_engine(parameters: tuple[float, ...]):
    from fsrs_rs_python import FSRS

    return FSRS(list(parameters))


def format_interval(interval: timedelta) -> str:
    """Anki-style short interval: 1m, 10m, 3h, 4d, 2.1mo, 1.5y."""
    seconds = max(interval.total_seconds(), 0)
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))}m"
    if seconds < 86400:
        return f"{round(seconds / 3600)}h"
    days = seconds / 86400
    if days < 30:
        return f"{round(days)}d"
    if days < 365:
        return f"{days / 30:.1f}mo"
    return f"{days / 365:.1f}y"
