"""Deadline mode: with a saved interview plan, at-risk cards come first and none is left unreviewed past the day."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prep import clock

if TYPE_CHECKING:
    import fsrs

# The last review before the interview lands at most this many days before it: close enough that
# recall on the day stays near what FSRS aims for, far enough that a lapse then can still be relearnt.
LAST_REVIEW_DAYS = 3


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


def order(scheduler: fsrs.Scheduler, card_ids: list[str], state_of, plan: dict | None, now: datetime) -> list[str]:
    """Cards whose predicted recall on the day is below the target first, each group kept in its order."""
    moment = interview_moment(plan, now)
    if moment is None:
        return card_ids
    assert plan is not None
    target = plan["target"]
    return sorted(card_ids, key=lambda c: recall_on_day(scheduler, state_of(c), moment) >= target)
