"""Loading decks: both formats into notes, validation messages with file:line, and a cached index that is never stale."""

from __future__ import annotations

from pathlib import Path

import os

import pytest

from prep import decks, formats, paths
from prep.cache import Cache
from prep.config import Config
from prep.review import Session
from prep.store import Store
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
    assert formats.deck_name_for(tmp_path / path, tmp_path) == expected


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


def test_an_answer_written_as_empty_makes_a_front_only_card(tmp_path: Path) -> None:
    write(tmp_path / "d.yaml", 'cards:\n  - id: y1\n    q: Name three optimizers\n    a: ""\n'
          "  - id: y2\n    q: Say it aloud\n    a: '  '\n    points: [names Adam]\n")
    write(tmp_path / "m.md", '<!-- id: m1 -->\nQ: Recite the chain rule\nA: ""\n\n---\n\n'
          '<!-- id: m2 -->\nQ: Quoted\nA: "" is an empty string\n')
    collection = decks.load(tmp_path)
    assert collection.problems == []
    by_id = {note.id: note for note in collection.notes}
    assert [(by_id[i].a, by_id[i].kind) for i in ("y1", "y2", "m1")] == [("", "basic")] * 3
    assert by_id["y2"].points == ["names Adam"]
    assert by_id["m2"].a == '"" is an empty string'  # only `A: ""` alone on its line means no answer


def load_problems(tmp_path: Path, name: str, text: str) -> list[str]:
    write(tmp_path / name, text)
    collection = decks.load(tmp_path)
    return [f"{Path(p.path).name}:{p.line}: {p.message}" for p in collection.problems]


BAD_DECKS = [
    ("syntax.yaml", "cards:\n  - id: a\n    q: [unclosed\n",
     "syntax.yaml:4: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence)"),
    ("typo.yaml", "cards:\n  - id: a\n    qestion: What?\n    a: This.\n",
     "typo.yaml:3: unknown field 'qestion' (did you mean 'q'?); allowed: id, q, a, cloze, extra, tags, reverse, points, guid, stub, solution, tests, hints, time"),
    ("filefield.yaml", "tag: [x]\ncards:\n  - {id: a, q: Q, a: A}\n",
     "filefield.yaml:1: unknown field 'tag' (did you mean 'tags'?); allowed: deck, tags, cards"),
    ("noanswer.yaml", "cards:\n  - id: a\n    q: What?\n",
     "noanswer.yaml:2: missing or empty answer (a)"),
    ("nullanswer.yaml", "cards:\n  - id: a\n    q: What?\n    a:\n",  # `a:` alone: forgotten, not empty
     "nullanswer.yaml:4: missing or empty answer (a)"),
    ("emptyreverse.yaml", "cards:\n  - id: a\n    q: What?\n    a: ''\n    reverse: true\n",
     "emptyreverse.yaml:5: reverse needs an answer: its reverse side asks it"),
    ("blankanswer.md", "<!-- id: a -->\nQ: What?\nA:\n",
     "blankanswer.md:3: missing or empty answer (a)"),
    ("emptythentext.md", '<!-- id: a -->\nQ: What?\nA: ""\nThe real answer, forgotten below.\n',  # was the answer '""\n...'
     'emptythentext.md:4: A: "" means no answer, yet text follows; remove the "" or the text'),
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
    ("sound.md", "<!-- id: a -->\nQ: Say it\nA: [sound:media/gone.mp3]\n",
     "sound.md:3: missing sound file 'media/gone.mp3'"),
    ("link.md", "<!-- id: a -->\nQ: What?\nA: see [the notes](../../etc/passwd)\n",
     "link.md:3: linked path '../../etc/passwd' leaves the decks folder"),
    ("video.md", "<!-- id: a -->\nQ: What?\nA: <video src=\"clip.mp4\"></video>\n",
     "video.md:3: missing linked file 'clip.mp4'"),
    ("escape.md", "<!-- id: a -->\nQ: What?\nA: ![x](../../etc/passwd)\n",
     "escape.md:3: image path '../../etc/passwd' leaves the decks folder"),
    ("url.md", "<!-- id: a -->\nQ: What?\nA: <img src=\"https://evil.example/x.png\">\n",
     "url.md:3: image 'https://evil.example/x.png' must be a file path relative to the deck file, not a URL"),
    ("front.md", "---\ndeck: [a\n---\nQ: x\nA: y\n",
     "front.md:3: front matter: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence)"),
    ("meta.md", "<!-- id: a, tagz: [x] -->\nQ: x\nA: y\n",
     "meta.md:1: unknown field 'tagz' (did you mean 'tags'?); allowed: id, tags, reverse, guid"),
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
        f"b.md:1: duplicate id 'same' (also at {paths.display_path(tmp_path / 'a.yaml')}:2)",
        f"b.md:5: duplicate question (also at {paths.display_path(tmp_path / 'a.yaml')}:2)",
    ]


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 12):
        levels.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    write(tmp_path / "bomb.yaml", "\n".join(levels) + "\ncards: *a11\n")
    problems = decks.load(tmp_path).problems
    assert [p.message for p in problems] == ["YAML aliases (*name) are not allowed in deck files"]


