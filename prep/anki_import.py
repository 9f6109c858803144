"""`prep import` and `prep sync-anki`: Anki packages → deck files and review history.

Packages are read with the `anki` library itself (the optional `prep[anki]` extra): it knows every
collection format (anki2, anki21, zstd anki21b) and media map. The archive is checked first, so a
hostile or broken zip is refused before anything is written.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from prep import cloze, files, formats
from prep.decks import DECK_SUFFIXES
from prep.model import CodeSpec
from prep.paths import display_path
from prep.errors import PrepError

MAX_ENTRY_BYTES = 1 << 30  # 1 GiB uncompressed per entry
MAX_TOTAL_BYTES = 4 << 30
MAX_RATIO = 200  # uncompressed/compressed: beyond this an entry is treated as a zip bomb
MAX_ENTRIES = 100_000
# review times (epoch ms) a log can hold: from Anki's first release to the clock's last pinned year
REVIEW_TIMES = (int(datetime(2006, 1, 1, tzinfo=timezone.utc).timestamp() * 1000),
                int(datetime(9000, 1, 1, tzinfo=timezone.utc).timestamp() * 1000))
COLLECTION_NAMES = ("collection.anki21b", "collection.anki21", "collection.anki2")
PREP_GUID = "prep/"  # GUIDs of notes exported by prep carry the card id: prep/<id>
SOURCE_MARK = re.compile(r"<!--prep-src:([0-9a-f]{16}):([A-Za-z0-9+/=]*)-->")
CODE_MARK = re.compile(r"<!--prep-code:([A-Za-z0-9+/=]*)-->")
# Anki's math delimiters: opener → (closer, display?)
MATH_DELIMITERS = {"\\(": ("\\)", False), "\\[": ("\\]", True), "[$]": ("[/$]", False), "[$$]": ("[/$$]", True),
                   "[latex]": ("[/latex]", True)}
MATH_TOKEN = re.compile("|".join(re.escape(t) for pair in MATH_DELIMITERS.items() for t in (pair[0], pair[1][0])))
TAG_NAME = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9]*)")
SRC_ATTRIBUTE = re.compile(r"\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I)
ANKI_SOUND = re.compile(r"\[sound:([^\[\]]+?)\]")  # as Anki reads them


class AnkiImportError(PrepError):
    """A package that cannot be imported; nothing has been written."""


@dataclass
class Report:
    notes: int = 0
    files_written: list[Path] = field(default_factory=list)
    files_unchanged: int = 0
    media_copied: int = 0
    reviews_added: int = 0
    cards_with_history: int = 0
    warnings: list[str] = field(default_factory=list)


# -- the archive ---------------------------------------------------------------------------
def check_archive(path: Path) -> None:
    """Refuse anything but a sane Anki zip: no escaping names, no bombs, a collection inside."""
    if not path.is_file():
        raise AnkiImportError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise AnkiImportError(f"{path}: not an Anki package (not a zip file)")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise AnkiImportError(f"{path}: damaged zip file ({error})") from None
    if len(entries) > MAX_ENTRIES:
        raise AnkiImportError(f"{path}: too many entries ({len(entries)})")
    total = 0
    for entry in entries:
        name = entry.filename
        parts = re.split(r"[\\/]", name)
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            raise AnkiImportError(f"{path}: refusing entry '{name}': it would escape the target folder")
        if entry.file_size > MAX_ENTRY_BYTES:
            raise AnkiImportError(f"{path}: entry '{name}' is too large ({entry.file_size} bytes)")
        if entry.file_size > 1 << 20 and entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
            raise AnkiImportError(f"{path}: entry '{name}' expands {entry.file_size // max(entry.compress_size, 1)}"
                                  "-fold: refusing a likely zip bomb")
        total += entry.file_size
    if total > MAX_TOTAL_BYTES:
        raise AnkiImportError(f"{path}: contents too large ({total} bytes)")
    names = {entry.filename for entry in entries}
    if not names & set(COLLECTION_NAMES):
        raise AnkiImportError(f"{path}: not an Anki package (no collection inside)")
    # the headers' sizes can lie: count the bytes each entry really unpacks to, before Anki unpacks any
    budget = min(MAX_TOTAL_BYTES, max(16 << 20, MAX_RATIO * path.stat().st_size))
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for entry in entries:
                total += _unpacked_size(archive, entry, path)
                if total > budget:
                    raise AnkiImportError(f"{path}: contents unpack to more than {budget} bytes: "
                                          "refusing a likely zip bomb")
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError, NotImplementedError) as error:
        raise AnkiImportError(f"{path}: damaged zip file ({error})") from None


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # Anki's newer packages zstd-compress the collection and each media file
CHUNK = 1 << 20


def _unpacked_size(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, path: Path) -> int:
    """The bytes `entry` really unpacks to, zstd inside it included, read in chunks and never kept;
    refused once past the header's size, MAX_ENTRY_BYTES or MAX_RATIO times its compressed size."""
    cap = min(MAX_ENTRY_BYTES, max(1 << 20, MAX_RATIO * entry.compress_size))
    unbounded = copy.copy(entry)
    unbounded.file_size = MAX_TOTAL_BYTES + 1  # zipfile stops at the header's size: read what is really there
    with archive.open(unbounded) as stream:
        head = stream.read(len(ZSTD_MAGIC))
        reader = _Unpacked(stream, head, entry.file_size, f"{path}: entry '{entry.filename}'")
        if head == ZSTD_MAGIC:
            zstd = _zstandard()
            try:
                source = zstd.ZstdDecompressor().stream_reader(reader, read_size=CHUNK, read_across_frames=True)
                return _count(iter(lambda: source.read(CHUNK), b""), cap, entry, path)
            except zstd.ZstdError as error:
                raise AnkiImportError(f"{path}: entry '{entry.filename}' is damaged ({error})") from None
        return _count(iter(lambda: reader.read(CHUNK), b""), cap, entry, path)


