"""`check --fix` adds ids and nothing else, in every YAML style, or leaves the card alone and says so."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prep import fix, formats

FUZZ = settings(max_examples=int(os.environ.get("PREP_FUZZ_EXAMPLES", "300")) // 2, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
NULLS = ["~", "null", "Null", "NULL", "!!null ''", '!!null ""', "!!null", ""]
WORD = st.sampled_from(["kernel", "trick", "margin", "what", "bias", "variance", "x1", "loss", "the"])
TEXT = st.lists(WORD, min_size=1, max_size=4).map(" ".join)


@st.composite
def card(draw, index: int) -> tuple[list[str], dict]:
    """One card's lines (before the sequence indent) and what it should parse to."""
    question, answer = draw(TEXT) + "?", draw(TEXT)
    quote = draw(st.sampled_from(["{}", "'{}'", '"{}"']))
    fields = [("q", quote.format(question)), ("a", answer)]
    state = draw(st.sampled_from(["id", "missing"] + [f"null {spelling}" for spelling in NULLS]))
    if state == "id":
        fields.insert(draw(st.integers(0, 2)), ("id", f"kept-{index}"))
    elif state != "missing":
        key = draw(st.sampled_from(["id", '"id"', "'id'"]))
        fields.insert(draw(st.integers(0, 2)), (key, state[len("null "):]))
    prefix = draw(st.sampled_from(["", f"&card{index}", "!!map", f"&card{index} !!map"]))
    comment = draw(st.sampled_from(["", "  # note"]))
    if draw(st.booleans()):  # flow: {q: ..., a: ...}
        flow = {"": "~", "!!null": "!!null ''"}  # `{id:, q: x}` and `{id: !!null}` are not YAML
        body = ", ".join(f"{key}: {flow.get(value, value)}" for key, value in fields)
        lines = [f"{prefix} {{{body}}}{comment}".lstrip()]
    else:
        lines = [f"{key}: {value}".rstrip() + comment for key, value in fields]
        if prefix:
            lines.insert(0, prefix)  # an anchor or tag on the card's own line, the keys below it
    expected = {"q": question, "a": answer, "id": f"kept-{index}" if state == "id" else None}
    return lines, expected


@st.composite
def deck_file(draw) -> tuple[str, list[dict]]:
    count = draw(st.integers(1, 6))
    cards = [draw(card(index)) for index in range(count)]
    indent = draw(st.sampled_from(["  ", ""]))
    out = ["# a deck"] + draw(st.sampled_from([[], ["deck: Test::Fix"], ["tags: [t]  # file tags"]])) + ["cards:"]
    for lines, _ in cards:
        if draw(st.booleans()):
            out.append(indent + "# between cards")
        out.append(f"{indent}- {lines[0]}")
        out.extend(f"{indent}  {line}" for line in lines[1:])
    text = "\n".join(out) + "\n"
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text, [expected for _, expected in cards]


def _notes(path: Path, root: Path) -> formats.Parsed:
    return formats.parse_file(path, root)


@FUZZ
@given(case=deck_file())
def test_fix_adds_exactly_the_missing_ids_in_any_yaml_style(tmp_path: Path, case: tuple[str, list[dict]]) -> None:
    text, expected = case
    path = tmp_path / "deck.yaml"
    path.write_bytes(text.encode("utf-8"))
    before = _notes(path, tmp_path).problems
    assert all(p.message == formats.MISSING_ID for p in before), (before, text)  # a valid file but for ids

    report = fix.fix_ids(tmp_path, [path], set())
    assert report.refused == []
    parsed = _notes(path, tmp_path)
    assert parsed.problems == [], path.read_text()
    assert [(n.q, n.a) for n in parsed.notes] == [(e["q"], e["a"]) for e in expected]
    for note, wanted in zip(parsed.notes, expected):
        assert note.id == (wanted["id"] or next(f.id for f in report.fixed if f.id == note.id))
    assert len(report.fixed) == sum(1 for e in expected if e["id"] is None)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") == text.startswith("\ufeff")
    assert (b"\r\n" in data) == ("\r\n" in text) and data.count(b"\n") == data.count(b"\r\n") or "\r\n" not in text
    for fixed in report.fixed:  # each reported line is where its id now is
        assert fixed.id in data.decode("utf-8").replace("\r\n", "\n").lstrip("\ufeff").split("\n")[fixed.line - 1]

    again = fix.fix_ids(tmp_path, [path], {n.id for n in parsed.notes})
    assert again.fixed == [] and again.refused == []
    assert path.read_bytes() == data


def test_the_known_breakages_are_fixed_in_place(tmp_path: Path) -> None:
    path = tmp_path / "deck.yaml"
    path.write_text(
        "cards:\n"
        "  - &new\n"
        "    q: Anchored?\n"
        "    a: yes\n"
        "  - !!map\n"
        "    q: Tagged?\n"
        "    a: yes\n"
        "  - id: !!null ''\n"
        "    q: Null tagged?\n"
        "    a: yes\n"
        '  - "id": ~   # keep\n'
        "    q: Quoted key?\n"
        "    a: yes\n"
    )
    report = fix.fix_ids(tmp_path, [path], set())
    assert [(f.line, f.id) for f in report.fixed] == [(3, "anchored"), (7, "tagged"), (10, "null-tagged"),
                                                     (13, "quoted-key")]
    assert path.read_text() == (
        "cards:\n"
        "  - &new\n"
        "    id: anchored\n"
        "    q: Anchored?\n"
        "    a: yes\n"
        "  - !!map\n"
        "    id: tagged\n"
        "    q: Tagged?\n"
        "    a: yes\n"
        "  - id: null-tagged\n"
        "    q: Null tagged?\n"
        "    a: yes\n"
        '  - "id": quoted-key   # keep\n'
        "    q: Quoted key?\n"
        "    a: yes\n"
    )


def test_an_id_that_cannot_be_written_safely_is_refused_and_the_rest_still_written(tmp_path: Path) -> None:
    path = tmp_path / "deck.yaml"
    original = (
        "cards:\n"
        "  - q: First?\n"
        "    a: yes\n"
        "  - id:\n"
        "      ~\n"  # the null on the line below its key: the text edit cannot reach it
        "    q: Second?\n"
        "    a: yes\n"
    )
    path.write_text(original)
    report = fix.fix_ids(tmp_path, [path], set())
    assert [(f.line, f.id) for f in report.fixed] == [(2, "first")]
    assert [(r.path, r.line) for r in report.refused] == [(path, 5)]  # its line once `first` is written
    assert path.read_text() == original.replace("  - q: First?\n", "  - id: first\n    q: First?\n")


def test_a_refused_card_is_reported_by_check_with_exit_1(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from prep.cli import cli

    decks = tmp_path / "decks"
    decks.mkdir()
    original = "cards:\n  - id:\n      ~\n    q: Second?\n    a: yes\n"
    (decks / "deck.yaml").write_text(original)
    result = CliRunner().invoke(cli, ["check", "--fix", "--decks", str(decks)])
    assert result.exit_code == 1
    assert "deck.yaml:2: could not add an id here; add one by hand" in result.output
    assert (decks / "deck.yaml").read_text() == original


def test_a_slug_fits_an_id(tmp_path: Path) -> None:
    card_id = fix.slug("a" * 300 + " question", set())
    assert formats.ID_PATTERN.match(card_id) and len(card_id) <= 60
