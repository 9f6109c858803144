"""The drill's keys for the card on screen, through a real pseudo-terminal: bury, suspend, flag, info,
undo of each, redraws on resize and Ctrl-Z/fg, the pager of a tall card, and image links."""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
import termios
import time
from pathlib import Path

import pexpect

from tests.conftest import NOW, query, write
from tests.test_drill import ANSI, CLOCKS, last_screen, plain_decks, screen, spawn, zone_for


def env_for(home: Path, now: str | None, **extra: str) -> dict[str, str]:
    """`prep review`'s environment without COLUMNS, so the terminal's own size is the width."""
    env = dict(os.environ, PREP_HOME=str(home), TERM="xterm", TZ=zone_for(now), **extra)
    for name in ("PREP_NOW", "COLUMNS", "LINES"):
        env.pop(name, None)
    if now is not None:
        env["PREP_NOW"] = now
    return env


def review(decks: Path, home: Path, *args: str, now: str | None = NOW, rows: int = 50, columns: int = 100,
           **extra: str) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "prep", "review", *args], cwd=str(decks.parent),
                         env=env_for(home, now, **extra), encoding="utf-8", dimensions=(rows, columns), timeout=20)


def quit_drill(child: pexpect.spawn) -> str:
    child.send("q")
    child.expect(pexpect.EOF)
    return ANSI.sub("", child.before)


@CLOCKS
def test_bury_suspend_and_flag_are_stored_and_undo_takes_each_back(tmp_path: Path, isolated: Path,
                                                                   now: str | None) -> None:
    decks = plain_decks(tmp_path, 4)
    child = spawn(decks, isolated, now=now)
    text = last_screen(child, "i: info")
    assert "Question 0?" in text and "(4 new · 0 learning · 0 review)" in text
    assert "q: quit\r\nb: bury · !: suspend · f: flag · " in text
    child.send("f")
    text = last_screen(child, "Flagged red.")  # the message is under the help lines
    assert "⚑ red flag" in text and "Question 0?" in text
    child.send("f")
    assert "⚑ orange flag" in last_screen(child, "show answer")
    assert query(isolated / "prep.db", "SELECT card_id, flag FROM flags") == [("q0", 2)]
    child.send("b")
    text = last_screen(child, "show answer")
    assert "buried until tomorrow: q0" in text and "Question 1?" in text and "(3 new" in text
    assert query(isolated / "prep.db", "SELECT card_id, kind FROM skips") == [("q0", "bury")]
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("!")  # with the answer shown, too
    text = last_screen(child, "show answer")
    assert "suspended: q1" in text and "Question 2?" in text and "(2 new" in text
    assert query(isolated / "prep.db", "SELECT card_id, reason FROM suspended") == [("q1", "manual")]
    child.send("u")
    text = last_screen(child, "show answer")
    assert "undone: q1 (suspension)" in text and "Question 1?" in text and "(3 new" in text
    assert query(isolated / "prep.db", "SELECT * FROM suspended") == []
    child.send("u")
    text = last_screen(child, "show answer")
    assert "undone: q0 (bury)" in text and "Question 0?" in text and "(4 new" in text
    assert query(isolated / "prep.db", "SELECT * FROM skips") == []
    child.send("u")
    last_screen(child, "Nothing to undo in this session.")
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("3")
    assert "Question 1?" in last_screen(child, "show answer")
    child.send("!")
    assert "Question 2?" in last_screen(child, "show answer")
    child.send("u")  # the last action, a suspension, then the rating before it
    assert "undone: q1 (suspension)" in last_screen(child, "show answer")
    child.send("u")
    text = last_screen(child, "show answer")
    assert "undone: q0 (Good rating)" in text and "Question 0?" in text
    child.send("b")
    last_screen(child, "show answer")
    assert "Reviewed 0 cards" in quit_drill(child)
    assert query(isolated / "prep.db", "SELECT COUNT(*) FROM reviews") == [(0,)]
    child = spawn(decks, isolated, now=now)  # buried today: a new session today does not show it
    assert "Question 1?" in last_screen(child, "show answer")
    quit_drill(child)


def test_info_shows_the_cards_details_and_history_until_the_next_key(tmp_path: Path, isolated: Path) -> None:
    decks = plain_decks(tmp_path, 1)
    child = spawn(decks, isolated)
    last_screen(child, "show answer")
    child.send("i")
    text = last_screen(child, "No reviews yet.")
    assert "q0  (basic note q0)" in text and "deck: " in text and "state: new (never reviewed)" in text
    assert re.search(r"file: \S*plain\.yaml:2", text), text
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("1")  # Again: back in a minute, within the learn-ahead window
    last_screen(child, "show answer")
    child.send("i")
    text = last_screen(child, "Again  next in 1m")
    assert "state: learning, due" in text and "1 review, 0 lapses:" in text
    child.send("f")
    assert "1 review" not in last_screen(child, "Flagged red.")
    quit_drill(child)


