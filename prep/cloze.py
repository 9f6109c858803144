"""Anki-style cloze deletions `{{c1::text::hint}}`: parsing, validation and rendering."""

from __future__ import annotations

import re
from dataclasses import dataclass

OPEN = re.compile(r"\{\{c(\d+)::")
LOOSE_OPEN = re.compile(r"\{\{\s*c\d*\s*:?")


@dataclass(frozen=True)
class Deletion:
    number: int
    start: int  # offset of "{{"
    end: int  # offset just past "}}"
    text: str
    hint: str


class ClozeError(ValueError):
    """Malformed cloze text."""


def parse(text: str) -> list[Deletion]:
    """All deletions in order; raise ClozeError when one is malformed."""
    deletions: list[Deletion] = []
    pos = 0
    while True:
        loose = LOOSE_OPEN.search(text, pos)
        if not loose:
            break
        match = OPEN.match(text, loose.start())
        if not match:
            raise ClozeError(f"malformed cloze near {text[loose.start():loose.start() + 12]!r} (write {{{{c1::text}}}})")
        number = int(match.group(1))
        if number < 1:
            raise ClozeError("cloze numbers start at c1")
        end = _closing(text, match.end())
        if end < 0:
            raise ClozeError(f"unclosed cloze deletion c{number} (missing }}}})")
        inner = text[match.end() : end]
        body, hint = _split_hint(inner)
        if not body.strip():
            raise ClozeError(f"empty cloze deletion c{number}")
        deletions.append(Deletion(number, match.start(), end + 2, body, hint))
        pos = end + 2
    if not deletions:
        raise ClozeError("cloze text has no deletion (write {{c1::text}})")
    return deletions


def _closing(text: str, pos: int) -> int:
    """Offset of the `}}` that closes a deletion, skipping balanced LaTeX braces."""
    depth = 0
    i = pos
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return i if text.startswith("}}", i) else -1
            depth -= 1
        i += 1
    return -1


def _split_hint(inner: str) -> tuple[str, str]:
    depth = 0
    for i, char in enumerate(inner):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0 and inner.startswith("::", i):
            return inner[:i], inner[i + 2 :]
    return inner, ""


def numbers(text: str) -> list[int]:
    """The distinct deletion numbers, ascending: one card each."""
    return sorted({d.number for d in parse(text)})


def render(text: str, number: int, *, reveal: bool, mark: tuple[str, str] = ("[", "]")) -> str:
    """Text with deletion `number` hidden (`[...]` or `[hint]`) or revealed between `mark`s.

    Padding inside a deletion (`{{c1:: $x$ }}`, which keeps the LaTeX's `}}` apart) is syntax, not text:
    it goes outside the marks (Markdown's `** x **` is not bold), and only where it separates words."""
    out: list[str] = []
    pos = 0
    for deletion in parse(text):
        out.append(text[pos : deletion.start])
        shown = deletion.text if reveal or deletion.number != number else deletion.hint.strip() or "..."
        core = shown.strip()
        if deletion.number == number:
            core = f"{mark[0]}{core}{mark[1]}"
        before = text[deletion.start - 1 : deletion.start]
        after = text[deletion.end : deletion.end + 1]
        lead = " " if shown[:1].isspace() and before and not before.isspace() else ""
        trail = " " if shown[-1:].isspace() and after.isalnum() else ""
        out.append(f"{lead}{core}{trail}")
        pos = deletion.end
    out.append(text[pos:])
    return "".join(out)
