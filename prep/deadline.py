"""Deadline mode: with a saved interview plan, draw the reviews that raise recall on the interview day most."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Iterable

from prep import clock, scheduler as sched

if TYPE_CHECKING:
    import fsrs

# The last review before the interview lands at most this many days before it: close enough that
# recall on the day stays near what FSRS aims for, far enough that a lapse then can still be relearnt.
LAST_REVIEW_DAYS = 3
# The sweep: in the last days before the interview, the cards least likely to be recalled on the day are
# drawn whether due or not (a lapse found now can still be relearnt; after the day it is too late).
SWEEP_DAYS = 2
# Minutes a review takes when the card has no timed review yet: 15-20 s a card, as the plan assumes.
DEFAULT_MINUTES = 20 / 60


def interview_moment(plan: dict | None, now: datetime) -> datetime | None:
    """The saved interview's moment while it is still ahead (None: no plan, or the day has passed)."""
    if not plan:
        return None
    moment = clock.interview_moment(plan["interview"])
    return moment if now < moment else None


def recall_on_day(scheduler: fsrs.Scheduler, state: fsrs.Card, moment: datetime) -> float:
    """Predicted recall at the interview if the card is not reviewed again."""
    return scheduler.get_card_retrievability(state, moment)


def cap(scheduler: fsrs.Scheduler, state: fsrs.Card, plan: dict | None, now: datetime) -> fsrs.Card:
    """`state` with its due moved before the interview when it falls after it and the predicted recall
    on the day is below the plan's target; FSRS's memory state (stability, difficulty) is untouched."""
    moment = interview_moment(plan, now)
    if moment is None or state.due <= moment:
        return state
    assert plan is not None
    if recall_on_day(scheduler, state, moment) >= plan["target"]:
        return state
    # Halve the gap when the interview is closer than LAST_REVIEW_DAYS: repeated reviews then converge on the day.
    state.due = max(now, moment - min(timedelta(days=LAST_REVIEW_DAYS), (moment - now) / 2))
    return state


def in_sweep(plan: dict | None, now: datetime) -> bool:
    """Whether `now` is within the last SWEEP_DAYS before the saved interview."""
    moment = interview_moment(plan, now)
    return moment is not None and moment - now <= timedelta(days=SWEEP_DAYS)


def recall_gain(scheduler: fsrs.Scheduler, state: fsrs.Card, card_id: str, moment: datetime, now: datetime) -> float:
    """Expected recall on the day if the card is reviewed now, minus without: FSRS's state after Good
    and after Again, weighted by the chance of recalling it now (its retrievability now)."""
    without = recall_on_day(scheduler, state, moment)
    recalled = scheduler.get_card_retrievability(state, now)
    good = recall_on_day(scheduler, sched.review(scheduler, state, card_id, 3, now), moment)
    again = recall_on_day(scheduler, sched.review(scheduler, state, card_id, 1, now), moment)
    return recalled * good + (1 - recalled) * again - without


def minutes_per_card(durations: Iterable[tuple[str, int | None]]) -> dict[str, float]:
    """Each card's minutes per review: the median of its timed past reviews ((card id, duration ms) pairs;
    untimed ones and pauses over 10 minutes, a user walking away, are left out)."""
    timed: dict[str, list[float]] = {}
    for card_id, duration_ms in durations:
        if duration_ms and 0 < duration_ms <= 600_000:
            timed.setdefault(card_id, []).append(duration_ms / 60_000)
    return {card_id: statistics.median(values) for card_id, values in timed.items()}


def order(scheduler: fsrs.Scheduler, card_ids: list[str], state_of: Callable[[str], fsrs.Card], plan: dict | None,
          now: datetime, minutes: dict[str, float] | None = None) -> list[str]:
    """The cards by recall gained on the interview day per minute of work, most first (ties keep their
    order); `minutes` are the cards' minutes per review (DEFAULT_MINUTES when unknown). Unchanged when
    no interview is ahead."""
    moment = interview_moment(plan, now)
    if moment is None:
        return card_ids
    minutes = minutes or {}

    def value(card_id: str) -> float:
        gain = recall_gain(scheduler, state_of(card_id), card_id, moment, now)
        return -gain / max(minutes.get(card_id, DEFAULT_MINUTES), 1 / 60)

    return sorted(card_ids, key=value)


def sweep(scheduler: fsrs.Scheduler, card_ids: Iterable[str], state_of: Callable[[str], fsrs.Card | None],
          plan: dict | None, now: datetime) -> list[str]:
    """In the last days before the interview: every seen card, due or not, lowest predicted recall on
    the day first (the daily budget cuts the list; a card reviewed in the sweep goes to the end of the
    next day's late). Not only those under the target: a review this close to the day gains the most
    recall on it, and the benchmark (docs/deadline-benchmark.md) gained far less with that cut-off.
    Empty outside those days."""
    if not in_sweep(plan, now):
        return []
    moment = interview_moment(plan, now)
    assert moment is not None
    recall = {}
    for card_id in card_ids:
        state = state_of(card_id)
        if state is not None and state.last_review is not None:
            recall[card_id] = recall_on_day(scheduler, state, moment)
    return sorted(recall, key=recall.__getitem__)
