"""`prep check --fix`: writes missing card ids into deck files as text, changing nothing else."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from prep import cloze, formats, yamlnodes
from prep.files import write_text
from prep.paths import display_path

STOPWORDS = {"a", "an", "the", "is", "are", "was", "what", "which", "why", "how", "does", "do", "of", "in",
             "on", "for", "to", "and", "or", "with", "when", "you", "your", "it", "its", "be", "can", "that",
             "this", "by", "as", "at", "from", "would", "should", "give", "explain", "describe"}


@dataclass(frozen=True)
class FixedId:
    path: Path
    line: int
    id: str


@dataclass
class Fixes:
    """What `fix_ids` did: the ids it wrote, and the files it left as they were because an edit as text
    would have changed more than the ids (unusual YAML: anchors or tags before a card, odd line breaks)."""

    added: list[FixedId]
    left: list[Path]


def slug(text: str, taken: set[str]) -> str:
    """A readable id from a question: a few significant words, made unique against `taken`."""
    try:
        text = cloze.render(text, 0, reveal=True) if "{{c" in text else text
    except cloze.ClozeError:
        pass
    text = re.sub(r"```.*?```|`[^`]*`|\$[^$]*\$|<[^>]+>|\[[^\]]*\]\([^)]*\)", " ", text, flags=re.S)
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS]
    base = "-".join(words[:5]) or "card"
    candidate, n = base, 2
    while candidate.lower() in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def fix_ids(root: Path, files: list[Path], taken: set[str]) -> Fixes:
    """Add an id to every card that lacks one; each file is rewritten atomically, and only if the
    edited text parses to the same cards with the new ids (otherwise it is left as it was)."""
    fixes = Fixes([], [])
    for path in files:
        try:
            raw = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue  # unreadable: `prep check` reports it, and the other files still get their ids
        newline = "\r\n" if "\r\n" in raw else "\r" if "\r" in raw else "\n"
        bom = raw.startswith("\ufeff")
        text = raw.lstrip("\ufeff").replace(newline, "\n")
        shown = display_path(path)
        if any(mark in text for mark in ODD_BREAKS):  # the parser's line numbers would not be split("\n")'s
            fixes.left.append(path)
            continue
        if path.suffix.lower() == ".md":
            new_text, added = _fix_markdown(path, shown, root, text, taken)
        else:
            new_text, added = _fix_yaml(path, shown, root, text, taken)
            if added and not _same_cards(text, new_text, added):
                fixes.left.append(path)
                continue
        if not added:
            continue
        write_text(path, ("\ufeff" if bom else "") + new_text.replace("\n", newline), newline="")
        fixes.added.extend(FixedId(path, line, card_id) for line, card_id in added)
    return fixes


# line breaks to YAML besides \n once \r\n or a lone \r is taken as the file's own
ODD_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def _same_cards(text: str, new_text: str, added: list[tuple[int, str]]) -> bool:
    """Whether `new_text` holds what `text` holds with just the added ids (in card order)."""
    try:
        before, after = yamlnodes.load(text), yamlnodes.load(new_text)
    except yamlnodes.YamlError:
        return False
    if before is None or after is None:
        return False
    expected, found = _plain(before), _plain(after)
    if not isinstance(expected, dict) or not isinstance(found, dict) or not isinstance(found.get("cards"), list):
        return False
    given = []
    for card, new in zip(expected.get("cards") or [], found["cards"]):
        if isinstance(card, dict) and card.get("id") is None and isinstance(new, dict):
            card["id"] = new.get("id")  # which card got which id is checked against `added` below
            given.append(card["id"])
    return expected == found and sorted(given) == sorted(card_id for _, card_id in added)


def _plain(value: yamlnodes.Value):
    if value.kind == "map":
        return {key: _plain(item) for key, (_, item) in value.data.items()}
    if value.kind == "seq":
        return [_plain(item) for item in value.data]
    return value.data


def _fix_yaml(path: Path, shown: str, root: Path, text: str, taken: set[str]) -> tuple[str, list[tuple[int, str]]]:
    parser = formats.YamlParser(path, shown, root, text)
    parser.parse()
    document = parser.document
    if document is None or document.kind != "map" or "cards" not in document.data:
        return text, []
    cards = document.data["cards"][1]
    if cards.kind != "seq":
        return text, []
    lines = text.split("\n")
    edits: list[tuple[int, int, str, str]] = []  # (line, column, kind, id)
    for item in cards.data:
        if item.kind != "map":
            continue
        fields = item.data
        if "id" in fields and fields["id"][1].data is not None:
            continue
        question = _scalar_text(fields, "cloze") or _scalar_text(fields, "q")
        card_id = slug(question, taken)
        if "id" in fields:
            edits.append((fields["id"][0], 0, "fill", card_id))
        elif item.flow:
            edits.append((item.line, item.column + 1, "flow", card_id))
        elif fields and (first := min(line for line, _ in fields.values())) > item.line:
            # `- &anchor` or `- !!map` alone on its line: the id goes above the first key, at its indent
            edits.append((first, len(lines[first]) - len(lines[first].lstrip(" ")), "block", card_id))
        else:
            edits.append((item.line, item.column, "block", card_id))
    added = []
    for line, column, kind, card_id in sorted(edits, reverse=True):
        current = lines[line]
        if kind == "fill":
            lines[line] = re.sub(r"\bid:[ \t]*(~|null)?", f"id: {card_id}", current, count=1)
        elif kind == "flow":
            lines[line] = current[:column] + f"id: {card_id}, " + current[column:]
        else:
            lines[line: line + 1] = [current[:column] + f"id: {card_id}", " " * column + current[column:]]
        added.append((line + 1, card_id))
    return "\n".join(lines), sorted(added)


def _scalar_text(fields: dict, name: str) -> str:
    if name in fields and fields[name][1].kind == "scalar":
        return str(fields[name][1].raw)
    return ""


def _fix_markdown(path: Path, shown: str, root: Path, text: str, taken: set[str]) -> tuple[str, list[tuple[int, str]]]:
    parser = formats.MarkdownParser(path, shown, root, text)
    parser.parse()
    lines = text.split("\n")
    edits: list[tuple[int, str, str]] = []
    for raw in parser.raw_cards:
        first_field = next(iter(raw.fields.values()))
        question = "\n".join(first_field[1])
        if raw.meta is None:
            edits.append((first_field[0] - 1, "insert", slug(question, taken)))
            continue
        try:
            meta = yamlnodes.load("{" + raw.meta[1] + "}")
        except yamlnodes.YamlError:
            continue
        if meta is not None and meta.kind == "map" and "id" not in meta.data:
            edits.append((raw.meta[0] - 1, "meta", slug(question, taken)))
    added = []
    for index, kind, card_id in sorted(edits, reverse=True):
        if kind == "insert":
            lines.insert(index, f"<!-- id: {card_id} -->")
        else:
            lines[index] = re.sub(r"^<!--\s*", f"<!-- id: {card_id}, ", lines[index], count=1)
        added.append((index + 1, card_id))
    return "\n".join(lines), sorted(added)
