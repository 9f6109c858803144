"""The HTML renderer's shortcuts (plain paragraphs, fenced code highlighted without Python-Markdown)
always give what Python-Markdown gives."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prep import export

EXAMPLES = settings(max_examples=int(os.environ.get("PREP_FUZZ_EXAMPLES", "400")), deadline=None)
LINE = st.text(alphabet=st.sampled_from(list("abcXYZ019 ,.;:?!'\"()/%=+-*_#>\t`[]&<")), max_size=30)
# Lines of words and code spans, mostly ones the shortcut takes, with near misses: markup outside
# the code, and code holding what Markdown or HTML give a meaning to.
PLAIN_WORD = st.sampled_from(["a", "Be", "x = 1", "3.5", "(see)", "e.g.", "it's", "50%", "a/b", "PREPFENCE0X"])
MARKUP_WORD = st.sampled_from(["-", "1.", "#", ">", "*", "|", " ", "&amp;", "<b>", "<!--", "~~~", "\\", "_x_", "[a]",
                               "PREPMATH0X"])
CODE = st.text(alphabet=st.sampled_from(list("ab1 <>&#;!/?*_[]|$~=-")), min_size=1, max_size=8)
ODD_CODE = st.text(alphabet=st.sampled_from(list("a `\\<&")), max_size=4)
CODE_SPAN = st.one_of(CODE, CODE, CODE, ODD_CODE).map(lambda code: f"`{code}`")
WORD = st.one_of(PLAIN_WORD, PLAIN_WORD, PLAIN_WORD, CODE_SPAN, CODE_SPAN, CODE_SPAN, MARKUP_WORD)
RICH_LINE = st.lists(WORD, min_size=1, max_size=5).map(" ".join)
PARAGRAPHS = st.lists(st.one_of(RICH_LINE, RICH_LINE, RICH_LINE, st.just(""), LINE), min_size=1, max_size=6).map(
    "\n".join)


def python_markdown(text: str) -> str:
    return export._markdown().reset().convert(text)


@EXAMPLES
@given(lines=st.lists(LINE, min_size=1, max_size=4))
def test_shortcut_matches_python_markdown(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert export.markdown_to_html(text) == python_markdown(text)


@EXAMPLES
@given(text=PARAGRAPHS)
def test_shortcut_matches_python_markdown_on_code_spans_and_paragraphs(text: str) -> None:
    assert export.markdown_to_html(text) == python_markdown(text)


SIMPLE_FENCE = st.builds(
    lambda fence, language, lines: "\n".join([fence + language, *lines, fence]),
    st.sampled_from(["```", "~~~", "````"]), st.sampled_from(["", "python", "sql", "nosuchlanguage", "python "]),
    st.lists(st.sampled_from(["x = 1", "", "  ", "    y = '<b>&amp;'", "````", "# c", "PREPFENCE0X"]), max_size=4))
ODD_FENCE = st.builds(
    lambda opening, language, lines, closing: "\n".join([opening + language, *lines, closing]),
    st.sampled_from(["```", "~~~", "````", "  ```", "    ```", "> ```", "- ```"]),
    st.sampled_from(["", "python", " python", "{.python}", 'python hl_lines="1"']),
    st.lists(st.sampled_from(["x = 1", "", "  ", "```", "````", "~~~", "\tz"]), max_size=4),
    st.sampled_from(["```", "~~~", "````", "``` ", "  ```", ""]))
BLOCK = st.one_of(SIMPLE_FENCE, SIMPLE_FENCE, ODD_FENCE, PARAGRAPHS, st.sampled_from(
    ["- item", "1. item", "    indented code", "> quote", "# Heading", "[r]: http://example.com", "<div>", "</div>",
     "a | b\n--|--\n1 | 2", "Title\n====="]))
GAP = st.sampled_from(["\n\n", "\n\n", "\n\n", "\n", "\n\n\n", "\n \n"])
DOCUMENT = st.lists(st.tuples(BLOCK, GAP), min_size=1, max_size=4).map(
    lambda parts: "".join(block + gap for block, gap in parts))


@EXAMPLES
@given(text=DOCUMENT.filter(lambda text: "$" not in text and "PREPMATH" not in text))  # no math
def test_fenced_code_is_highlighted_as_python_markdown_does(text: str) -> None:
    media = export.MediaSet(Path("."))
    assert export.to_html(text, Path("deck.md"), media) == export.sanitize(python_markdown(text))


def test_simple_fences_skip_python_markdown() -> None:
    pieces = ["Intro\n\n", "```python\nx = 1\n```\n", "\n", "~~~\nplain\n~~~"]
    lifted, blocks = export._lift_fences(pieces, [1, 3])
    assert lifted == ["Intro\n\n", "PREPFENCE0X\n", "\n", "PREPFENCE1X"]
    assert blocks[0].startswith('<div class="highlight"><pre><span></span><code><span class="n">x</span>')
    assert blocks[1] == '<div class="highlight"><pre><span></span><code>plain\n</code></pre></div>'
    glued = ["Intro\n", "```python\nx = 1\n```"]
    assert export._lift_fences(glued, [1]) == (glued, [])


def test_shortcut_is_taken_for_plain_sentences() -> None:
    plain = "The mean of a fair die is 3.5 (not 3)."
    assert export.markdown_to_html(plain) == "<p>The mean of a fair die is 3.5 (not 3).</p>"
    assert export.markdown_to_html("Line one\nline two") == "<p>Line one\nline two</p>"
    assert export.markdown_to_html("Use `a < b`, not `a<b`.\n\nThen `x & y`.") == (
        "<p>Use <code>a &lt; b</code>, not <code>a&lt;b</code>.</p>\n<p>Then <code>x &amp; y</code>.</p>")


def test_html_cache_gives_the_same_package_fields_and_sees_edits(tmp_path) -> None:
    from pathlib import Path

    from prep import decks

    root = tmp_path / "decks"
    root.mkdir()
    (root / "a.md").write_text("<!-- id: a -->\nQ: What is **bold**?\nA: `code` and $x^2$\n")
    from prep.cache import Cache

    collection = decks.load(root)
    media = export.MediaSet(root)
    cache_dir = tmp_path / "cache"
    with Cache(cache_dir) as cache:
        first = export.HtmlFields(cache)
        fields = [first.render(n.q, n.path, media) for n in collection.notes]
        first.save()
    with Cache(cache_dir) as cache:
        second = export.HtmlFields(cache)
        second.prefill(collection.notes)
        assert second.entries  # read back from the cache file
        assert [second.render(n.q, n.path, media) for n in collection.notes] == fields
        assert second.render("What is *new*?", Path(root / "a.md"), media) == "<p>What is <em>new</em>?</p>"
    (cache_dir / "cache.db").write_bytes(b"junk")
    with Cache(cache_dir) as cache:
        damaged = export.HtmlFields(cache)
        damaged.prefill(collection.notes)
        assert damaged.entries == {}
        assert [damaged.render(n.q, n.path, media) for n in collection.notes] == fields


def test_text_that_looks_like_an_internal_placeholder_is_kept() -> None:
    from pathlib import Path

    media = export.MediaSet(Path("."))
    assert export.to_html("Say PREPMATH0X aloud.", Path("."), media) == "<p>Say PREPMATH0X aloud.</p>"
    assert export.to_html("PREPMATH0X and $x$", Path("."), media) == "<p>PREPMATH0X and \\(x\\)</p>"


# Commands MathJax turns into live HTML attributes or loads code with, and ways of writing them.
FORBIDDEN = [r"$\href{javascript:alert(1)}{x}$", r"$\style{color:red}{x}$", r"$\class{evil}{x}$",
             r"$\cssId{evil}{x}$", r"$\unicode{x41}$", r"$\require{html}$", r"$\htmlData{a=b}{x}$",
             r"$$\htmlStyle{color:red}{x}$$", r"$\mmlToken{mi}{x}$", r"$\data{a=b}{x}$", r"$\bbox[style]{x}$",
             r"$\href {javascript:alert(1)}{x}$", r"$\href{javascript:alert(1)} {x}$", r"$a{\href}{x}$",
             r"$\(\href{javascript:alert(1)}{x}\)$", "$$\n\\begin{aligned}a \\\\\n\\href{x}{y}\n\\end{aligned}\n$$",
             r"{{c1::$\href{javascript:alert(1)}{x}$}}"]
# Text (not math to prep) that becomes a MathJax delimiter once Markdown or the HTML parser has read it.
SMUGGLED = [r"a \\(\href{javascript:alert(1)}{x}\\) b", r"a &#92;(\href{javascript:alert(1)}{x}&#92;) b",
            r"a \\[\href{javascript:alert(1)}{x}\\] b", "`\\(\\href{javascript:alert(1)}{x}\\)`",
            r"<span>\\(</span>\href{javascript:alert(1)}{x}\\)"]
LIVE = re.compile(r"\\\s*(href|style|class|cssId|html[A-Za-z]*|unicode|require|data|mmlToken|bbox)\b")


def _math_in(html_text: str) -> list[str]:
    """What Anki's MathJax would read as math: `\\(..\\)` and `\\[..\\]` within one run of text."""
    found = []
    for run in re.split(r"<[^>]*>", html_text):  # an element ends a run of text
        for match in re.finditer(r"\\\((.*?)\\\)|\\\[(.*?)\\\]", html.unescape(run), re.S):
            found.append(match.group(1) if match.group(1) is not None else match.group(2))
    return found


