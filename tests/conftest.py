"""Shared fixtures: an isolated data directory, a copy of the test decks, and a fixed clock."""

from __future__ import annotations

import functools
import gc
import os
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
    # PREP_TEST_TZ runs the suite in another zone; "rollover" in one where each test starts two
    # seconds before the 04:00 day boundary, "midnight" two seconds before the date changes (stress
    # runs for code on the real clock).
    zone = os.environ.get("PREP_TEST_TZ", "UTC")
    stress = {"rollover": lambda: zone_seconds_before(2), "midnight": lambda: zone_seconds_before(2, hour=0)}
    monkeypatch.setenv("TZ", stress[zone]() if zone in stress else zone)
    time.tzset()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield home
    # Collect now, so a connection a test left open is reported against that test (Python 3.13
    # warns when one is garbage collected) rather than against whichever test runs when gc does.
    gc.collect()


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests whose expected values are wall-clock times in UTC: UTC even under PREP_TEST_TZ."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture
def decks_dir(tmp_path: Path) -> Path:
    """A private copy of tests/data/decks."""
    target = tmp_path / "work" / "decks"
    shutil.copytree(DATA / "decks", target)
    return target


@functools.lru_cache(maxsize=None)  # one zone for the whole run: local time never jumps back mid-test
def daytime_zone() -> str:
    """A zone whose local time now is about noon, far from the 04:00 day boundary: for tests on the real
    clock that assume no day rolls over while they run (the rollover itself has tests of its own)."""
    from datetime import datetime, timezone

    ahead = 12 - datetime.now(timezone.utc).hour  # hours ahead of UTC, -11 to 12
    return "UTC" if ahead == 0 else f"Etc/GMT{-ahead:+d}"  # Etc/GMT names count the other way


def zone_seconds_before(seconds: int, hour: int = 4) -> str:
    """A POSIX zone whose local time now is `seconds` before `hour` o'clock: 4 is prep's default day
    boundary, 0 the change of date."""
    offset = int(time.time() % 86_400 - (hour * 3600 - seconds))  # UTC minus local time, in seconds
    sign, offset = ("+" if offset >= 0 else "-"), abs(offset)
    return f"ROLL{sign}{offset // 3600}:{offset % 3600 // 60:02d}:{offset % 60:02d}"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def query(database: Path, sql: str, *parameters: object) -> list[tuple]:
    """Rows of one query on a SQLite file, the connection closed again (Python 3.13 warns otherwise)."""
    with closing(sqlite3.connect(database)) as db:
        return db.execute(sql, parameters).fetchall()
