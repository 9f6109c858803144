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


NIGHT_SELECTORS = (".nightMode .highlight", ".night_mode .highlight")  # Anki's night-mode classes (card, body)


def _css() -> str:
    from pygments.formatters import HtmlFormatter

    # Night mode: a dark pygments style scoped under Anki's night-mode classes, after the light one so it wins
    night = HtmlFormatter(style="monokai").get_style_defs(list(NIGHT_SELECTORS))
    return CARD_CSS + HtmlFormatter(style="default").get_style_defs(".highlight") + "\n" + night


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
    # Anki cannot run tests: a coding card is a basic note (prompt; solution and tests on the back)
    return {"basic": basic, "reverse": reverse, "cloze": cloze_model, "code": basic}


class MediaSet:
    """Files referenced by notes, each packed once: images under a content-hash name; sounds and linked
    files under their own name (a `[sound:name]` shows it in Anki), a hash name only when two files share one."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.names: dict[Path, str] = {}
        self.taken: set[str] = set()

    def name_for(self, reference: str, deck_file: Path, what: str = "image", link: bool = False) -> str | None:
        """The packed name of the file `reference` names; `link`: a file only an `<a href>` names, which
        Anki's importer keeps only when its name starts with `_` (it drops media no field plays or shows)."""
        if formats.image_problem(reference, deck_file, self.root, what) is not None:
            return None  # `check` reports it; never pack a file from outside the decks folder
        source = (deck_file.parent / reference).resolve()
        if source not in self.names:  # (a file also played keeps its first name: Anki keeps it either way)
            name = ("_" if link and not source.name.startswith("_") else "") + source.name
            if what == "image" or name in self.taken or not ANKI_MEDIA_NAME.fullmatch(name):
                digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
                name = f"{'_' if link else ''}prep-{digest}{source.suffix.lower()}"
            self.names[source] = name
            self.taken.add(name)
        return self.names[source]


