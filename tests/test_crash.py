"""SIGKILL `prep review` at random moments: every acknowledged rating survives, the log stays consistent."""

from __future__ import annotations

import io
import os
import random
import signal
import sqlite3
import sys
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pexpect

from prep import doctor, scheduler
from prep.config import Config
from prep.store import Store
from tests.conftest import write

RUNS = 100
BASE = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def test_sigkill_never_loses_an_acknowledged_rating(tmp_path: Path, isolated: Path) -> None:
    decks = tmp_path / "decks"
    write(decks / "many.yaml", "cards:\n" + "".join(
        f"  - {{id: k{i}, q: 'Question {i}?', a: 'Answer {i}.'}}\n" for i in range(40)))
    write(isolated / "config.yaml", "new_per_day: 1000\n")
    rng = random.Random(20261122)
    db_path = isolated / "prep.db"
    acknowledged_total = 0
    killed_mid_rating = 0
    for run in range(RUNS):
        now = (BASE + timedelta(days=run)).isoformat()
        env = dict(os.environ, PREP_HOME=str(isolated), PREP_DECKS=str(decks), PREP_NOW=now, TERM="xterm")
        before = _count(db_path)
        child = pexpect.spawn(sys.executable, ["-m", "prep", "review"], env=env, encoding="utf-8",
                              dimensions=(30, 100), timeout=20)
        child.logfile_read = io.StringIO()  # every byte the process printed, matched or not
        steps = rng.randint(0, 5)
        for _ in range(steps):
            child.expect("show answer")
            child.send(" ")
            child.expect("1-4: rate")
            child.send(str(rng.randint(1, 4)))
        # the final moment: maybe mid-rating, maybe mid-start-up
        if steps and rng.random() < 0.5:
            child.expect("show answer")
            child.send(" ")
            child.expect("1-4: rate")
            child.send(str(rng.randint(1, 4)))
            killed_mid_rating += 1
        time.sleep(rng.uniform(0, 0.03))
        os.kill(child.pid, signal.SIGKILL)
        output = _drain(child)
        acknowledged = output.count("saved: ")
        acknowledged_total += acknowledged
        logged = _count(db_path) - before
        assert acknowledged <= logged <= acknowledged + 1, (run, acknowledged, logged)
    with closing(sqlite3.connect(db_path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Store(db_path) as store:
        report = doctor.examine(store, scheduler.make(Config()), Config(), repair=False)
    assert report.state_mismatch == [] and report.missing_state == [] and report.broken_chain == []
    assert acknowledged_total > 100 and killed_mid_rating > 20


def _count(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0]
    except sqlite3.OperationalError:  # killed before the schema was created
        return 0
    finally:
        db.close()


def _drain(child: pexpect.spawn) -> str:
    """Everything the process printed before it died."""
    try:
        while True:
            child.read_nonblocking(65536, timeout=1)
    except (pexpect.EOF, pexpect.TIMEOUT):
        pass
    child.close(force=True)
    return child.logfile_read.getvalue()
