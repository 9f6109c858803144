"""The one deck loader: every command's view of a decks folder (cards, notes, problems), cached by file digest.

`prep review`, `stats` and `check` need every card's id and deck but the text of only the cards they
show, so the result of a full load (the card index) is kept in the cache, keyed by a digest of every
deck file's path and bytes and of the images they name; note texts are kept per file and read one
file at a time. A file whose bytes changed is always parsed again.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from prep import __version__, formats
from prep.cache import Cache, note_from_row, note_row
from prep.errors import PrepError
from prep.model import Card, Note, Problem
from prep.paths import display_path

DECK_SUFFIXES = (".yaml", ".yml", ".md")
INDEX_VERSION = 1  # bump whenever the index payload's layout changes


@dataclass
class RawProblem:
    """A problem located by file position, shown relative to the current folder only when printed."""

    file: int  # position in Decks.files
    line: int
    message: str
    also: tuple[int, int] | None = None  # (file, line) of the first copy, for duplicates


@dataclass
class Decks:
    """Every valid note and card under a decks folder, in deck order, and every problem found.

    Notes are parallel lists; a note's text is read when asked for, from the cache or its file.
    """

    root: Path
    files: list[Path]
    raw_problems: list[RawProblem]
    note_ids: list[str]
    note_decks: list[str]
    note_tags: list[tuple[str, ...]]
    note_files: list[int]  # position in `files`
    card_ids: list[str]  # deck order
    card_notes: list[int]  # position in the note lists
    digests: list[bytes | None]  # of each file's bytes as loaded (None: unreadable)
    cache: Cache | None = None
    # valid notes by id, per file position: filled by a full load, or read from the cache when asked
    _by_file: dict[int, dict[str, Note]] = field(default_factory=dict)
    _seen_ids: dict[int, list[str]] = field(default_factory=dict)
    _known_digest: dict[int, bytes | None] = field(default_factory=dict)  # of the bytes `_by_file` came from

    @property
    def problems(self) -> list[Problem]:
        """Every problem as `path:line: message`, paths relative to the current folder, sorted."""
        shown = [display_path(path) for path in self.files]
        problems = []
        for raw in self.raw_problems:
            message = raw.message
            if raw.also is not None:
                message += f" (also at {shown[raw.also[0]]}:{raw.also[1]})"
            problems.append(Problem(shown[raw.file], raw.line, message))
        return sorted(problems, key=lambda p: (p.path, p.line))

    # -- selecting -------------------------------------------------------------------------
    def resolve_deck(self, text: str) -> list[str]:
        """The deck names `--deck text` means: a deck and its sub-decks, named in full (`Math::Probability`),
        by folder (`math/probability`) or by a unique prefix of each level (`nlp::align`), ignoring case.

        Raises UnknownDeck (with close names) when nothing matches or a level's prefix is ambiguous.
        """
        wanted = [key for key in (_level_key(part) for part in re.split(r"::|/", text)) if key]
        if not wanted:
            raise UnknownDeck(f"--deck needs a deck name, got '{text}'")
        names = sorted(set(self.note_decks))
        by_folder = self._decks_by_folder()
        trees = [_tree((tuple(name.split("::")), name) for name in names),
                 _tree((parts, deck) for parts, decks in by_folder.items() for deck in decks)]
        exact: set[str] = set()
        by_prefix: list[set[str]] = []
        ambiguous: list[str] = []
        for tree in trees:
            found, is_exact, clash = _walk(tree, wanted)
            if found is not None:
                (exact.update(found) if is_exact else by_prefix.append(found))
            ambiguous += clash
        if exact:
            return sorted(exact)
        if by_prefix and all(found == by_prefix[0] for found in by_prefix):
            return sorted(by_prefix[0])
        if by_prefix or ambiguous:
            shown = sorted(set(ambiguous) | {top_deck(found) for found in by_prefix})
            raise UnknownDeck(f"--deck '{text}' is ambiguous: it could be {_listing(shown)}; type more of the name")
        raise UnknownDeck(f"no deck matches --deck '{text}'" + did_you_mean(text, self.deck_choices()) +
                          "; 'prep decks' lists them")

    def deck_choices(self) -> list[str]:
        """Every deck name and every folder path, as a user may type them after --deck."""
        names = set()
        for name in set(self.note_decks):
            levels = name.split("::")
            names.update("::".join(levels[: depth + 1]) for depth in range(len(levels)))
        for parts in self._decks_by_folder():
            names.update("/".join(parts[: depth + 1]) for depth in range(len(parts)))
        return sorted(names, key=lambda name: (name.lower(), name))

    def _decks_by_folder(self) -> dict[tuple[str, ...], set[str]]:
        """The deck names in each file, by the file's path inside the decks folder without its suffix
        (`('math', 'probability', 'bayes')`); one path computed per file, not per note."""
        by_file: dict[int, set[str]] = {}
        for file_index, deck in zip(self.note_files, self.note_decks):
            by_file.setdefault(file_index, set()).add(deck)
        return {Path(_relative(self.files[f], self.root)).with_suffix("").parts: names for f, names in by_file.items()}

    def chosen_notes(self, deck: str | None = None, tag: str | None = None) -> set[int] | None:
        """Positions of the notes in a deck (or its sub-decks) and/or with a tag; None means all."""
        if not deck and not tag:
            return None
        decks = set(self.resolve_deck(deck)) if deck else None
        return {i for i, (name, tags) in enumerate(zip(self.note_decks, self.note_tags))
                if (decks is None or name in decks) and (not tag or tag in tags)}

    def notes_in_scope(self, deck: str | None = None, tag: str | None = None) -> list[Note]:
        """Every valid note in a deck (or its sub-decks) and/or with a tag, with its text, in deck order."""
        decks = set(self.resolve_deck(deck)) if deck else None
        return [note for note in self.notes if (decks is None or note.deck in decks) and (not tag or tag in note.tags)]

    def ids(self, deck: str | None = None, tag: str | None = None) -> list[str]:
        """The ids of every card in scope, in deck order."""
        chosen = self.chosen_notes(deck, tag)
        if chosen is None:
            return self.card_ids
        return [card_id for card_id, n in zip(self.card_ids, self.card_notes) if n in chosen]

    def cards_in_scope(self, deck: str | None = None, tag: str | None = None) -> list[tuple[str, str]]:
        """(card id, deck) of every card in scope, in deck order."""
        chosen = self.chosen_notes(deck, tag)
        names = self.note_decks
        return [(card_id, names[n]) for card_id, n in zip(self.card_ids, self.card_notes)
                if chosen is None or n in chosen]

    # -- texts -------------------------------------------------------------------------------
    @property
    def notes(self) -> list[Note]:
        """Every valid note with its text, in deck order (as the files were when loaded)."""
        found = []
        for note_id, file_index in zip(self.note_ids, self.note_files):
            note = self._notes_in(file_index).get(note_id)
            if note is not None:
                found.append(note)
        return found

    def cards(self) -> list[Card]:
        """Every card with its text, in deck order."""
        return [card for note in self.notes for card in cards_of(note)]

    def card(self, card_id: str) -> Card | None:
        """The card with this id as its deck file says now; None if it is no longer there."""
        try:  # a scan in C (about a millisecond at 50,000 cards) beats building a 50,000-entry map
            position = self.card_notes[self.card_ids.index(card_id)]
        except ValueError:
            return None
        note = self._notes_in(self.note_files[position], current=True).get(self.note_ids[position])
        if note is None:  # the file changed since the decks were loaded
            return None
        return next((card for card in cards_of(note) if card.id == card_id), None)

    def reread(self, path: Path) -> formats.Parsed:
        """Parse one deck file again (after an edit); later `card()` calls see the new text."""
        try:
            data = path.read_bytes()
        except OSError:
            return formats.parse_file(path, self.root)  # reports the file as unreadable
        parsed = formats.parse_bytes(path, self.root, data)
        if path in self.files:
            file_index = self.files.index(path)
            self._by_file[file_index] = {note.id: note for note in parsed.notes if note.id is not None}
            self._known_digest[file_index] = formats.file_digest(data)[0]
            self._seen_ids[file_index] = parsed.seen_ids
        return parsed

    def ids_in_use(self) -> set[str]:
        """Every card id written in any deck file (lower-cased), including cards that have problems,
        so generated ids never collide with one the author is still fixing."""
        taken: set[str] = set()
        for file_index in range(len(self.files)):
            if file_index not in self._seen_ids:
                self._notes_in(file_index)
            taken.update(card_id.lower() for card_id in self._seen_ids.get(file_index, []))
        return taken

    def _notes_in(self, file_index: int, current: bool = False) -> dict[str, Note]:
        """A file's valid notes by id: as loaded, or (`current`) as the file is now."""
        path = self.files[file_index]
        known = self._by_file.get(file_index)
        data: bytes | None = None
        digest = self.digests[file_index]
        if current:
            try:
                data = path.read_bytes()
            except OSError:
                return {}
            digest = formats.file_digest(data)[0]
        if known is not None and digest == self._known_digest.get(file_index, self.digests[file_index]):
            return known
        entry = None
        if digest is not None and digest == self.digests[file_index] and self.cache is not None:
            entry = _entry_from(self.cache.file(_relative(path, self.root), digest), path)
        if entry is None:  # edited since, or not in the cache: parse it
            parsed = formats.parse_bytes(path, self.root, data) if data is not None else formats.parse_file(path, self.root)
            entry = (parsed.notes, parsed.seen_ids)
        notes, self._seen_ids[file_index] = entry
        self._by_file[file_index] = {note.id: note for note in notes if note.id is not None}
        self._known_digest[file_index] = digest
        return self._by_file[file_index]


