"""`prep import` and `prep sync-anki` against packages made by the real `anki` library."""

from __future__ import annotations

import os
import re
import sqlite3
import time
import zipfile
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from prep import decks, formats, paths
from prep.cli import cli
from tests.conftest import daytime_zone, query
from tests.test_export import import_log

pytest.importorskip("anki.collection")
T0 = int(datetime(2026, 2, 1, 9, 0, tzinfo=timezone.utc).timestamp() * 1000)
DAY = 86_400_000


def build_collection(path: Path, image: bytes = b"\x89PNG\r\n\x1a\nfake") -> dict[str, int]:
    """A collection with Basic, reversed and cloze notes, media, nested decks and known reviews."""
    from anki.collection import Collection

    col = Collection(str(path))
    top = col.decks.id("Top::Sub::Leaf")
    other = col.decks.id("Other")
    basic = col.new_note(col.models.by_name("Basic"))
    basic["Front"] = "What is \\(x^2\\) when \\(x &lt; 0\\)? <img src=\"pic.png\">"
    basic["Back"] = "<b>Positive</b>, and costs $5.<br><pre><code class=\"language-python\">print(1)\n</code></pre>"
    basic.tags = ["math", "c++"]
    col.add_note(basic, top)
    reverse = col.new_note(col.models.by_name("Basic (and reversed card)"))
    reverse["Front"] = "PMF"
    reverse["Back"] = "probability mass function"
    col.add_note(reverse, top)
    cloze = col.new_note(col.models.by_name("Cloze"))
    cloze["Text"] = "{{c1::Softmax}} maps logits to {{c2::probabilities}} via {{c3::\\(e^{z_i}/\\sum_j e^{z_j}\\)}}."
    cloze["Back Extra"] = "Subtract the max first."
    col.add_note(cloze, other)
    empty = col.new_note(col.models.by_name("Basic"))
    empty["Front"] = "No back here"
    col.add_note(empty, other)
    col.media.write_data("pic.png", image)
    card = col.get_note(basic.id).cards()[0].id
    for n, ease in enumerate((3, 3, 1, 3)):
        col.db.execute("INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) "
                       "VALUES (?, ?, -1, ?, 1, 0, 2500, 4000, 1)", T0 + n * 3 * DAY, card, ease)
    ids = {"basic": basic.id, "reverse": reverse.id, "cloze": cloze.id}
    col.close()
    return ids


def export_package(collection: Path, out: Path, colpkg: bool = False) -> Path:
    from anki.collection import Collection, ExportAnkiPackageOptions

    col = Collection(str(collection))
    try:
        if colpkg:
            col.export_collection_package(str(out), include_media=True, legacy=False)
        else:
            col.export_anki_package(out_path=str(out), limit=None, options=ExportAnkiPackageOptions(
                with_scheduling=True, with_media=True, with_deck_configs=False, legacy=False))
    finally:
        col.close()
    return out


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("colpkg", [False, True], ids=["apkg", "colpkg"])
def test_import_writes_valid_decks_and_history(tmp_path: Path, isolated: Path, colpkg: bool) -> None:
    build_collection(tmp_path / "src.anki2")
    package = export_package(tmp_path / "src.anki2", tmp_path / ("x.colpkg" if colpkg else "x.apkg"), colpkg)
    into = tmp_path / "decks" / "anki"
    result = run("import", str(package), "--into", str(into))
    assert result.exit_code == 0, result.output
    assert "Imported 4 notes" in result.output and "4 reviews added on 1 cards" in result.output
    assert "empty back; imported as a card with no answer" in result.output
    collection = decks.load(tmp_path / "decks")
    assert collection.problems == []
    by_deck = {}
    for note in collection.notes:
        by_deck.setdefault(note.deck, []).append(note)
    assert set(by_deck) == {"Top::Sub::Leaf", "Other"}
    assert (into / "top" / "sub" / "leaf.yaml").is_file() and (into / "other.yaml").is_file()
    first, second = by_deck["Top::Sub::Leaf"]
    assert first.q == 'What is $x^2$ when $x < 0$? ![](media/pic.png)'
    assert first.a.startswith("**Positive**, and costs \\$5.") and "```python\nprint(1)\n```" in first.a
    assert sorted(first.tags) == ["c++", "math"]
    assert (into / "top" / "sub" / "media" / "pic.png").read_bytes().startswith(b"\x89PNG")
    assert second.kind == "reverse" and second.q == "PMF"
    cloze, front_only = by_deck["Other"]
    assert (front_only.q, front_only.a, front_only.kind) == ("No back here", "", "basic")
    assert "\n  a: ''\n" in (into / "other.yaml").read_text(encoding="utf-8")  # explicitly empty, not forgotten
    assert cloze.cloze == "{{c1::Softmax}} maps logits to {{c2::probabilities}} via {{c3::$e^{z_i}/\\sum_j e^{z_j}$}}."
    assert cloze.extra == "Subtract the max first." and cloze.id.startswith("anki-")
    with closing(sqlite3.connect(paths.database_path())) as db:
        rows = db.execute("SELECT card_id, rating, reviewed_at FROM reviews ORDER BY reviewed_at").fetchall()
        assert rows == [(first.id, ease, T0 + n * 3 * DAY) for n, ease in enumerate((3, 3, 1, 3))]
        assert db.execute("SELECT state FROM cards WHERE id = ?", (first.id,)).fetchone() is not None

        again = run("import", str(package), "--into", str(into))
        assert "0 files written, 2 unchanged, 0 media files copied, 0 reviews added" in again.output
        assert db.execute("SELECT COUNT(*) FROM reviews").fetchone() == (4,)


def review_count() -> tuple[int]:
    with closing(sqlite3.connect(paths.database_path())) as db:
        return db.execute("SELECT COUNT(*) FROM reviews").fetchone()


def bad_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("name, make, message", [
    ("notzip.apkg", lambda p: (p.write_bytes(b"hello"), p)[1], "not an Anki package (not a zip file)"),
    ("empty.apkg", lambda p: bad_zip(p, {"media": b"{}"}), "not an Anki package (no collection inside)"),
    ("escape.apkg", lambda p: bad_zip(p, {"collection.anki2": b"x", "../../evil": b"x"}),
     "refusing entry '../../evil': it would escape the target folder"),
    ("absolute.apkg", lambda p: bad_zip(p, {"collection.anki2": b"x", "/etc/passwd": b"x"}),
     "refusing entry '/etc/passwd': it would escape the target folder"),
    ("bomb.apkg", lambda p: bad_zip(p, {"collection.anki2": b"\0" * (50 << 20)}), "refusing a likely zip bomb"),
    ("garbage.apkg", lambda p: bad_zip(p, {"collection.anki2": b"not sqlite" * 100}), "Anki could not read the package"),
])
def test_bad_archives_are_refused_and_nothing_is_written(tmp_path: Path, isolated: Path, name, make, message) -> None:
    package = make(tmp_path / name)
    into = tmp_path / "decks" / "x"
    result = CliRunner().invoke(cli, ["import", str(package), "--into", str(into)])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not into.exists()
    assert not paths.database_path().exists() or review_count() == (0,)


