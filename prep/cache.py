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

VERSION = 3  # bump whenever parsing or validation changes what a file yields

# One cached file: (content digest, note tuples, problem tuples)
Entry = tuple[bytes, list[tuple], list[tuple]]


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class DeckCache:
    """Parsed notes per deck file of one decks folder, loaded once and saved if anything changed."""

    def __init__(self, folder: Path, root: Path) -> None:
        key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
        self.path = folder / f"decks-{key}.marshal"
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
            # positional arguments: about twice as fast as keywords, and this runs once per cached note
            notes = [Note(n[0], n[1], path, n[2], n[3], n[4], n[5], n[6], list(n[7]), n[8]) for n in entry[1]]
            problems = [Problem(shown, p[0], p[1]) for p in entry[2]]
        except (IndexError, TypeError):
            return None
        self.used.add(relative)
        return notes, problems

    def put(self, relative: str, content_digest: bytes, notes: list[Note], problems: list[Problem]) -> None:
        self.entries[relative] = (
            content_digest,
            [(n.id, n.deck, n.line, n.q, n.a, n.cloze, n.extra, tuple(n.tags), n.reverse) for n in notes],
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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            temporary.write_bytes(marshal.dumps((VERSION, __version__, self.entries)))
            os.replace(temporary, self.path)
        except OSError:
            pass
