"""`prep import` and `prep sync-anki`: Anki packages → deck files and review history.

Packages are read with the `anki` library itself (the optional `prep[anki]` extra): it knows every
collection format (anki2, anki21, zstd anki21b) and media map. The archive is checked first, so a
hostile or broken zip is refused before anything is written.
"""

from __future__ import annotations

import base64
import copy
import filecmp
import hashlib
import html
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from prep import files, formats
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
MATH_PATTERNS = [  # (regex on field HTML, display?)
    (re.compile(r"\\\((.+?)\\\)", re.S), False),
    (re.compile(r"\\\[(.+?)\\\]", re.S), True),
    (re.compile(r"\[\$\](.+?)\[/\$\]", re.S), False),
    (re.compile(r"\[\$\$\](.+?)\[/\$\$\]", re.S), True),
    (re.compile(r"\[latex\](.+?)\[/latex\]", re.S), True),
]


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
    kind: str  # basic | cloze
    fields: dict[str, str]
    field_order: list[str]
    tags: list[str]
    deck: str
    cards: dict[int, int]  # card ordinal → Anki card id
    templates: int
    front: list[str] = field(default_factory=list)  # fields the first template shows on the question side
    back: list[str] = field(default_factory=list)  # fields it adds on the answer side


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
    shutil.copyfile(path, copy)
    try:
        col = Collection(str(copy))
    except BackendError as error:  # DBError for a file that is not a collection
        raise AnkiImportError(f"{path}: not an Anki collection ({error})") from None
    try:
        return _read_collection(col)
    finally:
        col.close()


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
            guid=note.guid, kind="cloze" if model["type"] == 1 else "basic",
            fields=dict(zip(names, note.fields)), field_order=names, tags=list(note.tags),
            deck=decks_by_id.get(first[1], "Default"), cards={o: c for o, (c, _) in cards.items()},
            templates=len(model["tmpls"]), front=front, back=back))
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


