"""Daily copies of the review database, keeping the newest N, and how to restore one."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from prep import files

PREFIX = "prep-"


def backups_dir(database: Path) -> Path:
    return database.parent / "backups"


def existing(database: Path) -> list[Path]:
    """Backups, oldest first (names sort by date)."""
    folder = backups_dir(database)
    return sorted(folder.glob(f"{PREFIX}*.db")) if folder.is_dir() else []


def daily_backup(database: Path, day: str, keep: int) -> Path | None:
    """Copy the database once per review day (SQLite's online backup: consistent even mid-write)."""
    if keep <= 0 or not database.is_file():
        return None
    target = backups_dir(database) / f"{PREFIX}{day}.db"
    if os.path.lexists(target):
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(database)
    try:
        # exclusive: a second process taking the same day's backup finds it made, not overwritten
        with files.replacing(target, exclusive=True) as partial:
            destination = sqlite3.connect(partial)
            try:
                source.backup(destination)
            finally:
                destination.close()
    except FileExistsError:
        return None
    finally:
        source.close()
    for old in existing(database)[:-keep]:
        old.unlink()
    return target


def restore_hint(database: Path) -> str:
    """What to type to put the newest backup back in place."""
    backups = existing(database)
    if not backups:
        return f"No backups exist yet in {backups_dir(database)}."
    newest = backups[-1]
    return (f"To restore the newest backup ({newest.name}):\n"
            f"  mv '{database}' '{database}.corrupt' && cp '{newest}' '{database}'")
