"""Rubric cards: `points:` in both formats, its validation, the cache, the answer view and the export."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tests.conftest import query
from prep import decks, formats, render
from prep.cache import Cache, note_from_row, note_row
from prep.cli import cli
from tests.conftest import write

YAML = """cards:
  - id: bias
    q: What is the bias-variance trade-off?
    a: Error splits into bias, variance and noise.
    points: [names bias and variance, "says noise is irreducible"]
  - id: block
    q: Why regularise?
    a: To trade a little bias for less variance.
    points:
      - less variance
      - an example such as L2
"""

MARKDOWN = """<!-- id: md-one -->
Q: What does dropout do?

A: Randomly zeroes activations while training.

Points:
- acts as an ensemble
- scaled at train time (inverted dropout)

---

<!-- id: md-two -->
Cloze: Adam keeps {{c1::first and second moments}}.

Points:
- bias correction
"""


def parse(tmp_path: Path, name: str, text: str) -> formats.Parsed:
    path = write(tmp_path / "decks" / name, text)
    return formats.parse_file(path, tmp_path / "decks")


def test_yaml_flow_and_block_lists_and_markdown_bullets(tmp_path: Path) -> None:
    parsed = parse(tmp_path, "a.yaml", YAML)
    assert parsed.problems == []
    assert [n.points for n in parsed.notes] == [["names bias and variance", "says noise is irreducible"],
                                               ["less variance", "an example such as L2"]]
    parsed = parse(tmp_path, "b.md", MARKDOWN)
    assert parsed.problems == []
    assert parsed.notes[0].points == ["acts as an ensemble", "scaled at train time (inverted dropout)"]
    assert parsed.notes[0].a == "Randomly zeroes activations while training."  # the points are not in the answer
    assert parsed.notes[1].points == ["bias correction"]


def test_check_reports_bad_points_at_their_lines(tmp_path: Path) -> None:
    many = "\n".join(f"      - point {n}" for n in range(13))
    text = ("cards:\n"
            "  - id: a\n    q: Q1\n    a: A1\n    points: just a string\n"
            "  - id: b\n    q: Q2\n    a: A2\n    points:\n      - ok\n      - ''\n      - " + "x" * 200 + "\n"
            "  - id: c\n    q: Q3\n    a: A3\n    points:\n" + many + "\n")
    problems = [(p.line, p.message) for p in parse(tmp_path, "bad.yaml", text).problems]
    assert problems[0] == (5, "points must be a list of short one-line texts, e.g. [names the bias, gives an example]")
    assert problems[1] == (11, "empty point: each point is a short line of text")
    assert problems[2] == (12, "point is 200 characters long: keep each under 200")
    assert problems[3] == (16, "13 points: at most 12 (keep the ones an answer must make)")
    assert len(problems) == 4
    markdown = "<!-- id: m -->\nQ: Q?\nA: A.\nPoints: inline\n- fine\nnot a bullet\n- \n"
    problems = [(p.line, p.message) for p in parse(tmp_path, "bad.md", markdown).problems]
    assert problems == [(4, "put each point on its own '- ' line below 'Points:'"),
                        (6, "each line under 'Points:' is one point starting with '- '")]
    problems = [(p.line, p.message) for p in parse(tmp_path, "empty.md", "<!-- id: e -->\nQ: Q?\nA: A.\nPoints:\n- \n").problems]
    assert problems == [(5, "empty point: each point is a short line of text")]


def test_prep_check_lists_point_problems(decks_dir: Path) -> None:
    write(decks_dir / "rubric.md", "<!-- id: r -->\nQ: Q?\nA: A.\nPoints:\n- one\n  two\n")
    result = CliRunner().invoke(cli, ["check"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "decks/rubric.md:6: each line under 'Points:' is one point starting with '- '" in result.output


def test_points_survive_the_cache(tmp_path: Path) -> None:
    note = parse(tmp_path, "a.yaml", YAML).notes[0]
    assert note_from_row(note_row(note), note.path).points == note.points
    root = tmp_path / "decks"
    with Cache(tmp_path / "cache") as cache:
        decks.load(root, cache)
    with Cache(tmp_path / "cache") as cache:  # second load: notes come from the cache
        card = decks.load(root, cache).card("bias")
    assert card is not None and card.note.points == ["names bias and variance", "says noise is irreducible"]


def test_answer_view_ends_with_a_checklist(tmp_path: Path) -> None:
    cards = [c for n in parse(tmp_path, "b.md", MARKDOWN).notes for c in decks.cards_of(n)]
    front, back = render.card_sides(cards[0])
    assert "acts as an ensemble" not in front
    assert back.endswith("**Key points**\n\n- ☐ acts as an ensemble\n- ☐ scaled at train time (inverted dropout)")
    assert render.card_sides(cards[1])[1].endswith("- ☐ bias correction")
    assert "Key points" not in render.card_sides(cards[0], with_points=False)[1]
    assert render.points_checklist(["a", "b"], {1}) == "**Key points**\n\n- (1) ☐ a\n- (2) ☑ b"


def test_export_puts_points_in_the_answer(tmp_path: Path) -> None:
    from prep.export import answer_sources

    notes = parse(tmp_path, "b.md", MARKDOWN).notes
    assert answer_sources(notes[0])[1] == ("Randomly zeroes activations while training.\n\n**Key points**\n\n"
                                           "- acts as an ensemble\n- scaled at train time (inverted dropout)")
    assert answer_sources(notes[1]) == [notes[1].cloze, "**Key points**\n\n- bias correction"]
    write(tmp_path / "decks" / "b.md", MARKDOWN)
    out = tmp_path / "out.apkg"
    result = CliRunner().invoke(cli, ["export", "--decks", str(tmp_path / "decks"), "-o", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import sqlite3
    import zipfile

    with zipfile.ZipFile(out) as package:
        (tmp_path / "col").write_bytes(package.read("collection.anki2"))
    fields = [row[0] for row in query(tmp_path / "col", "SELECT flds FROM notes")]
    assert any("<li>acts as an ensemble</li>" in f for f in fields)


def test_prep_review_shows_the_points_under_the_answer(decks_dir: Path, isolated: Path) -> None:
    import pexpect

    from tests.test_drill import screen, spawn

    for path in decks_dir.rglob("*.*"):
        if path.suffix in (".yaml", ".md"):
            path.unlink()
    write(decks_dir / "b.md", MARKDOWN)
    child = spawn(decks_dir, isolated)
    text = screen(child, "show answer")
    assert "What does dropout do?" in text and "acts as an ensemble" not in text
    child.send(" ")
    text = screen(child, "1-4: rate")
    assert "Randomly zeroes activations while training." in text
    assert "Key points" in text and "☐ acts as an ensemble" in text and "☐ scaled at train time" in text
    child.send("q")
    child.expect(pexpect.EOF)
