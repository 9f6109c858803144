"""Session logic without a terminal: queue order, daily limits, day boundary, undo, kept history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import fsrs
import pytest

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
    return clocked_session(store, cards, [now], **settings)


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


def test_new_limit_counts_cards_introduced_since_the_day_began(tmp_path: Path, utc: None) -> None:
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


def test_a_session_going_on_past_the_day_boundary_begins_the_new_day(tmp_path: Path, utc: None) -> None:
    """Started at 03:59 (the day ends at 04:00): once the clock passes the boundary, the new day's new
    cards, its learning card due 04:09 and the card skipped "until tomorrow" come in the same session."""
    cards = make_decks(tmp_path / "decks", 5)
    moment = [NOW.replace(hour=3, minute=59)]
    with Store(tmp_path / "p.db") as store:
        s = clocked_session(store, cards, moment, new_per_day=2)
        s.rate(s.next_card(), 3)  # Good on a new card: its 10-minute step ends after the boundary
        s.skip(s.next_card())
        s.rate(s.next_card(), 4)
        assert s.next_card() is None  # the old day has no new cards left and the step is tomorrow's
        moment[0] = NOW.replace(hour=4, minute=10)
        shown = drain(s)
        assert shown[:3] == ["c0", "c1", "c3"] and "c4" not in shown  # the step, the skipped card, one new
        assert s.done == 2 + len(shown) and s.new_left == 0


def clocked_session(store: Store, cards: list, moment: list[datetime], **settings) -> Session:
    """A session whose clock reads `moment[0]`, for tests that move time on."""
    return Session(store, [card.id for card in cards], {card.id: card for card in cards}.get,
                   Config(enable_fuzzing=False, **settings), lambda: moment[0])


def learnt_long_ago(store: Store, card_id: str) -> None:
    """A review card, due for weeks."""
    earlier = NOW - timedelta(days=60)
    for rating, at in ((3, earlier), (3, earlier + timedelta(minutes=10))):
        store.apply(card_id, rating, at, None, lambda before, when, r=rating: scheduler.review(
            scheduler.make(Config(enable_fuzzing=False)), before, card_id, r, when))


def test_undoing_after_the_boundary_a_rating_from_before_it_leaves_the_new_days_limit_as_it_is(
        tmp_path: Path, utc: None) -> None:
    """One new card a day: c0 rated at 03:59 took yesterday's, c1 at 04:01 today's. Both taken back, today
    has one new card left, not two; both are shown again (undo shows its card next), counts not below 0."""
    cards = make_decks(tmp_path / "decks", 5)
    moment = [NOW.replace(hour=3, minute=59)]
    with Store(tmp_path / "p.db") as store:
        s = clocked_session(store, cards, moment, new_per_day=1)
        s.rate(s.next_card(), 4)
        moment[0] = NOW.replace(hour=4, minute=1)
        s.rate(s.next_card(), 4)
        assert s.next_card() is None
        assert s.undo().id == "c1" and s.undo().id == "c0"
        assert store.reviews() == [] and store.state("c0") is None
        assert s.counts() == (1, 0, 0)
        assert drain(s) == ["c0", "c1"]
        assert s.counts() == (0, 0, 0) and s.left() == 0 and s.done == 2


def test_undoing_after_the_boundary_a_rating_of_a_card_due_again_today_shows_it_once(
        tmp_path: Path, utc: None) -> None:
    """Hard at 03:59 with a one-day interval: due 03:59 tomorrow, in the new day's reviews; undone at
    04:30 the card is one review to do again, not two."""
    cards = make_decks(tmp_path / "decks", 2)
    moment = [NOW.replace(hour=3, minute=59)]
    with Store(tmp_path / "p.db") as store:
        learnt_long_ago(store, "c0")
        s = clocked_session(store, cards, moment, new_per_day=0, maximum_interval=1)
        assert s.rate(s.next_card(), 2).due == NOW.replace(day=3, hour=3, minute=59)
        moment[0] = NOW.replace(hour=4, minute=30)
        assert s.next_card().id == "c0"
        s.undo()
        assert s.counts() == (0, 0, 1)
        assert drain(s) == ["c0"]


def test_a_card_skipped_just_after_the_boundary_waits_for_the_next_day(tmp_path: Path, utc: None) -> None:
    """c0 skipped at 03:59 waits until 04:00; c1, shown at 03:59 and skipped at 04:01, until tomorrow's
    04:00. Undo takes each skip back from the day it was recorded for."""
    cards = make_decks(tmp_path / "decks", 3)
    moment = [NOW.replace(hour=3, minute=59)]
    with Store(tmp_path / "p.db") as store:
        s = clocked_session(store, cards, moment)
        s.skip(s.next_card())
        card = s.next_card()
        moment[0] = NOW.replace(hour=4, minute=1)
        s.skip(card)
        assert s.next_card().id == "c0" and s.counts() == (2, 0, 0)
        assert store.skipped("2026-03-02") == {"c1"}
        assert s.undo().id == "c1" and s.undo().id == "c0"
        assert store.skipped("2026-03-01") == store.skipped("2026-03-02") == set()


def test_next_due_is_the_boundary_when_due_reviews_wait_for_tomorrows_limit(tmp_path: Path, utc: None) -> None:
    """The day's review limit reached at 03:30 with an overdue card left: it is next due at 04:00."""
    cards = make_decks(tmp_path / "decks", 2)
    moment = [NOW.replace(hour=3, minute=30)]
    with Store(tmp_path / "p.db") as store:
        learnt_long_ago(store, "c0")
        learnt_long_ago(store, "c1")
        s = clocked_session(store, cards, moment, new_per_day=0, reviews_per_day=1)
        s.rate(s.next_card(), 3)
        assert s.next_card() is None
        assert s.next_due() == NOW.replace(hour=4)


