"""The card index snapshot never serves stale cards: edits, renames, deletions, images, corruption, races."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prep import decks, index
from prep.config import Config
from prep.review import Session
from prep.store import Store
from tests.conftest import write


def cards(root: Path, cache: Path) -> list[tuple[str, str, str]]:
    """(card id, deck, question) of every card, the question read the way `prep review` reads it."""
    found = index.load(root, cache_dir=cache)
    shown = []
    for card_id, deck in found.cards():
        card = found.card(card_id)
        assert card is not None
        shown.append((card_id, deck, card.note.q or card.note.cloze))
    return shown


def no_full_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any full parse of the decks fail the test: the snapshot must answer alone."""
    def refuse(*args, **kwargs):
        raise AssertionError("the decks were parsed again")

    monkeypatch.setattr(decks, "load", refuse)


def test_unchanged_decks_are_answered_from_the_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.', reverse: true}\n")
    write(root / "sub" / "b.md", "<!-- id: b1, tags: [hard] -->\nCloze: {{c1::Two}} and {{c2::three}}.\n")
    first = cards(root, cache)
    assert first == [("a1", "A", "First?"), ("a1/rev", "A", "First?"), ("b1/c1", "Sub::B", "{{c1::Two}} and {{c2::three}}."),
                     ("b1/c2", "Sub::B", "{{c1::Two}} and {{c2::three}}.")]
    no_full_load(monkeypatch)
    assert cards(root, cache) == first
    assert index.load(root, cache_dir=cache).cards(tag="hard") == [("b1/c1", "Sub::B"), ("b1/c2", "Sub::B")]
    assert index.load(root, cache_dir=cache).cards(deck="sub") == [("b1/c1", "Sub::B"), ("b1/c2", "Sub::B")]


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
    first = index.load(root, cache_dir=cache)
    second = index.load(root, cache_dir=cache)
    assert [str(p) for p in second.problems] == [str(p) for p in first.problems]
    assert [p.line for p in second.problems] == [3, 1]
    assert second.cards() == [("a1", "A")]


def test_a_missing_image_is_noticed_though_no_deck_file_changed(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "img.png", "png")
    write(root / "a.md", "<!-- id: a1 -->\nQ: See ![x](img.png)\nA: ok\n")
    assert index.load(root, cache_dir=cache).problems == []
    (root / "img.png").unlink()
    assert [p.message for p in index.load(root, cache_dir=cache).problems] == ["missing image file 'img.png'"]
    assert index.load(root, cache_dir=cache).cards() == []


def test_problem_paths_follow_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "bad.yaml", "cards:\n  - {id: x, q: 'Q?'}\n")
    monkeypatch.chdir(tmp_path)
    assert [p.path for p in index.load(root, cache_dir=cache).problems] == ["decks/bad.yaml"]
    monkeypatch.chdir(root)
    assert [p.path for p in index.load(root, cache_dir=cache).problems] == ["bad.yaml"]


def test_corrupt_or_foreign_snapshots_are_rebuilt(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.'}\n")
    expected = cards(root, cache)
    snapshot = next(cache.glob("index-*.marshal"))
    for garbage in (b"", b"\x00garbage" * 10):
        snapshot.write_bytes(garbage)
        assert cards(root, cache) == expected
    import marshal

    files = decks.find_deck_files(root)
    key = index.fingerprint(root, files, {f: decks.file_digest(f.read_bytes()) for f in files})  # right key, bad payload
    for payload in ((["a.yaml"], [], ["a1"], [], [], [], ["a1"], [0]), "nonsense", (1, 2)):
        snapshot.write_bytes(marshal.dumps((key, payload)))
        assert cards(root, cache) == expected


def test_a_file_changed_during_the_parse_is_not_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    old, new = "cards:\n  - {id: a1, q: 'Old?', a: 'One.'}\n", "cards:\n  - {id: b1, q: 'New?', a: 'One.'}\n"
    path = write(root / "a.yaml", old)
    real_parse = decks.parse_file

    def edited_and_put_back(*args, **kwargs):
        write(path, new)  # the author saves just as prep reads the file...
        parsed = real_parse(*args, **kwargs)
        write(path, old)  # ...and undoes the edit before prep is done
        return parsed

    monkeypatch.setattr(decks, "parse_file", edited_and_put_back)
    assert index.load(root, cache_dir=cache).notes[0].q == "New?"
    monkeypatch.setattr(decks, "parse_file", real_parse)
    assert cards(root, cache) == [("a1", "A", "Old?")]  # the file says Old: the snapshot of New is not used


def test_a_card_deleted_during_a_session_is_left_out(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    path = write(root / "a.yaml", "cards:\n  - {id: a1, q: 'One?', a: '1.'}\n  - {id: a2, q: 'Two?', a: '2.'}\n")
    index.load(root, cache_dir=cache)
    found = index.load(root, cache_dir=cache)  # from the snapshot: texts are read when shown
    write(path, "cards:\n  - {id: a2, q: 'Two?', a: '2.'}\n")
    from datetime import datetime, timezone

    with Store(tmp_path / "p.db") as store:
        session = Session(store, [c for c, _ in found.cards()], found.card, Config(),
                          lambda: datetime(2026, 3, 2, 10, tzinfo=timezone.utc))
        card = session.next_card()
        assert card is not None and card.id == "a2"


def test_texts_come_from_the_snapshot_until_the_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    path = write(root / "a.yaml", "cards:\n  - {id: a1, q: 'One?', a: '1.', tags: [x]}\n")
    expected = cards(root, cache)
    real_parse = decks.parse_file

    def refuse(*args, **kwargs):
        raise AssertionError("parsed although the snapshot's texts fit")

    monkeypatch.setattr(decks, "parse_file", refuse)
    found = index.load(root, cache_dir=cache)
    card = found.card("a1")
    assert card is not None and (card.note.q, card.note.a, card.note.tags, card.note.line, card.note.path) == (
        "One?", "1.", ["x"], 2, path)
    monkeypatch.setattr(decks, "parse_file", real_parse)
    found = index.load(root, cache_dir=cache)
    write(path, "cards:\n  - {id: a1, q: 'One, edited?', a: '1.'}\n")  # edited while a session runs
    assert found.card("a1").note.q == "One, edited?"
    write(path, "cards:\n  - {id: a1, q: 'One?', a: '1.', tags: [x]}\n")
    next(cache.glob("index-*.texts")).write_bytes(b"\x00" * 64)  # damaged texts: parsed instead
    assert cards(root, cache) == expected
