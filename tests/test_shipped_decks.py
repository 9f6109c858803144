"""The bundled question banks: valid, complete per area, and renderable in the terminal and as HTML."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from prep import catalog, decks, export, formats, paths, render
from prep.cli import cli

ROOT = paths.bundled_decks()
MINIMUMS = {
    "math/linear-algebra": 40, "math/calculus-optimization": 35, "math/probability": 45, "math/statistics": 35,
    "cs": 40, "ml-workflows": 60, "classical-ml": 70, "deep-learning": 60, "architectures": 45, "nlp-llm": 45,
    "vision": 20, "rl": 20, "ml-systems": 40, "career": 30, "coding": 40,
}


@pytest.fixture(scope="module")
def shipped() -> decks.Decks:
    return decks.load(ROOT)


def test_prep_check_passes_on_the_shipped_decks() -> None:
    result = CliRunner().invoke(cli, ["check", "--decks", str(ROOT)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("files: no problems.\n")


def test_every_area_meets_its_minimum(shipped: decks.Decks) -> None:
    counts = Counter(catalog.area_of(entry) for entry in catalog.entries(shipped) for _ in range(entry.total))
    short = {area: counts.get(area, 0) for area, minimum in MINIMUMS.items() if counts.get(area, 0) < minimum}
    assert short == {}
    assert sum(counts.values()) >= 580


def test_every_card_has_exactly_one_difficulty_tag(shipped: decks.Decks) -> None:
    wrong = [note.id for note in shipped.notes if sum(t in catalog.DIFFICULTIES for t in note.tags) != 1]
    assert wrong == []


def test_both_formats_and_every_feature_are_used(shipped: decks.Decks) -> None:
    suffixes = {note.path.suffix for note in shipped.notes}
    assert {".yaml", ".md"} <= suffixes
    kinds = Counter(note.kind for note in shipped.notes)
    assert kinds["cloze"] >= 30 and kinds["reverse"] >= 5
    assert kinds["code"] >= 40  # each one proved by the check: reference passes, stub fails
    text = [note.q + note.a + note.cloze for note in shipped.notes]
    assert sum("```python" in t for t in text) >= 20
    assert sum("$" in t for t in text) >= 100
    assert any(formats.image_paths(t) for t in text)


def test_every_card_renders_in_the_terminal(shipped: decks.Decks) -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=100, force_terminal=True)
    for card in shipped.cards():
        front, back = render.card_sides(card)
        console.print(render.markdown(front))
        console.print(render.markdown(back))
        assert "\x1b]" not in render.terminal_markdown(front + back)
    assert console.file.getvalue()


def test_every_note_renders_as_html(shipped: decks.Decks) -> None:
    media = export.MediaSet(ROOT)
    for note in shipped.notes:
        for field in (note.q, note.a, note.cloze, note.extra):
            if field:
                html = export.to_html(field, note.path, media)
                assert html.strip()
                assert "$" not in html.replace("\\$", "") or "<code" in html, (note.id, html)


def test_decks_readme_is_the_current_catalogue(shipped: decks.Decks) -> None:
    assert (ROOT / "README.md").read_text(encoding="utf-8") == catalog.markdown(shipped), (
        "run: prep catalog --markdown > decks/README.md")


def test_every_math_span_uses_allowed_commands_only(shipped: decks.Decks) -> None:
    from prep import mathtext

    spans = 0
    for note in shipped.notes:
        for field in (note.q, note.a, note.cloze, note.extra):
            for segment in mathtext.split(field or ""):
                if segment.kind in ("math", "display"):
                    spans += 1
                    assert formats.forbidden_math_command(segment.body) is None, (note.id, segment.source)
    assert spans > 1000
