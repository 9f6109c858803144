"""Drilling a coding card: the prompt, the stub in $EDITOR, the tests in the sandbox, a proposed rating."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.text import Text

from prep import files, paths, render, sandbox, sanitize
from prep.model import Card
from prep.review import Session
from prep.scheduler import RATINGS, format_interval

QUIT_KEYS = ("q", "Q", "\x03", "\x04")


@dataclass
class Attempt:
    """The latest run of the user's code: its result and how long the card had been open by then."""

    result: sandbox.Result
    minutes: float
    rating: int  # proposed


def scratch_path(card: Card) -> Path:
    """The card's own scratch file: kept between sessions, so a second try starts from the first."""
    return paths.data_dir() / "scratch" / f"{card.id}.py"


def propose(result: sandbox.Result, minutes: float, target: float | None) -> int:
    """Again when a test fails; else Easy within half the target time, Good within it, Hard beyond it."""
    if not result.ok:
        return 1
    if target is None:
        return 3
    if minutes <= target / 2:
        return 4
    return 3 if minutes <= target else 2


def escaped(text: str) -> str:
    """User output made safe for the terminal: control characters shown as `\\x1b`, never sent raw
    (tabs and newlines kept: it is the program's output, lines and all)."""
    return sanitize.visible(text, multiline=True).replace("\\x09", "\t")


def show(session: Session, console: Console, keys: Callable[[], str], card: Card,
         screens: render.Screens | None = None) -> str:
    """Drill one coding card until it is rated ("next"), skipped or undone ("next"), or the user quits ("quit")."""
    assert card.note.code is not None
    shown_at = time.monotonic()
    attempt: Attempt | None = None
    revealed = False
    hints = 0
    message = ""
    while True:
        draw(session, console, card, attempt, revealed, hints, message, screens)
        message = ""
        key = keys()
        if key in QUIT_KEYS:
            return "quit"
        if key == "e" or (key in ("\r", "\n") and attempt is None):
            result, message = edit_and_run(session, console, card)
            if result is not None:
                minutes = (time.monotonic() - shown_at) / 60
                attempt = Attempt(result, minutes, propose(result, minutes, card.note.code.time))
        elif key in ("\r", "\n", " ") and attempt is not None:
            return rate(session, console, card, attempt.rating, shown_at)
        elif key in ("1", "2", "3", "4"):
            if attempt is None:
                message = "Write and run your code first (e or enter)."
            else:
                return rate(session, console, card, int(key), shown_at)
        elif key == "r":
            if attempt is None:
                message = "Try it first: the solution can be revealed after an attempt."
            else:
                revealed = True
        elif key == "h":
            if hints < len(card.note.code.hints):
                hints += 1
            else:
                message = "No more hints." if hints else "This card has no hints."
        elif key == "s":
            session.skip(card)
            console.print(f"[dim]skipped until tomorrow: {card.id}[/]")
            return "next"
        elif key == "u":
            previous = session.undo()
            if previous is None:
                message = "Nothing to undo in this session."
            else:
                console.print(f"[dim]undone: {previous.id}[/]")
                return "next"


def edit_and_run(session: Session, console: Console, card: Card) -> tuple[sandbox.Result | None, str]:
    """Open the scratch file in $EDITOR, then run it against the card's tests; else why not."""
    assert card.note.code is not None
    path = scratch_path(card)
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            files.write_text(path, card.note.code.stub)
        except OSError as error:  # e.g. a file where the scratch folder goes: the drill goes on
            return None, f"Could not write the scratch file {path}: {error.strerror}"
    from prep import terminal

    problem = terminal.run_editor([str(path)])
    if problem:
        return None, problem
    try:
        code = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return None, f"Could not read {path}: {error.strerror}"
    console.print("[dim]running the tests...[/]")
    limits = sandbox.Limits(seconds=float(session.config.code_time_limit))
    return sandbox.run(code, card.note.code.tests, limits), ""


def rate(session: Session, console: Console, card: Card, rating: int, shown_at: float) -> str:
    after = session.rate(card, rating, int((time.monotonic() - shown_at) * 1000))
    console.print(f"[dim]saved: {RATINGS[rating]}, next in {format_interval(after.due - session.clock())}[/]")
    return "next"


def draw(session: Session, console: Console, card: Card, attempt: Attempt | None, revealed: bool, hints: int,
         message: str, screens: render.Screens | None = None) -> None:
    spec = card.note.code
    assert spec is not None
    console.clear()
    console.print(render.header(card, session.done, session.left(), session.plan, session.clock(),
                                len(session.new), session.config.day_starts_at))
    console.rule(style="dim")
    render.show_markdown(console, card.note.q, screens)
    if spec.time:
        console.print(f"[dim]coding card · target {spec.time:g} min · tests run in a sandbox[/]")
    for number, hint in enumerate(spec.hints[:hints], 1):
        console.print(Text(f"hint {number}: {sanitize.text(hint)}", style="yellow"))
    console.rule(style="dim")
    if attempt is not None:
        show_result(console, attempt)
        if revealed:
            console.rule("reference solution", style="dim")
            render.show_markdown(console, card.note.a, screens)
        console.rule(style="dim")
        console.print(render.buttons(session.preview(card)))
        console.print(f"proposed: [bold]{attempt.rating} {RATINGS[attempt.rating]}[/]")
        console.print("[dim]enter: accept · 1-4: rate · e: edit and run again · r: reveal solution · h: hint · "
                      "s: skip · q: quit[/]")
    else:
        console.print("[dim]e/enter: write your code in $EDITOR and run the tests · h: hint · s: skip · u: undo · "
                      "q: quit[/]")
    if message:
        console.print(Text(escaped(message), style="yellow"))


def show_result(console: Console, attempt: Attempt) -> None:
    result = attempt.result
    for test in result.tests:
        line = Text("  ✓ " if test.passed else "  ✗ ", style="green" if test.passed else "red")
        line.append(escaped(test.name))
        if not test.passed and test.message:
            line.append(f" — {escaped(test.message)}", style="dim")
        console.print(line)
    total = result.passed + result.failed
    summary = f"{result.passed}/{total} tests passed" if result.tests else "no test ran"
    console.print(Text(f"{summary} · tests took {result.seconds:.2f} s · you took {render.duration(attempt.minutes * 60)}",
                       style="bold green" if result.ok else "bold red"))
    if result.first_failure:
        console.print(Text("first failure: " + escaped(result.first_failure), style="red"))
    if result.timed_out:
        console.print(Text("stopped at the time limit", style="red"))
    if result.memory_exceeded:
        console.print(Text("stopped at the memory limit", style="red"))
    if result.output.strip():
        console.print(Text("your code printed:", style="dim"))
        console.print(Text(escaped(result.output.rstrip()[-1500:])))
