"""The SQLite review database: card states and the append-only review log."""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, TypeVar

from prep import migrations
from prep.errors import StoreError

if TYPE_CHECKING:  # fsrs costs ~40 ms to import; the first card on screen does not need it
    import fsrs

LOCK_TIMEOUT = 30.0  # seconds a command waits for another prep's write transaction before giving up

# SQLite's primary result codes by the cause they report (sqlite3 names them only from Python 3.11)
_CAUSE_BY_CODE = {3: "readonly", 8: "readonly", 14: "cantopen", 13: "full", 5: "locked", 6: "locked",
                  11: "damaged", 26: "damaged", 10: "io"}
# Python 3.10's errors carry no code, only SQLite's message for it
_CAUSE_BY_TEXT = {"access permission denied": "readonly", "attempt to write a readonly database": "readonly",
                  "unable to open database file": "cantopen", "database or disk is full": "full",
                  "database is locked": "locked", "database table is locked": "locked",
                  "database disk image is malformed": "damaged", "file is not a database": "damaged",
                  "disk i/o error": "io"}
_CAUSE_BY_ERRNO = {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EROFS: "readonly", errno.EACCES: "readonly",
                   errno.EPERM: "readonly", errno.ENOTDIR: "notafolder", errno.EEXIST: "notafolder"}
_LOW_SPACE = 1 << 20  # an I/O error with less than this free on the disk is a full disk (SQLite says IOERR_SHMSIZE)


def explain(error: sqlite3.Error | OSError, path: Path) -> StoreError:
    """A StoreError saying what went wrong with the database at `path` and what to do.

    Only real damage (SQLITE_CORRUPT, SQLITE_NOTADB) gets the commands to restore a backup: for a full
    disk, a read-only file or folder, a lock held by another prep or an I/O error, restoring would
    throw away every review since the backup while the database itself is fine.
    """
    path = Path(path)
    cause = _cause(error)
    folder = path.parent
    if cause == "cantopen":  # SQLite cannot say why it could not open the file; the file system can
        cause = "readonly" if _read_only_part(path) else "other"
    if cause == "io" and _free_space(folder) < _LOW_SPACE:
        cause = "full"
    if cause == "full":
        message = (f"disk full: the review database {path} could not be written. Free space on that disk and "
                   "run the command again; nothing saved before was lost.")
    elif cause == "readonly":
        part = _read_only_part(path) or str(error)
        message = (f"read-only: prep cannot write the review database {path} ({part}). Make it writable, or "
                   "point PREP_HOME at a writable folder, and run the command again; nothing was lost.")
    elif cause == "locked":
        message = f"another prep is using the review database {path} (locked); try again when it finishes."
    elif cause == "damaged":
        from prep.backup import restore_hint

        message = f"the review database {path} is damaged ({error}).\n{restore_hint(path)}"
    elif cause == "io":
        message = (f"the disk reported an error on the review database {path} ({_name(error)}); the database "
                   "is not damaged. Check the disk, and that nothing deleted its -wal or -shm file while "
                   "prep was running, then run the command again.")
    elif cause == "notafolder":
        blocking = next((p for p in path.parents if p.exists()), folder)
        message = (f"{blocking} is a file, not a folder: prep keeps its review database in {folder}. Move the "
                   "file away, or point PREP_HOME at a folder.")
    elif path.is_dir():
        message = f"the review database {path} is a folder, not a database file; move it away."
    else:
        message = f"the review database {path} could not be used: {error}."
    return StoreError(message, cause)


def _cause(error: sqlite3.Error | OSError) -> str:
    if isinstance(error, OSError):
        return _CAUSE_BY_ERRNO.get(error.errno or 0, "io")
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return _CAUSE_BY_CODE.get(code & 0xFF, "other")  # the low byte is the primary code
    text = str(error).lower()
    return next((cause for start, cause in _CAUSE_BY_TEXT.items() if text.startswith(start)), "other")


def _name(error: sqlite3.Error | OSError) -> str:
    return getattr(error, "sqlite_errorname", None) or str(error)


