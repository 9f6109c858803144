"""Every scanner over card text is linear: 1 MB of each parser's or converter's worst token is quick.

The brief for this file asks for bounds in seconds, so they are generous (a linear scan of 1 MB
takes well under 2 s; a quadratic one takes hours). Each case runs in a child process under a
timeout, so a quadratic scanner fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

MB = 1_000_000
# per scanner, the tokens that made it rescan to the end of the text from each occurrence
CASES = {
    "check": ["<img ", "![", "![](a", "<img src=\"a", "$", "`", "``a"],  # formats: validating a note
    "slug": ["<a", "[", "$", "`", "{{c1::", "![](a"],  # fix: an id from a question
    "split": ["$", "`", "``a", "\\", "$$x$$"],  # mathtext
    "cloze": ["{{c1::", "{{c1::a}}"],
    "terminal": ["<img ", "\\(", "`"],  # render: escapes for the terminal
    "import": ["<img ", "\\(", "[$]", "\\[", "[$$]", "[latex]", "<!--", "<a", " \n"],  # anki_import
    "images": ["<img ", "![", "![](a", "<img src=\"a"],  # export: image references to packed names
    # export: Markdown to HTML. Not `\\(` or `![](a`: Python-Markdown itself is quadratic in the inline
    # matches of a paragraph (each rebuilds its text) and in a link's unclosed `(`; the field limit bounds it.
    "export": ["<img ", "[$]", "$", "<!--", "<a", "[", "![", "[[]]"],
}


def _target(name: str):
    from prep import cloze, export, fix, formats, mathtext, render
    from prep.model import Note

    root = Path.cwd()

    def check(text: str) -> None:
        # the limit would stop a 1 MB field at once: lift it to time the scanners behind it
        formats.MAX_FIELD_BYTES = 10 * MB
        formats.validate_note(Note(id="x", deck="d", path=root / "x.yaml", line=1, q=text, a="a"), root)

    def split(text: str) -> None:
        try:
            mathtext.split(text)
        except mathtext.MathError:
            pass

    def parse_cloze(text: str) -> None:
        try:
            cloze.parse(text)
        except cloze.ClozeError:
            pass

    class Media:
        def image(self, name: str, warnings: list, where: str) -> str:
            return ""

    def to_markdown(text: str) -> None:
        from prep import anki_import

        anki_import.html_to_markdown(text, Media(), [], "note")

    def to_html(text: str) -> None:
        try:
            export.to_html(text, root / "x.md", export.MediaSet(root))
        except mathtext.MathError:
            pass

    def images(text: str) -> None:
        export.rewrite_images(text, root / "x.md", export.MediaSet(root))

    return {"images": images, "check": check, "slug": lambda text: fix.slug(text, set()), "split": split, "cloze": parse_cloze,
            "terminal": render.terminal_markdown, "import": to_markdown, "export": to_html}[name]


def _time(name: str) -> None:
    """Print, as one JSON line per token, the seconds for half a megabyte and for 2 MB of it."""
    run = _target(name)
    for token in CASES[name]:
        run(token * 10)  # imports and first-use costs out of the timing
        times = []
        for size in (MB // 2, 2 * MB):
            text = (token * (size // len(token) + 1))[:size]
            start = time.perf_counter()
            run(text)
            times.append(time.perf_counter() - start)
        print(json.dumps([token, *times]), flush=True)


@pytest.mark.parametrize("name", list(CASES))
def test_one_megabyte_of_the_worst_token_is_scanned_in_linear_time(tmp_path: Path, name: str) -> None:
    limit = 15 * len(CASES[name])  # seconds per token: half a megabyte and 2 MB together
    try:
        result = subprocess.run([sys.executable, __file__, name], capture_output=True, text=True, timeout=limit,
                                cwd=tmp_path, check=True)
        output = result.stdout
    except subprocess.TimeoutExpired as error:
        output = error.stdout.decode() if isinstance(error.stdout, bytes) else error.stdout or ""
        done = [json.loads(line)[0] for line in output.splitlines()]
        pytest.fail(f"{name}: no result in {limit} s after {done} (quadratic?)")
    for line in output.splitlines():
        token, half, two = json.loads(line)
        assert two < 10, f"{name} on 2 MB of {token!r} took {two:.1f} s"
        # 4 times the text: about 4 times the time when linear, 16 when quadratic (8 leaves room for noise and GC)
        assert two < 8 * max(half, 0.1), f"{name} on {token!r}: 0.5 MB {half:.2f} s, 2 MB {two:.2f} s: not linear"
    assert len(output.splitlines()) == len(CASES[name])


if __name__ == "__main__":
    _time(sys.argv[1])
