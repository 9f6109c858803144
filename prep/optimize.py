"""`prep optimize`: FSRS parameters fitted to the user's own review log with fsrs-rs-python (Anki's engine)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from prep.clock import day_number
from prep.errors import PrepError
from prep.store import Store, from_ms

MIN_REVIEWS = 400  # below this, fitted parameters are mostly noise
MIN_TEST_ITEMS = 30
TEST_SHARE = 0.2  # a fifth of the cards (all their reviews) are held out for evaluation


@dataclass(frozen=True)
class Evaluation:
    log_loss: float
    rmse: float  # fsrs-rs's binned RMSE


@dataclass(frozen=True)
class Result:
    reviews: int
    train_items: int
    test_items: int
    default: Evaluation
    current: Evaluation | None  # the parameters in use, when they are not the defaults
    fitted: Evaluation
    parameters: list[float]

    @property
    def baseline(self) -> Evaluation:
        return self.current or self.default

    @property
    def improved(self) -> list[str]:
        """The metrics on which the fitted parameters beat the ones in use."""
        return [name for name, fitted, baseline in self._pairs() if fitted < baseline]

    @property
    def worse(self) -> list[str]:
        """The metrics on which the fitted parameters do worse than the ones in use."""
        return [name for name, fitted, baseline in self._pairs() if fitted > baseline]

    @property
    def better(self) -> bool:
        """Better on at least one metric and worse on none: only then are they worth saving."""
        return bool(self.improved) and not self.worse

    def _pairs(self) -> list[tuple[str, float, float]]:
        return [("log loss", self.fitted.log_loss, self.baseline.log_loss),
                ("RMSE", self.fitted.rmse, self.baseline.rmse)]


def verdict(result: Result, saved: bool, dry_run: bool, config_path: str) -> str:
    """One sentence on what the fit did to each metric and whether the parameters were saved."""
    against = "current" if result.current else "default"
    better = " and ".join(result.improved)
    if saved:
        return f"The fitted parameters have a lower {better} than the {against} ones; saved to {config_path}."
    if result.better:
        return f"The fitted parameters have a lower {better} than the {against} ones (not saved: --dry-run)."
    if result.worse and result.improved:
        return (f"The fitted parameters have a lower {better} but a higher {' and '.join(result.worse)} than the "
                f"{against} ones; nothing saved.")
    if result.worse:
        return f"The fitted parameters have a higher {' and '.join(result.worse)} than the {against} ones; nothing saved."
    return f"The fitted parameters predict held-out reviews no better than the {against} ones; nothing saved."


def histories(store: Store, day_starts_at: int) -> dict[str, list[tuple[int, int]]]:
    """Each card's reviews as (rating, days since its previous review), oldest first."""
    by_card: dict[str, list[tuple[int, int]]] = {}
    last_day: dict[str, int] = {}
    for card_id, rating, reviewed_at in store.db.execute(
            "SELECT card_id, rating, reviewed_at FROM reviews ORDER BY card_id, reviewed_at, id"):
        day = day_number(from_ms(reviewed_at), day_starts_at)
        previous = last_day.get(card_id)
        by_card.setdefault(card_id, []).append((rating, 0 if previous is None else day - previous))
        last_day[card_id] = day
    return by_card


def items_for(history: list[tuple[int, int]]) -> list:
    """One training item per review made on a later day than the one before: the history up to it."""
    import fsrs_rs_python as rs

    reviews = [rs.FSRSReview(rating, delta) for rating, delta in history]
    return [rs.FSRSItem(reviews[: i + 1]) for i in range(1, len(reviews)) if history[i][1] > 0]


def held_out(card_id: str) -> bool:
    """A stable, content-independent choice of test cards."""
    return hashlib.blake2b(card_id.encode(), digest_size=2).digest()[0] < 256 * TEST_SHARE


def optimize(store: Store, day_starts_at: int, current: list[float] | None) -> Result:
    import fsrs_rs_python as rs

    cards = histories(store, day_starts_at)
    reviews = sum(len(h) for h in cards.values())
    if reviews < MIN_REVIEWS:
        raise PrepError(f"optimizing needs at least {MIN_REVIEWS} reviews; the log has {reviews}. "
                        "Keep reviewing with the default parameters and try again later.")
    train, test = [], []
    for card_id, history in cards.items():
        (test if held_out(card_id) else train).extend(items_for(history))
    if len(test) < MIN_TEST_ITEMS or not train:
        raise PrepError(f"optimizing needs reviews spread over more days and cards (held-out items: {len(test)}, "
                        f"need {MIN_TEST_ITEMS}); try again after more reviews.")
    defaults = list(rs.DEFAULT_PARAMETERS)
    fitted = list(rs.FSRS(defaults).compute_parameters(train))

    def evaluate(parameters: list[float]) -> Evaluation:
        result = rs.FSRS(parameters).evaluate(test)
        return Evaluation(float(result.log_loss), float(result.rmse_bins))

    return Result(reviews, len(train), len(test), evaluate(defaults),
                  evaluate(current) if current else None, evaluate(fitted), fitted)