_OPEN: list[Cache] = []


@pytest.fixture(autouse=True)
def _close_caches():
    yield
    while _OPEN:
        _OPEN.pop().close()


def load(root: Path, cache: Path) -> decks.Decks:
    """The decks as a command loads them, with the cache in `cache` (kept open until the test ends)."""
    _OPEN.append(Cache(cache))
    return decks.load(root, _OPEN[-1])


def cards(root: Path, cache: Path) -> list[tuple[str, str, str]]:
    """(card id, deck, question) of every card, the question read the way `prep review` reads it."""
    found = load(root, cache)
    shown = []
    for card_id, deck in found.cards_in_scope():
        card = found.card(card_id)
        assert card is not None
        shown.append((card_id, deck, card.note.q or card.note.cloze))
    return shown


def no_full_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any full parse of the decks fail the test: the snapshot must answer alone."""
    def refuse(*args, **kwargs):
        raise AssertionError("the decks were parsed again")

    monkeypatch.setattr(formats, "parse_bytes", refuse)
    monkeypatch.setattr(formats, "parse_file", refuse)


def test_unchanged_decks_are_answered_from_the_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.', reverse: true}\n")
    write(root / "sub" / "b.md", "<!-- id: b1, tags: [hard] -->\nCloze: {{c1::Two}} and {{c2::three}}.\n")
    first = cards(root, cache)
    assert first == [("a1", "A", "First?"), ("a1/rev", "A", "First?"), ("b1/c1", "Sub::B", "{{c1::Two}} and {{c2::three}}."),
                     ("b1/c2", "Sub::B", "{{c1::Two}} and {{c2::three}}.")]
    no_full_load(monkeypatch)
    assert cards(root, cache) == first
    assert load(root, cache).cards_in_scope(tag="hard") == [("b1/c1", "Sub::B"), ("b1/c2", "Sub::B")]
    assert load(root, cache).cards_in_scope(deck="sub") == [("b1/c1", "Sub::B"), ("b1/c2", "Sub::B")]


def test_edit_rename_delete_and_new_file_between_runs(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    path = write(root / "a.yaml", "cards:\n  - {id: a1, q: 'Cat?', a: 'One.'}\n")
    write(root / "b.md", "<!-- id: b1 -->\nQ: Second?\nA: Two.\n")
    assert cards(root, cache) == [("a1", "A", "Cat?"), ("b1", "B", "Second?")]
    stat = path.stat()
    write(path, "cards:\n  - {id: a1, q: 'Dog?', a: 'One.'}\n")  # same size, and the old timestamp below
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cards(root, cache) == [("a1", "A", "Dog?"), ("b1", "B", "Second?")]
    (root / "b.md").rename(root / "c.md")
    assert cards(root, cache) == [("a1", "A", "Dog?"), ("b1", "C", "Second?")]
    path.unlink()
    assert cards(root, cache) == [("b1", "C", "Second?")]
    write(root / "a0.md", "<!-- id: z9 -->\nQ: Zero?\nA: 0.\n")
    assert cards(root, cache) == [("z9", "A0", "Zero?"), ("b1", "C", "Second?")]


def test_duplicates_across_files_and_problems_survive_the_snapshot(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'Same?', a: 'One.'}\n  - {id: a2, qq: 'x', a: 'y'}\n")
    write(root / "b.md", "<!-- id: a1 -->\nQ: Other?\nA: Two.\n")
    first = load(root, cache)
    second = load(root, cache)
    assert [str(p) for p in second.problems] == [str(p) for p in first.problems]
    assert [p.line for p in second.problems] == [3, 1]
    assert second.cards_in_scope() == [("a1", "A")]


def test_a_missing_image_is_noticed_though_no_deck_file_changed(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "img.png", "png")
    write(root / "a.md", "<!-- id: a1 -->\nQ: See ![x](img.png)\nA: ok\n")
    assert load(root, cache).problems == []
    (root / "img.png").unlink()
    assert [p.message for p in load(root, cache).problems] == ["missing image file 'img.png'"]
    assert load(root, cache).cards_in_scope() == []


def test_problem_paths_follow_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "bad.yaml", "cards:\n  - {id: x, q: 'Q?'}\n")
    monkeypatch.chdir(tmp_path)
    assert [p.path for p in load(root, cache).problems] == ["decks/bad.yaml"]
    monkeypatch.chdir(root)
    assert [p.path for p in load(root, cache).problems] == ["bad.yaml"]


def test_corrupt_or_foreign_index_entries_are_rebuilt(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.'}\n")
    expected = cards(root, cache)
    import marshal
    import sqlite3

    from contextlib import closing

    with closing(sqlite3.connect(cache / "cache.db")) as db:
        (key,) = db.execute("SELECT key FROM indexes").fetchone()
    for payload in (b"", b"\x00garbage" * 10, marshal.dumps((["a.yaml"], [], ["a1"], [], [], [], ["a1"], [0])),
                    marshal.dumps("nonsense"), marshal.dumps((1, 2))):  # with the right key
        with closing(sqlite3.connect(cache / "cache.db")) as db, db:
            db.execute("UPDATE indexes SET data = ?", (payload,))
            db.execute("UPDATE files SET data = ?", (payload,))
        assert cards(root, cache) == expected


def test_a_file_changed_during_the_load_is_not_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    old, new = "cards:\n  - {id: a1, q: 'Old?', a: 'One.'}\n", "cards:\n  - {id: b1, q: 'New?', a: 'One.'}\n"
    path = write(root / "a.yaml", old)
    real_digest = formats.file_digest
    calls = []

    def edited_after_the_first_read(data: bytes):
        calls.append(data)
        if len(calls) == 1:
            write(path, new)  # the author saves just after prep has read the file once
        return real_digest(data)

    monkeypatch.setattr(formats, "file_digest", edited_after_the_first_read)
    assert load(root, cache).notes[0].q == "New?"
    monkeypatch.setattr(formats, "file_digest", real_digest)
    write(path, old)  # ...and undoes the edit
    assert cards(root, cache) == [("a1", "A", "Old?")]  # nothing cached under the old bytes' digest says New


def test_a_card_deleted_during_a_session_is_left_out(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    path = write(root / "a.yaml", "cards:\n  - {id: a1, q: 'One?', a: '1.'}\n  - {id: a2, q: 'Two?', a: '2.'}\n")
    load(root, cache)
    found = load(root, cache)  # from the snapshot: texts are read when shown
    write(path, "cards:\n  - {id: a2, q: 'Two?', a: '2.'}\n")
    from datetime import datetime, timezone

    with Store(tmp_path / "p.db") as store:
        session = Session(store, found.ids(), found.card, Config(),
                          lambda: datetime(2026, 3, 2, 10, tzinfo=timezone.utc))
        card = session.next_card()
        assert card is not None and card.id == "a2"


def test_texts_come_from_the_snapshot_until_the_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    path = write(root / "a.yaml", "cards:\n  - {id: a1, q: 'One?', a: '1.', tags: [x]}\n")
    expected = cards(root, cache)
    real_parse = formats.parse_bytes

    def refuse(*args, **kwargs):
        raise AssertionError("parsed although the snapshot's texts fit")

    monkeypatch.setattr(formats, "parse_bytes", refuse)
    monkeypatch.setattr(formats, "parse_file", refuse)
    found = load(root, cache)
    card = found.card("a1")
    assert card is not None and (card.note.q, card.note.a, card.note.tags, card.note.line, card.note.path) == (
        "One?", "1.", ["x"], 2, path)
    monkeypatch.setattr(formats, "parse_bytes", real_parse)
    found = load(root, cache)
    write(path, "cards:\n  - {id: a1, q: 'One, edited?', a: '1.'}\n")  # edited while a session runs
    assert found.card("a1").note.q == "One, edited?"
    write(path, "cards:\n  - {id: a1, q: 'One?', a: '1.', tags: [x]}\n")
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(cache / "cache.db")) as db, db:
        db.execute("UPDATE files SET data = ?", (b"\x00" * 64,))  # damaged texts: parsed instead
    assert cards(root, cache) == expected


def deck_tree_like_the_shipped_one(root: Path) -> decks.Decks:
    """Deck names from folders and one `deck:` that differs from its file name, as in decks/."""
    card = "cards:\n  - {{id: {0}, q: '{0}?', a: 'A.'}}\n"
    for path in ("math/probability/bayes.yaml", "math/statistics/p-values.yaml", "nlp-llm/alignment-rlhf-dpo.yaml",
                 "cs/python-gotchas.yaml", "cs/data-structures.yaml", "cs/dynamic-programming.yaml"):
        write(root / path, card.format(path.replace("/", "-").split(".")[0]))
    write(root / "cs" / "numpy-pandas.yaml", "deck: CS::NumPy and Pandas\n" + card.format("np"))
    return decks.load(root)


def test_deck_by_full_name_folder_or_unique_prefixes(tmp_path: Path) -> None:
    found = deck_tree_like_the_shipped_one(tmp_path / "decks")
    assert found.resolve_deck("Math::Probability") == ["Math::Probability::Bayes"]
    assert found.resolve_deck("math/probability") == ["Math::Probability::Bayes"]
    assert found.resolve_deck("MATH") == ["Math::Probability::Bayes", "Math::Statistics::P Values"]
    assert found.resolve_deck("nlp-llm/alignment") == ["NLP LLM::Alignment RLHF DPO"]
    assert found.resolve_deck("nlp::align") == ["NLP LLM::Alignment RLHF DPO"]
    assert found.resolve_deck("cs::py") == ["CS::Python Gotchas"]
    assert found.resolve_deck("cs/numpy") == found.resolve_deck("cs::numpy and") == ["CS::NumPy and Pandas"]
    assert found.ids("cs::py") == ["cs-python-gotchas"]
    assert [note.id for note in found.notes_in_scope("nlp")] == ["nlp-llm-alignment-rlhf-dpo"]


def test_unknown_or_ambiguous_deck_is_an_error_naming_close_decks(tmp_path: Path) -> None:
    found = deck_tree_like_the_shipped_one(tmp_path / "decks")
    with pytest.raises(decks.UnknownDeck, match="ambiguous.*'CS::Data Structures', 'CS::Dynamic Programming'"):
        found.resolve_deck("cs::d")
    with pytest.raises(decks.UnknownDeck, match="no deck matches --deck 'mathh' \\(did you mean 'Math'"):
        found.resolve_deck("mathh")
    with pytest.raises(decks.UnknownDeck, match="no deck matches --deck 'cs::zzz'"):
        found.cards_in_scope("cs::zzz")


def test_an_anki_guid_is_kept_in_both_formats_and_validated(tmp_path: Path) -> None:
    root = tmp_path / "decks"
    root.mkdir()
    (root / "a.yaml").write_text("cards:\n  - id: anki-1\n    q: Q?\n    a: A.\n    guid: \"o#Xk/4'B`|<>\"\n"
                                 "  - id: anki-2\n    q: Q2?\n    a: A2.\n    guid: has space\n", encoding="utf-8")
    (root / "b.md").write_text("<!-- id: anki-3, guid: \"e\\\\x\" -->\nQ: Third?\nA: Yes.\n", encoding="utf-8")
    loaded = decks.load(root)
    assert {n.id: n.guid for n in loaded.notes} == {"anki-1": "o#Xk/4'B`|<>", "anki-3": "e\\x"}
    assert [str(p) for p in loaded.problems] == [
        f"{paths.display_path(root / 'a.yaml')}:9: guid must be an Anki note GUID: up to 100 printable ASCII "
        "characters, no spaces"]


def test_a_folder_name_that_is_not_utf8_gives_a_deck_name_every_encoder_takes(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from prep import export

    root = tmp_path / "decks"
    write(Path(os.fsdecode(bytes(root) + b"/caf\xe9")) / "x.yaml", "cards:\n  - {id: b1, q: 'Q?', a: 'A.'}\n")
    with Cache(tmp_path / "cache") as cache:
        loaded = decks.load(root, cache)
        assert [note.deck for note in loaded.notes] == ["Caf\ufffd::X"]
        result = export.export(loaded, tmp_path / "out.apkg", datetime(2026, 3, 2, tzinfo=timezone.utc))
    assert result.notes == 1


def test_a_field_too_long_to_draw_is_a_problem_and_the_card_is_left_out(tmp_path: Path) -> None:
    root = tmp_path / "decks"
    write(root / "a.yaml", "cards:\n  - {id: ok, q: 'Q?', a: 'A.'}\n"
          f"  - id: huge\n    q: Q?\n    a: \"{'`x` ' * 30_000}\"\n")
    loaded = decks.load(root)
    assert loaded.ids() == ["ok"]
    assert [str(p) for p in loaded.problems] == [
        f"{root / 'a.yaml'}:5: 'a' is 120,000 bytes, over the limit of 100,000 bytes a field may hold"]
