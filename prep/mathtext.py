"""`$` math in Markdown: split from text and code by one set of rules, and written as terminal Unicode."""

from __future__ import annotations

import bisect
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
    counted = [0, first_line]  # lines are counted forward from the last position asked: linear in all
    runs: BacktickRuns | None = None  # built on the first backtick

    def line_at(pos: int) -> int:
        counted[1] += chunk.count("\n", counted[0], pos)
        counted[0] = pos
        return counted[1]

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
            if runs is None:
                runs = BacktickRuns(chunk)
            run = BACKTICKS.match(chunk, i).end() - i
            close = runs.closing(i + run, run)
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


BACKTICKS = re.compile(r"`+")


class BacktickRuns:
    """Every maximal run of backticks in a text, by length: a code span closes at the next run of its
    opening's length, found by bisection (a search from each opening would be quadratic in the text)."""

    def __init__(self, text: str) -> None:
        self.starts: dict[int, list[int]] = {}
        for match in BACKTICKS.finditer(text):
            self.starts.setdefault(match.end() - match.start(), []).append(match.start())

    def closing(self, pos: int, run: int) -> int:
        """Start of the first run of exactly `run` backticks at or after `pos`, or -1."""
        starts = self.starts.get(run, [])
        index = bisect.bisect_left(starts, pos)
        return starts[index] if index < len(starts) else -1


def _find_unescaped(text: str, needle: str, pos: int) -> int:
    while True:
        found = text.find(needle, pos)
        if found < 0:
            return -1
        before = found
        while before > 0 and text[before - 1] == "\\":  # stops at the `$` before `pos` at the latest
            before -= 1
        if (found - before) % 2 == 0:
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


# ---------------------------------------------------------------------------------------------------
# LaTeX → terminal text. The LaTeX is parsed by pylatexenc's latexwalker (imported on first use: it is
# on the first card's path, and `import prep` must stay cheap); the node tree is walked here.

GREEK = {name: chr(code) for name, code in [
    ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4), ("epsilon", 0x3F5),
    ("varepsilon", 0x3B5), ("zeta", 0x3B6), ("eta", 0x3B7), ("theta", 0x3B8), ("vartheta", 0x3D1),
    ("iota", 0x3B9), ("kappa", 0x3BA), ("lambda", 0x3BB), ("mu", 0x3BC), ("nu", 0x3BD), ("xi", 0x3BE),
    ("omicron", 0x3BF), ("pi", 0x3C0), ("varpi", 0x3D6), ("rho", 0x3C1), ("varrho", 0x3F1), ("sigma", 0x3C3),
    ("varsigma", 0x3C2), ("tau", 0x3C4), ("upsilon", 0x3C5), ("phi", 0x3D5), ("varphi", 0x3C6), ("chi", 0x3C7),
    ("psi", 0x3C8), ("omega", 0x3C9), ("Gamma", 0x393), ("Delta", 0x394), ("Theta", 0x398), ("Lambda", 0x39B),
    ("Xi", 0x39E), ("Pi", 0x3A0), ("Sigma", 0x3A3), ("Upsilon", 0x3A5), ("Phi", 0x3A6), ("Psi", 0x3A8),
    ("Omega", 0x3A9), ("digamma", 0x3DD)]}