RULE = re.compile(r"─+")


def rule_widths(text: str) -> set[int]:
    return {len(rule) for rule in RULE.findall(text)}


@CLOCKS
def test_a_resize_redraws_the_screen_at_the_new_width(tmp_path: Path, isolated: Path, now: str | None) -> None:
    decks = plain_decks(tmp_path, 2)
    child = review(decks, isolated, now=now, rows=30, columns=100)
    assert rule_widths(last_screen(child, "show answer")) == {100}
    child.send("f")  # a message, kept through the redraw
    last_screen(child, "Flagged red")
    child.setwinsize(30, 60)
    text = last_screen(child, "Flagged red")
    assert rule_widths(text) == {60} and "Question 0?" in text
    child.send(" ")
    text = last_screen(child, "1-4: rate")
    assert rule_widths(text) == {60} and "Answer 0." in text
    child.setwinsize(30, 80)
    text = last_screen(child, "1-4: rate")
    assert rule_widths(text) == {80} and "1 Again" in text
    child.send("3")
    assert "Question 1?" in last_screen(child, "show answer")
    assert "Reviewed 1 card" in quit_drill(child)


def cbreak(fd: int) -> bool:
    return not termios.tcgetattr(fd)[3] & termios.ICANON


@CLOCKS
def test_stop_and_continue_signals_restore_the_terminal_and_redraw(tmp_path: Path, isolated: Path,
                                                                   now: str | None) -> None:
    decks = plain_decks(tmp_path, 2)
    child = review(decks, isolated, now=now)
    last_screen(child, "show answer")
    assert cbreak(child.child_fd)
    os.kill(child.pid, signal.SIGTSTP)  # as Ctrl-Z sends it (no job control here: nothing stops)
    os.kill(child.pid, signal.SIGCONT)  # as fg sends it
    assert "Question 0?" in last_screen(child, "show answer")  # drawn again
    deadline = time.monotonic() + 10
    while not cbreak(child.child_fd) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cbreak(child.child_fd)
    child.send(" ")
    screen(child, "1-4: rate")
    child.send("4")
    assert "Question 1?" in last_screen(child, "show answer")
    assert "Reviewed 1 card" in quit_drill(child)


def test_ctrl_z_in_a_shell_with_job_control_then_fg(tmp_path: Path, isolated: Path) -> None:
    decks = plain_decks(tmp_path, 2)
    command = f"set -m; {shlex.quote(sys.executable)} -m prep review; fg"  # the shell runs fg when it stops
    child = pexpect.spawn("bash", ["-c", command], cwd=str(decks.parent), env=env_for(isolated, NOW),
                          encoding="utf-8", dimensions=(40, 100), timeout=20)
    last_screen(child, "show answer")
    child.sendcontrol("z")
    child.expect("Stopped")  # the shell saw it stop, so the terminal was the shell's
    assert "Question 0?" in last_screen(child, "show answer")  # and after fg it is drawn again
    child.send(" ")  # and keys arrive one at a time again
    screen(child, "1-4: rate")
    child.send("3")
    assert "Question 1?" in last_screen(child, "show answer")
    assert "Reviewed 1 card" in quit_drill(child)


def tall_decks(tmp_path: Path) -> Path:
    answer = "\\n".join(f"- item {n}" for n in range(1, 61))
    write(tmp_path / "work" / "decks" / "tall.yaml",
          f'cards:\n  - {{id: tall, q: "A long list?", a: "{answer}"}}\n  - {{id: short, q: "Short?", a: "Yes."}}\n')
    return tmp_path / "work" / "decks"


def shown_lines(child: pexpect.spawn, pattern: str) -> list[str]:
    """The lines of the screen that ends with `pattern` (the help lines' end)."""
    text = last_screen(child, pattern)
    return text.replace("\x1b[2J", "").replace("\x1b[H", "").split("\r\n")


