"""Anki export: notes → HTML (MathJax math, highlighted code, packed images) → an `.apkg` via genanki."""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from prep import decks, mathtext
from prep.model import Note

MODEL_VERSION = "v1"  # bump only with a migration plan: a changed model id stops Anki updating notes


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
        if decks.image_problem(reference, deck_file, self.root) is not None:
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


def to_html(source: str, deck_file: Path, media: MediaSet) -> str:
    """Markdown → sanitised HTML with `\\(..\\)`/`\\[..\\]` math for MathJax and packed image names."""
    pieces: list[str] = []
    maths: list[str] = []
    for segment in mathtext.split(source):
        if segment.kind in ("math", "display"):
            body = html.escape(segment.body, quote=False)
            maths.append(f"\\({body}\\)" if segment.kind == "math" else f"\\[{body}\\]")
            pieces.append(f"PREPMATH{len(maths) - 1}X")
        elif segment.kind == "text":
            pieces.append(_rewrite_images(segment.source, deck_file, media))
        else:
            pieces.append(segment.source)
    converter = _markdown()
    rendered = converter.reset().convert("".join(pieces))
    rendered = re.sub(r"PREPMATH(\d+)X", lambda m: maths[int(m.group(1))], rendered)
    return sanitize(rendered)


def _rewrite_images(text: str, deck_file: Path, media: MediaSet) -> str:
    def replace(match: re.Match[str]) -> str:
        name = media.name_for(match.group(1), deck_file)
        if name is None:
            return match.group(0)
        whole = match.group(0)
        start, end = match.span(1)
        offset = match.start(0)
        return whole[: start - offset] + name + whole[end - offset :]

    text = decks.IMAGE_MARKDOWN.sub(replace, text)
    return decks.IMAGE_HTML.sub(replace, text)


def sanitize(fragment: str) -> str:
    """Allow-list HTML cleaning: no scripts, event handlers or javascript: URLs reach Anki."""
    import nh3

    attributes = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag in ("span", "div", "code", "pre", "td", "th"):
        attributes.setdefault(tag, set()).add("class")
    attributes.setdefault("img", set()).update({"src", "alt", "title"})
    return nh3.clean(fragment, attributes=attributes, url_schemes={"http", "https"}, link_rel=None)


def build_note(note: Note, models: dict, media: MediaSet):
    import genanki

    assert note.id is not None
    from prep.anki_import import PREP_GUID, source_comment

    tags = [tag.replace(" ", "_") for tag in note.tags]
    sources = [note.cloze, note.extra] if note.cloze else [note.q, note.a]
    fields = []
    for source in sources:
        rendered = to_html(source, note.path, media) if source else ""
        # The Markdown rides along in an invisible comment, so `prep import` gives back the exact source
        # for every field not edited in Anki since.
        fields.append(rendered + source_comment(rendered, source) if source else "")
    return genanki.Note(model=models[note.kind], fields=fields, tags=tags, guid=PREP_GUID + note.id)


def export(collection: decks.Collection, out: Path, when: datetime, *, deck: str | None = None,
           tag: str | None = None, progress=None) -> ExportResult:
    """Write the notes in scope to `out`; `when` becomes the notes' modification time.

    `progress` is an optional (store, config) pair: the package then also carries scheduling and the
    review log, for Anki's "import with scheduling".
    """
    import genanki

    notes = decks.select(collection.notes, deck, tag)
    models = _models()
    media = MediaSet(collection.root)
    anki_decks: dict[str, genanki.Deck] = {}
    card_count = 0
    for note in notes:
        if note.deck not in anki_decks:
            anki_decks[note.deck] = genanki.Deck(stable_id("prep", "deck", note.deck), note.deck)
        anki_decks[note.deck].add_note(build_note(note, models, media))
        card_count += len(decks.cards_of(note))
    with tempfile.TemporaryDirectory(prefix="prep-media-") as staging:
        files = []
        for source, name in media.names.items():
            target = Path(staging) / name
            shutil.copyfile(source, target)
            files.append(str(target))
        package = genanki.Package(list(anki_decks.values()), media_files=files)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        package.write_to_file(str(partial), timestamp=when.timestamp())
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
        partial.replace(out)  # never leave a half-written package under the real name
    return ExportResult(out, len(notes), card_count, len(media.names), len(anki_decks))
