"""`prep review` on a coding card through a real pseudo-terminal, with a scripted $EDITOR writing the code."""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import closing
import sys
from datetime import datetime
from pathlib import Path

import fsrs
import pexpect
import pytest

from prep import coding_drill, sandbox
from tests.conftest import NOW, write
from tests.test_codecheck import YAML_CARD

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a + b if a > 0 else 99\n"
LOOP = "def add(a, b):\n    while True:\n        pass\n"
LOUD = "def add(a, b):\n    print('\\x1b]0;pwned\\x07\\x1b[2J' + 'hi')\n    return a + b\n"


@pytest.fixture
def home(isolated: Path) -> Path:
    write(isolated / "config.yaml", "enable_fuzzing: false\ncode_time_limit: 2\n")
    return isolated


def spawn(tmp_path: Path, home: Path, solution: str) -> pexpect.spawn:
    """`prep review` of one coding card; $EDITOR writes `solution` into the file it is given (and logs it)."""
    decks_dir = write(tmp_path / "decks" / "code.yaml", YAML_CARD).parent
    answer = write(tmp_path / "answer.py", solution)
    editor = write(tmp_path / "editor.py",
                   "import shutil, sys\n"
                   "with open(sys.argv[1] + '.log', 'a') as log:\n"
                   "    log.write(open(sys.argv[2]).read() + '---\\n')\n"
                   "shutil.copyfile(sys.argv[1], sys.argv[2])\n")
    env = dict(os.environ, PREP_HOME=str(home), PREP_NOW=NOW, TERM="xterm", COLUMNS="100", TZ="UTC",
               EDITOR=f"{sys.executable} {editor} {answer}")
    return pexpect.spawn(sys.executable, ["-m", "prep", "review", "--decks", str(decks_dir)], env=env,
                         encoding="utf-8", dimensions=(50, 100), timeout=30)


def screen(child: pexpect.spawn, pattern: str) -> str:
    child.expect(pattern)
    return ANSI.sub("", child.before)


def finish(child: pexpect.spawn) -> str:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    return ANSI.sub("", child.before)


def stored(home: Path) -> tuple[list[tuple], tuple]:
    with closing(sqlite3.connect(home / "prep.db")) as db:
        rows = db.execute("SELECT card_id, rating FROM reviews ORDER BY id").fetchall()
        card = db.execute("SELECT state, step, stability, difficulty, due FROM cards WHERE id = 'code-add'").fetchone()
    return rows, card


def assert_state_is_fsrs(card: tuple, rating: fsrs.Rating) -> None:
    when = datetime.fromisoformat(NOW)
    expected, _ = fsrs.Scheduler(enable_fuzzing=False).review_card(fsrs.Card(card_id=0, due=when), rating,
                                                                   review_datetime=when)
    state, step, stability, difficulty, due = card
    assert (state, step) == (int(expected.state), expected.step)
    assert stability == pytest.approx(expected.stability)
    assert difficulty == pytest.approx(expected.difficulty)
    assert due == int(expected.due.timestamp() * 1000)


def test_a_wrong_solution_proposes_again_and_names_the_failing_test(tmp_path: Path, home: Path) -> None:
    child = spawn(tmp_path, home, WRONG)
    text = screen(child, "q: quit")
    assert "Write add(a, b)." in text and "target 3 min" in text
    child.send("r")
    child.expect("Try it first")
    child.send("h")
    child.send("h")
    assert "hint 1: Use +." in screen(child, "hint 2: Really: ")
    child.send("\r")
    text = screen(child, "enter: accept")
    assert "✓ assert add(1, 2) == 3" in text
    assert "✗ assert add(-1, 1) == 0" in text
    assert "first failure: assert add(-1, 1) == 0: assertion failed (left: 99, right: 0)" in text
    assert "1/2 tests passed" in text and "proposed: 1 Again" in text
    assert "reference solution" not in text
    child.send("r")
    text = screen(child, "enter: accept")
    assert "reference solution" in text and "return a + b" in text
    child.send("\r")
    child.expect(r"saved: \w+, next in \w+")
    assert child.after == "saved: Again, next in 1m"  # a learning card: shown again soon
    child.send("q")
    finish(child)
    rows, card = stored(home)
    assert rows == [("code-add", 1)]
    assert_state_is_fsrs(card, fsrs.Rating.Again)
    # the scratch file keeps the attempt; the editor was first given the stub
    scratch = home / "scratch" / "code-add.py"
    assert scratch.read_text() == WRONG
    assert (tmp_path / "answer.py.log").read_text() == "def add(a, b):\n    raise NotImplementedError\n---\n"


