"""Terminal rendering of card sides, and the screen cache that lets `prep review` skip re-rendering."""

from __future__ import annotations

import io
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
