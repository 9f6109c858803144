"""`prep export` packages imported into a fresh collection with the real `anki` library."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from prep.cli import cli

anki_collection = pytest.importorskip("anki.collection")
SOURCE = re.compile(r"<!--prep-src:[^>]*-->")


def export(decks_dir: Path, out: Path, now: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["export", "-o", str(out), *args], env={"PREP_NOW": now},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def import_into(collection_path: Path, package: Path):
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    col = Collection(str(collection_path))
    try:
        response = col.import_anki_package(ImportAnkiPackageRequest(
            package_path=str(package), options=ImportAnkiPackageOptions(with_scheduling=False)))
        notes = {}
        for note_id in col.find_notes(""):
            note = col.get_note(note_id)
            fields = [SOURCE.sub("", field) for field in note.fields]  # the Markdown source rides along hidden
            notes[note.guid] = (note.note_type()["name"], note.note_type()["type"], sorted(note.tags), fields)
        decks = sorted(d.name for d in col.decks.all_names_and_ids())
        media = sorted(p.name for p in Path(col.media.dir()).iterdir())
        return response.log, notes, decks, media, col.card_count()
    finally:
        col.close()


def test_export_imports_into_real_anki(decks_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "prep.apkg"
    assert export(decks_dir, out, "2026-03-02T10:00:00Z") == (
        f"Wrote {out}: 6 notes, 8 cards, 1 media file, 2 decks.\n")
    log, notes, decks, media, cards = import_into(tmp_path / "col.anki2", out)
    assert len(log.new) == 6 and cards == 8
    assert {"Math::Probability", "ML::Basics"} <= set(decks)
    kinds = sorted((name, kind) for name, kind, _, _ in notes.values())
    assert kinds == [("prep Basic", 0)] * 4 + [("prep Basic (and reversed card)", 0), ("prep Cloze", 1)]
    by_text = {fields[0]: (name, tags, fields) for name, _, tags, fields in notes.values()}
    bayes = by_text["<p>State Bayes' rule.</p>"]
    assert bayes[1] == ["easy", "probability"]
    assert bayes[2][1] == "<p>\\(P(A \\mid B) = \\frac{P(B \\mid A) P(A)}{P(B)}\\)</p>"
    cloze_text = next(f[0] for n, _, _, f in notes.values() if n == "prep Cloze")
    assert "{{c1::\\(E[X^2] - E[X]^2\\)}}" in cloze_text and "{{c2::squared mean}}" in cloze_text
    code = next(f[0] for f in (v[3] for v in notes.values()) if "print" in f[0])
    assert '<div class="highlight">' in code and "<span" in code  # highlighted with classes styled by the model CSS
    assert len(media) == 1 and media[0].startswith("prep-") and media[0].endswith(".svg")
    assert set(notes) == {f"prep/{i}" for i in ("prob-bayes-rule", "prob-variance", "prob-pmf", "ml-overfitting",
                                                 "ml-sigmoid-code", "ml-curve")}
    image_note = next(f[0] for f in (v[3] for v in notes.values()) if "<img" in f[0])
    assert f'src="{media[0]}"' in image_note


def test_reimport_after_an_edit_updates_in_place(decks_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.apkg", tmp_path / "second.apkg"
    export(decks_dir, first, "2026-03-02T10:00:00Z")
    path = decks_dir / "ml" / "basics.md"
    path.write_text(path.read_text().replace("What is overfitting?", "What is overfitting, in one sentence?"))
    export(decks_dir, second, "2026-03-03T10:00:00Z")
    collection = tmp_path / "col.anki2"
    import_into(collection, first)
    log, notes, _, _, cards = import_into(collection, second)
    assert len(log.new) == 0
    assert len(log.updated) == 6 - len(log.duplicate)
    assert len(notes) == 6 and cards == 8
    texts = [fields[0] for _, _, _, fields in notes.values()]
    assert "<p>What is overfitting, in one sentence?</p>" in texts
    assert "<p>What is overfitting?</p>" not in texts


def test_export_filters_by_deck_and_tag(decks_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ml.apkg"
    assert "3 notes, 3 cards" in export(decks_dir, out, "2026-03-02T10:00:00Z", "--deck", "ml")
    assert "1 notes, 1 cards" in export(decks_dir, out, "2026-03-02T10:00:00Z", "--tag", "easy", "--deck", "ML")


def test_hostile_html_is_sanitised(tmp_path: Path) -> None:
    decks = tmp_path / "decks"
    decks.mkdir()
    (decks / "x.md").write_text(
        "<!-- id: evil -->\nQ: Hi <script>alert(1)</script> <img src=\"a.png\" onerror=\"alert(2)\">\n"
        "A: [click](javascript:alert(3)) <b onclick=\"x()\">bold</b>\n")
    (decks / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "evil.apkg"
    result = CliRunner().invoke(cli, ["export", "--decks", str(decks), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _, notes, _, _, _ = import_into(tmp_path / "col.anki2", out)
    html = " ".join(" ".join(v[3]) for v in notes.values())
    for bad in ("<script", "onerror", "onclick", "javascript:"):
        assert bad not in html
    assert "<b>bold</b>" in html


def test_a_coding_card_is_a_basic_note_with_solution_and_tests_on_the_back(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from prep.anki_import import CODE_MARK, code_from_field
    from tests.conftest import write
    from tests.test_codecheck import YAML_CARD

    decks_dir = write(tmp_path / "work" / "decks" / "code.yaml", YAML_CARD).parent
    monkeypatch.chdir(decks_dir.parent)
    out = tmp_path / "code.apkg"
    export(decks_dir, out, "2026-03-02T10:00:00Z")
    _, notes, _, _, cards = import_into(tmp_path / "col.anki2", out)
    (name, kind, tags, (front, back)), = notes.values()
    assert (name, kind, tags, cards) == ("prep Basic", 0, ["easy"], 1)
    assert front == "<p>Write <code>add(a, b)</code>.</p>"
    visible = CODE_MARK.sub("", back)
    assert "return" in visible and "Tests" in visible and "assert" in visible and "NotImplementedError" not in visible
    spec = code_from_field(back)  # the whole card rides along for `prep import`
    assert spec is not None and spec.stub == "def add(a, b):\n    raise NotImplementedError\n"
    assert spec.hints == ("Use +.", "Really: +.") and spec.time == 3.0
    assert code_from_field(back.replace("<!--prep-code:", "<!--prep-code:!!")) is None
    assert code_from_field("<!--prep-code:bm90IGpzb24=-->") is None


def import_log(collection_path: Path, package: Path):
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    col = Collection(str(collection_path))
    try:
        return col.import_anki_package(ImportAnkiPackageRequest(
            package_path=str(package), options=ImportAnkiPackageOptions(with_scheduling=False))).log
    finally:
        col.close()


def test_only_the_edited_note_is_updated_and_edits_made_in_anki_stay(decks_dir: Path, tmp_path: Path) -> None:
    """A note's mod time is when its content changed: an edit exported in the same second as the last
    export updates exactly that note, and a note edited in Anki since keeps Anki's edit."""
    from anki.collection import Collection

    first, second = tmp_path / "1.apkg", tmp_path / "2.apkg"
    collection = tmp_path / "col.anki2"
    now = "2026-03-02T10:00:00Z"
    export(decks_dir, first, now)
    assert len(import_log(collection, first).new) == 6
    col = Collection(str(collection))
    try:
        by_guid = {col.get_note(n).guid: col.get_note(n) for n in col.find_notes("")}
        overfitting = by_guid["prep/ml-overfitting"]
        overfitting.fields[1] = "edited in Anki"
        col.update_note(overfitting)
    finally:
        col.close()
    deck = decks_dir / "math" / "probability.yaml"
    deck.write_text(deck.read_text(encoding="utf-8").replace("State Bayes' rule.", "State Bayes' theorem."),
                    encoding="utf-8")
    export(decks_dir, second, now)  # the same second as the first export
    log = import_log(collection, second)
    assert [SOURCE.sub("", entry.fields[0]) for entry in log.updated] == ["State Bayes' theorem."]
    assert len(log.new) == 0
    col = Collection(str(collection))
    try:
        kept = {col.get_note(n).guid: col.get_note(n) for n in col.find_notes("")}["prep/ml-overfitting"]
        assert kept.fields[1] == "edited in Anki"
    finally:
        col.close()
    third = tmp_path / "3.apkg"
    export(decks_dir, third, "2026-03-05T10:00:00Z")  # nothing changed: nothing updated, days later
    assert len(import_log(collection, third).updated) == 0