def cards_of(note: Note) -> list[Card]:
    """The cards drilled from a note: forward, reverse, or one per cloze number."""
    from prep import cloze

    assert note.id is not None
    if note.cloze:
        return [Card(f"{note.id}/c{n}", note, f"c{n}") for n in cloze.numbers(note.cloze)]
    cards = [Card(note.id, note, "")]
    if note.reverse:
        cards.append(Card(f"{note.id}/rev", note, "rev"))
    return cards


def deck_matches(name: str, wanted: str) -> bool:
    """Whether deck `name` is `wanted` or one of its sub-decks, ignoring case."""
    name, wanted = name.lower(), wanted.lower()
    return name == wanted or name.startswith(wanted + "::")


class UnknownDeck(PrepError):
    """`--deck` names no deck, or could mean several."""


def _level_key(part: str) -> str:
    """One level of a deck name or folder path as compared: lower case, `-`, `_` and spaces alike."""
    return " ".join(re.split(r"[-_\s]+", part.strip().lower())).strip()


def _tree(paths) -> dict:
    """A nested dict of level keys; each node's "" entry holds the deck names at or below it."""
    root: dict = {"": set()}
    for parts, name in paths:
        node = root
        node[""].add(name)
        for part in parts:
            node = node.setdefault(_level_key(part), {"": set()})
            node[""].add(name)
    return root


