"""Parsing both deck formats into notes, and validation messages with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from prep import decks
from tests.conftest import write


def test_both_formats_give_notes_with_decks_tags_and_lines(decks_dir: Path) -> None:
    collection = decks.load(decks_dir)
    assert collection.problems == []
    by_id = {note.id: note for note in collection.notes}
    bayes = by_id["prob-bayes-rule"]
    assert bayes.deck == "Math::Probability"
    assert bayes.tags == ["probability", "easy"]
    assert bayes.line == 4
    assert bayes.a.startswith("$P(A \\mid B)")
    sigmoid = by_id["ml-sigmoid-code"]
    assert sigmoid.deck == "ML::Basics"
    assert sigmoid.tags == ["ml", "medium"]
    assert "```python" in sigmoid.q and "print(round" in sigmoid.q
    assert sigmoid.a.startswith("`0.5`")
    assert by_id["prob-variance"].kind == "cloze"
    assert by_id["prob-pmf"].kind == "reverse"


def test_cards_in_deck_order_with_variants(decks_dir: Path) -> None:
    ids = [card.id for card in decks.load(decks_dir).cards()]
    # files in sorted path order: math/ before ml/, cards in file order
    assert ids == ["prob-bayes-rule", "prob-variance/c1", "prob-variance/c2", "prob-pmf", "prob-pmf/rev",
                   "ml-overfitting", "ml-sigmoid-code", "ml-curve"]


@pytest.mark.parametrize("path, expected", [
    ("ml/math/probability.yaml", "ML::Math::Probability"),
    ("classical-ml/k_means.md", "Classical ML::K Means"),
    ("nlp-llm/rag.yaml", "NLP LLM::RAG"),
])
def test_deck_names_come_from_the_path(tmp_path: Path, path: str, expected: str) -> None:
    assert decks.deck_name_for(tmp_path / path, tmp_path) == expected


def test_deck_field_overrides_the_path(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "deck: Custom::Name\ncards:\n  - {id: x, q: Q?, a: A}\n")
    write(tmp_path / "b.md", "---\ndeck: Other\n---\n<!-- id: y -->\nQ: Why?\nA: Because.\n")
    notes = decks.load(tmp_path).notes
    assert [(n.id, n.deck) for n in notes] == [("x", "Custom::Name"), ("y", "Other")]


def test_markdown_card_may_omit_the_separator_and_carries_code_lines(tmp_path: Path) -> None:
    write(tmp_path / "d.md", "<!-- id: a -->\nQ: one\nA: first\n<!-- id: b -->\nQ: two\n\n"
          "```text\nQ: not a card\n---\nA: still code\n```\nA: second\n")
    notes = decks.load(tmp_path).notes
    assert [(n.id, n.a) for n in notes] == [("a", "first"), ("b", "second")]
    assert "Q: not a card\n---\nA: still code" in notes[1].q


def load_problems(tmp_path: Path, name: str, text: str) -> list[str]:
    write(tmp_path / name, text)
    collection = decks.load(tmp_path)
    return [f"{Path(p.path).name}:{p.line}: {p.message}" for p in collection.problems]


BAD_DECKS = [
    ("syntax.yaml", "cards:\n  - id: a\n    q: [unclosed\n",
     "syntax.yaml:4: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence)"),
    ("typo.yaml", "cards:\n  - id: a\n    qestion: What?\n    a: This.\n",
     "typo.yaml:3: unknown field 'qestion' (did you mean 'q'?); allowed: id, q, a, cloze, extra, tags, reverse"),
    ("filefield.yaml", "tag: [x]\ncards:\n  - {id: a, q: Q, a: A}\n",
     "filefield.yaml:1: unknown field 'tag' (did you mean 'tags'?); allowed: deck, tags, cards"),
    ("noanswer.yaml", "cards:\n  - id: a\n    q: What?\n",
     "noanswer.yaml:2: missing or empty answer (a)"),
    ("emptyq.yaml", "cards:\n  - id: a\n    q: ''\n    a: x\n",
     "emptyq.yaml:3: missing or empty question (q)"),
    ("type.yaml", "cards:\n  - id: a\n    q: [1, 2]\n    a: x\n",
     "type.yaml:3: 'q' must be text, not a list"),
    ("idtype.yaml", "cards:\n  - id: 12\n    q: Q\n    a: x\n",
     "idtype.yaml:2: id must be text; quote it: id: \"12\""),
    ("reverse.yaml", "cards:\n  - id: a\n    q: Q\n    a: x\n    reverse: maybe\n",
     "reverse.yaml:5: reverse must be true or false"),
    ("cards.yaml", "cards: nope\n", "cards.yaml:1: 'cards' must be a list of cards (each starting with '- ')"),
    ("cloze.yaml", "cards:\n  - id: a\n    cloze: The {{c1::softmax} function\n",
     "cloze.yaml:3: unclosed cloze deletion c1 (missing }})"),
    ("cloze2.yaml", "cards:\n  - id: a\n    cloze: No deletion here\n",
     "cloze2.yaml:3: cloze text has no deletion (write {{c1::text}})"),
    ("cloze3.yaml", "cards:\n  - id: a\n    cloze: 'The {{c1:softmax}}'\n",
     "cloze3.yaml:3: malformed cloze near '{{c1:softmax' (write {{c1::text}})"),
    ("math.yaml", "cards:\n  - id: a\n    q: Why?\n    a: |\n      first line\n      costs $5 a month\n",
     "math.yaml:6: unmatched $ (close the math with $, or write \\$ for a dollar sign)"),
    ("display.yaml", "cards:\n  - id: a\n    q: Why?\n    a: |\n      $$\n      x^2\n",
     "display.yaml:5: unclosed $$ (display math)"),
    ("alias.yaml", "x: &a [lol, lol]\ncards:\n  - id: a\n    q: *a\n    a: x\n",
     "alias.yaml:4: YAML aliases (*name) are not allowed in deck files"),
    ("noid.yaml", "cards:\n  - q: What?\n    a: That.\n",
     "noid.yaml:2: missing id (run 'prep check --fix' to add one)"),
    ("badid.yaml", "cards:\n  - id: has space\n    q: What?\n    a: That.\n",
     "badid.yaml:2: bad id 'has space': use letters, digits, '-', '_' or '.' (at most 100)"),
    ("tags.yaml", "cards:\n  - id: a\n    q: What?\n    a: That.\n    tags: ['two words']\n",
     "tags.yaml:5: tag 'two words' must be one word (no spaces or quotes)"),
    ("img.md", "<!-- id: a -->\nQ: See ![x](missing.png)\nA: ok\n",
     "img.md:2: missing image file 'missing.png'"),
    ("escape.md", "<!-- id: a -->\nQ: What?\nA: ![x](../../etc/passwd)\n",
     "escape.md:3: image path '../../etc/passwd' leaves the decks folder"),
    ("url.md", "<!-- id: a -->\nQ: What?\nA: <img src=\"https://evil.example/x.png\">\n",
     "url.md:3: image 'https://evil.example/x.png' must be a file path relative to the deck file, not a URL"),
    ("front.md", "---\ndeck: [a\n---\nQ: x\nA: y\n",
     "front.md:3: front matter: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence)"),
    ("meta.md", "<!-- id: a, tagz: [x] -->\nQ: x\nA: y\n",
     "meta.md:1: unknown field 'tagz' (did you mean 'tags'?); allowed: id, tags, reverse"),
    ("noanswer.md", "<!-- id: a -->\nQ: x\n",
     "noanswer.md:2: question without an answer (add an A: line)"),
    ("stray.md", "<!-- id: a -->\nQ: x\nA: y\n\n---\nforgot the Q\n",
     "stray.md:6: text outside a card (start a card with Q: or Cloze:, or end the previous one later)"),
    ("orphan.md", "<!-- id: a -->\n\nplain text\n",
     "orphan.md:1: metadata comment must be followed by a Q: or Cloze: line"),
    ("utf.yaml", None, "utf.yaml:2: file is not valid UTF-8"),
]


@pytest.mark.parametrize("name, text, expected", BAD_DECKS, ids=[b[0] for b in BAD_DECKS])
def test_bad_deck_gets_exact_message(tmp_path: Path, name: str, text: str | None, expected: str) -> None:
    if text is None:
        (tmp_path / name).write_bytes(b"cards:\n  - id: a\xff\n")
        problems = [f"{Path(p.path).name}:{p.line}: {p.message}" for p in decks.load(tmp_path).problems]
    else:
        problems = load_problems(tmp_path, name, text)
    assert problems == [expected]


def test_duplicate_ids_and_questions_across_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "cards:\n  - id: same\n    q: What is a tensor?\n    a: x\n")
    write(tmp_path / "b.md", "<!-- id: same -->\nQ: Other?\nA: y\n\n<!-- id: other -->\nQ: What is a   TENSOR?\nA: z\n")
    problems = [f"{Path(p.path).name}:{p.line}: {p.message}" for p in decks.load(tmp_path).problems]
    assert problems == [
        f"b.md:1: duplicate id 'same' (also at {decks.display_path(tmp_path / 'a.yaml')}:2)",
        f"b.md:5: duplicate question (also at {decks.display_path(tmp_path / 'a.yaml')}:2)",
    ]


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 12):
        levels.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    write(tmp_path / "bomb.yaml", "\n".join(levels) + "\ncards: *a11\n")
    problems = decks.load(tmp_path).problems
    assert [p.message for p in problems] == ["YAML aliases (*name) are not allowed in deck files"]
