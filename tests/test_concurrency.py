"""Two processes rating cards in one database at the same time."""

from __future__ import annotations

import multiprocessing
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

from prep import doctor, scheduler
from prep.config import Config
from prep.store import Store

BASE = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
PER_WORKER = 150


def _worker(db_path: str, worker: int, start: multiprocessing.Event) -> None:
    sched = scheduler.make(Config())
    start.wait()
    with Store(Path(db_path)) as store:
        for i in range(PER_WORKER):
            card_id = f"shared{i % 10}"  # both workers hit the same ten cards
            when = BASE + timedelta(minutes=i, seconds=worker)
            rating = 1 + (i + worker) % 4
            store.apply(card_id, rating, when, None,
                        lambda state, at: scheduler.review(sched, state, card_id, rating, at))


def test_two_processes_rate_the_same_cards_without_losing_or_doubling(tmp_path: Path) -> None:
    db_path = tmp_path / "prep.db"
    Store(db_path).close()
    start = multiprocessing.Event()
    workers = [multiprocessing.Process(target=_worker, args=(str(db_path), n, start)) for n in (0, 1)]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    with closing(sqlite3.connect(db_path)) as db:
        assert db.execute("SELECT COUNT(*) FROM reviews").fetchone() == (2 * PER_WORKER,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Store(db_path) as store:
        report = doctor.examine(store, scheduler.make(Config()), Config(), repair=False)
    # each review starts from the state the previous one (from either process) left
    assert report.broken_chain == [] and report.state_mismatch == [] and report.missing_state == []
