#!/usr/bin/env python3
"""Benchmark deadline mode against plain FSRS on simulated learners; prints a Markdown table.

    python scripts/deadline_bench.py                       # the shipped decks' card count, 24 learners, 7/21/60 days
    python scripts/deadline_bench.py --cards 300 --learners 8 --horizons 7 21

Ground truth: each learner's memory is FSRS with its own parameters (the defaults, each scaled by a
random factor around 1, kept within fsrs's bounds); a review is recalled with the true retrievability
at that moment, and each review takes the card's own time (a per-card base, noisy, longer on a lapse).
The app knows none of this: it schedules with FSRS's default parameters, as a user who has not run
`prep optimize` would have it.

Every learner first studies the cards for 30 days with plain FSRS (all of them introduced evenly over
those days, every due card reviewed); then an interview is set 7, 21 or 60 days out and three arms continue from the same state:
  plain       FSRS at desired retention 0.9: every due card, every day;
  deadline/N  deadline mode (prep/deadline.py: queue by recall gained on the day per minute, due dates
              capped before the interview, the last two days' sweep) with the same number of reviews
              as plain, spread as an equal daily budget;
  deadline/M  the same with the same minutes of work as plain (a daily budget in true minutes).
Reported: mean true recall over the cards at the interview, its spread over learners, and the work.
Learning steps are off in all arms (same-day steps would add the same reviews to each).
"""

from __future__ import annotations

import os
import time

os.environ["TZ"] = "UTC"  # the interview is 09:00 local: make local UTC so runs agree everywhere
time.tzset()

import argparse  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from copy import copy  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import date, datetime, timedelta, timezone  # noqa: E402
from multiprocessing import Pool  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fsrs  # noqa: E402
from fsrs.scheduler import DEFAULT_PARAMETERS, LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS  # noqa: E402

from prep import clock, deadline, scheduler as sched  # noqa: E402
from prep.config import Config  # noqa: E402

START = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)  # the first study day; sessions at 10:00
WARM_UP_DAYS = 30
TARGET = 0.9
SPREAD = 0.25  # sd of the log of each true parameter's factor
APP = Config(enable_fuzzing=False, learning_steps=[], relearning_steps=[], desired_retention=0.9)


@dataclass
class Learner:
    """One simulated person: true memory (FSRS with their parameters), the app's view, the review times."""

    seed: int
    cards: int
    rng: random.Random = field(init=False)
    truth: fsrs.Scheduler = field(init=False)
    app: fsrs.Scheduler = field(init=False)
    base_seconds: list[float] = field(init=False)
    true_state: dict[str, fsrs.Card] = field(default_factory=dict)
    app_state: dict[str, fsrs.Card] = field(default_factory=dict)
    durations: list[tuple[str, int]] = field(default_factory=list)  # what the review log holds

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        parameters = [min(high, max(low, w * math.exp(self.rng.gauss(0, SPREAD))))
                      for w, low, high in zip(DEFAULT_PARAMETERS, LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS)]
        self.truth = fsrs.Scheduler(parameters=parameters, learning_steps=(), relearning_steps=(),
                                    enable_fuzzing=False)
        self.app = sched.make(APP)
        self.base_seconds = [self.rng.lognormvariate(math.log(15), 0.5) for _ in range(self.cards)]

    def review(self, card_id: str, when: datetime, plan: dict | None) -> float:
        """One review at `when`: recalled with the true retrievability; both states move on. Its minutes."""
        true = self.true_state.get(card_id)
        recalled = true is None or self.rng.random() < self.truth.get_card_retrievability(true, when)
        if true is None:  # a new card: shown with its answer, as good as recalled
            true = fsrs.Card(card_id=0, due=when)
        rating = fsrs.Rating.Good if recalled else fsrs.Rating.Again
        self.true_state[card_id], _ = self.truth.review_card(true, rating, review_datetime=when)
        after = sched.review(self.app, self.app_state.get(card_id), card_id, int(rating), when)
        self.app_state[card_id] = deadline.cap(self.app, after, plan, when)
        seconds = self.base_seconds[int(card_id[1:])] * self.rng.lognormvariate(0, 0.3) * (1 if recalled else 1.6)
        self.durations.append((card_id, int(seconds * 1000)))
        return seconds / 60

    def due(self, now: datetime) -> list[str]:
        """Cards due by the end of the session's day, earliest due first (the plain queue)."""
        cutoff = now + timedelta(hours=14)
        return sorted((c for c, s in self.app_state.items() if s.due <= cutoff), key=lambda c: self.app_state[c].due)

    def recall_at(self, moment: datetime) -> float:
        return statistics.fmean(self.truth.get_card_retrievability(self.true_state[c], moment)
                                if c in self.true_state else 0.0 for c in (f"c{i}" for i in range(self.cards)))


def warm_up(learner: Learner) -> None:
    per_day = math.ceil(learner.cards / WARM_UP_DAYS)
    for day in range(WARM_UP_DAYS):
        now = START + timedelta(days=day)
        for card_id in learner.due(now):
            learner.review(card_id, now, None)
        for n in range(day * per_day, min(learner.cards, (day + 1) * per_day)):
            learner.review(f"c{n}", now + timedelta(seconds=n % per_day), None)


@dataclass
class Outcome:
    recall: float
    reviews: int
    minutes: float


