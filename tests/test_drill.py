"""`prep review` driven through a real pseudo-terminal: reveal, rate, undo, quit; then the database."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path

import fsrs
import pexpect
import pytest
from click.testing import CliRunner

from prep.cli import cli
from prep.scheduler import format_interval
from prep.store import from_ms
from tests.conftest import NOW, daytime_zone, query, write, zone_seconds_before

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def zone_for(now: str | None) -> str:
    """UTC on a pinned clock; on the real clock a zone where no day rolls over during the test."""
    return "UTC" if now is not None else daytime_zone()


def spawn(decks_dir: Path, home: Path, *args: str, now: str | None = NOW, zone: str | None = None) -> pexpect.spawn:
    """`prep review` in a pseudo-terminal; `now=None` runs it on the real clock."""
    env = dict(os.environ, PREP_HOME=str(home), TERM="xterm", COLUMNS="100", TZ=zone or zone_for(now))
    env.pop("PREP_NOW", None)
    if now is not None:
        env["PREP_NOW"] = now
    return pexpect.spawn(sys.executable, ["-m", "prep", "review", *args], cwd=str(decks_dir.parent), env=env,
                         encoding="utf-8", dimensions=(50, 100), timeout=20)


def screen(child: pexpect.spawn, pattern: str) -> str:
    """Wait for `pattern` and return the plain text shown before it."""
    child.expect(pattern)
    return ANSI.sub("", child.before)


def last_screen(child: pexpect.spawn, pattern: str) -> str:
    """Wait for `pattern` and return the plain text of the screen it is on (since the last clear)."""
    child.expect(pattern)
    raw = child.before
    return ANSI.sub("", raw[raw.rfind("\x1b[2J"):])


def plain_decks(tmp_path: Path, count: int) -> Path:
    """A decks folder of `count` basic cards q0..q{count-1} (no siblings), in one deck."""
    lines = ["cards:"] + [f"  - {{id: q{i}, q: 'Question {i}?', a: 'Answer {i}.'}}" for i in range(count)]
    write(tmp_path / "work" / "decks" / "plain.yaml", "\n".join(lines) + "\n")
    return tmp_path / "work" / "decks"


def prep(home: Path, cwd: Path, *args: str, now: str | None = NOW) -> subprocess.CompletedProcess:
    env = dict(os.environ, PREP_HOME=str(home), TZ=zone_for(now))
    env.pop("PREP_NOW", None)
    if now is not None:
        env["PREP_NOW"] = now
    return subprocess.run([sys.executable, "-m", "prep", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


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
    env = dict(os.environ, PREP_HOME=str(no_fuzz), PREP_NOW=NOW, TERM="xterm", COLUMNS="100", TZ="UTC")
    # A parent that ignores SIGINT (a background job of a non-interactive shell, as CI may be) passes
    # that on through exec; a terminal's Ctrl-C reaches a prep started from a shell with it in place.
    child = pexpect.spawn(sys.executable, ["-m", "prep", "review", "--deck", "ML::Basics"], cwd=str(decks_dir.parent),
                          env=env, encoding="utf-8", dimensions=(50, 100), timeout=20,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    screen(child, "show answer")
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("3")
    screen(child, "show answer")
    ignored = Path(f"/proc/{child.pid}/status").read_text().split("SigIgn:")[1].split()[0]
    assert not int(ignored, 16) & (1 << (signal.SIGINT - 1)), f"the drill ignores SIGINT (SigIgn {ignored})"
    time.sleep(0.5)  # the second card is drawn: the drill waits for a key when Ctrl-C comes
    # Ctrl-C as the terminal delivers it: SIGINT to the drill (the pty's own ^C was not delivered in
    # some CI runs of the full suite, though the drill handles it; `\x03` as a key is also a quit key)
    os.kill(child.pid, signal.SIGINT)
    child.expect(pexpect.EOF, timeout=90)
    assert "Reviewed 1 card, 100% answered correctly" in ANSI.sub("", child.before)
    child.close()
    assert child.exitstatus == 0


def test_a_card_edited_between_sessions_shows_its_new_text(decks_dir: Path, no_fuzz: Path) -> None:
    child = spawn(decks_dir, no_fuzz, "--deck", "ML::Basics")
    assert "What is overfitting?" in screen(child, "show answer")
    child.send("q")
    child.expect(pexpect.EOF)
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(Path(os.environ["PREP_CACHE"]) / "cache.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM screens").fetchone()[0] > 0  # the first card's screen was kept
    assert not (no_fuzz / "cache").exists()  # nothing of the cache beside the review history
    basics = decks_dir / "ml" / "basics.md"
    basics.write_text(basics.read_text().replace("What is overfitting?", "What is overfitting, briefly?"))
    child = spawn(decks_dir, no_fuzz, "--deck", "ML::Basics")
    assert "What is overfitting, briefly?" in screen(child, "show answer")
    child.send("q")
    child.expect(pexpect.EOF)


BUTTONS = re.compile(r"1 Again (\S+)\s+2 Hard (\S+)\s+3 Good (\S+)\s+4 Easy (\S+)")
CLOCKS = pytest.mark.parametrize("now", [None, NOW], ids=["real-clock", "pinned-clock"])


@CLOCKS
def test_the_interval_on_the_button_is_the_interval_stored(tmp_path: Path, isolated: Path, now: str | None) -> None:
    decks = plain_decks(tmp_path, 12)
    child = spawn(decks, isolated, "--new", "50", now=now)  # fuzzing on (the default)
    shown = []
    for n in range(16):  # the 12 new cards, then the learning ones coming back
        screen(child, "show answer")
        child.send(" ")
        first = BUTTONS.search(screen(child, "1-4: rate")).groups()
        time.sleep(0.3)
        child.send(" ")  # draws the same card again, later
        assert BUTTONS.search(screen(child, "1-4: rate")).groups() == first
        rating = (4, 4, 3, 2)[n % 4]  # mostly Easy: fuzzed intervals of days
        time.sleep(0.2)
        child.send(str(rating))
        shown.append(first[rating - 1])
    child.send("q")
    child.expect(pexpect.EOF)
    rows = query(isolated / "prep.db", "SELECT card_id, reviewed_at, state_after FROM reviews ORDER BY id")
    assert len(rows) == 16
    stored = [format_interval(from_ms(int(datetime.fromisoformat(json.loads(after)["due"]).timestamp() * 1000))
                              - from_ms(at)) for _, at, after in rows]
    assert stored == shown
    assert any(value.endswith("d") for value in shown)  # fuzzed review intervals were among them
    due = dict(query(isolated / "prep.db", "SELECT id, due FROM cards"))
    last = {card_id: (at, after) for card_id, at, after in rows}
    for card_id, (at, after) in last.items():  # the cards table holds the logged state's due
        assert due[card_id] == int(datetime.fromisoformat(json.loads(after)["due"]).timestamp() * 1000)
    if now is None:
        times = [at for _, at, _ in rows]
        assert times == sorted(times) and times[-1] - times[0] > 5000  # the clock moved on between ratings


def test_a_drill_going_on_past_the_day_boundary_shows_the_new_days_cards(tmp_path: Path, isolated: Path) -> None:
    """On the real clock, a session started seconds before 04:00 with two new cards a day: the card
    rated after the boundary is followed by the new day's cards (a second new one, then the learning
    step begun before the boundary), not by the end of the drill."""
    decks = plain_decks(tmp_path, 4)
    child = spawn(decks, isolated, "--new", "2", now=None, zone=zone_seconds_before(6))
    started = time.monotonic()
    assert "Question 0?" in screen(child, "show answer")
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("3")  # before the boundary: Good, a 10-minute step into the next day
    assert "Question 1?" in screen(child, "show answer")
    assert time.monotonic() - started < 5.5, "too slow to rate before the day boundary"
    time.sleep(max(0.0, 6.5 - (time.monotonic() - started)))  # the day rolls over while the card is shown
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("4")
    assert "Question 2?" in screen(child, "show answer")
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("4")
    assert "Question 0?" in screen(child, "show answer")  # the step, within the 20 minutes shown ahead
    child.send("q")
    child.expect(pexpect.EOF)
    assert query(isolated / "prep.db", "SELECT card_id FROM reviews ORDER BY id") == [("q0",), ("q1",), ("q2",)]


def test_the_last_action_stays_on_the_next_cards_screen(decks_dir: Path, no_fuzz: Path) -> None:
    write(decks_dir / "broken.yaml", "cards:\n  - {id: broken, q: 'No answer?'}\n")
    child = spawn(decks_dir, no_fuzz, "--deck", "ML::Basics")
    text = last_screen(child, "show answer")
    assert "What is overfitting?" in text
    assert "1 problem in the decks; those cards are left out" in text
    child.send(" ")
    assert "left out" not in last_screen(child, "1-4: rate")  # until the next key press
    child.send("3")
    text = last_screen(child, "show answer")
    assert "What does this print?" in text and "saved: Good, next in 10m" in text
    child.send(" ")
    assert "saved:" not in last_screen(child, "1-4: rate")
    child.send("s")
    text = last_screen(child, "show answer")
    assert "Which curve is this?" in text and "skipped until tomorrow: ml-sigmoid-code" in text
    child.send("u")  # the skip first: its card comes back
    text = last_screen(child, "show answer")
    assert "What does this print?" in text and "undone: ml-sigmoid-code (skip)" in text
    child.send("u")
    text = last_screen(child, "show answer")
    assert "What is overfitting?" in text and "undone: ml-overfitting (Good rating)" in text
    child.send("q")
    child.expect(pexpect.EOF)


@CLOCKS
def test_doctor_is_content_after_a_card_is_rated_again_and_again(decks_dir: Path, isolated: Path,
                                                                 now: str | None) -> None:
    child = spawn(decks_dir, isolated, "--deck", "ML::Basics", "--new", "1", now=now)
    for rating in "11233":  # Again twice, Hard, Good: the learning card comes back; Good graduates it
        assert "What is overfitting?" in last_screen(child, "show answer")
        child.send(" ")
        screen(child, "1-4: rate")
        time.sleep(0.1)
        child.send(rating)
    child.expect(pexpect.EOF)
    assert "Reviewed 5 cards" in ANSI.sub("", child.before)
    result = prep(isolated, decks_dir.parent, "doctor", "--no-repair", now=now)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "log chain broken" not in result.stdout and "replay" not in result.stdout
    assert "All good." in result.stdout


def rate_shown(child: pexpect.spawn, rating: str) -> str:
    """Reveal the card on screen, rate it, and return the next screen (or what ended the session)."""
    child.send(" ")
    screen(child, "1-4: rate")
    child.send(rating)
    return last_screen(child, "show answer")


def rate_last(child: pexpect.spawn, rating: str) -> str:
    """Reveal and rate the session's last card; return the summary it ends with."""
    child.send(" ")
    screen(child, "1-4: rate")
    child.send(rating)
    child.expect(pexpect.EOF)
    return ANSI.sub("", child.before)


