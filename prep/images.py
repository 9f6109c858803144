"""Pictures in the drill: whether the terminal can show them, and a card's images as terminal lines."""

from __future__ import annotations

import contextlib
import os
import re
import select
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

SETTINGS = ("auto", "off", "on")
MAX_BYTES = 32 * 1024 * 1024  # an image file larger than this is not read
MAX_PIXELS = 40_000_000  # nor one that claims more pixels (a decompression bomb decodes to gigabytes)
MAX_PICTURES = 6  # drawn per card (each is a third of the screen); a card with hundreds would take minutes
CELL_PIXELS = (24, 48)  # the largest cell a picture is kept for (a HiDPI terminal's); textual-image scales down
PROBE_SECONDS = 0.5  # a terminal answers in milliseconds, over ssh in a few hundred; no answer means no pictures

# The probe: a kitty graphics query (a 1x1 image that is never stored), the cell size in pixels, and then
# Primary Device Attributes, which every terminal answers: its reply ends the wait, and its "4" means sixel.
_QUERY_ID = 31
_KITTY_QUERY = f"\x1b_Gi={_QUERY_ID},s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
_CELL_SIZE = "\x1b[16t"
_DEVICE_ATTRIBUTES = "\x1b[c"
_DA_REPLY = re.compile(r"\x1b\[\?([0-9;]*)c")
_KITTY_REPLY = re.compile(r"\x1b_G([^\x1b]*)\x1b\\")
_CELL_REPLY = re.compile(r"\x1b\[6;(\d{1,4});(\d{1,4})t")  # height;width
_CELL_VARIABLES = ("TEXTUAL_CELL_WIDTH", "TEXTUAL_CELL_HEIGHT")  # where textual-image looks when the ioctl has no pixels
_SIXEL_DRAW = re.compile(r"\x1b7\x1b\[(\d+)A")  # how a sixel picture's drawing starts: back up over its rows


def multiplexer(environ: Mapping[str, str]) -> str | None:
    """'tmux' or 'screen' when the drill runs inside one (they swallow graphics unless passed through)."""
    term = environ.get("TERM", "")
    if environ.get("TMUX") or term.startswith("tmux"):
        return "tmux"
    if environ.get("STY") or term.startswith("screen"):
        return "screen"
    return None


def should_probe(setting: str, environ: Mapping[str, str], is_terminal: bool) -> bool:
    """Whether to ask the terminal about graphics at all: never when output is not a terminal or the setting
    is off; under tmux or screen only with `images: on` (tmux needs `set -g allow-passthrough on`)."""
    if setting == "off" or not is_terminal or environ.get("TERM", "") in ("", "dumb"):
        return False
    return setting == "on" or multiplexer(environ) is None


