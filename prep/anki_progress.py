"""`prep export --with-progress`: scheduling and review history written into a genanki package.

genanki writes notes and cards only; this fills in what Anki's importer reads when importing "with
scheduling": the collection's scheduler version and creation day, each card's queue, due, interval
and FSRS memory state, and the review log.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

from prep import clock, files
from prep.config import Config
from prep.review import LEARNING_STATES, REVIEW_STATE
from prep.store import Store, to_ms

DEFAULT_DECAY = 0.1542  # FSRS-6's w20; Anki stores the curve's decay with each card


def add_progress(package: Path, store: Store, card_for: dict[tuple[str, int], str], now: datetime,
                 config: Config) -> tuple[int, int]:
    """Rewrite `package` in place with prep's states and log; returns (cards scheduled, log rows)."""
    with tempfile.TemporaryDirectory(prefix="prep-progress-") as scratch:
        with zipfile.ZipFile(package) as archive:
            archive.extractall(scratch, members=[m for m in archive.namelist() if m == "collection.anki2"])
            others = [(info, archive.read(info)) for info in archive.infolist() if info.filename != "collection.anki2"]
        db_path = Path(scratch) / "collection.anki2"
        db = sqlite3.connect(db_path)
        try:
            counts = _fill(db, store, card_for, now, config)
            db.commit()
        finally:
            db.close()
        with files.replacing(package) as partial, zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as out:
            out.write(db_path, "collection.anki2")
            for info, data in others:
                out.writestr(info, data)
    return counts


def _fill(db: sqlite3.Connection, store: Store, card_for: dict[tuple[str, int], str], now: datetime,
          config: Config) -> tuple[int, int]:
    day_start, _ = clock.day_bounds(now, config.day_starts_at)
    conf = json.loads(db.execute("SELECT conf FROM col").fetchone()[0])
    conf["schedVer"] = 2  # without it Anki upgrades the package from the old scheduler and rewrites the log
    conf["rollover"] = config.day_starts_at
    db.execute("UPDATE col SET crt = ?, conf = ?", (int(day_start.timestamp()), json.dumps(conf)))
    states = store.states()
    params = config.parameters or []
    decay = params[20] if len(params) > 20 else DEFAULT_DECAY
    rows = db.execute("SELECT cards.id, notes.guid, cards.ord FROM cards JOIN notes ON notes.id = cards.nid").fetchall()
    used_ids = set()
    scheduled = logged = 0
    for anki_card, guid, ordinal in rows:
        card_id = card_for.get((guid, ordinal))
        state = states.get(card_id) if card_id else None
        if state is None:
            continue
        reviews = store.reviews(card_id)
        lapses = sum(1 for r in reviews if r.rating == 1 and r.state_before is not None
                     and int(r.state_before.state) == REVIEW_STATE)
        last = state.last_review or now
        data = json.dumps({"s": round(state.stability or 0, 4), "d": round(state.difficulty or 5, 4),
                           "dr": config.desired_retention, "decay": decay, "lrt": int(last.timestamp())})
        if int(state.state) == REVIEW_STATE:
            due_day = clock.elapsed_days(now, state.due, config.day_starts_at)
            interval = max(1, clock.elapsed_days(last, state.due, config.day_starts_at))
            db.execute("UPDATE cards SET type = 2, queue = 2, due = ?, ivl = ?, factor = 2500, reps = ?, lapses = ?, "
                       "left = 0, data = ? WHERE id = ?", (due_day, interval, len(reviews), lapses, data, anki_card))
        elif int(state.state) in LEARNING_STATES:
            kind = 1 if int(state.state) == 1 else 3
            steps = config.learning_steps if kind == 1 else config.relearning_steps
            remaining = max(1, len(steps) - (state.step or 0))
            db.execute("UPDATE cards SET type = ?, queue = 1, due = ?, ivl = 0, factor = 2500, reps = ?, lapses = ?, "
                       "left = ?, data = ? WHERE id = ?",
                       (kind, int(state.due.timestamp()), len(reviews), lapses, remaining * 1001, data, anki_card))
        scheduled += 1
        previous_interval = 0
        for review in reviews:
            review_id = to_ms(review.reviewed_at)
            while review_id in used_ids:  # Anki needs unique ids; prep import matches within a second
                review_id += 1
            used_ids.add(review_id)
            after = review.state_after
            if int(after.state) == REVIEW_STATE and after.last_review is not None:
                interval = max(1, clock.elapsed_days(after.last_review, after.due, config.day_starts_at))
            else:
                interval = -int((after.due - review.reviewed_at).total_seconds())
            before_kind = int(review.state_before.state) if review.state_before is not None else 1
            log_type = {1: 0, REVIEW_STATE: 1, 3: 2}.get(before_kind, 0)
            db.execute("INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) "
                       "VALUES (?, ?, -1, ?, ?, ?, 2500, ?, ?)",
                       (review_id, anki_card, review.rating, interval, previous_interval,
                        min(review.duration_ms or 0, 60_000), log_type))
            previous_interval = interval
            logged += 1
    return scheduled, logged