def plain(learner: Learner, horizon: int, moment: datetime) -> Outcome:
    reviews, minutes = 0, 0.0
    for day in range(horizon):
        now = START + timedelta(days=WARM_UP_DAYS + day)
        for card_id in learner.due(now):
            minutes += learner.review(card_id, now, None)
            reviews += 1
    return Outcome(learner.recall_at(moment), reviews, minutes)


def deadline_mode(learner: Learner, horizon: int, moment: datetime, plan: dict, reviews_budget: int | None,
                  minutes_budget: float | None) -> Outcome:
    """Deadline mode within a daily budget: `reviews_budget` reviews or `minutes_budget` minutes in all."""
    reviews, minutes = 0, 0.0
    for day in range(horizon):
        now = START + timedelta(days=WARM_UP_DAYS + day)
        days_left = horizon - day
        estimates = deadline.minutes_per_card(learner.durations)
        queue = deadline.order(learner.app, learner.due(now), learner.app_state.__getitem__, plan, now, estimates)
        if deadline.in_sweep(plan, now):
            queue = list(dict.fromkeys(deadline.sweep(learner.app, learner.app_state, learner.app_state.get, plan, now)
                                       + queue))
        # the day's budget: what is left, spread over the days left (a day that used less passes it on)
        day_reviews = None if reviews_budget is None else math.ceil((reviews_budget - reviews) / days_left)
        day_minutes = None if minutes_budget is None else (minutes_budget - minutes) / days_left
        done, spent = 0, 0.0
        for card_id in queue:
            if day_reviews is not None and done >= day_reviews or day_minutes is not None and spent >= day_minutes:
                break
            spent += learner.review(card_id, now + timedelta(seconds=done), plan)
            done += 1
        reviews, minutes = reviews + done, minutes + spent
    return Outcome(learner.recall_at(moment), reviews, minutes)


def run_one(job: tuple[int, int, int]) -> tuple[int, Outcome, Outcome, Outcome]:
    seed, cards, horizon = job
    learner = Learner(seed, cards)
    warm_up(learner)
    interview = (START + timedelta(days=WARM_UP_DAYS + horizon)).date()
    moment = clock.interview_moment(interview)
    plan = {"interview": interview, "target": TARGET}
    arms = []
    for _ in range(3):
        twin = copy(learner)
        twin.true_state, twin.app_state = dict(learner.true_state), dict(learner.app_state)
        twin.durations = list(learner.durations)
        twin.rng = random.Random(seed * 1000 + horizon)  # the same draws in each arm where they line up
        arms.append(twin)
    base = plain(arms[0], horizon, moment)
    by_reviews = deadline_mode(arms[1], horizon, moment, plan, base.reviews, None)
    by_minutes = deadline_mode(arms[2], horizon, moment, plan, None, base.minutes)
    return horizon, base, by_reviews, by_minutes


def describe(values: list[float]) -> str:
    return f"{100 * statistics.fmean(values):.1f}% ± {100 * statistics.stdev(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, help="cards per learner (default: as many as the shipped decks)")
    parser.add_argument("--learners", type=int, default=24)
    parser.add_argument("--horizons", type=int, nargs="+", default=[7, 21, 60])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if args.cards is None:
        from prep import decks

        args.cards = len(decks.load(Path(__file__).resolve().parent.parent / "decks").cards())
    started = time.monotonic()
    jobs = [(seed, args.cards, horizon) for horizon in args.horizons for seed in range(1, args.learners + 1)]
    with Pool(args.jobs) as pool:
        results = pool.map(run_one, jobs)
    print(f"{args.learners} simulated learners, {args.cards} cards, {WARM_UP_DAYS} days of plain FSRS study first; "
          f"true parameters: defaults × exp(N(0, {SPREAD}²)); recall = mean true retrievability at the interview "
          "(mean ± sd over learners).\n")
    print("| interview in | plain FSRS 0.9 | deadline, same reviews | deadline, same minutes | "
          "reviews (plain / deadline) | minutes (plain / deadline) | deadline − plain (reviews, minutes) "
          "| learners where deadline wins (reviews, minutes) |")
    print("|---|---|---|---|---|---|---|---|")
    for horizon in args.horizons:
        rows = [r[1:] for r in results if r[0] == horizon]
        base, by_n, by_m = ([row[i] for row in rows] for i in range(3))
        recall = [[o.recall for o in arm] for arm in (base, by_n, by_m)]
        gain_n = [b - a for a, b in zip(recall[0], recall[1])]
        gain_m = [b - a for a, b in zip(recall[0], recall[2])]
        print(f"| {horizon} days | {describe(recall[0])} | {describe(recall[1])} | {describe(recall[2])} "
              f"| {statistics.fmean(o.reviews for o in base):.0f} / {statistics.fmean(o.reviews for o in by_n):.0f} "
              f"| {statistics.fmean(o.minutes for o in base):.0f} / {statistics.fmean(o.minutes for o in by_m):.0f} "
              f"| {100 * statistics.fmean(gain_n):+.1f} pts (worst {100 * min(gain_n):+.1f}), "
              f"{100 * statistics.fmean(gain_m):+.1f} pts (worst {100 * min(gain_m):+.1f}) "
              f"| {sum(g > 0 for g in gain_n)}/{len(rows)}, {sum(g > 0 for g in gain_m)}/{len(rows)} |")
    print(f"\n{len(jobs)} runs in {time.monotonic() - started:.0f} s on {args.jobs} processes.")


if __name__ == "__main__":
    main()
