"""A thin wrapper over `fsrs.Scheduler`: (state, rating, time) → next state, with the clock passed in."""

from __future__ import annotations

import functools
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


def moved(outcome: fsrs.Card, computed_at: datetime, when: datetime) -> fsrs.Card:
    """An outcome computed at `computed_at`, given at `when` instead: same state and interval."""
    card = copy(outcome)
    card.due, card.last_review = whole_ms(when) + (outcome.due - whole_ms(computed_at)), whole_ms(when)
    return card


def anki_review(scheduler: fsrs.Scheduler, config: Config, state: fsrs.Card | None, card_id: str, rating: int,
                when: datetime) -> fsrs.Card:
    """`review` as Anki would schedule it, for cards whose history comes from Anki: the memory state from
    Anki's own FSRS engine (fsrs-rs) with days counted Anki's way (rollovers passed, not 24-hour
    periods, which py-fsrs counts), and a review card due at the start of the day its interval ends.
    The learning steps (state, step, learning due times) stay py-fsrs's."""
    card = review(scheduler, state, card_id, rating, when)
    import fsrs as py_fsrs
    from fsrs_rs_python import MemoryState

    memory = None
    days = 0
    if state is not None and state.stability is not None and state.difficulty is not None:
        memory = MemoryState(state.stability, state.difficulty)
        if state.last_review is not None:
            days = max(0, clock.elapsed_days(state.last_review, when, config.day_starts_at))
    chosen = getattr(_anki_engine(tuple(scheduler.parameters)).next_states(memory, config.desired_retention, days),
                     RATINGS[rating].lower())
    card.stability, card.difficulty = chosen.memory.stability, chosen.memory.difficulty
    if card.state == py_fsrs.State.Review:
        interval = min(max(1, round(chosen.interval)), config.maximum_interval)
        card.due = clock.start_of(clock.review_date(when, config.day_starts_at) + timedelta(days=interval),
                                  config.day_starts_at)
    return card


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
