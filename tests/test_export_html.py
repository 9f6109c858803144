"""The plain-text shortcut of the HTML renderer always gives what Python-Markdown gives."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from prep import export

LINE = st.text(alphabet=st.sampled_from(list("abcXYZ019 ,.;:?!'\"()/%=+-*_#>\t`[]&<")), max_size=30)


@settings(max_examples=int(os.environ.get("PREP_FUZZ_EXAMPLES", "400")), deadline=None)
@given(lines=st.lists(LINE, min_size=1, max_size=4))
def test_shortcut_matches_python_markdown(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert export.markdown_to_html(text) == export._markdown().reset().convert(text)


def test_shortcut_is_taken_for_plain_sentences() -> None:
    plain = "The mean of a fair die is 3.5 (not 3)."
    assert export.markdown_to_html(plain) == "<p>The mean of a fair die is 3.5 (not 3).</p>"
    assert export.markdown_to_html("Line one\nline two") == "<p>Line one\nline two</p>"


def test_html_cache_gives_the_same_package_fields_and_sees_edits(tmp_path) -> None:
    from pathlib import Path

    from prep import decks

    root = tmp_path / "decks"
    root.mkdir()
    (root / "a.md").write_text("<!-- id: a -->\nQ: What is **bold**?\nA: `code` and $x^2$\n")
    collection = decks.load(root)
    media = export.MediaSet(root)
    cache_dir = tmp_path / "cache"
    first = export.HtmlCache(cache_dir)
    fields = [first.render(n.q, n.path, media) for n in collection.notes]
    first.save()
    second = export.HtmlCache(cache_dir)
    assert second.entries  # loaded from disk
    assert [second.render(n.q, n.path, media) for n in collection.notes] == fields
    assert second.render("What is *new*?", Path(root / "a.md"), media) == "<p>What is <em>new</em>?</p>"
    (cache_dir / "html.marshal").write_bytes(b"junk")
    assert export.HtmlCache(cache_dir).entries == {}
