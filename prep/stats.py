"""Figures for `prep stats`: cards by state per deck, due forecast, review calendar, retention, leeches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from prep import clock
from prep.review import LEARNING_STATES, REVIEW_STATE
from prep.store import Store, to_ms

FORECAST_DAYS = 30
CALENDAR_DAYS = 26 * 7
RETENTION_DAYS = 30


@dataclass
class DeckStats:
    deck: str
    new: int = 0
    learning: int = 0  # learning and relearning
    review: int = 0
    suspended: int = 0
    flagged: int = 0  # flagged in the drill (counted whatever the card's state)
    due: int = 0  # due before the end of today's review day
    retention_reviews: int = 0  # reviews of cards in the review state, last 30 days
    retention_passed: int = 0
    stability_sum: float = 0.0
    stability_count: int = 0

    @property
    def retention(self) -> float | None:
        """True retention: share of reviews of mature cards not rated Again (None without data)."""
        return self.retention_passed / self.retention_reviews if self.retention_reviews else None

    @property
    def average_stability(self) -> float | None:
        """Mean FSRS stability (days) of cards in the review state."""
        return self.stability_sum / self.stability_count if self.stability_count else None

    def add(self, other: "DeckStats") -> None:
        for name in ("new", "learning", "review", "suspended", "flagged", "due", "retention_reviews", "retention_passed",
                     "stability_sum", "stability_count"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        return {"deck": self.deck, "new": self.new, "learning": self.learning, "review": self.review,
                "suspended": self.suspended, "flagged": self.flagged, "due": self.due, "retention_30d": self.retention,
                "retention_reviews_30d": self.retention_reviews, "average_stability_days": self.average_stability}


@dataclass
class Leech:
    card_id: str
    deck: str
    lapses: int
    suspended: bool


@dataclass
class Stats:
    decks: list[DeckStats] = field(default_factory=list)
    total: DeckStats = field(default_factory=lambda: DeckStats("Total"))
    reviews_today: int = 0
    forecast: list[int] = field(default_factory=list)  # cards due per day; [0] is today, overdue included
    calendar: list[tuple[str, int]] = field(default_factory=list)  # (review day, reviews), oldest first
    streak: int = 0  # consecutive review days up to today (or yesterday, if none yet today)
    leeches: list[Leech] = field(default_factory=list)
    weakest: list[DeckStats] = field(default_factory=list)  # lowest true retention, at least 10 reviews

    @property
    def retention(self) -> float | None:
        return self.total.retention


def grouped(decks: list[DeckStats], most: int = 40) -> tuple[list[DeckStats], int]:
    """Deck rows merged to the deepest level that gives at most `most` rows; returns (rows, depth or 0)."""
    if len(decks) <= most:
        return decks, 0
    depth = max(d.deck.count("::") for d in decks)
    while depth >= 1:
        groups: dict[str, DeckStats] = {}
        for deck in decks:
            name = "::".join(deck.deck.split("::")[:depth])
            groups.setdefault(name, DeckStats(name)).add(deck)
        if len(groups) <= most or depth == 1:
            return sorted(groups.values(), key=lambda d: d.deck), depth
        depth -= 1
    return decks, 0


def compute(store: Store, cards: list[tuple[str, str]], now: datetime, day_starts_at: int,
            leech_threshold: int = 8) -> Stats:
    """Figures for `cards`, given as (card id, deck) pairs."""
    today = clock.today(now, day_starts_at)
    # the forecast's day n runs from starts[n] to starts[n + 1]: local review days, 23 or 25 h across DST
    starts = [to_ms(start) for start in clock.day_starts(today, FORECAST_DAYS + 1, day_starts_at)]
    start_ms, end_ms = starts[0], starts[1]
    last_ms = starts[-1]
    day_index = clock.day_index
    states = store.states()
    suspended = store.suspended()
    flagged = store.flags()
    deck_of = dict(cards)
    by_deck: dict[str, DeckStats] = {}
    forecast = [0] * FORECAST_DAYS
    kind_and_due = states.kind_and_due
    for card_id, deck_name in cards:
        deck = by_deck.get(deck_name)
        if deck is None:
            deck = by_deck[deck_name] = DeckStats(deck_name)
        if card_id in flagged:
            deck.flagged += 1
        if card_id in suspended:
            deck.suspended += 1
            continue
        known = kind_and_due(card_id)
        if known is None:
            deck.new += 1
            continue
        kind, due_ms = known
        if kind == REVIEW_STATE:
            deck.review += 1
            stability = states.stability(card_id)
            if stability is not None:
                deck.stability_sum += stability
                deck.stability_count += 1
        elif kind in LEARNING_STATES:
            deck.learning += 1
        if due_ms < end_ms:
            deck.due += 1
        if due_ms < last_ms:
            forecast[max(0, day_index(starts, due_ms))] += 1
    month_ms = to_ms(now - timedelta(days=RETENTION_DAYS))
    stats = Stats(forecast=forecast)
    # INDEXED BY: left alone, SQLite walks the whole (card, time) index to save a sort of a few rows.
    for card_id, total, passed in store.db.execute(
            "SELECT card_id, COUNT(*), SUM(rating > 1) FROM reviews INDEXED BY reviews_time "
            "WHERE reviewed_at >= ? AND kind_before = 2 GROUP BY card_id", (month_ms,)):
        deck_name = deck_of.get(card_id)
        if deck_name is not None:
            by_deck[deck_name].retention_reviews += total
            by_deck[deck_name].retention_passed += passed
    stats.reviews_today = sum(count for card_id, count in store.db.execute(
        "SELECT card_id, COUNT(*) FROM reviews INDEXED BY reviews_time WHERE reviewed_at >= ? GROUP BY card_id",
        (start_ms,))
        if card_id in deck_of)
    stats.decks = sorted(by_deck.values(), key=lambda d: d.deck)
    for deck in stats.decks:
        stats.total.add(deck)
    stats.calendar, stats.streak = _calendar(store, today, day_starts_at)
    stats.leeches = sorted(
        (Leech(card_id, deck_of[card_id], lapses, card_id in suspended)
         for card_id, lapses in store.lapses(leech_threshold).items() if card_id in deck_of),
        key=lambda leech: (-leech.lapses, leech.card_id))
    rated = [d for d in stats.decks if d.retention_reviews >= 10]
    stats.weakest = sorted(rated, key=lambda d: (d.retention, d.deck))[:5]
    return stats


def _calendar(store: Store, today: date, day_starts_at: int) -> tuple[list[tuple[str, int]], int]:
    """Reviews per review day and the current streak.

    Each day's bounds come from the clock (a DST day lasts 23 or 25 hours); one range count per day
    on the time index is exact and as fast as a GROUP BY over the same rows (SQLite's date() over a
    million rows costs seconds).
    """
    first = today - timedelta(days=CALENDAR_DAYS - 1)
    bounds = [to_ms(start) for start in clock.day_starts(first, CALENDAR_DAYS + 1, day_starts_at)]
    counts = [_count(store, bounds[n], bounds[n + 1]) for n in range(CALENDAR_DAYS)]
    calendar = [((first + timedelta(days=n)).isoformat(), count) for n, count in enumerate(counts)]
    day = CALENDAR_DAYS - 1 if counts[-1] else CALENDAR_DAYS - 2
    streak = 0
    while day >= 0 and counts[day]:
        streak += 1
        day -= 1
    if day < 0:  # the streak is longer than the calendar: probe the time index a day at a time
        older, end = first - timedelta(days=1), bounds[0]
        while store.db.execute("SELECT 1 FROM reviews WHERE reviewed_at >= ? AND reviewed_at < ? LIMIT 1",
                               (start := to_ms(clock.start_of(older, day_starts_at)), end)).fetchone():
            streak += 1
            older, end = older - timedelta(days=1), start
    return calendar, streak


def _count(store: Store, start_ms: int, end_ms: int) -> int:
    return store.db.execute("SELECT COUNT(*) FROM reviews INDEXED BY reviews_time "
                            "WHERE reviewed_at >= ? AND reviewed_at < ?", (start_ms, end_ms)).fetchone()[0]
