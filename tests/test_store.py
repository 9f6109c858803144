"""The SQLite store: schema migrations, committed ratings, exact undo, refusing newer databases."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from prep import migrations, scheduler
from prep.config import Config
from prep.errors import StoreError
from prep.store import Store

WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def test_blank_database_gets_current_schema(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"cards", "reviews", "skips"} <= tables
        assert migrations.current_version(store.db) == len(migrations.MIGRATIONS)
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rating_is_committed_and_visible_to_another_connection(tmp_path: Path) -> None:
    sched = scheduler.make(Config(enable_fuzzing=False))
    with Store(tmp_path / "p.db") as store:
        after = scheduler.review(sched, None, "a", 3, WHEN)
        store.apply("a", 3, WHEN, 1200, lambda before, at: after)
        with closing(sqlite3.connect(tmp_path / "p.db")) as other:
            assert other.execute("SELECT card_id, rating, duration_ms, state_before FROM reviews").fetchall() == [
                ("a", 3, 1200, None)]
        assert store.state("a").due == after.due


def test_undo_restores_state_and_log_exactly(tmp_path: Path) -> None:
    sched = scheduler.make(Config(enable_fuzzing=False))
    with Store(tmp_path / "p.db") as store:
        first = scheduler.review(sched, None, "a", 3, WHEN)
        store.apply("a", 3, WHEN, None, lambda before, at: first)
        before_rows = store.db.execute("SELECT * FROM reviews").fetchall()
        before_card = store.db.execute("SELECT * FROM cards").fetchall()
        later = WHEN + timedelta(minutes=10)
        second = scheduler.review(sched, first, "a", 1, later)
        review_id, _, _ = store.apply("a", 1, later, None, lambda before, at: second)
        undone = store.undo(review_id)
        assert undone is not None and undone.rating == 1
        assert store.db.execute("SELECT * FROM reviews").fetchall() == before_rows
        assert store.db.execute("SELECT * FROM cards").fetchall() == before_card
        assert store.undo(review_id) is None  # already gone


def test_database_from_a_newer_prep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer version of prep"):
        Store(path)


def test_corrupt_database_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="review database .* is damaged"):
        Store(path)


def test_schema_1_database_migrates_and_keeps_its_log(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        migrations.MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO reviews (card_id, rating, reviewed_at, state_before, state_after) "
                   "VALUES ('a', 1, 5, '{\"state\": 2}', '{}'), ('a', 3, 6, NULL, '{}')")
    with Store(path) as store:
        assert migrations.current_version(store.db) == len(migrations.MIGRATIONS)
        assert store.db.execute("SELECT card_id, rating, kind_before FROM reviews ORDER BY id").fetchall() == [
            ("a", 1, 2), ("a", 3, None)]
        assert store.suspended() == {}


def test_note_mods_change_only_with_content_and_always_move_forward(tmp_path: Path) -> None:
    now = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    with Store(tmp_path / "prep.db") as store:
        first = store.note_mods({"prep/a": b"one", "prep/b": b"two"}, now)
        assert first == {"prep/a": int(now.timestamp()), "prep/b": int(now.timestamp())}
        later = now + timedelta(days=3)
        assert store.note_mods({"prep/a": b"one", "prep/b": b"two"}, later) == first  # unchanged: kept
        same_second = store.note_mods({"prep/a": b"one", "prep/b": b"TWO"}, now)  # edited, same second
        assert same_second == {"prep/a": first["prep/a"], "prep/b": first["prep/b"] + 1}
        assert store.note_mods({"prep/b": b"TWO!"}, later) == {"prep/b": int(later.timestamp())}
        store.seed_note_mods({"anki-guid": 1_700_000_000, "prep/a": 5})  # from an import; known GUIDs kept
        assert store.note_mods({"anki-guid": b"x", "prep/a": b"one"}, later) == {
            "anki-guid": 1_700_000_000, "prep/a": first["prep/a"]}
        assert store.note_mods({"anki-guid": b"y"}, later) == {"anki-guid": int(later.timestamp())}


@pytest.mark.parametrize("stored", [-62_135_596_800_001, 253_402_300_800_005, 2**63 - 1, "abc"])
def test_a_stored_time_no_review_can_have_is_a_damaged_store_error(stored) -> None:
    from prep.store import DamagedLog, from_ms

    with pytest.raises(DamagedLog, match="a time no review can have") as raised:
        from_ms(stored)
    assert raised.value.cause == "damaged"


@pytest.mark.parametrize("stored", ["{bad json", "[1]", '{"state": 99}'])
def test_a_stored_state_no_review_can_have_is_a_damaged_store_error(stored: str) -> None:
    from prep.store import DamagedLog, state_from_json

    with pytest.raises(DamagedLog, match="a card state no review can have") as raised:
        state_from_json(stored)
    assert raised.value.cause == "damaged"
