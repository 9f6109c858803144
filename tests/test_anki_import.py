"""`prep import` and `prep sync-anki` against packages made by the real `anki` library."""

from __future__ import annotations

import sqlite3
import zipfile
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from prep import decks, formats, paths
from prep.cli import cli
from tests.conftest import query

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
    assert "Imported 3 notes" in result.output and "4 reviews added on 1 cards" in result.output
    assert "empty front or back; skipped" in result.output
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
    cloze = by_deck["Other"][0]
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
    for ours in shipped.notes:
        mine = theirs[ours.id]
        assert (mine.deck, mine.q, mine.a, mine.cloze, mine.extra, mine.reverse, sorted(mine.tags)) == (
            ours.deck, ours.q, ours.a, ours.cloze, ours.extra, ours.reverse, sorted(ours.tags)), ours.id
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


def test_other_note_types_are_mapped_field_by_field_with_a_warning(tmp_path: Path, isolated: Path) -> None:
    from anki.collection import Collection

    col = Collection(str(tmp_path / "vocab.anki2"))
    model = col.models.new("Vocab+")
    for name in ("Word", "hint", "Meaning"):
        col.models.add_field(model, col.models.new_field(name))
    template = col.models.new_template("Card 1")
    template["qfmt"], template["afmt"] = "{{Word}}", "{{FrontSide}}<hr id=answer>{{Meaning}}"
    col.models.add_template(model, template)
    col.models.add(model)
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


def test_html_nested_thousands_deep_is_imported_as_text_with_a_warning(tmp_path: Path) -> None:
    from prep import anki_import

    warnings: list[str] = []
    deep = "<div>" * 1500 + "deep &amp; <b>bold</b>" + "</div>" * 1500  # a RecursionError in markdownify
    text = anki_import.html_to_markdown(deep, anki_import.MediaCopier(tmp_path), warnings, "note n1")
    assert text == "deep & bold"
    assert warnings == ["note n1: HTML nested too deeply to convert; imported as plain text"]
    assert anki_import.html_to_markdown("<div><b>fine</b></div>", anki_import.MediaCopier(tmp_path), warnings,
                                        "note n2") == "**fine**" and len(warnings) == 1


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
