"""A cache of parsed deck files keyed by their content, so unchanged files are not parsed again.

It is an optimisation only: entries are looked up by a hash of the file's bytes (a changed file
always misses), the file is plain `marshal` data (no code runs on load), and anything unreadable
or of another version is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path

from prep import __version__
from prep.model import Note, Problem

VERSION = 4  # bump whenever parsing or validation changes what a file yields

# One cached file: (content digest, note rows, problem tuples)
Entry = tuple[bytes, list[tuple], list[tuple]]


def note_row(note: Note) -> tuple:
    """A note as plain marshal-able data (its path is known from where the row is kept)."""
    return (note.id, note.deck, note.line, note.q, note.a, note.cloze, note.extra, tuple(note.tags), note.reverse)


def note_from_row(row: tuple, path: Path) -> Note:
    # positional arguments: about twice as fast as keywords, and this runs once per cached note
    return Note(row[0], row[1], path, row[2], row[3], row[4], row[5], row[6], list(row[7]), row[8])


def file_for(folder: Path, kind: str, root: Path) -> Path:
    """The cache file of one kind for one decks folder (each folder has its own)."""
    return folder / f"{kind}-{hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()}.marshal"


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step (readers see the old file or the new one, never half);
    failures are ignored: a cache that is not written only costs speed next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        pass


class DeckCache:
    """Parsed notes per deck file of one decks folder, loaded once and saved if anything changed."""

    def __init__(self, folder: Path, root: Path) -> None:
        self.path = file_for(folder, "decks", root)
        self.entries: dict[str, Entry] = {}
        self.used: set[str] = set()
        self.dirty = False
        try:
            data = marshal.loads(self.path.read_bytes())
            if isinstance(data, tuple) and len(data) == 3 and data[0] == VERSION and data[1] == __version__:
                self.entries = data[2]
        except (OSError, EOFError, ValueError, TypeError):
            self.entries = {}

    def get(self, relative: str, content_digest: bytes, path: Path, shown: str) -> tuple[list[Note], list[Problem]] | None:
        entry = self.entries.get(relative)
        if not entry or entry[0] != content_digest:
            return None
        try:
            notes = [note_from_row(row, path) for row in entry[1]]
            problems = [Problem(shown, p[0], p[1]) for p in entry[2]]
        except (IndexError, TypeError):
            return None
        self.used.add(relative)
        return notes, problems

    def put(self, relative: str, content_digest: bytes, notes: list[Note], problems: list[Problem]) -> None:
        self.entries[relative] = (
            content_digest,
            [note_row(note) for note in notes],
            [(p.line, p.message) for p in problems],
        )
        self.used.add(relative)
        self.dirty = True

    def save(self) -> None:
        """Write back (dropping files that no longer exist); failures only cost speed next time."""
        stale = set(self.entries) - self.used
        if not self.dirty and not stale:
            return
        for relative in stale:
            del self.entries[relative]
        write_atomically(self.path, marshal.dumps((VERSION, __version__, self.entries)))