def _walk(tree: dict, wanted: list[str]) -> tuple[set[str] | None, bool, list[str]]:
    """Follow `wanted` down the tree: (deck names found or None, every level exact, names it could be)."""
    node, exact = tree, True
    for part in wanted:
        if part in node and part:
            node = node[part]
            continue
        starting = [key for key in node if key and key.startswith(part)]
        if len(starting) != 1:
            return None, False, sorted(top_deck(node[key][""]) for key in starting)
        node, exact = node[starting[0]], False
    return node[""], exact, []


def top_deck(names: set[str]) -> str:
    """The common deck above a set of deck names (what a user would type to get all of them)."""
    split = [name.split("::") for name in names]
    common = []
    for levels in zip(*split):
        if len({level.lower() for level in levels}) != 1:
            break
        common.append(levels[0])
    return "::".join(common) or sorted(names)[0]


def did_you_mean(text: str, choices: list[str], count: int = 5) -> str:
    """` (did you mean 'a', 'b'?)` with the closest choices (difflib), or ''."""
    import difflib

    lowered: dict[str, str] = {}
    for choice in choices:  # the first spelling of each (a deck name before its folder form)
        lowered.setdefault(choice.lower(), choice)
    close = difflib.get_close_matches(text.lower(), list(lowered), n=count, cutoff=0.5)
    close += [c for c in lowered if text.lower() in c and c not in close][: max(0, count - len(close))]
    return f" (did you mean {_listing([lowered[c] for c in close])}?)" if close else ""


