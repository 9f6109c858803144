"""Why the review database failed, told apart: full disk, read-only, locked, I/O error, damage.

Only damage may suggest restoring a backup: for every other cause the database is fine, and restoring
would drop every review since the backup. Real conditions throughout (tmpfs mounts, an immutable
file, a second process holding the lock); the ones that need mount or chattr skip without them.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from prep import backup, paths, store
from prep.cli import cli
from prep.errors import StoreError
from prep.store import Store

WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
RESTORE = "To restore the newest backup"


def history(db_path: Path) -> None:
    """A database with one suspended card and a backup, so a restore hint would have one to name."""
    with Store(db_path) as db:
        db.suspend(["kept"], WHEN, "manual")
    backup.daily_backup(db_path, "2026-03-01", keep=7)


def suspended(db_path: Path) -> list[str]:
    with closing(sqlite3.connect(db_path)) as db:
        return [row[0] for row in db.execute("SELECT card_id FROM suspended ORDER BY card_id")]


def prep(*args: str):
    return CliRunner().invoke(cli, list(args))


def assert_explained(result, words: str, restore: bool = False) -> None:
    assert result.exit_code == 1, result.output
    assert words in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)  # a message, no crash
    assert (RESTORE in result.output) is restore


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


def fill(folder: Path) -> None:
    """Write until the disk is full."""
    with open(folder / "filler", "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"x" * 4096)
        except OSError:
            pass


# -- the CLI: one message per cause, exit 1, no traceback ------------------------------------------
def test_full_disk_says_so_and_keeps_the_data(isolated: Path) -> None:
    with tmpfs(isolated, "512k"):
        history(paths.database_path())
        fill(isolated)
        assert_explained(prep("suspend", "prob-bayes-rare-disease-test"), "disk full")
        (isolated / "filler").unlink()
        assert prep("suspend", "prob-bayes-rare-disease-test").exit_code == 0
        assert suspended(paths.database_path()) == ["kept", "prob-bayes-rare-disease-test"]


def test_read_only_folder_says_so(isolated: Path) -> None:
    with tmpfs(isolated, "4m"):
        history(paths.database_path())
        remount_read_only(isolated)
        result = prep("suspend", "prob-bayes-rare-disease-test")
        assert_explained(result, "read-only")
        assert f"its folder {isolated} is read-only" in result.output


def test_read_only_database_file_says_so(isolated: Path) -> None:
    db_path = paths.database_path()
    history(db_path)
    if subprocess.run(["chattr", "+i", str(db_path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        result = prep("suspend", "prob-bayes-rare-disease-test")
    finally:
        subprocess.run(["chattr", "-i", str(db_path)], check=True)
    assert_explained(result, "read-only")
    assert "(the file is read-only)" in result.output
    assert suspended(db_path) == ["kept"]


def test_lock_held_by_another_process_says_so(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db_path = paths.database_path()
    history(db_path)
    monkeypatch.setattr(store, "LOCK_TIMEOUT", 0.2)  # instead of 30 s
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys\n"
         "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "db.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\nsys.stdin.read()\ndb.close()", str(db_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        assert_explained(prep("suspend", "prob-bayes-rare-disease-test"), "another prep is using the review database")
    finally:
        holder.communicate("")
    assert prep("suspend", "prob-bayes-rare-disease-test").exit_code == 0  # the lock gone, the same command works


def test_wal_deleted_under_a_running_prep_is_not_called_damage(isolated: Path) -> None:
    db_path = paths.database_path()
    history(db_path)
    with closing(sqlite3.connect(db_path, isolation_level=None)) as running:
        running.execute("INSERT INTO suspended (card_id, suspended_at, reason) VALUES ('b', 0, 'manual')")
        os.unlink(f"{db_path}-wal")
        assert_explained(prep("unsuspend", "kept"), "the database is not damaged")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_database_alone_gets_restore_commands(isolated: Path, damage: str) -> None:
    db_path = paths.database_path()
    history(db_path)
    if damage == "garbage":
        db_path.write_bytes(b"not a database " * 500)
    else:
        with closing(sqlite3.connect(db_path)) as db:  # some pages, so that cutting them loses some
            db.execute("CREATE TABLE padding (x)")
            db.executemany("INSERT INTO padding VALUES (randomblob(3000))", [()] * 20)
            db.commit()
        db_path.write_bytes(db_path.read_bytes()[:8192])
    assert_explained(prep("unsuspend", "kept"), "is damaged", restore=True)


def test_prep_home_that_is_a_file_says_so(isolated: Path) -> None:
    isolated.parent.mkdir(parents=True, exist_ok=True)
    isolated.write_text("not a folder")
    assert_explained(prep("suspend", "prob-bayes-rare-disease-test"), f"PREP_HOME={isolated} is a file, not a folder")


# -- the store: the same causes as StoreError.cause ----------------------------------------------
def test_full_disk_in_a_write_transaction_rolls_back_and_the_store_goes_on(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "512k") as disk, Store(disk / "p.db") as db:
        db.suspend(["kept"], WHEN, "manual")
        fill(disk)
        with pytest.raises(StoreError) as raised:
            db.suspend([f"card-{n}-" + "x" * 200 for n in range(3000)], WHEN, "manual")
        assert raised.value.cause == "full" and RESTORE not in str(raised.value)
        assert not db.db.in_transaction
        (disk / "filler").unlink()
        assert db.suspend(["new"], WHEN, "manual") == 1
        assert set(db.suspended()) == {"kept", "new"}


@pytest.mark.parametrize("message, cause", [
    ("database or disk is full", "full"), ("attempt to write a readonly database", "readonly"),
    ("database is locked", "locked"), ("database table is locked", "locked"),
    ("database disk image is malformed", "damaged"), ("file is not a database", "damaged"),
    ("disk I/O error", "io"), ("no such table: cards", "other")])
def test_errors_without_a_code_are_read_by_their_text(tmp_path: Path, message: str, cause: str) -> None:
    # Python 3.10's sqlite3 errors carry no sqlite_errorcode; neither does one made by hand
    explained = store.explain(sqlite3.OperationalError(message), tmp_path / "p.db")
    assert explained.cause == cause
    assert (RESTORE in str(explained) or "No backups exist" in str(explained)) is (cause == "damaged")


def test_failed_open_closes_its_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def recording(*args, **kwargs):
        opened.append(connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(sqlite3, "connect", recording)
    path = tmp_path / "p.db"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError):
        Store(path)
    with closing(connect(tmp_path / "newer.db")) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer version"):
        Store(tmp_path / "newer.db")
    assert len(opened) == 2
    for connection in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            connection.execute("SELECT 1")


def test_a_folder_where_the_database_should_be(tmp_path: Path) -> None:
    (tmp_path / "p.db").mkdir()
    with pytest.raises(StoreError, match="is a folder, not a database file") as raised:
        Store(tmp_path / "p.db")
    assert RESTORE not in str(raised.value)

