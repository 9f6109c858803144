"""The parsed-deck cache never serves stale cards: edits, renames and deletions between runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prep import decks
from prep.cache import Cache
from tests.conftest import write


def load(root: Path, cache: Path) -> decks.Decks:
    with Cache(cache) as opened:
        loaded = decks.load(root, opened)
        loaded.notes  # read the texts while the cache is open
        return loaded


def ids(root: Path, cache: Path) -> list[tuple[str, str]]:
    return [(note.id, note.q or note.cloze) for note in load(root, cache).notes]


def test_edit_rename_delete_between_runs(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.'}\n")
    write(root / "b.md", "<!-- id: b1 -->\nQ: Second?\nA: Two.\n")
    assert ids(root, cache) == [("a1", "First?"), ("b1", "Second?")]
    assert list(cache.iterdir())  # the cache was written
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First, edited?', a: 'One.'}\n")  # same size or not
    assert ids(root, cache) == [("a1", "First, edited?"), ("b1", "Second?")]
    (root / "b.md").rename(root / "c.md")
    notes = load(root, cache).notes
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
    first = load(root, cache).problems
    second = load(root, cache).problems
    assert [(p.line, p.message) for p in second] == [(p.line, p.message) for p in first] == [
        (3, "unknown field 'qestion' (did you mean 'q'?); allowed: id, q, a, cloze, extra, tags, reverse, points, guid, stub, solution, tests, hints, time")]


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


def test_a_damaged_or_foreign_cache_file_is_replaced(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.'}\n")
    cache.mkdir()
    (cache / "cache.db").write_bytes(b"\x00not a database" * 100)
    assert ids(root, cache) == [("a1", "First?")]
    with Cache(cache) as opened:  # a working cache again, holding this folder's index
        assert opened.db is not None
        assert opened.db.execute("SELECT COUNT(*) FROM indexes").fetchone()[0] == 1


def test_caches_of_earlier_versions_are_removed_from_the_data_folder(tmp_path: Path, isolated: Path) -> None:
    old = isolated / "cache"
    for name in ("decks-0123.marshal", "index-0123.marshal", "index-0123.texts", "screens.db", "html.marshal"):
        write(old / name, "old")
    history = write(isolated / "prep.db", "reviews")  # beside it: never touched
    with Cache(tmp_path / "new-cache"):
        pass
    assert not old.exists()
    assert history.read_text() == "reviews"


def test_two_folders_share_one_index_and_show_paths_from_where_they_run(tmp_path: Path, monkeypatch) -> None:
    from prep import formats

    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "bad.yaml", "cards:\n  - {id: x, q: 'Q?'}\n  - {id: y, q: 'Fine?', a: 'Yes.'}\n")
    monkeypatch.chdir(tmp_path)
    with Cache(cache) as opened:
        assert [str(p) for p in decks.load(root.resolve(), opened).problems] == [
            "decks/bad.yaml:2: missing or empty answer (a)"]

    def refuse(*args, **kwargs):
        raise AssertionError("parsed again in another folder")

    monkeypatch.setattr(formats, "parse_bytes", refuse)
    monkeypatch.setattr(formats, "parse_file", refuse)
    monkeypatch.chdir(root)
    with Cache(cache) as opened:
        loaded = decks.load(root.resolve(), opened)
        assert [str(p) for p in loaded.problems] == ["bad.yaml:2: missing or empty answer (a)"]
        assert loaded.ids() == ["y"]


def test_commands_keep_the_cache_out_of_the_data_folder(tmp_path: Path, isolated: Path) -> None:
    import os

    from click.testing import CliRunner

    from prep.cli import cli

    write(tmp_path / "work" / "decks" / "a.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.'}\n")
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    assert (Path(os.environ["PREP_CACHE"]) / "cache.db").is_file()
    assert not (isolated / "cache").exists()


def test_file_names_that_are_not_utf8_are_cached_by_their_bytes(tmp_path: Path) -> None:
    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "fine.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.'}\n")
    folder = os.fsdecode(bytes(root) + b"/\xc3\x28")  # not UTF-8: decodes with a surrogate
    write(Path(folder) / "x.yaml", "cards:\n  - {id: b1, q: 'Second?', a: 'Two.'}\n")
    assert sorted(ids(root, cache)) == [("a1", "First?"), ("b1", "Second?")]
    with Cache(cache) as opened:
        assert opened.db is not None
        assert opened.db.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 2  # both entries stored
    assert sorted(ids(root, cache)) == [("a1", "First?"), ("b1", "Second?")]  # and read back


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_cache_db_linked_to_another_database_is_never_written_through(tmp_path: Path, link: str) -> None:
    import sqlite3
    from contextlib import closing

    root, cache = tmp_path / "decks", tmp_path / "cache"
    write(root / "a.yaml", "cards:\n  - {id: a1, q: 'First?', a: 'One.'}\n")
    precious = tmp_path / "other.db"  # the review history, or any other program's database
    with closing(sqlite3.connect(precious)) as db:
        db.executescript("CREATE TABLE files (relpath TEXT, digest BLOB, data BLOB, used INTEGER);"
                         "INSERT INTO files VALUES ('mine', x'00', x'00', 1);")
    before = precious.read_bytes()
    cache.mkdir()
    (cache / "cache.db").symlink_to(precious) if link == "symlink" else os.link(precious, cache / "cache.db")
    assert ids(root, cache) == [("a1", "First?")]
    assert precious.read_bytes() == before
    assert not (cache / "cache.db").is_symlink() and os.stat(cache / "cache.db").st_nlink == 1
