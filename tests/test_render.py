"""Terminal rendering of card sides, and the screen cache that lets `prep review` skip re-rendering."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rich.console import Console

from prep import render
from prep.cache import Cache

SIDE = "Why is $\\frac{a}{b}$ **not** `a // b`?\n\n```python\nprint(7 / 2)\n```\n"


def console(width: int = 80) -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=width, color_system="truecolor")


def shown(target: Console) -> str:
    return target.file.getvalue()


@pytest.fixture
def screens(tmp_path: Path):
    with Cache(tmp_path / "cache") as cache:
        yield render.Screens(cache)


def test_cached_screen_is_exactly_what_rendering_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain, first, second = console(), console(), console()
    render.show_markdown(plain, SIDE)
    with Cache(tmp_path / "cache") as cache:
        render.show_markdown(first, SIDE, render.Screens(cache))

    def refuse(source: str):
        raise AssertionError("rendered again")

    monkeypatch.setattr(render, "markdown", refuse)
    with Cache(tmp_path / "cache") as cache:  # a later run
        render.show_markdown(second, SIDE, render.Screens(cache))
    assert shown(plain) == shown(first) == shown(second)
    assert "½" not in shown(plain) and "a/b" in shown(plain).replace("\x1b", "")  # math went through LaTeX → Unicode


def test_edited_text_or_another_width_is_rendered_afresh(screens: render.Screens) -> None:
    render.show_markdown(console(), SIDE, screens)
    edited = console()
    render.show_markdown(edited, SIDE.replace("not", "never"), screens)
    assert "never" in shown(edited)
    narrow, expected = console(40), console(40)
    render.show_markdown(narrow, SIDE, screens)
    render.show_markdown(expected, SIDE)
    assert shown(narrow) == shown(expected)


def test_an_upgraded_library_misses(screens: render.Screens) -> None:
    target = console()
    key = screens.key(SIDE, target)
    screens.cache.put_screen(key, "old output")
    assert screens.cache.screen(key) == "old output"
    screens.stamp += "|rich upgraded"
    assert screens.cache.screen(screens.key(SIDE, target)) is None


def test_a_damaged_cache_file_only_costs_speed(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "cache.db"
    path.parent.mkdir()
    path.write_bytes(b"\x00not a database" * 100)
    target, expected = console(), console()
    with Cache(path.parent) as cache:
        render.show_markdown(target, SIDE, render.Screens(cache))
    render.show_markdown(expected, SIDE)
    assert shown(target) == shown(expected)
    (tmp_path / "folder-as-file").write_text("x")
    with Cache(tmp_path / "folder-as-file") as cache:
        render.show_markdown(console(), SIDE, render.Screens(cache))


def plain(target: Console) -> str:
    """What the terminal shows, without colour codes; non-breaking spaces as spaces."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", shown(target)).replace("\xa0", " ")


def cloze_card(text: str, number: int, extra: str = ""):
    from prep.model import Card, Note

    note = Note(id="n", deck="D", path=Path("d.yaml"), line=1, cloze=text, extra=extra)
    return render.card_sides(Card(f"n-c{number}", note, f"c{number}"))


def test_a_padded_cloze_deletion_shows_bold_with_its_math_converted() -> None:
    front, back = cloze_card("The variance is {{c1:: $E[(X-\\mu)^2]$ }}, and {{c2:: $\\sigma$ :: a letter }} is its root.", 1)
    assert front == "The variance is **[...]**, and $\\sigma$ is its root."
    assert back == "The variance is **$E[(X-\\mu)^2]$**, and $\\sigma$ is its root."
    for side, bold in ((front, "[...]"), (back, "E[(X-μ)²]")):
        target = console()
        render.show_markdown(target, side)
        assert f"\x1b[1m{bold}\x1b[0m" in shown(target)  # bold, not `** x **` as typed
        assert "$" not in plain(target) and "**" not in plain(target)
    hidden, _ = cloze_card("The variance is {{c1:: $E[(X-\\mu)^2]$ }}, and {{c2:: $\\sigma$ :: a letter }} is its root.", 2)
    assert hidden == "The variance is $E[(X-\\mu)^2]$, and **[a letter]** is its root."
    assert cloze_card("a{{c1:: x }}b", 1)[1] == "a **x** b"  # padding kept where it separates words


def test_display_math_is_indented_lines_not_a_code_block() -> None:
    side = ("The LSTM gates:\n\n$$\\begin{aligned}\nf_t &= \\sigma(x_t) && \\text{forget}\\\\\n"
            "\\tilde c_t &= \\tanh(W_c x_t)\n\\end{aligned}$$\n\nand $\\det A \\ne 0$.")
    markdown = render.terminal_markdown(side)
    assert not any(line.startswith("    ") for line in markdown.split("\n"))  # 4 spaces would be a code block
    target = console()
    render.show_markdown(target, side)
    assert "\x1b[48" not in shown(target)  # no code-block background
    lines = [line.rstrip() for line in plain(target).split("\n")]
    assert "    fₜ = σ(xₜ)           forget" in lines
    assert "    c̃ₜ = tanh(W_c xₜ)" in lines
    assert lines.index("    c̃ₜ = tanh(W_c xₜ)") == lines.index("    fₜ = σ(xₜ)           forget") + 1
    assert "and det A ≠ 0." in lines


def test_math_output_is_not_read_as_markdown() -> None:
    target = console()
    render.show_markdown(target, "$a * b * c$ and $x_1 + y_2$ and $[a](b)$")
    assert "a ∗ b ∗ c" not in plain(target)  # `*` is the ASCII character here, kept literally
    assert "a * b * c and x₁ + y₂ and [a](b)" in plain(target)


def test_a_due_time_says_one_minute_hour_or_day_in_the_singular(utc: None) -> None:
    """A session ending a few seconds before the 04:00 boundary: its new cards are due in 1 minute."""
    now = datetime(2026, 3, 2, 3, 59, 30, tzinfo=timezone.utc)
    assert render.when(now.replace(hour=4, minute=0, second=0), now) == "in 1 minute (04:00)"
    assert render.when(now + timedelta(minutes=70), now) == "in 1 hour (05:09)"
    assert render.when(now + timedelta(days=1, hours=2), now) == "in 1 day (2026-03-03)"
    assert render.when(now + timedelta(days=3), now) == "in 3 days (2026-03-05)"
