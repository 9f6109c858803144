"""Ordered schema steps for the review database; `PRAGMA user_version` records how far it got."""

from __future__ import annotations

import sqlite3
from typing import Callable

Migration = Callable[[sqlite3.Connection], None]


def _m001_initial(db: sqlite3.Connection) -> None:
    _run_script(db, """
        CREATE TABLE cards (
            id TEXT PRIMARY KEY,          -- card id: note id, or note id + '/rev' or '/c<N>'
            state INTEGER NOT NULL,       -- fsrs State: 1 learning, 2 review, 3 relearning
            step INTEGER,                 -- learning/relearning step index
            stability REAL,
            difficulty REAL,
            due INTEGER NOT NULL,         -- epoch milliseconds
            last_review INTEGER           -- epoch milliseconds
        );
        CREATE INDEX cards_due ON cards(due);
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            card_id TEXT NOT NULL,
            rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4),
            reviewed_at INTEGER NOT NULL,  -- epoch milliseconds
            duration_ms INTEGER,
            state_before TEXT,             -- JSON card state, NULL when the card was new
            state_after TEXT NOT NULL      -- JSON card state
        );
        CREATE INDEX reviews_card ON reviews(card_id, reviewed_at);
        CREATE INDEX reviews_time ON reviews(reviewed_at);
        CREATE TABLE skips (
            card_id TEXT NOT NULL,
            day TEXT NOT NULL,             -- the review day (YYYY-MM-DD) the card is skipped for
            PRIMARY KEY (card_id, day)
        );
        """)


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT first and break the step's transaction, so run statements singly.
    lines = [line.split("--")[0] for line in script.splitlines()]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            db.execute(statement)


def _m002_review_kind_and_suspended(db: sqlite3.Connection) -> None:
    # The state kind before each review, as a column: retention and leech queries over a million
    # rows read it without parsing JSON.
    _run_script(db, """
        ALTER TABLE reviews ADD COLUMN kind_before INTEGER;  -- fsrs state before the review, NULL if new
        UPDATE reviews SET kind_before = json_extract(state_before, '$.state');
        CREATE TABLE suspended (
            card_id TEXT PRIMARY KEY,
            suspended_at INTEGER NOT NULL,  -- epoch milliseconds
            reason TEXT NOT NULL            -- 'leech' or 'manual'
        );
        """)


def _m003_lapse_index(db: sqlite3.Connection) -> None:
    # Leeches are counted over the whole log: a partial index holds just the lapses.
    _run_script(db, "CREATE INDEX reviews_lapses ON reviews(card_id) WHERE rating = 1 AND kind_before = 2;")


def _m004_review_mode_and_mocks(db: sqlite3.Connection) -> None:
    # How each review was drawn, so reviews done early stay distinguishable in the log; and the
    # mock interviews, one row per question asked.
    _run_script(db, """
        ALTER TABLE reviews ADD COLUMN mode TEXT NOT NULL DEFAULT 'review';  -- review, ahead, cram or mock
        CREATE TABLE mocks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started INTEGER NOT NULL,      -- epoch milliseconds
            parts TEXT NOT NULL            -- the parts asked for, comma-separated
        );
        CREATE TABLE mock_answers (
            mock_id INTEGER NOT NULL REFERENCES mocks(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,     -- 1 for the first question
            card_id TEXT NOT NULL,
            part TEXT NOT NULL,
            deck TEXT NOT NULL,
            seconds REAL NOT NULL,         -- from the question shown to the answer revealed
            points_made INTEGER NOT NULL,
            points_total INTEGER NOT NULL,
            missed TEXT NOT NULL,          -- JSON list of the points not made
            rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4),
            review_id INTEGER,             -- the review logged for this answer
            answer TEXT,                   -- what was typed, if anything
            PRIMARY KEY (mock_id, position)
        );
        """)


def _m005_anki_note_mods(db: sqlite3.Connection) -> None:
    # When each exported note's content last changed, so Anki updates only the notes that changed; and
    # the note type a note imported from Anki had, so the export gives it back in that type.
    _run_script(db, """
        CREATE TABLE anki_note_mods (guid TEXT PRIMARY KEY, digest BLOB NOT NULL, mod INTEGER NOT NULL);
        CREATE TABLE anki_note_types (guid TEXT PRIMARY KEY, info TEXT NOT NULL);
        """)


def _m006_flags_and_bury(db: sqlite3.Connection) -> None:
    # A flag colour per card (as Anki's 1 red .. 4 blue), set from the drill; and which hide-until-tomorrow
    # a skips row is: a skip, or a bury (Anki's word, for the same wait).
    _run_script(db, """
        CREATE TABLE flags (
            card_id TEXT PRIMARY KEY,
            flag INTEGER NOT NULL CHECK (flag BETWEEN 1 AND 4),
            flagged_at INTEGER NOT NULL    -- epoch milliseconds
        );
        ALTER TABLE skips ADD COLUMN kind TEXT NOT NULL DEFAULT 'skip';  -- skip or bury
        """)


def _m007_anki_cards(db: sqlite3.Connection) -> None:
    # The cards whose history includes reviews done in Anki: from then on they are scheduled with Anki's
    # engine, so that prep and Anki keep one memory state for them; every other card with py-fsrs.
    _run_script(db, "CREATE TABLE anki_cards (card_id TEXT PRIMARY KEY) WITHOUT ROWID;")


MIGRATIONS: list[Migration] = [_m001_initial, _m002_review_kind_and_suspended, _m003_lapse_index,
                               _m004_review_mode_and_mocks, _m005_anki_note_mods, _m006_flags_and_bury,
                               _m007_anki_cards]


def current_version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply pending steps, each with its version bump in one transaction; return their names."""
    applied = []
    version = current_version(db)
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            if current_version(db) >= number:  # another process got there first
                db.execute("COMMIT")
                continue
            step(db)
            db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # SQLite rolls back by itself on a full disk: keep that error
                db.execute("ROLLBACK")
            raise
        applied.append(step.__name__)
    return applied
