"""The interactive drill: single key presses in a terminal driving a review session."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from rich.console import Console

from prep import decks, render, sanitize
from prep.images import Pictures, window
from prep.model import Card
from prep.review import FLAGS, Session
from prep.scheduler import RATINGS, format_interval


@dataclass
class Summary:
    reviewed: int
    correct: int
    seconds: float
    next_due: datetime | None
    left: int = 0  # cards still due today when the session ended early
    interrupted: bool = False  # ended by Ctrl-C: the user wants out now, not tomorrow's cards drawn first


# A key's escape sequence, or a terminal's reply that came late (to the picture probe), taken whole so that none of
# its digits reads as a rating: CSI with any parameters (ECMA-48), SS3, and the strings (DCS, SOS, OSC, PM, APC) up to
# their terminator.
ESCAPE_SEQUENCE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|O.|[PX\]^_][^\x07\x1b]*(\x1b\\|\x07)|.)?", re.S)
UNFINISHED = re.compile(r"\x1b(\[[0-?]*[ -/]*|O|[PX\]^_][^\x07\x1b]*\x1b?)?\Z")  # the rest is still on its way
REST_SECONDS = 0.5  # how long the rest of a sequence may take (a reply over ssh); a lone Esc waits this long
REDRAW = "\x00redraw"  # not a key: the terminal was resized or resumed, draw the screen again


class KeyReader:
    """Single key presses from a terminal in cbreak mode, one per call, even when typed fast; with a
    `wake` descriptor (TerminalSignals.read_fd), REDRAW when a signal wrote to it first."""

    def __init__(self, fd: int, wake: int | None = None) -> None:
        self.fd = fd
        self.wake = wake
        self.pending = ""

    def __call__(self) -> str:
        if not self.pending:
            if self.wake is not None:
                ready, _, _ = select.select([self.fd, self.wake], [], [])
                if self.wake in ready:
                    drain(self.wake)
                    return REDRAW
            data = os.read(self.fd, 64)
            if not data:
                return "q"  # end of input: treat as quit
            self.pending = data.decode("utf-8", "replace")
        self._complete()
        match = ESCAPE_SEQUENCE.match(self.pending)  # arrow keys and the like come back whole
        length = match.end() if match else 1
        key, self.pending = self.pending[:length], self.pending[length:]
        return key

    def _complete(self) -> None:
        """Wait for the rest of an escape sequence split across reads, so that its tail is not read as keys."""
        deadline = time.monotonic() + REST_SECONDS
        while UNFINISHED.match(self.pending):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return
            data = os.read(self.fd, 64)
            if not data:
                return
            self.pending += data.decode("utf-8", "replace")

    def unread(self, keys: str) -> None:
        """Keys read from the terminal by someone else (the picture probe) come next, in the order typed."""
        self.pending += keys


def drain(fd: int) -> None:
    """Read a non-blocking pipe empty."""
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def drill(session: Session, console: Console, keys: Callable[[], str], loaded: decks.Decks,
          screens: render.Screens | None = None, notice: str = "", pictures: Pictures | None = None) -> Summary:
    """Show cards until the session ends or the user quits. `notice` (a warning, as Rich markup) and
    then each action's confirmation stay on screen with the next card until the next key press.
    With `pictures`, images are drawn in the terminal where it can."""
    started = time.monotonic()
    try:
        card = session.next_card()
        while card is not None:
            try:
                action, notice = _show_card(session, console, keys, card, loaded, screens, notice, pictures)
            finally:
                if pictures is not None:  # the card's pictures go with it
                    pictures.clear()
            if action == "quit":
                break
            card = session.next_card()
    except KeyboardInterrupt:  # Ctrl-C: every acknowledged rating is already committed
        interrupted = True
    else:
        interrupted = False
    # all cards still due today, not only the ones a --limit left for this session
    return Summary(session.done, session.correct, time.monotonic() - started, session.next_due(),
                   sum(session.counts()), interrupted)


def prepare_next_session(session: Session, console: Console, screens: render.Screens) -> None:
    """Draw (off screen, into the cache) the cards likely to open the next session, so it starts fast."""
    for card in session.upcoming():
        screens.text_for(render.card_sides(card)[0], console)


DOWN_KEYS = ("j", "\x1b[B", "\x1bOB")
UP_KEYS = ("k", "\x1b[A", "\x1bOA")
PAGE_DOWN_KEYS = (" ", "\x1b[6~")
PAGE_UP_KEYS = ("\x1b[5~",)
UNDONE = {"rate": "rating", "skip": "skip", "bury": "bury", "suspend": "suspension"}


def _show_card(session: Session, console: Console, keys: Callable[[], str], card: Card, loaded: decks.Decks,
               screens: render.Screens | None = None, notice: str = "",
               pictures: Pictures | None = None) -> tuple[str, str]:
    """Show one card until it is rated, skipped, buried, suspended, undone or the user quits:
    (action, confirmation)."""
    if card.note.code is not None:
        from prep import coding_drill

        return coding_drill.show(session, console, keys, card, screens), notice
    intervals: dict[int, timedelta] | None = None  # None until the answer is shown
    typed: str | None = None  # an answer typed in $EDITOR (key t, or every reveal with typed_answers on)
    shown_at = time.monotonic()
    message = ""
    flag = session.store.flag(card.id)
    offset, page = 0, 0  # the pager: first answer line shown, lines per page (0: the card fits)
    while True:
        offset, page = _draw(session, console, card, intervals, notice, message, screens, flag, offset, typed,
                             pictures)
        key = keys()
        if key == REDRAW:  # resized or resumed: same screen, same messages, at the terminal's size now
            _fit(console)
            continue
        message = notice = ""
        if key in ("q", "Q", "\x03", "\x04"):
            return "quit", ""
        if intervals is None and (key == "t" or key in (" ", "\r", "\n") and session.config.typed_answers):
            typed, message = _type(card)
            if typed is not None or key != "t":  # with typed_answers on, nothing typed still reveals
                intervals = session.preview(card)
        elif key in (" ", "\r", "\n") and intervals is None:
            intervals = session.preview(card)  # once: the buttons keep these values and the rating gives them
            offset = 0
        elif page and key in DOWN_KEYS + UP_KEYS + PAGE_DOWN_KEYS + PAGE_UP_KEYS:
            step = 1 if key in DOWN_KEYS + UP_KEYS else max(1, page - 1)
            offset += step if key in DOWN_KEYS + PAGE_DOWN_KEYS else -step  # _draw keeps it in range
        elif key in ("1", "2", "3", "4") and intervals is not None:
            rating = int(key)
            session.rate(card, rating, int((time.monotonic() - shown_at) * 1000))
            return "next", f"[dim]saved: {RATINGS[rating]}, next in {format_interval(intervals[rating])}[/]"
        elif key in ("1", "2", "3", "4"):
            message = "Reveal the answer first (space or enter)."
        elif key == "u":
            previous = session.undo_last()
            if previous is None:
                message = "Nothing to undo in this session."
            else:
                what = UNDONE[previous.kind]
                if previous.rated is not None:
                    what = f"{RATINGS[previous.rated.rating]} {what}"
                return "next", f"[dim]undone: {sanitize.markup(previous.card.id)} ({what})[/]"
        elif key == "s":
            session.skip(card)
            return "next", f"[dim]skipped until tomorrow: {sanitize.markup(card.id)}[/]"
        elif key == "b":
            session.bury(card)
            return "next", f"[dim]buried until tomorrow: {sanitize.markup(card.id)}[/]"
        elif key == "!":
            session.suspend(card)
            return "next", (f"[dim]suspended: {sanitize.markup(card.id)} (u undoes; later 'prep unsuspend "
                            f"{sanitize.markup(card.id)}')[/]")
        elif key == "f":
            flag = session.flag(card)
            message = f"Flagged {FLAGS[flag]}." if flag else "Flag removed."
        elif key == "i":
            message = "\n".join(_info_lines(session, card))
        elif key == "o":
            message = _open_images(_images(card, intervals is not None))
        elif key == "e":
            card, message = _edit(session, card, loaded)


def _type(card: Card) -> tuple[str | None, str]:
    """An answer typed in $EDITOR (mock_drill owns the editor round trip)."""
    from prep import mock_drill

    return mock_drill.type_answer(card, "press t to type again, or space to show the answer.")


def _fit(console: Console) -> None:
    """Take the terminal's size now (after a resize), whatever COLUMNS said at start."""
    try:
        size = os.get_terminal_size(console.file.fileno())
    except (OSError, ValueError, AttributeError):
        return
    console.size = (size.columns, size.lines)


