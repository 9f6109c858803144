"""The book-coverage maps in docs/ name real cards: every id a row cites exists in the shipped decks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prep import decks

TOP = Path(__file__).parent.parent
MAPS = sorted((TOP / "docs" / "book-coverage").glob("chapter-*.md"))


@pytest.fixture(scope="module")
def shipped_ids() -> set[str]:
    return {note.id for note in decks.load(TOP / "decks").notes if note.id}


@pytest.mark.parametrize("path", MAPS, ids=lambda p: p.name)
def test_every_cited_card_exists_and_every_row_has_a_status(path: Path, shipped_ids: set[str]) -> None:
    rows = [line for line in path.read_text(encoding="utf-8").splitlines()
            if re.match(r"^\| `?\d+(\.\d+)* #", line)]  # a book question: | 5.1.1 #3 | ...
    assert rows, f"{path.name} has no question rows"
    missing = []
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        status = cells[-1]
        assert status == "covered" or status.startswith("left out"), f"{path.name}: {row}"
        cited = [part.strip(" `") for part in cells[2].split(",") if part.strip(" `-—") not in ("", "none")]
        if status == "covered":
            assert cited, f"{path.name}: covered but no card named: {row}"
        missing += [card_id for card_id in cited if card_id not in shipped_ids]
    assert not missing, f"{path.name} cites cards that do not exist: {sorted(set(missing))}"