# a media name Anki takes as it is in `[sound:...]` and attributes (no quotes, brackets or path parts)
ANKI_MEDIA_NAME = re.compile(r"[^\[\]<>\"'&/\\:\x00-\x1f]+")


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
    with the same libraries (fields with images or other media are never kept: their HTML also depends on the files)."""

    def __init__(self, cache: Cache | None) -> None:
        self.cache = cache
        self.versions = _versions() if cache is not None else ""
        self.entries: dict[bytes, str] = {}
        self.fresh: dict[bytes, str] = {}  # rendered in this export, not yet in the cache

    def key(self, source: str) -> bytes:
        return hashlib.blake2b(f"{self.versions}\0{source}".encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def render(self, source: str, deck_file: Path, media: MediaSet) -> str:
        if self.cache is None or formats.may_name_media(source):
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
            for source in answer_sources(note):
                if source and not formats.may_name_media(source):
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
            text = segment.source
            if "[sound:" in text:  # put back after cleaning, exactly as Anki writes it (Markdown would mangle `_`)
                def sound(match: re.Match[str]) -> str:
                    name = media.name_for(match.group(1), deck_file, "sound")
                    if name is None:
                        return match.group(0)
                    maths.append(f"[sound:{html.escape(name, quote=False)}]")
                    return f"{mark}{len(maths) - 1}X"

                text = formats.SOUND.sub(sound, text)
            pieces.append(rewrite_images(text, deck_file, media))
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
CODE_SPANS = re.compile(CODE_SPAN)
# Checked with each code span replaced by one letter: a single character class repeats without the
# backtracking stack an alternation inside a repeat builds (which made a 2 MB line take seconds).
PLAIN_WITHOUT_SPANS = re.compile(rf"{EDGE_CHAR}(?:{PLAIN_CHAR}*{EDGE_CHAR})?")
BLOCK_START = re.compile(r"^\s*(?:[-+*>#=]|\d+[.)]\s|$)|^\s{4}|\s{2}$")


# A few unclosed tags or stray brackets cost Python-Markdown a rescan of the field each and are left to
# it (its output, quirks and all, as a test checks); beyond this many they are made text first.
RESCANS_KEPT = 16
BRACKETS_NESTED = 16  # deeper brackets cost a rescan each too: Python-Markdown matches each `[` anew
# A comment's end for any of the HTML parsers Python-Markdown runs on: `-- >` (3.10-3.12) and `--!>` (newer).
COMMENT_END = re.compile(r"--(?:\s*|!)>")
TAG_OR_CLOSED_COMMENT = re.compile(r"<!--.*?--(?:\s*|!)>|(<)(?=([A-Za-z])?[^<>]*(?:<|\Z))", re.S)
BRACKET = re.compile(r"\\.|[\[\]]", re.S)  # an escaped bracket is text to Python-Markdown


def markdown_to_html(text: str) -> str:
    """Python-Markdown's HTML for `text`, skipping the converter for plain paragraphs.

    Building the document tree costs about 0.2 ms a field; most answers are plain sentences, maybe
    with `code`, whose HTML is known in advance (a test checks the shortcut against Python-Markdown).
    """
    text, restore = _defuse(text)
    paragraphs = _plain_paragraphs(text)
    if paragraphs is not None:
        rendered = "\n".join(f"<p>{body}</p>" for body in paragraphs)
    else:
        rendered = _markdown().reset().convert(text)
    for mark, html_text in restore:
        rendered = rendered.replace(mark, html_text)
    return rendered


def _defuse(text: str) -> tuple[str, list[tuple[str, str]]]:
    """`text` with the characters Python-Markdown would rescan the rest of the field from, when there are
    many (unclosed tags: formats.UNCLOSED_TAG; unmatched or deeply nested brackets), each swapped for a
    placeholder; and the (placeholder, HTML) pairs to put back. A placeholder is one character from the
    private use area (tabs still expand to the same columns) and comes back as text, in a paragraph and
    in a code block alike."""
    where: dict[str, list[int]] = {}
    if "<" in text:
        tags = _unclosed_tags(text)
        if len(tags) > RESCANS_KEPT:
            where["&lt;"] = tags
    if "[" in text:
        opens, closes = _stray_brackets(text)
        if len(opens) + len(closes) > RESCANS_KEPT:
            where["["], where["]"] = opens, closes
    if not where:
        return text, []
    free = (chr(code) for code in range(0xE000, 0xF900) if chr(code) not in text)
    chars, restore = list(text), []
    for html_text, positions in where.items():
        mark = next(free, "")
        if not mark:
            return text, []
        for position in positions:
            chars[position] = mark
        restore.append((mark, html_text))
    return "".join(chars), restore


def _unclosed_tags(text: str) -> list[int]:
    """Positions of the unclosed tags (formats.UNCLOSED_TAG) and of the `<!--` no comment end follows (Python
    3.10's HTML parser retries each from there to the end). Up to the last comment end every `<!--` is
    closed, however many start before it: there a comment runs to the first end, tags inside it are text."""
    split = 0
    for split_match in COMMENT_END.finditer(text):
        split = split_match.end()
    head = [m.start(1) for m in TAG_OR_CLOSED_COMMENT.finditer(text, 0, split) if m.group(2)]
    return head + [m.start(1) for m in formats.UNCLOSED_TAG.finditer(text, split)
                   if m.group(2) or m.group(1) and text.startswith("<!--", m.start(1))]


def _stray_brackets(text: str) -> tuple[list[int], list[int]]:
    """Positions of each `[` no `]` closes, and of the brackets nested deeper than BRACKETS_NESTED."""
    stack: list[int] = []
    opens: list[int] = []
    closes: list[int] = []
    for match in BRACKET.finditer(text):
        if match.group() == "[":
            stack.append(match.start())
        elif match.group() == "]" and stack:
            start = stack.pop()
            if len(stack) >= BRACKETS_NESTED:
                opens.append(start)
                closes.append(match.start())
    return opens + stack, closes


def _plain_paragraphs(text: str) -> list[str] | None:
    """The HTML inside each paragraph when `text` is plain paragraphs separated by blank lines, else None."""
    paragraphs: list[list[str]] = [[]]
    for line in text.strip("\n").split("\n"):
        if not line:
            if paragraphs[-1]:
                paragraphs.append([])
        elif "``" in line or not _plain_line(line) or BLOCK_START.search(line):
            return None  # two backticks in a row pair up differently
        else:
            paragraphs[-1].append(CODE_SPANS.sub(_code_html, line) if "`" in line else line)
    return ["\n".join(lines) for lines in paragraphs if lines] or None


def _plain_line(line: str) -> bool:
    """No markup characters outside code spans, and no space at either end."""
    return PLAIN_WITHOUT_SPANS.fullmatch(CODE_SPANS.sub("x", line) if "`" in line else line) is not None


def _code_html(match: re.Match[str]) -> str:
    return "<code>" + html.escape(match.group(1).strip(), quote=False) + "</code>"


def rewrite_images(text: str, deck_file: Path, media: MediaSet) -> str:
    """Markdown text with each image, linked or `<audio>`/`<video>` file reference naming its packed file."""
    if "![" not in text and "<" not in text and "](" not in text:
        return text  # no pattern can match: skip the regex scans on most text

    def replacing(what: str):
        def replace(match: re.Match[str]) -> str:
            link = what == "linked" and not match.group(0)[1:].lower().startswith(("audio", "video", "source"))
            name = media.name_for(match.group(1), deck_file, what, link)
            if name is None:
                return match.group(0)
            whole = match.group(0)
            start, end = match.span(1)
            offset = match.start(0)
            return whole[: start - offset] + name + whole[end - offset :]
        return replace

    for what, pattern in formats.MEDIA_PATTERNS:
        if what != "sound":  # (sounds are lifted out by to_html)
            text = pattern.sub(replacing(what), text)
    return text


def sanitize(fragment: str) -> str:
    """Allow-list HTML cleaning: no scripts, event handlers or javascript: URLs reach Anki."""
    return _cleaner()(fragment)


MEDIA_TAGS = ("audio", "video", "source")


@functools.cache
def _cleaner() -> Callable[[str], str]:
    """nh3's cleaner for our allow-list, built once: nh3.clean builds it anew on every call, which is
    most of its cost for a short field (nh3 before 0.3 has no reusable Cleaner)."""
    import nh3

    attributes = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag in ("span", "div", "code", "pre", "td", "th"):
        attributes.setdefault(tag, set()).add("class")
    attributes.setdefault("img", set()).update({"src", "alt", "title"})
    for tag in MEDIA_TAGS:  # sound and video a card plays in Anki, from the package's own media
        attributes.setdefault(tag, set()).update({"src", "type", "controls"})
    options = {"tags": set(nh3.ALLOWED_TAGS) | set(MEDIA_TAGS), "attributes": attributes,
               "url_schemes": {"http", "https"}, "link_rel": None}
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

        def __init__(self, groups: list, model_for: Callable, build, media: MediaSet, staging: Path,
                     mods: Callable[[list], dict[str, int]] | None = None) -> None:
            super().__init__([deck for deck, _ in groups], media_files=[])
            self.groups, self.model_for, self.build, self.media, self.staging = groups, model_for, build, media, staging
            self.mods = mods

        def write_to_db(self, cursor, timestamp: float, id_gen) -> None:
            from genanki.apkg_col import APKG_COL
            from genanki.apkg_schema import APKG_SCHEMA

            cursor.executescript(APKG_SCHEMA)
            cursor.executescript(APKG_COL)
            decks_json = json.loads(cursor.execute("SELECT decks FROM col").fetchone()[0])
            models_json = json.loads(cursor.execute("SELECT models FROM col").fetchone()[0])
            for deck, notes in self.groups:
                decks_json[str(deck.deck_id)] = deck.to_json()
                for model in {id(m): m for m in map(self.model_for, notes)}.values():
                    models_json.setdefault(str(model.model_id), model.to_json(timestamp, deck.deck_id))
            cursor.execute("UPDATE col SET decks = ?, models = ?", (json.dumps(decks_json), json.dumps(models_json)))
            for deck, notes in self.groups:
                built = [self.build(note) for note in notes]
                mods = self.mods(built) if self.mods is not None else {}
                for anki_note in built:  # each note's mod: when its content last changed (Anki updates if newer)
                    anki_note.write_to_db(cursor, mods.get(anki_note.guid, timestamp), deck.deck_id, id_gen)
            for source, name in self.media.names.items():  # known once every note is built
                target = self.staging / name
                shutil.copyfile(source, target)
                self.media_files.append(str(target))

    return Package


def answer_sources(note: Note) -> list[str]:
    """A note's Anki fields as Markdown; its key points end the answer (or the extra) as a list."""
    answer = code_back(note) if note.code else note.a
    if not note.points:
        return [note.cloze, note.extra] if note.cloze else [note.q, answer]
    points = "**Key points**\n\n" + "\n".join(f"- {point}" for point in note.points)
    if note.cloze:
        return [note.cloze, f"{note.extra}\n\n{points}" if note.extra else points]
    return [note.q, f"{answer}\n\n{points}"]


def build_note(note: Note, models: dict, media: MediaSet, cache: HtmlFields | None = None,
               original: tuple[dict, object] | None = None):
    """The genanki note for `note`: in prep's note type, or given `original` (from `original_types`)
    in the note type it was imported from, each Anki field filled from its part of the card."""
    import genanki

    assert note.id is not None
    from prep.anki_import import code_comment, source_comment

    tags = [tag.replace(" ", "_") for tag in note.tags]
    sources = answer_sources(note)
    model = models[note.kind]
    if original is not None:
        model, sources = original[1], _original_fields(note, original[0])
    fields = []
    for source in sources:
        rendered = (cache.render(source, note.path, media) if cache else to_html(source, note.path, media)) if source else ""
        # The Markdown rides along in an invisible comment, so `prep import` gives back the exact source
        # for every field not edited in Anki since.
        fields.append(rendered + source_comment(rendered, source) if source else "")
    if note.code is not None and original is None:  # the whole card rides along: stub, tests, hints, time
        fields[1] += code_comment(note.code)
    return genanki.Note(model=model, fields=fields, tags=tags, guid=guid_of(note))


def _original_fields(note: Note, info: dict) -> list[str]:
    """The Markdown of each field of the note's original Anki note type, in the type's field order."""
    from prep.anki_import import split_appended

    values = dict.fromkeys(info["model"]["fields"], "")
    main_name, rest = (info["extra"], note.extra) if note.cloze else (info["a"], note.a)
    values[info["text"] if note.cloze else info["q"]] = note.cloze or note.q
    main, appended = split_appended(rest, info["others"])
    if main_name:
        values[main_name] = main
    values.update(appended)
    return list(values.values())


def original_types(infos: dict[str, str], notes: list[Note]) -> dict[str, tuple[dict, object]]:
    """For notes imported from Anki (Store.anki_types), GUID → (how its fields map, its original note
    type as a genanki model): exported in that type, with its id and fields, Anki updates the very note
    instead of finding a conflicting one. A note whose kind changed in prep since keeps prep's type."""
    import genanki

    models: dict[int, object] = {}
    found = {}
    for note in notes:
        if not note.guid or note.guid not in infos:
            continue
        info = json.loads(infos[note.guid])
        model = info.get("model") or {}
        if info.get("kind") != ("cloze" if note.cloze else "basic") or (
                not note.cloze and (info.get("reverse") != note.reverse or not info.get("a"))):
            continue
        if model.get("id") not in models:
            candidate = genanki.Model(model["id"], model["name"], fields=[{"name": n} for n in model["fields"]],
                                      templates=model["templates"], css=model["css"],
                                      model_type=genanki.Model.CLOZE if model["type"] == 1 else genanki.Model.FRONT_BACK)
            try:
                candidate.to_json(0, 0)  # genanki works out each template's required fields: may fail on odd ones
            except Exception:
                candidate = None
            models[model["id"]] = candidate
        if models[model["id"]] is not None:
            found[note.guid] = (info, models[model["id"]])
    return found


def guid_of(note: Note) -> str:
    """The note's Anki GUID: the one it came from Anki with, else prep/<id>."""
    from prep.anki_import import PREP_GUID

    return note.guid or PREP_GUID + (note.id or "")


def anki_cards(notes: list[Note]) -> dict[tuple[str, int], str]:
    """(note GUID, Anki card ordinal) → prep card id, for every card of `notes` as exported."""
    found = {}
    for note in notes:
        for index, card in enumerate(decks.cards_of(note)):
            found[(guid_of(note), card.cloze_number - 1 if card.cloze_number else index)] = card.id
    return found


def content_digest(anki_note) -> bytes:
    """What Anki sees of a note (note type, fields, tags): its modification time changes only with this."""
    parts = [str(anki_note.model.model_id), *anki_note.fields, " ".join(sorted(anki_note.tags))]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).digest()


