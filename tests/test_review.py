"""Session logic without a terminal: queue order, daily limits, day boundary, undo, kept history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import fsrs

from prep import decks, scheduler
from prep.config import Config
from prep.review import Session
from prep.store import Store
from tests.conftest import write

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def make_decks(root: Path, count: int) -> list:
    lines = ["cards:"] + [f"  - {{id: c{i}, q: 'Question {i}?', a: 'Answer {i}.'}}" for i in range(count)]
    write(root / "d.yaml", "\n".join(lines) + "\n")
    return decks.load(root).cards()


def session(store: Store, cards: list, now: datetime = NOW, **settings) -> Session:
    return Session(store, [card.id for card in cards], {card.id: card for card in cards}.get,
                   Config(enable_fuzzing=False, **settings), lambda: now)


def test_new_cards_come_in_deck_order_up_to_the_daily_limit(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 5)
    with Store(tmp_path / "p.db") as store:
        s = session(store, cards, new_per_day=3)
        seen = []
        while (card := s.next_card()) is not None:
            seen.append(card.id)
            s.rate(card, 4)  # Easy: graduates at once, not due again today
        assert seen == ["c0", "c1", "c2"]
        # a second session the same day has no new quota left
        assert session(store, cards, new_per_day=3).next_card() is None


def test_due_reviews_come_before_new_cards(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 3)
    sched = scheduler.make(Config(enable_fuzzing=False))
    with Store(tmp_path / "p.db") as store:
        earlier = NOW - timedelta(days=30)
        state = scheduler.review(sched, None, "c2", 4, earlier)
        store.apply("c2", 4, earlier, None, lambda before, at: state)
        assert state.due <= NOW
        assert session(store, cards).next_card().id == "c2"


def test_new_limit_counts_cards_introduced_since_the_day_began(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 4)
    with Store(tmp_path / "p.db") as store:
        s = session(store, cards, now=NOW.replace(hour=3), new_per_day=2)  # before 4 am: still "yesterday"
        for _ in range(2):
            s.rate(s.next_card(), 4)
        assert session(store, cards, now=NOW.replace(hour=3, minute=30), new_per_day=2).next_card() is None
        assert session(store, cards, now=NOW, new_per_day=2).next_card().id == "c2"


def test_undo_puts_the_card_back_first(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 3)
    with Store(tmp_path / "p.db") as store:
        s = session(store, cards)
        s.rate(s.next_card(), 4)
        assert s.next_card().id == "c1"
        assert s.undo().id == "c0"
        assert s.next_card().id == "c0"
        assert s.done == 0 and store.reviews() == []


def test_removed_card_keeps_history_and_gets_it_back(tmp_path: Path) -> None:
    root = tmp_path / "decks"
    cards = make_decks(root, 2)
    with Store(tmp_path / "p.db") as store:
        s = session(store, cards)
        s.rate(s.next_card(), 4)
        state = store.state("c0")
        write(root / "d.yaml", "cards:\n  - {id: c1, q: 'Question 1?', a: 'Answer 1.'}\n")
        fewer = decks.load(root).cards()
        assert [c.id for c in fewer] == ["c1"]
        session(store, fewer).rate(fewer[0], 3)
        write(root / "d.yaml", "cards:\n  - {id: c0, q: 'Question 0, reworded?', a: 'Answer 0.'}\n"
                               "  - {id: c1, q: 'Question 1?', a: 'Answer 1.'}\n")
        back = decks.load(root).cards()
        assert store.state("c0") == state
        assert len(store.reviews("c0")) == 1
        assert session(store, back).states["c0"].state == fsrs.State.Review


def test_suspended_cards_are_not_shown(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 3)
    with Store(tmp_path / "p.db") as store:
        store.suspend(["c0"], NOW, "manual")
        assert session(store, cards).next_card().id == "c1"