def test_a_tall_answer_scrolls_between_the_header_and_the_buttons(tmp_path: Path, isolated: Path) -> None:
    decks = tall_decks(tmp_path)
    child = review(decks, isolated, rows=20, columns=80)
    last_screen(child, "i: info")
    child.send(" ")
    lines = shown_lines(child, "i: info")
    assert len(lines) <= 19  # the last row stays free: nothing scrolled off the top
    text = "\n".join(lines)
    assert lines[0].startswith("prep · ") and "A long list?" in text and "1 Again" in text
    assert "item 1" in text and "item 60" not in text
    first = re.search(r"lines 1-(\d+) of (\d+)", text)
    assert first, text
    page, total = int(first.group(1)), int(first.group(2))
    assert total >= 60
    child.send("j")
    text = "\n".join(shown_lines(child, "i: info"))
    assert f"lines 2-{page + 1} of {total}" in text and "1 Again" in text and "A long list?" in text
    child.send("k")
    assert f"lines 1-{page} of {total}" in "\n".join(shown_lines(child, "i: info"))
    for _ in range(total // max(1, page - 1) + 1):  # space pages down, stopping at the last line
        child.send(" ")
        text = "\n".join(lines := shown_lines(child, "i: info"))
        assert len(lines) <= 19 and lines[0].startswith("prep · ") and "1 Again" in text
    assert "item 60" in text and f"of {total}" in text and "item 1\n" not in text
    child.send("\x1b[5~")  # PgUp
    assert f"of {total}" in "\n".join(shown_lines(child, "i: info"))
    child.send("3")
    text = last_screen(child, "show answer")
    assert "Short?" in text and "saved: Good" in text and "lines " not in text  # it fits: no pager
    quit_drill(child)


def image_decks(tmp_path: Path) -> Path:
    decks = tmp_path / "work" / "decks"
    write(decks / "img" / "curve.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n')
    write(decks / "figures.md", "# Figures\n\n<!-- id: fig -->\nQ: Which curve is this?\n\n"
                                "![A curve](img/curve.svg)\n\nA: A sigmoid.\n")
    return decks


def test_an_image_is_linked_and_opened_in_the_system_viewer(tmp_path: Path, isolated: Path) -> None:
    decks = image_decks(tmp_path)
    bin_dir, opened = tmp_path / "bin", tmp_path / "opened.txt"
    viewer = write(bin_dir / "xdg-open", f"#!/bin/sh\nprintf '%s\\n' \"$@\" >> {shlex.quote(str(opened))}\n")
    viewer.chmod(0o755)
    child = review(decks, isolated, PATH=str(bin_dir))
    text = last_screen(child, "o: open image")
    image = (decks / "img" / "curve.svg").resolve()
    # the link whole on one line (at 100 columns it goes under its label)
    assert re.search(r"image:\s+" + re.escape(image.as_uri()) + r"\s", text) and "Which curve is this?" in text, text
    child.send("o")
    last_screen(child, "Opened 1 image in xdg-open.")
    deadline = time.monotonic() + 10
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert opened.read_text() == f"{image}\n"  # the path as one argument, no shell in between
    quit_drill(child)


def test_without_a_viewer_the_drill_says_so(tmp_path: Path, isolated: Path) -> None:
    decks = image_decks(tmp_path)
    (tmp_path / "empty").mkdir()
    child = review(decks, isolated, PATH=str(tmp_path / "empty"))
    last_screen(child, "show answer")
    child.send("o")
    last_screen(child, re.escape("No image viewer found (xdg-open); open the file:// link above."))
    quit_drill(child)


def test_a_card_without_images_has_no_image_key(tmp_path: Path, isolated: Path) -> None:
    child = spawn(plain_decks(tmp_path, 1), isolated)
    assert "open image" not in last_screen(child, "show answer")
    child.send("o")
    last_screen(child, "This card has no image.")
    quit_drill(child)


def test_terminal_replies_are_never_keys_even_split_or_unusual() -> None:
    """A reply to the picture probe that comes late reaches the key reader: none of its digits may rate a card."""
    import threading

    from prep.drill import KeyReader

    read_fd, write_fd = os.pipe()
    reader = KeyReader(read_fd)
    replies = [b"\x1b_Gi=31;OK\x1b\\", b"\x1b[?62;4;22c", b"\x1b[>1;4000;0c", b"\x1b[6;20;10t",
               b"\x1b]11;rgb:1111/2222/3333\x07", b"\x1bP1$r0m\x1b\\"]
    try:
        for reply in replies:
            os.write(write_fd, reply)
            assert reader() == reply.decode()
        reader.unread("\x1b[?6")  # the probe gave up half-way through a reply; the rest comes later
        threading.Timer(0.1, os.write, (write_fd, b"2;4c3")).start()
        assert reader() == "\x1b[?62;4c" and reader() == "3"  # a key typed after it is still a key
        os.write(write_fd, b"\x1b_Gi=1;O")
        threading.Timer(0.1, os.write, (write_fd, b"K\x1b\\\x1b[A4")).start()
        assert [reader(), reader(), reader()] == ["\x1b_Gi=1;OK\x1b\\", "\x1b[A", "4"]
        os.write(write_fd, b"\x1b")  # a lone Esc is a key once nothing follows
        assert reader() == "\x1b"
    finally:
        os.close(read_fd)
        os.close(write_fd)
