"""The card index: every valid card's id, deck and tags in deck order, from a snapshot when no deck file changed.

`prep review`, `stats` and `check` need every card's id and deck but the text of only the cards
they show. Building 50,000 note objects (and checking ids and questions across files) costs more
than the rest of their start-up, so the finished result of a full load is kept as a snapshot,
keyed by a fingerprint of every deck file's bytes (and of the images they name). A snapshot whose
fingerprint differs is never used; one that cannot be read is rebuilt.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from dataclasses import dataclass, field
from pathlib import Path

from prep import __version__, decks
from prep.cache import file_for, note_from_row, note_row, write_atomically
from prep.model import Card, Note, Problem

VERSION = 2  # bump whenever the payload's layout changes


@dataclass
class DeckIndex:
    """Valid notes and their cards as parallel lists; a card's text is read only when asked for."""

    root: Path
    files: list[Path]
    problems: list[Problem]
    note_ids: list[str]
    note_decks: list[str]
    note_tags: list[tuple[str, ...]]
    note_files: list[int]  # position in `files`
    card_ids: list[str]  # deck order
    card_notes: list[int]  # position in the note lists
    notes: list[Note] | None = None  # set when built from a full load: no file needs parsing again
    # From a snapshot: each file's notes, stored apart (read one file's worth at a time) and valid
    # while the file's digest is still the one recorded here.
    texts: Path | None = None
    key: bytes = b""
    file_digests: list[bytes] = field(default_factory=list)
    text_spans: list[tuple[int, int]] = field(default_factory=list)
    _parsed: dict[int, dict[str, Note]] = field(default_factory=dict)

    def chosen_notes(self, deck: str | None = None, tag: str | None = None) -> set[int] | None:
        """Positions of the notes in a deck (or its sub-decks) and/or with a tag; None means all."""
        if not deck and not tag:
            return None
        return {i for i, (name, tags) in enumerate(zip(self.note_decks, self.note_tags))
                if (not deck or decks.deck_matches(name, deck)) and (not tag or tag in tags)}

    def ids(self, deck: str | None = None, tag: str | None = None) -> list[str]:
        """The ids of every card in scope, in deck order."""
        chosen = self.chosen_notes(deck, tag)
        if chosen is None:
            return self.card_ids
        return [card_id for card_id, n in zip(self.card_ids, self.card_notes) if n in chosen]

    def cards(self, deck: str | None = None, tag: str | None = None) -> list[tuple[str, str]]:
        """(card id, deck) of every card in scope, in deck order."""
        chosen = self.chosen_notes(deck, tag)
        names = self.note_decks
        return [(card_id, names[n]) for card_id, n in zip(self.card_ids, self.card_notes)
                if chosen is None or n in chosen]

    def card(self, card_id: str) -> Card | None:
        """The card with this id as its deck file says now; None if it is no longer there."""
        try:  # a scan in C (about a millisecond at 50,000 cards) beats building a 50,000-entry map
            position = self.card_notes[self.card_ids.index(card_id)]
        except ValueError:
            return None
        if self.notes is not None:
            note: Note | None = self.notes[position]
        else:
            file_index = self.note_files[position]
            if file_index not in self._parsed:
                self._parsed[file_index] = self._notes_in(file_index)
            note = self._parsed[file_index].get(self.note_ids[position])
        if note is None:  # the file changed since the index was made
            return None
        return next((card for card in decks.cards_of(note) if card.id == card_id), None)

    def _notes_in(self, file_index: int) -> dict[str, Note]:
        path = self.files[file_index]
        try:
            unchanged = decks.file_digest(path.read_bytes())[0] == self.file_digests[file_index]
        except (OSError, IndexError):
            unchanged = False
        stored = self._stored_notes(file_index, path) if unchanged else None
        if stored is None:  # edited since the snapshot (or the texts are unreadable): parse it
            stored, _ = decks.parse_file(path, self.root)
        return {note.id: note for note in stored if note.id is not None}

    def _stored_notes(self, file_index: int, path: Path) -> list[Note] | None:
        """The notes of one file from the texts beside the snapshot, or None if they do not match it."""
        if self.texts is None:
            return None
        try:
            offset, length = self.text_spans[file_index]
            with self.texts.open("rb") as texts:
                if texts.read(len(self.key)) != self.key:
                    return None
                texts.seek(offset)
                rows = marshal.loads(texts.read(length))
            return [note_from_row(row, path) for row in rows]
        except (OSError, EOFError, ValueError, TypeError, IndexError):
            return None