def _count(chunks, cap: int, entry: zipfile.ZipInfo, path: Path) -> int:
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise AnkiImportError(f"{path}: entry '{entry.filename}' unpacks to more than {cap} bytes: "
                                  "refusing a likely zip bomb")
    return size


class _Unpacked:
    """An entry's bytes as zip inflates them, refused once past the size its header gives."""

    def __init__(self, stream, head: bytes, claimed: int, name: str) -> None:
        self.stream, self.head, self.claimed, self.name = stream, head, claimed, name
        self.produced = 0
        self.count(len(head))

    def read(self, size: int = CHUNK) -> bytes:
        if self.head:
            chunk, self.head = self.head, b""
            return chunk
        chunk = self.stream.read(size)
        self.count(len(chunk))
        return chunk

    def count(self, size: int) -> None:
        self.produced += size
        if self.produced > self.claimed:
            raise AnkiImportError(f"{self.name} holds more than the {self.claimed} bytes its header gives")


def _zstandard():
    try:
        import zstandard
    except ImportError:
        raise PrepError("reading Anki packages needs the zstandard library: pip install 'prep[anki]'") from None
    return zstandard


def _anki():
    try:
        from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
    except ImportError:
        raise PrepError("reading Anki packages needs the anki library: pip install 'prep[anki]'") from None
    return Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest


@dataclass
class AnkiNote:
    guid: str
    kind: str  # basic | cloze | image-occlusion
    fields: dict[str, str]
    field_order: list[str]
    tags: list[str]
    deck: str
    cards: dict[int, int]  # card ordinal → Anki card id
    templates: int
    front: list[str] = field(default_factory=list)  # fields the first template shows on the question side
    back: list[str] = field(default_factory=list)  # fields it adds on the answer side
    mod: int = 0  # Anki's modification time (epoch seconds)
    model: dict = field(default_factory=dict)  # its note type: id, name, type, fields, templates, css
    mapping: dict = field(default_factory=dict)  # which Anki field became which part of the prep card


@dataclass
class Package:
    notes: list[AnkiNote]
    revlog: dict[int, list[tuple[int, int, int]]]  # Anki card id → [(ms, ease, time ms)]
    media_dir: Path
    odd_times: int = 0  # reviews left out for a time no review can have (REVIEW_TIMES)


def read_package(path: Path, workdir: Path) -> Package:
    """Import the package into a scratch collection and read it back."""
    check_archive(path)
    Collection, Options, Request = _anki()
    from anki.errors import BackendError

    col = Collection(str(workdir / "scratch.anki2"))
    try:
        try:
            col.import_anki_package(Request(package_path=str(path), options=Options(with_scheduling=True)))
        except BackendError as error:  # DBError, BackendIOError, ...: one type per kind of bad package
            raise AnkiImportError(f"{path}: Anki could not read the package: {error}") from None
        return _read_collection(col)
    finally:
        col.close()


def read_collection_file(path: Path, workdir: Path) -> Package:
    """A bare collection file (collection.anki2), read from a copy so Anki's own file is never touched."""
    Collection, _, _ = _anki()
    from anki.errors import BackendError

    copy = workdir / "copy.anki2"
    snapshot(path, copy)
    try:
        col = Collection(str(copy))
    except BackendError as error:  # DBError for a file that is not a collection
        raise AnkiImportError(f"{path}: not an Anki collection ({error})") from None
    try:
        return _read_collection(col)
    finally:
        col.close()


def snapshot(path: Path, copy: Path) -> None:
    """A consistent copy of a collection Anki may have open (WAL mode: recent changes live in the
    -wal file, which a plain file copy misses): SQLite's backup API through a read-only connection."""
    import sqlite3

    try:
        reading = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise AnkiImportError(f"{path}: cannot open the collection ({error})") from None
    try:
        writing = sqlite3.connect(copy)
        try:
            reading.backup(writing)
            writing.execute("PRAGMA journal_mode=DELETE")
        finally:
            writing.close()
    except sqlite3.Error as error:
        raise AnkiImportError(f"{path}: not an Anki collection ({error})") from None
    finally:
        reading.close()


def _read_collection(col) -> Package:
    decks_by_id = {d.id: d.name for d in col.decks.all_names_and_ids()}
    notes: list[AnkiNote] = []
    cards_by_note: dict[int, dict[int, tuple[int, int]]] = {}
    for card_id, note_id, ordinal, deck_id, original_deck in col.db.all("SELECT id, nid, ord, did, odid FROM cards"):
        cards_by_note.setdefault(note_id, {})[ordinal] = (card_id, original_deck or deck_id)
    for note_id in sorted(col.find_notes("")):
        note = col.get_note(note_id)
        model = note.note_type()
        names = [f["name"] for f in model["flds"]]
        cards = cards_by_note.get(note_id, {})
        first = cards[min(cards)] if cards else (0, 1)
        template = model["tmpls"][0] if model["tmpls"] else {"qfmt": "", "afmt": ""}
        front = _referenced(template["qfmt"], names)
        back = [name for name in _referenced(template["afmt"], names) if name not in front]
        notes.append(AnkiNote(
            guid=note.guid, kind=_kind(model, names),
            fields=dict(zip(names, note.fields)), field_order=names, tags=list(note.tags),
            deck=decks_by_id.get(first[1], "Default"), cards={o: c for o, (c, _) in cards.items()},
            templates=len(model["tmpls"]), front=front, back=back, mod=int(note.mod),
            model={"id": model["id"], "name": model["name"], "type": model["type"], "fields": names,
                   "templates": [{"name": t["name"], "qfmt": t["qfmt"], "afmt": t["afmt"]} for t in model["tmpls"]],
                   "css": model.get("css", "")}))
    revlog: dict[int, list[tuple[int, int, int]]] = {}
    odd = 0
    for review_id, card_id, ease, taken, kind in col.db.all("SELECT id, cid, ease, time, type FROM revlog ORDER BY id"):
        if not 1 <= ease <= 4 or kind not in (0, 1, 2, 3):  # skip manual reschedules and "forget" entries
            continue
        if not REVIEW_TIMES[0] <= review_id < REVIEW_TIMES[1]:  # year 0, 1970, far future: a damaged log
            odd += 1
            continue
        revlog.setdefault(card_id, []).append((review_id, ease, taken))
    return Package(notes, revlog, Path(col.media.dir()), odd)


