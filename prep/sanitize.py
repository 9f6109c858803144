"""The one output sanitiser: text from files or packages made safe to print."""

from __future__ import annotations

import re

# C0/C1 controls (ESC among them) move the cursor, recolour or retitle the terminal; bidi controls
# make a line read differently from its bytes; lone surrogates (undecodable file names) crash the
# encoder. None of them may reach the terminal as they are.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\ud800-\udfff]")
UNSAFE_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}\ud800-\udfff]")  # tab and newline are layout


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"<U+{code:04X}>"


def text(value: str) -> str:
    """Card text for the terminal: control and bidi characters removed, tabs and newlines kept."""
    return UNSAFE_IN_TEXT.sub("", value)


def visible(value: object, multiline: bool = False) -> str:
    """A message part (id, path, deck name, warning) with each unsafe character shown as an escape
    (`\\x1b`, `<U+202E>`); `multiline` keeps the newlines of a message of several lines."""
    if multiline:
        return "\n".join(visible(line) for line in str(value).split("\n"))
    return UNSAFE.sub(_shown, str(value))


def markup(value: object) -> str:
    """`visible`, also escaped for rich markup: for strings printed through a rich console or table."""
    from rich.markup import escape

    return escape(visible(value))
