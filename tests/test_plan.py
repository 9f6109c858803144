"""`prep plan`: readiness checked against FSRS retrievability computed here, workload, saving."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pexpect
import yaml
from click.testing import CliRunner

from prep import paths
from prep.cli import cli
from prep.store import Store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # TZ=UTC in tests
INTERVIEW = datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc)  # the plan's moment: 09:00 local on the day
DECAY = 0.1542  # FSRS-6 default w20
MS = lambda moment: int(moment.timestamp() * 1000)  # noqa: E731
HISTORY = {  # card: (stability in days, last review)
    "prob-bayes-rule": (30.0, NOW - timedelta(days=3)),
    "prob-variance/c1": (4.0, NOW - timedelta(days=1, hours=5)),
    "prob-pmf": (120.0, NOW - timedelta(days=40)),
    "ml-overfitting": (2.5, NOW - timedelta(hours=2)),
}


def recall(stability: float, last_review: datetime) -> float:
    """FSRS-6 forgetting curve, written out independently of prep and py-fsrs."""
    factor = 0.9 ** (1 / -DECAY) - 1
    days = (INTERVIEW - last_review).days
    return (1 + factor * days / stability) ** -DECAY


def build(db_path: Path) -> None:
    Store(db_path).close()
    with closing(sqlite3.connect(db_path)) as db:
        db.executemany("INSERT INTO cards (id, state, step, stability, difficulty, due, last_review) "
                       "VALUES (?, 2, NULL, ?, 5.0, ?, ?)",
                       [(card, s, MS(last + timedelta(days=s)), MS(last)) for card, (s, last) in HISTORY.items()])
        db.commit()


def run_plan(*extra: str) -> dict:
    return run_plan_on("2026-03-20", *extra)


def test_readiness_matches_fsrs_retrievability(decks_dir: Path, isolated: Path, utc: None) -> None:
    build(paths.database_path())
    data = run_plan()
    decks = {d["deck"]: d for d in data["decks"]}
    probability = [recall(*HISTORY[c]) for c in ("prob-bayes-rule", "prob-variance/c1", "prob-pmf")]
    # Math::Probability has 5 cards: 3 seen, prob-variance/c2 and prob-pmf/rev unseen (count 0)
    assert decks["Math::Probability"]["cards"] == 5 and decks["Math::Probability"]["unseen"] == 2
    assert math.isclose(decks["Math::Probability"]["predicted_recall"], sum(probability) / 5, rel_tol=1e-9)
    basics = recall(*HISTORY["ml-overfitting"]) / 3
    assert math.isclose(decks["ML::Basics"]["predicted_recall"], basics, rel_tol=1e-9)
    assert math.isclose(data["predicted_recall_now"], (sum(probability) + recall(*HISTORY["ml-overfitting"])) / 8,
                        rel_tol=1e-9)
    assert data["days_left"] == 18 and data["new_cards"] == 4
    assert data["new_per_day"] == math.ceil(4 / (18 - min(7, 18 // 4)))
    assert data["predicted_recall_with_plan"] > data["predicted_recall_now"]
    assert data["reviews_per_day"] > 0 and data["peak_reviews_per_day"] >= 1
    assert data["on_track"] == (data["predicted_recall_with_plan"] >= 0.9)


def test_saving_sets_limits_and_review_shows_the_plan(decks_dir: Path, isolated: Path) -> None:
    build(paths.database_path())
    data = run_plan("--save", "--target", "0.92")
    config = yaml.safe_load(paths.config_path().read_text())
    assert config["new_per_day"] == data["new_per_day"] and config["desired_retention"] == 0.92
    env = dict(os.environ, PREP_HOME=str(isolated), PREP_NOW=NOW.isoformat(), TERM="xterm", TZ="UTC")
    child = pexpect.spawn(sys.executable, ["-m", "prep", "review"], cwd=str(decks_dir.parent), env=env,
                          encoding="utf-8", dimensions=(40, 120), timeout=20)
    child.expect("show answer")
    assert "interview 2026-03-20 in 18 days · target 92%" in child.before
    child.send("q")
    child.expect(pexpect.EOF)


def test_past_interview_date_is_refused(decks_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", "--interview", "2020-01-01"], env={"PREP_NOW": NOW.isoformat()})
    assert result.exit_code == 1
    assert result.output == "Error: the interview date 2020-01-01 must be after today\n"
    bad = CliRunner().invoke(cli, ["plan", "--interview", "next week"])
    assert bad.exit_code == 2 and "use YYYY-MM-DD" in bad.output
    far = CliRunner().invoke(cli, ["plan", "--interview", "9999-12-31"], env={"PREP_NOW": NOW.isoformat()})
    assert far.output == "Error: the interview date 9999-12-31 is more than 100 years away\n"  # not an OverflowError


def test_a_plan_no_one_can_follow_is_not_on_track_and_says_what_it_takes(decks_dir: Path, isolated: Path,
                                                                         tmp_path: Path, utc: None) -> None:
    many = "cards:\n" + "".join(f"  - {{id: n{i}, q: 'Question {i}?', a: 'Answer {i}.'}}\n" for i in range(600))
    (decks_dir / "many.yaml").write_text(many)
    data = run_plan_on("2026-03-03", "--save")  # tomorrow: 608 new cards in one day
    assert data["feasible"] is False and data["on_track"] is False and data["saved"] is False
    assert data["peak_cards_per_day"] > data["daily_capacity"] == 400
    assert data["predicted_recall_with_plan"] >= 0.9  # FSRS alone would call it on track
    assert data["days_needed"] > 1
    assert not paths.config_path().exists()
    text = CliRunner().invoke(cli, ["plan", "--interview", "2026-03-03", "--save"], env={"PREP_NOW": NOW.isoformat()},
                              catch_exceptions=False).output
    assert "on track" not in text
    assert (f"Not achievable: 608 new cards in 1 day means about {data['peak_cards_per_day']:,} cards (new and "
            "reviews) on the busiest day") in text
    assert (f"To reach 90% you would need about {data['days_needed']} days, or to narrow the plan with --deck/--tag "
            "to about") in text
    assert "Nothing saved: the plan is not achievable." in text
    roomy = run_plan_on("2026-04-30")  # two months: the same cards fit
    assert roomy["feasible"] is True and roomy["on_track"] is True and roomy["peak_cards_per_day"] <= 400


def run_plan_on(day: str, *extra: str) -> dict:
    result = CliRunner().invoke(cli, ["plan", "--interview", day, "--json", *extra],
                                env={"PREP_NOW": NOW.isoformat()}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)
