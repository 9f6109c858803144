"""`prep review` driven through a real pseudo-terminal: reveal, rate, undo, quit; then the database."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from contextlib import closing
from datetime import datetime
from pathlib import Path

import fsrs
import pexpect
import pytest
from click.testing import CliRunner

from prep.cli import cli
from tests.conftest import NOW, write

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def spawn(decks_dir: Path, home: Path, *args: str, now: str = NOW) -> pexpect.spawn:
    env = dict(os.environ, PREP_HOME=str(home), PREP_NOW=now, TERM="xterm", COLUMNS="100", TZ="UTC")
    return pexpect.spawn(sys.executable, ["-m", "prep", "review", *args], cwd=str(decks_dir.parent), env=env,
                         encoding="utf-8", dimensions=(50, 100), timeout=20)


def screen(child: pexpect.spawn, pattern: str) -> str:
    """Wait for `pattern` and return the plain text shown before it."""
    child.expect(pattern)
    return ANSI.sub("", child.before)


@pytest.fixture
def no_fuzz(isolated: Path) -> Path:
    write(isolated / "config.yaml", "enable_fuzzing: false\n")
    return isolated


def test_reveal_rate_undo_quit_and_database_matches_fsrs(decks_dir: Path, no_fuzz: Path) -> None:
    child = spawn(decks_dir, no_fuzz)
    text = screen(child, "show answer")
    assert "Math::Probability · 0 done · 8 left" in text
    assert "State Bayes' rule." in text
    assert "\\frac" not in text
    child.send(" ")
    text = screen(child, "1-4: rate")
    assert "P(A | B)" in text  # the answer's LaTeX as readable text
    assert re.search(r"1 Again 1m\s+2 Hard 6m\s+3 Good 10m\s+4 Easy \d+d", text), text
    child.send("3")
    text = screen(child, "show answer")
    assert "saved: Good, next in 10m" in text
    assert "The variance is [...], the mean square minus the squared mean." in text
    child.send("\r")
    screen(child, "1-4: rate")
    child.send("1")
    text = screen(child, "show answer")
    assert "saved: Again" in text
    child.send("u")
    text = screen(child, "show answer")
    assert "undone: prob-variance/c1" in text
    assert "The variance is [...]" in text
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("4")
    screen(child, "show answer")
    child.send("q")
    child.expect(pexpect.EOF)
    summary = ANSI.sub("", child.before)
    assert "Reviewed 2 cards, 100% answered correctly" in summary
    child.close()
    assert child.exitstatus == 0

    with closing(sqlite3.connect(no_fuzz / "prep.db")) as db:
        rows = db.execute("SELECT card_id, rating, reviewed_at FROM reviews ORDER BY id").fetchall()
        when = datetime.fromisoformat(NOW)
        ms = int(when.timestamp() * 1000)
        assert rows == [("prob-bayes-rule", 3, ms), ("prob-variance/c1", 4, ms)]
        scheduler = fsrs.Scheduler(enable_fuzzing=False)
        for card_id, rating in (("prob-bayes-rule", fsrs.Rating.Good), ("prob-variance/c1", fsrs.Rating.Easy)):
            expected, _ = scheduler.review_card(fsrs.Card(card_id=0, due=when), rating, review_datetime=when)
            state, step, stability, difficulty, due = db.execute(
                "SELECT state, step, stability, difficulty, due FROM cards WHERE id = ?", (card_id,)).fetchone()
            assert (state, step) == (int(expected.state), expected.step)
            assert stability == pytest.approx(expected.stability)
            assert difficulty == pytest.approx(expected.difficulty)
            assert due == int(expected.due.timestamp() * 1000)
        assert db.execute("SELECT COUNT(*) FROM cards").fetchone() == (2,)  # the undone Again left no trace


def test_skip_hides_the_card_for_the_day(decks_dir: Path, no_fuzz: Path) -> None:
    child = spawn(decks_dir, no_fuzz, "--deck", "ML")
    assert "What is overfitting?" in screen(child, "show answer")
    child.send("s")
    assert "skipped until tomorrow: ml-overfitting" in screen(child, "show answer")
    child.send("q")
    child.expect(pexpect.EOF)
    child = spawn(decks_dir, no_fuzz, "--deck", "ML")
    text = screen(child, "show answer")
    assert "What is overfitting?" not in text and "What does this print?" in text
    child.send("q")
    child.expect(pexpect.EOF)


def test_edit_opens_the_file_at_the_card_and_shows_the_edit(decks_dir: Path, no_fuzz: Path, tmp_path: Path) -> None:
    editor = write(tmp_path / "editor.py",
                   "import sys, pathlib\n"
                   "line = int(sys.argv[1][1:]); path = pathlib.Path(sys.argv[2])\n"
                   "text = path.read_text().replace('What is overfitting?', 'What is overfitting, really?')\n"
                   "path.write_text(text)\n"
                   "pathlib.Path(sys.argv[2] + '.line').write_text(str(line))\n")
    child = spawn(decks_dir, no_fuzz, "--deck", "ML::Basics")
    child.setecho(False)
    os.environ  # the editor is passed through the environment below
    child.close()
    env = dict(os.environ, PREP_HOME=str(no_fuzz), PREP_NOW=NOW, TERM="xterm", TZ="UTC",
               EDITOR=f"{sys.executable} {editor}")
    child = pexpect.spawn(sys.executable, ["-m", "prep", "review", "--deck", "ML::Basics"], cwd=str(decks_dir.parent),
                          env=env, encoding="utf-8", dimensions=(50, 100), timeout=20)
    screen(child, "show answer")
    child.send("e")
    text = screen(child, "Reloaded the edited card")
    assert "What is overfitting, really?" in text
    child.send("q")
    child.expect(pexpect.EOF)
    assert (decks_dir / "ml" / "basics.md.line").read_text() == "6"


def test_learning_card_comes_back_when_its_step_is_due(decks_dir: Path, no_fuzz: Path) -> None:
    child = spawn(decks_dir, no_fuzz, "--deck", "ML::Basics", "--new", "1")
    screen(child, "show answer")
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("1")  # Again: due again in 1 minute, within the learn-ahead window
    text = screen(child, "show answer")
    assert "What is overfitting?" in text
    child.send("q")
    child.expect(pexpect.EOF)


def test_nothing_due_says_when_next(decks_dir: Path, no_fuzz: Path) -> None:
    child = spawn(decks_dir, no_fuzz, "--new", "0")
    child.expect(pexpect.EOF)
    assert "Nothing due right now. Next card due in 18 hours" in ANSI.sub("", child.before)
    child.close()
    assert child.exitstatus == 0


def test_review_without_a_terminal_is_a_clear_error(decks_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["review"], input="3\n")
    assert result.exit_code == 1
    assert result.output.startswith("Error: prep review needs an interactive terminal")


def test_keys_typed_faster_than_the_screen_are_all_used(decks_dir: Path, no_fuzz: Path) -> None:
    child = spawn(decks_dir, no_fuzz, "--deck", "ML::Basics")
    child.send(" 3 3q")  # typed before the first card is even drawn: reveal, Good, reveal, Good, quit
    child.expect(pexpect.EOF)
    assert "Reviewed 2 cards, 100% answered correctly" in ANSI.sub("", child.before)
    with closing(sqlite3.connect(no_fuzz / "prep.db")) as db:
        rows = db.execute("SELECT card_id, rating FROM reviews ORDER BY id").fetchall()
    assert rows == [("ml-overfitting", 3), ("ml-sigmoid-code", 3)]


def test_ctrl_c_ends_the_session_with_a_summary(decks_dir: Path, no_fuzz: Path) -> None:
    child = spawn(decks_dir, no_fuzz, "--deck", "ML::Basics")
    screen(child, "show answer")
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("3")
    screen(child, "show answer")
    child.sendintr()
    child.expect(pexpect.EOF)
    assert "Reviewed 1 card, 100% answered correctly" in ANSI.sub("", child.before)
    child.close()
    assert child.exitstatus == 0


def test_a_card_edited_between_sessions_shows_its_new_text(decks_dir: Path, no_fuzz: Path) -> None:
    child = spawn(decks_dir, no_fuzz, "--deck", "ML::Basics")
    assert "What is overfitting?" in screen(child, "show answer")
    child.send("q")
    child.expect(pexpect.EOF)
    assert list((no_fuzz / "cache").glob("screens.db"))  # the first card's screen was kept
    basics = decks_dir / "ml" / "basics.md"
    basics.write_text(basics.read_text().replace("What is overfitting?", "What is overfitting, briefly?"))
    child = spawn(decks_dir, no_fuzz, "--deck", "ML::Basics")
    assert "What is overfitting, briefly?" in screen(child, "show answer")
    child.send("q")
    child.expect(pexpect.EOF)
