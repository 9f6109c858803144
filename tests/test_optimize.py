"""`prep optimize` on a review log generated from known FSRS parameters."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import yaml
from click.testing import CliRunner

from prep import paths
from prep.cli import cli
from prep.store import Store
from tests.synthetic import TRUE_PARAMETERS, synthetic_reviews


def write_log(db_path: Path, rows: list) -> None:
    Store(db_path).close()
    with closing(sqlite3.connect(db_path)) as db:
        db.executemany("INSERT INTO reviews (card_id, rating, reviewed_at, state_after) VALUES (?, ?, ?, '{}')",
                       [(card, rating, int(when.timestamp() * 1000)) for card, rating, when in rows])
        db.commit()


def test_fitted_parameters_beat_the_defaults_and_are_saved(isolated: Path) -> None:
    write_log(paths.database_path(), synthetic_reviews(TRUE_PARAMETERS, cards=300, days=365, seed=1))
    result = CliRunner().invoke(cli, ["optimize", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fitted"]["log_loss"] < data["default"]["log_loss"]
    assert data["saved"] is True and data["test_items"] >= 30
    saved = yaml.safe_load(paths.config_path().read_text())["parameters"]
    assert saved == [round(p, 4) for p in data["parameters"]] and len(saved) == len(TRUE_PARAMETERS)
    # the fitted initial stabilities move towards the true ones (which are far from the defaults)
    assert abs(data["parameters"][2] - TRUE_PARAMETERS[2]) < abs(2.3065 - TRUE_PARAMETERS[2])
    again = CliRunner().invoke(cli, ["optimize"], catch_exceptions=False)  # now "current" is the fitted set
    assert "current" in again.output


def test_too_few_reviews_is_refused(isolated: Path) -> None:
    write_log(paths.database_path(), synthetic_reviews(TRUE_PARAMETERS, cards=10, days=60, seed=2))
    result = CliRunner().invoke(cli, ["optimize"])
    assert result.exit_code == 1
    assert "optimizing needs at least 400 reviews; the log has" in result.output
    assert not paths.config_path().exists()
