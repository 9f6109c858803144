"""`prep optimize` on a review log generated from known FSRS parameters."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import yaml
from click.testing import CliRunner

from prep import optimize, paths
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


def result_with(fitted: tuple[float, float], default: tuple[float, float] = (0.40, 0.05)) -> optimize.Result:
    return optimize.Result(1000, 500, 100, optimize.Evaluation(*default), None, optimize.Evaluation(*fitted), [0.5] * 21)


def test_saved_only_when_neither_metric_gets_worse() -> None:
    both = result_with((0.35, 0.04))
    assert both.better and both.improved == ["log loss", "RMSE"] and both.worse == []
    rmse_worse = result_with((0.35, 0.06))
    assert not rmse_worse.better and rmse_worse.improved == ["log loss"] and rmse_worse.worse == ["RMSE"]
    assert optimize.verdict(rmse_worse, False, False, "c.yaml") == (
        "The fitted parameters have a lower log loss but a higher RMSE than the default ones; nothing saved.")
    one_better = result_with((0.40, 0.04))
    assert one_better.better and optimize.verdict(one_better, True, False, "c.yaml") == (
        "The fitted parameters have a lower RMSE than the default ones; saved to c.yaml.")
    assert not result_with((0.40, 0.05)).better


def test_a_worse_rmse_is_reported_and_nothing_is_saved(isolated: Path, monkeypatch) -> None:
    monkeypatch.setattr(optimize, "optimize", lambda *args: result_with((0.35, 0.06)))
    result = CliRunner().invoke(cli, ["optimize", "--decks", "anything"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "  default  log loss 0.4000   RMSE 0.0500" in result.output
    assert "  fitted   log loss 0.3500   RMSE 0.0600" in result.output
    assert "a higher RMSE than the default ones; nothing saved." in result.output and "better" not in result.output
    assert not paths.config_path().exists()
    data = json.loads(CliRunner().invoke(cli, ["optimize", "--json"], catch_exceptions=False).output)
    assert data["saved"] is False and data["improved"] == ["log loss"] and data["worse"] == ["RMSE"]