@pytest.mark.parametrize("source", FORBIDDEN + SMUGGLED)
def test_forbidden_math_commands_never_reach_anki_as_math(source: str) -> None:
    rendered = export.to_html(source, Path("."), export.MediaSet(Path(".")))
    assert LIVE.search(html.unescape(re.sub(r"<[^>]*>", "", rendered))), rendered  # still visible as text
    assert not any(LIVE.search(math) for math in _math_in(rendered)), rendered


def test_allowed_math_is_still_math() -> None:
    rendered = export.to_html(r'ok $\frac{a}{b} < c$ and $\text{"q"} \le \alpha_{\max}$', Path("."),
                              export.MediaSet(Path(".")))
    assert _math_in(rendered) == [r"\frac{a}{b} < c", r'\text{"q"} \le \alpha_{\max}']


def test_commands_are_read_as_mathjax_reads_them() -> None:
    from prep.formats import forbidden_math_command as forbidden

    assert forbidden(r"\hre\f{x}").group(1) == "hre"  # split names are each a command, neither allowed
    assert forbidden(r"a\,b\{c\}\\href \frac12") is None  # `\\` is a line break, then the letters "href"
    assert forbidden("\\alpha\\\n\\hbar\\Href").group(1) == "Href"  # names are case-sensitive


# More than RESCANS_KEPT comment starts and tags, so that the export's defusing of unclosed ones runs:
# comments closed, unclosed, nested, empty (`<!-->`), closed with spaces or `--!>`, inside code spans.
COMMENT_PIECE = st.sampled_from(["<!--", "<!--", "<!--", "-->", "-- >", "--!>", "<!-- x -->", "<!-->", "<!--->",
                                 "<!---->", "<b", "<b>", "<", "a", "b c", "\n", "\n\n", "`<!--`", "`", "    ", "- ",
                                 "[", "]"])
COMMENT_HEAVY = st.lists(COMMENT_PIECE, min_size=17, max_size=60).map(
    lambda pieces: (" " if len(pieces) % 2 else "").join(pieces))


@EXAMPLES
@given(text=COMMENT_HEAVY)
def test_many_comment_starts_give_what_python_markdown_gives(text: str) -> None:
    assert export.markdown_to_html(text) == python_markdown(text)


def test_comment_closed_after_many_comment_starts_stays_a_comment() -> None:
    text = "<!-- " * 20 + "hidden -->\n\nshown"
    assert export.markdown_to_html(text) == python_markdown(text)
    assert "hidden" not in export.sanitize(export.markdown_to_html(text))