IMAGE_OCCLUSION_KIND = 6  # Anki's stock kind of its Image Occlusion note type


def _kind(model: dict, names: list[str]) -> str:
    """basic, cloze or image-occlusion (by the stock kind or the fields, whatever the type is named)."""
    if model.get("originalStockKind") == IMAGE_OCCLUSION_KIND or {"Occlusion", "Image"} <= set(names) \
            or "image occlusion" in str(model.get("name", "")).lower():
        return "image-occlusion"
    return "cloze" if model["type"] == 1 else "basic"


def _referenced(template: str, names: list[str]) -> list[str]:
    """Field names a card template shows, in order ({{Field}}, {{hint:Field}}, {{cloze:Text}}...)."""
    found = []
    for reference in re.findall(r"\{\{([^{}]+)\}\}", template):
        name = reference.split(":")[-1].strip()
        if reference.startswith(("#", "^", "/")) or name not in names or name in found:
            continue
        found.append(name)
    return found


# -- HTML → Markdown -------------------------------------------------------------------------
def source_comment(html_text: str, markdown_source: str) -> str:
    """What prep's export appends to a field so an unedited field comes back as its exact Markdown."""
    digest = hashlib.blake2b(html_text.encode(), digest_size=8).hexdigest()
    return f"<!--prep-src:{digest}:{base64.b64encode(markdown_source.encode()).decode()}-->"


def code_comment(spec: CodeSpec) -> str:
    """What prep's export appends to a coding card's back: the whole spec, so import gives the card back."""
    return f"<!--prep-code:{base64.b64encode(json.dumps(spec.as_tuple()).encode()).decode()}-->"


def code_from_field(field_html: str) -> CodeSpec | None:
    """The coding card spec a field carries (from `code_comment`), if any and readable."""
    mark = CODE_MARK.search(field_html)
    if not mark:
        return None
    try:
        spec = CodeSpec.from_tuple(json.loads(base64.b64decode(mark.group(1)).decode()))
    except (ValueError, TypeError):
        return None
    if not all(isinstance(text, str) for text in (spec.stub, spec.solution, spec.tests, *spec.hints)):
        return None
    if spec.time is not None and (isinstance(spec.time, bool) or not isinstance(spec.time, (int, float))):
        return None
    return spec


def html_to_markdown(field_html: str, media: "MediaCopier", warnings: list[str], where: str) -> str:
    """Field HTML → Markdown: prep's own source when the field is unedited, else a conversion."""
    mark = SOURCE_MARK.search(field_html)
    if mark:
        rest = SOURCE_MARK.sub("", field_html)
        source = _own_source(rest, mark, media, warnings, where)
        if source is not None:
            return source
        field_html = rest  # edited in Anki since (or a comment that does not fit): convert what is there now
    return convert_html(field_html, media, warnings, where)