def sibling_decks(root: Path) -> list:
    """A reverse note (2 cards), a cloze note with three deletions and a plain card."""
    write(root / "s.yaml", "cards:\n"
          "  - {id: pair, q: 'Front?', a: 'Back.', reverse: true}\n"
          "  - {id: gaps, cloze: 'One {{c1::a}}, two {{c2::b}}, three {{c3::c}}.'}\n"
          "  - {id: alone, q: 'Alone?', a: 'Yes.'}\n")
    return decks.load(root).cards()


def drain(s: Session, first_rating: int = 4) -> list[str]:
    """Show and rate every card the session gives: the first `first_rating`, the others Easy."""
    shown = []
    while (card := s.next_card()) is not None:
        shown.append(card.id)
        s.rate(card, first_rating if len(shown) == 1 else 4)
    return shown


def test_siblings_wait_for_the_next_day(tmp_path: Path, utc: None) -> None:
    cards = sibling_decks(tmp_path / "decks")
    with Store(tmp_path / "p.db") as store:
        # Again on the first: it comes back (a learning card is not buried), its reverse does not
        assert drain(session(store, cards), first_rating=1) == ["pair", "gaps/c1", "alone", "pair"]
        assert drain(session(store, cards, now=NOW + timedelta(hours=2))) == []  # a new session the same day
        # the next day pair is due (its short interval after Again): shown first, it buries its reverse again
        assert drain(session(store, cards, now=NOW + timedelta(days=1))) == ["pair", "gaps/c2"]
        assert drain(session(store, cards, now=NOW + timedelta(days=2))) == ["pair/rev", "gaps/c3"]
    with Store(tmp_path / "other.db") as store:
        shown = drain(session(store, cards, bury_siblings=False))
        assert shown == [card.id for card in cards]


def test_a_skipped_or_shown_card_buries_its_siblings_too(tmp_path: Path) -> None:
    cards = sibling_decks(tmp_path / "decks")
    with Store(tmp_path / "p.db") as store:
        s = session(store, cards)
        s.skip(s.next_card())  # pair
        assert s.next_card().id == "gaps/c1"
        assert s.counts() == (2, 0, 0)  # gaps/c1 and alone: gaps/c2, gaps/c3 and pair/rev wait


