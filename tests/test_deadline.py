"""Deadline mode on a hand-built collection: recall gained per minute, the last days' sweep, normal after."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import fsrs

from prep import clock, deadline, scheduler
from prep.config import Config
from prep.review import Session
from prep.store import Store
from tests.test_review import make_decks

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
CONFIG = Config(enable_fuzzing=False, new_per_day=0)  # reviews only: unseen cards stay out
PLAN = {"interview": date(2026, 3, 20), "target": 0.9}
MOMENT = clock.interview_moment(PLAN["interview"])


def put(store: Store, card_id: str, reviews: list[tuple[int, datetime, int | None]],
        due: datetime | None = None) -> None:
    """Log (rating, time, duration ms) reviews as `prep review` would; then, if given, move the card's due."""
    fsrs_alone = scheduler.make(CONFIG)
    for rating, at, duration in reviews:
        store.apply(card_id, rating, at, duration,
                    lambda before, when, r=rating: scheduler.review(fsrs_alone, before, card_id, r, when))
    if due is not None:
        state = store.state(card_id)
        state.due = due
        last = reviews[-1][1]
        # a zero-length re-log keeps the memory state and puts the due where the test needs it
        store.apply(card_id, 3, last, None, lambda before, when, s=state: s)


def learnt(at: datetime) -> list[tuple[int, datetime, None]]:
    """Good on a new card, then Good at its 10-minute step: a review card with FSRS's first-day memory."""
    return [(3, at, None), (3, at + timedelta(minutes=10), None)]


def session(store: Store, cards: list, now: datetime, config: Config = CONFIG, **extra) -> Session:
    return Session(store, [c.id for c in cards], {c.id: c for c in cards}.get, config, lambda: now, **extra)


def drawn(s: Session) -> list[str]:
    """The cards the session shows, rating each Good, in order."""
    shown = []
    while (card := s.next_card()) is not None:
        shown.append(card.id)
        s.rate(card, 3)
    return shown


def test_recall_gain_is_fsrs_recall_on_the_day_after_a_review_now_minus_without() -> None:
    truth = fsrs.Scheduler(enable_fuzzing=False)
    state, _ = truth.review_card(fsrs.Card(card_id=0, due=NOW), fsrs.Rating.Good,
                                 review_datetime=NOW - timedelta(days=9))
    state, _ = truth.review_card(state, fsrs.Rating.Good, review_datetime=NOW - timedelta(days=6))
    p = truth.get_card_retrievability(state, NOW)
    good, _ = truth.review_card(state, fsrs.Rating.Good, review_datetime=NOW)
    again, _ = truth.review_card(state, fsrs.Rating.Again, review_datetime=NOW)
    expected = (p * truth.get_card_retrievability(good, MOMENT) + (1 - p) * truth.get_card_retrievability(again, MOMENT)
                - truth.get_card_retrievability(state, MOMENT))
    gain = deadline.recall_gain(scheduler.make(CONFIG), state, "x", MOMENT, NOW)
    assert abs(gain - expected) < 1e-9
    assert gain > 0.05  # a 6-day-old memory, 18 days before the interview: reviewing now clearly helps


def test_minutes_per_card_is_the_median_of_timed_reviews() -> None:
    minutes = deadline.minutes_per_card([("a", 30_000), ("a", 90_000), ("a", 60_000), ("a", None),
                                         ("a", 3_600_000), ("b", 0), ("c", 6_000)])
    assert minutes == {"a": 1.0, "c": 0.1}  # b: never timed; a's hour-long pause left out