def understated_zip(path: Path, name: str, data: bytes, claimed: int) -> Path:
    """A package whose entry `name` says (in both of its headers) it unpacks to `claimed` bytes."""
    bad_zip(path, {"collection.anki2": b"x", name: data})
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        entry = archive.getinfo(name)
    central = raw.rindex(b"PK\x01\x02", 0, raw.index(b"PK\x05\x06"))  # the last entry's central record
    for offset in (entry.header_offset + 22, central + 24):  # uncompressed size in the local, central header
        assert int.from_bytes(raw[offset:offset + 4], "little") == len(data)
        raw[offset:offset + 4] = claimed.to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    return path


def zstd_zip(path: Path, data: bytes) -> Path:
    import zstandard

    return bad_zip(path, {"collection.anki21b": zstandard.ZstdCompressor().compress(b"x"),
                          "0": zstandard.ZstdCompressor().compress(data)})


@pytest.mark.parametrize("make, message", [
    (lambda p: understated_zip(p, "0", b"\0" * (10 << 20), 1000),
     "entry '0' holds more than the 1000 bytes its header gives"),
    (lambda p: zstd_zip(p, b"\0" * (8 << 20)), "entry '0' unpacks to more than 1048576 bytes: refusing a likely zip bomb"),
    (lambda p: bad_zip(p, {"collection.anki2": b"x", **{str(n): bytes(n) + b"\0" * 1_000_000 for n in range(40)}}),
     "contents unpack to more than 16777216 bytes: refusing a likely zip bomb"),
])
def test_bombs_are_caught_on_the_bytes_really_unpacked(tmp_path: Path, isolated: Path, make, message) -> None:
    package = make(tmp_path / "bomb.apkg")
    into = tmp_path / "decks" / "x"
    result = CliRunner().invoke(cli, ["import", str(package), "--into", str(into)])
    assert (result.exit_code, result.output) == (1, f"Error: {package}: {message}\n")  # refused before Anki ran
    assert not into.exists()
    assert query(paths.database_path(), "SELECT COUNT(*) FROM reviews") == [(0,)]


def test_sync_anki_merges_reviews_on_prep_cards_once(decks_dir: Path, tmp_path: Path, isolated: Path) -> None:
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    out = tmp_path / "prep.apkg"
    assert run("export", "-o", str(out)).exit_code == 0
    col = Collection(str(tmp_path / "phone.anki2"))
    col.import_anki_package(ImportAnkiPackageRequest(package_path=str(out),
                                                     options=ImportAnkiPackageOptions(with_scheduling=False)))
    guid_to_note = {col.get_note(n).guid: n for n in col.find_notes("")}
    card = col.get_note(guid_to_note["prep/prob-bayes-rule"]).cards()[0].id
    for n, ease in enumerate((3, 4)):
        col.db.execute("INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) "
                       "VALUES (?, ?, -1, ?, 1, 0, 2500, 3000, 0)", T0 + n * DAY, card, ease)
    col.close()
    first = run("sync-anki", str(tmp_path / "phone.anki2"))
    assert first.output == "Merged 2 reviews on 1 card from phone.anki2.\n"
    assert run("sync-anki", str(tmp_path / "phone.anki2")).output == "Merged 0 reviews on 0 cards from phone.anki2.\n"
    with closing(sqlite3.connect(paths.database_path())) as db:
        assert db.execute("SELECT card_id, rating, reviewed_at FROM reviews ORDER BY reviewed_at").fetchall() == [
            ("prob-bayes-rule", 3, T0), ("prob-bayes-rule", 4, T0 + DAY)]
    doctor = run("doctor", "--no-repair")
    assert doctor.exit_code == 0, doctor.output


def test_round_trip_of_the_shipped_decks_gives_back_every_card(tmp_path: Path, isolated: Path) -> None:
    """prep → export → Anki import → Anki export → prep import: the same cards, card by card."""
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    shipped = decks.load(paths.bundled_decks())
    exported = tmp_path / "prep.apkg"
    assert run("export", "--decks", str(paths.bundled_decks()), "-o", str(exported)).exit_code == 0
    col = Collection(str(tmp_path / "anki.anki2"))
    col.import_anki_package(ImportAnkiPackageRequest(package_path=str(exported),
                                                     options=ImportAnkiPackageOptions(with_scheduling=True)))
    col.close()
    again = export_package(tmp_path / "anki.anki2", tmp_path / "from-anki.apkg")
    into = tmp_path / "back" / "decks"
    result = run("import", str(again), "--into", str(into))
    assert result.exit_code == 0, result.output
    back = decks.load(into)
    assert back.problems == []
    theirs = {note.id: note for note in back.notes}
    assert len(theirs) == len(shipped.notes)
    def moved(text: str) -> str:  # import writes images only under the deck's media/ folder
        return text.replace("](img/", "](media/img/")

    for ours in shipped.notes:
        mine = theirs[ours.id]
        assert (mine.deck, mine.q, mine.a, mine.cloze, mine.extra, mine.reverse, sorted(mine.tags), mine.code, mine.points) == (
            ours.deck, moved(ours.q), moved(ours.a), ours.cloze, ours.extra, ours.reverse, sorted(ours.tags), ours.code, ours.points), ours.id
    assert sum(note.code is not None for note in back.notes) >= 40  # coding cards come back whole
    images = [n for n in back.notes if formats.image_paths(n.q + n.a)]
    assert images and all((n.path.parent / ref).is_file() for n in images for ref in formats.image_paths(n.q + n.a))


def test_export_with_progress_carries_due_dates_and_history_into_anki(decks_dir: Path, tmp_path: Path,
                                                                      isolated: Path) -> None:
    from datetime import timedelta

    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    from prep import clock, scheduler
    from prep.config import Config
    from prep.store import Store

    now = datetime.now(timezone.utc).replace(microsecond=0)
    sched = scheduler.make(Config(enable_fuzzing=False))
    plan = {"prob-bayes-rule": [(-30, 3), (-20, 3), (-5, 3)], "prob-variance/c2": [(-12, 3), (-9, 1), (-8, 3)],
            "ml-overfitting": [(-3, 4)], "prob-pmf/rev": [(0, 1)]}  # (days from now, rating)
    with Store(paths.database_path()) as store:
        for card_id, reviews in plan.items():
            for offset, rating in reviews:
                when = now + timedelta(days=offset, minutes=-10)
                store.apply(card_id, rating, when, 5000,
                            lambda state, at, c=card_id, r=rating: scheduler.review(sched, state, c, r, at))
        states = {card_id: store.state(card_id) for card_id in plan}
    out = tmp_path / "progress.apkg"
    result = run("export", "--with-progress", "-o", str(out), "--set", "enable_fuzzing=false")
    assert result.exit_code == 0, result.output
    col = Collection(str(tmp_path / "fresh.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(out),
                                                         options=ImportAnkiPackageOptions(with_scheduling=True)))
        by_guid = {col.get_note(n).guid: col.get_note(n) for n in col.find_notes("")}
        for card_id, state in states.items():
            note_id, _, variant = card_id.partition("/")
            ordinal = 0 if not variant else 1 if variant == "rev" else int(variant[1:]) - 1
            card = next(c for c in by_guid["prep/" + note_id].cards() if c.ord == ordinal)
            reviews = col.db.scalar("SELECT COUNT(*) FROM revlog WHERE cid = ?", card.id)
            assert reviews == len(plan[card_id]), card_id
            if int(state.state) == 2:
                expected = clock.elapsed_days(now, state.due, 4)
                assert card.queue == 2 and card.due - col.sched.today == expected, card_id
                assert abs(card.memory_state.stability - state.stability) < 0.01, card_id
            else:
                assert card.queue in (1, 3) and abs(card.due - int(state.due.timestamp())) <= 1, card_id
    finally:
        col.close()
    # and the same package brought back into prep adds nothing new to the log
    before = review_count()
    assert run("sync-anki", str(out)).output.startswith("Merged 0 reviews")
    assert review_count() == before


