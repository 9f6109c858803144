"""The review session: which card is next, rating, skip, bury, suspend, flag and undo; no terminal I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Callable

from prep import deadline, scheduler as sched
from prep.clock import day_bounds, review_day
from prep.config import Config
from prep.model import Card
from prep.store import Store, from_ms, state_json, to_ms

if TYPE_CHECKING:
    import fsrs

LEARNING_STATES = (1, 3)  # fsrs.State.Learning, fsrs.State.Relearning (fsrs is imported lazily)
REVIEW_STATE = 2


@dataclass
class Rated:
    """A rating given in this session, kept so it can be undone."""

    review_id: int
    card: Card
    rating: int
    was_new: bool
    was_review: bool


@dataclass
class Action:
    """Something done to a card in this session that undo takes back: 'rate', 'skip', 'bury' or 'suspend'."""

    kind: str
    card: Card
    rated: Rated | None = None  # for 'rate'
    day: str | None = None  # for 'skip' and 'bury': the review day the card was hidden for


FLAGS = {1: "red", 2: "orange", 3: "green", 4: "blue"}  # Anki's flag colours


@dataclass
class Preview:
    """What each rating of the card on screen gives, computed once while it is shown: the buttons show
    these intervals and the rating applies exactly its outcome."""

    card_id: str
    before: fsrs.Card | None  # the state the outcomes start from
    moment: datetime
    outcomes: dict[int, fsrs.Card]


def note_of(card_id: str) -> str:
    """The note a card comes from: its reverse (`id/rev`) and cloze deletions (`id/c2`) are siblings."""
    return card_id.split("/", 1)[0]


@dataclass
class Session:
    """Builds the day's queue from deck order and stored states, and applies ratings to the store."""

    store: Store
    card_ids: list[str]  # the cards in scope, in deck order
    load_card: Callable[[str], Card | None]  # a card's text, read when it is shown (None: gone from the decks)
    config: Config
    clock: Callable[[], datetime]
    limit: int | None = None
    done: int = 0
    correct: int = 0
    history: list[Rated] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)  # what undo takes back, last first
    plan: dict | None = None  # a saved interview plan: {"interview": date, "target": float}
    # An explicit queue (cram, review ahead, mock): these cards in this order, due or not, past the
    # daily limits; `mode` is logged with each rating. Scheduling is the same: FSRS sees the real time.
    queue: list[str] | None = None
    mode: str = "review"

    def __post_init__(self) -> None:
        self.loaded: dict[str, Card] = {}
        self.skipped_now: set[str] = set()
        self.front: list[str] = []  # cards put back by undo, shown next
        self.previewed: Preview | None = None
        # siblings of a card shown or rated today wait for tomorrow (learning cards excepted, as in Anki)
        self.bury_siblings = self.config.bury_siblings and self.queue is None  # a chosen queue (cram, mock) is drilled as chosen
        self._begin_day(self.clock())

    def _begin_day(self, now: datetime) -> None:
        """The review day holding `now`: its queues, what is left of its limits, its buried siblings.
        Run again when a session goes on past the day boundary, as Anki rebuilds its queues then."""
        self.day_start, self.day_end = day_bounds(now, self.config.day_starts_at)
        self.day = review_day(now, self.config.day_starts_at)
        self.states = self.store.states()
        suspended = set(self.store.suspended())
        skipped = self.store.skipped(self.day) | suspended
        new_today, reviews_today = self.store.counts_since(self.day_start)
        self.new_left = max(0, self.config.new_per_day - new_today)
        self.reviews_left = max(0, self.config.reviews_per_day - reviews_today)
        self.in_scope = set(self.card_ids)
        self.new: list[str] = []
        self.due_reviews: list[str] = []
        self.learning: set[str] = set()
        day_end_ms = to_ms(self.day_end)
        learning_kinds = set(LEARNING_STATES)
        due_ms: dict[str, int] = {}
        # The table is fresh, so every state is still in its due and kind maps: reading them directly
        # keeps this loop, run once per card in scope, to a dictionary lookup.
        due_of, kind_of = self.states.due.get, self.states.kinds.get
        for card_id in self.card_ids:
            if card_id in skipped:
                continue
            due = due_of(card_id)
            if due is None:
                self.new.append(card_id)
            elif due < day_end_ms:
                if kind_of(card_id, REVIEW_STATE) in learning_kinds:
                    self.learning.add(card_id)
                else:
                    self.due_reviews.append(card_id)
                    due_ms[card_id] = due
        self.due_reviews.sort(key=due_ms.__getitem__)
        # unseen as `prep stats` counts them: new cards skipped today are still unseen
        self.unseen = len(self.new) + sum(1 for c in skipped - suspended if c in self.in_scope and due_of(c) is None)
        if self.queue is not None:
            self.due_reviews = [c for c in dict.fromkeys(self.queue) if c not in skipped]
            self.new, self.learning = [], set()
            self.reviews_left, self.new_left = len(self.due_reviews), 0
        elif deadline.interview_moment(self.plan, now) is not None:
            self._deadline_queue(now, skipped)
        self.shown: set[str] = self.store.reviewed_since(self.day_start) if self.bury_siblings else set()
        self.shown_notes = {note_of(card_id) for card_id in self.shown}

    @cached_property
    def scheduler(self) -> fsrs.Scheduler:
        return sched.make(self.config)

    def _deadline_queue(self, now: datetime, skipped: set[str]) -> None:
        """Deadline mode: the due reviews by recall gained on the interview day per minute (the daily
        review limit, which the saved plan set, cuts the queue); in the last days before it, first the
        sweep of the cards least likely recalled on the day, due or not, each at most once a day."""
        minutes = deadline.minutes_per_card(self.store.durations())
        ordered = deadline.order(self.scheduler, self.due_reviews, self.states.__getitem__, self.plan, now, minutes)
        if deadline.in_sweep(self.plan, now):
            done = self.store.reviewed_since(self.day_start)  # swept once a day is enough
            candidates = (c for c in self.card_ids if c not in skipped and c not in self.learning and c not in done)
            ordered = list(dict.fromkeys(deadline.sweep(self.scheduler, candidates, self.states.get, self.plan, now)
                                         + ordered))
        self.due_reviews = ordered

    # -- queue ----------------------------------------------------------------
    def next_card(self) -> Card | None:
        """The card to show now, or None when the session is over."""
        self.previewed = None
        if self.queue is None and (now := self.clock()) >= self.day_end:
            # The day rolled over during the session: the new day's cards follow, and cards skipped
            # or buried until tomorrow come back (cards gone from the decks, never loaded, stay out).
            self.skipped_now = {card_id for card_id in self.skipped_now if card_id not in self.loaded}
            self._begin_day(now)
        while True:
            card_id = self._next_id()
            if card_id is None:
                return None
            if self._rated_elsewhere(card_id):
                continue  # its queue place changed: choose again
            card = self._card(card_id)
            if card is not None:
                if self.bury_siblings:
                    self.shown.add(card_id)
                    self.shown_notes.add(note_of(card_id))
                return card
            # Removed from its deck file since the session started: leave it out for this session.
            self.skipped_now.add(card_id)

    def _rated_elsewhere(self, card_id: str) -> bool:
        """Re-read the card's stored state (one lookup by key); if another process rated it since this
        session read it, take that state: due later today it waits with the learning cards, otherwise it
        leaves today's queues. It is never new again. True if the card's place changed."""
        stored = self.store.state(card_id)
        if stored is None or self.states.kind_and_due(card_id) == (int(stored.state), to_ms(stored.due)):
            return False
        if card_id in self.new:  # it took one of today's new cards
            self.new.remove(card_id)
            self.new_left = max(0, self.new_left - 1)
            self.unseen -= 1
        if card_id in self.due_reviews:
            self.due_reviews.remove(card_id)
            self.reviews_left = max(0, self.reviews_left - 1)
        self.states[card_id] = stored
        self.learning.discard(card_id)
        if stored.due < self.day_end:
            self.learning.add(card_id)
        return True

    def _buried(self, card_id: str) -> bool:
        return note_of(card_id) in self.shown_notes and card_id not in self.shown

    def _card(self, card_id: str) -> Card | None:
        card = self.loaded.get(card_id) or self.load_card(card_id)
        if card is not None:
            self.loaded[card_id] = card
        return card

    def _next_id(self) -> str | None:
        if self.limit is not None and self.done >= self.limit:
            return None
        while self.front:
            card_id = self.front.pop()
            if card_id not in self.skipped_now:
                return card_id
        now = self.clock()
        learning = sorted((self.states[c].due, c) for c in self.learning if c not in self.skipped_now)
        if learning and learning[0][0] <= now:
            return learning[0][1]
        for queue, quota in ((self.due_reviews, self.reviews_left), (self.new, self.new_left)):
            while queue and quota > 0 and (queue[0] in self.skipped_now or self._buried(queue[0])):
                queue.pop(0)
            if queue and quota > 0:
                return queue[0]
        ahead = now + timedelta(minutes=self.config.learn_ahead_minutes)
        if learning and learning[0][0] <= ahead:
            return learning[0][1]
        return None

    def counts(self) -> tuple[int, int, int]:
        """(new, learning, review) cards still to show today, within the daily limits (learning cards
        counted once; skipped and buried cards not at all). Cards put back by undo are in these queues."""
        def waiting(queue: list[str]) -> int:
            return sum(1 for c in queue if c not in self.skipped_now and not self._buried(c))

        return (min(waiting(self.new), self.new_left), len(self.learning - self.skipped_now),
                min(waiting(self.due_reviews), self.reviews_left))

    def left(self) -> int:
        """Cards still to show in this session: today's, up to `limit`."""
        count = sum(self.counts())
        return count if self.limit is None else min(count, self.limit - self.done)

    def upcoming(self, per_queue: int = 2) -> list[Card]:
        """Cards likely to open the next session (to draw them ahead of time): the first learning cards,
        the reviews falling due next, and the next new cards in deck order."""
        import heapq

        learning = heapq.nsmallest(per_queue, (c for c in self.learning if c not in self.skipped_now),
                                   key=lambda c: self.states[c].due)
        dues = ((known[1], c) for c in self.card_ids if c not in self.skipped_now
                and (known := self.states.kind_and_due(c)) is not None and known[0] == REVIEW_STATE)
        reviews = [c for _, c in heapq.nsmallest(per_queue, dues)]
        fresh = [c for c in self.new if c not in self.skipped_now][:per_queue]
        cards = (self._card(card_id) for card_id in dict.fromkeys(learning + reviews + fresh))
        return [card for card in cards if card is not None]

    def preview(self, card: Card) -> dict[int, timedelta]:
        """The interval each rating gives, computed once per showing of the card (`next_card` starts a
        new one): redrawing shows the same values and `rate` gives exactly them."""
        if self.previewed is None or self.previewed.card_id != card.id:
            now, before = sched.whole_ms(self.clock()), self.states.get(card.id)
            self.previewed = Preview(card.id, before, now,
                                     {rating: self.schedule(card.id, rating, before, now) for rating in sched.RATINGS})
        moment = self.previewed.moment
        return {rating: outcome.due - moment for rating, outcome in self.previewed.outcomes.items()}

    @cached_property
    def anki_cards(self) -> set[str]:
        """The cards with reviews from Anki: scheduled with Anki's engine (see `scheduler.next_state`)."""
        return self.store.anki_cards()

    def schedule(self, card_id: str, rating: int, state: fsrs.Card | None, when: datetime) -> fsrs.Card:
        """The state after a rating (Anki's engine for a card with a history in Anki, else py-fsrs), with
        its due brought before a saved interview when needed."""
        after = sched.next_state(self.scheduler, self.config, state, card_id, rating, when, card_id in self.anki_cards)
        return deadline.cap(self.scheduler, after, self.plan, when)

    # -- actions ----------------------------------------------------------------
    def rate(self, card: Card, rating: int, duration_ms: int | None = None) -> fsrs.Card:
        """Schedule, then commit the rating to the store before returning.

        The review is logged at the moment of the rating. If the card's answer was shown (`preview`) and
        its stored state is still the one previewed, the new state is that preview's outcome for the
        rating, moved to the rating's moment: last_review is the rating's time and due is it plus the
        interval the button showed. Otherwise (another process rated the card meanwhile) it is scheduled
        afresh from the stored state."""
        preview = self.previewed if self.previewed is not None and self.previewed.card_id == card.id else None

        def schedule(current: fsrs.Card | None, at: datetime) -> fsrs.Card:
            if preview is not None and state_json(current) == state_json(preview.before):
                days_from = self.config.day_starts_at if card.id in self.anki_cards else None
                return sched.moved(preview.outcomes[rating], preview.moment, at, days_from)
            return self.schedule(card.id, rating, current, at)

        review_id, before, after = self.store.apply(card.id, rating, sched.whole_ms(self.clock()), duration_ms,
                                                    schedule, self.mode)
        self.previewed = None
        was_new = before is None
        was_review = before is not None and before.state == REVIEW_STATE
        self.history.append(Rated(review_id, card, rating, was_new, was_review))
        self.actions.append(Action("rate", card, self.history[-1]))
        self.states[card.id] = after
        self._dequeue(card.id, was_new, was_review)
        if after.state in LEARNING_STATES and after.due < self.day_end:
            self.learning.add(card.id)
        self.done += 1
        self.correct += rating > 1
        return after

    def undo(self) -> Card | None:
        """Take back this session's last action; return its card (None: nothing to undo)."""
        action = self.undo_last()
        return action.card if action is not None else None

    def undo_last(self) -> Action | None:
        """Take back this session's last rating, skip, bury or suspension; the card is shown next."""
        if not self.actions:
            return None
        action = self.actions.pop()
        if action.kind == "rate":
            return action if self._unrate() else None
        if action.kind == "suspend":
            self.store.unsuspend([action.card.id])
        else:
            self.store.unskip(action.card.id, action.day)
        self._put_back(action.card.id)
        return action

    def _unrate(self) -> bool:
        """Undo the last rating: log row deleted, state restored, the card put back first."""
        rated = self.history.pop()
        restored = self.store.undo(rated.review_id)
        if restored is None:
            return False
        card_id = rated.card.id
        self.learning.discard(card_id)
        today = restored.reviewed_at >= self.day_start  # a rating from before the boundary took yesterday's limits
        if restored.state_before is None:
            self.states.pop(card_id, None)
            self.new.insert(0, card_id)
            self.new_left += today
            self.unseen += 1
        else:
            self.states[card_id] = restored.state_before
            if restored.state_before.state in LEARNING_STATES:
                self.learning.add(card_id)
            else:
                if card_id not in self.due_reviews:  # the new day's queue may hold it already
                    self.due_reviews.insert(0, card_id)
                self.reviews_left += rated.was_review and today
        self.done -= 1
        self.correct -= rated.rating > 1
        self.front.append(card_id)
        return True

    def _put_back(self, card_id: str) -> None:
        """A card hidden in this session back in its queue (it never left the new and review lists
        unless their head passed it), to be shown next."""
        self.skipped_now.discard(card_id)
        state = self.states.get(card_id)
        if state is None:
            if card_id not in self.new:
                self.new.insert(0, card_id)
        elif state.state in LEARNING_STATES and state.due < self.day_end:
            self.learning.add(card_id)
        elif card_id not in self.due_reviews:
            self.due_reviews.insert(0, card_id)
        self.front.append(card_id)

    def skip(self, card: Card, kind: str = "skip") -> None:
        """Hide the card until tomorrow (recorded, so a new session today skips it too); `kind` 'bury'
        records it as buried, Anki's name for the same wait. The day is the one holding now: a card
        shown before the day boundary and skipped after it waits for the day after."""
        day = review_day(self.clock(), self.config.day_starts_at)
        self.store.skip(card.id, day, kind)
        self._hide(card, kind, day)

    def bury(self, card: Card) -> None:
        self.skip(card, "bury")

    def suspend(self, card: Card) -> None:
        """Suspend the card (reason 'manual'): no session shows it until `prep unsuspend`."""
        self.store.suspend([card.id], self.clock(), "manual")
        self._hide(card, "suspend")

    def _hide(self, card: Card, kind: str, day: str | None = None) -> None:
        self.skipped_now.add(card.id)
        self.learning.discard(card.id)
        self.actions.append(Action(kind, card, day=day))

    def flag(self, card: Card) -> int | None:
        """Move the card's flag to the next colour (none, 1..4, none again); return the new flag."""
        current = self.store.flag(card.id)
        flag = None if current == len(FLAGS) else (current or 0) + 1
        self.store.set_flag(card.id, flag, self.clock())
        return flag

    def replace_card(self, card: Card) -> None:
        """Swap in an edited version of a card (same id)."""
        self.loaded[card.id] = card

    def next_due(self) -> datetime | None:
        """When the next card in scope falls due after now (None: nothing scheduled or new)."""
        now = to_ms(self.clock())
        dues = (self.states.kind_and_due(card_id) for card_id in self.card_ids)
        later = [known[1] for known in dues if known is not None and known[1] > now]
        if self.new or self.due_reviews:  # cards left over wait for tomorrow's limits
            later.append(to_ms(self.day_end))
        return from_ms(min(later)) if later else None

    def _dequeue(self, card_id: str, was_new: bool, was_review: bool) -> None:
        # (not below 0: a card put back by undo is shown next even when today's limit is reached)
        if card_id in self.new:  # even if another process rated it first: shown here again, it would loop
            self.new.remove(card_id)
            self.new_left = max(0, self.new_left - was_new)
            self.unseen -= 1
        if card_id in self.due_reviews:
            self.due_reviews.remove(card_id)
            self.reviews_left = max(0, self.reviews_left - was_review)
        self.learning.discard(card_id)
