"""`prep mock`: drawing across parts toward weakness, the proposed rating, the saved mocks, and the
whole interview driven through a pseudo-terminal (timer, typing, ticking, rating, log rows, history)."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import fsrs
import pexpect
import pytest
from click.testing import CliRunner

from tests.conftest import query
from prep import decks, mock, scheduler
from prep.cli import cli
from prep.config import Config
from prep.errors import PrepError
from prep.store import Store
from tests.conftest import write

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def make_decks(root: Path) -> Path:
    write(root / "ml-system-design" / "feed.md", """<!-- id: design-feed -->
Q: Design a news feed ranker.

A: Candidate generation, then ranking, then re-ranking for diversity.

Points:
- candidate generation
- ranking model with engagement labels
- diversity re-ranking
- online metrics and an A/B test
""")
    write(root / "career" / "stories.yaml", """cards:
  - id: career-conflict
    q: Tell me about a conflict with a colleague.
    a: A STAR story with a clear resolution.
    points: [situation and stakes, what you did, the result]
""")
    cards = "\n".join(f"  - {{id: dl-{n}, q: 'Deep learning question {n}?', a: 'Answer {n}.'}}" for n in range(6))
    write(root / "deep-learning" / "basics.yaml", "cards:\n" + cards + "\n  - id: dl-cloze\n    cloze: 'A {{c1::cloze}}.'\n")
    write(root / "math" / "stats.yaml", "cards:\n  - {id: m-1, q: 'Define a p-value.', a: 'P(data this extreme | H0).'}\n")
    write(root / "cs" / "algos.yaml", "cards:\n  - {id: cs-1, q: 'Big-O of binary search?', a: 'O(log n).'}\n")
    return root


def test_proposed_rating_thresholds_and_question_counts() -> None:
    assert [mock.proposed_rating(made, 10) for made in (0, 3, 4, 6, 7, 9, 10)] == [1, 1, 2, 2, 3, 3, 4]
    assert mock.proposed_rating(2, 3) == 2 and mock.proposed_rating(3, 3) == 4
    assert mock.question_count(["breadth"], 7, None) == 7
    assert mock.question_count(["breadth", "design"], None, None) == mock.DEFAULT_QUESTIONS
    assert mock.question_count(["breadth", "design"], None, 30) == 5  # 3 + 10 + 3 + 10 + 3 minutes
    assert mock.question_count(["design"], None, 5) == 1  # always at least one
    assert mock.part_of("ML System Design::Feed") == "design" and mock.part_of("ML Systems::Serving") == "breadth"
    assert mock.part_of("Math::Statistics") == "math" and mock.part_of("CS::Algos") is None


def test_draw_spreads_over_parts_asks_only_questions_and_favours_weak_cards(tmp_path: Path) -> None:
    loaded = decks.load(make_decks(tmp_path / "decks"))
    sched = scheduler.make(Config(enable_fuzzing=False))
    with Store(tmp_path / "p.db") as store:
        questions = mock.draw(loaded, store, sched, NOW, ["breadth", "design", "behavioural"], 5, seed="x")
        parts = [q.part for q in questions]
        assert parts[:3] == ["breadth", "design", "behavioural"] and Counter(parts)["breadth"] == 2
        assert len(parts) == 3 + 1  # design and behavioural have one card each: the quota they cannot fill is lost
        assert all("/" not in q.card.id for q in questions)  # no cloze cards
        # dl-0 learnt yesterday, dl-1 forgotten once and not seen for 40 days: the weak card comes up more often
        for card_id, ratings, start in (("dl-0", [4], NOW - timedelta(days=1)),
                                        ("dl-1", [3, 3, 1, 3], NOW - timedelta(days=50))):
            state, at = None, start
            for rating in ratings:
                state = scheduler.review(sched, state, card_id, rating, at)
                store.apply(card_id, rating, at, None, lambda before, when, s=state: s)
                at = state.due
        assert store.lapses() == {"dl-1": 1}
        counts = Counter(q.card.id for seed in range(1000)
                         for q in mock.draw(loaded, store, sched, NOW, ["breadth"], 1, seed=str(seed)))
        assert counts["dl-1"] > 2 * counts["dl-0"], counts
        assert counts["dl-1"] > max(counts[f"dl-{n}"] for n in range(2, 6)), counts  # weaker than unseen, too
        store.suspend(["design-feed"], NOW, "manual")
        with pytest.raises(PrepError, match="no questions for design"):
            mock.draw(loaded, store, sched, NOW, ["design"], 1)
        with pytest.raises(PrepError, match="no questions for math in this --deck/--tag"):
            mock.draw(loaded, store, sched, NOW, ["math"], 1, deck="Deep Learning")


def test_saved_mocks_give_history_scores_and_weakest_points(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        first = mock.start(store, NOW, ["design", "behavioural"])
        mock.record(store, first, 1, mock.Answer("design-feed", "design", "ML System Design::Feed", 120, 1, 4,
                                                 ["b", "c", "d"], 1), None)
        mock.record(store, first, 2, mock.Answer("career-why", "behavioural", "Career", 60, 0, 0, [], 3), None)
        second = mock.start(store, NOW + timedelta(days=1), ["design"])
        answer = mock.Answer("design-feed", "design", "ML System Design::Feed", 90, 3, 4, ["c"], 3)
        mock.record(store, second, 1, answer, None)
        mock.start(store, NOW + timedelta(days=2), ["math"])  # abandoned before any answer: not listed
        history = mock.history(store)
        assert [m.id for m in history] == [first, second]
        assert history[0].by_part() == {"design": (0.25, 1), "behavioural": (pytest.approx(2 / 3), 1)}
        result = mock.report(store, history[1])
        assert result.weakest_points == [("design-feed", "c", 2)]
        assert result.drill_next == []  # 75%: nothing under 70%
        assert mock.report(store, history[0]).drill_next == [("ML System Design::Feed", 0.25),
                                                             ("Career", pytest.approx(2 / 3))]


def spawn(root: Path, home: Path, *args: str, editor: str = "") -> pexpect.spawn:
    env = dict(os.environ, PREP_HOME=str(home), PREP_NOW=NOW.isoformat(), TERM="xterm", COLUMNS="100", TZ="UTC",
               EDITOR=editor, VISUAL="")
    return pexpect.spawn(sys.executable, ["-m", "prep", *args], cwd=str(root.parent), env=env, encoding="utf-8",
                         dimensions=(60, 100), timeout=20)


def plain(child: pexpect.spawn, pattern: str) -> str:
    child.expect(pattern)
    return ANSI.sub("", child.before)


def test_a_mock_through_a_terminal_logs_reviews_and_history(tmp_path: Path, isolated: Path, request: pytest.FixtureRequest) -> None:
    root = make_decks(tmp_path / "work" / "decks")
    write(isolated / "config.yaml", "enable_fuzzing: false\n")
    typist = write(tmp_path / "typist.py", "import sys\nopen(sys.argv[-1], 'a').write('Candidates, a ranker, diversity.\\n')\n")
    child = spawn(root, isolated, "mock", "--part", "design", "--part", "behavioural",
                  editor=f"{sys.executable} {typist}")
    text = plain(child, "⏱ 0:01")  # the timer ticks while the question waits
    assert "question 1 of 2 · design" in text and "Design a news feed ranker." in text
    assert "candidate generation" not in text  # no points before the answer
    child.send("e")  # type the answer in $EDITOR
    text = plain(child, "enter: done")
    assert "Candidates, a ranker, diversity." in text  # the typed answer beside the model answer
    assert "Candidate generation, then ranking" in text and "(4) ☐ online metrics and an A/B test" in text
    child.send("1")
    child.send("3")
    child.send("2")
    child.send("2")  # ticked twice: unticked again
    child.send("\r")
    text = plain(child, "rate otherwise")
    assert "(1) ☑ candidate generation" in text and "(2) ☐ ranking model" in text
    assert "You made 2 of 4 points (50%): proposed rating Hard" in text
    child.send("\r")  # accept Hard
    text = plain(child, "end the mock")
    assert "question 2 of 2 · behavioural" in text and "Tell me about a conflict" in text
    child.send(" ")  # answered aloud
    child.send("1")
    child.send("2")
    child.send("3")
    child.send("\r")
    text = plain(child, "rate otherwise")
    assert "You made 3 of 3 points (100%): proposed rating Easy" in text
    child.send("3")  # override: Good
    child.expect(pexpect.EOF)
    report = ANSI.sub("", child.before)
    child.close()
    assert child.exitstatus == 0
    assert "Mock finished: 2 questions" in report
    assert re.search(r"design\s+50%\s+\(1 question\)", report) and re.search(r"behavioural\s+100%", report)
    assert "ranking model with engagement labels (design-feed; missed 1×)" in report
    assert "prep cram --deck 'ML System Design::Feed' --weak 20" in report

    db = sqlite3.connect(isolated / "prep.db")
    request.addfinalizer(db.close)  # closed even when an assert below fails (Python 3.13 warns otherwise)
    reviews = db.execute("SELECT id, card_id, rating, reviewed_at, mode, state_after FROM reviews ORDER BY id").fetchall()
    assert [(r[1], r[2], r[4]) for r in reviews] == [("design-feed", 2, "mock"), ("career-conflict", 3, "mock")]
    truth = fsrs.Scheduler(enable_fuzzing=False)
    expected, _ = truth.review_card(fsrs.Card(card_id=0, due=NOW), fsrs.Rating.Hard, review_datetime=NOW)
    assert reviews[0][3] == int(NOW.timestamp() * 1000)
    assert '"stability": %s' % expected.stability in reviews[0][5]
    answers = db.execute("SELECT position, card_id, part, points_made, points_total, missed, rating, review_id, answer, "
                         "seconds FROM mock_answers ORDER BY position").fetchall()
    assert [a[:8] for a in answers] == [
        (1, "design-feed", "design", 2, 4, '["ranking model with engagement labels", "online metrics and an A/B test"]',
         2, reviews[0][0]),
        (2, "career-conflict", "behavioural", 3, 3, "[]", 3, reviews[1][0])]
    assert answers[0][8] == "Candidates, a ranker, diversity." and answers[1][8] is None
    assert answers[0][9] >= 1.0  # the timer had ticked before the answer was typed

    result = CliRunner().invoke(cli, ["mock", "--history"], catch_exceptions=False)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{NOW.astimezone():%Y-%m-%d %H:%M}  2 questions in ")  # local time and "design 50% (1) · behavioural 100% (1)" in lines[0]
    assert re.match(r"  time per question: \d+s, \d+s \(mean \d+s\)$", lines[1]), lines[1]


def test_mock_skip_quit_and_no_terminal(tmp_path: Path, isolated: Path) -> None:
    root = make_decks(tmp_path / "work" / "decks")
    child = spawn(root, isolated, "mock", "--part", "breadth", "--questions", "3")
    plain(child, "end the mock")
    child.send("s")  # skipped: nothing logged
    text = plain(child, "end the mock")
    assert "question 2 of 3" in text
    child.send("q")
    child.expect(pexpect.EOF)
    assert "No question answered; nothing saved." in child.before
    assert query(isolated / "prep.db", "SELECT COUNT(*) FROM reviews") == [(0,)]
    result = CliRunner().invoke(cli, ["mock"], catch_exceptions=False)
    assert result.exit_code == 1 and "needs an interactive terminal" in result.output
    result = CliRunner().invoke(cli, ["mock", "--history"], catch_exceptions=False)
    assert result.output == "No mock interviews yet: run 'prep mock'.\n"
    result = CliRunner().invoke(cli, ["mock", "--questions", "2", "--minutes", "3"], catch_exceptions=False)
    assert "give --questions or --minutes, not both" in result.output


def test_minutes_end_the_mock_and_seconds_come_from_the_clock(tmp_path: Path) -> None:
    from rich.console import Console

    from prep import mock_drill
    from prep.review import Session

    loaded = decks.load(make_decks(tmp_path / "decks"))
    config = Config(enable_fuzzing=False)
    import io

    clock_now = [0.0]
    presses = iter([None, None, " ", "4", " ", "4", " ", "4"])

    def keys(timeout: float | None) -> str | None:
        clock_now[0] += 60  # every key press, or timer tick, comes a minute later
        return next(presses)

    with Store(tmp_path / "p.db") as store:
        questions = mock.draw(loaded, store, scheduler.make(config), NOW, ["breadth"], 3, seed="m")
        assert all(not q.card.note.points for q in questions)  # rated directly, no ticking
        ids = [q.card.id for q in questions]
        session = Session(store, ids, loaded.card, config, lambda: NOW, queue=ids, mode="mock")
        run = mock_drill.Run(session, questions, mock.start(store, NOW, ["breadth"]), Console(file=io.StringIO()),
                             keys, minutes=5, monotonic=lambda: clock_now[0])
        answers = mock_drill.run(run)
        assert len(answers) == 2  # the third question would start past the 5 minutes
        assert [a.seconds for a in answers] == [180.0, 60.0]  # two timer ticks, then the answer
        assert [a.rating for a in answers] == [4, 4]
        assert store.db.execute("SELECT seconds, rating FROM mock_answers ORDER BY position").fetchall() == [
            (180.0, 4), (60.0, 4)]
        assert store.db.execute("SELECT duration_ms, mode FROM reviews ORDER BY id").fetchall() == [
            (180000, "mock"), (60000, "mock")]


def test_default_parts_are_those_the_decks_have_and_coding_joins_with_coding_cards(tmp_path: Path) -> None:
    from tests.test_codecheck import YAML_CARD

    root = make_decks(tmp_path / "decks")
    with Store(tmp_path / "p.db") as store:
        assert mock.available_parts(decks.load(root), store) == ["breadth", "math", "design", "behavioural"]
        write(root / "coding" / "basics.yaml", YAML_CARD)
        loaded = decks.load(root)
        assert mock.available_parts(loaded, store) == list(mock.PARTS)
        question, = mock.draw(loaded, store, scheduler.make(Config()), NOW, ["coding"], 1)
        assert question.card.id == "code-add" and question.minutes == 3.0  # the card's own time target


def test_a_coding_question_in_a_mock_runs_the_code_and_scores_the_tests(tmp_path: Path, isolated: Path,
                                                                         request: pytest.FixtureRequest) -> None:
    from tests.test_codecheck import YAML_CARD

    root = write(tmp_path / "work" / "decks" / "coding" / "basics.yaml", YAML_CARD).parent.parent
    write(isolated / "config.yaml", "enable_fuzzing: false\ncode_time_limit: 5\n")
    answers = write(tmp_path / "answers.txt", "")
    # The editor writes a wrong solution the first time, the right one the second.
    coder = write(tmp_path / "coder.py",
                  "import sys\n"
                  f"log = open({str(answers)!r}, 'a+'); log.seek(0); tries = log.read().count('x'); log.write('x')\n"
                  "body = 'return a - b' if tries == 0 else 'return a + b'\n"
                  "open(sys.argv[-1], 'w').write('def add(a, b):\\n    ' + body + '\\n')\n")
    child = spawn(root, isolated, "mock", "--part", "coding", "--questions", "1", editor=f"{sys.executable} {coder}")
    text = plain(child, "end the mock")
    assert "question 1 of 1 · coding" in text and "add(a, b)" in text and "of about 3 min" in text
    child.send("3")
    child.expect("Write and run your code first")  # 1-4 before any run: nothing rated
    child.send("e")
    text = plain(child, "reveal the solution")
    assert "0/2 tests passed" in text and "proposed rating: Again" in text
    child.send("e")  # edit and run again
    text = plain(child, "reveal the solution")
    assert "2/2 tests passed" in text and "proposed rating: Easy" in text  # well within half the 3 minutes
    child.send("\r")
    child.expect(pexpect.EOF)
    report = ANSI.sub("", child.before)
    child.close()
    assert child.exitstatus == 0 and "Mock finished: 1 question" in report and re.search(r"coding\s+100%", report)
    db = sqlite3.connect(isolated / "prep.db")
    request.addfinalizer(db.close)
    assert db.execute("SELECT card_id, rating, mode FROM reviews").fetchall() == [("code-add", 4, "mock")]
    row = db.execute("SELECT part, points_made, points_total, missed, rating, answer FROM mock_answers").fetchone()
    assert row == ("coding", 2, 2, "[]", 4, "def add(a, b):\n    return a + b\n")  # the code written is kept
