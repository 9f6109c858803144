"""A thin wrapper over `fsrs.Scheduler`: (state, rating, time) → next state, with the clock passed in."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prep.config import Config

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
    return fsrs.Scheduler(**options)


def new_card(when: datetime) -> fsrs.Card:
    import fsrs

    # card_id is irrelevant to scheduling; passing one avoids fsrs's clock-based id generation.
    return fsrs.Card(card_id=0, due=when)


def review(scheduler: fsrs.Scheduler, state: fsrs.Card | None, card_id: str, rating: int,
           when: datetime) -> fsrs.Card:
    """The card's state after `rating` at `when` (a new card when `state` is None)."""
    # fsrs fuzzes intervals with the global `random`; seeding it from the card and time makes the
    # interval shown on a rating button exactly the one the rating then gives, and runs repeatable.
    import fsrs

    random.seed(f"{card_id}@{when.isoformat()}")
    card, _ = scheduler.review_card(state or new_card(when), fsrs.Rating(rating), review_datetime=when)
    return card


def preview(scheduler: fsrs.Scheduler, state: fsrs.Card | None, card_id: str,
            when: datetime) -> dict[int, timedelta]:
    """The interval each rating would give, for the rating buttons."""
    return {rating: review(scheduler, state, card_id, rating, when).due - when for rating in RATINGS}


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