def add_vocab_model(col) -> None:
    """A note type with three fields whose template shows the first and the third."""
    model = col.models.new("Vocab+")
    for name in ("Word", "hint", "Meaning"):
        col.models.add_field(model, col.models.new_field(name))
    template = col.models.new_template("Card 1")
    template["qfmt"], template["afmt"] = "{{Word}}", "{{FrontSide}}<hr id=answer>{{Meaning}}"
    col.models.add_template(model, template)
    col.models.add(model)


def test_other_note_types_are_mapped_field_by_field_with_a_warning(tmp_path: Path, isolated: Path) -> None:
    from anki.collection import Collection

    col = Collection(str(tmp_path / "vocab.anki2"))
    add_vocab_model(col)
    note = col.new_note(col.models.by_name("Vocab+"))
    note["Word"], note["hint"], note["Meaning"] = "gradient", "calculus", "vector of partial derivatives"
    col.add_note(note, col.decks.id("Vocab"))
    col.close()
    package = export_package(tmp_path / "vocab.anki2", tmp_path / "vocab.apkg")
    result = run("import", str(package), "--into", str(tmp_path / "decks"))
    assert "note type has more fields than prep's; hint added to the answer" in result.output
    imported = decks.load(tmp_path / "decks").notes
    # question and answer follow the card template, not field positions
    assert [(n.q, n.a) for n in imported] == [("gradient", "vector of partial derivatives\n\n**hint:** calculus")]


