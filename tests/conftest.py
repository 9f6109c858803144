"""Shared fixtures: an isolated data directory, a copy of the test decks, and a fixed clock."""

from __future__ import annotations

import gc
import shutil
import sqlite3
from contextlib import closing
import time
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
NOW = "2026-03-02T10:00:00+00:00"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test touches the user's data, decks or clock."""
    home = tmp_path / "home"
    monkeypatch.setenv("PREP_HOME", str(home))
    monkeypatch.setenv("PREP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PREP_DECKS", raising=False)
    monkeypatch.delenv("PREP_NOW", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield home
    # Collect now, so a connection a test left open is reported against that test (Python 3.13
    # warns when one is garbage collected) rather than against whichever test runs when gc does.
    gc.collect()


@pytest.fixture
def decks_dir(tmp_path: Path) -> Path:
    """A private copy of tests/data/decks."""
    target = tmp_path / "work" / "decks"
    shutil.copytree(DATA / "decks", target)
    return target


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def query(database: Path, sql: str, *parameters: object) -> list[tuple]:
    """Rows of one query on a SQLite file, the connection closed again (Python 3.13 warns otherwise)."""
    with closing(sqlite3.connect(database)) as db:
        return db.execute(sql, parameters).fetchall()
