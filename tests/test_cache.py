"""The parsed-deck cache never serves stale cards: edits, renames and deletions between runs."""

from __future__ import annotations

from pathlib import Path

from prep import decks
from tests.conftest import write


def ids(root: Path, cache: Path) -> list[tuple[str, str]]:
    return [(note.id, note.q or note.cloze) for note in decks.load(root, cache_dir=cache).notes]


def test_edit_rename_delete_between_runs(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.'}\n")
    write(root / "b.md", "<!-- id: b1 -->\nQ: Second?\nA: Two.\n")
    assert ids(root, cache) == [("a1", "First?"), ("b1", "Second?")]
    assert list(cache.iterdir())  # the cache was written
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First, edited?', a: 'One.'}\n")  # same size or not
    assert ids(root, cache) == [("a1", "First, edited?"), ("b1", "Second?")]
    (root / "b.md").rename(root / "c.md")
    notes = decks.load(root, cache_dir=cache).notes
    assert [(n.id, n.deck, n.path.name) for n in notes] == [("a1", "A", "a.yaml"), ("b1", "C", "c.md")]
    (root / "a.yaml").unlink()
    assert ids(root, cache) == [("b1", "Second?")]


def test_same_size_edit_within_the_same_second_is_seen(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    path = write(root / "a.yaml", "cards:\n  - {id: a1, q: 'Cat?', a: 'One.'}\n")
    stat = path.stat()
    assert ids(root, cache) == [("a1", "Cat?")]
    write(path, "cards:\n  - {id: a1, q: 'Dog?', a: 'One.'}\n")
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old timestamp
    assert ids(root, cache) == [("a1", "Dog?")]


def test_problems_come_back_from_the_cache_with_lines(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "bad.yaml", "cards:\n  - id: x\n    qestion: Q\n    a: A\n")
    first = decks.load(root, cache_dir=cache).problems
    second = decks.load(root, cache_dir=cache).problems
    assert [(p.line, p.message) for p in second] == [(p.line, p.message) for p in first] == [
        (3, "unknown field 'qestion' (did you mean 'q'?); allowed: id, q, a, cloze, extra, tags, reverse")]


def test_corrupt_cache_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.'}\n")
    ids(root, cache)
    for file in cache.iterdir():
        file.write_bytes(b"\x00garbage" * 10)
    assert ids(root, cache) == [("a1", "First?")]
    for file in cache.iterdir():
        file.write_bytes(b"")
    assert ids(root, cache) == [("a1", "First?")]


def test_missing_image_is_noticed_even_when_the_deck_file_is_unchanged(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "img.png", "png")
    write(root / "a.md", "<!-- id: a1 -->\nQ: See ![x](img.png)\nA: ok\n")
    assert decks.load(root, cache_dir=cache).problems == []
    (root / "img.png").unlink()
    assert [p.message for p in decks.load(root, cache_dir=cache).problems] == ["missing image file 'img.png'"]