# -- lossless HTML → Markdown ----------------------------------------------------------------
def visible(fragment: str) -> str:
    """What a reader sees of a field: its lines of text, (non-breaking) spaces as they show."""
    import html as html_module
    import re

    text = re.sub(r"<!--.*?-->", "", fragment, flags=re.S)
    text = re.sub(r"(?i)<br\s*/?>|</(?:div|p|li|pre|h\d)>", "\n", text)
    text = html_module.unescape(re.sub(r"<[^>]+>", "", text))
    lines = [re.sub(r"[ \t\r]+", " ", line).strip(" ") for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


ANKI_HTML = [  # (field HTML as Anki's editor writes it, the Markdown prep should keep)
    ("<b>theorem</b>&nbsp;say", "**theorem**\xa0say"),
    ("Posterior = likelihood × prior", "Posterior = likelihood × prior"),
    ("Regression - Where it fails", "Regression - Where it fails"),
    ("<div>line one</div><div>line two</div>", "line one<br>\nline two"),
    ("first<br>second<br>third", "first<br>\nsecond<br>\nthird"),
    ("<div>a</div><div><br></div><div>b</div>", "a<br>\n<br>\nb"),
    ("<div>&nbsp;&nbsp;for i in x:</div><div>&nbsp;&nbsp;&nbsp;&nbsp;total += i</div>",
     "&nbsp;&nbsp;for i in x:<br>\n&nbsp;&nbsp;&nbsp;&nbsp;total += i"),
    ("<div># not a heading</div><div>- not a list</div><div>1. not numbered</div><div>&gt; not a quote</div>",
     "\\# not a heading<br>\n\\- not a list<br>\n1\\. not numbered<br>\n\\> not a quote"),
    ("std::vector&lt;int&gt; v;", "std::vector&lt;int> v;"),
    ("<b>not </b>always", "**not** always"),
    ("snake_case and 2*3", "snake_case and 2\\*3"),
    ("ends with&nbsp;", "ends with&nbsp;"),
    ("see <code>$HOME</code>", "see `$HOME`"),  # (a bare $ becomes \$, prep's dollar sign: see test above)
]


@pytest.mark.parametrize("field_html, markdown", ANKI_HTML)
def test_anki_html_becomes_markdown_that_renders_the_same_text(tmp_path: Path, field_html: str,
                                                               markdown: str) -> None:
    from prep import anki_import, export

    media = anki_import.MediaCopier(tmp_path)
    media.begin(Path("media"))
    converted = anki_import.convert_html(field_html, media, [], "note")
    assert converted == markdown
    rendered = export.to_html(converted, tmp_path / "deck.yaml", export.MediaSet(tmp_path))
    assert visible(rendered) == visible(field_html)


def add_note(col, model: str, deck: str, tags: list[str] | None = None, **fields: str):
    note = col.new_note(col.models.by_name(model))
    for name, value in fields.items():
        note[name.replace("_", " ")] = value
    note.tags = tags or []
    col.add_note(note, col.decks.id(deck))
    return note


def rich_collection(path: Path) -> None:
    """Several note types (one with a third field), divs, non-breaking spaces and an Image Occlusion note."""
    from anki.collection import Collection

    col = Collection(str(path))
    add_vocab_model(col)
    add_note(col, "Basic", "Stats", ["bayes"], Front="Bayes: <b>theorem</b>&nbsp;say?",
             Back="<div>Posterior = likelihood</div><div>&nbsp; × prior</div>")
    add_note(col, "Basic (and reversed card)", "Stats", Front="PMF", Back="probability mass function")
    add_note(col, "Cloze", "Stats::Cloze", Text="{{c1::Softmax}} maps logits", Back_Extra="<i>max</i> first")
    add_note(col, "Vocab+", "Vocab", Word="gradient", hint="calculus", Meaning="partial derivatives")
    col.media.write_data("occluded.png", b"\x89PNG\r\n\x1a\nocclusion")
    add_note(col, "Image Occlusion", "Stats", Occlusion="{{c1::image-occlusion:rect:left=.1:top=.1:width=.2:height=.2}}",
             Image='<img src="occluded.png">')
    col.close()


def test_image_occlusion_is_skipped_without_its_media(tmp_path: Path, isolated: Path) -> None:
    rich_collection(tmp_path / "rich.anki2")
    package = export_package(tmp_path / "rich.anki2", tmp_path / "rich.apkg")
    into = tmp_path / "decks" / "rich"
    result = run("import", str(package), "--into", str(into))
    assert result.exit_code == 0, result.output
    assert "Image Occlusion notes cannot be drilled in prep; skipped" in result.output
    assert "Imported 4 notes" in result.output
    assert not [p for p in into.rglob("*") if p.suffix == ".png"]
    loaded = decks.load(into)
    assert loaded.problems == [] and len(loaded.notes) == 4
    bayes = next(n for n in loaded.notes if n.q.startswith("Bayes"))
    assert (bayes.q, bayes.a) == ("Bayes: **theorem**\xa0say?", "Posterior = likelihood<br>\n&nbsp; × prior")


def anki_notes(path: Path) -> dict[str, tuple[str, list[str]]]:
    from anki.collection import Collection

    col = Collection(str(path))
    try:
        return {col.get_note(n).guid: (col.get_note(n).note_type()["name"], list(col.get_note(n).fields))
                for n in col.find_notes("")}
    finally:
        col.close()


def test_notes_from_anki_keep_their_guid_and_go_back_without_duplicates(tmp_path: Path, isolated: Path) -> None:
    """Anki → .apkg → prep import → prep export → the same collection: no new note, not one."""
    source = tmp_path / "mine.anki2"
    rich_collection(source)
    before = anki_notes(source)
    package = export_package(source, tmp_path / "mine.apkg")
    into = tmp_path / "decks" / "mine"
    assert run("import", str(package), "--into", str(into)).exit_code == 0
    loaded = decks.load(into)
    assert loaded.problems == []
    assert {n.guid for n in loaded.notes} <= set(before) and all(n.guid for n in loaded.notes)
    assert "guid:" in (into / "stats.yaml").read_text(encoding="utf-8")
    out = tmp_path / "back.apkg"
    assert run("export", "--decks", str(into), "-o", str(out)).exit_code == 0
    log = import_log(source, out)
    assert len(log.new) == 0 and len(log.updated) == 0 and len(log.conflicting) == 0  # Anki's own time kept
    assert len(anki_notes(source)) == len(before)
    vocab = into / "vocab.yaml"  # an edit in prep reaches the very note, in its own note type and fields
    vocab.write_text(vocab.read_text(encoding="utf-8").replace("calculus", "multivariable calculus"),
                     encoding="utf-8")
    assert run("export", "--decks", str(into), "-o", str(out)).exit_code == 0
    log = import_log(source, out)
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (0, 1, 0)
    after = anki_notes(source)
    assert len(after) == len(before)
    (model, fields), = [value for value in after.values() if value[0] == "Vocab+"]
    assert [visible(f) for f in fields] == ["gradient", "multivariable calculus", "partial derivatives"]


@pytest.mark.parametrize("kind", ["legacy", "modern", "colpkg"])
def test_every_package_format_gives_the_same_deck_files(tmp_path: Path, isolated: Path, kind: str) -> None:
    from anki.collection import Collection, ExportAnkiPackageOptions

    source = tmp_path / "src.anki2"
    build_collection(source)
    rich_collection_extra(source)
    col = Collection(str(source))
    packages = {"legacy": tmp_path / "legacy.apkg", "modern": tmp_path / "modern.apkg",
                "colpkg": tmp_path / "all.colpkg"}
    try:
        for name in ("legacy", "modern"):
            col.export_anki_package(out_path=str(packages[name]), limit=None, options=ExportAnkiPackageOptions(
                with_scheduling=True, with_media=True, with_deck_configs=False, legacy=name == "legacy"))
    finally:
        col.close()
    export_package(source, packages["colpkg"], colpkg=True)
    baseline = tmp_path / "baseline"
    assert run("import", str(packages["modern"]), "--into", str(baseline)).exit_code == 0
    into = tmp_path / kind
    result = run("import", str(packages[kind]), "--into", str(into))
    assert result.exit_code == 0, result.output

    def contents(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert contents(into) == contents(baseline)


def rich_collection_extra(path: Path) -> None:
    from anki.collection import Collection

    col = Collection(str(path))
    add_note(col, "Basic", "Other", Front="<div>Regression - Where</div><div>&nbsp;it fails</div>", Back="x&nbsp;y")
    col.close()


def test_history_is_merged_only_for_notes_the_import_wrote(tmp_path: Path, isolated: Path) -> None:
    build_collection(tmp_path / "src.anki2")
    package = export_package(tmp_path / "src.anki2", tmp_path / "x.apkg")
    into = tmp_path / "decks" / "anki"
    mine = into / "top" / "sub" / "leaf.yaml"  # the reviewed note's deck file, already the user's own
    mine.parent.mkdir(parents=True)
    mine.write_text("cards:\n  - id: mine\n    q: my question\n    a: my answer\n", encoding="utf-8")
    result = run("import", str(package), "--into", str(into))
    assert "exists with other content; left unchanged" in result.output
    assert "0 reviews added" in result.output
    assert mine.read_text(encoding="utf-8").startswith("cards:\n  - id: mine")
    assert query(paths.database_path(), "SELECT COUNT(*) FROM reviews") == [(0,)]


# -- a safe import ---------------------------------------------------------------------------
def hostile_collection(path: Path) -> None:
    """A forged prep source comment naming a deck file, and media files named like decks."""
    from anki.collection import Collection

    from prep.anki_import import source_comment

    col = Collection(str(path))
    forged = '<img src="payload.png">'
    add_note(col, "Basic", "Stats", Front="Forged " + forged + source_comment("Forged " + forged, "Forged ![](ml/svm.yaml)"),
             Back="answer")
    escaping = '<img src="payload.png">'
    add_note(col, "Basic", "Stats", Front="Up " + escaping + source_comment("Up " + escaping, "Up ![](../../x.yaml)"),
             Back="answer two")
    add_note(col, "Basic", "Stats", Front='Named <img src="notes.yaml">', Back='and <img src="cards.md">')
    col.media.write_data("payload.png", b"cards:\n  - id: evil\n    q: pwned\n    a: yes\n")
    col.media.write_data("notes.yaml", b"cards:\n  - id: evil2\n    q: pwned\n    a: yes\n")
    col.media.write_data("cards.md", b"Q: pwned\nA: yes\n")
    col.close()


def test_hostile_media_never_touches_deck_files_or_becomes_a_deck(tmp_path: Path, isolated: Path) -> None:
    hostile_collection(tmp_path / "evil.anki2")
    package = export_package(tmp_path / "evil.anki2", tmp_path / "evil.apkg")
    into = tmp_path / "decks" / "shared"
    users = into / "ml" / "svm.yaml"
    users.parent.mkdir(parents=True)
    users.write_text("cards:\n  - id: svm\n    q: What is an SVM?\n    a: A max-margin classifier.\n", encoding="utf-8")
    before = users.read_bytes()
    result = run("import", str(package), "--into", str(into))
    assert result.exit_code == 0, result.output
    assert users.read_bytes() == before
    written = sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file())
    assert written == [".prep-import.json", "media/cards.md.media", "media/ml/svm.yaml.media",
                       "media/notes.yaml.media", "media/payload.png", "ml/svm.yaml", "stats.yaml"]
    loaded = decks.load(tmp_path / "decks")
    assert loaded.problems == []
    assert sorted(n.id for n in loaded.notes if n.deck == "Stats") == sorted(
        n.id for n in loaded.notes if n.path == into / "stats.yaml")
    assert "svm" in {n.id for n in loaded.notes} and not {"evil", "evil2"} & {n.id for n in loaded.notes}
    forged = next(n for n in loaded.notes if n.q.startswith("Forged"))
    assert forged.q == "Forged ![](media/ml/svm.yaml.media)"
    up = next(n for n in loaded.notes if n.q.startswith("Up"))
    assert up.q == "Up ![](media/payload.png)"  # the escaping path refused: the HTML converted instead
    assert decks.find_deck_files(into) == [into / "ml" / "svm.yaml", into / "stats.yaml"]


def test_reimport_updates_only_files_prep_wrote_and_the_user_left_alone(tmp_path: Path, isolated: Path) -> None:
    from anki.collection import Collection

    source = tmp_path / "src.anki2"
    build_collection(source)
    package = export_package(source, tmp_path / "x.apkg")
    into = tmp_path / "decks" / "anki"
    assert run("import", str(package), "--into", str(into)).exit_code == 0
    image = into / "top" / "sub" / "media" / "pic.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nthe user's own edit")
    col = Collection(str(source))
    try:
        note = col.get_note(col.find_notes('"deck:Other"')[0])
        note["Text"] = note["Text"].replace("Softmax", "Softargmax")
        col.update_note(note)
    finally:
        col.close()
    changed = export_package(source, tmp_path / "y.apkg")
    result = run("import", str(changed), "--into", str(into))
    assert result.exit_code == 0, result.output
    assert "pic.png exists with other content; left unchanged" in result.output
    assert image.read_bytes().endswith(b"the user's own edit")
    assert "Softargmax" in (into / "other.yaml").read_text(encoding="utf-8")  # prep's own file, updated
    (into / "other.yaml").write_text("cards: []\n", encoding="utf-8")  # now the user's
    export_package(source, tmp_path / "z.apkg")
    again = run("import", str(tmp_path / "z.apkg"), "--into", str(into))
    assert "other.yaml exists with other content; left unchanged" in again.output
    assert (into / "other.yaml").read_text(encoding="utf-8") == "cards: []\n"
    assert not [p for p in into.parent.iterdir() if p.name.startswith(".prep-import-")]  # staging removed