def _listing(names: list[str]) -> str:
    quoted = [f"'{name}'" for name in names[:8]]
    return ", ".join(quoted) + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def find_deck_files(root: Path) -> list[Path]:
    """Deck files under `root` in deck order (sorted paths), skipping README files, hidden folders and
    `media` folders (where `prep import` puts images)."""
    if root.is_file():
        return [root]
    found: list[tuple[tuple[str, ...], str]] = []

    def visit(folder: str, parts: tuple[str, ...]) -> None:
        # os.scandir directly: a third of os.walk's time on a thousand folders (entry types come free)
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError:
            return  # an unreadable folder is skipped, as os.walk does
        for entry in listed:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if not name.startswith((".", "_")) and name != "media":  # media/: images, never decks
                    visit(entry.path, parts + (name,))
            elif (name.lower().endswith(DECK_SUFFIXES) and name.lower() != "readme.md" and not name.startswith(".")
                  and entry.is_file()):
                found.append((parts + (name,), entry.path))

    visit(str(root), ())
    found.sort()  # by path components, so a folder's files and sub-folders keep their deck order
    return [Path(path) for _, path in found]


def load(root: Path, cache: Cache | None = None) -> Decks:
    """Every deck file under `root` (a folder or one file): from the cached index when no file changed,
    else parsed (unchanged files from the cache) and validated across files."""
    root = Path(root)
    files = find_deck_files(root)
    relatives = [_relative(path, root) for path in files]
    contents: list[tuple[bytes, bool] | None] = []
    for path in files:
        try:
            contents.append(formats.file_digest(path.read_bytes()))
        except OSError:
            contents.append(None)  # no digest: never cached, and the parse reports the file
    digests = [content[0] if content else None for content in contents]
    root_key = str(root.resolve())
    key = fingerprint(root, files, relatives, contents) if cache is not None else None
    if cache is not None and key is not None:
        found = _from_payload(cache.index(root_key, key), root, files, digests, cache)
        if found is not None:
            return found
    loaded = Decks(root, files, [], [], [], [], [], [], [], digests, cache)
    notes: list[Note] = []
    new_entries: list[tuple[str, bytes, object]] = []
    reused: list[tuple[str, bytes]] = []
    for file_index, (path, relative, content) in enumerate(zip(files, relatives, contents)):
        entry = None
        # Files that name images are always parsed: the images can change without the file changing.
        if cache is not None and content is not None and not content[1]:
            entry = _entry_from(cache.file(relative, content[0]), path, with_problems=True)
        if entry is not None:
            file_notes, seen, problems = entry
            reused.append((relative, content[0]))  # type: ignore[index]
        else:
            try:
                data: bytes | None = path.read_bytes()
            except OSError:
                data = None
            parsed = formats.parse_bytes(path, root, data) if data is not None else formats.parse_file(path, root)
            file_notes, seen = parsed.notes, parsed.seen_ids
            problems = [(p.line, p.message) for p in parsed.problems]
            if data is not None:
                # Keyed by the digest of exactly the bytes parsed: a file edited since it was first read
                # (even edited and put back) can never pair its old bytes with this result.
                digest = formats.file_digest(data)[0]
                new_entries.append((relative, digest, _entry_data(file_notes, seen, problems)))
                if digest != digests[file_index]:
                    digests[file_index], key = digest, None
            else:
                digests[file_index], key = None, None
        loaded._seen_ids[file_index] = seen
        loaded._by_file[file_index] = {note.id: note for note in file_notes if note.id is not None}
        loaded.raw_problems.extend(RawProblem(file_index, line, message) for line, message in problems)
        notes.extend(file_notes)
    positions = {path: i for i, path in enumerate(files)}
    kept = _check_across_files(notes, positions, loaded.raw_problems)
    names: dict[str, str] = {}  # one string object per deck name: marshal then stores it once
    for n, note in enumerate(kept):
        assert note.id is not None
        loaded.note_ids.append(note.id)
        loaded.note_decks.append(names.setdefault(note.deck, note.deck))
        loaded.note_tags.append(tuple(note.tags))
        loaded.note_files.append(positions[note.path])
        for card in cards_of(note):
            loaded.card_ids.append(card.id)
            loaded.card_notes.append(n)
    if cache is not None:
        cache.put_files(new_entries)
        cache.touch_files(reused)
        if key is not None:
            cache.put_index(root_key, key, _payload(loaded, relatives))
    return loaded


