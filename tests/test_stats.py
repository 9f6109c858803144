"""`prep stats` on a database with a known history."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import fsrs
from click.testing import CliRunner

from prep import paths, scheduler
from prep.cli import cli
from prep.config import Config
from prep.store import Store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def test_stats_counts_and_true_retention(decks_dir: Path, isolated: Path) -> None:
    sched = scheduler.make(Config(enable_fuzzing=False))
    with Store(paths.database_path()) as store:
        # prob-bayes-rule: a mature card reviewed 40 days ago (outside the window) and 3 times in the window
        t = NOW - timedelta(days=60)
        state = None
        for when, rating in ((t, 3), (t + timedelta(days=20), 3), (NOW - timedelta(days=20), 3),
                             (NOW - timedelta(days=5), 1), (NOW - timedelta(hours=1), 3)):
            after = scheduler.review(sched, state, "prob-bayes-rule", rating, when)
            store.record("prob-bayes-rule", rating, when, None, state, after)
            state = after
        # ml-overfitting: new today, in learning
        after = scheduler.review(sched, None, "ml-overfitting", 1, NOW - timedelta(minutes=5))
        store.record("ml-overfitting", 1, NOW - timedelta(minutes=5), None, None, after)
        mature = [r for r in store.reviews() if r.reviewed_at >= NOW - timedelta(days=30)
                  and r.state_before is not None and r.state_before.state == fsrs.State.Review]
    result = CliRunner().invoke(cli, ["stats", "--json"], env={"PREP_NOW": NOW.isoformat()}, catch_exceptions=False)
    data = json.loads(result.output)
    assert data["reviews_today"] == 2
    assert data["retention_reviews_30d"] == len(mature)
    assert data["retention_30d"] == sum(r.rating > 1 for r in mature) / len(mature)
    decks = {d["deck"]: d for d in data["decks"]}
    assert decks["ML::Basics"] == {"deck": "ML::Basics", "new": 2, "learning": 1, "review": 0, "due": 1}
    probability = decks["Math::Probability"]
    assert probability["new"] == 4 and probability["learning"] + probability["review"] == 1
    assert data["total"]["new"] == 6

    table = CliRunner().invoke(cli, ["stats"], env={"PREP_NOW": NOW.isoformat()}, catch_exceptions=False)
    assert "ML::Basics" in table.output and "Reviews today: 2" in table.output
    assert "True retention (30 days):" in table.output