def test_header_counts_agree_with_stats_and_a_limit_leaves_cards_due(tmp_path: Path, isolated: Path) -> None:
    from prep.store import Store

    decks = plain_decks(tmp_path, 10)
    child = spawn(decks, isolated, "--new", "50", now="2026-02-20T10:00:00+00:00")  # ten days earlier
    last_screen(child, "show answer")
    for rating in "444441":  # q0-q4 Easy (due again by now, fuzz or not), q5 Again: still learning
        rate_shown(child, rating)
    child.send("q")
    child.expect(pexpect.EOF)
    with Store(isolated / "prep.db") as store:
        store.skip("q9", "2026-03-02")  # a new card skipped today: not shown, but still unseen
    write(isolated / "plan.yaml", "interview: '2026-03-20'\ntarget: 0.9\n")
    stats = json.loads(prep(isolated, decks.parent, "stats", "--json").stdout)["total"]
    assert (stats["new"], stats["learning"], stats["review"], stats["due"]) == (4, 1, 5, 6)
    child = spawn(decks, isolated, "--new", "50")
    text = last_screen(child, "show answer")
    # stats' due today = learning + review; its new cards less the one skipped today
    assert f"({stats['new'] - 1} new · {stats['learning']} learning · {stats['due'] - stats['learning']} review)" in text
    assert f"{stats['new']} cards not yet seen" in text
    child.send("q")
    child.expect(pexpect.EOF)

    child = spawn(decks, isolated, "--new", "50", "--limit", "2")
    last_screen(child, "show answer")
    rate_shown(child, "3")
    summary = rate_last(child, "4")
    assert "Reviewed 2 cards" in summary and "still due today" in summary and "Next card due" not in summary


