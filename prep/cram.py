"""Cards to drill outside the daily queue: those due within some days (review ahead) or chosen (cram)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prep import clock
from prep.store import Store, to_ms

if TYPE_CHECKING:
    import fsrs


@dataclass(frozen=True)
class Weakness:
    """How weak a reviewed card is now: its FSRS retrievability and how often it was forgotten."""

    card_id: str
    recall: float
    lapses: int


def ahead_ids(store: Store, card_ids: list[str], now: datetime, days: int, day_starts_at: int) -> list[str]:
    """Reviewed cards due before the end of the review day `days` days from today, soonest first
    (ties in deck order); new cards are not reviews and wait for their daily quota."""
    _, day_end = clock.day_bounds(now, day_starts_at)
    horizon = to_ms(day_end + timedelta(days=days))
    states = store.states()
    due = {}
    for card_id in card_ids:
        known = states.kind_and_due(card_id)
        if known is not None and known[1] < horizon:
            due[card_id] = known[1]
    return sorted(due, key=due.__getitem__)


def weaknesses(store: Store, card_ids: list[str], scheduler: fsrs.Scheduler, now: datetime) -> list[Weakness]:
    """Every reviewed card in `card_ids`, weakest first: lowest retrievability now, then most lapses."""
    states = store.states()
    lapses = store.lapses()
    found = []
    for card_id in card_ids:
        state = states.get(card_id)
        if state is not None:
            found.append(Weakness(card_id, scheduler.get_card_retrievability(state, now), lapses.get(card_id, 0)))
    return sorted(found, key=lambda w: (w.recall, -w.lapses))


def cram_ids(store: Store, card_ids: list[str], scheduler: fsrs.Scheduler, now: datetime,
             weak: int | None = None) -> list[str]:
    """The cards to cram: all of `card_ids` in deck order, or (`weak`) the `weak` weakest reviewed ones."""
    if weak is None:
        return list(card_ids)
    return [w.card_id for w in weaknesses(store, card_ids, scheduler, now)[:weak]]
