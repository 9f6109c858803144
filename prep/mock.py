"""Mock interviews: questions drawn across the parts of an interview loop toward weakness, scored by rubric, saved."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from prep import decks
from prep.errors import PrepError
from prep.model import Card
from prep.store import Store, from_ms, to_ms

if TYPE_CHECKING:
    import fsrs

# The parts of an interview loop and the decks that drill each (deck-name prefixes, sub-decks included).
# CS trivia is not an interview part of its own; coding asks the coding cards (code run against tests).
PARTS: dict[str, tuple[str, ...]] = {
    "breadth": ("Architectures", "Classical ML", "Deep Learning", "ML Systems", "ML Workflows", "NLP LLM", "RL",
                "Vision"),
    "math": ("Math",),
    "design": ("ML System Design",),
    "behavioural": ("Career",),
    "coding": ("Coding",),
}
# A fair answer's length; a coding card's own time target, when it has one, replaces coding's.
MINUTES = {"breadth": 3.0, "math": 4.0, "design": 10.0, "behavioural": 4.0, "coding": 15.0}
DEFAULT_QUESTIONS = 5
# Shares of points made below which the proposed rating is Again, Hard, Good (else Easy).
THRESHOLDS = ((0.40, 1), (0.70, 2), (0.95, 3))


@dataclass
class Question:
    card: Card
    part: str

    @property
    def minutes(self) -> float:
        code = self.card.note.code
        return code.time if code is not None and code.time else MINUTES[self.part]


@dataclass
class Answer:
    """One question as answered in a mock."""

    card_id: str
    part: str
    deck: str
    seconds: float
    made: int
    total: int
    missed: list[str]
    rating: int
    typed: str | None = None

    @property
    def score(self) -> float:
        """Share of the points made; without points, the self-rating read as a share (Again 0 … Easy 1)."""
        return self.made / self.total if self.total else (self.rating - 1) / 3


@dataclass
class Mock:
    id: int
    started: datetime
    parts: list[str]
    answers: list[Answer] = field(default_factory=list)

    def by_part(self) -> dict[str, tuple[float, int]]:
        """Each part's mean score and its number of questions, in the order the parts were asked."""
        grouped: dict[str, list[float]] = {}
        for answer in self.answers:
            grouped.setdefault(answer.part, []).append(answer.score)
        return {part: (sum(scores) / len(scores), len(scores)) for part, scores in grouped.items()}


def part_of(deck: str) -> str | None:
    """The interview part a deck belongs to, if any."""
    for part, prefixes in PARTS.items():
        if any(decks.deck_matches(deck, prefix) for prefix in prefixes):
            return part
    return None


def proposed_rating(made: int, total: int) -> int:
    """The rating the share of points made suggests: Again under 40%, Hard under 70%, Good under 95%, else Easy."""
    share = made / total if total else 0.0
    return next((rating for limit, rating in THRESHOLDS if share < limit), 4)


def question_count(parts: list[str], questions: int | None, minutes: int | None) -> int:
    """How many questions to draw: as asked, or as many as fill `minutes` at each part's usual length."""
    if questions is not None:
        return questions
    if minutes is None:
        return DEFAULT_QUESTIONS
    count, used = 0, 0.0
    while True:
        length = MINUTES[parts[count % len(parts)]]
        if count and used + length > minutes:
            return count
        count, used = count + 1, used + length


def _candidates(loaded: decks.Decks, store: Store, parts: list[str], deck: str | None,
                tag: str | None) -> dict[str, list[tuple[str, str]]]:
    """Each part's askable cards as (card id, deck): forward cards of the chosen notes, not suspended."""
    suspended = set(store.suspended())
    chosen = loaded.chosen_notes(deck, tag)
    candidates: dict[str, list[tuple[str, str]]] = {part: [] for part in parts}
    for card_id, position in zip(loaded.card_ids, loaded.card_notes):
        if "/" in card_id or card_id in suspended or (chosen is not None and position not in chosen):
            continue
        part = part_of(loaded.note_decks[position])
        if part in candidates:
            candidates[part].append((card_id, loaded.note_decks[position]))
    return candidates


def available_parts(loaded: decks.Decks, store: Store, deck: str | None = None, tag: str | None = None) -> list[str]:
    """The parts that have questions in these decks (all parts when none has: drawing then says why)."""
    candidates = _candidates(loaded, store, list(PARTS), deck, tag)
    return [part for part in PARTS if candidates[part]] or list(PARTS)


