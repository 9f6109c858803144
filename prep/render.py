"""Terminal rendering: cards as Markdown with Unicode math, headers, rating buttons and tables."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from prep import clock, cloze, mathtext, sanitize
from prep.model import Card
from prep.scheduler import RATINGS, format_interval

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from prep.cache import Cache

def card_sides(card: Card, with_points: bool = True) -> tuple[str, str]:
    """(front, back) Markdown of a card; math still as LaTeX. The back ends with the card's key points."""
    note = card.note
    number = card.cloze_number
    checklist = "\n\n" + points_checklist(note.points) if with_points and note.points else ""
    if number is not None:
        front = cloze.render(note.cloze, number, reveal=False, mark=("**[", "]**"))
        back = cloze.render(note.cloze, number, reveal=True, mark=("**", "**"))
        return front, back + (f"\n\n{note.extra}" if note.extra else "") + checklist
    if card.variant == "rev":
        return note.a, note.q
    return note.q, note.a + checklist


NO_ANSWER = "[dim](no answer)[/]"  # Rich markup: what a front-only card (`a: ""`) shows once revealed


def has_no_answer(card: Card) -> bool:
    """A front-only card: a question whose answer was written as explicitly empty."""
    return card.variant == "" and card.note.kind == "basic" and not card.note.a.strip()


POINT_KEYS = "123456789abc"  # the key that ticks each point (a card has at most 12)


def points_checklist(points: list[str], ticked: set[int] | None = None) -> str:
    """Markdown for a card's key points: `☐ point` lines, with the key that ticks each when `ticked`
    (0-based positions of the points ticked) is given."""
    lines = ["**Key points**", ""]
    for index, point in enumerate(points):
        if ticked is None:
            lines.append(f"- ☐ {point}")
        else:
            lines.append(f"- ({POINT_KEYS[index]}) {'☑' if index in ticked else '☐'} {point}")
    return "\n".join(lines)


def terminal_markdown(source: str) -> str:
    """Markdown with `$...$` math turned into readable Unicode and control characters removed."""
    try:
        segments = mathtext.split(sanitize.text(source))
    except mathtext.MathError:
        return sanitize.text(source)
    out = []
    for segment in segments:
        if segment.kind == "math":
            out.append(_escape_markdown(mathtext.latex_to_unicode(segment.body)))
        elif segment.kind == "display":
            # its own indented lines: hard line breaks, `&nbsp;` for the indent and the column padding
            # (leading spaces would make a code block or be stripped; padding must not be a wrap point)
            lines = [re.sub(r"^ +| {2,}", lambda m: "&nbsp;" * len(m.group()), _escape_markdown(line))
                     for line in mathtext.latex_to_unicode(segment.body, display=True).split("\n")]
            out.append("\n\n" + "\\\n".join("&nbsp;" * 4 + line for line in lines) + "\n\n")
        elif segment.kind == "text":
            out.append(re.sub(r"\\\$", "$", segment.source))
        else:
            out.append(segment.source)
    return "".join(out)


def _escape_markdown(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|&~])", r"\\\1", text)


def markdown(source: str) -> "RenderableType":
    from rich.markdown import Markdown

    return Markdown(terminal_markdown(source), code_theme="monokai", inline_code_theme="monokai")


def show_markdown(console: "Console", source: str, screens: "Screens | None" = None) -> None:
    """Print a card side; with `screens`, reuse the terminal output of an earlier run for the same text."""
    if screens is None:
        console.print(markdown(source))
        return
    console.file.write(screens.text_for(source, console))
    console.file.flush()


