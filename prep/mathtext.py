"""Splits Markdown into text, code and `$`-delimited LaTeX math, with one set of rules for all uses."""

from __future__ import annotations

import re
from dataclasses import dataclass

FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
SPECIAL = re.compile(r"[\\`$]")  # the only characters that can start an escape, code or math


@dataclass(frozen=True)
class Segment:
    """A run of source: `kind` is text, code (inline), fence (block), math or display."""

    kind: str
    source: str  # exact source text, delimiters included; "".join(sources) is the input
    line: int  # 0-based line where the segment starts

    @property
    def body(self) -> str:
        """The LaTeX inside the delimiters (math and display segments)."""
        if self.kind == "display":
            return self.source[2:-2]
        if self.kind == "math":
            return self.source[1:-1]
        return self.source


class MathError(ValueError):
    """Unbalanced math delimiters; `line` is 0-based within the text."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


def split(source: str) -> list[Segment]:
    """Split Markdown source into segments; raise MathError on an unmatched `$`."""
    segments: list[Segment] = []
    lines = source.split("\n")
    line_no = 0
    text_start = 0
    text_lines: list[str] = []

    def flush_text(end_line: int) -> None:
        if text_lines:
            chunk = "\n".join(text_lines) + ("\n" if end_line < len(lines) else "")
            segments.extend(_split_inline(chunk, text_start))
            text_lines.clear()

    while line_no < len(lines):
        match = FENCE_OPEN.match(lines[line_no])
        if not match:
            if not text_lines:
                text_start = line_no
            text_lines.append(lines[line_no])
            line_no += 1
            continue
        flush_text(line_no)
        fence = match.group(1)
        closing = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        end = line_no + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        block_end = min(end + 1, len(lines))  # an unclosed fence runs to the end, as in CommonMark
        block = "\n".join(lines[line_no:block_end]) + ("\n" if block_end < len(lines) else "")
        segments.append(Segment("fence", block, line_no))
        line_no = block_end
    flush_text(len(lines))
    return segments


def _split_inline(chunk: str, first_line: int) -> list[Segment]:
    out: list[Segment] = []
    start = 0
    i = 0
    n = len(chunk)

    def line_at(pos: int) -> int:
        return first_line + chunk.count("\n", 0, pos)

    def emit(kind: str, begin: int, end: int) -> None:
        nonlocal start
        if begin > start:
            out.append(Segment("text", chunk[start:begin], line_at(start)))
        out.append(Segment(kind, chunk[begin:end], line_at(begin)))
        start = end

    while i < n:
        found = SPECIAL.search(chunk, i)  # jump straight to the next interesting character
        if found is None:
            break
        i = found.start()
        char = chunk[i]
        if char == "\\":
            i += 2
            continue
        if char == "`":
            run = len(chunk[i:]) - len(chunk[i:].lstrip("`"))
            close = _find_backtick_run(chunk, i + run, run)
            if close < 0:
                i += run
                continue
            emit("code", i, close + run)
            i = close + run
            continue
        if chunk.startswith("$$", i):
            close = _find_unescaped(chunk, "$$", i + 2)
            if close < 0:
                raise MathError(line_at(i), "unclosed $$ (display math)")
            emit("display", i, close + 2)
            i = close + 2
            continue
        close = _find_inline_close(chunk, i)
        if close < 0:
            raise MathError(
                line_at(i), "unmatched $ (close the math with $, or write \\$ for a dollar sign)"
            )
        emit("math", i, close + 1)
        i = close + 1
    if start < n:
        out.append(Segment("text", chunk[start:], line_at(start)))
    return out


def _find_backtick_run(text: str, pos: int, run: int) -> int:
    while True:
        found = text.find("`" * run, pos)
        if found < 0:
            return -1
        end = found + run
        if end < len(text) and text[end] == "`":
            pos = end + len(text[end:]) - len(text[end:].lstrip("`"))
            continue
        return found


def _find_unescaped(text: str, needle: str, pos: int) -> int:
    while True:
        found = text.find(needle, pos)
        if found < 0:
            return -1
        backslashes = len(text[:found]) - len(text[:found].rstrip("\\"))
        if backslashes % 2 == 0:
            return found
        pos = found + 1


INLINE_STOP = re.compile(r"[\\$\n]")


def _find_inline_close(text: str, open_pos: int) -> int:
    """Closing `$` of inline math, pandoc's rule: `$x$`, no space inside the delimiters."""
    j = open_pos + 1
    if j >= len(text) or text[j].isspace() or text[j] == "$":
        return -1
    while True:
        found = INLINE_STOP.search(text, j)
        if found is None:
            return -1
        j = found.start()
        char = text[j]
        if char == "\\":
            j += 2
            continue
        if char == "\n":
            if text[j + 1 : j + 2] == "\n":
                return -1  # math never spans a blank line
            j += 1
            continue
        if text[j - 1].isspace() or (j + 1 < len(text) and text[j + 1].isdigit()):
            return -1
        return j


_CONVERTER = None


def _converter():
    """pylatexenc's converter, with fractions and `\\mid` spelled so they stay unambiguous."""
    global _CONVERTER
    if _CONVERTER is None:
        from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

        def fraction(node, l2tobj) -> str:
            parts = []
            for arg in node.nodeargd.argnlist if node.nodeargd else []:
                text = l2tobj.nodelist_to_text([arg]).strip() if arg is not None else ""
                parts.append(text if re.fullmatch(r"[\w.^_′]+|\(.*\)", text) else f"({text})")
            return "/".join(parts)

        context = get_default_latex_context_db().filter_context(keep_categories=None)
        context.add_context_category("prep", prepend=True, macros=[
            MacroTextSpec("frac", simplify_repl=fraction),
            MacroTextSpec("dfrac", simplify_repl=fraction),
            MacroTextSpec("tfrac", simplify_repl=fraction),
            MacroTextSpec("mid", simplify_repl=" | "),
        ])
        from pylatexenc import latexwalker, macrospec

        parse_context = latexwalker.get_default_latex_context_db().filter_context(keep_categories=None)
        parse_context.add_context_category("prep", prepend=True, macros=[
            macrospec.MacroSpec(name, "{{") for name in ("dfrac", "tfrac")])
        converter = LatexNodes2Text(latex_context=context, math_mode="text", strict_latex_spaces=True)
        _CONVERTER = (converter, parse_context)
    return _CONVERTER


def latex_to_unicode(latex: str) -> str:
    """Readable Unicode for a LaTeX expression (falls back to the source)."""
    try:
        from pylatexenc.latexwalker import LatexWalker

        converter, parse_context = _converter()
        nodes, _, _ = LatexWalker(latex, latex_context=parse_context, tolerant_parsing=True).get_latex_nodes()
        text = converter.nodelist_to_text(nodes)
    except Exception:  # not only its LatexWalkerError: odd input raises Type/Index/Key/Attribute/RecursionError
        return latex
    return re.sub(r"[ \t]+", " ", text).strip()