# ordinary symbols: written as they are, spacing taken from the source
ORDINARY = {
    **GREEK, "infty": "∞", "partial": "∂", "nabla": "∇", "forall": "∀", "exists": "∃", "nexists": "∄",
    "emptyset": "∅", "varnothing": "∅", "neg": "¬", "lnot": "¬", "ell": "ℓ", "hbar": "ℏ", "Re": "ℜ",
    "Im": "ℑ", "aleph": "ℵ", "wp": "℘", "prime": "′", "angle": "∠", "triangle": "△", "square": "□",
    "Box": "□", "top": "⊤", "bot": "⊥", "dots": "…", "ldots": "…", "cdots": "⋯", "vdots": "⋮", "ddots": "⋱",
    "langle": "⟨", "rangle": "⟩", "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "lvert": "|",
    "rvert": "|", "vert": "|", "Vert": "‖", "lVert": "‖", "rVert": "‖", "|": "‖", "backslash": "\\",
    "{": "{", "}": "}", "%": "%", "#": "#", "$": "$", "&": "&", "_": "_", "checkmark": "✓", "dagger": "†",
    "ddagger": "‡", "S": "§", "surd": "√", "sum": "Σ", "prod": "∏", "coprod": "∐", "int": "∫", "iint": "∬",
    "iiint": "∭", "oint": "∮", "bigcup": "⋃", "bigcap": "⋂", "bigoplus": "⨁", "bigotimes": "⨂",
    "bigvee": "⋁", "bigwedge": "⋀", "bigsqcup": "⨆", "imath": "ı", "jmath": "ȷ", "mho": "℧", "clubsuit": "♣",
    "diamondsuit": "♢", "heartsuit": "♡", "spadesuit": "♠", "flat": "♭", "sharp": "♯", "natural": "♮",
    "blacksquare": "■", "lozenge": "◊", "varkappa": "ϰ", "complement": "∁", "therefore": "∴",
    "because": "∵", "degree": "°",
}
# binary operators: spaced, unless used as a sign (`\pm 1`)
BINARY = {
    "pm": "±", "mp": "∓", "times": "×", "cdot": "·", "div": "÷", "ast": "∗", "star": "⋆", "circ": "∘",
    "bullet": "∙", "odot": "⊙", "oplus": "⊕", "otimes": "⊗", "ominus": "⊖", "oslash": "⊘", "cap": "∩",
    "cup": "∪", "setminus": "∖", "smallsetminus": "∖", "wedge": "∧", "land": "∧", "vee": "∨", "lor": "∨",
    "sqcup": "⊔", "sqcap": "⊓", "uplus": "⊎", "diamond": "⋄", "wr": "≀", "amalg": "⨿", "bmod": "mod",
    "triangleleft": "◁", "triangleright": "▷", "boxplus": "⊞", "boxtimes": "⊠",
}
# relations and arrows: always spaced
RELATION = {
    "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "approx": "≈", "propto": "∝",
    "sim": "∼", "simeq": "≃", "cong": "≅", "equiv": "≡", "in": "∈", "notin": "∉", "ni": "∋", "subset": "⊂",
    "subseteq": "⊆", "subsetneq": "⊊", "supset": "⊃", "supseteq": "⊇", "to": "→", "rightarrow": "→",
    "leftarrow": "←", "gets": "←", "Rightarrow": "⇒", "Leftarrow": "⇐", "leftrightarrow": "↔",
    "Leftrightarrow": "⇔", "iff": "⟺", "implies": "⟹", "impliedby": "⟸", "mapsto": "↦",
    "longrightarrow": "⟶", "longleftarrow": "⟵", "Longrightarrow": "⟹", "Longleftarrow": "⟸",
    "longleftrightarrow": "⟷", "longmapsto": "⟼", "uparrow": "↑", "downarrow": "↓", "Uparrow": "⇑",
    "Downarrow": "⇓", "updownarrow": "↕", "nearrow": "↗", "searrow": "↘", "hookrightarrow": "↪",
    "hookleftarrow": "↩", "rightleftharpoons": "⇌", "ll": "≪", "gg": "≫", "prec": "≺", "succ": "≻",
    "preceq": "⪯", "succeq": "⪰", "perp": "⊥", "parallel": "∥", "mid": "|", "nmid": "∤", "leqslant": "⩽",
    "geqslant": "⩾", "lesssim": "≲", "gtrsim": "≳", "vdash": "⊢", "dashv": "⊣", "models": "⊨",
    "coloneqq": "≔", "triangleq": "≜", "doteq": "≐", "asymp": "≍", "nsim": "≁", "nleq": "≰", "ngeq": "≱",
    "sqsubseteq": "⊑", "sqsupseteq": "⊒", "lhd": "⊲", "rhd": "⊳", "bowtie": "⋈", "nparallel": "∦",
    "approxeq": "≊", "ncong": "≇", "neqq": "≠",
}
# operator names: words, set apart from a following letter (`\log p`, `\det A`)
WORDS = {name: name for name in (
    "log", "ln", "lg", "exp", "det", "arg", "max", "min", "sup", "inf", "lim", "liminf", "limsup", "Pr", "sin",
    "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "coth", "deg",
    "dim", "ker", "hom", "gcd", "lcm", "mod", "Var", "Cov", "tr", "rank", "sgn", "diag")}
WORDS.update({"liminf": "lim inf", "limsup": "lim sup", "argmax": "arg max", "argmin": "arg min"})
SPACES = {",": " ", ":": " ", ";": " ", ">": " ", " ": " ", "!": "", "quad": "  ", "qquad": "    ", "enspace": " ",
          "thinspace": " ", "medspace": " ", "thickspace": " ", "negthinspace": ""}
