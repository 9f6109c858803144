"""Anki export: notes → HTML (MathJax math, highlighted code, packed images) → an `.apkg` via genanki."""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from prep import decks, files, formats, mathtext
from prep.cache import Cache
from prep.errors import PrepError
from prep.model import Note

if TYPE_CHECKING:
    from pygments.formatters import HtmlFormatter
    from pygments.lexer import Lexer

MODEL_VERSION = "v1"  # bump only with a migration plan: a changed model id stops Anki updating notes
MATH_RULES = "allow-list 1"  # in the HTML cache's key: change it with MATH_COMMANDS or `inert`


def stable_id(*parts: str, bits: int = 47) -> int:
    """A positive integer id derived from names (never from the clock), so re-exports update in place."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> (64 - bits)) | (1 << (bits - 1))


@dataclass(frozen=True)
class ExportResult:
    path: Path
    notes: int
    cards: int
    media: int
    decks: int


CARD_CSS = """
.card { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; font-size: 20px;
        line-height: 1.45; text-align: left; color: #1f2328; background: #ffffff; max-width: 46em; margin: auto; }
.nightMode.card, .night_mode .card { color: #e6edf3; background: #0d1117; }
.cloze { font-weight: bold; color: #0969da; }
.nightMode .cloze { color: #58a6ff; }
pre { padding: 0.6em 0.8em; border-radius: 6px; overflow-x: auto; font-size: 0.8em; text-align: left; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
img { max-width: 100%; }
table { border-collapse: collapse; } td, th { border: 1px solid #d0d7de; padding: 0.2em 0.5em; }
.prep-source { font-size: 0.6em; color: #8c959f; margin-top: 2em; }
"""


def _css() -> str:
    from pygments.formatters import HtmlFormatter

    return CARD_CSS + HtmlFormatter(style="default").get_style_defs(".highlight")


def _models():
    import genanki

    css = _css()
    basic_fields = [{"name": "Question"}, {"name": "Answer"}]
    back = "{{FrontSide}}\n<hr id=answer>\n{{Answer}}"
    basic = genanki.Model(
        stable_id("prep", "model", "basic", MODEL_VERSION), "prep Basic", fields=basic_fields,
        templates=[{"name": "Forward", "qfmt": "{{Question}}", "afmt": back}], css=css)
    reverse = genanki.Model(
        stable_id("prep", "model", "reverse", MODEL_VERSION), "prep Basic (and reversed card)", fields=basic_fields,
        templates=[{"name": "Forward", "qfmt": "{{Question}}", "afmt": back},
                   {"name": "Reverse", "qfmt": "{{Answer}}",
                    "afmt": "{{FrontSide}}\n<hr id=answer>\n{{Question}}"}], css=css)
    cloze_model = genanki.Model(
        stable_id("prep", "model", "cloze", MODEL_VERSION), "prep Cloze",
        fields=[{"name": "Text"}, {"name": "Extra"}],
        templates=[{"name": "Cloze", "qfmt": "{{cloze:Text}}", "afmt": "{{cloze:Text}}<br>\n{{Extra}}"}],
        css=css, model_type=genanki.Model.CLOZE)
    return {"basic": basic, "reverse": reverse, "cloze": cloze_model}


class MediaSet:
    """Images referenced by notes, each packed once under a content-hash name."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.names: dict[Path, str] = {}

    def name_for(self, reference: str, deck_file: Path) -> str | None:
        if formats.image_problem(reference, deck_file, self.root) is not None:
            return None  # `check` reports it; never pack a file from outside the decks folder
        source = (deck_file.parent / reference).resolve()
        if source not in self.names:
            digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
            self.names[source] = f"prep-{digest}{source.suffix.lower()}"
        return self.names[source]


_MARKDOWN = None


def _markdown():
    """One converter for the whole export: building one loads every extension (costly per field)."""
    global _MARKDOWN
    if _MARKDOWN is None:
        import markdown as md

        _MARKDOWN = md.Markdown(
            extensions=["pymdownx.superfences", "pymdownx.highlight", "tables", "sane_lists"],
            extension_configs={"pymdownx.highlight": {"css_class": "highlight", "guess_lang": False}},
        )
    return _MARKDOWN


class HtmlFields:
    """Fields rendered to HTML, reused from the one cache when an earlier export rendered the same Markdown
    with the same libraries (fields with images are never kept: their HTML also depends on the files)."""

    def __init__(self, cache: Cache | None) -> None:
        self.cache = cache
        self.versions = _versions() if cache is not None else ""
        self.entries: dict[bytes, str] = {}
        self.fresh: dict[bytes, str] = {}  # rendered in this export, not yet in the cache

    def key(self, source: str) -> bytes:
        return hashlib.blake2b(f"{self.versions}\0{source}".encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def render(self, source: str, deck_file: Path, media: MediaSet) -> str:
        if self.cache is None or "<img" in source or "![" in source:
            return to_html(source, deck_file, media)
        key = self.key(source)
        cached = self.entries.get(key)
        if cached is None:
            cached = self.entries[key] = self.fresh[key] = to_html(source, deck_file, media)
        return cached

    def prefill(self, notes: list[Note]) -> None:
        """Read every field's HTML from the cache; render the missing ones on all cores when there are many."""
        if self.cache is None:
            return
        wanted: dict[bytes, str] = {}
        for note in notes:
            for source in (note.q, note.a, note.cloze, note.extra):
                if source and "<img" not in source and "![" not in source:
                    wanted[self.key(source)] = source
        self.entries = self.cache.html(list(wanted))
        self.cache.touch_html(list(self.entries))
        missing = [(key, source) for key, source in wanted.items() if key not in self.entries]
        workers = os.cpu_count() or 1
        if len(missing) < 2000 or workers < 2:
            return  # rendered one by one as the notes are built
        import multiprocessing

        try:
            context = multiprocessing.get_context("fork")  # workers inherit the loaded converter
        except ValueError:
            return
        with context.Pool(workers) as pool:
            rendered = pool.map(_render_plain, [source for _, source in missing], chunksize=256)
        for (key, _), html_text in zip(missing, rendered):
            self.entries[key] = self.fresh[key] = html_text

    def save(self) -> None:
        if self.cache is not None and self.fresh:
            self.cache.put_html(self.fresh)
            self.fresh = {}


def _render_plain(source: str) -> str:
    """to_html for a field without images (run in worker processes)."""
    return to_html(source, Path("."), MediaSet(Path(".")))


def _versions() -> str:
    from importlib.metadata import version

    from prep import __version__

    return "|".join([__version__, MODEL_VERSION, MATH_RULES] + [version(p) for p in ("markdown", "pymdown-extensions",
                                                                          "pygments", "nh3")])


def to_html(source: str, deck_file: Path, media: MediaSet) -> str:
    """Markdown → sanitised HTML with `\\(..\\)`/`\\[..\\]` math for MathJax and packed image names."""
    pieces: list[str] = []
    maths: list[str] = []
    mark = "PREPMATH"
    while mark in source:  # a placeholder the card's own text cannot contain
        mark += "Q"
    segments = mathtext.split(source)
    for segment in segments:
        if segment.kind in ("math", "display"):
            if formats.forbidden_math_command(segment.body) is None:
                body = html.escape(segment.body, quote=False).replace('"', "&quot;")  # may sit in an attribute
                maths.append(f"\\({body}\\)" if segment.kind == "math" else f"\\[{body}\\]")
            else:  # `prep check` reports it; Anki shows the source as text, never runs it
                maths.append(inert(html.escape(segment.source)))
            pieces.append(f"{mark}{len(maths) - 1}X")
        elif segment.kind == "text":
            pieces.append(_rewrite_images(segment.source, deck_file, media))
        else:
            pieces.append(segment.source)
    fences = [index for index, segment in enumerate(segments) if segment.kind == "fence"]
    pieces, blocks = _lift_fences(pieces, fences)
    rendered = markdown_to_html("".join(pieces))
    if blocks:
        rendered = FENCE_HTML.sub(lambda m: blocks[int(m.group(1) or m.group(2))], rendered)
    # the math goes in after cleaning, so that no other text can be math: see `inert`
    rendered = inert(sanitize(rendered))
    if maths:
        rendered = re.sub(mark + r"(\d+)X", lambda m: maths[int(m.group(1))], rendered)
    return rendered


MATH_DELIMITER = re.compile(r"\\(?=[()\[\]])")


def inert(fragment: str) -> str:
    """HTML whose `\\(`, `\\)`, `\\[` and `\\]` (from Markdown escapes, entities or refused math) MathJax
    does not take for math: an empty element splits each, as MathJax reads delimiters in one run of text."""
    return MATH_DELIMITER.sub(r"\\<span></span>", fragment)


# A fence pymdownx.superfences highlights with no options: at the start of a line, a language or
# nothing after it (no attributes, line numbers or title), closed by the same fence.
SIMPLE_FENCE_OPEN = re.compile(r"(`{3,}|~{3,})([A-Za-z0-9_+#-][A-Za-z0-9_+#.-]*)?[ \t]*")
ANY_FENCE_OPEN = re.compile(r"^[ >\t]*(?:`{3}|~{3})", re.MULTILINE)  # where superfences looks for fences
FENCE_MARK = re.compile(r"PREPFENCE\d+X")
# Both forms, as Python-Markdown puts back its own placeholders (alone in a paragraph, or anywhere)
FENCE_HTML = re.compile(r"<p>PREPFENCE(\d+)X</p>|PREPFENCE(\d+)X")


def _lift_fences(pieces: list[str], fences: list[int]) -> tuple[list[str], list[str]]:
    """Swap the fenced code blocks among `pieces` for placeholder lines, and highlight them here.

    superfences does the same inside Python-Markdown (a placeholder line, the highlighted HTML put
    back after conversion) but builds a pygments formatter and looks up the lexer for every block,
    most of the time of a field with code. The swap is made only when superfences would take every
    fence the same way; otherwise the pieces come back unchanged for Python-Markdown to do it all.
    """
    if not fences:
        return pieces, []
    lifted = list(pieces)
    for number, index in enumerate(fences):
        lifted[index] = f"PREPFENCE{number}X" + ("\n" if pieces[index].endswith("\n") else "")
    if not all(_is_simple_fence(pieces[index]) for index in fences) or not _placeholders_safe(
            "".join(pieces), "".join(lifted), len(fences)):
        return pieces, []
    from pygments.util import ClassNotFound, OptionError

    try:
        return lifted, [_highlight_fence(pieces[index]) for index in fences]
    except (ClassNotFound, OptionError):  # pygments' own errors: superfences leaves such a fence as text
        return pieces, []


def _is_simple_fence(block: str) -> bool:
    lines = block.removesuffix("\n").split("\n")
    opening = SIMPLE_FENCE_OPEN.fullmatch(lines[0])
    return (opening is not None and len(lines) > 1
            and re.fullmatch(re.escape(opening.group(1)) + r"[ \t]*", lines[-1]) is not None)


def _placeholders_safe(original: str, lifted: str, count: int) -> bool:
    """True when Python-Markdown would treat the lifted text exactly as it treats the original.

    Each placeholder must be a paragraph of its own (blank line or edge of the field on both sides):
    glued to an indented line it could fall into an indented code block, where superfences puts the
    fence's source back. No other line may look like a fence to superfences (indented, quoted or in
    a list). Tabs, carriage returns and Python-Markdown's own marker characters change its lines,
    and a field that already says PREPFENCE would be mistaken for a placeholder.
    """
    if any(char in original for char in "\t\r\x02\x03") or "PREPFENCE" in original:
        return False
    if ANY_FENCE_OPEN.search(lifted):
        return False
    lines = lifted.split("\n")
    marks = [i for i, line in enumerate(lines) if FENCE_MARK.fullmatch(line)]
    return len(marks) == count and all(
        (i == 0 or not lines[i - 1]) and (i == len(lines) - 1 or not lines[i + 1]) for i in marks)


def _highlight_fence(block: str) -> str:
    """pymdownx.highlight's HTML for a fence without options (stripped, as it strips it)."""
    from pygments import highlight

    lines = block.removesuffix("\n").split("\n")
    language = SIMPLE_FENCE_OPEN.fullmatch(lines[0]).group(2) or ""
    # Python-Markdown empties lines of spaces before superfences sees them
    code = "\n".join("" if not line.strip(" ") else line for line in lines[1:-1])
    return highlight(code, _lexer(language), _formatter()).strip()


@functools.cache
def _lexer(language: str) -> Lexer:
    """One lexer per language for the whole export (a pygments lexer can be reused for any number of
    texts); an unknown or missing language is plain text, as in pymdownx.highlight without guessing."""
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=True)
    except ClassNotFound:  # no lexer by that name (pymdownx.highlight also falls back to text)
        return get_lexer_by_name("text", stripnl=True)


@functools.cache
def _formatter() -> HtmlFormatter:
    """pymdownx.highlight's block formatter, as set up when no line numbers, lines or title are asked for."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(cssclass="highlight", wrapcode=True)


# Lines that Python-Markdown leaves as they are, but for `code` spans: no markup characters, no
# line that starts a block (list, heading, quote, numbered item), no hard line breaks. A code span
# here is one backtick each side with printable ASCII inside, no backslash, and no `<` or `&` that
# Python-Markdown's HTML scanner would read as a tag, comment or entity (it runs before code spans
# are found); its content is only trimmed and escaped.
PLAIN_CHAR = r"[A-Za-z0-9 ,.;:?!'\"()/%=+\-]"
EDGE_CHAR = r"[A-Za-z0-9,.;:?!'\"()/%=+\-]"  # no space at either end of a line
CODE_SPAN = r"`((?:[ -%'-;=-\[\]-_a-~]|&(?![A-Za-z#])|<(?![A-Za-z!/?]))+)`"
PLAIN_LINE = re.compile(rf"(?:{EDGE_CHAR}|{CODE_SPAN})(?:(?:{PLAIN_CHAR}|{CODE_SPAN})*(?:{EDGE_CHAR}|{CODE_SPAN}))?")
CODE_SPANS = re.compile(CODE_SPAN)
BLOCK_START = re.compile(r"^\s*(?:[-+*>#=]|\d+[.)]\s|$)|^\s{4}|\s{2}$")


def markdown_to_html(text: str) -> str:
    """Python-Markdown's HTML for `text`, skipping the converter for plain paragraphs.

    Building the document tree costs about 0.2 ms a field; most answers are plain sentences, maybe
    with `code`, whose HTML is known in advance (a test checks the shortcut against Python-Markdown).
    """
    paragraphs = _plain_paragraphs(text)
    if paragraphs is not None:
        return "\n".join(f"<p>{body}</p>" for body in paragraphs)
    return _markdown().reset().convert(text)


def _plain_paragraphs(text: str) -> list[str] | None:
    """The HTML inside each paragraph when `text` is plain paragraphs separated by blank lines, else None."""
    paragraphs: list[list[str]] = [[]]
    for line in text.strip("\n").split("\n"):
        if not line:
            if paragraphs[-1]:
                paragraphs.append([])
        elif "``" in line or not PLAIN_LINE.fullmatch(line) or BLOCK_START.search(line):
            return None  # two backticks in a row pair up differently
        else:
            paragraphs[-1].append(CODE_SPANS.sub(_code_html, line) if "`" in line else line)
    return ["\n".join(lines) for lines in paragraphs if lines] or None


def _code_html(match: re.Match[str]) -> str:
    return "<code>" + html.escape(match.group(1).strip(), quote=False) + "</code>"


def _rewrite_images(text: str, deck_file: Path, media: MediaSet) -> str:
    if "![" not in text and "<" not in text:
        return text  # neither pattern can match: skip two regex scans on most text
    def replace(match: re.Match[str]) -> str:
        name = media.name_for(match.group(1), deck_file)
        if name is None:
            return match.group(0)
        whole = match.group(0)
        start, end = match.span(1)
        offset = match.start(0)
        return whole[: start - offset] + name + whole[end - offset :]

    text = formats.IMAGE_MARKDOWN.sub(replace, text)
    return formats.IMAGE_HTML.sub(replace, text)


def sanitize(fragment: str) -> str:
    """Allow-list HTML cleaning: no scripts, event handlers or javascript: URLs reach Anki."""
    return _cleaner()(fragment)


@functools.cache
def _cleaner() -> Callable[[str], str]:
    """nh3's cleaner for our allow-list, built once: nh3.clean builds it anew on every call, which is
    most of its cost for a short field (nh3 before 0.3 has no reusable Cleaner)."""
    import nh3

    attributes = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag in ("span", "div", "code", "pre", "td", "th"):
        attributes.setdefault(tag, set()).add("class")
    attributes.setdefault("img", set()).update({"src", "alt", "title"})
    options = {"attributes": attributes, "url_schemes": {"http", "https"}, "link_rel": None}
    if hasattr(nh3, "Cleaner"):
        return nh3.Cleaner(**options).clean
    return functools.partial(nh3.clean, **options)


def _package_class():
    import genanki

    class Package(genanki.Package):
        """genanki's Package, streaming: each note is built just before it is written, and the deck and
        note-type JSON is written once.

        genanki itself re-reads and re-writes the collection's deck and model JSON for every deck
        (quadratic: 7 s of a 50k-card export with 1,000 decks) and holds every note in memory.
        """

        def __init__(self, groups: list, models: dict, build, media: MediaSet, staging: Path) -> None:
            super().__init__([deck for deck, _ in groups], media_files=[])
            self.groups, self.models, self.build, self.media, self.staging = groups, models, build, media, staging

        def write_to_db(self, cursor, timestamp: float, id_gen) -> None:
            from genanki.apkg_col import APKG_COL
            from genanki.apkg_schema import APKG_SCHEMA

            cursor.executescript(APKG_SCHEMA)
            cursor.executescript(APKG_COL)
            decks_json = json.loads(cursor.execute("SELECT decks FROM col").fetchone()[0])
            models_json = json.loads(cursor.execute("SELECT models FROM col").fetchone()[0])
            for deck, notes in self.groups:
                decks_json[str(deck.deck_id)] = deck.to_json()
                for kind in {note.kind for note in notes}:
                    model = self.models[kind]
                    models_json.setdefault(str(model.model_id), model.to_json(timestamp, deck.deck_id))
            cursor.execute("UPDATE col SET decks = ?, models = ?", (json.dumps(decks_json), json.dumps(models_json)))
            for deck, notes in self.groups:
                for note in notes:
                    self.build(note).write_to_db(cursor, timestamp, deck.deck_id, id_gen)
            for source, name in self.media.names.items():  # known once every note is built
                target = self.staging / name
                shutil.copyfile(source, target)
                self.media_files.append(str(target))

    return Package


def build_note(note: Note, models: dict, media: MediaSet, cache: HtmlFields | None = None):
    import genanki

    assert note.id is not None
    from prep.anki_import import PREP_GUID, source_comment

    tags = [tag.replace(" ", "_") for tag in note.tags]
    sources = [note.cloze, note.extra] if note.cloze else [note.q, note.a]
    fields = []
    for source in sources:
        rendered = (cache.render(source, note.path, media) if cache else to_html(source, note.path, media)) if source else ""
        # The Markdown rides along in an invisible comment, so `prep import` gives back the exact source
        # for every field not edited in Anki since.
        fields.append(rendered + source_comment(rendered, source) if source else "")
    return genanki.Note(model=models[note.kind], fields=fields, tags=tags, guid=PREP_GUID + note.id)


def refuse_to_replace(out: Path) -> None:
    """Refuse to write over a file that is not an Anki package (a deck file, notes, a zip of something
    else): a mistyped -o must not cost the user a file. A link is replaced, never written through."""
    if out.is_symlink() or not out.is_file() or out.stat().st_size == 0:
        return
    try:
        with zipfile.ZipFile(out) as archive:
            if any(name.startswith("collection.anki2") for name in archive.namelist()):
                return
    except (zipfile.BadZipFile, OSError):
        pass
    raise PrepError(f"{out} exists and is not an Anki package: not overwriting it (choose another -o, "
                    "or move the file away)")


def export(collection: decks.Decks, out: Path, when: datetime, *, deck: str | None = None,
           tag: str | None = None, progress=None, cache: Cache | None = None) -> ExportResult:
    """Write the notes in scope to `out`; `when` becomes the notes' modification time.

    `progress` is an optional (store, config) pair: the package then also carries scheduling and the
    review log, for Anki's "import with scheduling".
    """
    import genanki

    if out.name in ("", ".", ".."):
        raise PrepError(f"-o '{out}' names no file: give a file name such as prep.apkg")
    refuse_to_replace(out)
    notes = collection.notes_in_scope(deck, tag)
    if not notes:  # nothing to write: an earlier package at `out` stays as it was
        return ExportResult(out, 0, 0, 0, 0)
    models = _models()
    media = MediaSet(collection.root)
    groups: dict[str, tuple] = {}
    for note in notes:
        if note.deck not in groups:
            groups[note.deck] = (genanki.Deck(stable_id("prep", "deck", note.deck), note.deck), [])
        groups[note.deck][1].append(note)
    card_count = sum(len(decks.cards_of(note)) for note in notes)
    fields = HtmlFields(cache)
    fields.prefill(notes)
    with tempfile.TemporaryDirectory(prefix="prep-media-") as staging:
        package = _package_class()(list(groups.values()), models,
                                   lambda note: build_note(note, models, media, fields), media, Path(staging))
        out.parent.mkdir(parents=True, exist_ok=True)
        with files.replacing(out) as partial:  # never a half-written package under the real name
            package.write_to_file(str(partial), timestamp=when.timestamp())
            fields.save()
            if progress is not None:
                from prep.anki_import import PREP_GUID
                from prep.anki_progress import add_progress

                store, config = progress
                card_for = {}
                for note in notes:
                    for index, card in enumerate(decks.cards_of(note)):
                        ordinal = card.cloze_number - 1 if card.cloze_number else index
                        card_for[(PREP_GUID + note.id, ordinal)] = card.id
                add_progress(partial, store, card_for, when, config)
    return ExportResult(out, len(notes), card_count, len(media.names), len(groups))