@CLOCKS
def test_two_sessions_at_once_never_loop_on_a_card(tmp_path: Path, isolated: Path, now: str | None) -> None:
    decks = plain_decks(tmp_path, 6)
    a, b = spawn(decks, isolated, now=now), spawn(decks, isolated, now=now)
    assert "Question 0?" in last_screen(a, "show answer") and "Question 0?" in last_screen(b, "show answer")
    assert "Question 1?" in rate_shown(a, "4")
    assert "Question 2?" in rate_shown(a, "4")
    # b still shows q0, drawn before a rated it; its next card is q2: q1 was rated by a, beyond today
    assert "Question 2?" in rate_shown(b, "4")
    assert "Question 3?" in rate_shown(b, "1")  # q2: Again, due in a minute
    assert "Question 3?" in rate_shown(a, "4")  # a rates q2 (shown before b rated it): due in days
    a.send("q")
    a.expect(pexpect.EOF)
    assert "Question 4?" in rate_shown(b, "4")
    assert "Question 5?" in rate_shown(b, "4")
    summary = rate_last(b, "4")  # q2 is not shown again: a rated it beyond today
    assert "Question 2?" not in summary and "Reviewed 5 cards" in summary
    logged = dict(query(isolated / "prep.db", "SELECT card_id, COUNT(*) FROM reviews GROUP BY card_id"))
    assert logged == {"q0": 2, "q1": 1, "q2": 2, "q3": 1, "q4": 1, "q5": 1}  # exactly the ratings given
    result = prep(isolated, decks.parent, "doctor", "--no-repair", now=now)
    assert result.returncode == 0 and "All good." in result.stdout, result.stdout