PUNCTUATION = {"colon": ":"}  # `f\colon X \to Y`: a colon with a space after, as TeX sets it
# written nothing: sizing, style and layout commands whose effect a terminal cannot show
SILENT = ("left", "right", "middle", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl",
          "biggr", "Biggl", "Biggr", "bigm", "Bigm", "displaystyle", "textstyle", "scriptstyle",
          "scriptscriptstyle", "limits", "nolimits", "nonumber", "notag", "hline", "allowbreak", "strut",
          "label", "phantom", "hphantom", "vphantom", "vspace", "hspace", "color")
ACCENTS = {"hat": "\u0302", "widehat": "\u0302", "bar": "\u0304", "overline": "\u0305", "tilde": "\u0303",
           "widetilde": "\u0303", "dot": "\u0307", "ddot": "\u0308", "vec": "\u20d7", "overrightarrow": "\u20d7",
           "check": "\u030c", "breve": "\u0306", "acute": "\u0301", "grave": "\u0300", "mathring": "\u030a",
           "underline": "\u0332"}
FONTS = ("mathbb", "mathcal", "mathscr", "mathfrak", "mathbf", "boldsymbol", "bm", "mathit", "mathrm", "mathsf",
         "mathtt", "text", "textrm", "textit", "textbf", "textsf", "texttt", "mbox", "operatorname", "mathop",
         "mathnormal", "textnormal", "emph")
# macros with arguments, as pylatexenc argument specs ("{" mandatory, "[" optional, "*" star)
ARGUMENTS = {
    **{name: "{" for name in ACCENTS}, **{name: "{" for name in FONTS}, "operatorname": "*{",
    "frac": "{{", "dfrac": "{{", "tfrac": "{{", "cfrac": "{{", "binom": "{{", "dbinom": "{{", "tbinom": "{{",
    "sqrt": "[{", "pmod": "{", "boxed": "{", "underbrace": "{", "overbrace": "{", "overset": "{{",
    "underset": "{{", "stackrel": "{{", "substack": "{", "cancel": "{", "not": "", "tag": "*{", "label": "{",
    "phantom": "{", "hphantom": "{", "vphantom": "{", "vspace": "*{", "hspace": "*{", "color": "{",
}
STRUCTURES = {"frac": "/", "dfrac": "/", "tfrac": "/", "cfrac": "/", "binom": "C(", "dbinom": "C(", "tbinom": "C(",
              "sqrt": "√", "pmod": "mod", "boxed": "[", "underbrace": "", "overbrace": "", "overset": "",
              "underset": "", "stackrel": "", "substack": "", "cancel": "\u0336", "not": "\u0338", "tag": "(",
              "begin": "", "end": "", "\\": ";"}
MATRICES = {"matrix": ("[", "]"), "smallmatrix": ("[", "]"), "array": ("[", "]"), "pmatrix": ("(", ")"),
            "bmatrix": ("[", "]"), "Bmatrix": ("{", "}"), "vmatrix": ("|", "|"), "Vmatrix": ("‖", "‖")}
ALIGNED = ("aligned", "align", "align*", "alignat", "alignat*", "gather", "gather*", "gathered", "split",
           "eqnarray", "eqnarray*", "equation", "equation*", "multline", "multline*", "alignedat")
CASES = ("cases", "dcases", "rcases")
ENVIRONMENTS = (*MATRICES, *ALIGNED, *CASES)
# tall brackets for display matrices: (top, middle, bottom) per side
TALL = {"(": ("⎛", "⎜", "⎝"), ")": ("⎞", "⎟", "⎠"), "[": ("⎡", "⎢", "⎣"), "]": ("⎤", "⎥", "⎦"),
        "{": ("⎧", "⎪", "⎩"), "}": ("⎫", "⎪", "⎭"), "|": ("│", "│", "│"), "‖": ("‖", "‖", "‖")}

SUPERSCRIPT = dict(zip("0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUW⊤−",
                       "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁᵂᵀ⁻"))
