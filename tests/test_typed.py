"""Typed answers: the word diff, and `prep review` with t (or typed_answers on) through a pseudo-terminal."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
from rich.console import Console

from prep import typed
from tests.conftest import NOW, query, write
from tests.test_drill import ANSI, last_screen

LONG = " ".join(f"word{i}" for i in range(typed.SHORT_ANSWER_WORDS))


def plain(markup: str) -> str:
    console = Console(width=200, color_system=None)
    with console.capture() as capture:
        console.print(markup)
    return capture.get().strip()


def test_the_diff_marks_missing_words_and_strikes_extra_ones() -> None:
    diff = typed.word_diff("a model fitting the noise", "A model that fits **noise**.")
    assert plain(diff) == "A model -fitting -the +that +fits noise."
    assert "[red strike]-fitting[/]" in diff and "[green]+that[/]" in diff


def test_case_and_punctuation_do_not_count_and_long_answers_get_no_diff() -> None:
    assert plain(typed.word_diff("bias, VARIANCE", "Bias; variance.")) == "Bias; variance."
    assert typed.word_diff("anything", LONG) is None
    assert typed.word_diff("anything", LONG.rsplit(" ", 1)[0]) is not None  # one word under the limit
    assert typed.word_diff("   ", "An answer.") is None


def test_typed_words_cannot_inject_markup_or_terminal_codes() -> None:
    diff = typed.word_diff("x[bold]y[/]z \x1b[2Jwipe back\\ tail", "tail")
    shown = plain(diff)
    assert shown == "-x[bold]y[/]z -\\x1b[2Jwipe -back\\ tail"  # shown as typed, the escape code made visible
    assert "[red strike]-back\\\\[/]" in diff  # a trailing backslash escaped: it cannot swallow the closing tag


def spawn(tmp_path: Path, home: Path, text: str) -> pexpect.spawn:
    """`prep review` in a pseudo-terminal with an EDITOR that writes `text` as the answer."""
    editor = write(tmp_path / "editor.py",
                   "import sys, pathlib\n"
                   "path = pathlib.Path(sys.argv[1])\n"
                   f"pathlib.Path({str(tmp_path / 'seen')!r}).write_text(path.read_text())\n"
                   f"path.write_text({text!r} + '\\n' + path.read_text())\n"
                   f"pathlib.Path({str(tmp_path / 'calls')!r}).open('a').write('x')\n")
    env = dict(os.environ, PREP_HOME=str(home), PREP_NOW=NOW, TERM="xterm", COLUMNS="100", TZ="UTC",
               EDITOR=f"{sys.executable} {editor}")
    env.pop("VISUAL", None)
    return pexpect.spawn(sys.executable, ["-m", "prep", "review"], cwd=str(tmp_path / "work"), env=env,
                         encoding="utf-8", dimensions=(50, 100), timeout=20)


def short_deck(tmp_path: Path) -> None:
    write(tmp_path / "work" / "decks" / "d.yaml",
          "cards:\n  - {id: over, q: 'What is overfitting?', a: 'A model that fits noise in the training data.'}\n"
          f"  - {{id: long, q: 'Explain at length.', a: '{LONG}'}}\n")


def answered(tmp_path: Path, home: Path, settings: str, answer: str, key: str) -> tuple[pexpect.spawn, str]:
    """The short deck reviewed with `settings`: `key` pressed on the first question, the editor typing
    `answer`; the session and the answer screen's text."""
    write(home / "config.yaml", f"enable_fuzzing: false\n{settings}")
    short_deck(tmp_path)
    child = spawn(tmp_path, home, answer)
    last_screen(child, "t: type your answer")
    child.send(key)
    return child, last_screen(child, "1-4: rate")


def test_t_types_an_answer_shown_above_the_model_answer_with_a_diff(tmp_path: Path, isolated: Path) -> None:
    child, text = answered(tmp_path, isolated, "", "A model fitting noise in training data", "t")
    assert text.index("your answer") < text.index("A model fitting noise in training data") < text.index("model answer")
    assert "A model -fitting +that +fits noise in +the training data." in text
    assert "+word" in text  # the legend
    child.send("3")
    text = last_screen(child, "t: type your answer")  # the long card, next
    child.send("t")
    text = last_screen(child, "1-4: rate")
    assert "A model fitting noise" in text and "word39" in text
    assert "compared word by word" not in text  # a long answer: no diff
    child.send("3")
    child.expect("saved: Good")  # a learning step comes back within the session: quit here
    child.send("q")
    child.expect(pexpect.EOF)
    assert "# Explain at length." in (tmp_path / "seen").read_text()  # the question is in the editor's file
    assert query(isolated / "prep.db", "SELECT card_id, rating FROM reviews ORDER BY id") == [("over", 3), ("long", 3)]


def test_typed_answers_setting_opens_the_editor_on_reveal(tmp_path: Path, isolated: Path) -> None:
    child, text = answered(tmp_path, isolated, "typed_answers: true\n", "a model that fits noise in the training data",
                           " ")
    assert "your answer" in text and "A model that fits noise in the training data." in text
    # typed as the model answer (case aside): the diff line is the model answer with no word marked
    assert "compared word by word" in text and text.count("A model that fits noise in the training data.") == 2
    assert re.search(r"[+-](a|model|that|fits|noise|in|the|training|data)\b", text, re.I) is None
    child.send("q")
    child.expect(pexpect.EOF)
    assert (tmp_path / "calls").read_text() == "x"


def test_nothing_typed_keeps_the_question_until_space(tmp_path: Path, isolated: Path) -> None:
    short_deck(tmp_path)
    child = spawn(tmp_path, isolated, "")
    last_screen(child, "t: type your answer")
    child.send("t")
    text = last_screen(child, "Nothing typed")
    assert "1-4: rate" not in text and "model answer" not in text
    child.send(" ")
    text = last_screen(child, "1-4: rate")
    assert "your answer" not in ANSI.sub("", text)
    child.send("q")
    child.expect(pexpect.EOF)