def test_decks_differing_only_in_punctuation_get_their_own_files(tmp_path: Path, isolated: Path) -> None:
    from anki.collection import Collection

    col = Collection(str(tmp_path / "langs.anki2"))
    for deck in ("C++", "C", "C#"):
        add_note(col, "Basic", deck, Front=f"What is {deck}?", Back=f"A language called {deck}")
    col.close()
    package = export_package(tmp_path / "langs.anki2", tmp_path / "langs.apkg")
    into = tmp_path / "decks" / "langs"
    assert run("import", str(package), "--into", str(into)).exit_code == 0
    loaded = decks.load(into)
    assert sorted(n.deck for n in loaded.notes) == ["C", "C#", "C++"]
    assert len({n.path for n in loaded.notes}) == 3 and (into / "c.yaml").is_file()


def test_sync_anki_reads_an_open_collection_and_only_cards_in_the_decks(decks_dir: Path, tmp_path: Path,
                                                                       isolated: Path) -> None:
    import time

    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
    from anki.scheduler.v3 import CardAnswer

    out = tmp_path / "prep.apkg"
    assert run("export", "-o", str(out)).exit_code == 0
    phone = tmp_path / "phone.anki2"
    col = Collection(str(phone))  # left open, as Anki keeps it: recent changes sit in the -wal file
    try:
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(out),
                                                         options=ImportAnkiPackageOptions(with_scheduling=False)))
        stray = add_note(col, "Basic", "Default", Front="not in the decks", Back="x")
        stray.guid = "prep/no-such-card"
        col.update_note(stray)
        by_guid = {col.get_note(n).guid: col.get_note(n) for n in col.find_notes("")}
        for guid in ("prep/prob-bayes-rule", "prep/no-such-card"):
            card = by_guid[guid].cards()[0].id
            states = col._backend.get_scheduling_states(card)
            col.sched.answer_card(CardAnswer(card_id=card, current_state=states.current, new_state=states.good,
                                             rating=CardAnswer.GOOD, answered_at_millis=int(time.time() * 1000),
                                             milliseconds_taken=3000))
        assert Path(str(phone) + "-wal").is_file()
        result = run("sync-anki", str(phone))
    finally:
        col.close()
    assert result.output == "Merged 1 review on 1 card from phone.anki2.\n"
    rows = query(paths.database_path(), "SELECT DISTINCT card_id FROM reviews")
    assert rows == [("prob-bayes-rule",)]


# -- one memory state --------------------------------------------------------------------------
class AnkiReviews:
    """Answers cards in real Anki and keeps, per card, the review days Anki's rules allow for the
    interval it chose last (as absolute Anki day numbers), checking Anki's own choice lies in them."""

    def __init__(self, col, fuzz: bool = True) -> None:
        from fsrs_rs_python import DEFAULT_PARAMETERS, FSRS

        self.col, self.engine, self.fuzz = col, FSRS(DEFAULT_PARAMETERS), fuzz
        self.allowed: dict[int, tuple[int, int]] = {}

    def answer(self, card_id: int, rating: int) -> None:
        import time

        from anki.scheduler.v3 import CardAnswer

        from prep import scheduler

        states = self.col._backend.get_scheduling_states(card_id)
        buttons = (states.again, states.hard, states.good, states.easy)
        current = states.current.normal.WhichOneof("kind")
        previous = states.current.normal.review.scheduled_days if current == "review" else None
        retention = self.col.decks.config_dict_for_deck_id(self.col.get_card(card_id).did)["desiredRetention"]
        intervals = {n: self.engine.next_interval(_stability(b), retention, 3) for n, b in enumerate(buttons, 1)}
        new = buttons[rating - 1]
        answer = (CardAnswer.AGAIN, CardAnswer.HARD, CardAnswer.GOOD, CardAnswer.EASY)[rating - 1]
        self.col.sched.answer_card(CardAnswer(card_id=card_id, current_state=states.current, new_state=new,
                                              rating=answer, answered_at_millis=int(time.time() * 1000),
                                              milliseconds_taken=3000))
        self.allowed.pop(card_id, None)
        if new.normal.WhichOneof("kind") == "review":
            factors = (0.0, 0.99999) if self.fuzz else (None, None)
            low, high = (scheduler.anki_interval(intervals, rating, previous, 36500, f) for f in factors)
            chosen = new.normal.review.scheduled_days
            assert low <= chosen <= high, (card_id, rating, previous, intervals, chosen, (low, high))
            due = self.col.get_card(card_id).due
            self.allowed[card_id] = (due - chosen + low, due - chosen + high)

    def wait(self, card_id: int, days: int) -> None:
        """Let `days` pass after the card falls due (a review card) or after its last review."""
        card = self.col.get_card(card_id)
        if card.queue == 2:
            days += max(0, card.due - self.col.sched.today)
        self.age(card_id, days)

    def age(self, card_id: int, days: int) -> None:
        age_in_anki(self.col, card_id, days)
        if card_id in self.allowed:
            low, high = self.allowed[card_id]
            self.allowed[card_id] = (low - days, high - days)


def _stability(button) -> float:
    kind = button.normal.WhichOneof("kind")
    inner = getattr(button.normal, kind)
    return (inner.memory_state if kind in ("review", "learning") else inner.review.memory_state).stability


def age_in_anki(col, card_id: int, days: int) -> None:
    """Move a card's whole history `days` into the past (Anki schedules with the real clock only);
    0 days: two minutes, so reviews in a row are not taken for one review logged twice."""
    import json

    seconds = days * 86_400 or 120
    col.db.execute("UPDATE revlog SET id = id - ? WHERE cid = ?", seconds * 1000, card_id)
    due, queue, data = col.db.first("SELECT due, queue, data FROM cards WHERE id = ?", card_id)
    memory = json.loads(data) if data else {}
    if "lrt" in memory:
        memory["lrt"] -= seconds
    due -= days if queue in (2, 3) else seconds  # review and day-learning cards are due on a day number
    col.db.execute("UPDATE cards SET due = ?, data = ? WHERE id = ?", due, json.dumps(memory), card_id)


PREP_CARD = {("prep/prob-pmf", 1): "prob-pmf/rev", ("prep/prob-variance", 0): "prob-variance/c1",
             ("prep/prob-variance", 1): "prob-variance/c2"}  # (GUID, ordinal) → prep card id; else the GUID's