def test_bury_siblings_is_a_checked_setting(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from prep import config
    from prep.cli import cli
    from prep.errors import ConfigError

    assert config.load(tmp_path / "none.yaml").bury_siblings is True
    path = write(tmp_path / "c.yaml", "bury_siblings: false\n")
    assert config.load(path).bury_siblings is False
    write(path, "bury_siblings: sometimes\n")
    with pytest.raises(ConfigError, match="bury_siblings"):
        config.load(path)
    assert "bury_siblings: true" in CliRunner().invoke(cli, ["config"]).output


def test_a_card_rated_by_another_session_leaves_this_ones_queue(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 4)
    with Store(tmp_path / "p.db") as store, Store(tmp_path / "p.db") as other:
        mine, theirs = session(store, cards), session(other, cards)
        assert theirs.next_card().id == "c0"
        first = mine.next_card()
        mine.rate(first, 4)  # not due today
        mine.rate(mine.next_card(), 1)  # c1: learning, due again in a minute
        # theirs still shows c0 (drawn before): rating it chains onto mine; then c1 is learning, c2 new
        theirs.rate(cards[0], 4)
        assert theirs.next_card().id == "c2"
        assert "c1" in theirs.learning and "c0" not in theirs.new and "c1" not in theirs.new
        assert theirs.unseen == 2 and theirs.counts() == (2, 1, 0)


def test_undo_takes_back_skips_buries_and_suspensions_with_their_counts(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 4)
    with Store(tmp_path / "p.db") as store:
        s = session(store, cards)
        s.rate(s.next_card(), 1)  # c0: Again, learning, back in a minute
        assert s.counts() == (3, 1, 0)
        s.skip(s.next_card())
        s.bury(s.next_card())
        s.suspend(s.next_card())
        assert s.counts() == (0, 1, 0)
        assert store.skipped(s.day) == {"c1", "c2"} and store.suspended() == {"c3": "manual"}
        s.skip(s.next_card())  # c0, shown ahead of its step
        assert s.next_card() is None and s.counts() == (0, 0, 0)
        expected = [("skip", "c0", (0, 1, 0)), ("suspend", "c3", (1, 1, 0)), ("bury", "c2", (2, 1, 0)),
                    ("skip", "c1", (3, 1, 0)), ("rate", "c0", (4, 0, 0))]
        for kind, card_id, counts in expected:
            action = s.undo_last()
            assert (action.kind, action.card.id, s.counts()) == (kind, card_id, counts)
            assert s.next_card().id == card_id  # shown again first
        assert store.skipped(s.day) == set() and store.suspended() == {} and store.reviews() == []
        assert s.undo_last() is None


def test_flags_cycle_through_the_four_colours_and_off(tmp_path: Path) -> None:
    cards = make_decks(tmp_path / "decks", 1)
    with Store(tmp_path / "p.db") as store:
        s = session(store, cards)
        card = s.next_card()
        assert [s.flag(card) for _ in range(6)] == [1, 2, 3, 4, None, 1]
        assert store.flag("c0") == 1 and store.flag("nope") is None


def test_a_card_with_reviews_from_anki_is_scheduled_by_ankis_engine_every_other_by_py_fsrs(tmp_path: Path, utc: None) -> None:
    cards = make_decks(tmp_path / "decks", 2)
    from_anki, own = cards[0].id, cards[1].id
    config = Config(enable_fuzzing=False)
    engine = scheduler.make(config)
    first = NOW - timedelta(days=3, hours=20)  # not a whole number of days: the engines count days differently
    with Store(tmp_path / "p.db") as store:
        store.merge_reviews(from_anki, [(3, first, 5000)],  # as `prep import` or `sync-anki` gives them
                            lambda state, rating, at: scheduler.anki_review(engine, config, state, from_anki, rating, at))
        store.apply(own, 3, first, 5000, lambda state, at: scheduler.review(engine, state, own, 3, at))
        assert store.anki_cards() == {from_anki}
        before = {card_id: store.state(card_id) for card_id in (from_anki, own)}
        s = session(store, cards)
        for card in cards:
            s.preview(card)
            s.rate(card, 3)
        anki = scheduler.anki_review(engine, config, before[from_anki], from_anki, 3, NOW)
        fsrs_own = scheduler.review(engine, before[own], own, 3, NOW)
        assert store.state(from_anki).stability == pytest.approx(anki.stability)
        assert store.state(from_anki).due == anki.due  # at the start of a review day, as in Anki
        assert store.state(own).stability == pytest.approx(fsrs_own.stability)
        assert store.state(own).due == fsrs_own.due  # py-fsrs's exact time
        assert anki.stability != pytest.approx(fsrs_own.stability, rel=1e-3)  # the two engines do differ here
