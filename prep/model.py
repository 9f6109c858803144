"""Plain data: notes as written in deck files, the cards drilled from them, and problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CodeSpec:
    """What makes a note a coding card: starter code, a reference solution and the tests it must pass."""

    stub: str
    solution: str
    tests: str
    hints: tuple[str, ...] = ()
    time: float | None = None  # target minutes

    def as_tuple(self) -> tuple:
        """Plain marshal-able data (the cache row and the export's source comment)."""
        return (self.stub, self.solution, self.tests, tuple(self.hints), self.time)

    @classmethod
    def from_tuple(cls, data: tuple | list) -> "CodeSpec":
        stub, solution, tests, hints, minutes = data
        return cls(stub, solution, tests, tuple(hints), minutes)


@dataclass(slots=True)
class Note:
    """One entry of a deck file: a question/answer pair, a cloze text or a coding exercise."""

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
    points: list[str] = field(default_factory=list)  # key points a good answer makes (a rubric)
    code: CodeSpec | None = None  # a coding card: `a` is then the reference solution as a code block
    guid: str = ""  # the Anki GUID of a note imported from Anki (empty: prep/<id>)

    @property
    def kind(self) -> str:
        if self.code is not None:
            return "code"
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