ANKI_PLAN = {  # answered in Anki first: (days waited after the card fell due or was last reviewed, rating)
    ("prep/prob-bayes-rule", 0): [(0, 3), (0, 3), (0, 3), (2, 3), (0, 1), (0, 3), (1, 3)],  # a lapse, relearnt that day
    ("prep/ml-overfitting", 0): [(0, 4), (0, 3), (3, 2), (-3, 3), (-2, 2)],  # then early: 3 and 2 days before due
    ("prep/prob-variance", 1): [(0, 1), (0, 3), (0, 3), (0, 1), (0, 3)],  # Again on a new card, Good minutes later
    ("prep/prob-pmf", 1): [(0, 3)],  # left in a learning step
    ("prep/ml-sigmoid-code", 0): [(0, 3), (0, 3), (0, 4), (5, 3), (-1, 3)],  # the last a day early
    ("prep/ml-curve", 0): [(0, 1), (0, 4)],  # Easy minutes after Again: a day past Good's interval
}
BACK = 400  # days the Anki reviews are moved into the past, to leave room for prep's and Anki's later ones
PREP_PLAN = {  # then in prep: days after the first Anki review day moved back → [(minutes into that day, card, rating)]
    20: [(0, "prob-bayes-rule", 3), (1, "ml-overfitting", 1), (11, "ml-overfitting", 3), (2, "prob-pmf/rev", 3),
         (3, "prob-pmf", 1), (5, "prob-pmf", 4)],  # a lapse relearnt, a new card's Again then Easy, in prep
    100: [(0, "prob-bayes-rule", 3), (1, "ml-sigmoid-code", 3), (2, "prob-variance/c2", 2), (3, "prob-pmf", 3),
          (4, "ml-curve", 3)],
}
LAST_PLAN = {  # and in Anki again, now (all are due): ratings in a row
    ("prep/prob-bayes-rule", 0): [3], ("prep/ml-overfitting", 0): [1, 3], ("prep/prob-pmf", 1): [4],
    ("prep/prob-pmf", 0): [2], ("prep/ml-sigmoid-code", 0): [3], ("prep/prob-variance", 1): [3],
    ("prep/prob-variance", 0): [1, 4], ("prep/ml-curve", 0): [2],  # new in both: Again then Easy in Anki
}


def anki_cards_of(col) -> dict[tuple[str, int], object]:
    cards = {}
    for note_id in col.find_notes(""):
        note = col.get_note(note_id)
        for card in note.cards():
            cards[(note.guid, card.ord)] = card
    return cards


def assert_same_state(state, anki_card, allowed: tuple[int, int] | None, today: int, where) -> None:
    """prep's state against Anki's card: stability within 5 %, difficulty within 0.5, and a review
    card due on a day Anki's rules allow for the interval Anki chose (in learning: within its fuzz of
    the step, at most 25 % of it and 5 minutes)."""
    from prep import clock

    memory = anki_card.memory_state
    assert abs(state.stability - memory.stability) <= 0.05 * memory.stability, (where, state, memory)
    assert abs(state.difficulty - memory.difficulty) <= 0.5, (where, state, memory)
    if anki_card.queue == 2:
        assert int(state.state) == 2 and allowed is not None, where
        due = clock.elapsed_days(clock.now(), state.due, 4)
        assert allowed[0] - today <= due <= allowed[1] - today, (where, due, anki_card.due - today, allowed)
    elif anki_card.queue == 3:  # a learning step past the day boundary: Anki keeps only its day
        assert int(state.state) in (1, 3), where
        assert clock.elapsed_days(clock.now(), state.due, 4) == anki_card.due - today, (where, anki_card.due, state.due)
    else:
        assert anki_card.queue == 1 and int(state.state) in (1, 3), where
        assert -1 < anki_card.due - state.due.timestamp() <= 300, (where, anki_card.due, state.due)  # Anki: whole s


def import_with_scheduling(path: Path, package: Path):
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    col = Collection(str(path))
    col.set_config("fsrs", True)
    col.import_anki_package(ImportAnkiPackageRequest(package_path=str(package),
                                                     options=ImportAnkiPackageOptions(with_scheduling=True)))
    return col


NO_FUZZ = "ANKI_TEST_MODE"  # read once per process by Anki: its fuzz off (and its clock 2 h back from 02:00 to 04:00)
OWN_ZONE = "PREP_TEST_ZONE"  # the local zone of a process of its own: Anki reads the zone once per process


@pytest.mark.parametrize("fuzz", [True, False], ids=["fuzz", "no-fuzz"])
def test_reviews_in_anki_then_prep_then_anki_keep_one_memory_state(decks_dir: Path, tmp_path: Path,
                                                                   isolated: Path, fuzz: bool,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Reviews in Anki (learning steps, same-day relearning, late reviews) → sync-anki → reviews in prep
    → export --with-progress → Anki → more reviews in Anki → sync-anki: at each step every card's
    stability, difficulty and due agree with Anki's own FSRS for the same log. With fuzz, prep's due
    is on a day Anki's rules allow; without (Anki's test mode, prep's enable_fuzzing=false), the very day."""
    import os
    import subprocess
    import sys
    from datetime import timedelta

    if OWN_ZONE not in os.environ or fuzz == (NO_FUZZ in os.environ):
        pytest.skip("runs in a process of its own (see the test below)")
    monkeypatch.setenv("TZ", os.environ[OWN_ZONE])
    time.tzset()

    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    from prep import clock
    from prep.config import Config
    from prep.review import Session
    from prep.store import Store

    fuzzing = ("--set", f"enable_fuzzing={str(fuzz).lower()}")
    out = tmp_path / "prep.apkg"
    assert run("export", "-o", str(out)).exit_code == 0
    phone = tmp_path / "phone.anki2"
    col = Collection(str(phone))
    try:
        col.set_config("fsrs", True)
        col.load_balancer_enabled = fuzz  # without fuzz Anki would still move a due to a lighter day
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(out),
                                                         options=ImportAnkiPackageOptions(with_scheduling=False)))
        anki = AnkiReviews(col, fuzz)
        cards = anki_cards_of(col)
        for key, plan in ANKI_PLAN.items():
            for wait, rating in plan:
                anki.wait(cards[key].id, wait)
                anki.answer(cards[key].id, rating)
            anki.age(cards[key].id, BACK)
        first_day = clock.review_date(clock.now() - timedelta(days=BACK + 12), 4)  # before the first Anki review
        theirs = {key: col.get_card(cards[key].id) for key in ANKI_PLAN}
        allowed = {key: anki.allowed.get(cards[key].id) for key in ANKI_PLAN}
        today = col.sched.today
    finally:
        col.close()
    result = run("sync-anki", str(phone), *fuzzing)
    assert result.output.startswith(f"Merged {sum(map(len, ANKI_PLAN.values()))} reviews on {len(ANKI_PLAN)} cards")
    with Store(paths.database_path()) as store:  # 1. after reviews in Anki
        for key, anki_card in theirs.items():
            assert_same_state(store.state(PREP_CARD.get(key, key[0][5:])), anki_card, allowed[key], today, key)

        config = Config(enable_fuzzing=fuzz)  # 2. reviews in prep, through the drill's session: preview, then rate
        by_id = {card.id: card for card in decks.load(decks_dir).cards()}
        for day, reviews in PREP_PLAN.items():
            for minutes, card_id, rating in reviews:
                moment = clock.start_of(first_day + timedelta(days=day), 4) + timedelta(hours=6, minutes=minutes)
                session = Session(store, list(by_id), by_id.get, config, lambda m=moment: m, queue=[card_id])
                card = session.next_card()
                assert card is not None and card.id == card_id
                shown = session.preview(card)[rating]
                after = session.rate(card, rating)
                assert after.due - moment == shown, card_id  # the interval shown is the one stored
        ours = {key: store.state(PREP_CARD.get(key, key[0][5:])) for key in LAST_PLAN}
    progress = tmp_path / "progress.apkg"
    assert run("export", "--with-progress", "-o", str(progress), *fuzzing).exit_code == 0
    tablet = tmp_path / "tablet.anki2"
    col = import_with_scheduling(tablet, progress)
    try:
        col.load_balancer_enabled = fuzz
        cards = anki_cards_of(col)
        for key, state in ours.items():  # Anki replaying the whole log itself gives prep's state
            if state is None:
                continue
            replayed = col._backend.compute_memory_state(cards[key].id)
            assert abs(state.stability - replayed.state.stability) <= 0.05 * replayed.state.stability, key
            assert abs(state.difficulty - replayed.state.difficulty) <= 0.5, key
            if int(state.state) == 2:  # and the package brought prep's due day across
                assert cards[key].due - col.sched.today == clock.elapsed_days(clock.now(), state.due, 4), key
        anki = AnkiReviews(col, fuzz)  # 3. more reviews in Anki, now
        for key, ratings in LAST_PLAN.items():
            for n, rating in enumerate(ratings):
                if n:
                    time.sleep(1.01)  # a second apart: reviews within one are taken as one logged twice
                anki.answer(cards[key].id, rating)
        theirs = {key: col.get_card(cards[key].id) for key in LAST_PLAN}
        allowed = {key: anki.allowed.get(cards[key].id) for key in LAST_PLAN}
        for key, card in theirs.items():  # Anki's state after these equals Anki's replay of the whole log
            replayed = col._backend.compute_memory_state(card.id)
            assert abs(card.memory_state.stability - replayed.state.stability) <= 0.05 * replayed.state.stability, key
            assert abs(card.memory_state.difficulty - replayed.state.difficulty) <= 0.5, key
        today = col.sched.today
    finally:
        col.close()
    result = run("sync-anki", str(tablet), *fuzzing)
    assert result.output.startswith(f"Merged {sum(map(len, LAST_PLAN.values()))} reviews on {len(LAST_PLAN)} cards")
    with Store(paths.database_path()) as store:  # 4. back in prep
        for key, anki_card in theirs.items():
            assert_same_state(store.state(PREP_CARD.get(key, key[0][5:])), anki_card, allowed[key], today, key)
    doctor = run("doctor", "--no-repair", *fuzzing)
    assert doctor.exit_code == 0 and "replay" not in doctor.output, doctor.output


