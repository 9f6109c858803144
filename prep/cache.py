"""The one cache: parsed deck files, card indexes, drawn screens and rendered HTML in one SQLite file.

It lives in the user cache folder and is an optimisation only. Parsed files are keyed by their path relative to the decks folder and a
digest of their bytes (a changed file always misses); the card index of a decks folder is keyed by a
digest of every file's path and bytes. Entries are plain `marshal` data (no code runs on load). Any
error, lock, damaged or foreign file counts as a miss and the entry is rebuilt; deleting the folder
loses nothing. The current folder is part of no key, so shells in different folders share entries.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import stat
import time
from pathlib import Path

from prep import __version__
from prep.model import CodeSpec, Note

SCHEMA = 6  # bump whenever a table's layout, an entry's shape or what a deck file parses to changes: the old
# file is replaced (5: front-only cards, `a: ""`, and sound and file references; 6: `A: ""` then text is a problem)
PRUNE_DAYS = 120  # entries not used for this long are dropped (edited files, other terminal widths)
# Files of the caches earlier versions kept in the data folder; removed once.
OLD_CACHE_PATTERNS = ("decks-*.marshal", "index-*.marshal", "index-*.texts", "screens.db", "screens.db-*",
                      "html.marshal", ".*.marshal.*")

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (relpath TEXT NOT NULL, digest BLOB NOT NULL, data BLOB NOT NULL,
                                  used INTEGER NOT NULL, PRIMARY KEY (relpath, digest));
CREATE TABLE IF NOT EXISTS indexes (root TEXT PRIMARY KEY, key BLOB NOT NULL, data BLOB NOT NULL,
                                    used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS screens (key BLOB PRIMARY KEY, text TEXT NOT NULL, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS html (key BLOB PRIMARY KEY, html TEXT NOT NULL, used INTEGER NOT NULL);
"""


def note_row(note: Note) -> tuple:
    """A note as plain marshal-able data (its path is known from where the row is kept)."""
    return (note.id, note.deck, note.line, note.q, note.a, note.cloze, note.extra, tuple(note.tags), note.reverse,
            tuple(note.points), note.code.as_tuple() if note.code is not None else None, note.guid)


def note_from_row(row: tuple, path: Path) -> Note:
    # positional arguments: about twice as fast as keywords, and this runs once per cached note
    return Note(row[0], row[1], path, row[2], row[3], row[4], row[5], row[6], list(row[7]), row[8], list(row[9]),
                CodeSpec.from_tuple(row[10]) if row[10] is not None else None, row[11])


