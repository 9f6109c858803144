"""Review ahead, cram and deadline mode: which cards are drawn, and that FSRS sees each review's real time."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import fsrs

from prep import clock, cram, deadline, migrations, scheduler
from prep.config import Config
from prep.review import Session
from prep.store import Store
from tests.test_review import make_decks

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
CONFIG = Config(enable_fuzzing=False)


def reviewed(store: Store, card_id: str, ratings: list[tuple[int, datetime]]) -> fsrs.Card:
    """Log ratings through the store as `prep review` would; return the final state."""
    sched = scheduler.make(CONFIG)
    after = None
    for rating, at in ratings:
        _, _, after = store.apply(card_id, rating, at, None,
                                  lambda before, when, r=rating: scheduler.review(sched, before, card_id, r, when))
    assert after is not None
    return after


def session(store: Store, cards: list, now: datetime, config: Config = CONFIG, **extra) -> Session:
    return Session(store, [c.id for c in cards], {c.id: c for c in cards}.get, config, lambda: now, **extra)


def test_cram_and_ahead_reviews_match_fsrs_at_their_real_time(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 3)
    with Store(tmp_path / "p.db") as store:
        for card in cards:
            reviewed(store, card.id, [(4, NOW - timedelta(days=2))])
        before = {c.id: store.state(c.id) for c in cards}
        assert all(state.due > NOW + timedelta(days=1) for state in before.values())  # none due: early reviews
        assert session(store, cards, NOW).next_card() is None
        ahead = cram.ahead_ids(store, [c.id for c in cards], NOW, 30, 4)
        assert set(ahead) == {c.id for c in cards}
        s = session(store, cards, NOW, queue=ahead[:1], mode="ahead")
        s.rate(s.next_card(), 3)
        s = session(store, cards, NOW, queue=cram.cram_ids(store, [c.id for c in cards], s.scheduler, NOW), mode="cram")
        rated = []
        while (card := s.next_card()) is not None:
            s.rate(card, 2 if card.id == "c2" else 3)
            rated.append(card.id)
        assert sorted(rated) == ["c0", "c1", "c2"]  # the card reviewed ahead is crammed too: it was chosen
        truth = fsrs.Scheduler(enable_fuzzing=False)
        expected = {}
        for card in cards:
            state = before[card.id]
            if card.id == ahead[0]:
                state, _ = truth.review_card(state, fsrs.Rating.Good, review_datetime=NOW)
            state, _ = truth.review_card(state, fsrs.Rating.Hard if card.id == "c2" else fsrs.Rating.Good,
                                         review_datetime=NOW)
            expected[card.id] = state
        for card in cards:
            got = store.state(card.id)
            want = expected[card.id]
            assert (got.stability, got.difficulty, got.due, got.state) == pytest_approx(want), card.id
        modes = store.db.execute("SELECT mode, COUNT(*) FROM reviews GROUP BY mode ORDER BY mode").fetchall()
        assert modes == [("ahead", 1), ("cram", 3), ("review", 3)]


def pytest_approx(state: fsrs.Card) -> tuple:
    import pytest

    return (pytest.approx(state.stability), pytest.approx(state.difficulty), state.due, state.state)


def test_ahead_takes_cards_due_within_the_days_soonest_first(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 4)
    with Store(tmp_path / "p.db") as store:
        dues = {}
        for card, days in zip(cards, (20, 2, 5, None)):
            if days is None:
                continue  # c3 stays new: not a review, never drawn ahead
            state = reviewed(store, card.id, [(4, NOW - timedelta(days=1))])
            state.due = NOW + timedelta(days=days)
            store.apply(card.id, 3, NOW - timedelta(hours=1), None, lambda before, at, s=state: s)
            dues[card.id] = state.due
        ids = [c.id for c in cards]
        assert cram.ahead_ids(store, ids, NOW, 6, 4) == ["c1", "c2"]
        assert cram.ahead_ids(store, ids, NOW, 1, 4) == []
        assert cram.ahead_ids(store, ids, NOW, 30, 4) == ["c1", "c2", "c0"]


def test_weak_ranks_by_recall_now_then_lapses(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 4)
    start = NOW - timedelta(days=60)
    with Store(tmp_path / "p.db") as store:
        reviewed(store, "c0", [(4, start)])  # strong: Easy once
        reviewed(store, "c1", [(1, start), (1, start + timedelta(minutes=1)), (3, start + timedelta(minutes=20))])
        reviewed(store, "c2", [(4, start), (1, start + timedelta(days=20)), (3, start + timedelta(days=20, minutes=10))])
        ids = [c.id for c in cards]
        weak = cram.weaknesses(store, ids, scheduler.make(CONFIG), NOW)
        assert [w.card_id for w in weak] == sorted(["c0", "c1", "c2"], key=lambda c: next(
            (w.recall, -w.lapses) for w in weak if w.card_id == c))
        assert {w.card_id: w.lapses for w in weak} == {"c0": 0, "c1": 0, "c2": 1}
        assert all(a.recall <= b.recall for a, b in zip(weak, weak[1:]))
        assert cram.cram_ids(store, ids, scheduler.make(CONFIG), NOW, weak=2) == [w.card_id for w in weak[:2]]
        assert cram.cram_ids(store, ids, scheduler.make(CONFIG), NOW) == ids  # c3 (new) included without --weak


def test_migration_adds_mode_and_mocks_to_an_old_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    for step in migrations.MIGRATIONS[:3]:
        step(db)
    db.execute("PRAGMA user_version = 3")
    db.execute("INSERT INTO reviews (card_id, rating, reviewed_at, state_before, state_after, kind_before) "
               "VALUES ('a', 3, 5, NULL, '{}', NULL)")
    db.close()
    with Store(path) as store:
        assert migrations.current_version(store.db) == len(migrations.MIGRATIONS)
        assert store.db.execute("SELECT card_id, mode FROM reviews").fetchall() == [("a", "review")]
        assert store.db.execute("SELECT COUNT(*) FROM mocks").fetchone() == (0,)
        assert store.db.execute("SELECT COUNT(*) FROM mock_answers").fetchone() == (0,)


def test_deadline_mode_lands_a_review_before_the_interview(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 6)
    interview = date(2026, 3, 20)
    moment = clock.interview_moment(interview)
    plan = {"interview": interview, "target": 0.9}
    # FSRS aiming at 80% while the plan's target is 90%: left alone, intervals run past the day with
    # recall there under the target (at the target retention only fuzz can do that)
    relaxed = Config(enable_fuzzing=True, desired_retention=0.8)
    with Store(tmp_path / "p.db") as store:
        for day in range(0, 18):  # two and a half weeks of daily sessions
            now = NOW + timedelta(days=day)
            s = session(store, cards, now, relaxed, plan=plan)
            while (card := s.next_card()) is not None:
                s.rate(card, (4, 3, 3, 4, 3, 4)[int(card.id[1])])
            for card in cards:
                state = store.state(card.id)
                recall = deadline.recall_on_day(s.scheduler, state, moment)
                assert state.due <= moment or recall >= 0.9, (day, card.id, state.due, recall)
        assert store.db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] > 12
    # the same rating without a plan: FSRS puts the card past the day, recall there under the target
    fsrs_alone = scheduler.make(relaxed)
    plain = scheduler.review(fsrs_alone, None, "x", 4, NOW)
    assert plain.due > moment and deadline.recall_on_day(fsrs_alone, plain, moment) < 0.9
    capped = deadline.cap(fsrs_alone, scheduler.review(fsrs_alone, None, "x", 4, NOW), plan, NOW)
    assert capped.due == moment - timedelta(days=deadline.LAST_REVIEW_DAYS)
    assert capped.stability == plain.stability  # the memory state is FSRS's; only the due moved


def test_deadline_order_puts_cards_at_risk_on_the_day_first(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 2)
    with Store(tmp_path / "p.db") as store:
        # c0: strong memory, due now; c1: weak memory, due now too but later in deck order
        reviewed(store, "c0", [(4, NOW - timedelta(days=200)), (4, NOW - timedelta(days=100))])
        reviewed(store, "c1", [(3, NOW - timedelta(days=3)), (3, NOW - timedelta(days=3) + timedelta(minutes=10))])
        for card_id in ("c0", "c1"):
            state = store.state(card_id)
            state.due = NOW - timedelta(hours=1 if card_id == "c1" else 2)
            store.apply(card_id, 3, NOW - timedelta(hours=3), None, lambda before, at, s=state: s)
        assert session(store, cards, NOW).next_card().id == "c0"  # due first
        plan = {"interview": date(2026, 3, 6), "target": 0.9}
        s = session(store, cards, NOW, plan=plan)
        moment = clock.interview_moment(plan["interview"])
        assert deadline.recall_on_day(s.scheduler, store.state("c1"), moment) < 0.9
        assert deadline.recall_on_day(s.scheduler, store.state("c0"), moment) >= 0.9
        assert s.next_card().id == "c1"
        after = {"interview": date(2026, 3, 1), "target": 0.9}  # the interview is past: normal order
        assert session(store, cards, NOW, plan=after).next_card().id == "c0"


def spawn(decks_dir: Path, home: Path, *args: str, now: str = "2026-03-02T10:00:00+00:00"):
    import os
    import sys

    import pexpect

    env = dict(os.environ, PREP_HOME=str(home), PREP_NOW=now, TERM="xterm", COLUMNS="100", TZ="UTC")
    return pexpect.spawn(sys.executable, ["-m", "prep", *args], cwd=str(decks_dir.parent), env=env,
                         encoding="utf-8", dimensions=(50, 100), timeout=20)


def test_prep_cram_weak_and_review_ahead_through_a_terminal(decks_dir: Path, isolated: Path) -> None:
    import pexpect

    (isolated / "config.yaml").parent.mkdir(parents=True, exist_ok=True)
    (isolated / "config.yaml").write_text("enable_fuzzing: false\n")
    with Store(isolated / "prep.db") as store:
        reviewed(store, "ml-overfitting", [(4, NOW - timedelta(days=1))])  # strong, due in about a week
        reviewed(store, "prob-pmf", [(4, NOW - timedelta(days=7))])  # weaker: a week since
    child = spawn(decks_dir, isolated, "cram", "--weak", "1")
    child.expect("show answer")
    assert "What is a probability mass function?" in child.before
    child.send(" ")
    child.expect("1-4: rate")
    child.send("3")
    child.expect(pexpect.EOF)
    assert "Reviewed 1 card" in child.before
    child = spawn(decks_dir, isolated, "review", "--ahead", "10")
    child.expect("show answer")
    assert "What is overfitting?" in child.before  # not due today, drawn ahead
    child.send(" ")
    child.expect("1-4: rate")
    child.send("4")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    with Store(isolated / "prep.db") as store:
        rows = store.db.execute("SELECT card_id, mode FROM reviews ORDER BY id").fetchall()
    assert rows == [("ml-overfitting", "review"), ("prob-pmf", "review"), ("prob-pmf", "cram"),
                    ("ml-overfitting", "ahead")]
    child = spawn(decks_dir, isolated, "cram", "--weak", "3", "--deck", "nothing-here")
    child.expect(pexpect.EOF)
    assert "no deck matches --deck 'nothing-here'" in child.before