@pytest.mark.parametrize("fuzz", [True, False], ids=["fuzz", "no-fuzz"])
def test_the_interleaved_case_runs_in_a_process_of_its_own(tmp_path: Path, fuzz: bool) -> None:
    """The test above runs in a process of its own, for two reasons. Anki reads the local zone once per
    process, and the test needs a zone where local time is about noon: same-day reviews are spread by
    moving earlier ones back minutes after Anki answered them, so no day may roll over in that span, or
    the moved log would tell a story Anki's live answers did not see. And Anki turns its fuzz off only for
    a whole process (ANKI_TEST_MODE), whose clock shift (02:00-04:00) is then not due either."""
    import os
    import subprocess
    import sys

    if OWN_ZONE in os.environ:
        pytest.skip("already in it")
    env = {**os.environ, OWN_ZONE: daytime_zone()}
    env.pop(NO_FUZZ, None)
    if not fuzz:
        env[NO_FUZZ] = "1"
    name = f"test_reviews_in_anki_then_prep_then_anki_keep_one_memory_state[{'fuzz' if fuzz else 'no-fuzz'}]"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::{name}"],
                            env=env, capture_output=True, text=True, timeout=600, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("field_html, markdown", [
    ("a \\( b \\[x\\]", "a \\\\( b $$x$$"),  # an opener without its closer stays text; later math still found
    ("<span>" * 3000 + "deep", "deep"),  # nesting past the converter's recursion: the text is kept
    ("1 < 2 and <img without end", "1 < 2 and &lt;img without end"),
])
def test_hostile_markup_still_converts(tmp_path: Path, field_html: str, markdown: str) -> None:
    from prep import anki_import

    media = anki_import.MediaCopier(tmp_path)
    media.begin(Path("media"))
    assert anki_import.convert_html(field_html, media, [], "note") == markdown


def test_notes_from_anki_come_back_to_anki_with_the_same_text(tmp_path: Path, isolated: Path) -> None:
    """Anki → prep import → prep export → a fresh Anki: every note back under its GUID, every field
    showing the same text (HTML compared as seen, not as Markdown strings)."""
    source = tmp_path / "mine.anki2"
    rich_collection(source)
    rich_collection_extra(source)
    package = export_package(source, tmp_path / "mine.apkg")
    into = tmp_path / "decks" / "mine"
    assert run("import", str(package), "--into", str(into)).exit_code == 0
    out = tmp_path / "back.apkg"
    assert run("export", "--decks", str(into), "-o", str(out)).exit_code == 0
    assert len(import_log(tmp_path / "fresh.anki2", out).new) == 5
    theirs = anki_notes(source)
    ours = anki_notes(tmp_path / "fresh.anki2")
    assert set(ours) == {guid for guid, (model, _) in theirs.items() if model != "Image Occlusion"}
    for guid, (model, fields) in ours.items():  # in their own note type, field by field (Vocab+: three)
        assert model.startswith(theirs[guid][0])  # a fresh collection's stock "Basic" makes it "Basic+"
        assert [visible(f) for f in fields] == [visible(f) for f in theirs[guid][1]], (model, fields)


def test_a_note_with_a_field_over_the_size_limit_is_skipped_with_a_warning(tmp_path: Path, isolated: Path) -> None:
    from anki.collection import Collection

    col = Collection(str(tmp_path / "big.anki2"))
    for front, back in (("Small?", "Yes."), ("Big?", "x" * 100_001)):
        note = col.new_note(col.models.by_name("Basic"))
        note["Front"], note["Back"] = front, back
        col.add_note(note, col.decks.id("Sizes"))
    col.close()
    package = export_package(tmp_path / "big.anki2", tmp_path / "big.apkg")
    result = run("import", str(package), "--into", str(tmp_path / "decks"))
    assert result.exit_code == 0, result.output
    assert "over the limit of 100,000 bytes a field may hold; skipped" in result.output
    assert [n.q for n in decks.load(tmp_path / "decks").notes] == ["Small?"]


def test_html_nested_thousands_deep_is_imported_as_text_with_a_warning(tmp_path: Path) -> None:
    from prep import anki_import

    warnings: list[str] = []
    deep = "<div>" * 1500 + "deep &amp; <b>bold</b>" + "</div>" * 1500  # Anki's div lines: no recursion left
    text = anki_import.html_to_markdown(deep, anki_import.MediaCopier(tmp_path), warnings, "note n1")
    assert text == "deep & **bold**"
    spans = "<span>" * 3000 + "deeper" + "</span>" * 3000  # nesting the converter recurses on: text kept
    assert anki_import.html_to_markdown(spans, anki_import.MediaCopier(tmp_path), warnings, "note n2") == "deeper"
    assert anki_import.html_to_markdown("<div><b>fine</b></div>", anki_import.MediaCopier(tmp_path), warnings,
                                        "note n3") == "**fine**"