def _read_only_part(path: Path) -> str | None:
    """Which of the database's folder and files cannot be written, if any."""
    if path.parent.is_dir() and not os.access(path.parent, os.W_OK):
        return f"its folder {path.parent} is read-only"
    for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if part.is_file() and not os.access(part, os.W_OK):
            return "the file is read-only" if part == path else f"{part.name} beside it is read-only"
    return None


def _free_space(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return _LOW_SPACE  # cannot tell: not evidence of a full disk


Method = TypeVar("Method", bound=Callable)


def _explained(method: Method) -> Method:
    """Store methods raise `explain`'s StoreError, not sqlite3's bare message; prep's own SQL bugs
    (ProgrammingError, IntegrityError) pass through as they are."""
    @functools.wraps(method)
    def wrapper(self: "Store", *args: object, **kwargs: object) -> object:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.ProgrammingError, sqlite3.IntegrityError):
            raise
        except sqlite3.DatabaseError as error:
            raise explain(error, self.path) from error
    return wrapper  # type: ignore[return-value]


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class DamagedLog(StoreError):
    """A stored time or state no review can have (year 0, not a number, broken JSON): the database was
    edited by hand or damaged."""

    def __init__(self, what: str, value: object) -> None:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        super().__init__(f"the review database holds a {what} no review can have ({shown}): it was edited or "
                         "is damaged; run 'prep doctor' to see which cards", "damaged")


def from_ms(ms: int) -> datetime:
    try:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise DamagedLog("time", ms) from None


def state_json(card: fsrs.Card | None) -> str | None:
    if card is None:
        return None
    data = card.to_dict()
    data.pop("card_id", None)
    return json.dumps(data, sort_keys=True)


def state_from_json(text: str | None) -> fsrs.Card | None:
    if text is None:
        return None
    import fsrs

    try:
        data = json.loads(text)
        data["card_id"] = 0
        return fsrs.Card.from_dict(data)
    except (ValueError, TypeError, KeyError, AttributeError):  # JSONDecodeError is a ValueError
        raise DamagedLog("card state", text) from None


@dataclass(frozen=True)
class Review:
    """One row of the review log."""

    id: int
    card_id: str
    rating: int
    reviewed_at: datetime
    duration_ms: int | None
    state_before: fsrs.Card | None
    state_after: fsrs.Card


