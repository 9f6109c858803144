"""The interactive mock interview: a timed question, an answer typed or said aloud, the points ticked, a rating."""

from __future__ import annotations

import os
import select
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

from rich.console import Console
from rich.text import Text

from prep import mock, render, sanitize
from prep.drill import KeyReader
from prep.model import Card
from prep.review import Session
from prep.scheduler import RATINGS

QUIT_KEYS = ("q", "Q", "\x03", "\x04")
ENTER_KEYS = ("\r", "\n")


class TimedKeys:
    """Key presses that give up after a timeout (None), so the question's timer keeps ticking on screen."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.reader = KeyReader(fd)

    def __call__(self, timeout: float | None = None) -> str | None:
        if not self.reader.pending and timeout is not None:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return None
        return self.reader()


@dataclass
class Run:
    """A mock in progress: what it asks, where it is saved, and how the terminal is driven."""

    session: Session
    questions: list[mock.Question]
    mock_id: int
    console: Console
    keys: Callable[[float | None], str | None]
    minutes: int | None = None  # the mock ends after the question that runs past this
    monotonic: Callable[[], float] = time.monotonic


def run(mock_run: Run) -> list[mock.Answer]:
    """Ask each question in turn; every answer is rated, logged as a review and saved before the next."""
    answers: list[mock.Answer] = []
    started = mock_run.monotonic()
    try:
        for position, question in enumerate(mock_run.questions, start=1):
            if mock_run.minutes is not None and position > 1 and mock_run.monotonic() - started >= 60 * mock_run.minutes:
                break
            answer = _ask(mock_run, position, question, started)
            if answer is None:
                break
            if answer.rating == 0:  # skipped: nothing logged
                continue
            mock_run.session.rate(question.card, answer.rating, int(answer.seconds * 1000))
            mock.record(mock_run.session.store, mock_run.mock_id, position, answer,
                        mock_run.session.history[-1].review_id)
            answers.append(answer)
    except KeyboardInterrupt:  # Ctrl-C: every answer so far is saved
        pass
    return answers


def _ask(mock_run: Run, position: int, question: mock.Question, started: float) -> mock.Answer | None:
    """One question; None when the user ends the mock, rating 0 when they skip it."""
    if question.card.note.code is not None:
        return _ask_code(mock_run, position, question, started)
    console, keys = mock_run.console, mock_run.keys
    asked = mock_run.monotonic()
    typed: str | None = None
    message = ""
    while True:
        _question_screen(mock_run, position, question, mock_run.monotonic() - asked,
                         mock_run.monotonic() - started, message)
        key = keys(1.0)
        if key is None:
            continue  # a second passed: draw the timer again
        if key in QUIT_KEYS:
            return None
        if key == "s":
            return mock.Answer(question.card.id, question.part, question.card.note.deck, 0, 0, 0, [], 0)
        if key == "e":
            typed, message = type_answer(question.card,
                                         "answer aloud and press space, or e to type again.")
            if typed is not None:
                break
        elif key in (" ", *ENTER_KEYS):
            break
    seconds = mock_run.monotonic() - asked
    points = question.card.note.points
    ticked: set[int] = set()
    while points:
        _answer_screen(mock_run, position, question, seconds, typed, ticked,
                       "1-9/a-c: tick the points you made · enter: done · q: end the mock")
        key = keys(None)
        if key in QUIT_KEYS:
            return None
        if key in ENTER_KEYS:
            break
        if key is not None and key in render.POINT_KEYS[:len(points)]:
            ticked ^= {render.POINT_KEYS.index(key)}
    proposed = mock.proposed_rating(len(ticked), len(points)) if points else None
    if proposed is not None:
        share = len(ticked) / len(points)
        prompt = (f"You made {len(ticked)} of {len(points)} points ({100 * share:.0f}%): proposed rating "
                  f"[bold]{RATINGS[proposed]}[/]. enter: accept · 1-4: rate otherwise")
    else:
        prompt = "This card has no points to tick: rate your answer 1-4 (Again, Hard, Good, Easy)"
    while True:
        _answer_screen(mock_run, position, question, seconds, typed, ticked if points else None, prompt)
        key = keys(None)
        if key in QUIT_KEYS:
            return None
        if key in ENTER_KEYS and proposed is not None:
            rating = proposed
            break
        if key in ("1", "2", "3", "4"):
            rating = int(key)
            break
    missed = [point for index, point in enumerate(points) if index not in ticked]
    return mock.Answer(question.card.id, question.part, question.card.note.deck, seconds, len(ticked), len(points),
                       missed, rating, typed)


def _ask_code(mock_run: Run, position: int, question: mock.Question, started: float) -> mock.Answer | None:
    """A coding question: the stub in $EDITOR, the tests run in the sandbox, the tests passed as its points
    and the rating proposed from them and the time (as in the drill); None when the user ends the mock."""
    from prep import coding_drill

    card, keys = question.card, mock_run.keys
    asked = mock_run.monotonic()
    attempt: coding_drill.Attempt | None = None
    revealed = False
    message = ""
    while True:
        if attempt is None:
            _question_screen(mock_run, position, question, mock_run.monotonic() - asked,
                             mock_run.monotonic() - started, message,
                             "e/enter: write your code in $EDITOR and run the tests · s: skip · q: end the mock")
        else:
            _code_result_screen(mock_run, position, question, attempt, revealed, message)
        key = keys(1.0 if attempt is None else None)
        if key is None:
            continue  # a second passed: draw the timer again
        message = ""
        if key in QUIT_KEYS:
            return None
        if key == "s" and attempt is None:
            return mock.Answer(card.id, question.part, card.note.deck, 0, 0, 0, [], 0)
        if key == "e" or (key in ENTER_KEYS and attempt is None):
            result, message = coding_drill.edit_and_run(mock_run.session, mock_run.console, card)
            if result is not None:
                minutes = (mock_run.monotonic() - asked) / 60
                attempt = coding_drill.Attempt(result, minutes, coding_drill.propose(result, minutes, question.minutes))
        elif key == "r" and attempt is not None:
            revealed = True
        elif key in ("1", "2", "3", "4") and attempt is None:
            message = "Write and run your code first (e or enter)."
        elif key in ENTER_KEYS or key in ("1", "2", "3", "4"):
            assert attempt is not None
            rating = attempt.rating if key in ENTER_KEYS else int(key)
            break
    result = attempt.result
    failed = [test.name for test in result.tests if not test.passed]
    if not result.tests and result.first_failure:
        failed = [result.first_failure]  # nothing ran: why is what was missed
    try:
        code = coding_drill.scratch_path(card).read_text(encoding="utf-8", errors="replace")
    except OSError:
        code = None
    return mock.Answer(card.id, question.part, card.note.deck, attempt.minutes * 60, result.passed,
                       result.passed + result.failed, failed, rating, code)


def _code_result_screen(mock_run: Run, position: int, question: mock.Question, attempt, revealed: bool,
                        message: str) -> None:
    from prep import coding_drill

    console = mock_run.console
    console.clear()
    console.print(_header(mock_run, position, question))
    console.rule(style="dim")
    render.show_markdown(console, question.card.note.q)
    console.rule(style="dim")
    coding_drill.show_result(console, attempt)
    if revealed:
        console.rule("reference solution", style="dim")
        render.show_markdown(console, question.card.note.a)
    console.rule(style="dim")
    console.print(f"proposed rating: [bold]{RATINGS[attempt.rating]}[/]. enter: accept · 1-4: rate otherwise")
    console.print("[dim]e: edit and run again · r: reveal the solution · q: end the mock[/]")
    if message:
        console.print(Text(coding_drill.escaped(message), style="yellow"))


def _header(mock_run: Run, position: int, question: mock.Question) -> str:
    deck = sanitize.markup(question.card.note.deck)
    return (f"[bold cyan]prep mock[/] · question {position} of {len(mock_run.questions)} · "
            f"[bold]{question.part}[/] · {deck}")


def _question_screen(mock_run: Run, position: int, question: mock.Question, seconds: float, total: float,
                     message: str, keys_line: str = "answer aloud, then space: show the model answer · "
                                                    "e: type it in $EDITOR · s: skip · q: end the mock") -> None:
    console = mock_run.console
    console.clear()
    console.print(_header(mock_run, position, question))
    left = f" · mock time left {mock.minutes_text(60 * mock_run.minutes - total)}" if mock_run.minutes else ""
    console.print(f"[bold magenta]⏱ {mock.minutes_text(seconds)}[/] [dim]of about {question.minutes:.0f} min{left}[/]")
    console.rule(style="dim")
    render.show_markdown(console, render.card_sides(question.card, with_points=False)[0])
    console.rule(style="dim")
    console.print(f"[dim]{keys_line}[/]")
    if message:
        console.print(Text(message, style="yellow"))


def _answer_screen(mock_run: Run, position: int, question: mock.Question, seconds: float, typed: str | None,
                   ticked: set[int] | None, prompt: str) -> None:
    console = mock_run.console
    console.clear()
    console.print(_header(mock_run, position, question))
    console.print(f"[dim]answered in {render.duration(seconds)}[/]")
    console.rule(style="dim")
    front, back = render.card_sides(question.card, with_points=False)
    render.show_markdown(console, front)
    if typed:
        console.rule("your answer", style="dim")
        console.print(sanitize.text(typed), markup=False)
    console.rule("model answer", style="dim")
    render.show_markdown(console, back)
    if ticked is not None:
        console.rule(style="dim")
        render.show_markdown(console, render.points_checklist(question.card.note.points, ticked))
    console.rule(style="dim")
    console.print(prompt)


def type_answer(card: Card, retry: str) -> tuple[str | None, str]:
    """The answer to `card` typed in $EDITOR; None and a message ending with `retry`, what to do next,
    when nothing was written or the editor failed."""
    from prep import terminal

    prompt = " ".join(render.card_sides(card, with_points=False)[0].split())
    with tempfile.TemporaryDirectory(prefix="prep-answer-") as folder:
        path = os.path.join(folder, "answer.md")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"\n\n# {prompt[:300]}\n# Write your answer above; lines starting with # are left out.\n")
        problem = terminal.run_editor([path])
        if problem:
            return None, problem
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = "".join(line for line in handle if not line.startswith("#")).strip()
    return (text, "") if text else (None, f"Nothing typed; {retry}")


def summary_lines(answers: list[mock.Answer], result: mock.Report, mock_record: mock.Mock) -> list[str]:
    """The end report: score per part, time per question, the weakest points, what to drill next."""
    if not answers:
        return ["No question answered; nothing saved."]
    lines = [f"Mock finished: {len(answers)} question{'s' if len(answers) != 1 else ''} in "
             f"{render.duration(sum(a.seconds for a in answers))}."]
    for part, (score, count) in mock_record.by_part().items():
        lines.append(f"  {part:<12} {100 * score:4.0f}%  ({count} question{'s' if count != 1 else ''})")
    for number, answer in enumerate(answers, start=1):
        points = f"{answer.made}/{answer.total} points" if answer.total else "no points"
        lines.append(f"  {number}. {answer.card_id}: {render.duration(answer.seconds)}, {points}, {RATINGS[answer.rating]}")
    if result.weakest_points:
        lines.append("Weakest points (missed most often):")
        lines.extend(f"  - {point} ({card}; missed {times}×)" for card, point, times in result.weakest_points)
    if result.drill_next:
        lines.append("Drill next:")
        lines.extend(f"  prep cram --deck '{deck}' --weak 20   ({100 * score:.0f}% here)"
                     for deck, score in result.drill_next)
    return lines


def history_lines(mocks: list[mock.Mock]) -> list[str]:
    """`prep mock --history`: one block per mock, score per part and time per question."""
    if not mocks:
        return ["No mock interviews yet: run 'prep mock'."]
    from prep import clock

    lines = []
    for record in mocks:
        parts = " · ".join(f"{part} {100 * score:.0f}% ({count})" for part, (score, count) in record.by_part().items())
        total = sum(a.seconds for a in record.answers)
        lines.append(f"{clock.local(record.started):%Y-%m-%d %H:%M}  {len(record.answers)} questions in "
                     f"{render.duration(total)} · {parts}")
        lines.append("  time per question: " + ", ".join(render.duration(a.seconds) for a in record.answers)
                     + f" (mean {render.duration(total / len(record.answers))})")
    return lines