def _own_source(rest: str, mark: re.Match[str], media: "MediaCopier", warnings: list[str], where: str) -> str | None:
    """The Markdown a prep source comment carries, its images restored under the deck's media folder;
    None when the comment does not match the field (edited since, or forged)."""
    if hashlib.blake2b(rest.encode(), digest_size=8).hexdigest() != mark.group(1):
        return None
    try:
        source = base64.b64decode(mark.group(2), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    # media: the source names each file by its path, the HTML by its packed name, in the same order
    packed: list[tuple[str, str]] = []
    _replace_images(rest, lambda src: packed.append(("image", src)) or "")
    packed += [("sound", html.unescape(name)) for name in formats.SOUND.findall(rest)]
    packed += [("linked", html.unescape(name)) for name in formats.MEDIA_HTML.findall(rest)]
    references = formats.media_references(source)
    if [what for what, _ in packed] != [what for what, _ in references]:
        return None
    moved: dict[str, str] = {}
    for (what, reference), (_, name) in zip(references, packed):
        new = media.copy_as(name, reference, warnings, where, what)
        if new is None:
            return None
        moved[reference] = new

    def rename(match: re.Match[str]) -> str:
        new = moved.get(match.group(1))
        if new is None:
            return match.group(0)
        start, end = match.start(1) - match.start(0), match.end(1) - match.start(0)
        return match.group(0)[:start] + new + match.group(0)[end:]

    if any(old != new for old, new in moved.items()):
        for _, pattern in formats.MEDIA_PATTERNS:
            source = pattern.sub(rename, source)
    return source


NBSP = "PREPNBSPX"
BREAK = "PREPBRX"
STRUCTURE_TAGS = re.compile(r"<(?:ul|ol|h[1-6]|blockquote|hr|table)\b", re.I)
# Line starts Markdown would read as structure: heading, list item, quote, setext underline, numbered item
LINE_START = re.compile(r"^(?P<lead>(?:\xa0|&nbsp;| )*)(?P<mark>#{1,6}(?=\s|$)|[-+*](?=\s)|>|=+\s*$|-+\s*$|"
                        r"\d{1,9}(?=[.)](?:\s|$)))")


def convert_html(field_html: str, media: "MediaCopier", warnings: list[str], where: str) -> str:
    """Anki's HTML as Markdown that renders to the same text: non-breaking spaces kept (as `&nbsp;`
    where Markdown would strip them), `<br>` and `<div>` lines kept as lines of one paragraph, and
    only the escapes the text needs."""
    maths: list[str] = []

    def keep_math(body: str, display: bool) -> str:
        body = html.unescape(re.sub(r"<br\s*/?>", "\n", body))
        body = re.sub(r"<[^>]*>", "", body).strip()
        maths.append(f"$${body}$$" if display else f"${body}$")
        return f"PREPMATH{len(maths) - 1}X"

    text = _lift_math(field_html, keep_math)
    text = text.replace("$", "PREPDOLLARX")
    text = _replace_images(text, lambda src: media.image(src, warnings, where))
    kept: list[str] = []  # sound tags and <audio>/<video> tags, put back after conversion as they are

    def keep(markdown: str) -> str:
        kept.append(markdown)
        return f"PREPKEPT{len(kept) - 1}X"

    text = ANKI_SOUND.sub(lambda m: keep(media.sound(html.unescape(m.group(1)), warnings, where)), text)
    text = _media_tags(text, media, warnings, where, keep)
    text = re.sub(r"&nbsp;|&#160;|&#x[aA]0;|\xa0", NBSP, text)
    text = _lines_as_breaks(text)
    structured = STRUCTURE_TAGS.search(text) is not None
    try:
        converted = _Converter(heading_style="ATX", bullets="-", escape_misc=False,
                               code_language_callback=_code_language).convert(text)
    except RecursionError:  # markup nested beyond any editor's (hostile): keep the text, drop the tags
        converted = _escape_text(html.unescape(re.sub(r"<[^>]*>", "", text)))
    converted = re.sub(rf" *(?:{BREAK} *)+$", "", converted.strip(" \n"))
    converted = re.sub(rf" *{BREAK}[ \t]*\n?[ \t]*", "<br>\n", converted)
    lines = []
    fence = None
    for line in converted.split("\n"):
        opening = re.match(r"^(`{3,}|~{3,})", line)
        if fence is not None:
            if line.startswith(fence):
                fence = None
            lines.append(line.replace(NBSP, "\xa0").replace("PREPDOLLARX", "$"))
            continue
        if opening:
            fence = opening.group(1)
            lines.append(line)
            continue
        line = line.rstrip(" \t")
        if not structured:
            line = LINE_START.sub(_escape_line_start, line, count=1)
        # Markdown strips (non-breaking) spaces at line edges: there they stay as entities
        line = re.sub(rf"^(?:{NBSP})+", lambda m: "&nbsp;" * (len(m.group()) // len(NBSP)), line)
        line = re.sub(rf"(?:{NBSP})+(?=(?:<br>)?$)", lambda m: "&nbsp;" * (len(m.group()) // len(NBSP)), line)
        line = re.sub(r"`[^`]*`", lambda m: m.group().replace("PREPDOLLARX", "$"), line)
        lines.append(line.replace(NBSP, "\xa0").replace("PREPDOLLARX", "\\$"))
    converted = "\n".join(lines)
    converted = re.sub(r"PREPMATH(\d+)X", lambda m: maths[int(m.group(1))], converted)
    converted = re.sub(r"PREPKEPT(\d+)X", lambda m: kept[int(m.group(1))], converted)
    return re.sub(r"\n{3,}", "\n\n", converted).strip(" \t\n")


def _escape_line_start(match: re.Match[str]) -> str:
    mark = match.group("mark")
    if mark[0].isdigit():  # "1. x": escape the dot, not the number
        return match.group("lead") + mark + "\\"
    return match.group("lead") + "\\" + mark


def _tags(text: str):
    """Each `<...>` of `text` as (start, end), found in one forward scan: no regex backtracking, so a
    hostile field of a million `<img ` or `<div` costs linear time."""
    position = 0
    while (start := text.find("<", position)) >= 0:
        end = text.find(">", start + 1)
        if end < 0:
            return
        yield text.rfind("<", start, end), end + 1
        position = end + 1


def _replace_images(text: str, replace) -> str:
    """Each `<img ... src="...">` replaced by `replace(src)` (the src with entities decoded)."""
    out: list[str] = []
    position = 0
    for start, end in _tags(text):
        name = TAG_NAME.match(text, start, end)
        source = SRC_ATTRIBUTE.search(text, start, end) if name and name.group(2).lower() == "img" else None
        if source:
            out += [text[position:start], replace(html.unescape(source.group(1)))]
            position = end
    out.append(text[position:])
    return "".join(out)


def _media_tags(text: str, media: "MediaCopier", warnings: list[str], where: str, keep) -> str:
    """Each `<audio>`, `<video>`, `<source>` tag naming a file of the package: the file copied, the tag
    kept whole (`keep(tag)`, its closing tag too); each `<a href>` naming one: the file copied, the link
    pointed at it (the converter makes it a Markdown link). A missing file: a warning, the text kept."""
    if "<" not in text:
        return text
    out: list[str] = []
    position = 0
    dropped = {"audio": 0, "video": 0}  # elements whose file is missing: their closing tags go too
    for start, end in _tags(text):
        name = TAG_NAME.match(text, start, end)
        tag = name.group(2).lower() if name else ""
        if tag not in ("audio", "video", "source", "a"):
            continue
        if name.group(1):  # a closing tag
            if dropped.get(tag):
                dropped[tag] -= 1
                out.append(text[position:start])
                position = end
            elif tag != "a":
                out += [text[position:start], keep(text[start:end])]
                position = end
            continue
        found = formats.MEDIA_HTML.match(text, start, end)
        if found is None:
            if tag != "a":
                out += [text[position:start], keep(text[start:end])]
                position = end
            continue
        what = "linked file" if tag == "a" else "sound" if tag == "audio" else tag
        target = media.file(html.unescape(found.group(1)), what, warnings, where)
        if target is None:
            replacement = "<a>" if tag == "a" else ""
            if tag in dropped:
                dropped[tag] += 1
        else:
            replacement = text[start:found.start(1)] + html.escape(target) + text[found.end(1):end]
        out += [text[position:start], replacement if tag == "a" else keep(replacement)]
        position = end
    out.append(text[position:])
    return "".join(out)


def _lift_math(text: str, keep) -> str:
    """Each `\\(..\\)`, `\\[..\\]`, `[$]..[/$]`, `[$$]..[/$$]`, `[latex]..[/latex]` replaced by
    `keep(body, display)`; an opener without its closer stays text (one scan and a bisect per opener)."""
    from bisect import bisect_left

    tokens = list(MATH_TOKEN.finditer(text))
    closers: dict[str, list[int]] = {}
    for token in tokens:
        closers.setdefault(token.group(), []).append(token.start())
    out: list[str] = []
    position = 0
    for token in tokens:
        opener = token.group()
        if token.start() < position or opener not in MATH_DELIMITERS:
            continue
        closer, display = MATH_DELIMITERS[opener]
        found = closers.get(closer, [])
        index = bisect_left(found, token.end() + 1)  # at least one character of math
        if index == len(found):
            continue
        out += [text[position:token.start()], keep(text[token.end():found[index]], display)]
        position = found[index] + len(closer)
    out.append(text[position:])
    return "".join(out)


def _lines_as_breaks(text: str) -> str:
    """Anki's editor writes lines as `<div>`s: each becomes a line break (a `<div><br></div>` an empty
    line), so the lines stay one paragraph, not one paragraph each; `<br>` outside `<pre>` likewise.
    A `<` that starts no tag becomes `&lt;` (the same text, and HTML parsers slow down on them)."""
    out: list[str] = []
    position = 0
    line_open = in_pre = False
    previous = ""
    for start, end in _tags(text):
        chunk = text[position:start].replace("<", "&lt;")
        out.append(chunk)
        if chunk.strip() and not in_pre:
            line_open, previous = True, "text"
        position = end
        tag = text[start:end]
        match = TAG_NAME.match(tag)
        if match is None and not tag.startswith("<!"):
            out.append(tag.replace("<", "&lt;"))
            continue
        name, closing = (match.group(2).lower(), bool(match.group(1))) if match else ("", False)
        if in_pre or name == "pre":  # inside <pre>: kept as it is, up to its end
            out.append(tag)
            in_pre = not closing if name == "pre" else in_pre
            line_open, previous = False, "pre"
        elif name == "div" and not closing:
            if line_open:
                out.append(BREAK)
            line_open, previous = False, "open"
        elif name == "div":
            if line_open or previous == "open":
                out.append(BREAK)
            line_open, previous = False, "close"
        elif name == "br":
            out.append(BREAK)
            line_open, previous = False, "br"
        else:
            out.append(tag)
            line_open, previous = True, "text"
    out.append(text[position:].replace("<", "&lt;"))
    return "".join(out)


def _escape_text(text: str) -> str:
    """Escape in a text node only what Markdown (Python-Markdown) would otherwise read as markup."""
    text = re.sub(r"\\(?=[\\`*_{}\[\]()>#+\-.!$])", r"\\\\", text)
    text = text.replace("`", "\\`").replace("*", "\\*")
    text = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)
    text = re.sub(r"&(?=#?[A-Za-z0-9]+;)", "&amp;", text)
    text = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)
    # `[^\][]`: the look-ahead stops at the next `[`, so a run of `[` is scanned once, not once per `[`
    return re.sub(r"\[(?=[^\][]*\]\s*[(\[])", r"\\[", text)


def _converter_class():
    from markdownify import MarkdownConverter

    class Converter(MarkdownConverter):
        def escape(self, text, parent_tags):
            return _escape_text(text) if text else ""

    return Converter


def _Converter(**options):
    return _converter_class()(**options)


def _code_language(element) -> str | None:
    code = element.find("code") if element is not None else None
    for node in (code, element):
        for name in (node.get("class") or []) if node is not None else []:
            if name.startswith("language-"):
                return name[len("language-"):]
    return None


def safe_media_name(name: str) -> str:
    """A media file name that can never be taken for a deck file (or hidden): `notes.yaml` → `notes.yaml.media`."""
    if name.lower().endswith(DECK_SUFFIXES):
        name += ".media"
    return "_" + name if name.startswith(".") else name


class MediaCopier:
    """Collects the images, sounds and other files notes use, each bound for the `media/` folder beside its deck file; a note's
    images are kept only when the note is (`keep`), so skipped notes bring no files."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.folder: Path | None = None  # the deck's media folder, relative to --into
        self.pending: dict[Path, Path] = {}  # destination relative to --into → file in the package
        self.note: dict[Path, Path] = {}

    def begin(self, folder: Path) -> None:
        self.folder, self.note = folder, {}

    def keep(self) -> None:
        self.pending.update(self.note)
        self.note = {}

    def copy_as(self, name: str, reference: str, warnings: list[str], where: str, what: str = "image") -> str | None:
        """Restore a packed image under the deck's media folder; returns the reference the Markdown
        should use (the source's own path, moved under `media/` when it was elsewhere), or None."""
        parts = [part for part in re.split(r"[\\/]", reference) if part not in ("", ".")]
        if "/" in name or "\\" in name or not (self.source / name).is_file():
            warnings.append(f"{where}: {what} '{reference}' is not in the package")
            return None
        if (reference.startswith(("/", "\\")) or ".." in parts or not parts
                or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", reference)):
            warnings.append(f"{where}: {what} path '{reference}' would leave the deck's media folder; not copied")
            return None
        if parts[0] == "media":
            parts = parts[1:]
        parts = [safe_media_name(part) for part in parts] or [safe_media_name(name)]
        assert self.folder is not None
        self.note[self.folder.joinpath(*parts)] = self.source / name
        return "/".join(["media", *parts])

    def file(self, name: str, what: str, warnings: list[str], where: str) -> str | None:
        """Copy a media file of the package to the deck's media folder; its path there (relative to
        the deck file), or None with a warning when the package does not hold it."""
        if "/" in name or "\\" in name or name.startswith(".") or not (self.source / name).is_file():
            warnings.append(f"{where}: {what} '{name}' is not in the package; left out")
            return None
        assert self.folder is not None
        safe = safe_media_name(name)
        self.note[self.folder / safe] = self.source / name
        return f"media/{safe}"

    def image(self, name: str, warnings: list[str], where: str) -> str:
        path = self.file(name, "image", warnings, where)
        return f"[missing image: {html.escape(name)}]" if path is None else f'<img src="{html.escape(path)}">'

    def sound(self, name: str, warnings: list[str], where: str) -> str:
        """Markdown for Anki's `[sound:name]`: the same tag naming the copied file; without the file,
        the tag as text (escaped: no reference for `check` to miss), so the field still reads the same."""
        path = self.file(name, "sound", warnings, where)
        return f"\\[sound:{name}]" if path is None or not formats.SOUND.fullmatch(f"[sound:{path}]") else f"[sound:{path}]"


# -- deck files ----------------------------------------------------------------------------
def card_id_for(guid: str) -> str:
    """prep ids come back from prep's own GUIDs; other notes get an id derived from their GUID."""
    if guid.startswith(PREP_GUID) and formats.ID_PATTERN.match(guid[len(PREP_GUID):]):
        return guid[len(PREP_GUID):]
    return "anki-" + hashlib.blake2b(guid.encode(), digest_size=6).hexdigest()


def slug(part: str) -> str:
    """A file or folder name for an Anki deck name (its level, lower-cased, punctuation as dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", part.lower()).strip("-")
    return slug or "deck-" + hashlib.blake2b(part.encode(), digest_size=3).hexdigest()


def _short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=3).hexdigest()


def deck_paths(names: set[str] | list[str]) -> dict[str, Path]:
    """Each Anki deck's file, relative to --into: its levels as slugs; a level whose slug drops more
    than spaces and case (`C++`, `C#`) carries a short hash of its name, so `C++`, `C` and `C#`, or
    any names that still meet, get distinct files."""
    siblings: dict[tuple[str, ...], set[str]] = {}
    for name in names:
        levels = name.split("::")
        for depth, level in enumerate(levels):
            siblings.setdefault(tuple(levels[:depth]), set()).add(level)
    component: dict[tuple[tuple[str, ...], str], str] = {}
    for parent, levels in siblings.items():
        chosen = {}
        for level in levels:
            plain = slug(level)
            lossy = re.sub(r"[\s_-]+", "-", level.strip().lower()) != plain
            chosen[level] = f"{plain}-{_short_hash(level)}" if lossy else plain
        taken: dict[str, list[str]] = {}
        for level, name in chosen.items():
            taken.setdefault(name, []).append(level)
        for name, clashing in taken.items():
            for level in clashing if len(clashing) > 1 else []:  # e.g. "ML" and "ml"
                chosen[level] = f"{name}-{_short_hash(level)}"
        for level, name in chosen.items():
            component[(parent, level)] = name
    paths = {}
    for name in names:
        levels = name.split("::")
        parts = [component[(tuple(levels[:depth]), level)] for depth, level in enumerate(levels)]
        paths[name] = Path(*parts[:-1], parts[-1] + ".yaml")
    return paths


def _field(note: AnkiNote, *names: str, index: int, side: list[str] | None = None) -> tuple[str, str | None]:
    """A field by its usual names, else the first one the template shows on that side, else by position."""
    lowered = {name.lower(): name for name in note.field_order}
    for name in names:
        if name in lowered:
            return note.fields[lowered[name]], lowered[name]
    if side:
        return note.fields[side[0]], side[0]
    if index < len(note.field_order):
        name = note.field_order[index]
        return note.fields[name], name
    return "", None


def convert_note(note: AnkiNote, media: MediaCopier, warnings: list[str]) -> dict | None:
    """One Anki note as a prep card dict (None when it cannot make a valid card)."""
    card_id = card_id_for(note.guid)
    where = f"note {card_id}"
    entry: dict = {"id": card_id}
    if note.kind == "image-occlusion":
        warnings.append(f"{where}: Image Occlusion notes cannot be drilled in prep; skipped (its images not copied)")
        return None
    if note.kind == "cloze":
        text, used = _field(note, "text", index=0)
        extra, extra_name = _field(note, "back extra", "extra", index=1)
        entry["cloze"] = html_to_markdown(text, media, warnings, where)
        others = [n for n in note.field_order if n not in (used, extra_name)]
        extra_md = html_to_markdown(extra, media, warnings, where) if extra_name else ""
        extra_md = _append_fields(note, others, extra_md, media, warnings, where)
        extra_md, points = split_points(extra_md)
        if extra_md:
            entry["extra"] = extra_md
        if points:
            entry["points"] = points
        note.mapping = {"kind": "cloze", "text": used, "extra": extra_name, "others": others}
    else:
        front, front_name = _field(note, "front", "question", index=0, side=note.front)
        back, back_name = _field(note, "back", "answer", index=1,
                                 side=[name for name in note.back if name != front_name])
        entry["q"] = html_to_markdown(front, media, warnings, where)
        spec = code_from_field(back)
        if spec is not None:  # a prep coding card: its spec, not the back's rendering
            entry.update(stub=spec.stub, solution=spec.solution, tests=spec.tests)
            if spec.hints:
                entry["hints"] = list(spec.hints)
            if spec.time is not None:
                entry["time"] = spec.time
            back = CODE_MARK.sub("", back)
        answer = html_to_markdown(back, media, warnings, where) if back_name and spec is None else ""
        others = [n for n in note.field_order if n not in (front_name, back_name)]
        if spec is None:
            entry["a"] = _append_fields(note, others, answer, media, warnings, where)
        text, points = split_points(entry.get("a", "") if spec is None else html_to_markdown(back, media, [], where))
        if spec is None:
            entry["a"] = text
        if points:
            entry["points"] = points
        if 1 in note.cards and entry.get("a"):  # (Anki makes no reverse card from an empty back)
            entry["reverse"] = True
        note.mapping = {"kind": "basic", "reverse": 1 in note.cards, "q": front_name, "a": back_name,
                        "others": others}
    # Anki gives a note whose question renders empty one card that shows only an error ("The front of
    # this card is blank", "No cloze 1 found on card"): nothing to drill, so such a note is skipped
    if note.kind == "cloze" and not cloze.OPEN.search(entry["cloze"]):
        warnings.append(f"{where}: {'empty text' if not entry['cloze'].strip() else 'no cloze deletion'} "
                        "(Anki shows only an error for it); skipped")
        return None
    if note.kind != "cloze" and not entry.get("q"):
        warnings.append(f"{where}: empty front (Anki shows only an error for it); skipped")
        return None
    if note.kind != "cloze" and not (entry.get("a") or entry.get("solution")):
        warnings.append(f"{where}: empty back; imported as a card with no answer")
    tags = [re.sub(r"[\s\"]+", "_", t) for t in note.tags if t.strip()]
    if tags:
        entry["tags"] = tags
    if note.guid != PREP_GUID + card_id:  # kept so the export updates this very note in the user's Anki
        if formats.GUID_PATTERN.match(note.guid):
            entry["guid"] = note.guid
        else:
            warnings.append(f"{where}: its Anki GUID cannot be kept in a deck file; Anki will see a new note")
    return entry


KEY_POINTS = re.compile(r"(?:\A|\n\n)\*\*Key points\*\*\n\n((?:- [^\n]*(?:\n|\Z))+)\Z")


def split_points(text: str) -> tuple[str, list[str]]:
    """The answer and its key points, split where prep's export appended them (`**Key points**` and a list)."""
    match = KEY_POINTS.search(text)
    if not match:
        return text, []
    return text[: match.start()], [line[2:].strip() for line in match.group(1).splitlines() if line.strip()]


def _append_fields(note: AnkiNote, names: list[str], text: str, media: MediaCopier, warnings: list[str],
                   where: str) -> str:
    extra = [(n, html_to_markdown(note.fields[n], media, warnings, where)) for n in names if note.fields[n].strip()]
    if extra:
        warnings.append(f"{where}: note type has more fields than prep's; "
                        f"{', '.join(n for n, _ in extra)} added to the answer")
    parts = [text] if text else []
    parts += [f"**{n}:** {value}" for n, value in extra]
    return "\n\n".join(parts)


def split_appended(text: str, names: list[str]) -> tuple[str, dict[str, str]]:
    """The inverse of appending fields to an answer: (the answer's own text, field name → value) for
    the `**Name:** value` paragraphs at its end; a field not found is empty."""
    found: dict[str, str] = {}
    for name in reversed(names):
        marker = f"**{name}:** "
        at = text.rfind("\n\n" + marker)
        if at >= 0:
            found[name], text = text[at + 2 + len(marker):], text[:at]
        elif text.startswith(marker):
            found[name], text = text[len(marker):], ""
    return text, found


def _yaml_text(deck_name: str, entries: list[dict]) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def string(dumper: yaml.SafeDumper, value: str):
        style = "|" if "\n" in value and not re.search(r"[ \t]\n|^\s", value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, string)
    body = yaml.dump({"deck": deck_name, "cards": entries}, Dumper=Dumper, sort_keys=False, allow_unicode=True,
                     width=100)
    # the package is not named: the same collection as .apkg or .colpkg gives the same file
    return "# Imported by prep from Anki.\n" + body


MANIFEST = ".prep-import.json"  # in --into: the sha256 of every file prep's imports wrote there


def import_package(package: Path, into: Path, store, schedule) -> Report:
    """Write one deck file per Anki deck under `into` and merge the review history into `store`.

    Everything is converted and staged in a temporary folder beside `into` first; then each file is
    put in place only if it is new, identical, or still exactly what an earlier import wrote (the
    manifest says so): a file the user has changed since is left as it is, with a warning.
    """
    report = Report()
    with tempfile.TemporaryDirectory(prefix="prep-import-") as scratch:
        content = read_package(package, Path(scratch))
        if content.odd_times:
            report.warnings.append(f"{content.odd_times} review{'s' if content.odd_times != 1 else ''} with an "
                                   "impossible time (before 2006 or after 9000) left out")
        relative = deck_paths({note.deck for note in content.notes})
        plans: dict[Path, tuple[str, list[tuple[dict, AnkiNote]]]] = {}
        media = MediaCopier(content.media_dir)
        seen_questions: set[str] = set()
        for note in content.notes:
            target = relative[note.deck]
            media.begin(target.parent / "media")
            entry = convert_note(note, media, report.warnings)
            if entry is None:
                continue
            question = " ".join((entry.get("cloze") or entry["q"]).lower().split())
            if question in seen_questions:
                report.warnings.append(f"note {entry['id']}: same question as an earlier note; skipped")
                continue
            seen_questions.add(question)
            media.keep()
            plans.setdefault(target, (note.deck, []))[1].append((entry, note))
        # everything is read and converted: stage it, then touch only what is safe to touch
        into.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".prep-import-", dir=into.parent) as staging_dir:
            staging = Path(staging_dir)
            staged_media: dict[Path, Path] = {}
            for rel, source in media.pending.items():
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                files.copy_file(source, staging / rel, exclusive=True)
                staged_media[rel] = staging / rel
            staged_decks: dict[Path, Path] = {}
            written: dict[Path, list[AnkiNote]] = {}
            for rel, (deck_name, pairs) in plans.items():
                valid = {id(e) for e in _valid_entries([e for e, _ in pairs], staging / rel, staging, deck_name,
                                                       report.warnings)}
                kept = [(e, n) for e, n in pairs if id(e) in valid]
                if not kept:
                    continue
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                files.write_text(staging / rel, _yaml_text(deck_name, [e for e, _ in kept]), exclusive=True)
                staged_decks[rel] = staging / rel
                written[rel] = [n for _, n in kept]
            manifest = _read_manifest(into)
            known = dict(manifest)
            try:
                media_state = _put_in_place(staged_media, into, manifest, report.warnings)
                deck_state = _put_in_place(staged_decks, into, manifest, report.warnings)
            finally:  # also after a failure part-way (disk full): what is in place stays prep's own
                if manifest != known:
                    files.write_text(into / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    report.media_copied = sum(1 for state in media_state.values() if state == "written")
    report.files_written = [into / rel for rel, state in deck_state.items() if state == "written"]
    report.files_unchanged = sum(1 for state in deck_state.values() if state == "unchanged")
    in_place = [note for rel, notes in written.items() if rel in deck_state for note in notes]
    report.notes = len(in_place)
    # history and mod times only for the notes now in the deck files, never for notes skipped
    store.seed_note_mods({note.guid: note.mod for note in in_place})
    store.put_anki_types({note.guid: json.dumps({"model": note.model, **note.mapping}) for note in in_place
                          if not note.guid.startswith(PREP_GUID) and note.mapping})
    for note in in_place:
        note_id = card_id_for(note.guid)
        for ordinal, anki_card in note.cards.items():
            card_id = prep_card_id(note_id, note.kind, ordinal)
            reviews = [(ease, datetime.fromtimestamp(ms / 1000, tz=timezone.utc), taken or None)
                       for ms, ease, taken in content.revlog.get(anki_card, [])]
            added = store.merge_reviews(card_id, reviews, lambda state, rating, at, c=card_id: schedule(state, c, rating, at))
            report.reviews_added += added
            report.cards_with_history += bool(added)
    return report


def _read_manifest(into: Path) -> dict[str, str]:
    try:
        data = json.loads((into / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as reading:
        while chunk := reading.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _put_in_place(staged: dict[Path, Path], into: Path, manifest: dict[str, str], warnings: list[str]) -> dict[Path, str]:
    """Copy each staged file to its place under `into` when that is safe; returns relative path →
    "written" or "unchanged" for the files now in place (the rest were left alone, with a warning)."""
    root = into.resolve() if into.exists() else into.parent.resolve() / into.name
    state: dict[Path, str] = {}
    for rel, source in staged.items():
        target = into / rel
        key = rel.as_posix()
        new = _sha256(source)
        if not (root / rel).parent.resolve().is_relative_to(root):
            warnings.append(f"{display_path(target)}: its folder leads outside {display_path(into)}; not written")
            continue
        if os.path.lexists(target):  # a link or dangling link counts: never written through
            if target.is_symlink() or not target.is_file():
                warnings.append(f"{display_path(target)} exists with other content; left unchanged "
                                "(a link or folder is never written through)")
                continue
            old = _sha256(target)
            if old == new:
                state[rel], manifest[key] = "unchanged", new
                continue
            if manifest.get(key) != old:
                warnings.append(f"{display_path(target)} exists with other content; left unchanged "
                                "(move it away to import it again)")
                continue
            files.copy_file(source, target)  # still exactly what prep wrote before: the user's file is not lost
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                files.copy_file(source, target, exclusive=True)  # "only new files", even against a race
            except FileExistsError:
                warnings.append(f"{display_path(target)} appeared while importing; left unchanged")
                continue
        state[rel], manifest[key] = "written", new
    return state


def _valid_entries(entries: list[dict], target: Path, into: Path, deck_name: str, warnings: list[str]) -> list[dict]:
    """Keep the cards that pass the same validation as `prep check`, so imports never write problems."""
    from prep.model import Note

    kept = []
    for entry in entries:
        note = Note(id=entry["id"], deck=deck_name, path=target, line=1, q=entry.get("q", ""), a=entry.get("a", ""),
                    cloze=entry.get("cloze", ""), extra=entry.get("extra", ""), tags=entry.get("tags", []),
                    reverse=entry.get("reverse", False), guid=entry.get("guid", ""),
                    code=formats.code_spec(entry) if "solution" in entry else None)
        problems = formats.validate_note(note, into, answer_given="a" in entry)
        if problems:
            reasons = "; ".join(p.message for p in problems)
            warnings.append(f"note {entry['id']}: {reasons}; skipped")
        else:
            kept.append(entry)
    return kept


def prep_card_id(note_id: str, kind: str, ordinal: int) -> str:
    """The prep card an Anki card is: cloze ordinal n is deletion n+1, basic ordinal 1 the reverse side."""
    if kind == "cloze":
        return f"{note_id}/c{ordinal + 1}"
    return note_id if ordinal == 0 else f"{note_id}/rev"


def sync_reviews(source: Path, store, schedule, known: dict[tuple[str, int], str] | None = None) -> tuple[int, int]:
    """Merge reviews done in Anki on cards that are in the decks; returns (reviews added, cards touched).

    `known` maps (note GUID, card ordinal) → prep card id for every card in the decks (Anki notes
    imported with their own GUID included); a GUID that names no card there is skipped. Without it,
    prep's own `prep/<id>` GUIDs are taken at their word."""
    with tempfile.TemporaryDirectory(prefix="prep-sync-") as scratch:
        if zipfile.is_zipfile(source):
            content = read_package(source, Path(scratch))
        else:
            content = read_collection_file(source, Path(scratch))
    added = touched = 0
    for note in content.notes:
        for ordinal, anki_card in note.cards.items():
            if known is not None:
                prep_card = known.get((note.guid, ordinal))
            elif note.guid.startswith(PREP_GUID):
                prep_card = prep_card_id(note.guid[len(PREP_GUID):], note.kind, ordinal)
            else:
                prep_card = None
            if prep_card is None:
                continue
            reviews = [(ease, datetime.fromtimestamp(ms / 1000, tz=timezone.utc), taken or None)
                       for ms, ease, taken in content.revlog.get(anki_card, [])]
            count = store.merge_reviews(prep_card, reviews,
                                        lambda state, rating, at, c=prep_card: schedule(state, c, rating, at))
            added += count
            touched += bool(count)
    return added, touched
