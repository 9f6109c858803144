"""The output sanitiser, and every command printing hostile names from deck files as plain visible text."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from prep import render, sanitize
from prep.cli import cli
from prep.model import Card, Note
from tests.conftest import write

NOW = "2026-03-02T10:00:00+00:00"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u200f", "\u061c")


def test_visible_shows_every_control_and_bidi_character_as_an_escape() -> None:
    assert sanitize.visible("a\x1b[31mb\x07\x9bc\nd\te\x7f") == "a\\x1b[31mb\\x07\\x9bc\\x0ad\\x09e\\x7f"
    assert sanitize.visible("ab\u202ecd\u2066\u2069\u200e\u200f\u061c") == \
        "ab<U+202E>cd<U+2066><U+2069><U+200E><U+200F><U+061C>"
    assert sanitize.visible("bad\udcffname") == "bad<U+DCFF>name"  # an undecodable file name
    assert sanitize.visible("one\x1b\ntwo", multiline=True) == "one\\x1b\ntwo"
    assert sanitize.visible("Zürich · ∑ 日本") == "Zürich · ∑ 日本"  # ordinary Unicode is left alone


def test_text_removes_them_but_keeps_layout() -> None:
    assert sanitize.text("a\x1b]0;t\x07b\u202e\tc\nd\x85") == "a]0;tb\tc\nd"


def test_markup_escapes_rich_tags() -> None:
    from rich.console import Console

    out = io.StringIO()
    name = "Math [/x] [link=https://evil.example]click[/link] [blink]\x1b[5m"
    Console(file=out, force_terminal=True, highlight=False, width=200).print(f"[bold]{sanitize.markup(name)}[/]")
    printed = out.getvalue()
    assert printed.startswith("\x1b[1m") and printed.endswith("\x1b[0m\n")  # the one style asked for
    printed = printed[4:-5]
    assert "Math [/x] [link=https://evil.example]click[/link] [blink]\\x1b[5m" in printed
    _assert_safe(printed)  # no hyperlink, no blinking


def test_review_header_shows_a_deck_name_with_markup_as_text() -> None:
    from rich.console import Console

    note = Note(id="e", deck="Math [/x] stuff \u202e", path=Path("x.md"), line=1, q="Q", a="A")
    out = io.StringIO()
    Console(file=out, width=200).print(render.header(Card("e", note, ""), 0, 1))
    assert "Math [/x] stuff <U+202E>" in out.getvalue()


EVIL_DECK = "Math [/x] stuff [link=https://evil.example]x[/link] [blink]\\e]0;pwned\\a \\u202Egnp.exe"


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    root = tmp_path / "work" / "decks"
    write(root / "evil.yaml", f'deck: "{EVIL_DECK}"\ncards:\n  - id: ok-1\n    q: Q?\n    a: A.\n    tags: [easy]\n')
    write(root / "bad.yaml", 'cards:\n  - id: "bad\\e[31mid\\u202E"\n    q: Q?\n    a: A.\n')
    return root


def _assert_safe(output: str) -> None:
    for char in RAW:
        assert char not in output, (char, output)


@pytest.mark.parametrize("command", [["catalog"], ["stats"], ["plan", "--interview", "2026-04-01"], ["check"], ["decks"],
                                     ["search", "Q"], ["show", "ok-1"]])
def test_commands_print_hostile_names_as_visible_text(hostile: Path, command: list[str]) -> None:
    result = CliRunner().invoke(cli, command, env={"PREP_NOW": NOW, "COLUMNS": "300"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    _assert_safe(result.output)
    if command[0] == "check":
        assert result.exit_code == 1
        assert "decks/bad.yaml:2: bad id 'bad\\x1b[31mid<U+202E>'" in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "Math [/x] stuff [link=https://evil.example]x[/link] [blink]\\x1b]0;pwned\\x07 <U+202E>gnp.exe" \
            in result.output.replace("\n", "")


@pytest.mark.parametrize("command", [["config"], ["doctor"], ["plan", "--interview", "2026-04-01", "--save"],
                                     ["init", "elsewhere"]])
def test_paths_with_control_characters_are_printed_as_escapes(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home\x1b]0;pwned\x07\u202e"  # a folder name a stranger's archive or script chose
    root = write(tmp_path / "work" / "decks" / "a.yaml", "cards:\n  - {id: a1, q: 'Q?', a: 'A.'}\n").parent
    env = {"PREP_NOW": NOW, "PREP_HOME": str(home), "PREP_DECKS": str(root)}
    if command[0] == "doctor":
        assert CliRunner().invoke(cli, ["suspend", "a1"], env=env).exit_code == 0  # a database to check
    result = CliRunner().invoke(cli, command, env=env)
    assert result.exit_code == 0, result.output
    _assert_safe(result.output)
    assert "home\\x1b]0;pwned\\x07<U+202E>" in result.output