class Store:
    """Open with `Store(path)`; every write is one transaction, committed before returning.

    Every public method raises StoreError (from `explain`) when SQLite fails; `timeout` is how long
    to wait for another process's write (default LOCK_TIMEOUT).
    """

    def __init__(self, path: Path, timeout: float | None = None) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None,
                                 timeout=LOCK_TIMEOUT if timeout is None else timeout)
        except (OSError, sqlite3.DatabaseError) as error:
            raise explain(error, self.path) from error
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            version = migrations.current_version(db)
            if version > len(migrations.MIGRATIONS):
                raise StoreError(f"{self.path} was written by a newer version of prep (schema {version}); "
                                 "upgrade prep to use it", "newer")
            migrations.migrate(db)
        except BaseException as error:
            db.close()  # a failed open leaves no connection behind
            if isinstance(error, sqlite3.DatabaseError):
                raise explain(error, self.path) from error
            raise
        self.db = db

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------
    @_explained
    def states(self) -> "StateTable":
        """Every card that has been reviewed, by card id (built into fsrs cards only when read)."""
        return StateTable(self)

    @_explained
    def state(self, card_id: str) -> fsrs.Card | None:
        row = self.db.execute(
            "SELECT id, state, step, stability, difficulty, due, last_review FROM cards WHERE id = ?", (card_id,)
        ).fetchone()
        return _card_from_row(row) if row else None

    @_explained
    def reviews(self, card_id: str | None = None, since: datetime | None = None) -> list[Review]:
        query = "SELECT id, card_id, rating, reviewed_at, duration_ms, state_before, state_after FROM reviews"
        clauses, params = [], []
        if card_id is not None:
            clauses.append("card_id = ?")
            params.append(card_id)
        if since is not None:
            clauses.append("reviewed_at >= ?")
            params.append(to_ms(since))
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        rows = self.db.execute(query + " ORDER BY id", params)
        return [Review(r[0], r[1], r[2], from_ms(r[3]), r[4], state_from_json(r[5]), state_from_json(r[6]))
                for r in rows]

    @_explained
    def durations(self) -> list[tuple[str, int]]:
        """(card id, duration ms) of every timed review, for the minutes a card's review takes."""
        return self.db.execute("SELECT card_id, duration_ms FROM reviews WHERE duration_ms > 0").fetchall()

    @_explained
    def counts_since(self, start: datetime) -> tuple[int, int]:
        """(new cards introduced, reviews of review-state cards) since `start`, for daily limits."""
        row = self.db.execute(
            "SELECT SUM(kind_before IS NULL), SUM(kind_before = 2) FROM reviews WHERE reviewed_at >= ?",
            (to_ms(start),)).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    @_explained
    def reviewed_since(self, start: datetime) -> set[str]:
        """Ids of the cards reviewed since `start`."""
        return {row[0] for row in self.db.execute(
            "SELECT DISTINCT card_id FROM reviews INDEXED BY reviews_time WHERE reviewed_at >= ?", (to_ms(start),))}

    @_explained
    def skipped(self, day: str) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT card_id FROM skips WHERE day = ?", (day,))}

    # -- writes ----------------------------------------------------------------
    @_explained
    def apply(self, card_id: str, rating: int, when: datetime, duration_ms: int | None,
              schedule: Callable[[fsrs.Card | None, datetime], fsrs.Card],
              mode: str = "review") -> tuple[int, fsrs.Card | None, fsrs.Card]:
        """Rate a card against its state as stored *now*, in one committed transaction.

        Reading the state inside the write transaction means two processes rating the same card
        chain their reviews (the second starts from the first's result) instead of one silently
        overwriting the other. A clock that reads earlier than the card's last logged review (another
        process got there a moment later but committed first) is moved up to it, so each card's log is
        in time order as well as commit order. `mode` says how the card was drawn (review, ahead,
        cram, mock): logged only; FSRS sees the real time either way. Returns (log id, state before, state after).
        """
        with self._transaction():
            before = self.state(card_id)
            last = self.db.execute("SELECT MAX(reviewed_at) FROM reviews WHERE card_id = ?", (card_id,)).fetchone()[0]
            if last is not None and to_ms(when) < last:
                when = from_ms(last)
            after = schedule(before, when)
            review_id = self._insert_review(card_id, rating, to_ms(when), duration_ms, before, after, mode)
            self._put_state(card_id, after)
            return review_id, before, after

    @_explained
    def undo(self, review_id: int) -> Review | None:
        """Delete a review and restore the card's state before it; None if it is not the card's last."""
        with self._transaction():
            row = self.db.execute(
                "SELECT id, card_id, rating, reviewed_at, duration_ms, state_before, state_after "
                "FROM reviews WHERE id = ?", (review_id,)).fetchone()
            if row is None:
                return None
            later = self.db.execute("SELECT 1 FROM reviews WHERE card_id = ? AND (reviewed_at > ? OR "
                                    "(reviewed_at = ? AND id > ?))", (row[1], row[3], row[3], review_id)).fetchone()
            if later:
                return None
            self.db.execute("DELETE FROM reviews WHERE id = ?", (review_id,))
            before = state_from_json(row[5])
            if before is None:
                self.db.execute("DELETE FROM cards WHERE id = ?", (row[1],))
            else:
                self._put_state(row[1], before)
        return Review(row[0], row[1], row[2], from_ms(row[3]), row[4], before, state_from_json(row[6]))

    @_explained
    def merge_reviews(self, card_id: str, incoming: list[tuple[int, datetime, int | None]],
                      schedule: Callable[[fsrs.Card | None, int, datetime], fsrs.Card]) -> int:
        """Add reviews done elsewhere (rating, time, duration ms), skipping ones already logged at the
        same millisecond, then replay the card's whole log in time order so every logged state and the
        card's current state follow from the merged history. Ratings and times are never changed.
        A review counts as already logged when one with the same rating lies within a second of it
        (Anki stores review times in ms and needs them unique, so an exported time may move by a few ms).
        A card given any is marked as one with a history in Anki (`anki_cards`). Returns how many reviews were added."""
        with self._transaction():
            existing = self.db.execute(
                "SELECT id, rating, reviewed_at FROM reviews WHERE card_id = ?", (card_id,)).fetchall()
            known = [(row[1], row[2]) for row in existing]
            added = []
            for rating, when, duration in incoming:
                moment = to_ms(when)
                if not any(r == rating and abs(at - moment) < 1000 for r, at in known):
                    known.append((rating, moment))
                    added.append((rating, moment, duration))
            if not added:
                return 0  # prep's own reviews coming back from an export: nothing was done in Anki
            self.db.execute("INSERT OR IGNORE INTO anki_cards (card_id) VALUES (?)", (card_id,))
            timeline = sorted([(at, row_id, rating, None) for row_id, rating, at in existing] +
                              [(at, None, rating, duration) for rating, at, duration in added],
                              key=lambda item: (item[0], item[1] is None, item[1] or 0))
            state = None
            for at, row_id, rating, duration in timeline:
                after = schedule(state, rating, from_ms(at))
                if row_id is None:
                    self._insert_review(card_id, rating, at, duration, state, after)
                else:
                    self.db.execute("UPDATE reviews SET state_before = ?, state_after = ?, kind_before = ? "
                                    "WHERE id = ?", (state_json(state), state_json(after),
                                                     int(state.state) if state is not None else None, row_id))
                state = after
            assert state is not None
            self._put_state(card_id, state)
            return len(added)

    @_explained
    def note_mods(self, digests: dict[str, bytes], when: datetime) -> dict[str, int]:
        """Each exported note's modification time (epoch seconds): unchanged while its content digest is,
        else `when`, and always after the one it had, so an edit exported in the same second as the
        last export is still newer for Anki. A note seeded by an import adopts its Anki mod."""
        now = int(when.timestamp())
        mods: dict[str, int] = {}
        with self._transaction():
            known = {}
            for guid in digests:
                row = self.db.execute("SELECT digest, mod FROM anki_note_mods WHERE guid = ?", (guid,)).fetchone()
                if row is not None:
                    known[guid] = (bytes(row[0]), int(row[1]))
            for guid, digest in digests.items():
                old = known.get(guid)
                if old is not None and (old[0] == digest or old[0] == b""):
                    mods[guid] = old[1]
                else:
                    mods[guid] = max(now, old[1] + 1) if old is not None else now
                if old is None or old != (digest, mods[guid]):
                    self.db.execute("INSERT OR REPLACE INTO anki_note_mods (guid, digest, mod) VALUES (?, ?, ?)",
                                    (guid, digest, mods[guid]))
        return mods

    @_explained
    def seed_note_mods(self, mods: dict[str, int]) -> None:
        """Record Anki's own mod for notes imported from Anki (kept by their first export), unless known."""
        with self._transaction():
            self.db.executemany("INSERT OR IGNORE INTO anki_note_mods (guid, digest, mod) VALUES (?, x'', ?)",
                                list(mods.items()))

    @_explained
    def put_anki_types(self, infos: dict[str, str]) -> None:
        """Remember the note type (JSON) each note imported from Anki had, by its GUID."""
        with self._transaction():
            self.db.executemany("INSERT OR REPLACE INTO anki_note_types (guid, info) VALUES (?, ?)", list(infos.items()))

    @_explained
    def anki_types(self) -> dict[str, str]:
        """GUID → note type JSON, for every note imported from Anki."""
        return dict(self.db.execute("SELECT guid, info FROM anki_note_types"))

    @_explained
    def suspended(self) -> dict[str, str]:
        """Suspended card ids and why ('leech' or 'manual')."""
        return dict(self.db.execute("SELECT card_id, reason FROM suspended"))

    @_explained
    def suspend(self, card_ids: Iterable[str], when: datetime, reason: str) -> int:
        with self._transaction():
            cursor = self.db.executemany(
                "INSERT OR IGNORE INTO suspended (card_id, suspended_at, reason) VALUES (?, ?, ?)",
                [(card_id, to_ms(when), reason) for card_id in card_ids])
            return cursor.rowcount

    @_explained
    def unsuspend(self, card_ids: Iterable[str]) -> int:
        with self._transaction():
            return self.db.executemany("DELETE FROM suspended WHERE card_id = ?", [(c,) for c in card_ids]).rowcount

    @_explained
    def lapses(self, minimum: int = 1) -> dict[str, int]:
        """Times each card was forgotten (Again on a card in the review state), at least `minimum`."""
        return dict(self.db.execute(
            "SELECT card_id, COUNT(*) FROM reviews WHERE rating = 1 AND kind_before = 2 "
            "GROUP BY card_id HAVING COUNT(*) >= ?", (minimum,)))

    @_explained
    def skip(self, card_id: str, day: str, kind: str = "skip") -> None:
        """Hide a card for the review `day`; `kind` is 'skip' or 'bury' (the same wait, named as chosen)."""
        with self._transaction():
            self.db.execute("INSERT OR IGNORE INTO skips (card_id, day, kind) VALUES (?, ?, ?)", (card_id, day, kind))

    @_explained
    def unskip(self, card_id: str, day: str) -> None:
        """Take back a skip or bury of the card for the review `day`."""
        with self._transaction():
            self.db.execute("DELETE FROM skips WHERE card_id = ? AND day = ?", (card_id, day))

    @_explained
    def flag(self, card_id: str) -> int | None:
        """The card's flag colour (1..4), None when it has none."""
        row = self.db.execute("SELECT flag FROM flags WHERE card_id = ?", (card_id,)).fetchone()
        return row[0] if row else None

    @_explained
    def anki_cards(self) -> set[str]:
        """The cards with reviews merged from Anki (scheduled with Anki's engine from then on)."""
        return {row[0] for row in self.db.execute("SELECT card_id FROM anki_cards")}

    @_explained
    def flags(self) -> dict[str, int]:
        """Every flagged card's flag colour (1..4), by card id."""
        return dict(self.db.execute("SELECT card_id, flag FROM flags").fetchall())

    @_explained
    def set_flag(self, card_id: str, flag: int | None, when: datetime) -> None:
        """Flag a card with colour 1..4, or take its flag off (None)."""
        with self._transaction():
            if flag is None:
                self.db.execute("DELETE FROM flags WHERE card_id = ?", (card_id,))
            else:
                self.db.execute("INSERT OR REPLACE INTO flags (card_id, flag, flagged_at) VALUES (?, ?, ?)",
                                (card_id, flag, to_ms(when)))

    def _insert_review(self, card_id: str, rating: int, at_ms: int, duration_ms: int | None,
                       before: fsrs.Card | None, after: fsrs.Card, mode: str = "review") -> int:
        cursor = self.db.execute(
            "INSERT INTO reviews (card_id, rating, reviewed_at, duration_ms, state_before, state_after, kind_before, "
            "mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (card_id, rating, at_ms, duration_ms, state_json(before), state_json(after),
             int(before.state) if before is not None else None, mode))
        return int(cursor.lastrowid)

    @_explained
    def restore_from_log(self, card_ids: Iterable[str]) -> list[str]:
        """Set each card's state to the state after its last logged review, in one write transaction.

        The log and the states are read inside the transaction, so a rating another process commits
        while `prep doctor` runs is never rolled back: a card whose state already equals its latest
        logged state is left alone. Returns the ids whose state was written."""
        restored = []
        with self._transaction():
            for card_id in card_ids:
                row = self.db.execute("SELECT state_after FROM reviews WHERE card_id = ? "
                                      "ORDER BY reviewed_at DESC, id DESC LIMIT 1", (card_id,)).fetchone()
                if row is None:
                    continue
                logged = state_from_json(row[0])
                assert logged is not None
                current = self.state(card_id)
                if current is None or state_json(current) != state_json(logged):
                    self._put_state(card_id, logged)
                    restored.append(card_id)
        return restored

    def _put_state(self, card_id: str, card: fsrs.Card) -> None:
        self.db.execute(
            "INSERT INTO cards (id, state, step, stability, difficulty, due, last_review) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state, "
            "step = excluded.step, stability = excluded.stability, difficulty = excluded.difficulty, "
            "due = excluded.due, last_review = excluded.last_review",
            (card_id, int(card.state), card.step, card.stability, card.difficulty, to_ms(card.due),
             to_ms(card.last_review) if card.last_review else None),
        )

    def _transaction(self) -> "_Transaction":
        return _Transaction(self.db)