class Cache:
    """One connection to the cache file; every method is a miss or a no-op when the cache is unusable."""

    def __init__(self, folder: Path | None) -> None:
        self.db: sqlite3.Connection | None = None
        if folder is None:
            return
        path = Path(folder) / "cache.db"
        try:
            fresh = not os.path.lexists(path)
            if not fresh and not _own_file(path):
                _remove_database(path)  # only the name goes: the file it leads to is not ours to write
                fresh = True
        except OSError:
            return
        for attempt in (1, 2):
            try:
                self._open(path)
                break
            except sqlite3.DatabaseError as error:
                self.close()
                if attempt == 2 or isinstance(error, sqlite3.OperationalError):
                    return  # locked, read-only, disk full: run without the cache this time
                _remove_database(path)  # damaged or not a database: start a new one
                fresh = True
            except (OSError, sqlite3.Error):
                self.close()
                return
        if fresh:
            _remove_old_caches()

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
        self.db.execute("PRAGMA synchronous=OFF")  # a lost write costs one re-parse, nothing else
        self.db.executescript(_TABLES)
        stamp = f"{SCHEMA}:{__version__}"
        found = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if found is None or found[0] != stamp:
            self._reset(stamp)

    def _reset(self, stamp: str) -> None:
        assert self.db is not None
        self.db.execute("BEGIN IMMEDIATE")
        for table in ("files", "indexes", "screens", "html"):
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", (stamp,))
        self.db.execute("COMMIT")

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- parsed deck files ----------------------------------------------------------------
    def file(self, relpath: str, digest: bytes) -> object | None:
        """What parsing this file's bytes gave last time (the loader's own marshal-able tuple)."""
        return self._load(self._one("SELECT data FROM files WHERE relpath = ? AND digest = ?", path_key(relpath),
                                    digest))

    def put_files(self, entries: list[tuple[str, bytes, object]]) -> None:
        now = int(time.time())
        self._many("INSERT OR REPLACE INTO files (relpath, digest, data, used) VALUES (?, ?, ?, ?)",
                   [(path_key(relpath), digest, marshal.dumps(data), now) for relpath, digest, data in entries])

    def touch_files(self, keys: list[tuple[str, bytes]]) -> None:
        """Mark files as still in use (so pruning keeps them)."""
        now = int(time.time())
        self._many("UPDATE files SET used = ? WHERE relpath = ? AND digest = ? AND used < ?",
                   [(now, path_key(relpath), digest, now - 86400) for relpath, digest in keys])

    # -- card indexes ------------------------------------------------------------------------
    def index(self, root: str, key: bytes) -> object | None:
        """The card index last built for the decks folder `root`, if it was built from the same files (`key`)."""
        row = self._row("SELECT key, data FROM indexes WHERE root = ?", path_key(root))
        if row is None or row[0] != key:
            return None
        return self._load(row[1])

    def put_index(self, root: str, key: bytes, data: object) -> None:
        self._many("INSERT OR REPLACE INTO indexes (root, key, data, used) VALUES (?, ?, ?, ?)",
                   [(path_key(root), key, marshal.dumps(data), int(time.time()))])

    # -- drawn screens and rendered HTML -------------------------------------------------------
    def screen(self, key: bytes) -> str | None:
        text = self._one("SELECT text FROM screens WHERE key = ?", key)
        if not isinstance(text, str):
            return None
        now = int(time.time())  # marked used at most once a day: no write on most draws
        self._many("UPDATE screens SET used = ? WHERE key = ? AND used < ?", [(now, key, now - 86400)])
        return text

    def put_screen(self, key: bytes, text: str) -> None:
        self._many("INSERT OR REPLACE INTO screens (key, text, used) VALUES (?, ?, ?)", [(key, text, int(time.time()))])

    def html(self, keys: list[bytes]) -> dict[bytes, str]:
        """The rendered HTML stored for any of `keys`."""
        found: dict[bytes, str] = {}
        if self.db is None:
            return found
        for start in range(0, len(keys), 500):  # SQLite limits the number of parameters
            chunk = keys[start:start + 500]
            rows = self._rows(f"SELECT key, html FROM html WHERE key IN ({','.join('?' * len(chunk))})", *chunk)
            found.update((key, text) for key, text in rows if isinstance(text, str))
        return found

    def put_html(self, rendered: dict[bytes, str]) -> None:
        now = int(time.time())
        self._many("INSERT OR REPLACE INTO html (key, html, used) VALUES (?, ?, ?)",
                   [(key, text, now) for key, text in rendered.items()])

    def touch_html(self, keys: list[bytes]) -> None:
        now = int(time.time())
        self._many("UPDATE html SET used = ? WHERE key = ? AND used < ?", [(now, key, now - 86400) for key in keys])

    def prune(self, days: int = PRUNE_DAYS) -> None:
        """Forget entries not used for `days`."""
        cutoff = int(time.time()) - days * 86400
        for table in ("files", "indexes", "screens", "html"):
            self._many(f"DELETE FROM {table} WHERE used < ?", [(cutoff,)])

    # -- plumbing: every failure is a miss ------------------------------------------------------
    def _rows(self, sql: str, *parameters: object) -> list[tuple]:
        if self.db is None:
            return []
        try:
            return self.db.execute(sql, parameters).fetchall()
        except (sqlite3.Error, UnicodeEncodeError):
            return []

    def _row(self, sql: str, *parameters: object) -> tuple | None:
        rows = self._rows(sql, *parameters)
        return rows[0] if rows else None

    def _one(self, sql: str, *parameters: object) -> object | None:
        row = self._row(sql, *parameters)
        return row[0] if row else None

    def _many(self, sql: str, rows: list[tuple]) -> None:
        if self.db is None or not rows:
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(sql, rows)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except (sqlite3.Error, UnicodeEncodeError):
            pass  # locked by another prep, disk full, read-only: only speed next time is lost

    @staticmethod
    def _load(blob: object) -> object | None:
        if not isinstance(blob, bytes):
            return None
        try:
            return marshal.loads(blob)
        except (EOFError, ValueError, TypeError):
            return None


def path_key(path: str) -> str | bytes:
    """A path as a cache key: its text, or its bytes when it is a file name that is not UTF-8 (such a
    name decodes with surrogates, which SQLite cannot store as text; a blob never equals a text)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _own_file(path: Path) -> bool:
    """Whether `path` is a plain file of its own: not a symlink or a hard link that leads to another
    database (SQLite would follow either, and the cache empties its tables on a version change)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1


def _remove_database(path: Path) -> None:
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        try:
            (path.parent / name).unlink()
        except FileNotFoundError:
            pass


def _remove_old_caches() -> None:
    """Delete the cache files earlier versions kept in the data folder, beside the review history."""
    from prep import paths

    try:
        old = paths.data_dir() / "cache"
        if not old.is_dir() or old.is_symlink():
            return
        for pattern in OLD_CACHE_PATTERNS:
            for path in old.glob(pattern):
                if path.is_file() and not path.is_symlink():
                    path.unlink()
        old.rmdir()  # only if nothing else is in it
    except OSError:
        pass