@pytest.mark.parametrize("editor, message", [("vim 'unclosed", "Could not start the editor 'vim 'unclosed': "
                                              "No closing quotation"),
                                             ("   ", "Could not start the editor: $EDITOR is blank"),
                                             ("/no/such/editor", "Could not start the editor '/no/such/editor'"),
                                             (f"{sys.executable} -c 'raise SystemExit(3)'",
                                              "failed (exit status 3); nothing was read from it"),
                                             (f"{sys.executable} -c 'import os; os.kill(os.getpid(), 9)'",
                                              "was killed (SIGKILL); nothing was read from it")])
def test_a_broken_editor_setting_is_a_message_and_the_drill_goes_on(decks_dir: Path, no_fuzz: Path, editor: str,
                                                                     message: str) -> None:
    env = dict(os.environ, PREP_HOME=str(no_fuzz), PREP_NOW=NOW, TERM="xterm", TZ="UTC", EDITOR=editor)
    env.pop("VISUAL", None)
    child = pexpect.spawn(sys.executable, ["-m", "prep", "review", "--deck", "ML::Basics"], cwd=str(decks_dir.parent),
                          env=env, encoding="utf-8", dimensions=(50, 200), timeout=20)
    screen(child, "show answer")
    child.send("e")
    screen(child, re.escape(message))
    child.send(" ")
    screen(child, "Good")  # still drilling
    child.send("q")
    child.expect(pexpect.EOF)
    assert "Traceback" not in child.before


def test_a_front_only_card_shows_a_dim_no_answer_line_once_revealed(tmp_path: Path, isolated: Path) -> None:
    write(tmp_path / "work" / "decks" / "prompts.yaml",
          "cards:\n  - id: p1\n    q: Recite the bias-variance decomposition aloud\n    a: \"\"\n")
    child = spawn(tmp_path / "work" / "decks", isolated)
    before = screen(child, "show answer")
    assert "Recite the bias-variance" in before and "(no answer)" not in before
    child.send(" ")
    after = screen(child, "1-4: rate")
    assert "Recite the bias-variance" in after and "(no answer)" in after
    assert re.search(r"\x1b\[2m\(no answer\)", child.before)  # dim, not answer text
    child.send("q")
    child.expect(pexpect.EOF)
