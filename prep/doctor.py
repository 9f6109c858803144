"""`prep doctor`: checks the database and repairs card states from the review log."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import fsrs

from prep import migrations, scheduler as sched
from prep.config import Config
from prep.store import DamagedLog, Store, from_ms, state_from_json


@dataclass
class Report:
    integrity: list[str] = field(default_factory=list)  # ["ok"] when SQLite finds nothing wrong
    schema_version: int = 0
    reviews: int = 0
    cards: int = 0
    state_mismatch: list[str] = field(default_factory=list)  # stored state != last logged state
    missing_state: list[str] = field(default_factory=list)  # reviews but no state row
    state_without_log: list[str] = field(default_factory=list)
    broken_chain: list[str] = field(default_factory=list)  # a review's before != previous after
    replay_differs: list[str] = field(default_factory=list)  # FSRS replay (current settings) disagrees
    damaged: list[str] = field(default_factory=list)  # a logged time or state no review can have
    repaired: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return (self.integrity == ["ok"] and not self.state_mismatch and not self.missing_state
                and not self.broken_chain and not self.damaged)


def _same(a: fsrs.Card | None, b: fsrs.Card | None) -> bool:
    if a is None or b is None:
        return a is b
    close = lambda x, y: (x is None and y is None) or (  # noqa: E731
        x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9))
    return (a.state == b.state and a.step == b.step and close(a.stability, b.stability)
            and close(a.difficulty, b.difficulty)
            and abs((a.due - b.due).total_seconds()) < 0.002
            and (a.last_review is None) == (b.last_review is None)
            and (a.last_review is None or abs((a.last_review - b.last_review).total_seconds()) < 0.002))


def examine(store: Store, scheduler: fsrs.Scheduler, config: Config, repair: bool) -> Report:
    report = Report()
    report.integrity = [row[0] for row in store.db.execute("PRAGMA integrity_check")]
    report.schema_version = migrations.current_version(store.db)
    stored = store.states()
    report.cards = len(stored)
    last_after: dict[str, str] = {}
    previous: dict[str, str | None] = {}
    replayed: dict[str, fsrs.Card] = {}
    anki_cards = store.anki_cards()  # replayed with Anki's engine, as they were scheduled
    rows = store.db.execute(
        "SELECT card_id, rating, reviewed_at, state_before, state_after FROM reviews ORDER BY card_id, reviewed_at, id")
    for card_id, rating, reviewed_at, before, after in rows:
        report.reviews += 1
        if previous.get(card_id) != before and card_id not in report.broken_chain:
            if not (card_id not in previous and before is None):
                report.broken_chain.append(card_id)
        previous[card_id] = after
        last_after[card_id] = after
        try:
            moment = from_ms(reviewed_at)
        except DamagedLog:  # reported, and left out of the replay (the log is never rewritten)
            if card_id not in report.damaged:
                report.damaged.append(card_id)
            continue
        replayed[card_id] = sched.next_state(scheduler, config, replayed.get(card_id), card_id, rating, moment,
                                             card_id in anki_cards)
    for card_id, after_json in last_after.items():
        try:
            logged = state_from_json(after_json)
        except DamagedLog:
            if card_id not in report.damaged:
                report.damaged.append(card_id)
            continue
        current = stored.get(card_id)
        if current is None:
            report.missing_state.append(card_id)
        elif not _same(current, logged):
            report.state_mismatch.append(card_id)
        if card_id not in report.damaged and not _same(replayed.get(card_id), logged):
            report.replay_differs.append(card_id)
    report.state_without_log = sorted(set(stored) - set(last_after))
    if repair:  # re-read inside one write transaction: ratings made meanwhile are kept
        report.repaired = store.restore_from_log([card_id for card_id in report.missing_state + report.state_mismatch
                                                  if card_id not in report.damaged])
    return report