def test_reviews_at_impossible_times_are_left_out_not_a_traceback(tmp_path: Path) -> None:
    from anki.collection import Collection

    from prep import anki_import

    col = Collection(str(tmp_path / "collection.anki2"))
    note = col.new_note(col.models.by_name("Basic"))
    note["Front"], note["Back"] = "f", "b"
    col.add_note(note, col.decks.id("Y"))
    card = col.get_note(note.id).cards()[0].id
    year_zero, year_10000 = -62_135_596_800_001, 253_402_300_800_005  # datetime raises on both
    for review_id in (year_zero, 0, T0, year_10000):
        col.db.execute("INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) "
                       "VALUES (?, ?, -1, 3, 1, 0, 2500, 4000, 1)", review_id, card)
    col.close()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    package = anki_import.read_collection_file(tmp_path / "collection.anki2", scratch)
    assert package.revlog == {card: [(T0, 3, 4000)]} and package.odd_times == 3


def media_collection(path: Path) -> None:
    """Notes as published decks have them: empty backs, sound, a linked PDF and an <audio> tag with
    their files, a sound whose file is missing, a note type with a third field; and two notes Anki
    itself shows only an error for (an empty front, a cloze without a deletion)."""
    from anki.collection import Collection

    col = Collection(str(path))
    add_vocab_model(col)
    add_note(col, "Basic", "Lang", Front="Say <b>bonjour</b> aloud")  # empty back
    add_note(col, "Basic", "Lang", Front="Recite the alphabet", Back="&nbsp;")  # a back only a space fills
    add_note(col, "Basic", "Lang", Front="Hear it: [sound:bon_jour.mp3]", Back="hello [sound:hello world.ogg]")
    add_note(col, "Basic", "Lang", Front="Which word?", Back="[sound:gone.mp3] (its file is missing)")
    add_note(col, "Basic", "Lang", Front='Read <a href="notes_1.pdf">the notes</a>',
             Back='<audio controls src="clip.ogg"></audio> listen')
    add_note(col, "Vocab+", "Lang", Word="chat [sound:chat.mp3]", hint="", Meaning="cat")
    add_note(col, "Basic", "Lang", Front="", Back="a back without a front")
    add_note(col, "Cloze", "Lang", Text="no deletion here", Back_Extra="x")
    for name in ("bon_jour.mp3", "hello world.ogg", "notes_1.pdf", "clip.ogg", "chat.mp3"):
        col.media.write_data(name, f"bytes of {name}".encode())
    col.close()


def test_empty_backs_sound_and_linked_media_come_back_to_anki(tmp_path: Path, isolated: Path) -> None:
    """Anki → prep import → prep check → prep export → a fresh Anki: every note Anki can show comes back
    under its GUID, every field equal as seen, `[sound:...]` exactly, and each media file in Anki."""
    from anki.collection import Collection

    source = tmp_path / "lang.anki2"
    media_collection(source)
    package = export_package(source, tmp_path / "lang.apkg")
    into = tmp_path / "decks" / "lang"
    result = run("import", str(package), "--into", str(into))
    assert result.exit_code == 0, result.output
    assert result.output.count("empty back; imported as a card with no answer") == 1  # (not the &nbsp; one)
    # Anki packs the files fields name as images, sounds, <audio>/<video>, not what a link names
    assert "linked file 'notes_1.pdf' is not in the package; left out" in result.output
    assert "sound 'gone.mp3' is not in the package; left out" in result.output
    assert "empty front (Anki shows only an error for it); skipped" in result.output
    assert "no cloze deletion (Anki shows only an error for it); skipped" in result.output
    assert "Imported 6 notes" in result.output
    assert run("check", "--decks", str(into)).exit_code == 0
    loaded = {n.q: n for n in decks.load(into).notes}
    assert loaded["Hear it: [sound:media/bon_jour.mp3]"].a == "hello [sound:media/hello world.ogg]"
    assert loaded["Which word?"].a == "\\[sound:gone.mp3] (its file is missing)"
    assert loaded["Read the notes"].a == '<audio controls src="media/clip.ogg"></audio> listen'
    assert loaded["Recite the alphabet"].a == "&nbsp;"
    assert sorted(p.name for p in (into / "media").iterdir()) == ["bon_jour.mp3", "chat.mp3", "clip.ogg",
                                                                  "hello world.ogg"]
    # the link written in prep, with its file, goes to Anki with the file
    (into / "media" / "notes_1.pdf").write_bytes(b"%PDF-1.4 notes")
    deck = into / "lang.yaml"
    deck.write_text(deck.read_text(encoding="utf-8").replace("q: Read the notes", "q: Read [the notes](media/notes_1.pdf)"),
                    encoding="utf-8")
    assert run("check", "--decks", str(into)).exit_code == 0

    out = tmp_path / "back.apkg"
    assert run("export", "--decks", str(into), "-o", str(out)).exit_code == 0
    fresh = tmp_path / "fresh.anki2"
    assert len(import_log(fresh, out).new) == 6
    theirs, ours = anki_notes(source), anki_notes(fresh)
    shown = {guid for guid, (model, fields) in theirs.items() if fields[0] and "no deletion" not in fields[0]}
    assert set(ours) == shown  # 6 of the 8: all but the two Anki shows only an error for
    fields = [(f, theirs[guid][1][i]) for guid, (model, values) in ours.items() for i, f in enumerate(values)]
    assert len(fields) == 13 and [visible(f) for f, _ in fields] == [visible(f) for _, f in fields]
    sounds = sorted(s for f, _ in fields for s in re.findall(r"\[sound:[^\]]+\]", f))
    assert sounds == ["[sound:bon_jour.mp3]", "[sound:chat.mp3]", "[sound:gone.mp3]", "[sound:hello world.ogg]"]
    col = Collection(str(fresh))
    try:
        in_anki = set(os.listdir(col.media.dir()))
        read = next(values for model, values in ours.values() if "the notes" in values[0])
    finally:
        col.close()
    assert {"bon_jour.mp3", "hello world.ogg", "chat.mp3", "_notes_1.pdf", "clip.ogg"} <= in_anki
    assert '<a href="_notes_1.pdf">' in read[0] and '<audio controls="" src="clip.ogg">' in read[1]
    # and back from that Anki to prep: the same cards, each sound and file under the deck's media/ again
    again = tmp_path / "again"
    assert run("import", str(export_package(fresh, tmp_path / "fresh.apkg")), "--into", str(again)).exit_code == 0
    first = {(n.q, n.a) for n in decks.load(into).notes}
    # (Anki's own export leaves out a file only a link names, `_` or not: that link comes back as its text)
    first = {(q.replace("[the notes](media/notes_1.pdf)", "the notes"), a) for q, a in first}
    assert {(n.q, n.a) for n in decks.load(again).notes} == first
    assert sorted(p.name for p in (again / "media").iterdir()) == sorted(
        p.name for p in (into / "media").iterdir() if p.suffix != ".pdf")


def test_an_audio_or_video_element_whose_file_is_missing_leaves_no_stray_closing_tag(tmp_path: Path) -> None:
    from prep import anki_import

    warnings: list[str] = []
    convert = lambda html: anki_import.html_to_markdown(html, anki_import.MediaCopier(tmp_path), warnings, "note n")
    assert convert('<video controls src="gone.mp4">no video here</video> after') == "no video here after"
    assert convert('<audio src="a.mp3"></audio> and <audio src="b.mp3"></audio> x') == "and  x"  # spacing as it was
    assert len(warnings) == 3 and all("is not in the package; left out" in w for w in warnings)
