"""Hostile and random input: fuzzed parsers never crash, card text cannot reach the terminal raw."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prep import cloze, decks, formats, mathtext, render
from prep.model import Card, Note

FUZZ = settings(max_examples=int(os.environ.get("PREP_FUZZ_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Text built from the characters that matter to the parsers, plus anything at all.
TOKENS = list("{}[]:-#$`\\|>&*!\n ~'\"cqaQAidtgs1230<>") + [
    "Q: ", "A: ", "Cloze: ", "Extra: ", "---", "```", "<!-- id: x -->", "<!-- id: y, tags: [a] -->", "{{c1::",
    "}}", "$$", "  - ", "cards:", "id: ", "q: ", "a: ", "cloze: ", "&a ", "*a", "\n    ", "![i](x.png)"]
SYNTAX = st.lists(st.sampled_from(TOKENS), max_size=120).map("".join) | st.text(max_size=200)


def _problems_are_located(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    parsed = formats.parse_file(path, tmp_path)
    notes, problems = parsed.notes, parsed.problems
    lines = text.count("\n") + 2
    for problem in problems:
        assert problem.path.endswith(name)
        assert 1 <= problem.line <= lines, (problem, text)
        assert problem.message
    for note in notes:
        assert note.id and (note.q and note.a or note.cloze)
        decks.cards_of(note)


@FUZZ
@given(text=SYNTAX)
def test_yaml_parser_never_crashes(tmp_path: Path, text: str) -> None:
    _problems_are_located(tmp_path, "fuzz.yaml", text)


@FUZZ
@given(text=SYNTAX)
def test_markdown_parser_never_crashes(tmp_path: Path, text: str) -> None:
    _problems_are_located(tmp_path, "fuzz.md", text)


@FUZZ
@given(text=SYNTAX)
def test_cloze_and_math_never_crash_unexpectedly(text: str) -> None:
    try:
        numbers = cloze.numbers(text)
    except cloze.ClozeError:
        numbers = []
    for number in numbers:
        assert cloze.render(text, number, reveal=False)
    try:
        segments = mathtext.split(text)
    except mathtext.MathError as error:
        assert 0 <= error.line <= text.count("\n")
    else:
        assert "".join(s.source for s in segments) == text


def test_card_text_cannot_send_escape_sequences_to_the_terminal(tmp_path: Path) -> None:
    from rich.console import Console

    evil = "Title\x1b]0;pwned\x07 and \x1b[2J clear \x9b31m and $\\alpha\x1b[5m$"
    note = Note(id="e", deck="D\x1b[31m", path=tmp_path / "x.md", line=1, q=evil, a=evil)
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=80)
    front, back = render.card_sides(Card("e", note, ""))
    console.print(render.header(Card("e", note, ""), 0, 1))
    console.print(render.markdown(front))
    console.print(render.markdown(back))
    printed = output.getvalue()
    assert "pwned" in printed  # the text is shown...
    assert "\x1b]" not in printed and "\x1b[2J" not in printed and "\x9b" not in printed and "\x07" not in printed
    assert "\x1b[31m" not in printed.replace("\x1b[31m", "") or "D[31m" not in printed  # ...its escapes are not



# Found by fuzzing: besides its documented LatexWalkerError, pylatexenc raises IndexError, KeyError,
# AttributeError, TypeError and RecursionError (in that order here) on odd input. A card with such
# math must still show its source, not crash the review or the export.
ODD_LATEX = ["(&]a#\\]\\verb", "\\begin{\\newcommand\\^_{\\frac\\sqrt\\end{",
             "\\def\\(\\\\\\end{{array}\\frac\\def\\href\\)$\\char\\url1\\newcommand",
             "\\input\\ensuremath\\ensuremath\\item~(\\frac\\input\\hspace\\($", "\\frac{" * 600]


@pytest.mark.parametrize("latex", ODD_LATEX)
def test_odd_latex_falls_back_to_its_source(latex: str) -> None:
    assert mathtext.latex_to_unicode(latex) == latex