def _info_lines(session: Session, card: Card) -> list[str]:
    """What `i` shows: the card's id, deck, file:line, tags, state and due, and its review history."""
    from prep import finding, paths

    item = finding.details_of(card, session.store)
    return finding.details_lines(item, paths.display_path(card.note.path)) + finding.history_lines(item)


def _images(card: Card, revealed: bool) -> list[tuple[str, Path]]:
    """(image | sound | linked, absolute path) of each file the card's question (and, once revealed,
    answer) shows."""
    front, back = render.card_sides(card)
    sides = front + back if revealed else front
    from prep import formats

    if not formats.may_name_media(sides):  # most cards: no need for the splitting below
        return []
    references = formats.media_references(front) + (formats.media_references(back) if revealed else [])
    folder = card.note.path.parent
    return list(dict.fromkeys((what, (folder / reference).resolve()) for what, reference in references))


def _opens(files: list[tuple[str, Path]]) -> str:
    """What `o` opens, for the key help: image, sound or file."""
    kinds = {what for what, _ in files}
    return "" if not kinds else kinds.pop().replace("linked", "file") if len(kinds) == 1 else "file"


def _open_images(files: list[tuple[str, Path]]) -> str:
    """Open each image, sound or linked file with the system's opener (never through a shell); what
    happened, to show."""
    import shutil

    if not files:
        return "This card has no image."
    name = "open" if sys.platform == "darwin" else "xdg-open"  # Linux's `open` is openvt, not a viewer
    viewer = shutil.which(name)
    if viewer is None:
        return f"No {'image viewer' if _opens(files) == 'image' else 'opener'} found ({name}); open the file:// link above."
    for _, path in files:
        try:
            subprocess.Popen([viewer, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as error:
            return f"Could not start {viewer}: {error.strerror}"
    what = _opens(files)
    return f"Opened {len(files)} {what}{'s' if len(files) != 1 else ''} in {os.path.basename(viewer)}."


def _lines(console: Console, draw: Callable[[], None]) -> list[str]:
    """What `draw` prints on the console, as the terminal's lines (styles kept)."""
    with console.capture() as capture:
        draw()
    text = capture.get()
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n") if text else []


def _side(console: Console, source: str, images: list[tuple[str, Path]], screens: render.Screens | None,
          pictures: Pictures | None = None) -> list[str]:
    """A card side's lines, then each image, sound or linked file it shows: an image's picture (where the
    terminal can draw it), and always a file:// link."""
    lines = (screens.text_for(source, console).rstrip("\n").split("\n") if screens is not None
             else _lines(console, lambda: console.print(render.markdown(source))))
    for what, image in images:
        drawn = pictures is not None and what == "image"
        rows, prefix, note = pictures.lines(console, image) if drawn else ([], "", "")
        lines += rows
        why = f" [dim]({sanitize.markup(note)}; not drawn)[/]" if note else ""
        label = what.replace("linked", "file")
        link = _lines(console, lambda image=image, label=label: console.print(
            f"[dim]{label}:[/] {sanitize.markup(image.as_uri())}{why}", overflow="fold"))
        lines += [prefix + link[0]] + link[1:] if link else []  # a sixel picture is drawn from its link's line
    return lines
    return lines


def _draw(session: Session, console: Console, card: Card, intervals: dict[int, timedelta] | None, notice: str,
          message: str, screens: render.Screens | None = None, flag: int | None = None, offset: int = 0,
          typed: str | None = None, pictures: Pictures | None = None) -> tuple[int, int]:
    """One screen: header and `notice` (Rich markup), the card (with its answer and rating buttons once
    `intervals` are known; above the answer, `typed`, the answer typed, and a word diff when short), then
    `message`. When it is taller than the terminal the answer (or, when
    the question alone fills the screen, the whole card) is shown from line `offset`, header and buttons
    kept. Returns (offset kept in range, lines per page; 0 when everything fits)."""
    front, back = render.card_sides(card)
    front_images = _images(card, False)
    images = _images(card, intervals is not None)

    def top() -> None:
        console.print(render.header(card, session.done, session.left(), session.plan, session.clock(),
                                    session.unseen, session.config.day_starts_at, session.counts()))
        if flag:
            console.print(f"[bold {FLAGS[flag].replace('orange', 'dark_orange')}]⚑ {FLAGS[flag]} flag[/]")
        if notice:
            console.print(notice)
        console.rule(style="dim")

    def bottom() -> None:
        console.rule(style="dim")
        if intervals is not None:
            console.print(render.buttons(intervals))
        console.print(render.drill_keys(intervals is not None, _opens(images)))
        if message:
            console.print("\n".join(f"[yellow]{sanitize.markup(line)}[/]" for line in message.split("\n")))

    head, foot = _lines(console, top), _lines(console, bottom)
    question = _side(console, front, front_images, screens, pictures)
    rule = _lines(console, lambda: console.rule(style="dim")) if intervals is not None else []
    if intervals is not None and typed:
        rule = _lines(console, lambda: _typed_answer(console, card, typed))
    back_lines = (_side(console, back, [image for image in images if image not in front_images], screens, pictures)
                  if intervals is not None else [])
    if intervals is not None and render.has_no_answer(card):
        back_lines = _lines(console, lambda: console.print(render.NO_ANSWER)) + back_lines
    answer = rule + back_lines
    room = console.height - 1 - len(head) - len(foot)  # the last line stays free: printing there would scroll
    if not back_lines:
        kept, scrolled = [], question
    elif len(question) + len(rule) + 3 <= room:  # the question stays, the answer scrolls
        kept, scrolled = question + rule, back_lines
    else:
        kept, scrolled = [], question + answer
    page = room - len(kept) - 1  # one line says where in the card the screen is
    if len(kept) + len(scrolled) <= room or page < 1:
        page, offset, body = 0, 0, question + answer
    else:
        offset = max(0, min(offset, len(scrolled) - page))
        where = f"[dim]lines {offset + 1}-{offset + page} of {len(scrolled)} · j/k ↓/↑ · space/PgDn · PgUp[/]"
        shown = (scrolled[offset:offset + page] if pictures is None or pictures.protocol != "sixel"
                 else window(scrolled, offset, page))  # a sixel picture cut by the page is not drawn
        body = kept + shown + _lines(console, lambda: console.print(where))
    console.clear()
    console.file.write("\n".join(head + body + foot) + "\n")
    console.file.flush()
    return offset, page


def _typed_answer(console: Console, card: Card, typed: str) -> None:
    """The answer typed, a word diff against the model answer when that is short, then the model answer's rule."""
    from prep import typed as typed_answers

    console.rule("your answer", style="dim")
    console.print(sanitize.text(typed), markup=False)
    diff = typed_answers.word_diff(typed, render.card_sides(card, with_points=False)[1])
    if diff is not None:
        console.print(typed_answers.LEGEND)
        console.print(diff)
    console.rule("model answer", style="dim")


def _edit(session: Session, card: Card, loaded: decks.Decks) -> tuple[Card, str]:
    """Open the card's file in $EDITOR at its line, then reload the card."""
    path = card.note.path
    from prep import paths

    if paths.is_installed_deck_file(path):  # an upgrade would overwrite the edit
        return card, "These are the bundled decks; run 'prep init' to get an editable copy."
    from prep import terminal

    problem = terminal.run_editor([f"+{card.note.line}", str(path)])
    if problem:
        return card, problem
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