def test_the_queue_is_ordered_by_recall_gained_per_minute(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 3)
    with Store(tmp_path / "p.db") as store:
        weak = [(3, NOW - timedelta(days=6), None)]
        # c0 and c1: the same weak memory; c1's reviews take 10 s, c0's take 2 minutes
        put(store, "c0", [(3, NOW - timedelta(days=7), 120_000)] + weak, due=NOW - timedelta(hours=3))
        put(store, "c1", [(3, NOW - timedelta(days=7), 10_000)] + weak, due=NOW - timedelta(hours=2))
        # c2: a strong memory (little to gain before the day), due last but quick
        put(store, "c2", [(4, NOW - timedelta(days=300), 20_000), (4, NOW - timedelta(days=150), 20_000)],
            due=NOW - timedelta(hours=1))
        assert session(store, cards, NOW).next_card().id == "c0"  # no plan: by due
        s = session(store, cards, NOW, plan=PLAN)
        fsrs_alone = s.scheduler
        gains = {c.id: deadline.recall_gain(fsrs_alone, store.state(c.id), c.id, MOMENT, NOW) for c in cards}
        assert abs(gains["c0"] - gains["c1"]) < 1e-9 and gains["c2"] < gains["c0"]
        # c1 first (the same gain as c0 in a twelfth of the time); c2's smaller gain in 20 s beats c0's in 2 min
        assert drawn(s) == ["c1", "c2", "c0"]


def test_the_daily_budget_cuts_the_ordered_queue(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 3)
    with Store(tmp_path / "p.db") as store:
        put(store, "c0", [(4, NOW - timedelta(days=300), None), (4, NOW - timedelta(days=150), None)],
            due=NOW - timedelta(hours=3))
        put(store, "c1", learnt(NOW - timedelta(days=7)), due=NOW - timedelta(hours=2))
        put(store, "c2", learnt(NOW - timedelta(days=8)), due=NOW - timedelta(hours=1))
        s = session(store, cards, NOW, Config(enable_fuzzing=False, new_per_day=0, reviews_per_day=2), plan=PLAN)
        assert drawn(s) == ["c2", "c1"]  # the strong card, due first, is the one the budget leaves out


def test_the_last_two_days_sweep_the_lowest_recall_cards_due_or_not(tmp_path: Path, utc: None) -> None:
    cards = make_decks(tmp_path / "decks", 4)
    three_days = MOMENT - timedelta(days=3)
    last_days = MOMENT - timedelta(days=1, hours=12)
    one_a_day = Config(enable_fuzzing=False, new_per_day=0, reviews_per_day=1)
    with Store(tmp_path / "p.db") as store:
        later = MOMENT + timedelta(days=30)  # none due before the day: only the sweep can draw them
        put(store, "c0", learnt(NOW), due=later)  # a 3-day memory, reviewed 16 days before
        put(store, "c1", learnt(NOW + timedelta(days=5)), due=later)  # fresher: higher recall on the day
        put(store, "c2", [(4, NOW - timedelta(days=300), None), (4, NOW - timedelta(days=200), None)], due=later)
        fsrs_alone = scheduler.make(CONFIG)
        recall = {c: deadline.recall_on_day(fsrs_alone, store.state(c), MOMENT) for c in ("c0", "c1", "c2")}
        assert recall["c0"] < recall["c1"] < 0.9 <= recall["c2"]
        assert drawn(session(store, cards, three_days, plan=PLAN)) == []  # not yet the last two days
        assert deadline.sweep(fsrs_alone, ["c0", "c1", "c2", "c3"], store.state, PLAN, three_days) == []
        # the sweep: every seen card, lowest predicted recall on the day first (the unseen c3 not)
        assert deadline.sweep(fsrs_alone, ["c3", "c2", "c1", "c0"], store.state, PLAN, last_days) == ["c0", "c1", "c2"]
        assert drawn(session(store, cards, last_days, plan=PLAN, config=one_a_day)) == ["c0"]  # the budget cuts it
        assert drawn(session(store, cards, last_days + timedelta(hours=1), plan=PLAN)) == ["c1", "c2"]
        after = {c: deadline.recall_on_day(fsrs_alone, store.state(c), MOMENT) for c in ("c0", "c1")}
        assert all(after[c] > recall[c] for c in after)
        # after the interview: normal scheduling, nothing drawn before it is due
        assert drawn(session(store, cards, MOMENT + timedelta(hours=2), plan=PLAN)) == []
        assert deadline.sweep(fsrs_alone, ["c0"], store.state, PLAN, MOMENT + timedelta(hours=2)) == []
