"""Coding cards in both formats, and `prep check` on them: problems at file:line, verdicts not run twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from prep import codecheck, decks, formats
from prep.cache import Cache, note_from_row, note_row
from prep.cli import cli
from prep.model import CodeSpec
from tests.conftest import write

YAML_CARD = """\
cards:
  - id: code-add
    q: Write `add(a, b)`.
    stub: |
      def add(a, b):
          raise NotImplementedError
    solution: |
      def add(a, b):
          return a + b
    tests: |
      assert add(1, 2) == 3
      assert add(-1, 1) == 0
    hints: [Use +., "Really: +."]
    time: 3
    tags: [easy]
"""

MARKDOWN_CARD = """\
<!-- id: code-add, tags: [easy] -->
Q: Write `add(a, b)`.

Stub:
```python
def add(a, b):
    raise NotImplementedError
```

Solution:
```python
def add(a, b):
    return a + b
```

Tests:
```python
assert add(1, 2) == 3
assert add(-1, 1) == 0
```

Hints:
- Use +.
- "Really: +."

Time: 3 min
"""


def check(root: Path) -> list[str]:
    return [str(p) for p in decks.load(root).problems]


def test_both_formats_give_the_same_coding_card(tmp_path: Path) -> None:
    yaml_note, = formats.parse_bytes(tmp_path / "a.yaml", tmp_path, YAML_CARD.encode()).notes
    md_note, = formats.parse_bytes(tmp_path / "a.md", tmp_path, MARKDOWN_CARD.replace('"Really: +."', "Really: +.")
                                   .encode()).notes
    expected = CodeSpec("def add(a, b):\n    raise NotImplementedError\n", "def add(a, b):\n    return a + b\n",
                        "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n", ("Use +.", "Really: +."), 3.0)
    assert yaml_note.code == md_note.code == expected
    assert yaml_note.kind == "code" and yaml_note.q == md_note.q == "Write `add(a, b)`."
    assert yaml_note.a == md_note.a == "```python\ndef add(a, b):\n    return a + b\n```"  # the answer side
    assert [card.id for card in decks.cards_of(yaml_note)] == ["code-add"]


def test_cache_rows_keep_the_spec() -> None:
    note = formats.parse_bytes(Path("a.yaml"), Path("."), YAML_CARD.encode()).notes[0]
    assert note_from_row(note_row(note), note.path) == note


@pytest.mark.parametrize("edit, expected", [
    (("return a + b", "return a - b"),
     "a.yaml:11: the reference solution fails its tests: assert add(1, 2) == 3: assertion failed "
     "(left: -1, right: 3)"),
    (("raise NotImplementedError", "return a + b"),
     "a.yaml:5: the stub passes all 2 tests: the tests cannot tell it from a solution"),
    (("      def add(a, b):\n          return a + b", "      import requests\n      def add(a, b):\n          return a + b"),
     "a.yaml:8: solution: import of 'requests': coding cards may use only the standard library and NumPy"),
    (("assert add(-1, 1) == 0", "assert add(-1, 1) ==="), "a.yaml:12: tests: Python syntax error: invalid syntax"),
    (("    time: 3", "    time: soon"), "a.yaml:14: time is the target in minutes, a number such as 10"),
    (("    hints: [Use +., \"Really: +.\"]", "    hints: {a: b}"), "a.yaml:13: hints must be a list of texts "
     "(quote a hint that contains ': ')"),
    (("    q: Write", "    a: Just do it.\n    q: Write"), "a.yaml:3: a coding card's answer is its solution: leave out a"),
    (("assert add(1, 2) == 3\n      assert add(-1, 1) == 0", "x = add(1, 2)"),
     "a.yaml:11: tests: write top-level asserts or def test_... functions"),
])
def test_check_reports_coding_problems_at_their_line(tmp_path: Path, edit: tuple[str, str], expected: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert YAML_CARD.count(edit[0]) == 1
    write(tmp_path / "a.yaml", YAML_CARD.replace(*edit))
    assert check(tmp_path) == [expected]


def test_markdown_problems_point_into_the_fenced_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.md", MARKDOWN_CARD.replace("assert add(-1, 1) == 0", "assert add(-1, 1) == 5"))
    assert check(tmp_path) == ["a.md:19: the reference solution fails its tests: assert add(-1, 1) == 5: "
                               "assertion failed (left: 0, right: 5)"]
    write(tmp_path / "a.md", MARKDOWN_CARD.replace("Stub:\n```python", "Stub: def add(a, b): pass\n```python"))
    assert check(tmp_path) == ["a.md:4: Stub: holds one fenced python code block (```python ... ```)"]
    write(tmp_path / "a.md", MARKDOWN_CARD.replace("Solution:\n", "Solution:\n```python\nx = 1\n```\n"))
    assert check(tmp_path) == ["a.md:10: Solution: holds one fenced python code block (```python ... ```)"]
    write(tmp_path / "a.md", MARKDOWN_CARD.replace("Time: 3 min", "Time: a while"))
    assert check(tmp_path) == ["a.md:26: Time: is the target in minutes, e.g. 'Time: 10'"]
    write(tmp_path / "a.md", "Stub:\n```python\nx = 1\n```\n")
    assert check(tmp_path) == ["a.md:1: Stub: outside a card (start the card with Q: or Cloze:)"]


def test_a_hanging_reference_is_reported_at_the_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(codecheck, "CHECK_LIMITS", codecheck.sandbox.Limits(seconds=1.0))
    write(tmp_path / "a.yaml", YAML_CARD.replace("return a + b", "while True:\n              pass"))
    assert check(tmp_path) == ["a.yaml:12: the reference solution fails its tests: assert add(1, 2) == 3: timed out"]


def test_verdicts_come_from_the_cache_without_running_the_tests_again(tmp_path: Path) -> None:
    root = tmp_path / "decks"
    write(root / "a.yaml", YAML_CARD)
    write(root / "b.yaml", "cards:\n  - id: plain\n    q: Q?\n    a: A.\n    tags: [easy]\n")
    with Cache(tmp_path / "cache") as cache:
        assert decks.load(root, cache).problems == []
    write(root / "b.yaml", "cards:\n  - id: plain\n    q: Q, edited?\n    a: A.\n    tags: [easy]\n")
    # a fresh process (no verdicts in memory) whose sandbox would fail if it were asked
    script = (
        "import sys\nfrom pathlib import Path\nfrom prep import decks, sandbox\nfrom prep.cache import Cache\n"
        "def refuse(*args, **kwargs):\n    raise SystemExit('the sandbox ran')\n"
        "sandbox.run_many = refuse\n"
        "with Cache(Path(sys.argv[2])) as cache:\n"
        "    loaded = decks.load(Path(sys.argv[1]), cache)\n"
        "print(len(loaded.note_ids), loaded.problems)\n")
    done = subprocess.run([sys.executable, "-c", script, str(root), str(tmp_path / "cache")], capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "2 []"), done.stderr
    write(root / "a.yaml", YAML_CARD.replace("time: 3", "time: 4"))  # the coding file changed: it runs again
    done = subprocess.run([sys.executable, "-c", script, str(root), str(tmp_path / "cache")], capture_output=True,
                          text=True, timeout=60)
    assert "the sandbox ran" in done.stderr


def test_imported_coding_cards_are_checked_like_deck_files(tmp_path: Path) -> None:
    note = formats.parse_bytes(tmp_path / "a.yaml", tmp_path, YAML_CARD.encode()).notes[0]
    assert formats.validate_note(note, tmp_path) == []
    assert note.code is not None
    note.code = CodeSpec(note.code.solution, note.code.solution, note.code.tests)
    note.a = ""
    assert [p.message for p in formats.validate_note(note, tmp_path)] == [
        "the stub passes all 2 tests: the tests cannot tell it from a solution"]


def test_prep_check_on_a_coding_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "decks" / "a.yaml", YAML_CARD)
    write(tmp_path / "decks" / "b.md", MARKDOWN_CARD.replace("code-add", "code-add-2").replace("add(a, b)`.",
                                                                                               "add(a, b)`, again."))
    result = CliRunner().invoke(cli, ["check", "--decks", "decks"], catch_exceptions=False)
    assert result.output == "2 notes in 2 files: no problems.\n" and result.exit_code == 0


def test_the_authoring_guide_examples_are_valid_coding_cards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    guide = (Path(__file__).parent.parent / "docs" / "authoring.md").read_text(encoding="utf-8")
    section = guide[guide.index("## Coding cards"):guide.index("## Tags")]
    yaml_example = re.search(r"```yaml\n(.+?)\n```\n", section, re.S).group(1)
    markdown_example = re.search(r"````markdown\n(.+?)\n````\n", section, re.S).group(1)
    write(tmp_path / "a.yaml", "cards:\n" + yaml_example + "\n")
    write(tmp_path / "b.md", markdown_example + "\n")
    monkeypatch.chdir(tmp_path)
    assert check(tmp_path) == []
    assert [note.kind for note in decks.load(tmp_path).notes] == ["code", "code"]