def fingerprint(root: Path, files: list[Path], relatives: list[str],
                contents: list[tuple[bytes, bool] | None]) -> bytes | None:
    """A digest of everything a load's result depends on: the files' paths relative to the decks folder,
    their bytes, whether each image they name is usable, and prep's version. None if a file could not be
    read (its problem is reported by parsing it)."""
    combined = hashlib.sha256(f"{INDEX_VERSION}\0{__version__}\0".encode())
    for path, relative, content in zip(files, relatives, contents):
        if content is None:
            return None
        digest, names_images = content
        combined.update(relative.encode("utf-8", "surrogateescape") + b"\0" + digest)
        if names_images:  # whether each image or media file is usable can change without the deck file changing
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
            for what, reference in formats.media_references(text):
                combined.update(f"{reference}\0{formats.image_problem(reference, path, root, what)}\0".encode(
                    "utf-8", "surrogateescape"))
    return combined.digest()


def _relative(path: Path, root: Path) -> str:
    """A deck file's cache key: its path relative to the decks folder (or its name, for a single file)."""
    try:
        return path.relative_to(root).as_posix() if path != root else path.name
    except ValueError:
        return path.name


def _entry_data(notes: list[Note], seen: list[str], problems: list[tuple[int, str]]) -> tuple:
    return ([note_row(note) for note in notes], list(seen), problems)


def _entry_from(data: object, path: Path, with_problems: bool = False) -> tuple | None:
    """(notes, seen ids[, problems]) from a cached file entry, or None when it is not one."""
    try:
        rows, seen, problems = data  # type: ignore[misc]
        notes = [note_from_row(row, path) for row in rows]
        if not all(isinstance(s, str) for s in seen) or not all(len(p) == 2 for p in problems):
            return None
    except (TypeError, ValueError, IndexError):
        return None
    return (notes, list(seen), [tuple(p) for p in problems]) if with_problems else (notes, list(seen))


def _payload(decks: Decks, relatives: list[str]) -> tuple:
    problems = [(p.file, p.line, p.message, p.also) for p in decks.raw_problems]
    return (relatives, problems, decks.note_ids, decks.note_decks, decks.note_tags, decks.note_files,
            decks.card_ids, decks.card_notes)


def _from_payload(data: object, root: Path, files: list[Path], digests: list[bytes | None],
                  cache: Cache) -> Decks | None:
    if data is None:
        return None
    try:
        relatives, problems, note_ids, note_decks, note_tags, note_files, card_ids, card_notes = data  # type: ignore[misc]
        if (len(relatives) != len(files) or not len(note_ids) == len(note_decks) == len(note_tags) == len(note_files)
                or len(card_ids) != len(card_notes)):
            return None
        raw = [RawProblem(f, line, message, tuple(also) if also else None) for f, line, message, also in problems]
        return Decks(root, files, raw, note_ids, note_decks, note_tags, note_files, card_ids, card_notes, digests,
                     cache)
    except (TypeError, ValueError):  # a foreign or damaged entry: rebuild
        return None


def _check_across_files(notes: list[Note], positions: dict[Path, int], problems: list[RawProblem]) -> list[Note]:
    """Duplicate ids and duplicate questions across all decks; duplicates are dropped."""
    seen_ids: dict[str, Note] = {}
    seen_questions: dict[str, Note] = {}
    kept: list[Note] = []
    for note in notes:
        assert note.id is not None
        key = note.id.lower()
        if key in seen_ids:
            first = seen_ids[key]
            problems.append(RawProblem(positions[note.path], note.line, f"duplicate id '{note.id}'",
                                       (positions[first.path], first.line)))
            continue
        question = " ".join((note.cloze or note.q).lower().split())
        if question in seen_questions:
            first = seen_questions[question]
            problems.append(RawProblem(positions[note.path], note.line, "duplicate question",
                                       (positions[first.path], first.line)))
            continue
        seen_ids[key] = note
        seen_questions[question] = note
        kept.append(note)
    return kept