def passthrough(sequence: str) -> str:
    """A sequence wrapped for tmux to hand on to the terminal outside it."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


@dataclass
class Probed:
    """What the terminal said: the graphics protocol it speaks, its cell size, and the keys typed meanwhile."""

    protocol: str | None
    keys: str
    cell: tuple[int, int] | None = None  # (width, height) in pixels


def probe(read_fd: int, write_fd: int, tmux: bool = False, seconds: float = PROBE_SECONDS) -> Probed:
    """Ask the terminal which graphics protocol it speaks ('sixel' | 'kitty' | None) and its cell size.

    The terminal must be in cbreak mode (the drill's KeyboardMode), so its replies are not echoed. Waits
    at most `seconds`; bytes that are not replies are key presses and are handed back, not lost."""
    query = passthrough(_KITTY_QUERY) if tmux else _KITTY_QUERY
    os.write(write_fd, (query + _CELL_SIZE + _DEVICE_ATTRIBUTES).encode("ascii"))
    received = b""
    deadline = time.monotonic() + seconds
    while not _DA_REPLY.search(received.decode("utf-8", "replace")):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([read_fd], [], [], left)[0]:
            break
        data = os.read(read_fd, 1024)
        if not data:
            break
        received += data
    text = received.decode("utf-8", "replace")
    attributes = _DA_REPLY.search(text)
    kitty = any(reply.startswith(f"i={_QUERY_ID}") and reply.endswith(";OK") for reply in _KITTY_REPLY.findall(text))
    size = _CELL_REPLY.search(text)
    cell = (int(size.group(2)), int(size.group(1))) if size and "0" not in (size.group(1), size.group(2)) else None
    keys = _CELL_REPLY.sub("", _DA_REPLY.sub("", _KITTY_REPLY.sub("", text)))
    # As textual-image chooses: sixel first (WezTerm and Konsole answer both, and only sixel works there)
    if attributes and "4" in attributes.group(1).split(";"):
        return Probed("sixel", keys, cell)
    return Probed("kitty" if kitty else None, keys, cell)


def decoded(path: Path, fit: tuple[int, int] | None = None) -> Any:
    """The picture in a regular file, decoded by Pillow and shrunk to fit within `fit` pixels (shape kept);
    ValueError with a short reason when it cannot be shown.

    Never opens anything but a regular file (a FIFO would block, a device never end), and reads the
    header before the pixels so a file claiming a huge size is refused before it is decoded."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ValueError("file not found") from None
    except OSError as error:
        raise ValueError(error.strerror or "cannot be read") from None
    info = os.fstat(descriptor)  # of what was opened, not of what the name points to by now
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        raise ValueError("not a regular file")
    with open(descriptor, "rb") as file:
        if info.st_size > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES // 2**20} MB")
        try:
            data = file.read(MAX_BYTES + 1)  # a file growing since it was measured is read no further
        except OSError as error:
            raise ValueError(error.strerror or "cannot be read") from None
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))  # reads the header only
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(f"too many pixels to draw ({image.width}x{image.height})")
            if fit is not None:
                image.draft("RGB", fit)  # JPEG decodes at a fraction of its size
            image.load()
            if fit is not None:
                image.thumbnail(fit)  # 40 megapixels kept for a third of the screen was 120 MB a picture
        except UnidentifiedImageError:
            raise ValueError("not an image this terminal drawing can read") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValueError("too many pixels to draw") from None
        except (OSError, SyntaxError, EOFError) as error:  # what Pillow's decoders raise on a damaged file
            raise ValueError(f"damaged image ({error})") from None
    return image