def load(root: Path, cache_dir: Path | None = None) -> DeckIndex:
    """The index of every deck file under `root`: from the snapshot if it still fits, else by a full load."""
    root = Path(root)
    if cache_dir is None:
        return from_collection(decks.load(root))
    snapshot = file_for(cache_dir, "index", root)
    files = decks.find_deck_files(root)
    digests = {}
    for path in files:
        try:
            digests[path] = decks.file_digest(path.read_bytes())
        except OSError:
            pass  # no digest: never matches a snapshot, so the full load reports the file
    cached = _read(snapshot, fingerprint(root, files, digests), root)
    if cached is not None:
        cached.file_digests = [digests[path][0] for path in files]
        return cached
    collection = decks.load(root, cache_dir=cache_dir)
    index = from_collection(collection)
    # Keyed by the digests of the bytes the load itself parsed, so a file edited meanwhile (even
    # edited and put back) can never pair new bytes with an old result.
    _write(snapshot, fingerprint(root, collection.files, collection.digests), index)
    return index


def from_collection(collection: decks.Collection) -> DeckIndex:
    positions = {path: i for i, path in enumerate(collection.files)}
    names: dict[str, str] = {}  # one string object per deck name: marshal then stores it once
    index = DeckIndex(collection.root, collection.files, collection.problems, [], [], [], [], [], [],
                      notes=collection.notes)
    for n, note in enumerate(collection.notes):
        assert note.id is not None
        index.note_ids.append(note.id)
        index.note_decks.append(names.setdefault(note.deck, note.deck))
        index.note_tags.append(tuple(note.tags))
        index.note_files.append(positions[note.path])
        for card in decks.cards_of(note):
            index.card_ids.append(card.id)
            index.card_notes.append(n)
    return index


def fingerprint(root: Path, files: list[Path], digests: dict[Path, tuple[bytes, bool]]) -> bytes | None:
    """A digest of everything a load's result depends on: the files' names and contents (`digests`),
    the images they name, the folder it is shown from (problem paths are relative to it), and prep's
    version. None if a file has no digest (it could not be read)."""
    combined = hashlib.sha256(f"{VERSION}\0{__version__}\0{os.getcwd()}\0{root.resolve()}\0".encode())
    for path in files:
        entry = digests.get(path)
        if entry is None:
            return None
        content, names_images = entry
        combined.update(str(path).encode() + b"\0" + content)
        if names_images:  # whether each image is usable can change without the deck file changing
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
            for reference in decks.image_paths(text):
                combined.update(f"{reference}\0{decks.image_problem(reference, path, root)}\0".encode())
    return combined.digest()


def _read(snapshot: Path, key: bytes | None, root: Path) -> DeckIndex | None:
    if key is None:
        return None
    try:
        stored_key, payload = marshal.loads(snapshot.read_bytes())
        if stored_key != key:
            return None
        files, problems, note_ids, note_decks, note_tags, note_files, card_ids, card_notes, text_spans = payload
        if (not len(note_ids) == len(note_decks) == len(note_tags) == len(note_files) or len(card_ids) != len(card_notes)
                or len(text_spans) != len(files)):
            return None
        return DeckIndex(root, [Path(f) for f in files], [Problem(*p) for p in problems], note_ids, note_decks,
                         note_tags, note_files, card_ids, card_notes, texts=_texts_path(snapshot), key=key,
                         text_spans=text_spans)
    except (OSError, EOFError, ValueError, TypeError):  # missing, truncated or foreign: rebuild
        return None


def _texts_path(snapshot: Path) -> Path:
    return snapshot.with_suffix(".texts")


def _write(snapshot: Path, key: bytes | None, index: DeckIndex) -> None:
    """The texts file (the key, then each deck file's note rows) first, then the index that points into it."""
    if key is None or index.notes is None:
        return
    by_file: list[list[tuple]] = [[] for _ in index.files]
    for note, file_index in zip(index.notes, index.note_files):
        by_file[file_index].append(note_row(note))
    blobs = [marshal.dumps(rows) for rows in by_file]
    spans, offset = [], len(key)
    for blob in blobs:
        spans.append((offset, len(blob)))
        offset += len(blob)
    payload = ([str(f) for f in index.files], [(p.path, p.line, p.message) for p in index.problems],
               index.note_ids, index.note_decks, index.note_tags, index.note_files, index.card_ids, index.card_notes,
               spans)
    write_atomically(_texts_path(snapshot), key + b"".join(blobs))
    write_atomically(snapshot, marshal.dumps((key, payload)))