def html_to_markdown(field_html: str, media: "MediaCopier", warnings: list[str], where: str) -> str:
    """Field HTML → Markdown: prep's own source when the field is unedited, else a conversion."""
    mark = SOURCE_MARK.search(field_html)
    if mark:
        rest = SOURCE_MARK.sub("", field_html)
        if hashlib.blake2b(rest.encode(), digest_size=8).hexdigest() == mark.group(1):
            source = base64.b64decode(mark.group(2)).decode()
            # images: the source names them by their path, the HTML by their packed name, in the same order
            packed = re.findall(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", rest, flags=re.I)
            for reference, name in zip(formats.image_paths(source), packed):
                media.copy_as(html.unescape(name), reference, warnings, where)
            return source
        field_html = rest  # edited in Anki since: convert what is there now
    from markdownify import markdownify

    maths: list[str] = []

    def keep_math(display: bool):
        def replace(match: re.Match[str]) -> str:
            body = html.unescape(re.sub(r"<br\s*/?>", "\n", match.group(1)))
            body = re.sub(r"<[^>]+>", "", body).strip()
            maths.append(f"$${body}$$" if display else f"${body}$")
            return f"PREPMATH{len(maths) - 1}X"
        return replace

    text = field_html
    for pattern, display in MATH_PATTERNS:
        text = pattern.sub(keep_math(display), text)
    text = text.replace("$", "PREPDOLLARX")
    text = re.sub(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"'][^>]*>",
                  lambda m: media.image(html.unescape(m.group(1)), warnings, where), text, flags=re.I)
    try:
        converted = markdownify(text, heading_style="ATX", bullets="-", escape_misc=True,
                                code_language_callback=_code_language)
    except RecursionError:  # markdownify recurses per element: thousands of nested tags exhaust the stack
        warnings.append(f"{where}: HTML nested too deeply to convert; imported as plain text")
        converted = html.unescape(re.sub(r"<[^>]*>", "", text))
    converted = converted.replace("\xa0", " ").replace("PREPDOLLARX", "\\$")
    converted = re.sub(r"PREPMATH(\d+)X", lambda m: maths[int(m.group(1))], converted)
    converted = re.sub(r"[ \t]+\n", "\n", converted)
    return re.sub(r"\n{3,}", "\n\n", converted).strip()


def _code_language(element) -> str | None:
    code = element.find("code") if element is not None else None
    for node in (code, element):
        for name in (node.get("class") or []) if node is not None else []:
            if name.startswith("language-"):
                return name[len("language-"):]
    return None


class MediaCopier:
    """Copies the images notes use into a media folder beside their deck file."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.target: Path | None = None
        self.pending: dict[Path, Path] = {}

    def copy_as(self, name: str, reference: str, warnings: list[str], where: str) -> None:
        """Restore a packed image under the relative path the Markdown source uses."""
        parts = re.split(r"[\\/]", reference)
        if "/" in name or "\\" in name or not (self.source / name).is_file():
            warnings.append(f"{where}: image '{reference}' is not in the package")
        elif reference.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", reference):
            warnings.append(f"{where}: image path '{reference}' would leave the deck's folder; not copied")
        else:
            assert self.target is not None
            self.pending[self.source / name] = self.target.parent.joinpath(*parts)

    def image(self, name: str, warnings: list[str], where: str) -> str:
        if "/" in name or "\\" in name or name.startswith(".") or not (self.source / name).is_file():
            warnings.append(f"{where}: image '{name}' is not in the package; left out")
            return f"[missing image: {html.escape(name)}]"
        assert self.target is not None
        self.pending[self.source / name] = self.target / name
        return f'<img src="media/{html.escape(name)}">'


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


def deck_file_for(deck_name: str, into: Path) -> Path:
    parts = [slug(p) for p in deck_name.split("::")]
    return into.joinpath(*parts[:-1], parts[-1] + ".yaml")


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
    if note.kind == "cloze":
        text, used = _field(note, "text", index=0)
        extra, extra_name = _field(note, "back extra", "extra", index=1)
        entry["cloze"] = html_to_markdown(text, media, warnings, where)
        others = [n for n in note.field_order if n not in (used, extra_name)]
        extra_md = html_to_markdown(extra, media, warnings, where) if extra_name else ""
        extra_md = _append_fields(note, others, extra_md, media, warnings, where)
        if extra_md:
            entry["extra"] = extra_md
    else:
        front, front_name = _field(note, "front", "question", index=0, side=note.front)
        back, back_name = _field(note, "back", "answer", index=1,
                                 side=[name for name in note.back if name != front_name])
        entry["q"] = html_to_markdown(front, media, warnings, where)
        answer = html_to_markdown(back, media, warnings, where) if back_name else ""
        others = [n for n in note.field_order if n not in (front_name, back_name)]
        entry["a"] = _append_fields(note, others, answer, media, warnings, where)
        if 1 in note.cards:
            entry["reverse"] = True
    if not (entry.get("cloze") or (entry.get("q") and entry.get("a"))):
        warnings.append(f"{where}: empty {'text' if note.kind == 'cloze' else 'front or back'}; skipped")
        return None
    tags = [re.sub(r"[\s\"]+", "_", t) for t in note.tags if t.strip()]
    if tags:
        entry["tags"] = tags
    return entry


def _append_fields(note: AnkiNote, names: list[str], text: str, media: MediaCopier, warnings: list[str],
                   where: str) -> str:
    extra = [(n, html_to_markdown(note.fields[n], media, warnings, where)) for n in names if note.fields[n].strip()]
    if extra:
        warnings.append(f"{where}: note type has more fields than prep's; "
                        f"{', '.join(n for n, _ in extra)} added to the answer")
    parts = [text] if text else []
    parts += [f"**{n}:** {value}" for n, value in extra]
    return "\n\n".join(parts)


def _yaml_text(deck_name: str, source: Path, entries: list[dict]) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def string(dumper: yaml.SafeDumper, value: str):
        style = "|" if "\n" in value and not re.search(r"[ \t]\n|^\s", value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, string)
    body = yaml.dump({"deck": deck_name, "cards": entries}, Dumper=Dumper, sort_keys=False, allow_unicode=True,
                     width=100)
    return f"# Imported by prep from {source.name}.\n" + body


def import_package(package: Path, into: Path, store, schedule) -> Report:
    """Write one deck file per Anki deck under `into` and merge the review history into `store`."""
    report = Report()
    with tempfile.TemporaryDirectory(prefix="prep-import-") as scratch:
        content = read_package(package, Path(scratch))
        plans: dict[Path, tuple[str, list[dict]]] = {}
        media = MediaCopier(content.media_dir)
        seen_questions: set[str] = set()
        history: dict[str, list[tuple[int, datetime, int | None]]] = {}
        for note in content.notes:
            target = deck_file_for(note.deck, into)
            media.target = target.parent / "media"
            entry = convert_note(note, media, report.warnings)
            if entry is None:
                continue
            question = " ".join((entry.get("cloze") or entry["q"]).lower().split())
            if question in seen_questions:
                report.warnings.append(f"note {entry['id']}: same question as an earlier note; skipped")
                continue
            seen_questions.add(question)
            plans.setdefault(target, (note.deck, []))[1].append(entry)
            report.notes += 1
            for ordinal, anki_card in note.cards.items():
                prep_card = prep_card_id(entry["id"], note.kind, ordinal)
                for review_ms, ease, taken in content.revlog.get(anki_card, []):
                    history.setdefault(prep_card, []).append(
                        (ease, datetime.fromtimestamp(review_ms / 1000, tz=timezone.utc), taken or None))
        if content.odd_times:
            report.warnings.append(f"{content.odd_times} review{'s' if content.odd_times != 1 else ''} with an "
                                   "impossible time (before 2006 or after 9000) left out")
        # everything is read and converted: only now touch the user's files and database
        for source, destination in media.pending.items():
            report.media_copied += copy_media(source, destination, report.warnings)
        for target, (deck_name, entries) in plans.items():
            entries[:] = _valid_entries(entries, target, into, deck_name, report.warnings)
            if not entries:
                continue
            text = _yaml_text(deck_name, package, entries)
            if os.path.lexists(target):  # a dangling link counts: never written through
                if target.is_file() and target.read_text(encoding="utf-8", errors="replace") == text:
                    report.files_unchanged += 1
                    continue
                report.warnings.append(f"{display_path(target)} exists with other content; left unchanged "
                                       "(move it away to import it again)")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                files.write_text(target, text, exclusive=True)  # "only new files", even against a race
            except FileExistsError:
                report.warnings.append(f"{display_path(target)} appeared while importing; left unchanged")
                continue
            report.files_written.append(target)
    for card_id, reviews in history.items():
        added = store.merge_reviews(card_id, reviews, lambda state, rating, at, c=card_id: schedule(state, c, rating, at))
        report.reviews_added += added
        report.cards_with_history += bool(added)
    return report


def copy_media(source: Path, destination: Path, warnings: list[str]) -> bool:
    """Copy one image unless `destination` exists (identical bytes: unchanged; other bytes or a link:
    left as it is, with a warning); True when a file was written."""
    if os.path.lexists(destination):
        if not destination.is_symlink() and destination.is_file() and filecmp.cmp(source, destination, shallow=False):
            return False
        warnings.append(f"{display_path(destination)} exists with other content; left unchanged")
        return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        files.copy_file(source, destination, exclusive=True)
    except FileExistsError:
        warnings.append(f"{display_path(destination)} appeared while importing; left unchanged")
        return False
    return True


def _valid_entries(entries: list[dict], target: Path, into: Path, deck_name: str, warnings: list[str]) -> list[dict]:
    """Keep the cards that pass the same validation as `prep check`, so imports never write problems."""
    from prep.model import Note

    kept = []
    for entry in entries:
        note = Note(id=entry["id"], deck=deck_name, path=target, line=1, q=entry.get("q", ""), a=entry.get("a", ""),
                    cloze=entry.get("cloze", ""), extra=entry.get("extra", ""), tags=entry.get("tags", []),
                    reverse=entry.get("reverse", False))
        problems = formats.validate_note(note, into)
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


def sync_reviews(source: Path, store, schedule) -> tuple[int, int]:
    """Merge reviews done in Anki on cards that came from prep; returns (reviews added, cards touched)."""
    with tempfile.TemporaryDirectory(prefix="prep-sync-") as scratch:
        if zipfile.is_zipfile(source):
            content = read_package(source, Path(scratch))
        else:
            content = read_collection_file(source, Path(scratch))
    added = touched = 0
    for note in content.notes:
        if not note.guid.startswith(PREP_GUID):
            continue
        card_id = note.guid[len(PREP_GUID):]
        for ordinal, anki_card in note.cards.items():
            prep_card = prep_card_id(card_id, note.kind, ordinal)
            reviews = [(ease, datetime.fromtimestamp(ms / 1000, tz=timezone.utc), taken or None)
                       for ms, ease, taken in content.revlog.get(anki_card, [])]
            count = store.merge_reviews(prep_card, reviews,
                                        lambda state, rating, at, c=prep_card: schedule(state, c, rating, at))
            added += count
            touched += bool(count)
    return added, touched
