"""`prep plan`: predicted recall on the interview date, and the daily workload that reaches a target."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from prep import clock, scheduler as sched
from prep.config import Config
from prep.errors import PrepError
from prep.store import Store

# Cards a person can work through in a day (new cards shown plus reviews): about two hours at
# 15-20 s a card. A plan whose busiest day needs more is not a plan, whatever FSRS predicts.
DAILY_CAPACITY = 400
MAX_DAYS = 100 * 365  # the furthest interview a plan is made for


@dataclass
class DeckReadiness:
    deck: str
    cards: int = 0
    unseen: int = 0
    recall_sum: float = 0.0  # sum of predicted recall; unseen cards count 0

    @property
    def predicted(self) -> float:
        return self.recall_sum / self.cards if self.cards else 0.0


@dataclass
class Plan:
    interview: date
    days_left: int
    target: float
    decks: list[DeckReadiness] = field(default_factory=list)
    predicted_now: float = 0.0  # share recalled on the day if no more reviews are done
    new_cards: int = 0
    new_per_day: int = 0
    reviews_per_day: float = 0.0  # average over the days left
    peak_reviews: int = 0
    predicted_with_plan: float = 0.0  # following the plan and recalling each review
    peak_load: int = 0  # new cards shown plus reviews on the busiest day
    capacity: int = DAILY_CAPACITY

    @property
    def feasible(self) -> bool:
        """Whether the busiest day of the plan fits in a day's work."""
        return self.peak_load <= self.capacity

    @property
    def on_track(self) -> bool:
        return self.feasible and self.predicted_with_plan >= self.target

    @property
    def days_needed(self) -> int:
        """About how many days the same cards need so that no day exceeds the capacity (the busiest
        day's load shrinks about in proportion to the days the new cards are spread over)."""
        spread = max(1, self.days_left - min(7, self.days_left // 4))
        needed = math.ceil(spread * self.peak_load / self.capacity) if self.peak_load > self.capacity else spread
        return needed + min(7, needed // 3)  # the last days, as make_plan keeps them, for reviews only

    @property
    def cards_that_fit(self) -> int:
        """About how many of the unseen cards the days left can take within the capacity."""
        if self.feasible or not self.peak_load:
            return self.new_cards
        return max(0, math.floor(self.new_cards * self.capacity / self.peak_load))


def make_plan(store: Store, cards: list[tuple[str, str]], config: Config, now: datetime, interview: date,
              target: float) -> Plan:
    """Readiness from each card's FSRS state, then a simulated schedule up to the interview.

    The simulation rates every review Good (an optimistic reading: lapses add reviews) and
    introduces the unseen cards evenly, finishing a few days before the interview so each gets
    several reviews.
    """
    days_left = clock.days_until(interview, now, config.day_starts_at)
    if days_left < 1:
        raise PrepError(f"the interview date {interview.isoformat()} must be after today")
    if days_left > MAX_DAYS:  # the calendar ends at 9999-12-31, and no forecast means anything that far
        raise PrepError(f"the interview date {interview.isoformat()} is more than {MAX_DAYS // 365} years away")
    if not 0.5 <= target <= 0.99:
        raise PrepError("--target must be between 0.5 and 0.99")
    moment = clock.interview_moment(interview)
    # each review day's start, so the workload is counted per local review day (23 or 25 h across DST)
    starts = clock.day_starts(clock.today(now, config.day_starts_at), days_left + 1, config.day_starts_at)
    scoring = sched.make(config)
    states = store.states()
    plan = Plan(interview, days_left, target)
    by_deck: dict[str, DeckReadiness] = {}
    unseen: list[str] = []
    for card_id, deck_name in cards:
        deck = by_deck.setdefault(deck_name, DeckReadiness(deck_name))
        deck.cards += 1
        state = states.get(card_id)
        if state is None:
            deck.unseen += 1
            unseen.append(card_id)
        else:
            deck.recall_sum += scoring.get_card_retrievability(state, moment)
    plan.decks = sorted(by_deck.values(), key=lambda d: d.predicted)
    total = sum(d.cards for d in plan.decks)
    plan.predicted_now = sum(d.recall_sum for d in plan.decks) / total if total else 0.0
    plan.new_cards = len(unseen)
    spread = max(1, days_left - min(7, days_left // 4))
    plan.new_per_day = math.ceil(len(unseen) / spread) if unseen else 0

    simulation = Config(**{**vars(config), "desired_retention": max(config.desired_retention, target),
                           "enable_fuzzing": False})
    scheduler = sched.make(simulation)
    per_day = [0] * days_left  # reviews per review day
    shown = [0] * days_left  # new cards shown per review day
    recall_sum = 0.0
    order = {card_id: index for index, card_id in enumerate(unseen)}
    for card_id, _ in cards:
        state = states.get(card_id)
        if state is None:
            day = min(spread - 1, order[card_id] // max(1, plan.new_per_day))
            shown[day] += 1
            state, first = None, starts[day] + timedelta(hours=1)
        else:
            first = max(state.due, now)
        when = first
        while when < moment:
            day = clock.day_index(starts, when)
            if 0 <= day < days_left and state is not None:
                per_day[day] += 1
            state = sched.review(scheduler, state, card_id, 3, when)
            when = max(state.due, when + timedelta(minutes=1))
        recall_sum += scheduler.get_card_retrievability(state, moment) if state is not None else 0.0
    plan.reviews_per_day = sum(per_day) / days_left
    plan.peak_reviews = max(per_day) if per_day else 0
    plan.peak_load = max((r + n for r, n in zip(per_day, shown)), default=0)
    plan.predicted_with_plan = recall_sum / total if total else 0.0
    return plan


def verdict(plan: Plan) -> list[str]:
    """What following the plan gives, and, when no one could follow it, what it would take."""
    recall = f"{100 * plan.predicted_with_plan:.0f}%"
    target = f"{100 * plan.target:.0f}%"
    if not plan.feasible:
        days = f"{plan.days_left} day{'s' if plan.days_left != 1 else ''}"
        return [f"Not achievable: {plan.new_cards:,} new cards in {days} means about {plan.peak_load:,} cards "
                f"(new and reviews) on the busiest day; about {plan.capacity:,} a day is what a person gets through.",
                f"To reach {target} you would need about {plan.days_needed} days, or to narrow the plan with "
                f"--deck/--tag to about {plan.cards_that_fit:,} new cards."]
    if plan.on_track:
        return [f"Following it you would recall about {recall} (on track)."]
    return [f"Following it you would recall about {recall} (short of the {target} target: start more new cards "
            "or extend the time)."]


def plan_path(data_dir: Path) -> Path:
    return data_dir / "plan.yaml"


def save(plan: Plan, data_dir: Path, config_path: Path, config: Config) -> None:
    """Record the plan and set the daily limits it needs."""
    import yaml

    from prep import files
    from prep.config import save_settings

    plan_path(data_dir).parent.mkdir(parents=True, exist_ok=True)
    files.write_text(plan_path(data_dir), yaml.safe_dump({
        "interview": plan.interview.isoformat(), "target": plan.target, "new_per_day": plan.new_per_day,
        "new_cards": plan.new_cards}, sort_keys=False))
    save_settings(config_path, new_per_day=plan.new_per_day,
                  reviews_per_day=max(config.reviews_per_day, plan.peak_reviews),
                  desired_retention=max(config.desired_retention, plan.target))


def load_saved(data_dir: Path) -> dict | None:
    """The saved plan (interview date, target), or None; a damaged file is ignored."""
    path = plan_path(data_dir)
    if not path.is_file():
        return None
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {"interview": date.fromisoformat(str(data["interview"])), "target": float(data["target"])}
    except (yaml.YAMLError, KeyError, TypeError, ValueError):
        return None
