"""Plain data: notes as written in deck files, the cards drilled from them, and problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class Note:
    """One entry of a deck file: a question/answer pair or a cloze text."""

    id: str | None
    deck: str
    path: Path
    line: int
    q: str = ""
    a: str = ""
    cloze: str = ""
    extra: str = ""
    tags: list[str] = field(default_factory=list)
    reverse: bool = False
    guid: str = ""  # the Anki GUID of a note imported from Anki (empty: prep/<id>)

    @property
    def kind(self) -> str:
        if self.cloze:
            return "cloze"
        return "reverse" if self.reverse else "basic"


@dataclass(frozen=True, slots=True)
class Card:
    """One reviewable item: a note's forward side, its reverse side, or one cloze deletion."""

    id: str
    note: Note
    variant: str  # "" (question → answer), "rev" (answer → question) or "c<N>" (cloze N)

    @property
    def cloze_number(self) -> int | None:
        return int(self.variant[1:]) if self.variant.startswith("c") else None


@dataclass(frozen=True)
class Problem:
    """A validation problem, printed as `path:line: message`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"
