"""The interactive drill: single key presses in a terminal driving a review session."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from rich.console import Console

from prep import decks, render, sanitize
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


ESCAPE_SEQUENCE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|O.|.)?", re.S)


class KeyReader:
    """Single key presses from a terminal in cbreak mode, one per call, even when typed fast."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = ""

    def __call__(self) -> str:
        if not self.pending:
            data = os.read(self.fd, 64)
            if not data:
                return "q"  # end of input: treat as quit
            self.pending = data.decode("utf-8", "replace")
        match = ESCAPE_SEQUENCE.match(self.pending)  # arrow keys and the like come back whole
        length = match.end() if match else 1
        key, self.pending = self.pending[:length], self.pending[length:]
        return key


class KeyboardMode:
    """Cbreak mode for the whole drill: keys arrive one at a time and none typed early are lost.

    TCSANOW (not tty's default TCSAFLUSH) keeps keys pressed while a screen was still drawing.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list | None = None

    def __enter__(self) -> "KeyboardMode":
        import termios
        import tty

        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        import termios

        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)

    def resume(self) -> None:
        import termios
        import tty

        tty.setcbreak(self.fd, termios.TCSANOW)


def drill(session: Session, console: Console, keys: Callable[[], str], loaded: decks.Decks,
          screens: render.Screens | None = None, notice: str = "") -> Summary:
    """Show cards until the session ends or the user quits. `notice` (a warning, as Rich markup) and
    then each action's confirmation stay on screen with the next card until the next key press."""
    started = time.monotonic()
    try:
        card = session.next_card()
        while card is not None:
            action, notice = _show_card(session, console, keys, card, loaded, screens, notice)
            if action == "quit":
                break
            card = session.next_card()
    except KeyboardInterrupt:  # Ctrl-C: every acknowledged rating is already committed
        pass
    # all cards still due today, not only the ones a --limit left for this session
    return Summary(session.done, session.correct, time.monotonic() - started, session.next_due(),
                   sum(session.counts()))


def prepare_next_session(session: Session, console: Console, screens: render.Screens) -> None:
    """Draw (off screen, into the cache) the cards likely to open the next session, so it starts fast."""
    for card in session.upcoming():
        screens.text_for(render.card_sides(card)[0], console)


def _show_card(session: Session, console: Console, keys: Callable[[], str], card: Card, loaded: decks.Decks,
               screens: render.Screens | None = None, notice: str = "") -> tuple[str, str]:
    """Show one card until it is rated, skipped, undone or the user quits: (action, confirmation)."""
    if card.note.code is not None:
        from prep import coding_drill

        return coding_drill.show(session, console, keys, card, screens), notice
    intervals: dict[int, timedelta] | None = None  # None until the answer is shown
    typed: str | None = None  # an answer typed in $EDITOR (key t, or every reveal with typed_answers on)
    shown_at = time.monotonic()
    message = ""
    while True:
        _draw(session, console, card, intervals, notice, message, screens, typed)
        message = notice = ""
        key = keys()
        if key in ("q", "Q", "\x03", "\x04"):
            return "quit", ""
        if intervals is None and (key == "t" or key in (" ", "\r", "\n") and session.config.typed_answers):
            typed, message = _type(card)
            if typed is not None or key != "t":  # with typed_answers on, nothing typed still reveals
                intervals = session.preview(card)
        elif key in (" ", "\r", "\n") and intervals is None:
            intervals = session.preview(card)  # once: the buttons keep these values and the rating gives them
        elif key in ("1", "2", "3", "4") and intervals is not None:
            rating = int(key)
            session.rate(card, rating, int((time.monotonic() - shown_at) * 1000))
            return "next", f"[dim]saved: {RATINGS[rating]}, next in {format_interval(intervals[rating])}[/]"
        elif key in ("1", "2", "3", "4"):
            message = "Reveal the answer first (space or enter)."
        elif key == "u":
            previous = session.undo()
            if previous is None:
                message = "Nothing to undo in this session."
            else:
                return "next", f"[dim]undone: {sanitize.markup(previous.id)}[/]"
        elif key == "s":
            session.skip(card)
            return "next", f"[dim]skipped until tomorrow: {sanitize.markup(card.id)}[/]"
        elif key == "e":
            card, message = _edit(session, card, loaded)


def _type(card: Card) -> tuple[str | None, str]:
    """An answer typed in $EDITOR (mock_drill owns the editor round trip)."""
    from prep import mock_drill

    mode = KeyboardMode(sys.stdin.fileno()) if sys.stdin.isatty() else None
    if mode:
        mode.__enter__()
    return mock_drill.type_answer(card, mode, "press t to type again, or space to show the answer.")


def _draw(session: Session, console: Console, card: Card, intervals: dict[int, timedelta] | None, notice: str,
          message: str, screens: render.Screens | None = None, typed: str | None = None) -> None:
    """One screen: header and `notice` (Rich markup), the card (with its answer and rating buttons once
    `intervals` are known; above the answer, `typed`, the answer typed, and a word diff when short), then
    `message`."""
    front, back = render.card_sides(card)
    console.clear()
    console.print(render.header(card, session.done, session.left(), session.plan, session.clock(),
                                session.unseen, session.config.day_starts_at, session.counts()))
    if notice:
        console.print(notice)
    console.rule(style="dim")
    render.show_markdown(console, front, screens)
    if intervals is not None:
        if typed:
            from prep import typed as typed_answers

            console.rule("your answer", style="dim")
            console.print(sanitize.text(typed), markup=False)
            diff = typed_answers.word_diff(typed, render.card_sides(card, with_points=False)[1])
            if diff is not None:
                console.print(typed_answers.LEGEND)
                console.print(diff)
            console.rule("model answer", style="dim")
        else:
            console.rule(style="dim")
        render.show_markdown(console, back, screens)
        console.rule(style="dim")
        console.print(render.buttons(intervals))
        console.print("[dim]1-4: rate · u: undo · e: edit · s: skip · q: quit[/]")
    else:
        console.rule(style="dim")
        console.print(render.QUESTION_KEYS)
    if message:
        console.print(f"[yellow]{sanitize.markup(message)}[/]")


def _edit(session: Session, card: Card, loaded: decks.Decks) -> tuple[Card, str]:
    """Open the card's file in $EDITOR at its line, then reload the card."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    path = card.note.path
    from prep import paths

    if paths.is_installed_deck_file(path):  # an upgrade would overwrite the edit
        return card, "These are the bundled decks; run 'prep init' to get an editable copy."
    mode = KeyboardMode(sys.stdin.fileno()) if sys.stdin.isatty() else None
    try:
        if mode:
            mode.__enter__()
            mode.restore()  # the editor needs the terminal as it was
        subprocess.call([*shlex.split(editor), f"+{card.note.line}", str(path)])
    except OSError as error:
        return card, f"Could not start the editor '{editor}': {error.strerror}"
    finally:
        if mode:
            mode.resume()
    parsed = loaded.reread(path)
    if parsed.problems:
        return card, "The file has problems; keeping the old card: " + "; ".join(str(p) for p in parsed.problems[:3])
    edited = None
    for note in parsed.notes:  # every card of the file: lines may have moved
        for fresh in decks.cards_of(note):
            if fresh.id in session.in_scope:
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