def draw(loaded: decks.Decks, store: Store, scheduler: fsrs.Scheduler, now: datetime, parts: list[str],
         count: int, deck: str | None = None, tag: str | None = None, seed: str = "") -> list[Question]:
    """`count` questions spread evenly over `parts` (in turn), each part's drawn at random weighted toward
    weakness: low recall now, lapses, a weak deck (mean recall, unseen cards as 0), and points to tick.

    Only question/answer and coding cards are asked (a cloze is no interview question); suspended cards
    are left out. A part with no questions is an error.
    """
    states = store.states()
    lapses = store.lapses()
    candidates = _candidates(loaded, store, parts, deck, tag)
    empty = [part for part in parts if not candidates[part]]
    if empty:
        raise PrepError(f"no questions for {', '.join(empty)}" + (" in this --deck/--tag" if deck or tag else ""))
    recall: dict[str, float] = {}
    for pool in candidates.values():
        for card_id, _ in pool:
            state = states.get(card_id)
            recall[card_id] = scheduler.get_card_retrievability(state, now) if state is not None else 0.0
    deck_recall: dict[str, list[float]] = {}
    for pool in candidates.values():
        for card_id, deck_name in pool:
            deck_recall.setdefault(deck_name, []).append(recall[card_id])
    rng = random.Random(seed)
    quotas = [count // len(parts) + (index < count % len(parts)) for index in range(len(parts))]
    notes = {note.id: note for note in loaded.notes}  # one pass over the files, not one read per card
    drawn: dict[str, list[Card]] = {}
    for part, quota in zip(parts, quotas):
        keyed = []
        for card_id, deck_name in candidates[part]:
            if card_id not in notes:
                continue
            card = decks.cards_of(notes[card_id])[0]  # an id without '/' is a note's forward card
            # a card's weakness counts double its deck's; an unseen card is about as weak as one at 50% recall
            weakness = (1 - recall[card_id] + 0.25 * min(lapses.get(card_id, 0), 4)) if card_id in states else 0.5
            weight = 0.1 + 2 * weakness + 1 - sum(deck_recall[deck_name]) / len(deck_recall[deck_name])
            weight *= 2 if card.note.points else 1
            keyed.append((rng.random() ** (1 / weight), card_id, card))  # weighted sampling without replacement
        drawn[part] = [card for _, _, card in sorted(keyed, key=lambda k: (-k[0], k[1]))[:quota]]
    questions = []
    for turn in range(max(quotas)):
        questions.extend(Question(drawn[part][turn], part) for part in parts if turn < len(drawn[part]))
    return questions


# -- the saved mocks ---------------------------------------------------------------------------
def start(store: Store, started: datetime, parts: list[str]) -> int:
    cursor = store.db.execute("INSERT INTO mocks (started, parts) VALUES (?, ?)", (to_ms(started), ",".join(parts)))
    return int(cursor.lastrowid)


def record(store: Store, mock_id: int, position: int, answer: Answer, review_id: int | None) -> None:
    """Save one answered question (one statement: committed on its own, like the review it goes with)."""
    store.db.execute(
        "INSERT INTO mock_answers (mock_id, position, card_id, part, deck, seconds, points_made, points_total, "
        "missed, rating, review_id, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (mock_id, position, answer.card_id, answer.part, answer.deck, answer.seconds, answer.made, answer.total,
         json.dumps(answer.missed), answer.rating, review_id, answer.typed))


def history(store: Store) -> list[Mock]:
    """Every saved mock with at least one answer, oldest first."""
    mocks = {row[0]: Mock(row[0], from_ms(row[1]), row[2].split(","))
             for row in store.db.execute("SELECT id, started, parts FROM mocks ORDER BY id")}
    for row in store.db.execute("SELECT mock_id, card_id, part, deck, seconds, points_made, points_total, missed, "
                                "rating, answer FROM mock_answers ORDER BY mock_id, position"):
        mocks[row[0]].answers.append(Answer(row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]),
                                            row[8], row[9]))
    return [mock for mock in mocks.values() if mock.answers]


@dataclass
class Report:
    weakest_points: list[tuple[str, str, int]]  # (card id, point, times missed in all mocks)
    drill_next: list[tuple[str, float]]  # (deck, its score in this mock), weakest first


def report(store: Store, mock: Mock, most: int = 5) -> Report:
    """The points missed in this mock that are missed most often over all mocks, and the decks to drill."""
    missed_ever: Counter[tuple[str, str]] = Counter()
    for row in store.db.execute("SELECT card_id, missed FROM mock_answers"):
        missed_ever.update((row[0], point) for point in json.loads(row[1]))
    here = [(answer.card_id, point) for answer in mock.answers for point in answer.missed]
    weakest = sorted(dict.fromkeys(here), key=lambda key: -missed_ever[key])[:most]
    by_deck: dict[str, list[float]] = {}
    for answer in mock.answers:
        by_deck.setdefault(answer.deck, []).append(answer.score)
    scores = sorted(((name, sum(s) / len(s)) for name, s in by_deck.items()), key=lambda item: item[1])
    return Report([(card, point, missed_ever[(card, point)]) for card, point in weakest],
                  [(name, score) for name, score in scores if score < 0.7][:3])


def minutes_text(seconds: float) -> str:
    """A timer reading: 0:07, 12:30."""
    whole = max(0, math.floor(seconds))
    return f"{whole // 60}:{whole % 60:02d}"
