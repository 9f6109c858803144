"""`prep doctor` and backups: states checked against the log, repaired from it, daily copies kept."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from prep import backup, paths, scheduler
from prep.cli import cli
from prep.config import Config
from prep.store import Store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def history(path: Path) -> None:
    sched = scheduler.make(Config())
    with Store(path) as store:
        for card_id in ("a", "b"):
            for offset, rating in ((0, 3), (1, 3), (5, 1)):
                when = NOW - timedelta(days=10 - offset)
                store.apply(card_id, rating, when, None, lambda s, at: scheduler.review(sched, s, card_id, rating, at))


def doctor(*args: str):
    return CliRunner().invoke(cli, ["doctor", *args], env={"PREP_NOW": NOW.isoformat()}, catch_exceptions=False)


def test_healthy_database(isolated: Path) -> None:
    history(paths.database_path())
    result = doctor()
    assert result.exit_code == 0, result.output
    assert "Integrity check: ok" in result.output
    assert "Reviews: 6; cards with a state: 2" in result.output
    assert result.output.rstrip().endswith("All good.")


def test_tampered_state_is_reported_then_repaired_from_the_log(isolated: Path) -> None:
    db_path = paths.database_path()
    history(db_path)
    with closing(sqlite3.connect(db_path)) as db:
        good = db.execute("SELECT * FROM cards WHERE id = 'a'").fetchone()
        db.execute("UPDATE cards SET stability = 999, due = 0 WHERE id = 'a'")
        db.execute("DELETE FROM cards WHERE id = 'b'")
        db.commit()
        checked = doctor("--no-repair")
        assert checked.exit_code == 1
        assert "1 card: state differs from its last logged review: a" in checked.output
        assert "1 card: reviewed but no stored state: b" in checked.output
        repaired = doctor()
        assert repaired.exit_code == 0, repaired.output
        assert "Repaired 2 card states from the review log." in repaired.output
        assert db.execute("SELECT * FROM cards WHERE id = 'a'").fetchone() == good
        assert doctor().output.rstrip().endswith("All good.")


def test_daily_backups_keep_the_newest(tmp_path: Path) -> None:
    db_path = tmp_path / "prep.db"
    history(db_path)
    for day in range(1, 6):
        backup.daily_backup(db_path, f"2026-03-0{day}", keep=3)
    assert backup.daily_backup(db_path, "2026-03-05", keep=3) is None  # once a day
    names = [p.name for p in backup.existing(db_path)]
    assert names == ["prep-2026-03-03.db", "prep-2026-03-04.db", "prep-2026-03-05.db"]
    with closing(sqlite3.connect(backup.existing(db_path)[-1])) as copy:
        assert copy.execute("SELECT COUNT(*) FROM reviews").fetchone() == (6,)


def test_corrupt_database_explains_how_to_restore(decks_dir: Path, isolated: Path) -> None:
    db_path = paths.database_path()
    history(db_path)
    backup.daily_backup(db_path, "2026-03-01", keep=7)
    db_path.write_bytes(b"garbage" * 1000)
    for name in ("-wal", "-shm"):
        Path(str(db_path) + name).unlink(missing_ok=True)
    result = CliRunner().invoke(cli, ["stats"])
    assert result.exit_code == 1
    assert "is damaged (file is not a database)" in result.output
    assert "To restore the newest backup (prep-2026-03-01.db):" in result.output
    assert "Traceback" not in result.output


def test_doctor_json(isolated: Path) -> None:
    import json

    history(paths.database_path())
    data = json.loads(doctor("--json").output)
    assert data["healthy"] is True and data["reviews"] == 6 and data["integrity"] == ["ok"]


def test_a_repair_never_undoes_a_rating_made_while_doctor_ran(isolated: Path) -> None:
    """doctor finds a damaged state; before it repairs, another process rates the card: the repair
    re-reads the log inside its write transaction and keeps the newer rating."""
    from prep import doctor as checker

    database = paths.database_path()
    history(database)
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("UPDATE cards SET stability = 999 WHERE id IN ('a', 'b')")  # both damaged
    sched = scheduler.make(Config())
    with Store(database) as store:
        report = checker.examine(store, sched, Config(), repair=False)
        assert sorted(report.state_mismatch) == ["a", "b"]
        with Store(database) as other:  # the concurrent rating, committed between examine and repair
            other.apply("a", 3, NOW, None, lambda s, at: scheduler.review(sched, s, "a", 3, at))
        newest = store.state("a")
        assert store.restore_from_log(report.state_mismatch) == ["b"]
        assert store.state("a").stability == newest.stability != 999  # the rating made meanwhile is kept
        assert store.state("b").stability != 999
    # every state now equals its latest logged review (the rating from the damaged state shows as a
    # broken chain for 'a', which is the damage's doing, not the repair's)
    assert "state differs from its last logged review" not in doctor("--no-repair").output


def test_no_repair_writes_nothing(isolated: Path) -> None:
    db_path = paths.database_path()
    history(db_path)
    db = sqlite3.connect(db_path)
    db.execute("UPDATE cards SET stability = 999 WHERE id = 'a'")
    db.commit()
    db.close()

    def files() -> dict[str, bytes]:
        return {p.relative_to(isolated).as_posix(): p.read_bytes() for p in isolated.rglob("*") if p.is_file()}

    before = files()
    for args in (["--no-repair"], ["--no-repair", "--json"], ["--no-repair", "--decks", "anywhere"]):
        result = doctor(*args)
        assert result.exit_code == 1 and "Backup written" not in result.output, args
        assert files() == before, args
    assert not (isolated / "backups").exists()
    assert "Backup written" in doctor().output  # a repair takes the day's backup, as before


def test_doctor_json_before_any_review_is_still_json(isolated: Path) -> None:
    import json

    result = CliRunner().invoke(cli, ["doctor", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == {"database": str(isolated / "prep.db"), "exists": False, "healthy": True}


@pytest.mark.parametrize("damage", ["reviewed_at = -62135596800001", "state_after = '{bad json'"])
def test_a_review_at_an_impossible_time_is_reported_not_a_traceback(isolated: Path, tmp_path: Path,
                                                                    damage: str) -> None:
    database = paths.database_path()
    history(database)
    with closing(sqlite3.connect(database)) as db:  # year 0 or broken JSON: edited by hand, or damaged
        db.execute(f"UPDATE reviews SET {damage} WHERE id = (SELECT MAX(id) FROM reviews WHERE card_id = 'a')")
        db.commit()
    result = doctor()
    assert result.exit_code == 1
    assert "1 card: a logged review with a time or state no review can have (edited or damaged): a" in result.output
    assert not backup.existing(database)  # no daily backup is taken of a damaged log
    decks = tmp_path / "decks"
    decks.mkdir()
    (decks / "a.yaml").write_text("cards:\n  - {id: a, q: 'Q?', a: 'A.'}\n")
    shown = CliRunner().invoke(cli, ["show", "a"], env={"PREP_NOW": NOW.isoformat(), "PREP_DECKS": str(decks)})
    assert shown.exit_code == 1 and "Error: the review database holds a " in shown.output