class StateTable:
    """Card states by id: due times and kinds from compact queries, `fsrs.Card`s built on first access.

    Building tens of thousands of fsrs cards (and their datetimes) costs more than the rest of
    `prep review`'s start-up; the queue only needs each card's state kind and due time.
    """

    REVIEW = 2  # fsrs.State.Review, the kind of most cards (fsrs is imported lazily)

    def __init__(self, store: "Store") -> None:
        self.store = store
        # Two narrow queries: every card's due time, and the kinds of the few cards not in review
        # (reading every column of every row costs twice as much).
        self.due: dict[str, int] = dict(store.db.execute("SELECT id, due FROM cards"))
        self.kinds: dict[str, int] = dict(store.db.execute("SELECT id, state FROM cards WHERE state != 2"))
        self._stability: dict[str, float | None] | None = None
        self.cards: dict[str, fsrs.Card] = {}  # built or set in this process: these win over the rows

    def __contains__(self, card_id: object) -> bool:
        return card_id in self.cards or card_id in self.due

    def __len__(self) -> int:
        return len(set(self.due) | set(self.cards))

    def __iter__(self):
        return iter(set(self.due) | set(self.cards))

    def get(self, card_id: str) -> fsrs.Card | None:
        card = self.cards.get(card_id)
        if card is None and card_id in self.due:
            self._forget_row(card_id)
            card = self.store.state(card_id)
            if card is not None:
                self.cards[card_id] = card
        return card

    def __getitem__(self, card_id: str) -> fsrs.Card:
        card = self.get(card_id)
        if card is None:
            raise KeyError(card_id)
        return card

    def __setitem__(self, card_id: str, card: fsrs.Card) -> None:
        self._forget_row(card_id)
        self.cards[card_id] = card

    def pop(self, card_id: str, default: object = None) -> object:
        card = self.get(card_id)
        self.cards.pop(card_id, None)
        return card if card is not None else default

    def kind_and_due(self, card_id: str) -> tuple[int, int] | None:
        """(fsrs state number, due in epoch ms) without building the card."""
        due = self.due.get(card_id)
        if due is not None:
            return self.kinds.get(card_id, self.REVIEW), due
        card = self.cards.get(card_id)
        return (int(card.state), to_ms(card.due)) if card is not None else None

    def stability(self, card_id: str) -> float | None:
        if card_id in self.due:
            if self._stability is None:
                self._stability = dict(self.store.db.execute("SELECT id, stability FROM cards"))
            return self._stability.get(card_id)
        card = self.cards.get(card_id)
        return card.stability if card is not None else None

    def _forget_row(self, card_id: str) -> None:
        self.due.pop(card_id, None)
        self.kinds.pop(card_id, None)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            self._rollback()
            return
        try:
            self.db.execute("COMMIT")
        except BaseException:  # e.g. a full disk at commit: the transaction may still be open
            self._rollback()
            raise

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk or I/O error); a failing ROLLBACK must not
        # hide the error that caused it, and closing the connection rolls back anyway.
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass


def _card_from_row(row: Iterable) -> fsrs.Card:
    import fsrs

    _, state, step, stability, difficulty, due, last_review = row
    return fsrs.Card(card_id=0, state=fsrs.State(state), step=step, stability=stability, difficulty=difficulty,
                     due=from_ms(due), last_review=from_ms(last_review) if last_review is not None else None)
