"""The interactive drill: single key presses in a terminal driving a review session."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from rich.console import Console

from prep import decks, render
from prep.model import Card
from prep.review import Session
from prep.scheduler import RATINGS, format_interval


@dataclass
class Summary:
    reviewed: int
    correct: int
    seconds: float
    next_due: datetime | None
    left: int = 0  # cards still due today when the session ended early


def read_key(fd: int) -> str:
    """One key press, without waiting for Enter (cbreak mode); escape sequences come back whole."""
    import termios
    import tty

    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        data = os.read(fd, 32)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
    if not data:
        return "q"  # end of input: treat as quit
    return data.decode("utf-8", "replace")


def drill(session: Session, console: Console, keys: Callable[[], str], root: "decks.Path") -> Summary:
    started = time.monotonic()
    card = session.next_card()
    while card is not None:
        action = _show_card(session, console, keys, card, root)
        if action == "quit":
            break
        card = session.next_card()
    return Summary(session.done, session.correct, time.monotonic() - started, session.next_due(), session.left())


def _show_card(session: Session, console: Console, keys: Callable[[], str], card: Card, root) -> str:
    revealed = False
    shown_at = time.monotonic()
    message = ""
    while True:
        _draw(session, console, card, revealed, message)
        message = ""
        key = keys()
        if key in ("q", "Q", "\x03", "\x04"):
            return "quit"
        if key in (" ", "\r", "\n") and not revealed:
            revealed = True
        elif key in ("1", "2", "3", "4") and revealed:
            rating = int(key)
            duration = int((time.monotonic() - shown_at) * 1000)
            after = session.rate(card, rating, duration)
            console.print(f"[dim]saved: {RATINGS[rating]}, next in {format_interval(after.due - session.clock())}[/]")
            return "next"
        elif key in ("1", "2", "3", "4"):
            message = "Reveal the answer first (space or enter)."
        elif key == "u":
            previous = session.undo()
            if previous is None:
                message = "Nothing to undo in this session."
            else:
                console.print(f"[dim]undone: {previous.id}[/]")
                return "next"
        elif key == "s":
            session.skip(card)
            console.print(f"[dim]skipped until tomorrow: {card.id}[/]")
            return "next"
        elif key == "e":
            card, message = _edit(session, card, root)


def _draw(session: Session, console: Console, card: Card, revealed: bool, message: str) -> None:
    front, back = render.card_sides(card)
    console.clear()
    console.print(render.header(card, session.done, session.left()))
    console.rule(style="dim")
    console.print(render.markdown(front))
    if revealed:
        console.rule(style="dim")
        console.print(render.markdown(back))
        console.rule(style="dim")
        console.print(render.buttons(session.preview(card)))
        console.print("[dim]1-4: rate · u: undo · e: edit · s: skip · q: quit[/]")
    else:
        console.rule(style="dim")
        console.print(render.QUESTION_KEYS)
    if message:
        console.print(f"[yellow]{message}[/]")


def _edit(session: Session, card: Card, root) -> tuple[Card, str]:
    """Open the card's file in $EDITOR at its line, then reload the card."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    path = card.note.path
    try:
        subprocess.call([*shlex.split(editor), f"+{card.note.line}", str(path)])
    except OSError as error:
        return card, f"Could not start the editor '{editor}': {error.strerror}"
    notes, problems = decks.parse_file(path, root)
    if problems:
        return card, "The file has problems; keeping the old card: " + "; ".join(str(p) for p in problems[:3])
    edited = None
    for note in notes:  # every card of the file: lines may have moved
        for fresh in decks.cards_of(note):
            if fresh.id in session.by_id:
                session.replace_card(fresh)
            if fresh.id == card.id:
                edited = fresh
    if edited is None:
        return card, f"Card {card.id} is no longer in {path.name}; showing the old version."
    return edited, "Reloaded the edited card."


def summary_text(summary: Summary, now: datetime) -> str:
    lines = [f"Reviewed {summary.reviewed} card{'s' if summary.reviewed != 1 else ''}"]
    if summary.reviewed:
        share = 100 * summary.correct / summary.reviewed
        lines[0] += f", {share:.0f}% answered correctly, in {render.duration(summary.seconds)}."
    else:
        lines[0] += "."
    if summary.left:
        lines.append(f"{summary.left} card{'s' if summary.left != 1 else ''} still due today.")
    elif summary.next_due is not None:
        lines.append(f"Next card due {render.when(summary.next_due, now)}.")
    return "\n".join(lines)


def is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