# no subscript j: U+2C7C is missing from most terminal fonts
SUBSCRIPT = dict(zip("0123456789+-=()aehiklmnoprstuvx−", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢₖₗₘₙₒₚᵣₛₜᵤᵥₓ₋"))
ROOTS = {"2": "√", "3": "∛", "4": "∜"}
DOUBLE_STRUCK = {"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ"}
SCRIPT_CAPITALS = {"B": "ℬ", "E": "ℰ", "F": "ℱ", "H": "ℋ", "I": "ℐ", "L": "ℒ", "M": "ℳ", "R": "ℛ", "e": "ℯ",
                   "g": "ℊ", "o": "ℴ"}
FRAKTUR = {"C": "ℭ", "H": "ℌ", "I": "ℑ", "R": "ℜ", "Z": "ℨ"}
OPENING = "([{⟨⌊⌈"
CLOSING = ")]}⟩⌋⌉"
CASE_WORDS = ("if", "otherwise", "else", "for", "when", "where", "unless")


def known_macros() -> frozenset[str]:
    """Every macro name the converter writes as something other than `\\name`."""
    return frozenset({*ORDINARY, *BINARY, *RELATION, *WORDS, *PUNCTUATION, *SPACES, *SILENT, *ARGUMENTS,
                      *STRUCTURES})


def macro_text(name: str) -> str | None:
    """The fixed text a symbol macro stands for (`ne` → `≠`), None for structural and unknown macros."""
    for table in (ORDINARY, BINARY, RELATION, WORDS, PUNCTUATION, SPACES):
        if name in table:
            return table[name]
    return None


KNOWN = known_macros()


@dataclass
class Atom:
    """One piece of converted math; `kind` drives the spacing: ord, op (a word operator), bin, rel, frac,
    open, close, punct, text, space or block (display layout: `lines`)."""

    text: str
    kind: str = "ord"
    lines: list[str] | None = None
    loose_script: bool = False  # ends in `^c` or `_c`: a letter right after would read as part of it


_PARSE_CONTEXT = None


def _parse_context():
    global _PARSE_CONTEXT
    if _PARSE_CONTEXT is None:
        from pylatexenc import macrospec

        db = macrospec.LatexContextDb()
        db.add_context_category(
            "prep",
            macros=[macrospec.MacroSpec(name, spec) for name, spec in ARGUMENTS.items()],
            environments=[macrospec.EnvironmentSpec(name, "{" if name in ("array", "alignat", "alignat*", "alignedat")
                                                    else "") for name in ENVIRONMENTS],
            specials=[macrospec.SpecialsSpec("&"), macrospec.SpecialsSpec("~")],
        )
        db.set_unknown_macro_spec(macrospec.MacroSpec(""))
        db.set_unknown_environment_spec(macrospec.EnvironmentSpec(""))
        _PARSE_CONTEXT = db
    return _PARSE_CONTEXT


def convert(latex: str, display: bool = False) -> str:
    """Terminal text for a LaTeX math expression; display math may span lines (one per row of an
    aligned environment or matrix). Raises pylatexenc's errors on input it cannot parse."""
    from pylatexenc.latexwalker import LatexWalker

    walker = LatexWalker(latex, latex_context=_parse_context(), tolerant_parsing=False)
    nodes, _, _ = walker.get_latex_nodes(parsing_state=walker.make_parsing_state(in_math_mode=True))
    converter = _Converter(display)
    if not display:
        return converter.text(nodes)
    return "\n".join(line.rstrip() for line in converter.lines(nodes)).strip("\n")


def latex_to_unicode(latex: str, display: bool = False) -> str:
    """Readable Unicode for a LaTeX expression (falls back to the source)."""
    try:
        return convert(latex, display)
    except Exception:  # pylatexenc raises several types on odd input; the source is a fine fallback
        return latex


def _width(text: str) -> int:
    import unicodedata

    return sum(1 for char in text if not unicodedata.combining(char))


def _bare(text: str, numerator: bool = False) -> bool:
    """Whether `text` reads as one operand without parentheses (`2n`, `x²`, `(a+b)`, not `a+b`)."""
    if numerator and text[:1] in "-−±":
        text = text[1:]
    depth = 0
    for char in text:
        if char in OPENING:
            depth += 1
        elif char in CLOSING:
            depth -= 1
        elif depth == 0 and (char.isspace() or char in "+-−±∓=<>≤≥≈≠/·×∣|,;:!"):
            return False
    return bool(text)


WORD_PAREN = re.compile(r"(?<=\w)\(")


def _drop_call(text: str) -> str:
    """`f(x)` → `f`: a call dropped at the end, without retrying `.*` from every `(` (quadratic)."""
    body = text[:-1] if text.endswith("\n") else text
    if not body.endswith(")"):
        return text
    opening = WORD_PAREN.search(body, body.rfind("\n") + 1)  # `.` stops at a newline
    return text if opening is None else text[: opening.start()] + text[len(body):]


def _single(text: str) -> bool:
    """One number or one symbol (with scripts, accents, primes or a call): what a denominator can be bare."""
    import unicodedata

    text = _drop_call(text)
    if re.fullmatch(r"\d+(\.\d+)?|\(.*\)", text):
        return True
    text = text.lstrip("√∛∜")
    rest = text[1:]
    return bool(text) and all(unicodedata.combining(c) or c in "′'" or c in SUPERSCRIPT.values()
                              or c in SUBSCRIPT.values() for c in rest)


def _script(text: str, table: dict[str, str], sign: str, single: bool) -> str:
    compact = text.replace(" ", "")
    if compact and all(char in table for char in compact):
        return "".join(table[char] for char in compact)
    if single or _width(compact) == 1:
        return sign + compact
    return f"{sign}({text.strip()})"


def _letters(text: str, font: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        upper, lower, digit = "A" <= char <= "Z", "a" <= char <= "z", "0" <= char <= "9"
        if font == "mathbb" and char in DOUBLE_STRUCK:
            out.append(DOUBLE_STRUCK[char])
        elif font == "mathbb" and (upper or lower):
            out.append(chr(0x1D538 + code - 65 if upper else 0x1D552 + code - 97))
        elif font == "mathbb" and digit:
            out.append(chr(0x1D7D8 + code - 48))
        elif font in ("mathcal", "mathscr") and char in SCRIPT_CAPITALS:
            out.append(SCRIPT_CAPITALS[char])
        elif font in ("mathcal", "mathscr") and (upper or lower):
            out.append(chr(0x1D49C + code - 65 if upper else 0x1D4B6 + code - 97))
        elif font == "mathfrak" and char in FRAKTUR:
            out.append(FRAKTUR[char])
        elif font == "mathfrak" and (upper or lower):
            out.append(chr(0x1D504 + code - 65 if upper else 0x1D51E + code - 97))
        elif font in ("mathbf", "boldsymbol", "bm") and (upper or lower):
            out.append(chr(0x1D400 + code - 65 if upper else 0x1D41A + code - 97))
        elif font in ("mathbf", "boldsymbol", "bm") and digit:
            out.append(chr(0x1D7CE + code - 48))
        else:
            out.append(char)
    return "".join(out)


class _Converter:
    """Walks pylatexenc nodes into atoms, then joins them with spacing a reader expects."""

    def __init__(self, display: bool) -> None:
        self.display = display

    # -- top level -------------------------------------------------------------------------------

    def text(self, nodes, script: bool = False) -> str:
        return self.join(self.atoms(nodes, script), script)

    def lines(self, nodes) -> list[str]:
        """Display math: rows at top level (`\\\\`) and multi-line environments laid out as lines."""
        rows: list[list] = [[]]
        for node in nodes:
            if _is_macro(node, "\\"):
                rows.append([])
            else:
                rows[-1].append(node)
        out: list[str] = []
        for row in rows:
            atoms = self.atoms(row, False, layout=True)
            blocks: list[list[str]] = []
            run: list[Atom] = []
            for atom in atoms:
                if atom.kind == "block":
                    blocks.append([self.join(run, False)])
                    blocks.append(atom.lines or [""])
                    run = []
                else:
                    run.append(atom)
            blocks.append([self.join(run, False)])
            out.extend(_beside([block for block in blocks if block != [""]]))
        return out

    # -- atoms -----------------------------------------------------------------------------------

    def atoms(self, nodes, script: bool, layout: bool = False) -> list[Atom]:
        tokens = _tokens(nodes)
        out: list[Atom] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            i += 1
            if isinstance(token, str):
                if token in "^_":
                    argument, i = _next_argument(tokens, i)
                    self.attach(out, token, argument)
                elif token.isspace():
                    if not script and (not out or out[-1].kind != "space"):
                        out.append(Atom(" ", "space"))
                else:
                    kind = "open" if token in "([" else "close" if token in ")]" else "punct" if token in ",;" else "ord"
                    out.append(Atom(token, kind))
                continue
            if _is_macro(token, "left") or _is_macro(token, "right") or _is_macro(token, "middle"):
                if i < len(tokens) and isinstance(tokens[i], str) and tokens[i] == ".":
                    i += 1  # `\right.`: an invisible delimiter
                continue
            if _is_macro(token, "not") and i < len(tokens):
                argument, i = _next_argument(tokens, i)
                out.append(Atom(_nfc("".join(c + "\u0338" for c in self.text(argument, script))), "rel"))
                continue
            atoms = self.node(token, script, layout)
            previous = tokens[i - 2] if i >= 2 else None
            if atoms and type(token).__name__ == "LatexGroupNode" and type(previous).__name__ == "LatexMacroNode" \
                    and previous.macroname not in KNOWN:
                atoms = [Atom("{" + atoms[0].text + "}")]  # an unknown macro's argument, as written
            out.extend(atoms)
        return out

    def attach(self, out: list[Atom], sign: str, argument: list) -> None:
        text = self.text(argument, script=True)
        single = len(argument) == 1 and isinstance(argument[0], str)
        table = SUPERSCRIPT if sign == "^" else SUBSCRIPT
        if not out or out[-1].kind in ("space", "bin", "rel", "open", "punct"):
            out.append(Atom("", "ord"))
        if out[-1].kind == "frac":  # (a/b)², not a/b²
            out[-1] = Atom(f"({out[-1].text})")
        written = _script(text, table, sign, single)
        out[-1].text += written
        out[-1].loose_script = written.startswith(sign) and not written.endswith(")")

    def node(self, node, script: bool, layout: bool) -> list[Atom]:
        kind = type(node).__name__
        if kind == "LatexMacroNode":
            return [self.macro(node, script)]
        if kind == "LatexGroupNode":
            atoms = self.atoms(node.nodelist, script)
            return [Atom(self.join(atoms, script), atoms[0].kind if len(atoms) == 1 else "ord")] if atoms else [Atom("")]
        if kind == "LatexSpecialsNode":
            return [Atom(" ", "space")] if not script else []
        if kind == "LatexEnvironmentNode":
            return [self.environment(node, layout)]
        if kind == "LatexMathNode":  # `$..$` inside `\text{..}`
            return self.atoms(node.nodelist, script)
        if kind == "LatexCommentNode":
            return []
        return [Atom(node.latex_verbatim())]

    def arguments(self, node) -> list:
        args = node.nodeargd.argnlist if node.nodeargd is not None else []
        return [_argument_nodes(arg) for arg in args]

    def macro(self, node, script: bool) -> Atom:
        name = node.macroname
        if name in ORDINARY:
            text = ORDINARY[name]
            return Atom(text, "open" if text in OPENING else "close" if text in CLOSING else "ord")
        if name in RELATION:
            return Atom(RELATION[name], "rel")
        if name in BINARY:
            return Atom(BINARY[name], "bin")
        if name in WORDS:
            return Atom(WORDS[name], "op")
        if name in SPACES:
            return Atom(SPACES[name], "space") if SPACES[name] and not script else Atom("", "text")
        if name in SILENT:
            return Atom("", "text")
        if name == "\\":  # a line break outside an environment, inline
            return Atom(";" if script else "; ", "punct")
        if name in PUNCTUATION:
            return Atom(PUNCTUATION[name] + ("" if script else " "), "punct")
        args = self.arguments(node)
        if name in ACCENTS:
            return Atom(_accent(self.text(args[0], script), ACCENTS[name]))
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            top, bottom = self.text(args[0], script), self.text(args[1], script)
            top = top if _bare(top, numerator=True) and "/" not in top else f"({top})"
            bottom = bottom if _bare(bottom) and _single(bottom) else f"({bottom})"
            return Atom(f"{top}/{bottom}", "frac")
        if name in ("binom", "dbinom", "tbinom"):
            return Atom(f"C({self.text(args[0], script)}, {self.text(args[1], script)})")
        if name == "sqrt":
            degree, body = self.text(args[0], True), self.text(args[1], script)
            body = body if _bare(body) and "/" not in body else f"({body})"
            if degree in ROOTS or not degree:
                return Atom(ROOTS.get(degree, "√") + body)
            return Atom(_script(degree, SUPERSCRIPT, "", True) + "√" + body)
        if name in FONTS:
            return self.font(name, args[-1], script)
        if name == "pmod":
            return Atom(f"(mod {self.text(args[0], script)})", "text")
        if name == "boxed":
            return Atom(f"[{self.text(args[0], script)}]")
        if name in ("underbrace", "overbrace", "substack"):
            return Atom(self.text(args[0], script))
        if name in ("overset", "stackrel"):
            return Atom(self.text(args[1], script) + _script(self.text(args[0], True), SUPERSCRIPT, "^", False))
        if name == "underset":
            return Atom(self.text(args[1], script) + _script(self.text(args[0], True), SUBSCRIPT, "_", False))
        if name == "cancel":
            return Atom(_accent(self.text(args[0], script), "\u0336"))
        if name == "tag":
            return Atom(f"    ({self.text(args[-1], script)})", "text")
        return Atom("\\" + name, "ord")  # unknown: shown as written, never dropped

    def font(self, name: str, argument: list, script: bool) -> Atom:
        if name.startswith("text") or name in ("mbox", "emph"):
            return Atom(self.plain(argument), "text")
        content = self.text(argument, script)
        if name in ("operatorname", "mathop") or (name == "mathrm" and len(content) > 1 and content.isalpha()):
            return Atom(content, "op")
        return Atom(_letters(content, name))

    def plain(self, nodes) -> str:
        """Text-mode content (`\\text{..}`): written as is, with its spaces; nested `$..$` is math."""
        out = []
        for node in nodes:
            kind = type(node).__name__
            if kind == "LatexCharsNode":
                out.append(node.chars)
            elif kind == "LatexGroupNode":
                out.append(self.plain(node.nodelist))
            elif kind == "LatexMathNode":
                out.append(self.text(node.nodelist))
            elif kind == "LatexSpecialsNode":
                out.append(" " if node.specials_chars == "~" else node.specials_chars)
            elif kind == "LatexMacroNode":
                out.append(self.macro(node, False).text)
        return "".join(out)

    def environment(self, node, layout: bool) -> Atom:
        name = node.environmentname
        if name not in ENVIRONMENTS:
            return Atom(node.latex_verbatim())  # unknown: shown as written
        rows = [[self.text(cell).strip() for cell in row] for row in _rows(node.nodelist)]
        if name in MATRICES:
            left, right = MATRICES[name]
            if layout:
                return Atom("", "block", _bracketed(_columns(rows, "l" * 99, "  "), left, right))
            # cells apart with commas when a space or a sign inside one would blur where it ends
            separator = ", " if any(" " in cell or cell[:1] in "+-±∓" for row in rows for cell in row) else " "
            return Atom(left + "; ".join(separator.join(row) for row in rows) + right)
        if name in CASES:
            rows = [[row[0], _condition(" ".join(row[1:]))] if len(row) > 1 else row for row in rows]
            if layout:
                return Atom("", "block", _bracketed(_columns(rows, "ll", " "), "{", ""))
            return Atom("{ " + "; ".join(" ".join(cell for cell in row if cell) for row in rows) + " }")
        if layout:
            return Atom("", "block", _columns(rows, "rl" * 50, " ", pair_gap="    "))
        return Atom("; ".join(_aligned_row(row) for row in rows))

    # -- joining ---------------------------------------------------------------------------------

    def join(self, atoms: list[Atom], script: bool) -> str:
        out: list[str] = []
        prev: Atom | None = None
        space = False
        for atom in atoms:
            if atom.kind == "space":
                space = bool(out)
                continue
            if not atom.text:
                continue
            text = atom.text
            if atom.kind == "punct":
                space = False
            if atom.kind == "frac" and prev is not None and prev.kind == "op":
                text, space = f"({text})", False  # `\log\frac{p}{q}` is log(p/q), not (log p)/q
            before = after = ""
            if atom.kind == "rel" or (atom.kind == "bin" and prev is not None and prev.kind not in
                                      ("bin", "rel", "open", "punct", "op")):
                before = after = "" if script else " "
            elif prev is not None and not space and (
                    (prev.kind == "op" and _starts_word(text, atom.kind))
                    or (atom.kind == "op" and prev.kind in ("ord", "close", "op", "frac") and
                        prev.text[-1:] not in OPENING)
                    or (prev.loose_script and text[:1].isalnum())
                    or (prev.kind == "frac" and atom.kind in ("ord", "op", "frac", "text", "open")
                        and text[:1] not in CLOSING + ",;:.!'′")):
                before = " "
            if space and not before:
                before = " "
            if before and out and out[-1].endswith(" "):
                before = ""  # one space between atoms, whichever side asked for it
            out.append(before + text + after)
            prev, space = atom, False
        return "".join(out).strip()


def _nfc(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFC", text)


def _accent(text: str, mark: str) -> str:
    """A combining mark on every letter and digit (`\\hat x` → x̂, `\\overline{xy}` → x̅y̅)."""
    return _nfc("".join(char + mark if char.isalnum() else char for char in text))


def _starts_word(text: str, kind: str) -> bool:
    return kind in ("ord", "op", "text", "frac") and text[:1] not in OPENING + CLOSING + ",;:.!'′|‖^_"


def _is_macro(node, name: str) -> bool:
    return type(node).__name__ == "LatexMacroNode" and node.macroname == name


def _tokens(nodes) -> list:
    """Nodes with character runs split into single characters (`^` and `_` are characters to pylatexenc).

    The space that ends a macro name is kept when a symbol follows (`\\beta = 1`, not `β= 1`): there
    the author wrote it for the reader, not for TeX."""
    out: list = []
    for node in nodes:
        if type(node).__name__ == "LatexCharsNode":
            if out and not isinstance(out[-1], str) and node.chars[:1] not in "^_" \
                    and not node.chars[:1].isalnum() and out[-1].latex_verbatim()[-1:].isspace():
                out.append(" ")
            out.extend(node.chars)
        else:
            out.append(node)
    return out


def _next_argument(tokens: list, i: int) -> tuple[list, int]:
    """The token after `^`, `_` or `\\not` (spaces skipped), as a node list."""
    while i < len(tokens) and isinstance(tokens[i], str) and tokens[i].isspace():
        i += 1
    if i >= len(tokens):
        return [], i
    token = tokens[i]
    if type(token).__name__ == "LatexGroupNode":
        return list(token.nodelist), i + 1
    return [token], i + 1


def _argument_nodes(arg) -> list:
    if arg is None:
        return []
    if type(arg).__name__ == "LatexGroupNode":
        return list(arg.nodelist)
    return [arg]


def _rows(nodes) -> list[list[list]]:
    """An environment's body split at `\\\\` into rows and at `&` into cells; a trailing empty row is dropped."""
    rows: list[list[list]] = [[[]]]
    for node in nodes:
        if _is_macro(node, "\\"):
            rows.append([[]])
        elif type(node).__name__ == "LatexSpecialsNode" and node.specials_chars == "&":
            rows[-1].append([])
        else:
            rows[-1][-1].append(node)
    if len(rows) > 1 and all(all(type(n).__name__ == "LatexCharsNode" and not n.chars.strip() for n in cell)
                             for cell in rows[-1]):
        rows.pop()
    return rows


def _condition(text: str) -> str:
    if not text or text.split(" ", 1)[0].rstrip(",:").lower() in CASE_WORDS or text.startswith(","):
        return text
    return "if " + text


def _aligned_row(row: list[str]) -> str:
    pairs = [" ".join(cell for cell in row[k:k + 2] if cell) for k in range(0, len(row), 2)]
    return "  ".join(pair for pair in pairs if pair)


def _columns(rows: list[list[str]], align: str, gap: str, pair_gap: str | None = None) -> list[str]:
    """Rows of cells padded into columns; `align` gives each column's side (l or r)."""
    count = max(len(row) for row in rows)
    empty = {c for c in range(count) if not any(c < len(row) and row[c] for row in rows)}
    if empty:  # `&&` before a comment column: no width, and the columns after keep their pairing
        rows = [[cell for c, cell in enumerate(row) if c not in empty] for row in rows]
        align = "".join(side for c, side in enumerate(align[:count]) if c not in empty)
        count -= len(empty)
    widths = [max((_width(row[c]) for row in rows if c < len(row)), default=0) for c in range(count)]
    lines = []
    for row in rows:
        parts = []
        for c in range(count):
            cell = row[c] if c < len(row) else ""
            pad = " " * (widths[c] - _width(cell))
            if c:
                parts.append(pair_gap if pair_gap is not None and c % 2 == 0 else gap)
            parts.append(pad + cell if align[c] == "r" else cell + pad)
        lines.append("".join(parts))
    return lines


def _bracketed(lines: list[str], left: str, right: str) -> list[str]:
    n = len(lines)

    def piece(bracket: str, row: int) -> str:
        if not bracket:
            return ""
        if n == 1:
            return bracket
        top, middle, bottom = TALL[bracket]
        if row == 0:
            return top
        if row == n - 1:
            return bottom
        return ("⎨" if bracket == "{" else "⎬" if bracket == "}" else middle) if row == (n - 1) // 2 and n > 2 \
            else middle

    return [f"{piece(left, r)} {line} {piece(right, r)}".rstrip() if right else f"{piece(left, r)} {line}"
            for r, line in enumerate(lines)]


def _beside(blocks: list[list[str]]) -> list[str]:
    """Blocks of lines set side by side, one space apart, their middle rows level."""
    if not blocks:
        return []
    height = max(len(block) for block in blocks)
    middle = (height - 1) // 2
    out = [""] * height
    for index, block in enumerate(blocks):
        width = max(_width(line) for line in block)
        top = middle - (len(block) - 1) // 2
        for row in range(height):
            line = block[row - top] if 0 <= row - top < len(block) else ""
            out[row] += (" " if index else "") + line + " " * (width - _width(line))
    return [line.rstrip() for line in out]