class Screens:
    """Card sides as the terminal showed them, kept in the one cache and keyed by their Markdown, the
    terminal's width and colours, and the rendering libraries' files.

    Drawing a card seen before then needs neither the Markdown parser nor the LaTeX converter, which
    are most of `prep review`'s start-up.
    """

    def __init__(self, cache: "Cache") -> None:
        self.cache = cache
        self.stamp = _library_stamp()

    def text_for(self, source: str, console: "Console") -> str:
        """The terminal output of a card side: from the cache, or rendered now and kept."""
        key = self.key(source, console)
        text = self.cache.screen(key)
        if text is None:
            with console.capture() as capture:
                console.print(markdown(source))
            text = capture.get()
            self.cache.put_screen(key, text)
        return text

    def key(self, source: str, console: "Console") -> bytes:
        import hashlib

        context = f"{self.stamp}\0{console.width}\0{console.color_system}\0{console.legacy_windows}\0"
        return hashlib.blake2b((context + source).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _library_stamp() -> str:
    """Where the rendering libraries' code is, and its size and time: changes when any is upgraded.
    (Reading their versions from package metadata would cost 100 ms, more than the cache saves.)"""
    import importlib.util
    import os

    from prep import __version__

    parts = [__version__]
    # prep's own drawing code counts too: a fix to the math converter must not be hidden by old screens
    here = os.path.dirname(os.path.abspath(__file__))
    origins = [(name, os.path.join(here, f"{name}.py")) for name in ("render", "mathtext", "cloze", "sanitize")]
    for name in ("rich", "markdown_it", "pygments", "pylatexenc"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origins.append((name, spec.origin if spec and spec.origin else ""))
    for name, origin in origins:
        try:
            stat = os.stat(origin) if origin else None
        except OSError:
            stat = None
        parts.append(f"{name}:{origin if stat else ''}:{stat.st_mtime_ns if stat else ''}:{stat.st_size if stat else ''}")
    return "|".join(parts)


def header(card: Card, done: int, left: int, plan: dict | None = None, now: datetime | None = None,
           unseen: int = 0, day_starts_at: int = 4, counts: tuple[int, int, int] | None = None) -> str:
    """The drill's top line(s); `counts` are the (new, learning, review) cards still due today."""
    line = f"[bold cyan]prep[/] · [bold]{sanitize.markup(card.note.deck)}[/] · {done} done · {left} left"
    if counts is not None:
        line += " ([blue]{}[/] new · [red]{}[/] learning · [green]{}[/] review)".format(*counts)
    if plan and now is not None:
        days = clock.days_until(plan["interview"], now, day_starts_at)  # as `prep plan` counts them
        line += (f"\n[magenta]interview {plan['interview'].isoformat()} in {days} day{'s' if days != 1 else ''}"
                 f" · target {100 * plan['target']:.0f}% · {unseen} cards not yet seen[/]")
    return line


def buttons(intervals: dict[int, timedelta]) -> str:
    colours = {1: "red", 2: "yellow", 3: "green", 4: "blue"}
    return "   ".join(
        f"[bold {colours[r]}]{r}[/] {RATINGS[r]} [dim]{format_interval(intervals[r])}[/]" for r in RATINGS
    )


CARD_KEYS = "b: bury · !: suspend · f: flag · i: info"  # the current card's keys, on both sides


def drill_keys(revealed: bool, opens: str = "") -> str:
    """The help lines under a card: before the answer is shown, or with the rating buttons; `opens`
    names what `o` opens (image, sound, file), when the card shows any."""
    keys = ("1-4: rate · u: undo · e: edit · s: skip" if revealed
            else "space/enter: show answer · t: type your answer · s: skip · e: edit · u: undo")
    return f"[dim]{keys} · q: quit\n{CARD_KEYS}{f' · o: open {opens}' if opens else ''}[/]"


def when(moment: datetime, now: datetime) -> str:
    """A due time a person reads: 'now', 'in 10 minutes (09:40)', 'in 1 hour (10:30)', 'in 12 days (2026-12-04)'."""
    def counted(number: int, unit: str) -> str:
        return f"in {number} {unit}{'s' if number != 1 else ''}"

    delta = moment - now
    local = clock.local(moment)
    if delta.total_seconds() <= 0:
        return "now"
    if delta < timedelta(hours=1):
        return f"{counted(max(1, round(delta.total_seconds() / 60)), 'minute')} ({local:%H:%M})"
    if delta < timedelta(days=1):
        return f"{counted(round(delta.total_seconds() / 3600), 'hour')} ({local:%H:%M})"
    return f"{counted(round(delta.total_seconds() / 86400), 'day')} ({local:%Y-%m-%d})"


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


SPARK = " ▁▂▃▄▅▆▇█"
SHADES = " ░▒▓█"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def stats_view(stats, leech_threshold: int) -> list:
    """Rich renderables for `prep stats`: the deck table, forecast, calendar, streak, leeches."""
    from rich.table import Table
    from rich.text import Text

    from prep.stats import grouped

    rows, depth = grouped(stats.decks)
    title = "Cards by deck" + (f" ({len(stats.decks)} decks, grouped to level {depth}; --deck NAME for detail)"
                               if depth else "")
    table = Table(title=title, title_justify="left")
    for column in ("Deck", "New", "Learning", "Review", "Suspended", "Due today", "Retention 30d", "Avg stability"):
        # a deck name wraps rather than being cut short with an ellipsis
        table.add_column(column, justify="left", overflow="fold") if column == "Deck" else table.add_column(
            column, justify="right")
    for row in rows + [stats.total]:
        stability = "-" if row.average_stability is None else f"{row.average_stability:.1f}d"
        table.add_row(sanitize.markup(row.deck), str(row.new), str(row.learning), str(row.review), str(row.suspended),
                      str(row.due), _percent(row.retention), stability,
                      style="bold" if row is stats.total else None)
    out: list = [table]
    peak = max(stats.forecast) if stats.forecast else 0
    bars = "".join(SPARK[0 if not n else max(1, round(8 * n / peak))] for n in stats.forecast) if peak else ""
    out.append(Text.assemble(("Due, next 30 days ", "bold"), f"(today {stats.forecast[0] if stats.forecast else 0}, "
                             f"peak {peak}/day, total {sum(stats.forecast)})\n", (f"  {bars}", "cyan"),
                             "\n  today" + " " * max(0, len(stats.forecast) - 12) + "+29 days"))
    out.append(Text.assemble(("Reviews, last 26 weeks ", "bold"),
                             f"({sum(n for _, n in stats.calendar)} reviews; streak {stats.streak} "
                             f"day{'s' if stats.streak != 1 else ''})\n", _heatmap(stats.calendar)))
    out.append(Text(f"Reviews today: {stats.reviews_today} · true retention (30 days): "
                    f"{_percent(stats.retention)} of {stats.total.retention_reviews} reviews"))
    if stats.total.flagged:
        out.append(Text(f"Flagged: {stats.total.flagged} card{'s' if stats.total.flagged != 1 else ''} "
                        "(prep search --flag any lists them)"))
    if stats.weakest:
        out.append(Text("Weakest decks: " + ", ".join(f"{sanitize.visible(d.deck)} {_percent(d.retention)}" for d in stats.weakest)))
    if stats.leeches:
        leeches = Table(title=f"Leeches (forgotten {leech_threshold}+ times)", title_justify="left")
        for column in ("Card", "Deck", "Lapses", "Suspended"):
            leeches.add_column(column, overflow="fold")
        for leech in stats.leeches[:20]:
            leeches.add_row(sanitize.markup(leech.card_id), sanitize.markup(leech.deck), str(leech.lapses),
                            "yes" if leech.suspended else "no")
        if len(stats.leeches) > 20:
            leeches.caption = f"and {len(stats.leeches) - 20} more (prep stats --json lists them all)"
        out.append(leeches)
        if any(not leech.suspended for leech in stats.leeches):
            out.append(Text("Suspend them with 'prep suspend --leeches'; rewrite the cards, then 'prep unsuspend ID'.",
                            style="dim"))
    return out


def _heatmap(calendar: list[tuple[str, int]]):
    """A GitHub-style grid: one column per week, one row per weekday, shade by review count."""
    from datetime import date

    from rich.text import Text

    if not calendar:
        return Text("")
    peak = max(n for _, n in calendar) or 1
    first = date.fromisoformat(calendar[0][0])
    pad = first.weekday()  # start the grid on a Monday
    cells = [None] * pad + [n for _, n in calendar]
    weeks = (len(cells) + 6) // 7
    text = Text()
    for weekday, name in enumerate("MTWTFSS"):
        text.append(f"  {name} ", style="dim")
        for week in range(weeks):
            index = week * 7 + weekday
            value = cells[index] if index < len(cells) else None
            if value is None:
                text.append(" ")
            elif not value:
                text.append("·", style="dim")
            else:
                text.append(SHADES[max(1, round(4 * value / peak))], style="green")
        text.append("\n")
    return text


def stats_json(stats) -> dict:
    return {
        "decks": [d.as_dict() for d in stats.decks],
        "total": stats.total.as_dict(),
        "reviews_today": stats.reviews_today,
        "retention_30d": stats.retention,
        "retention_reviews_30d": stats.total.retention_reviews,
        "forecast": stats.forecast,
        "calendar": [{"day": day, "reviews": n} for day, n in stats.calendar],
        "streak": stats.streak,
        "leeches": [vars(leech) for leech in stats.leeches],
        "weakest_decks": [d.deck for d in stats.weakest],
    }
