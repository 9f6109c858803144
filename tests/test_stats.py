"""`prep stats` on a database with a known history: exact counts, retention, forecast, streak, leeches."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from prep import paths
from prep.cli import cli
from prep.store import Store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # tests run with TZ=UTC; the day began at 04:00
MS = lambda moment: int(moment.timestamp() * 1000)  # noqa: E731


def build_history(db_path: Path) -> None:
    Store(db_path).close()
    with closing(sqlite3.connect(db_path)) as db:
        card = "INSERT INTO cards (id, state, step, stability, difficulty, due, last_review) VALUES (?, ?, ?, ?, 5, ?, ?)"
        db.executemany(card, [
            ("prob-bayes-rule", 2, None, 10.0, MS(NOW - timedelta(days=2)), MS(NOW - timedelta(days=12))),
            ("prob-variance/c1", 2, None, 20.0, MS(NOW + timedelta(days=3)), MS(NOW - timedelta(days=17))),
            ("prob-pmf", 1, 1, 1.0, MS(NOW + timedelta(minutes=5)), MS(NOW - timedelta(minutes=5))),
            ("ml-overfitting", 2, None, 50.0, MS(NOW + timedelta(days=40)), MS(NOW - timedelta(days=1))),
            ("ml-curve", 2, None, 5.0, MS(NOW - timedelta(days=1)), MS(NOW - timedelta(days=6))),
        ])
        review = "INSERT INTO reviews (card_id, rating, reviewed_at, state_after, kind_before) VALUES (?, ?, ?, '{}', ?)"
        rows = [  # (card, rating, when, kind before)
            ("prob-bayes-rule", 3, NOW - timedelta(days=25), 2),
            ("prob-bayes-rule", 3, NOW - timedelta(days=20), 2),
            ("prob-bayes-rule", 1, NOW - timedelta(days=2), 2),
            ("prob-bayes-rule", 3, NOW - timedelta(hours=1), 2),
            ("prob-bayes-rule", 1, NOW - timedelta(days=45), 2),  # outside the 30 days
            ("ml-overfitting", 1, NOW - timedelta(days=1), 2),
            ("ml-overfitting", 1, NOW - timedelta(days=1, hours=1), 2),
            ("prob-pmf", 3, NOW - timedelta(minutes=5), None),  # new card learnt today
        ] + [("ml-sigmoid-code", 1, NOW - timedelta(days=40 + n), 2) for n in range(8)]  # a leech, long ago
        db.executemany(review, [(c, r, MS(t), k) for c, r, t, k in rows])
        db.execute("INSERT INTO suspended (card_id, suspended_at, reason) VALUES ('ml-curve', 0, 'manual')")
        # flagged: a suspended card, a learning one, and one since deleted from the decks (not counted)
        db.executemany("INSERT INTO flags (card_id, flag, flagged_at) VALUES (?, ?, 0)",
                       [("ml-curve", 1), ("prob-pmf", 3), ("deleted-card", 2)])
        db.commit()


def stats_json() -> dict:
    result = CliRunner().invoke(cli, ["stats", "--json"], env={"PREP_NOW": NOW.isoformat()}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_counts_retention_forecast_streak_and_leeches(decks_dir: Path, isolated: Path, utc: None) -> None:
    build_history(paths.database_path())
    data = stats_json()
    decks = {d["deck"]: d for d in data["decks"]}
    assert decks["Math::Probability"] == {
        "deck": "Math::Probability", "new": 2, "learning": 1, "review": 2, "suspended": 0, "flagged": 1, "due": 2,
        "retention_30d": 0.75, "retention_reviews_30d": 4, "average_stability_days": 15.0}
    assert decks["ML::Basics"] == {
        "deck": "ML::Basics", "new": 1, "learning": 0, "review": 1, "suspended": 1, "flagged": 1, "due": 0,
        "retention_30d": 0.0, "retention_reviews_30d": 2, "average_stability_days": 50.0}
    assert data["total"]["flagged"] == 2
    assert data["retention_30d"] == 3 / 6
    assert data["reviews_today"] == 2  # prob-bayes-rule an hour ago, prob-pmf five minutes ago
    # due today: prob-bayes-rule (overdue) and prob-pmf (in 5 minutes); prob-variance/c1 in 3 days
    assert data["forecast"][:5] == [2, 0, 0, 1, 0] and sum(data["forecast"]) == 3
    assert data["streak"] == 3  # today, yesterday (ml-overfitting), two days ago (prob-bayes-rule)
    calendar = {day["day"]: day["reviews"] for day in data["calendar"]}
    assert calendar["2026-03-02"] == 2 and calendar["2026-03-01"] == 2 and calendar["2026-02-28"] == 1
    assert len(data["calendar"]) == 182
    assert data["leeches"] == [{"card_id": "ml-sigmoid-code", "deck": "ML::Basics", "lapses": 8, "suspended": False}]
    assert data["weakest_decks"] == []  # no deck has 10 mature reviews in 30 days


def test_suspend_leeches_then_unsuspend(decks_dir: Path, isolated: Path) -> None:
    build_history(paths.database_path())
    result = CliRunner().invoke(cli, ["suspend", "--leeches"], catch_exceptions=False)
    assert result.output == "Suspended 1 card.\n"
    assert stats_json()["leeches"][0]["suspended"] is True
    assert CliRunner().invoke(cli, ["unsuspend", "ml-sigmoid-code", "ml-curve"]).output == "Unsuspended 2 cards.\n"
    assert {d["deck"]: d["suspended"] for d in stats_json()["decks"]} == {"Math::Probability": 0, "ML::Basics": 0}


def test_table_output_names_every_section(decks_dir: Path, isolated: Path) -> None:
    build_history(paths.database_path())
    result = CliRunner().invoke(cli, ["stats"], env={"PREP_NOW": NOW.isoformat(), "COLUMNS": "120"},
                                catch_exceptions=False)
    for text in ("Cards by deck", "Math::Probability", "Due, next 30 days", "Reviews, last 26 weeks",
                 "streak 3 days", "true retention (30 days): 50.0% of 6 reviews", "Leeches (forgotten 8+ times)",
                 "ml-sigmoid-code", "prep suspend --leeches"):
        assert text in result.output, text


def test_streak_longer_than_the_calendar(decks_dir: Path, isolated: Path) -> None:
    Store(paths.database_path()).close()
    with closing(sqlite3.connect(paths.database_path())) as db:
        db.executemany("INSERT INTO reviews (card_id, rating, reviewed_at, state_after, kind_before) "
                       "VALUES ('prob-pmf', 3, ?, '{}', 2)",
                       [(MS(NOW - timedelta(days=n)),) for n in range(400)] + [(MS(NOW - timedelta(days=402)),)])
        db.commit()
    data = stats_json()
    assert data["streak"] == 400
    assert all(day["reviews"] == 1 for day in data["calendar"])


LONG = "Interview Preparation Deck::A Rather Long Sub Deck Name::With A Third Level That Overflows"


def test_piped_tables_show_whole_deck_names_on_one_line(decks_dir: Path, isolated: Path) -> None:
    (decks_dir / "long.yaml").write_text(f"deck: {LONG}\ncards:\n  - {{id: long-1, q: 'Long?', a: 'Yes.'}}\n")
    for command in (["stats"], ["catalog"]):
        result = CliRunner().invoke(cli, command, env={"PREP_NOW": NOW.isoformat(), "COLUMNS": "80"},
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert any(LONG in line for line in result.output.splitlines()), command  # not cut, not wrapped
        assert "…" not in result.output, command
        assert "Suspended" in result.output or command == ["catalog"]  # headers whole too


def test_a_narrow_terminal_wraps_deck_names_instead_of_cutting_them(decks_dir: Path, isolated: Path) -> None:
    import os
    import re
    import sys

    import pexpect

    (decks_dir / "long.yaml").write_text(f"deck: {LONG}\ncards:\n  - {{id: long-1, q: 'Long?', a: 'Yes.'}}\n")
    env = dict(os.environ, PREP_NOW=NOW.isoformat(), TERM="xterm", TZ="UTC")
    env.pop("COLUMNS", None)
    child = pexpect.spawn(sys.executable, ["-m", "prep", "stats"], cwd=str(decks_dir.parent), env=env,
                          encoding="utf-8", dimensions=(60, 70), timeout=30)
    child.expect(pexpect.EOF)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)
    deck_cells = [line.split("│")[1].strip() for line in plain.splitlines() if line.startswith("│")]
    assert LONG.replace(" ", "") in "".join(deck_cells).replace(" ", "")  # every character, over several lines
    assert max(len(line) for line in plain.splitlines()) <= 70
