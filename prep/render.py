"""Terminal rendering: cards as Markdown with Unicode math, headers, rating buttons and tables."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prep import cloze, mathtext
from prep.model import Card
from prep.scheduler import RATINGS, format_interval

if TYPE_CHECKING:
    from rich.console import RenderableType

# C0/C1 control characters other than tab and newline: card text must never move the cursor,
# change colours or retitle the terminal.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    return CONTROL.sub("", text)


def card_sides(card: Card) -> tuple[str, str]:
    """(front, back) Markdown of a card; math still as LaTeX."""
    note = card.note
    number = card.cloze_number
    if number is not None:
        front = cloze.render(note.cloze, number, reveal=False, mark=("**[", "]**"))
        back = cloze.render(note.cloze, number, reveal=True, mark=("**", "**"))
        return front, back + (f"\n\n{note.extra}" if note.extra else "")
    if card.variant == "rev":
        return note.a, note.q
    return note.q, note.a


def terminal_markdown(source: str) -> str:
    """Markdown with `$...$` math turned into readable Unicode and control characters removed."""
    try:
        segments = mathtext.split(clean(source))
    except mathtext.MathError:
        return clean(source)
    out = []
    for segment in segments:
        if segment.kind == "math":
            out.append(_escape_markdown(mathtext.latex_to_unicode(segment.body)))
        elif segment.kind == "display":
            out.append("\n\n    " + mathtext.latex_to_unicode(segment.body).replace("\n", " ") + "\n\n")
        elif segment.kind == "text":
            out.append(re.sub(r"\\\$", "$", segment.source))
        else:
            out.append(segment.source)
    return "".join(out)


def _escape_markdown(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


def markdown(source: str) -> "RenderableType":
    from rich.markdown import Markdown

    return Markdown(terminal_markdown(source), code_theme="monokai", inline_code_theme="monokai")


def header(card: Card, done: int, left: int) -> str:
    deck = clean(card.note.deck).replace("[", "\\[")
    return f"[bold cyan]prep[/] · [bold]{deck}[/] · {done} done · {left} left"


def buttons(intervals: dict[int, timedelta]) -> str:
    colours = {1: "red", 2: "yellow", 3: "green", 4: "blue"}
    return "   ".join(
        f"[bold {colours[r]}]{r}[/] {RATINGS[r]} [dim]{format_interval(intervals[r])}[/]" for r in RATINGS
    )


QUESTION_KEYS = "[dim]space/enter: show answer · s: skip · e: edit · u: undo · q: quit[/]"


def when(moment: datetime, now: datetime) -> str:
    """A due time a person reads: 'in 10 minutes (09:40)', 'tomorrow', 'in 12 days (2026-12-04)'."""
    delta = moment - now
    local = moment.astimezone()
    if delta.total_seconds() <= 0:
        return "now"
    if delta < timedelta(hours=1):
        return f"in {max(1, round(delta.total_seconds() / 60))} minutes ({local:%H:%M})"
    if delta < timedelta(days=1):
        return f"in {round(delta.total_seconds() / 3600)} hours ({local:%H:%M})"
    return f"in {round(delta.total_seconds() / 86400)} days ({local:%Y-%m-%d})"


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
