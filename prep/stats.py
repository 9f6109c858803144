"""Figures for `prep stats`: card counts by state per deck, today's reviews, true retention."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import fsrs

from prep.model import Card
from prep.review import day_bounds
from prep.store import Store, to_ms


@dataclass
class DeckCounts:
    deck: str
    new: int = 0
    learning: int = 0
    review: int = 0
    due: int = 0  # due before the end of today's review day


@dataclass
class Stats:
    decks: list[DeckCounts] = field(default_factory=list)
    reviews_today: int = 0
    retention_reviews: int = 0  # reviews of cards in the review state, last 30 days
    retention_passed: int = 0

    @property
    def retention(self) -> float | None:
        """True retention: share of mature reviews not rated Again (None without data)."""
        return self.retention_passed / self.retention_reviews if self.retention_reviews else None

    @property
    def total(self) -> DeckCounts:
        total = DeckCounts("Total")
        for counts in self.decks:
            total.new += counts.new
            total.learning += counts.learning
            total.review += counts.review
            total.due += counts.due
        return total


def compute(store: Store, cards: list[Card], now: datetime, day_starts_at: int) -> Stats:
    day_start, day_end = day_bounds(now, day_starts_at)
    states = store.states()
    day_end_ms = to_ms(day_end)
    by_deck: dict[str, DeckCounts] = {}
    for card in cards:
        counts = by_deck.get(card.note.deck)
        if counts is None:
            counts = by_deck[card.note.deck] = DeckCounts(card.note.deck)
        known = states.kind_and_due(card.id)
        if known is None:
            counts.new += 1
            continue
        if known[0] == fsrs.State.Review:
            counts.review += 1
        else:
            counts.learning += 1
        if known[1] < day_end_ms:
            counts.due += 1
    stats = Stats(decks=sorted(by_deck.values(), key=lambda c: c.deck))
    ids = {card.id for card in cards}
    rows = store.db.execute(
        "SELECT card_id, reviewed_at, rating, json_extract(state_before, '$.state') FROM reviews "
        "WHERE reviewed_at >= ?", (to_ms(min(day_start, now - timedelta(days=30))),))
    start_ms, month_ms = to_ms(day_start), to_ms(now - timedelta(days=30))
    for card_id, reviewed_at, rating, state_before in rows:
        if card_id not in ids:
            continue
        if reviewed_at >= start_ms:
            stats.reviews_today += 1
        if reviewed_at >= month_ms and state_before == int(fsrs.State.Review):
            stats.retention_reviews += 1
            stats.retention_passed += rating > 1
    return stats
