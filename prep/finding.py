"""Finding cards: the deck tree with card counts, text search, one card's details, and unknown ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prep.decks import Decks, cards_of, did_you_mean
from prep.errors import PrepError
from prep.model import Card, Note
from prep.store import Review, Store


class UnknownCard(PrepError):
    """A card id that no deck file holds."""


@dataclass
class DeckCount:
    """One row of `prep decks`: a deck at some depth, its own cards and those of its sub-decks."""

    deck: str  # the full name, `Math::Probability`
    depth: int
    own: int = 0
    total: int = 0


def deck_tree(collection: Decks) -> list[DeckCount]:
    """Every deck and every level above one, in name order, with cards per deck and sub-deck totals."""
    rows: dict[str, DeckCount] = {}
    for _, deck in collection.cards_in_scope():
        levels = deck.split("::")
        for depth in range(len(levels)):
            name = "::".join(levels[: depth + 1])
            row = rows.get(name)
            if row is None:
                row = rows[name] = DeckCount(name, depth)
            row.total += 1
        rows[deck].own += 1
    return [rows[name] for name in sorted(rows, key=lambda name: [level.lower() for level in name.split("::")])]


@dataclass
class Found:
    """A note whose text or tags contain the searched text."""

    note: Note
    card_ids: list[str]

    @property
    def first_line(self) -> str:
        text = (self.note.cloze or self.note.q).strip()
        return text.splitlines()[0] if text else ""


def search(collection: Decks, text: str, deck: str | None = None, tag: str | None = None,
           flagged: dict[str, int] | None = None) -> list[Found]:
    """Notes with `text` (ignoring case) in the question, answer, cloze, extra or tags, in deck order;
    with `flagged` (card id → flag), only notes with a card in it, and only those cards."""
    wanted = text.lower()
    found = []
    for note in collection.notes_in_scope(deck, tag):
        fields = (note.q, note.a, note.cloze, note.extra, *note.tags)
        if any(wanted in value.lower() for value in fields):
            card_ids = [card.id for card in cards_of(note) if flagged is None or card.id in flagged]
            if card_ids:
                found.append(Found(note, card_ids))
    return found


def flag_name(flag: int | None) -> str | None:
    """A flag's colour name (Anki's), None for no flag."""
    from prep.review import FLAGS  # the drill owns the colours; most finding commands never need them

    return FLAGS.get(flag) if flag else None


@dataclass
class CardDetails:
    """What `prep show` prints for one card: its text and where it is written, and its schedule."""

    card: Card
    state: object | None  # fsrs.Card, None while new
    suspended: str | None  # why ('manual' or 'leech'), None when not suspended
    reviews: list[Review] = field(default_factory=list)
    flag: int | None = None  # the flag colour (review.FLAGS), None when not flagged

    @property
    def lapses(self) -> int:
        return sum(1 for review in self.reviews if review.rating == 1 and review.state_before is not None
                   and review.state_before.state.value == 2)


def cards_for(collection: Decks, card_id: str) -> list[Card]:
    """The cards an id names: one card, or every card of a note given by its note id (`id/c1`, `id/rev`...)."""
    card = collection.card(card_id)
    if card is not None:
        return [card]
    lowered = card_id.lower()
    ids = [known for known in collection.card_ids if known.lower() == lowered or known.split("/")[0] == card_id]
    cards = [collection.card(known) for known in ids]
    if not cards:
        raise UnknownCard(f"no card has the id '{card_id}'" + did_you_mean(card_id, collection.card_ids)
                          + "; 'prep search TEXT' finds cards by their text")
    return [card for card in cards if card is not None]


def details_of(card: Card, store: Store) -> CardDetails:
    """A card with its stored state, suspension and review history."""
    return CardDetails(card, store.state(card.id), store.suspended().get(card.id), store.reviews(card.id),
                       store.flag(card.id))


def details_lines(item: CardDetails, shown_path: str) -> list[str]:
    """The lines above a card's sides in `prep show`: id, deck, file:line, tags, schedule."""
    note, state = item.card.note, item.state
    lines = [f"{item.card.id}  ({note.kind} note {note.id})", f"deck: {note.deck}",
             f"file: {shown_path}:{note.line}", f"tags: {', '.join(note.tags) if note.tags else '-'}"]
    if state is None:
        schedule = "new (never reviewed)"
    else:
        schedule = (f"{state.state.name.lower()}, due {when_text(state.due)}, stability "
                    f"{state.stability:.1f} days, difficulty {state.difficulty:.1f}" if state.stability is not None
                    else f"{state.state.name.lower()}, due {when_text(state.due)}")
    if item.suspended:
        schedule += f"; suspended ({item.suspended})"
    lines.append(f"state: {schedule}")
    if item.flag:
        lines.append(f"flag: {flag_name(item.flag)}")
    return lines


def history_lines(item: CardDetails) -> list[str]:
    """The review history, oldest first: when, rating, and the interval it gave."""
    from prep.scheduler import RATINGS, format_interval

    if not item.reviews:
        return ["No reviews yet."]
    lines = [f"{len(item.reviews)} review{'s' if len(item.reviews) != 1 else ''}, {item.lapses} "
             f"lapse{'s' if item.lapses != 1 else ''}:"]
    for review in item.reviews:
        interval = format_interval(review.state_after.due - review.reviewed_at) if review.state_after else "-"
        lines.append(f"  {when_text(review.reviewed_at)}  {RATINGS.get(review.rating, review.rating)}  next in {interval}")
    return lines


def details_json(item: CardDetails) -> dict:
    note, state = item.card.note, item.state
    return {"id": item.card.id, "note": note.id, "deck": note.deck, "file": str(note.path), "line": note.line,
            "tags": list(note.tags), "suspended": item.suspended, "flag": flag_name(item.flag),
            "state": None if state is None else state.state.name.lower(),
            "due": None if state is None else state.due.isoformat(),
            "stability": None if state is None else state.stability,
            "difficulty": None if state is None else state.difficulty,
            "reviews": [{"at": r.reviewed_at.isoformat(), "rating": r.rating, "duration_ms": r.duration_ms}
                        for r in item.reviews]}


def unknown_ids(collection: Decks, card_ids: list[str], known_elsewhere: set[str] = frozenset()) -> list[str]:
    """The ids that name no card in the decks (nor in `known_elsewhere`, e.g. the database's)."""
    present = set(collection.card_ids) | set(known_elsewhere)
    return [card_id for card_id in card_ids if card_id not in present]


def unknown_ids_message(collection: Decks, unknown: list[str]) -> str:
    """`no card has the id 'x'; did you mean 'y'?` for one or several unknown ids."""
    if len(unknown) == 1:
        return f"no card has the id '{unknown[0]}'" + did_you_mean(unknown[0], collection.card_ids)
    return "no cards have the ids " + ", ".join(f"'{card_id}'" for card_id in unknown) + "; nothing was changed"


def when_text(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "-"
