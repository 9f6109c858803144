"""Pictures in the drill: when the terminal is asked, what it answers, which files are drawn, and
`prep review` in a fake kitty terminal."""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pexpect
import pytest
from PIL import Image
from rich.console import Console

from prep import config, images
from prep.errors import ConfigError
from tests.conftest import NOW, write

XTERM = {"TERM": "xterm-256color"}


@pytest.mark.parametrize("setting, environ, is_terminal, expected", [
    ("auto", XTERM, True, True),
    ("auto", {"TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1"}, True, True),
    ("off", {"TERM": "xterm-kitty"}, True, False),
    ("on", XTERM, False, False),  # output to a file or pipe never gets escape sequences
    ("auto", {"TERM": "dumb"}, True, False),
    ("auto", {}, True, False),
    ("auto", {"TERM": "tmux-256color", "TMUX": "/tmp/tmux-1/default,1,0"}, True, False),
    ("auto", {"TERM": "xterm-kitty", "TMUX": "/tmp/tmux-1/default,1,0"}, True, False),
    ("auto", {"TERM": "screen.xterm-256color"}, True, False),
    ("auto", {"TERM": "xterm", "STY": "1.pts-0.host"}, True, False),
    ("on", {"TERM": "tmux-256color", "TMUX": "/tmp/tmux-1/default,1,0"}, True, True),
])
def test_the_terminal_is_asked_only_where_pictures_can_work(setting, environ, is_terminal, expected) -> None:
    assert images.should_probe(setting, environ, is_terminal) is expected


def terminal(replies: bytes) -> tuple[int, int, int]:
    """A fake terminal: (the fd the probe reads, the fd it writes, the fd where its queries arrive)."""
    keys_read, keys_write = os.pipe()
    os.write(keys_write, replies)
    os.close(keys_write)
    out_read, out_write = os.pipe()
    return keys_read, out_write, out_read


def run_probe(replies: bytes, tmux: bool = False) -> tuple[str | None, str, bytes, tuple[int, int] | None]:
    read_fd, write_fd, sent_fd = terminal(replies)
    try:
        probed = images.probe(read_fd, write_fd, tmux, seconds=0.3)
        os.close(write_fd)
        return probed.protocol, probed.keys, os.read(sent_fd, 4096), probed.cell
    finally:
        os.close(read_fd)
        os.close(sent_fd)


def test_kitty_is_recognised_and_keys_typed_meanwhile_are_kept() -> None:
    protocol, keys, sent, _ = run_probe(b"j\x1b_Gi=31;OK\x1b\\k\x1b[?62;22c3")
    assert protocol == "kitty"
    assert keys == "jk3"  # before, between and after the replies: none lost
    assert sent.startswith(b"\x1b_Gi=31,") and sent.endswith(b"\x1b[c")


def test_sixel_is_recognised_from_the_device_attributes() -> None:
    assert run_probe(b"\x1b[?62;4;22c")[:2] == ("sixel", "")


def test_the_cell_size_is_asked_with_the_graphics_so_textual_image_need_not_ask() -> None:
    protocol, keys, sent, cell = run_probe(b"\x1b[6;20;10t\x1b[?62;4c")
    assert (protocol, keys, cell) == ("sixel", "", (10, 20))
    assert b"\x1b[16t" in sent
    assert run_probe(b"\x1b[6;0;0t\x1b[?62c")[3] is None  # a terminal that does not know: textual-image's default


def test_a_terminal_without_graphics() -> None:
    assert run_probe(b"\x1b[?1;2c")[:2] == (None, "")
    assert run_probe(b"\x1b_Gi=31;ENOTSUPPORTED:no\x1b\\\x1b[?62c")[:2] == (None, "")