def code_back(note: Note) -> str:
    """A coding card's back in Anki: the reference solution, then the tests it passes."""
    assert note.code is not None
    from prep.codecheck import fenced

    return f"{note.a}\n\n**Tests**\n\n{fenced(note.code.tests)}"


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
           tag: str | None = None, progress=None, cache: Cache | None = None, store=None) -> ExportResult:
    """Write the notes in scope to `out`.

    `progress` is an optional (store, config) pair: the package then also carries scheduling and the
    review log, for Anki's "import with scheduling". With a `store` (or progress), each note's
    modification time is the time its content last changed (Store.note_mods); without, it is `when`.
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
        mod_store = store if store is not None else progress[0] if progress is not None else None
        mods = None
        originals: dict[str, tuple[dict, object]] = {}
        if mod_store is not None:
            originals = original_types(mod_store.anki_types(), [n for n in notes if n.guid])

            def mods(built: list) -> dict[str, int]:
                return mod_store.note_mods({n.guid: content_digest(n) for n in built}, when)

        def model_for(note: Note):
            original = originals.get(note.guid) if note.guid else None
            return original[1] if original else models[note.kind]

        package = _package_class()(list(groups.values()), model_for,
                                   lambda note: build_note(note, models, media, fields, originals.get(note.guid)),
                                   media, Path(staging), mods)
        out.parent.mkdir(parents=True, exist_ok=True)
        with files.replacing(out) as partial:  # never a half-written package under the real name
            package.write_to_file(str(partial), timestamp=when.timestamp())
            fields.save()
            if progress is not None:
                from prep.anki_progress import add_progress

                store, config = progress
                add_progress(partial, store, anki_cards(notes), when, config)
    return ExportResult(out, len(notes), card_count, len(media.names), len(groups))
