"""Handing the terminal to $EDITOR from the drill: the editor gets it as the drill found it, and the
drill gets its own mode back (through a real pseudo-terminal, for each key that opens an editor)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import NOW, write
from tests.test_codecheck import YAML_CARD

# The editor records whether its terminal reads lines and echoes them (what the drill's cbreak mode
# turns off), and writes an answer so that a typed answer is not empty.
EDITOR = ("import os, sys, termios\n"
          "flags = termios.tcgetattr(sys.stdin.fileno())[3]\n"
          "with open(os.environ['TTY_RECORD'], 'a') as out:\n"
          "    out.write(f'{bool(flags & termios.ICANON)} {bool(flags & termios.ECHO)}\\n')\n"
          "if sys.argv[-1].endswith('answer.md'):\n"
          "    open(sys.argv[-1], 'w').write('an answer')\n")


def drill(tmp_path: Path, decks: Path, editor_source: str = EDITOR) -> tuple[pexpect.spawn, Path]:
    editor = write(tmp_path / "editor.py", editor_source)
    env = dict(os.environ, PREP_HOME=str(tmp_path / "home"), PREP_NOW=NOW, TERM="xterm", TZ="UTC",
               EDITOR=f"{sys.executable} {editor}", TTY_RECORD=str(tmp_path / "tty"))
    child = pexpect.spawn(sys.executable, ["-m", "prep", "review", "--decks", str(decks)], env=env,
                          encoding="utf-8", dimensions=(40, 100), timeout=20)
    return child, tmp_path


def records(folder: Path) -> list[str]:
    """What each editor run found: 'line-reading echoing' flags."""
    return (folder / "tty").read_text().splitlines()


@pytest.mark.parametrize("key", ["e", "t"])
def test_the_editor_gets_a_line_reading_echoing_terminal_and_the_drill_gets_its_keys_back(
        tmp_path: Path, key: str) -> None:
    decks = write(tmp_path / "decks" / "a.yaml", "cards:\n  - {id: a, q: 'Question?', a: 'Answer.'}\n").parent
    child, folder = drill(tmp_path, decks)
    child.expect("show answer")
    child.send(key)
    child.expect("Reloaded the edited card|an answer")
    assert records(folder) == ["True True"]  # not the drill's cbreak mode (no line editing, no echo)
    child.send(" " if key == "e" else "")
    child.expect("1-4: rate")
    child.send("3")  # one key press, no Enter: the drill's own mode is back
    child.expect("saved: Good")
    child.send("q")
    child.expect(pexpect.EOF)


def test_a_coding_card_editor_gets_the_terminal_as_the_drill_found_it(tmp_path: Path) -> None:
    decks = write(tmp_path / "decks" / "code.yaml", YAML_CARD).parent
    child, folder = drill(tmp_path, decks)
    child.expect("q: quit")
    child.send("e")
    child.expect("running the tests|failed|passed")
    assert records(folder) == ["True True"]
    child.send("q")
    child.expect(pexpect.EOF)


def reveal_then_quit(child: pexpect.spawn, rate: bool = False) -> None:
    """Show the answer, rate it Good when asked (one key: the drill's own mode is back), then quit."""
    child.send(" ")
    child.expect("1-4: rate")
    if rate:
        child.send("3")
        child.expect("saved: Good")
    child.send("q")
    child.expect(pexpect.EOF)


# An editor that, as vim does, takes Ctrl-C as a key of its own (it leaves insert mode) and goes on.
CTRL_C_EDITOR = ("import signal, sys\n"
                 "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                 "print('editing', flush=True)\n"
                 "line = sys.stdin.readline()\n"
                 "open(sys.argv[-1], 'w').write('typed ' + line)\n")


def test_ctrl_c_in_the_editor_is_the_editors_and_neither_ends_the_drill_nor_kills_the_editor(
        tmp_path: Path) -> None:
    decks = write(tmp_path / "decks" / "a.yaml", "cards:\n  - {id: a, q: 'Question?', a: 'Answer.'}\n").parent
    child, _ = drill(tmp_path, decks, CTRL_C_EDITOR)
    child.expect("show answer")
    child.send("t")
    child.expect("editing")
    child.sendcontrol("c")
    child.sendline("my answer")
    child.expect("typed my answer")  # the editor finished and the drill shows what it wrote
    reveal_then_quit(child, rate=True)


# An editor that dies before it restores the terminal: left in raw mode (no signals, no output processing).
RAW_EDITOR = ("import sys, tty\n"
              "tty.setraw(sys.stdin.fileno())\n"
              "open(sys.argv[-1], 'w').write('an answer')\n")


def test_the_drill_gets_its_own_mode_back_after_an_editor_left_the_terminal_raw(tmp_path: Path) -> None:
    import termios

    decks = write(tmp_path / "decks" / "a.yaml", "cards:\n  - {id: a, q: 'Question?', a: 'Answer.'}\n").parent
    child, _ = drill(tmp_path, decks, RAW_EDITOR)
    child.expect("show answer")
    drills_mode = termios.tcgetattr(child.child_fd)
    child.send("t")
    child.expect("an answer")
    assert termios.tcgetattr(child.child_fd) == drills_mode  # Ctrl-Z works, lines start at the left again
    reveal_then_quit(child)


# An editor that waits for a line, so that Ctrl-Z comes while it runs, and then shows its terminal's mode.
LINE_EDITOR = ("import sys, termios\n"
               "print('editing', flush=True)\n"
               "line = sys.stdin.readline()\n"
               "flags = termios.tcgetattr(sys.stdin.fileno())[3]\n"
               "mode = f'{bool(flags & termios.ICANON)} {bool(flags & termios.ECHO)}'\n"
               "open(sys.argv[-1], 'w').write(f'typed {line.strip()} in {mode}')\n")


def test_ctrl_z_in_the_editor_stops_drill_and_editor_and_fg_gives_both_back(tmp_path: Path) -> None:
    import shlex

    decks = write(tmp_path / "decks" / "a.yaml", "cards:\n  - {id: a, q: 'Question?', a: 'Answer.'}\n").parent
    editor = write(tmp_path / "editor.py", LINE_EDITOR)
    env = dict(os.environ, PREP_HOME=str(tmp_path / "home"), PREP_NOW=NOW, TERM="xterm", TZ="UTC",
               EDITOR=f"{sys.executable} {editor}")
    command = f"set -m; {shlex.quote(sys.executable)} -m prep review --decks {shlex.quote(str(decks))}; fg"
    child = pexpect.spawn("bash", ["-c", command], env=env, encoding="utf-8", dimensions=(40, 100), timeout=20)
    child.expect("show answer")
    child.send("t")
    child.expect("editing")
    child.sendcontrol("z")
    child.expect("Stopped")  # the shell has the terminal: the drill and its editor stopped together
    child.sendline("my answer")  # after fg the editor reads the line
    child.expect("typed my answer in True True")  # the drill did not take the terminal back on fg
    child.send(" ")
    child.expect("1-4: rate")
    child.send("3")  # one key, no Enter: the drill's mode is back
    child.expect("saved: Good")
    child.send("q")
    child.expect(pexpect.EOF)


def test_a_blank_visual_falls_back_to_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prep import terminal

    target = tmp_path / "note.txt"
    monkeypatch.setenv("VISUAL", "  ")
    monkeypatch.setenv("EDITOR", f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write('edited')\"")
    assert terminal.run_editor([str(target)]) == ""
    assert target.read_text() == "edited"
    monkeypatch.setenv("EDITOR", " ")
    assert terminal.run_editor([str(target)]) == "Could not start the editor: $EDITOR is blank"