def test_code_blocks_are_dark_in_night_mode() -> None:
    from prep import export as exporter

    css = exporter._models()["basic"].css
    night = [line for line in css.splitlines() if re.match(r"\.nightMode \.highlight\s*,", line)]
    assert night and ".night_mode .highlight" in night[0]
    assert "background: #272822" in night[0]  # monokai's background, after the light style so it wins
    assert css.index(".nightMode .highlight") > css.index(".highlight {")


def test_export_never_overwrites_a_file_that_is_not_an_anki_package(decks_dir: Path, tmp_path: Path) -> None:
    deck_file = next(decks_dir.rglob("*.yaml"))
    before = deck_file.read_bytes()
    result = CliRunner().invoke(cli, ["export", "-o", str(deck_file)], env={"PREP_NOW": "2026-03-02T10:00:00Z"})
    assert result.exit_code == 1 and "exists and is not an Anki package: not overwriting it" in result.output
    assert deck_file.read_bytes() == before
    package = tmp_path / "prep.apkg"
    export(decks_dir, package, "2026-03-02T10:00:00Z")
    exported = package.read_bytes()
    export(decks_dir, package, "2026-03-03T10:00:00Z")  # an earlier package is replaced as before
    assert package.read_bytes() != exported
    exported = package.read_bytes()
    empty = CliRunner().invoke(cli, ["export", "-o", str(package), "--tag", "no-such-tag"])
    assert empty.exit_code == 1 and "no cards to export" in empty.output
    assert package.read_bytes() == exported  # not replaced by an empty package
    blank = CliRunner().invoke(cli, ["export", "-o", ""])
    assert blank.exit_code == 1 and blank.output.startswith("Error: -o '.' names no file")