@dataclass
class Pictures:
    """A drill session's inline pictures: the terminal asked once, at the first card with an image; each
    picture sent once per card and size; the terminal's copies freed when the card is left."""

    setting: str
    read_fd: int
    write_fd: int
    give_back: Callable[[str], None]  # keys typed while the terminal was asked go back to the drill
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    is_terminal: bool = True
    protocol: str | None = None
    asked: bool = False
    cell: tuple[int, int] | None = None
    shown: dict[tuple[Path, int, int], Any] = field(default_factory=dict)

    def lines(self, console: Any, path: Path) -> tuple[list[str], str, str]:
        """The picture at `path` as (terminal rows, what goes in front of the line after them, a note).

        No rows when pictures are off or this one cannot be drawn; then the note says why, when it should
        have been. A sixel picture is drawn by the prefix, from the line after its blank rows."""
        if self._protocol(console) is None:
            return [], "", ""
        rows = max(3, console.height // 3)
        key = (path, console.width, rows)
        if key not in self.shown and len({shown for shown, _, _ in self.shown} - {path}) >= MAX_PICTURES:
            return [], "", f"only the first {MAX_PICTURES} pictures of a card are drawn"
        if key not in self.shown:  # once per card and size: kitty keeps the picture, sixel is not re-encoded
            self.shown[key] = self._draw(console, path, rows)
        _, lines, prefix, note = self.shown[key]
        return list(lines), prefix, note

    def _draw(self, console: Any, path: Path, rows: int) -> tuple[Any, list[str], str, str]:
        try:
            with _unasked(self.cell):
                fit = (console.width * CELL_PIXELS[0], rows * CELL_PIXELS[1])
                picture = self._renderable(decoded(path, fit))
                with console.capture() as capture:
                    console.print(_Bounded(picture, rows))
        except ValueError as error:
            return None, [], "", str(error)
        except Exception as error:  # a third-party decoder on a file from a deck: a note, never a traceback
            return None, [], "", f"could not be drawn ({type(error).__name__})"
        lines = capture.get().split("\n")
        prefix = lines.pop() if lines else ""  # after the last row's newline: empty, or a sixel drawing
        return picture, lines, prefix, ""

    def clear(self) -> None:
        """Free the pictures the terminal holds for this card (kitty keeps them until told)."""
        if self.protocol == "kitty":
            ids = [drawn[0].terminal_image_id for drawn in self.shown.values() if drawn[0] is not None]
            wrap = passthrough if multiplexer(self.environ) == "tmux" else (lambda sequence: sequence)
            if any(ids):
                os.write(self.write_fd, "".join(wrap(f"\x1b_Ga=d,d=I,i={i},q=2\x1b\\") for i in ids if i).encode("ascii"))
        self.shown.clear()

    def _protocol(self, console: Any) -> str | None:
        if not self.asked:
            self.asked = True
            if should_probe(self.setting, self.environ, self.is_terminal):
                probed = probe(self.read_fd, self.write_fd, multiplexer(self.environ) == "tmux")
                if probed.keys:
                    self.give_back(probed.keys)
                protocol, self.cell = probed.protocol, probed.cell
                if protocol == "kitty" and not _kitty_can_draw(console, self.environ):
                    protocol = None
                self.protocol = protocol
        return self.protocol

    def _renderable(self, image: Any) -> Any:
        import logging

        # textual-image logs a traceback when the terminal does not say its cell size; with no handler
        # Python would print it over the drill's screen (it then assumes 10x20 pixels, which is fine)
        logging.getLogger("textual_image").addHandler(logging.NullHandler())
        if self.protocol == "kitty":
            from textual_image.renderable.tgp import Image
        else:
            from textual_image.renderable.sixel import Image
        return Image(image, width="auto", height="auto")


def _kitty_can_draw(console: Any, environ: Mapping[str, str]) -> bool:
    """kitty's pictures are placeholder characters whose 24-bit colour names the picture; under tmux they need
    a textual-image that wraps its sequences for tmux (0.13 on; Python 3.10 and 3.11 get 0.12)."""
    if console.color_system != "truecolor":
        return False
    if multiplexer(environ) == "tmux":
        import importlib.util

        return importlib.util.find_spec("textual_image._tmux") is not None
    return True


@contextlib.contextmanager
def _unasked(cell: tuple[int, int] | None) -> Any:
    """textual-image left unable to ask the terminal itself (on import, and for the cell size when the ioctl has
    no pixels): it reads stdin for 0.1 s, so it ate keys typed meanwhile and tore a slower reply, leaving its
    digits to the drill as ratings. With no sys.__stdin__ it asks nothing; the cell size is the probe's answer."""
    saved_stdin = sys.__stdin__
    added = [name for name in _CELL_VARIABLES if name not in os.environ] if cell else []
    for name, value in zip(_CELL_VARIABLES, cell or ()):
        if name in added:
            os.environ[name] = str(value)
    sys.__stdin__ = None  # type: ignore[misc]
    try:
        yield
    finally:
        sys.__stdin__ = saved_stdin  # type: ignore[misc]
        for name in added:
            os.environ.pop(name, None)


class _Bounded:
    """A picture fitted to the width and at most `rows` rows, its shape kept."""

    def __init__(self, picture: Any, rows: int) -> None:
        self.picture = picture
        self.rows = rows

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield from console.render(self.picture, options.update(height=self.rows))


def window(lines: list[str], first: int, count: int) -> list[str]:
    """`count` of `lines` from line `first` on (the pager's page), leaving undrawn any sixel picture whose
    top rows are scrolled off: it would be drawn over the lines above it. Its blank rows and link stay."""
    shown = []
    for index in range(first, min(first + count, len(lines))):
        line = lines[index]
        match = _SIXEL_DRAW.match(line)
        if match and index - int(match.group(1)) < first:
            line = line[line.find("\x1b8") + 2:]  # what follows the drawing: the link
        shown.append(line)
    return shown
