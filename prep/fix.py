"""`prep check --fix`: writes missing card ids into deck files as text, changing nothing else."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prep import cloze, formats, yamlnodes
from prep.files import write_text
from prep.paths import display_path

STOPWORDS = {"a", "an", "the", "is", "are", "was", "what", "which", "why", "how", "does", "do", "of", "in",
             "on", "for", "to", "and", "or", "with", "when", "you", "your", "it", "its", "be", "can", "that",
             "this", "by", "as", "at", "from", "would", "should", "give", "explain", "describe"}


# Code, math, tags and links are left out of an id. No part may contain the character that opens it:
# an opening that is never closed then fails at the next one, not at the end of the text (quadratic).
SKIPPED = re.compile(r"```.*?```|`[^`]*`|\$[^$]*\$|<[^<>]+>|\[[^\[\]]*\]\([^()]*\)", re.S)


@dataclass(frozen=True)
class FixedId:
    """An id written into a file; `line` is its 1-based line in the file as written."""

    path: Path
    line: int
    id: str


@dataclass(frozen=True)
class Refused:
    """A card that lacks an id where `--fix` cannot write one without changing something else."""

    path: Path
    line: int  # 1-based, in the file as it is (it is not written)


@dataclass
class FixReport:
    """What `fix_ids` did: the ids written, and the cards it left alone."""

    fixed: list[FixedId]
    refused: list[Refused]


@dataclass(frozen=True)
class Edit:
    """One id to write: `kind` is block (a new first line of a block mapping), flow (first entry of a
    `{...}` mapping), fill (the null value of an existing id key) or meta/insert (Markdown)."""

    index: int  # the card's position among the file's cards
    line: int  # 0-based line and column where the text goes
    column: int
    kind: str
    id: str


def slug(text: str, taken: set[str]) -> str:
    """A readable id from a question: a few significant words, made unique against `taken`."""
    try:
        text = cloze.render(text, 0, reveal=True) if "{{c" in text else text
    except cloze.ClozeError:
        pass
    text = SKIPPED.sub(" ", text)
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS]
    base = "-".join(words[:5])[:60].rstrip("-") or "card"  # room for a `-N` suffix within 100 characters
    candidate, n = base, 2
    while candidate.lower() in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def fix_ids(root: Path, files: list[Path], taken: set[str]) -> FixReport:
    """Add an id to every card that lacks one; each file is rewritten atomically.

    Every edit is checked by parsing the new text: it must parse, every card must be as it was but
    for the ids added, and those cards must now have exactly those ids. An edit that fails the
    check is not written (its card is refused); the others still are."""
    report = FixReport([], [])
    for path in files:
        try:
            raw = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue  # unreadable: `check` reports it; the other files are still fixed
        newline = "\r\n" if "\r\n" in raw else "\r" if "\r" in raw else "\n"  # the file's own line ends
        bom = raw.startswith("\ufeff")
        text = raw.lstrip("\ufeff").replace(newline, "\n")
        if any(mark in text for mark in ODD_BREAKS):  # mixed line ends: the parser's lines are not the text's
            report.refused.append(Refused(path, 1))
            continue
        parser = formats.parser_for(path, display_path(path), root, text)
        parser.parse()
        edits = _markdown_edits(parser, taken) if isinstance(parser, formats.MarkdownParser) else _yaml_edits(parser, taken)
        if not edits:
            continue
        accepted = edits if _verified(parser, text, edits) else _verified_one_by_one(parser, text, edits)
        report.refused.extend(Refused(path, _moved(_card_line(parser, edit), accepted))
                              for edit in edits if edit not in accepted)
        if not accepted:
            continue
        new_text = _apply(text, accepted).replace("\n", newline)
        write_text(path, ("\ufeff" if bom else "") + new_text, newline="")
        report.fixed.extend(FixedId(path, line, edit.id) for edit, line in _new_lines(accepted))
    return report


# line breaks to YAML besides \n, once the file's own (\r\n or a lone \r) are read as \n
ODD_BREAKS = ("\r", "\x85", "\u2028", "\u2029")

# the value of an id key that is null: `~`, `null`, `!!null ''`, nothing; the key may be quoted
NULL_ID = re.compile(r"""(?:"id"|'id'|id)[ \t]*:(?P<value>(?:[ \t]*(?:!!null(?:[ \t]+(?:''|""))?|~|null|Null|NULL))?)"""
                     r"""(?=[ \t]*(?:#.*|,.*|\}.*)?$)""")


def _yaml_edits(parser: formats.Parser, taken: set[str]) -> list[Edit]:
    document = parser.document
    if document is None or document.kind != "map" or "cards" not in document.data:
        return []
    cards = document.data["cards"][1]
    if cards.kind != "seq":
        return []
    edits: list[Edit] = []
    for index, item in enumerate(cards.data):
        if item.kind != "map" or not item.data:
            continue  # nothing to name (`check` reports it)
        fields = item.data
        if "id" in fields and fields["id"][1].data is not None:
            continue
        card_id = slug(_plain(fields, "cloze") or _plain(fields, "q"), taken)
        if "id" in fields:
            edits.append(Edit(index, fields["id"][0], item.key_columns["id"], "fill", card_id))
        else:
            # before the first key, not at the mapping's start: that may be an anchor or a tag (`- &a`)
            first = next(iter(fields))
            edits.append(Edit(index, fields[first][0], item.key_columns[first], "flow" if item.flow else "block",
                              card_id))
    return edits


def _markdown_edits(parser: formats.Parser, taken: set[str]) -> list[Edit]:
    edits: list[Edit] = []
    for index, raw in enumerate(parser.raw_cards):
        first_field = next(iter(raw.fields.values()))
        question = "\n".join(first_field[1])
        if raw.meta is None:
            edits.append(Edit(index, first_field[0] - 1, 0, "insert", slug(question, taken)))
            continue
        meta = _meta(raw.meta[1])
        if meta is not None and meta.kind == "map" and "id" not in meta.data:
            edits.append(Edit(index, raw.meta[0] - 1, 0, "meta", slug(question, taken)))
    return edits


def _apply(text: str, edits: list[Edit]) -> str | None:
    """The text with the edits made, or None when one cannot be made where it points."""
    lines = text.split("\n")
    for edit in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        current = lines[edit.line]
        column = edit.column
        if edit.kind == "fill":
            match = NULL_ID.match(current, column)
            if match is None:
                return None
            lines[edit.line] = current[: match.start("value")] + f" {edit.id}" + current[match.end("value"):]
        elif edit.kind == "flow":
            lines[edit.line] = current[:column] + f"id: {edit.id}, " + current[column:]
        elif edit.kind == "block":
            lines[edit.line: edit.line + 1] = [current[:column] + f"id: {edit.id}", " " * column + current[column:]]
        elif edit.kind == "insert":
            lines.insert(edit.line, f"<!-- id: {edit.id} -->")
        else:
            lines[edit.line] = re.sub(r"^<!--\s*", f"<!-- id: {edit.id}, ", current, count=1)
    return "\n".join(lines)


def _new_lines(edits: list[Edit]) -> list[tuple[Edit, int]]:
    """Each edit with the 1-based line its id is on in the new text (earlier insertions move it down)."""
    out, inserted = [], 0
    for edit in sorted(edits, key=lambda e: (e.line, e.column)):
        out.append((edit, edit.line + inserted + 1))
        inserted += edit.kind in ("block", "insert")
    return out


def _moved(line: int, edits: list[Edit]) -> int:
    """A 1-based line of the old text as a line of the new one."""
    return line + sum(1 for edit in edits if edit.kind in ("block", "insert") and edit.line < line - 1)


def _card_line(parser: formats.Parser, edit: Edit) -> int:
    if isinstance(parser, formats.MarkdownParser):
        return parser.raw_cards[edit.index].line
    return parser.document.data["cards"][1].data[edit.index].line + 1


def _verified_one_by_one(parser: formats.Parser, text: str, edits: list[Edit]) -> list[Edit]:
    """The edits that pass the check when added one at a time (only when all at once fail: a parse each)."""
    accepted: list[Edit] = []
    for edit in edits:
        if _verified(parser, text, accepted + [edit]):
            accepted.append(edit)
    return accepted


def _verified(before: formats.Parser, text: str, edits: list[Edit]) -> bool:
    """Whether the new text parses to the same file with exactly these ids added."""
    new_text = _apply(text, edits)
    if new_text is None:
        return False
    after = formats.parser_for(before.path, before.shown, before.root, new_text)
    after.parse()
    wanted = {edit.index: edit.id for edit in edits}
    if isinstance(before, formats.MarkdownParser):
        same = _markdown_cards(before, after, wanted)
    else:
        same = _yaml_cards(before, after, wanted)
    if not same or (before.deck, before.file_tags) != (after.deck, after.file_tags):
        return False
    # the same problems but the missing ids, and every valid card as it was
    if _messages(before) != _messages(after):
        return False
    notes = {note.id: dataclasses.replace(note, line=0) for note in after.notes}
    return all(notes.get(note.id) == dataclasses.replace(note, line=0) for note in before.notes)


def _messages(parser: formats.Parser) -> Counter[str]:
    return Counter(p.message for p in parser.problems if p.message != formats.MISSING_ID)


def _yaml_cards(before: formats.Parser, after: formats.Parser, wanted: dict[int, str]) -> bool:
    old, new = before.document, after.document
    if new is None or new.kind != "map" or "cards" not in new.data or new.data["cards"][1].kind != "seq":
        return False
    if _shape(old, skip="cards") != _shape(new, skip="cards"):
        return False
    old_cards, new_cards = old.data["cards"][1].data, new.data["cards"][1].data
    if len(old_cards) != len(new_cards):
        return False
    for index, (old_card, new_card) in enumerate(zip(old_cards, new_cards)):
        if index not in wanted:
            if _shape(old_card) != _shape(new_card):
                return False
        elif (new_card.kind != "map" or _shape(old_card, skip="id") != _shape(new_card, skip="id")
              or not _is_id(new_card.data.get("id"), wanted[index])):
            return False
    return True


def _markdown_cards(before: formats.Parser, after: formats.Parser, wanted: dict[int, str]) -> bool:
    if len(before.raw_cards) != len(after.raw_cards):
        return False
    for index, (old, new) in enumerate(zip(before.raw_cards, after.raw_cards)):
        if [(name, lines) for name, (_, lines) in old.fields.items()] != [
                (name, lines) for name, (_, lines) in new.fields.items()]:
            return False
        old_meta = _meta(old.meta[1]) if old.meta else None
        new_meta = _meta(new.meta[1]) if new.meta else None
        if index not in wanted:
            if (old_meta is None) != (new_meta is None) or (old_meta and _shape(old_meta) != _shape(new_meta)):
                return False
        elif (new_meta is None or new_meta.kind != "map" or not _is_id(new_meta.data.get("id"), wanted[index])
              or (old_meta is not None and _shape(old_meta, skip="id") != _shape(new_meta, skip="id"))
              or (old_meta is None and len(new_meta.data) != 1)):
            return False
    return True


def _is_id(entry: tuple[int, yamlnodes.Value] | None, card_id: str) -> bool:
    return entry is not None and entry[1].kind == "scalar" and entry[1].data == card_id == entry[1].raw


def _shape(value: yamlnodes.Value | None, skip: str = "") -> Any:
    """A YAML value without its positions, to compare two parses (a mapping without its `skip` key)."""
    if value is None:
        return None
    if value.kind == "map":
        return {name: _shape(item) for name, (_, item) in value.data.items() if name != skip}
    if value.kind == "seq":
        return [_shape(item) for item in value.data]
    return (value.data, value.raw)


def _meta(text: str) -> yamlnodes.Value | None:
    try:
        return yamlnodes.load("{" + text + "}")
    except yamlnodes.YamlError:
        return None


def _plain(fields: dict, name: str) -> str:
    if name in fields and fields[name][1].kind == "scalar":
        return str(fields[name][1].raw)
    return ""