def test_a_right_solution_proposes_a_passing_rating_and_another_key_overrides_it(tmp_path: Path, home: Path) -> None:
    child = spawn(tmp_path, home, RIGHT)
    screen(child, "q: quit")
    child.send("e")
    text = screen(child, "enter: accept")
    assert "2/2 tests passed" in text and "first failure" not in text
    assert "proposed: 4 Easy" in text  # well within half of the 3-minute target
    child.send("3")
    child.expect(r"saved: \w+, next in \w+")
    assert child.after == "saved: Good, next in 10m"
    child.send("q")
    finish(child)
    rows, card = stored(home)
    assert rows == [("code-add", 3)]
    assert_state_is_fsrs(card, fsrs.Rating.Good)


def test_the_scratch_file_persists_into_the_next_session(tmp_path: Path, home: Path) -> None:
    write(home / "scratch" / "code-add.py", "# my earlier try\n")
    child = spawn(tmp_path, home, RIGHT)
    screen(child, "q: quit")
    child.send("e")
    screen(child, "enter: accept")
    child.send("q")
    finish(child)
    assert (tmp_path / "answer.py.log").read_text() == "# my earlier try\n---\n"
    assert stored(home)[0] == []  # quitting rates nothing


def test_an_infinite_loop_is_stopped_at_the_limit(tmp_path: Path, home: Path) -> None:
    child = spawn(tmp_path, home, LOOP)
    screen(child, "q: quit")
    child.send("\r")
    text = screen(child, "enter: accept")
    assert "stopped at the time limit" in text and "timed out" in text
    assert "proposed: 1 Again" in text
    child.send("q")
    finish(child)


def test_escape_sequences_printed_by_the_code_are_shown_escaped(tmp_path: Path, home: Path) -> None:
    child = spawn(tmp_path, home, LOUD)
    screen(child, "q: quit")
    child.send("\r")
    child.expect("enter: accept")
    raw = child.before
    assert "\x1b]0;pwned" not in raw and "\x07" not in raw
    assert "\\x1b]0;pwned\\x07\\x1b[2Jhi" in ANSI.sub("", raw)
    child.send("q")
    finish(child)


@pytest.mark.parametrize("passed, minutes, target, rating", [
    (False, 0.1, 10, 1), (True, 4.9, 10, 4), (True, 5.1, 10, 3), (True, 10.0, 10, 3), (True, 10.5, 10, 2),
    (True, 30, None, 3)])
def test_the_proposed_rating(passed: bool, minutes: float, target: float | None, rating: int) -> None:
    result = sandbox.Result(passed=2, failed=0 if passed else 1)
    assert coding_drill.propose(result, minutes, target) == rating


def test_escaped_shows_every_control_character() -> None:
    assert coding_drill.escaped("a\x1b[31mb\x07\x9bc\n\td") == "a\\x1b[31mb\\x07\\x9bc\n\td"


def test_a_scratch_folder_that_cannot_be_made_is_a_message_and_the_drill_goes_on(tmp_path: Path,
                                                                                home: Path) -> None:
    write(home / "scratch", "a file where the scratch folder goes")
    child = spawn(tmp_path, home, RIGHT)
    screen(child, "q: quit")
    child.send("e")
    screen(child, "Could not write the scratch file .*scratch")
    child.send("s")  # still drilling: the card is skipped
    assert "skipped until tomorrow" in finish(child)
