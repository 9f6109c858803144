"""Review logs simulated from known FSRS parameters: recall drawn from the true retrievability."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import fsrs

# Far from the defaults on the initial stabilities and the recall curve, so a fit has something to find.
TRUE_PARAMETERS = list(fsrs.Scheduler().parameters)
for _index, _factor in ((0, 4.0), (1, 3.0), (2, 2.0), (3, 2.0), (8, 0.6), (10, 1.3)):
    TRUE_PARAMETERS[_index] *= _factor


def synthetic_reviews(true_params: list[float], cards: int = 300, days: int = 365,
                      seed: int = 1) -> list[tuple[str, int, datetime]]:
    """(card id, rating, time) rows: each review falls when the true model schedules it, plus jitter."""
    rng = random.Random(seed)
    sched = fsrs.Scheduler(parameters=true_params, enable_fuzzing=False, learning_steps=(), relearning_steps=())
    start = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)
    out = []
    for c in range(cards):
        t = start + timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 8))
        card = fsrs.Card(card_id=c, due=t)
        first = True
        while t < start + timedelta(days=days):
            if first:
                rating = rng.choices([1, 2, 3, 4], [0.2, 0.1, 0.5, 0.2])[0]
                first = False
            else:
                recall = sched.get_card_retrievability(card, t)
                rating = 1 if rng.random() > recall else rng.choices([2, 3, 4], [0.15, 0.7, 0.15])[0]
            out.append((f"s{c}", rating, t))
            card, _ = sched.review_card(card, fsrs.Rating(rating), review_datetime=t)
            t = card.due + timedelta(hours=rng.randint(0, 60))
    return out