def test_a_terminal_that_never_answers_costs_a_fraction_of_a_second() -> None:
    read_fd, silent = os.pipe()  # nothing is ever written: the probe must not wait for end of input
    queries, write_fd = os.pipe()
    try:
        started = time.monotonic()
        assert images.probe(read_fd, write_fd, seconds=0.3) == images.Probed(None, "")
        assert time.monotonic() - started < 1
    finally:
        for fd in (read_fd, silent, queries, write_fd):
            os.close(fd)


def test_under_tmux_the_kitty_query_is_passed_through() -> None:
    sent = run_probe(b"\x1b[?62c", tmux=True)[2]
    assert sent.startswith(b"\x1bPtmux;\x1b\x1b_Gi=31,")


def png(path: Path, size: tuple[int, int] = (40, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, "orange").save(path)
    return path


def bomb(path: Path, side: int = 100_000) -> Path:
    """A 60-byte PNG whose header claims side x side pixels (30 GB decoded for the default)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_only_decodable_regular_files_of_sane_size_are_drawn(tmp_path: Path) -> None:
    assert images.decoded(png(tmp_path / "ok.png")).size == (40, 20)
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)  # opening it for reading would block without O_NONBLOCK
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((tmp_path / "ok.png").read_bytes()[:60])
    cases = {
        tmp_path / "missing.png": "file not found",
        tmp_path: "not a regular file",
        fifo: "not a regular file",
        Path("/dev/zero"): "not a regular file",
        write(tmp_path / "notes.png", "not a picture\n"): "not an image",
        bomb(tmp_path / "bomb.png"): "too many pixels",  # Pillow's own limit refuses it
        bomb(tmp_path / "big.png", 8000): r"too many pixels to draw \(8000x8000\)",  # under Pillow's, over prep's
        truncated: "damaged image",
    }
    for path, reason in cases.items():
        with pytest.raises(ValueError, match=reason):
            images.decoded(path)


@pytest.fixture
def no_keys() -> int:
    """A terminal nobody types into."""
    fd = os.open(os.devnull, os.O_RDONLY)
    yield fd
    os.close(fd)


def kitty_pictures(read_fd: int, write_fd: int = -1) -> images.Pictures:
    pictures = images.Pictures("auto", read_fd, write_fd, lambda keys: None, is_terminal=False)
    pictures.asked, pictures.protocol = True, "kitty"  # as if the terminal had said so
    return pictures


def console() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=60, height=30)


def test_a_picture_fits_the_width_and_a_third_of_the_rows(tmp_path: Path, no_keys: int) -> None:
    rows, prefix, note = kitty_pictures(no_keys).lines(console(), png(tmp_path / "wide.png", (600, 100)))
    assert (prefix, note) == ("", "")
    assert 1 <= len(rows) <= 10 and "\U0010eeee" in rows[0]
    rows, _, _ = kitty_pictures(no_keys).lines(console(), png(tmp_path / "tall.png", (100, 2000)))
    assert len(rows) == 10


def test_a_picture_that_cannot_be_drawn_is_a_note(tmp_path: Path, no_keys: int) -> None:
    pictures = kitty_pictures(no_keys)
    assert pictures.lines(console(), bomb(tmp_path / "bomb.png")) == ([], "", "too many pixels to draw")
    assert pictures.lines(console(), tmp_path / "gone.png") == ([], "", "file not found")


def test_many_large_pictures_on_a_card_are_bounded_in_memory_and_count(tmp_path: Path, no_keys: int) -> None:
    pictures = kitty_pictures(no_keys)
    paths = [png(tmp_path / f"big{n}.png", (4000, 3000)) for n in range(images.MAX_PICTURES + 2)]  # 36 MB each decoded
    drawn = [pictures.lines(console(), path) for path in paths]
    assert all(rows for rows, _, _ in drawn[:images.MAX_PICTURES])
    assert drawn[-1] == ([], "", f"only the first {images.MAX_PICTURES} pictures of a card are drawn")
    assert pictures.lines(console(), paths[0])[0]  # a picture already drawn is drawn again on a redraw
    # what is kept for redraws is what the screen can show, not the file's 12 megapixels
    assert images.decoded(paths[0], (600, 480)).size == (600, 450)
    assert images.decoded(png(tmp_path / "small.png"), (600, 480)).size == (40, 20)  # never enlarged


def test_pictures_off_draw_nothing_and_ask_nothing(tmp_path: Path) -> None:
    pictures = images.Pictures("off", -1, -1, lambda keys: None)  # any query would fail on fd -1
    assert pictures.lines(console(), png(tmp_path / "a.png")) == ([], "", "")


def test_leaving_a_card_frees_its_kitty_pictures(tmp_path: Path, no_keys: int) -> None:
    read_fd, write_fd = os.pipe()
    try:
        pictures = kitty_pictures(no_keys, write_fd)
        pictures.lines(console(), png(tmp_path / "a.png"))
        (picture, _, _, _), = pictures.shown.values()
        pictures.clear()
        assert os.read(read_fd, 4096) == f"\x1b_Ga=d,d=I,i={picture.terminal_image_id},q=2\x1b\\".encode()
        assert not pictures.shown
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_sixel_picture_cut_by_the_pager_is_not_drawn_over_the_lines_above() -> None:
    lines = ["text", "    ", "    ", "\x1b7\x1b[2A\x1bPq#0!4~\x1b\\\x1b8image: file:///a.png", "more"]
    assert images.window(lines, 1, 4) == lines[1:]
    assert images.window(lines, 2, 2) == ["    ", "image: file:///a.png"]


def test_the_images_setting(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "images: off\n")  # YAML's bare off is false
    assert config.load(path).images == "off"
    assert config.load(tmp_path / "none.yaml").images == "auto"
    assert config.load(tmp_path / "none.yaml", {"images": "on"}).images == "on"
    with pytest.raises(ConfigError, match="images must be auto, off or on"):
        config.load(tmp_path / "none.yaml", {"images": "sometimes"})


QUERY = re.compile(r"\x1b_G[^\x1b]*a=q[^\x1b]*\x1b\\")


def picture_decks(tmp_path: Path) -> Path:
    decks = tmp_path / "work" / "decks"
    png(decks / "img" / "dot.png")
    write(decks / "pics.md", "<!-- id: plain -->\nQ: A card without a picture?\nA: Yes.\n\n---\n\n"
                             "<!-- id: pic -->\nQ: What colour is this? ![dot](img/dot.png)\nA: Orange.\n")
    return decks


def review(decks: Path, home: Path, **environ: str) -> pexpect.spawn:
    env = {**os.environ, "PREP_HOME": str(home), "PREP_NOW": NOW, "TZ": "UTC", "TERM": "xterm-kitty",
           "COLORTERM": "truecolor", "KITTY_WINDOW_ID": "1", **environ}
    for name in ("TMUX", "STY"):
        if name not in environ:
            env.pop(name, None)
    return pexpect.spawn(sys.executable, ["-m", "prep", "review"], cwd=str(decks.parent), env=env,
                         encoding="utf-8", dimensions=(40, 100), timeout=20)


def answer_until(child: pexpect.spawn, pattern: str, typed: str = "", attributes: str = "\x1b[?62;c") -> str:
    """Play kitty: answer its graphics query and device attributes until `pattern`; all output meanwhile.
    `typed` is sent just before the first reply, as keys pressed while the terminal was asked."""
    seen = ""
    while True:
        index = child.expect([QUERY.pattern, r"\x1b\[c", pattern])
        seen += child.before + (child.after if isinstance(child.after, str) else "")
        if index == 0:
            child.send(typed + "\x1b_G" + re.search(r"i=(\d+)", child.after).group(0) + ";OK\x1b\\")
            typed = ""
        elif index == 1:
            child.send(attributes)
        else:
            return seen


def test_review_in_kitty_draws_the_picture_only_on_the_card_with_one(tmp_path: Path, isolated: Path) -> None:
    child = review(picture_decks(tmp_path), isolated)
    first = answer_until(child, "show answer")
    assert "A card without a picture?" in first
    assert "\x1b_G" not in first  # no query, no picture, and neither Pillow nor textual-image loaded
    child.send(" ")
    answer_until(child, "1-4: rate")
    child.send("3")
    second = answer_until(child, "show answer")
    assert "What colour is this?" in second
    assert re.search(r"\x1b_G[^\x1b]*f=100", second)  # the picture sent
    assert "\U0010eeee" in second  # and placed
    assert re.search(r"file://\S*/img/dot.png", second)  # the link stays
    assert "Traceback" not in second and "Failed" not in second  # nothing the library logs reaches the screen
    child.send("q")
    rest = answer_until(child, pexpect.EOF)
    assert re.search(r"\x1b_Ga=d,d=I,i=\d+", rest)  # freed on leaving the card
    child.close()
    assert child.exitstatus == 0


def test_review_under_tmux_shows_links_and_sends_no_graphics(tmp_path: Path, isolated: Path) -> None:
    child = review(picture_decks(tmp_path), isolated, TMUX="/tmp/tmux-1/default,1,0")
    answer_until(child, "show answer")
    child.send(" ")
    answer_until(child, "1-4: rate")
    child.send("3")
    second = answer_until(child, "show answer")
    assert "What colour is this?" in second and "dot.png" in second
    child.send("q")
    second += answer_until(child, pexpect.EOF)
    assert "\x1b_G" not in second and "\x1bPtmux" not in second
    child.close()
    assert child.exitstatus == 0


def test_the_pager_counts_the_pictures_rows(tmp_path: Path, isolated: Path) -> None:
    decks = tmp_path / "work" / "decks"
    png(decks / "img" / "dot.png")
    items = "\n".join(f"- item {n}" for n in range(1, 41))
    write(decks / "tall.md", f"<!-- id: tall -->\nQ: A long list? ![dot](img/dot.png)\nA: {items}\n")
    env = dict(TERM="xterm-kitty", COLORTERM="truecolor", PREP_HOME=str(isolated), PREP_NOW=NOW, TZ="UTC")
    child = pexpect.spawn(sys.executable, ["-m", "prep", "review"], cwd=str(decks.parent), encoding="utf-8",
                          env={**{k: v for k, v in os.environ.items() if k not in ("TMUX", "STY")}, **env},
                          dimensions=(21, 80), timeout=20)
    answer_until(child, "show answer")
    child.send(" ")
    screen = answer_until(child, "1-4: rate")
    screen = (screen + answer_until(child, "i: info"))
    screen = screen[screen.rfind("\x1b[2J"):]
    lines = screen.split("\r\n")
    assert sum("\U0010eeee" in line for line in lines) == 21 // 3  # the picture, a third of the rows
    assert len(lines) <= 20  # and counted: nothing scrolled off the top
    assert re.search(r"lines 1-\d+ of \d+", screen) and "A long list?" in screen and "item 40" not in screen
    child.send("q")
    answer_until(child, pexpect.EOF)
    child.close()


def test_the_drill_loads_no_image_library_until_a_card_has_an_image() -> None:
    code = "import sys, prep.cli, prep.drill, prep.images; print(sorted({'PIL', 'textual_image'} & set(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_a_key_pressed_while_the_terminal_is_asked_is_not_lost(tmp_path: Path, isolated: Path) -> None:
    child = review(picture_decks(tmp_path), isolated)
    answer_until(child, "show answer")
    child.send(" ")
    answer_until(child, "1-4: rate")
    child.send("3")
    shown = answer_until(child, "1-4: rate", typed=" ")  # the space reveals the picture card's answer
    assert "Orange." in shown
    child.send("q")
    answer_until(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_review_in_a_sixel_terminal_draws_sixel_over_blank_rows(tmp_path: Path, isolated: Path) -> None:
    child = review(picture_decks(tmp_path), isolated, TERM="xterm-256color", KITTY_WINDOW_ID="")
    sixel = "\x1b[?62;4;22c"  # device attributes with 4: sixel graphics
    assert "\x1bP" not in answer_until(child, "show answer", attributes=sixel)
    child.send(" ")
    answer_until(child, "1-4: rate", attributes=sixel)
    child.send("3")
    shown = answer_until(child, "show answer", attributes=sixel)
    drawing = re.search(r"\x1b7\x1b\[(\d+)A\x1bP[^\x1b]*\x1b\\\x1b8", shown)
    assert drawing and int(drawing.group(1)) == 40 // 3  # drawn upwards over the rows kept blank for it
    assert re.search(r"\x1b8\S*\x1b\[2mimage:", shown)  # from the link's line, which stays
    assert not re.search(r"\x1b_G[^\x1b]*f=100", shown)  # and no kitty picture
    child.send("q")
    answer_until(child, pexpect.EOF, attributes=sixel)
    child.close()
    assert child.exitstatus == 0


def test_kitty_under_tmux_needs_a_textual_image_that_passes_through(tmp_path: Path) -> None:
    import importlib.util

    read_fd, write_fd, sent_fd = terminal(b"\x1b_Gi=31;OK\x1b\\\x1b[?62c")  # kitty, through tmux's passthrough
    try:
        pictures = images.Pictures("on", read_fd, write_fd, lambda keys: None,
                                   environ={"TERM": "tmux-256color", "TMUX": "/tmp/tmux-1/default,1,0"})
        pictures.lines(console(), png(tmp_path / "a.png"))
        passes_through = importlib.util.find_spec("textual_image._tmux") is not None  # 0.13 on (Python 3.12 on)
        assert pictures.protocol == ("kitty" if passes_through else None)
        assert os.read(sent_fd, 4096).startswith(b"\x1bPtmux;")
    finally:
        for fd in (read_fd, write_fd, sent_fd):
            os.close(fd)


def slow_terminal(child: pexpect.spawn, delay: float, seconds: float) -> str:
    """Play a kitty terminal whose every reply takes `delay` seconds (ssh across an ocean), for `seconds`."""
    seen, pending = "", []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            index = child.expect([QUERY.pattern, r"\x1b\[c", r"\x1b\[16t"], timeout=0.02)
            seen += child.before + child.after
            replies = ["\x1b[?62;22c", "\x1b[6;20;10t"]
            reply = ("\x1b_G" + re.search(r"i=(\d+)", child.after).group(0) + ";OK\x1b\\" if index == 0
                     else replies[index - 1])
            pending.append((time.monotonic() + delay, reply))
        except pexpect.TIMEOUT:
            pass
        for due, reply in [item for item in pending if item[0] <= time.monotonic()]:
            child.send(reply)
            pending.remove((due, reply))
    return seen


@pytest.mark.parametrize("delay", [0.15, 0.3, 0.8])  # within the probe's wait, and after it
def test_a_slow_terminals_replies_never_rate_a_card(tmp_path: Path, isolated: Path, delay: float) -> None:
    decks = tmp_path / "work" / "decks"
    png(decks / "img" / "dot.png")
    write(decks / "pics.md", "<!-- id: pic -->\nQ: What colour?\nA: Orange. ![dot](img/dot.png)\n\n---\n\n"
                             "<!-- id: two -->\nQ: Second?\nA: Yes.\n")
    child = review(decks, isolated)
    child.expect("show answer")
    child.send(" ")  # the picture is in the answer: the terminal is asked with the rating keys live
    seen = slow_terminal(child, delay, 2.5)
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert "saved:" not in child.before and "Reviewed 0 cards." in child.before  # the replies' digits were no keys
    # asked once, by prep's probe: textual-image's own queries wait 0.1 s, then read a late reply's first
    # bytes as theirs, leaving its digits to the drill, and eat any key typed meanwhile
    assert (len(QUERY.findall(seen)), seen.count("\x1b[c"), seen.count("\x1b[16t")) == (1, 1, 1)
