"""The deck file formats: YAML and Markdown question banks parsed into notes, and each note validated."""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from prep import cloze, mathtext, yamlnodes
from prep.model import CodeSpec, Note, Problem
from prep.paths import display_path

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TAG_PATTERN = re.compile(r"^[^\s\"]+$")
CODE_CARD_FIELDS = ("stub", "solution", "tests", "hints", "time")
CARD_FIELDS = ("id", "q", "a", "cloze", "extra", "tags", "reverse", "points", "guid") + CODE_CARD_FIELDS
FILE_FIELDS = ("deck", "tags", "cards")
FRONT_MATTER_FIELDS = ("deck", "tags")
META_FIELDS = ("id", "tags", "reverse", "guid")
# An Anki GUID kept from an import: printable ASCII, no spaces, nothing that ends a Markdown comment
GUID_PATTERN = re.compile(r"^(?!.*-->)[!-~]{1,100}$")
# Names people reach for; used only to suggest the right field in a message.
FIELD_SYNONYMS = {"question": "q", "answer": "a", "front": "q", "back": "a", "text": "cloze",
                  "tag": "tags", "reversed": "reverse", "two_way": "reverse", "name": "deck",
                  "rubric": "points", "key_points": "points"}
ACRONYMS = {"ml", "nlp", "llm", "llms", "rl", "cs", "sql", "svm", "pca", "gpu", "cnn", "rnn", "ai",
            "ab", "api", "mlops", "cv", "em", "gmm", "knn", "sgd", "lora", "rag", "dpo", "rlhf"}

# Neither the alt text, the path nor an <img> tag's attributes may contain the characters that start
# another reference: a match that fails then stops at the next start, and a scan is linear in the text
# (`[^>]*` could run on to the end from every `<img` of a field that never closes its tags).
IMAGE_MARKDOWN = re.compile(r"!\[[^\[\]]*\]\(\s*<?([^)\s<>\[\]]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
IMAGE_HTML = re.compile(r"<img\b[^<>]*?\bsrc\s*=\s*[\"']([^\"'<>]+)[\"']", re.IGNORECASE)
# Sound and other media, kept as references to files beside the deck like images: Anki's own
# `[sound:path]` (not after a backslash: `\[sound:x]` is text), and the file an `<audio>`, `<video>`,
# `<source>` or `<a>` tag or a Markdown link names (relative paths only: a URL is no file of the deck).
SOUND = re.compile(r"(?<!\\)\[sound:([^\[\]<>\n]+)\]")
_RELATIVE = r"(?![A-Za-z][A-Za-z0-9+.-]*:|[/\\#?])"
MEDIA_HTML = re.compile(r"<(?:(?:audio|video|source)\b[^<>]*?\bsrc|a\b[^<>]*?\bhref)\s*=\s*[\"']" + _RELATIVE
                        + r"([^\"'<>]+)[\"']", re.IGNORECASE)
LINK_MARKDOWN = re.compile(r"(?<![!\\])\[[^\[\]]*\]\(\s*<?" + _RELATIVE + r"([^)\s<>\[\]]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
MEDIA_PATTERNS = (("image", IMAGE_MARKDOWN), ("image", IMAGE_HTML), ("sound", SOUND), ("linked", MEDIA_HTML),
                  ("linked", LINK_MARKDOWN))
MEDIA_HINT = re.compile(r"<img|!\[|\[sound:|<(?:a|audio|video|source)\b|\]\(", re.IGNORECASE)
MEDIA_HINT_BYTES = re.compile(MEDIA_HINT.pattern.encode(), re.IGNORECASE)
# A `<` that no `>` closes before the next `<`, or a `<!--` that no `-->` closes before the next one
# (group 1; group 2 when a letter follows, as in a tag): Python's HTML parser, under Python-Markdown
# and markdownify, retries such a tag or comment from each one to the end of the text (quadratic).
UNCLOSED_TAG = re.compile(r"<!--(?:(?!<!--).)*?-->|(<)(?:(?=!--)|(?=([A-Za-z])?[^<>]*(?:<|\Z)))", re.S)
# greedy up to the last `-->` (a lazy `.*?` retries the trailing `\s*` at every character: quadratic)
META_COMMENT = re.compile(r"^<!--\s*([A-Za-z_][\w-]*\s*:.*)-->\s*$")
FIELD_LINE = re.compile(r"^(Q|A|Cloze|Extra|Points|Stub|Solution|Tests|Hints|Time):(?: |$)")
POINT_LINE = re.compile(r"^- (.*)$")
MAX_POINTS = 12  # a rubric an interviewer can hold in mind; more is an answer, not a checklist
MAX_POINT_LENGTH = 200
EMPTY_ANSWER_MD = '""'  # a Markdown card's `A: ""`: explicitly no answer (as YAML's `a: ""`)
MD_CODE_FIELDS = ("Stub", "Solution", "Tests", "Hints", "Time")
TIME_TEXT = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:m|min|mins|minutes?)?$")
FENCE_OPEN = mathtext.FENCE_OPEN
MISSING_ID = "missing id (run 'prep check --fix' to add one)"
# Size limits (docs/authoring.md): far above any real card, low enough that no file or field can make
# `check`, `export` or `import` slow (every scanner is linear, but the libraries they call are not all).
MAX_FIELD_BYTES = 100_000
MAX_FILE_BYTES = 2_000_000

# TeX commands a math span may use. Anki's MathJax runs every command it knows, after nh3 has cleaned
# the HTML, and some make live HTML (\href, \style, \class, \cssId, \html..., \unicode, \require,
# \bbox, \mmlToken): only the shipped decks' commands and other plain math are let through.
MATH_COMMANDS = frozenset("""
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi omicron pi varpi
    rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon
    Phi Psi Omega ell hbar imath jmath aleph infty partial nabla emptyset varnothing forall exists nexists neg lnot
    top bot angle prime Re Im wp
    pm mp times div cdot ast star circ bullet oplus ominus otimes oslash odot cap cup bigcap bigcup sqcup sqcap
    wedge vee land lor setminus wr uplus amalg dagger ddagger diamond triangle
    sum prod coprod int iint iiint oint bigoplus bigotimes bigodot biguplus bigvee bigwedge bigsqcup lim limsup
    liminf sup inf max min arg argmax argmin det dim exp ln log lg sin cos tan cot sec csc arcsin arccos arctan
    sinh cosh tanh coth deg gcd hom ker Pr mod bmod pmod
    le leq ge geq ne neq lt gt ll gg approx approxeq sim simeq cong equiv propto asymp doteq prec preceq succ
    succeq subset subseteq supset supseteq subsetneq supsetneq sqsubseteq sqsupseteq in notin ni mid nmid
    parallel perp models vdash dashv lessgtr leqslant geqslant lesssim gtrsim triangleq coloneqq not
    to gets rightarrow leftarrow leftrightarrow Rightarrow Leftarrow Leftrightarrow longrightarrow longleftarrow
    Longrightarrow Longleftarrow longleftrightarrow Longleftrightarrow mapsto longmapsto implies impliedby iff
    uparrow downarrow updownarrow Uparrow Downarrow nearrow searrow swarrow nwarrow hookrightarrow hookleftarrow
    rightleftharpoons xrightarrow xleftarrow
    langle rangle lfloor rfloor lceil rceil lvert rvert lVert rVert vert Vert backslash
    left right middle big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr
    frac dfrac tfrac cfrac binom dbinom tbinom sqrt root of over choose atop stackrel overset underset
    substack overbrace underbrace
    hat widehat bar overline underline tilde widetilde vec dot ddot check breve acute grave mathring
    overrightarrow overleftarrow
    mathbb mathcal mathscr mathfrak mathbf boldsymbol bm mathit mathrm mathsf mathtt mathnormal
    text textrm textbf textit texttt textsf mbox operatorname displaystyle textstyle scriptstyle
    scriptscriptstyle limits nolimits
    quad qquad enspace thinspace medspace thickspace negthinspace hspace space colon
    dots ldots cdots vdots ddots
    begin end hline cline boxed phantom hphantom vphantom smash cancel
""".split())
MATH_COMMAND = re.compile(r"\\(?:([A-Za-z]+)|.)", re.S)  # as MathJax reads: letters, or one other character


def forbidden_math_command(body: str) -> re.Match[str] | None:
    """The first command in a math span's LaTeX outside MATH_COMMANDS (group 1 is its name), or None."""
    for match in MATH_COMMAND.finditer(body):
        if match.group(1) is not None and match.group(1) not in MATH_COMMANDS:
            return match
    return None


def deck_name_for(path: Path, root: Path) -> str:
    """`math/linear-algebra/svd.yaml` → `Math::Linear Algebra::SVD`."""
    parts = path.relative_to(root).with_suffix("").parts
    return "::".join(_title(part) for part in parts)


def _title(part: str) -> str:
    # a file name that is not UTF-8 decodes with surrogates, which no encoder (terminal, Anki, SQLite)
    # takes: its bad bytes become U+FFFD in the deck name
    part = part.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    words = re.split(r"[-_ ]+", part)
    return " ".join(w.upper() if w.lower() in ACRONYMS else w[:1].upper() + w[1:] for w in words if w)


@functools.lru_cache(maxsize=4096)
def _default_deck(path: str, root: str) -> str:
    lexical, lexical_root = Path(path), Path(root)
    if lexical.is_relative_to(lexical_root) and ".." not in lexical.parts:  # found by walking root
        return deck_name_for(lexical, lexical_root)
    resolved, resolved_root = lexical.resolve(), lexical_root.resolve()
    if resolved.is_relative_to(resolved_root):
        return deck_name_for(resolved, resolved_root)
    return _title(resolved.stem)


def file_digest(data: bytes) -> tuple[bytes, bool]:
    """A deck file's content digest, and whether it may name media (whose files can change on their own)."""
    # sha256: hardware-accelerated on most CPUs, 3x faster than blake2b here
    return hashlib.sha256(data).digest(), MEDIA_HINT_BYTES.search(data) is not None


@dataclass
class Parsed:
    """What one deck file's bytes give: its valid notes, its problems, and every id written in it."""

    notes: list[Note]
    problems: list[Problem]
    seen_ids: list[str]


def parse_file(path: Path, root: Path) -> Parsed:
    """Read and parse one deck file (notes with problems are left out)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return Parsed([], [Problem(display_path(path), 1, f"cannot read file: {error.strerror}")], [])
    return parse_bytes(path, root, data)


def parse_bytes(path: Path, root: Path, data: bytes) -> Parsed:
    """Parse the bytes of the deck file at `path` (YAML or Markdown by its suffix)."""
    shown = display_path(path)
    if len(data) > MAX_FILE_BYTES:
        return Parsed([], [Problem(shown, 1, f"deck file is {_size(len(data))}, over the limit of "
                                             f"{_size(MAX_FILE_BYTES)}: split it into several files")], [])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return Parsed([], [Problem(shown, line, "file is not valid UTF-8")], [])
    parser = parser_for(path, shown, root, text.lstrip("\ufeff").replace("\r\n", "\n"))
    notes, problems = parser.parse()
    return Parsed(notes, problems, parser.seen_ids)


def parser_for(path: Path, shown: str, root: Path, text: str) -> "YamlParser | MarkdownParser":
    """The parser for a deck file's text; after `parse()` it also holds the file's structure (for `--fix`)."""
    return (MarkdownParser if path.suffix.lower() == ".md" else YamlParser)(path, shown, root, text)


def validate_note(note: Note, root: Path, answer_given: bool = False) -> list[Problem]:
    """The problems `prep check` would report for one note on its own (used to vet imported cards);
    `answer_given`: its answer was written, even if empty (a front-only card)."""
    checker = YamlParser(note.path, display_path(note.path), root, "")
    checker.finish_note(note, {}, answer_given)
    checker.run_code_checks()
    return checker.problems


class Parser:
    """Shared parts of the two formats: problems, fields, tags and per-note validation."""

    def __init__(self, path: Path, shown: str, root: Path, text: str) -> None:
        self.path = path
        self.shown = shown
        self.root = root
        self.text = text
        self.notes: list[Note] = []
        self.problems: list[Problem] = []
        self.deck = _default_deck(str(path), str(root))
        self.file_tags: list[str] = []
        self.seen_ids: list[str] = []  # every id written in the file, valid card or not
        self.document: yamlnodes.Value | None = None  # YAML: the parsed node tree (where `--fix` inserts ids)
        self.raw_cards: list[RawCard] = []  # Markdown: each card's lines, before validation
        # coding cards that passed the static checks, run against their tests when the file is parsed
        self.pending_code: list[tuple[Note, dict[str, int]]] = []

    def problem(self, line: int, message: str) -> None:
        """Record a problem at a 1-based line."""
        self.problems.append(Problem(self.shown, line, message))

    def unknown_field(self, line: int, name: str, allowed: tuple[str, ...]) -> None:
        suggestion = FIELD_SYNONYMS.get(name.lower())
        if suggestion not in allowed:
            close = difflib.get_close_matches(name, list(allowed) + list(FIELD_SYNONYMS), n=1, cutoff=0.6)
            suggestion = FIELD_SYNONYMS.get(close[0], close[0]) if close else None
        hint = f" (did you mean '{suggestion}'?)" if suggestion in allowed else ""
        self.problem(line, f"unknown field '{name}'{hint}; allowed: {', '.join(allowed)}")

    def tags_from(self, value: yamlnodes.Value, line: int) -> list[str] | None:
        if value.kind == "scalar" and isinstance(value.data, str):
            items = [t for t in re.split(r"[,\s]+", value.data) if t]
        elif value.kind == "seq" and all(item.kind == "scalar" for item in value.data):
            items = [item.raw for item in value.data]
        else:
            self.problem(line, "tags must be a list of words, e.g. [bayes, medium]")
            return None
        for tag in items:
            if not TAG_PATTERN.match(tag):
                self.problem(line, f"tag '{tag}' must be one word (no spaces or quotes)")
                return None
        return items

    def guid_from(self, value: yamlnodes.Value, line: int) -> str:
        """An Anki GUID field (kept so a note imported from Anki goes back to Anki as the same note)."""
        if value.kind != "scalar" or not isinstance(value.data, str) or not GUID_PATTERN.match(value.raw):
            self.problem(line, "guid must be an Anki note GUID: up to 100 printable ASCII characters, no spaces")
            return ""
        return value.raw

    def finish_note(self, note: Note, line_of: dict[str, int], answer_given: bool = False) -> None:
        """Validate one note's content and keep it if clean. `line_of` maps field → 1-based line;
        `answer_given`: the answer was written as explicitly empty (`a: ""`), a front-only card."""
        before = len(self.problems)
        card_line = note.line
        if note.id is None:
            self.problem(card_line, MISSING_ID)
        elif not ID_PATTERN.match(note.id):
            self.problem(line_of.get("id", card_line),
                         f"bad id '{note.id}': use letters, digits, '-', '_' or '.' (at most 100)")
        if note.code is not None:
            self.check_code(note, line_of)
        elif note.cloze:
            if note.q or note.a:
                self.problem(card_line, "a card has either q/a or cloze, not both")
            if note.reverse:
                self.problem(line_of.get("reverse", card_line), "reverse applies to q/a cards, not cloze")
            try:
                cloze.parse(note.cloze)
            except cloze.ClozeError as error:
                self.problem(line_of.get("cloze", card_line), str(error))
        else:
            if note.extra:
                self.problem(line_of.get("extra", card_line), "extra belongs to cloze cards; put it in the answer")
            if not note.q.strip():
                self.problem(line_of.get("q", card_line), "missing or empty question (q)")
            if answer_given and not note.a.strip():
                note.a = ""  # `a: " "` is as empty as `a: ""`
            if not note.a.strip() and not answer_given:
                self.problem(line_of.get("a", card_line), "missing or empty answer (a)")
            elif not note.a.strip() and note.reverse:
                self.problem(line_of.get("reverse", card_line), "reverse needs an answer: its reverse side asks it")
        for name in ("q", "a", "cloze", "extra"):
            text = getattr(note, name)
            if not text:
                continue
            size = len(text) if len(text) * 4 <= MAX_FIELD_BYTES else len(text.encode("utf-8", "surrogatepass"))
            if size > MAX_FIELD_BYTES:
                self.problem(line_of.get(name, card_line),
                             f"'{name}' is {_size(size)}, over the limit of {_size(MAX_FIELD_BYTES)} a field may hold")
                continue
            names_images = may_name_media(text)
            if "$" not in text and not names_images:
                continue  # splitting can only find a math problem where there is a `$`
            field_line = line_of.get(name, card_line)
            try:
                segments = mathtext.split(text)
            except mathtext.MathError as error:
                self.problem(field_line + error.line, error.message)
                continue
            self.check_math(segments, field_line)
            if names_images:
                self.check_images(segments, field_line)
        if note.points:
            self.check_points(note.points, line_of.get("points", card_line), line_of)
        if len(self.problems) == before:
            self.notes.append(note)
            if note.code is not None:
                self.pending_code.append((note, line_of))

    def check_code(self, note: Note, line_of: dict[str, int]) -> None:
        """A coding card's own rules; its answer side becomes the reference solution."""
        from prep import codecheck  # only decks with coding cards pay for its imports

        assert note.code is not None
        card_line = note.line
        if note.cloze or note.extra:
            self.problem(card_line, "a coding card has q, stub, solution and tests, not cloze or extra")
        if note.a and note.a != codecheck.fenced(note.code.solution):  # (a parsed note is checked again on import)
            self.problem(line_of.get("a", card_line), "a coding card's answer is its solution: leave out a")
        if note.reverse:
            self.problem(line_of.get("reverse", card_line), "reverse applies to q/a cards, not coding cards")
        if not note.q.strip():
            self.problem(line_of.get("q", card_line), "missing or empty question (q)")
        for name, offset, message in codecheck.static_problems(note.code):
            self.problem(line_of.get(name, card_line) + offset, message)
        note.a = codecheck.fenced(note.code.solution)

    def run_code_checks(self) -> None:
        """Run every clean coding card of the file against its tests (one sandboxed process for the file);
        a card whose solution fails or whose stub passes is reported and left out."""
        if not self.pending_code:
            return
        from prep import codecheck

        pending, self.pending_code = self.pending_code, []
        verdicts = codecheck.run_problems([note.code for note, _ in pending])  # type: ignore[misc]
        for (note, line_of), problems in zip(pending, verdicts):
            for name, offset, message in problems:
                self.problem(line_of.get(name, note.line) + offset, message)
            if problems:
                self.notes.remove(note)

    def check_math(self, segments: list[mathtext.Segment], field_line: int) -> None:
        for segment in segments:
            found = forbidden_math_command(segment.body) if segment.kind in ("math", "display") else None
            if found:
                line = field_line + segment.line + segment.body.count("\n", 0, found.start())
                self.problem(line, f"math command \\{found.group(1)} is not allowed (Anki would run it)")

    def check_points(self, points: list[str], field_line: int, line_of: dict[str, int]) -> None:
        """A rubric is a short list of non-empty one-line strings (`line_of["point<N>"]`: each one's line)."""
        if len(points) > MAX_POINTS:
            self.problem(field_line, f"{len(points)} points: at most {MAX_POINTS} (keep the ones an answer must make)")
        for number, point in enumerate(points):
            line = line_of.get(f"point{number}", field_line)
            if not point.strip():
                self.problem(line, "empty point: each point is a short line of text")
            elif "\n" in point.strip():
                self.problem(line, "a point is one line of text")
            elif len(point) >= MAX_POINT_LENGTH:
                self.problem(line, f"point is {len(point)} characters long: keep each under {MAX_POINT_LENGTH}")
            elif "$" in point:
                try:
                    mathtext.split(point)
                except mathtext.MathError as error:
                    self.problem(line, error.message)

    def yaml_points(self, value: yamlnodes.Value, line: int, line_of: dict[str, int]) -> list[str]:
        if value.kind == "scalar" and value.data is None:
            return []
        if value.kind != "seq" or any(item.kind != "scalar" for item in value.data):
            self.problem(line, "points must be a list of short one-line texts, e.g. [names the bias, gives an example]")
            return []
        for number, item in enumerate(value.data):
            line_of[f"point{number}"] = item.line + 1
        return ["" if item.data is None else str(item.raw) for item in value.data]

    def check_images(self, segments: list[mathtext.Segment], field_line: int) -> None:
        """Each image, sound or linked file a field names must be a file inside the decks folder."""
        for segment in segments:
            if segment.kind != "text":
                continue
            for what, pattern in MEDIA_PATTERNS:
                line, counted = field_line + segment.line, 0  # counted on from the last match: linear
                for match in pattern.finditer(segment.source):
                    line += segment.source.count("\n", counted, match.start())
                    counted = match.start()
                    problem = image_problem(match.group(1), self.path, self.root, what)
                    if problem:
                        self.problem(line, problem)


def _size(count: int) -> str:
    return f"{count:,} bytes"


def image_problem(reference: str, deck_file: Path, root: Path, what: str = "image") -> str | None:
    """Why an image (or `what`: sound, linked file) reference is unusable, or None when it names a
    file inside the decks folder."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", reference) or reference.startswith("//"):
        return f"{what} '{reference}' must be a file path relative to the deck file, not a URL"
    if reference.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", reference):
        return f"{what} '{reference}' must be a relative path"
    target = (deck_file.parent / reference).resolve()
    if not target.is_relative_to(root.resolve()):
        return f"{what} path '{reference}' leaves the decks folder"
    if not target.is_file():
        return f"missing {what} file '{reference}'"
    return None


def may_name_media(text: str) -> bool:
    """Whether a field may name an image, sound or linked file (cheap: no parse)."""
    return MEDIA_HINT.search(text) is not None


def image_paths(text: str) -> list[str]:
    """Image references in Markdown text (outside code)."""
    return [reference for what, reference in media_references(text) if what == "image"]


def media_references(text: str) -> list[tuple[str, str]]:
    """(image | sound | linked, reference) for each file Markdown text names outside code and math,
    each kind in the order of the text (images first, per pattern, as before)."""
    try:
        segments = mathtext.split(text)
    except mathtext.MathError:
        return []
    found: list[tuple[str, str]] = []
    for kind in ("image", "sound", "linked"):
        for segment in segments:
            if segment.kind != "text":
                continue
            if kind == "image":
                for pattern in (IMAGE_MARKDOWN, IMAGE_HTML):
                    found.extend((kind, m.group(1)) for m in pattern.finditer(segment.source))
            else:  # one kind's patterns merged by position: a link and an <audio> pair up in text order
                matches = [m for what, pattern in MEDIA_PATTERNS if what == kind for m in pattern.finditer(segment.source)]
                found.extend((kind, m.group(1)) for m in sorted(matches, key=lambda m: m.start()))
    return found


class YamlParser(Parser):
    """A YAML deck file: a mapping with `cards:` and optional `deck:`/`tags:`."""

    def parse(self) -> tuple[list[Note], list[Problem]]:
        try:
            document = yamlnodes.load(self.text)
        except yamlnodes.YamlError as error:
            self.problem(error.line + 1, error.message)
            return [], self.problems
        self.document = document
        if document is None:
            self.problem(1, "empty deck file: add 'cards:' with a list of cards")
            return [], self.problems
        if document.kind != "map":
            self.problem(document.line + 1, "a deck file is a mapping with a 'cards:' list")
            return [], self.problems
        fields = document.data
        for name, (line, _) in fields.items():
            if name not in FILE_FIELDS:
                self.unknown_field(line + 1, name, FILE_FIELDS)
        if "deck" in fields:
            line, value = fields["deck"]
            if value.kind != "scalar" or not str(value.raw).strip():
                self.problem(line + 1, "deck must be a name such as 'Math::Probability'")
            else:
                self.deck = value.raw.strip()
        if "tags" in fields:
            line, value = fields["tags"]
            self.file_tags = self.tags_from(value, line + 1) or []
        if "cards" not in fields:
            self.problem(1, "missing 'cards:' list")
            return [], self.problems
        line, cards = fields["cards"]
        if cards.kind != "seq":
            self.problem(line + 1, "'cards' must be a list of cards (each starting with '- ')")
            return [], self.problems
        for item in cards.data:
            self.parse_card(item)
        self.run_code_checks()
        return self.notes, self.problems

    def parse_card(self, item: yamlnodes.Value) -> None:
        card_line = item.line + 1
        if item.kind != "map":
            self.problem(card_line, "each card is a mapping with id, q and a (or cloze)")
            return
        note = Note(id=None, deck=self.deck, path=self.path, line=card_line, tags=list(self.file_tags))
        line_of: dict[str, int] = {}
        code: dict[str, object] = {}
        before = len(self.problems)
        answer_given = False  # `a: ""` (quoted): a front-only card; `a:` alone (null) is a forgotten answer
        for name, (key_line, value) in item.data.items():
            line_of[name] = key_line + 1
            if name not in CARD_FIELDS:
                self.unknown_field(key_line + 1, name, CARD_FIELDS)
            elif name == "hints":
                if value.kind == "seq" and all(h.kind == "scalar" and isinstance(h.data, str) for h in value.data):
                    code[name] = tuple(h.raw.strip() for h in value.data)
                else:
                    self.problem(key_line + 1, "hints must be a list of texts (quote a hint that contains ': ')")
            elif name == "time":
                if value.kind != "scalar" or isinstance(value.data, bool) or not isinstance(value.data, (int, float)):
                    self.problem(key_line + 1, "time is the target in minutes, a number such as 10")
                else:
                    code[name] = float(value.data)
            elif name == "tags":
                note.tags.extend(t for t in (self.tags_from(value, key_line + 1) or []) if t not in note.tags)
            elif name == "points":
                note.points = self.yaml_points(value, key_line + 1, line_of)
            elif name == "reverse":
                if not isinstance(value.data, bool):
                    self.problem(key_line + 1, "reverse must be true or false")
                note.reverse = value.data is True
            elif value.kind != "scalar":
                self.problem(key_line + 1, f"'{name}' must be text, not a {'list' if value.kind == 'seq' else 'mapping'}")
            elif name == "guid":
                note.guid = self.guid_from(value, key_line + 1)
            elif name == "id":
                if value.data is None:
                    continue
                if not isinstance(value.data, str):
                    self.problem(key_line + 1, f"id must be text; quote it: id: \"{value.raw}\"")
                note.id = value.raw
                self.seen_ids.append(value.raw)
            elif name in CODE_CARD_FIELDS[:3]:  # stub, solution, tests
                code[name] = "" if value.data is None else value.raw.rstrip("\n") + "\n"
                line_of[name] = value.text_line + 1
            else:
                text = "" if value.data is None else value.raw
                setattr(note, name, text.strip("\n"))
                line_of[name] = value.text_line + 1
                answer_given = answer_given or (name == "a" and value.data is not None)
        if len(self.problems) > before:
            return
        if code:
            note.code = code_spec(code)
        self.finish_note(note, line_of, answer_given)


@dataclass
class RawCard:
    """One Markdown card as written: where it starts, its metadata comment and its field lines."""

    line: int
    meta: tuple[int, str] | None
    fields: dict[str, tuple[int, list[str]]] = field(default_factory=dict)


class MarkdownParser(Parser):
    """A Markdown deck file: optional front matter, then `Q:`/`A:` or `Cloze:`/`Extra:` cards."""

    def parse(self) -> tuple[list[Note], list[Problem]]:
        lines = self.text.split("\n")
        body_start = self.parse_front_matter(lines)
        if body_start < 0:
            return [], self.problems
        raw_cards: list[RawCard] = []
        current: RawCard | None = None
        current_field = ""
        pending_meta: tuple[int, str] | None = None
        fence_close: re.Pattern[str] | None = None
        seen_card = False

        def drop_pending() -> None:
            nonlocal pending_meta
            if pending_meta:
                self.problem(pending_meta[0], "metadata comment must be followed by a Q: or Cloze: line")
                pending_meta = None

        for index in range(body_start, len(lines)):
            line = lines[index]
            number = index + 1
            if fence_close is not None:
                if current is not None:
                    current.fields[current_field][1].append(line)
                if fence_close.match(line):
                    fence_close = None
                continue
            meta = META_COMMENT.match(line)
            if meta:
                drop_pending()
                current = None
                pending_meta = (number, meta.group(1).rstrip())
                continue
            field_match = FIELD_LINE.match(line)
            if field_match:
                name = field_match.group(1)
                rest = line[field_match.end():]
                if name in ("Q", "Cloze"):
                    current = RawCard(pending_meta[0] if pending_meta else number, pending_meta)
                    pending_meta = None
                    raw_cards.append(current)
                    seen_card = True
                elif current is None:
                    self.problem(number, f"{name}: outside a card (start the card with Q: or Cloze:)")
                    continue
                elif name in current.fields:
                    self.problem(number, f"second {name}: in one card")
                    continue
                elif name == "A" and "Q" not in current.fields:
                    self.problem(number, "A: in a cloze card (use Extra:)")
                    continue
                elif name == "Extra" and "Cloze" not in current.fields:
                    self.problem(number, "Extra: belongs to a cloze card (put it in the answer)")
                    continue
                elif name in MD_CODE_FIELDS and "Q" not in current.fields:
                    self.problem(number, f"{name}: belongs to a coding card (after its Q:)")
                    continue
                current_field = name
                current.fields[name] = (number, [rest])
                continue
            if line.strip() == "---":
                drop_pending()
                current = None
                continue
            fence = FENCE_OPEN.match(line)
            if fence:
                mark = fence.group(1)
                fence_close = closing_fence(mark)
            if current is not None:
                current.fields[current_field][1].append(line)
            elif line.strip():
                if pending_meta:
                    drop_pending()
                elif seen_card and not line.lstrip().startswith(("#", "<!--")):
                    self.problem(number, "text outside a card (start a card with Q: or Cloze:, or end the previous one later)")
        drop_pending()
        self.raw_cards = raw_cards
        for raw in raw_cards:
            self.build_note(raw)
        self.run_code_checks()
        return self.notes, self.problems

    def parse_front_matter(self, lines: list[str]) -> int:
        if not lines or lines[0].strip() != "---":
            return 0
        for end in range(1, len(lines)):
            if lines[end].strip() in ("---", "..."):
                break
        else:
            self.problem(1, "front matter opened with --- is never closed")
            return -1
        try:
            value = yamlnodes.load("\n".join(lines[1:end]))
        except yamlnodes.YamlError as error:
            self.problem(error.line + 2, f"front matter: {error.message}")
            return -1
        if value is None:
            return end + 1
        if value.kind != "map":
            self.problem(2, "front matter must be a mapping (deck:, tags:)")
            return -1
        for name, (line, item) in value.data.items():
            if name not in FRONT_MATTER_FIELDS:
                self.unknown_field(line + 2, name, FRONT_MATTER_FIELDS)
            elif name == "deck":
                if item.kind != "scalar" or not str(item.raw).strip():
                    self.problem(line + 2, "deck must be a name such as 'Math::Probability'")
                else:
                    self.deck = item.raw.strip()
            else:
                self.file_tags = self.tags_from(item, line + 2) or []
        return end + 1

    def build_note(self, raw: RawCard) -> None:
        note = Note(id=None, deck=self.deck, path=self.path, line=raw.line, tags=list(self.file_tags))
        line_of: dict[str, int] = {}
        before = len(self.problems)
        if raw.meta:
            meta_line, meta_text = raw.meta
            try:
                meta = _simple_meta(meta_text) or yamlnodes.load("{" + meta_text + "}")
            except yamlnodes.YamlError as error:
                self.problem(meta_line, f"bad metadata comment: {error.message}")
                return
            assert meta is not None and meta.kind == "map"
            for name, (_, value) in meta.data.items():
                line_of[name] = meta_line
                if name not in META_FIELDS:
                    self.unknown_field(meta_line, name, META_FIELDS)
                elif name == "id":
                    if value.kind != "scalar" or not isinstance(value.data, str):
                        self.problem(meta_line, "id must be text")
                    else:
                        note.id = value.raw
                        self.seen_ids.append(value.raw)
                elif name == "tags":
                    note.tags.extend(t for t in (self.tags_from(value, meta_line) or []) if t not in note.tags)
                elif name == "guid":
                    note.guid = self.guid_from(value, meta_line)
                elif not isinstance(value.data, bool):
                    self.problem(meta_line, "reverse must be true or false")
                else:
                    note.reverse = value.data
        code: dict[str, object] = {}
        answer_given = False
        for name, (line, text_lines) in raw.fields.items():
            if name == "Points":
                note.points = self.markdown_points(line, text_lines, line_of)
                line_of["points"] = line
                continue
            if name in MD_CODE_FIELDS:
                self.code_field(name, line, text_lines, code, line_of)
                continue
            key = {"Q": "q", "A": "a", "Cloze": "cloze", "Extra": "extra"}[name]
            # the field's text starts at its first non-blank line (a blank field: at its own line)
            first = next((i for i, text in enumerate(text_lines) if text.strip()), 0)
            following = next((i for i, text in enumerate(text_lines) if i > first and text.strip()), None)
            if key == "a" and text_lines[first].strip() == EMPTY_ANSWER_MD and following is not None:
                # the text would have become an answer starting with a literal ""
                self.problem(line + following, f'A: {EMPTY_ANSWER_MD} means no answer, yet text follows; '
                                               f'remove the {EMPTY_ANSWER_MD} or the text')
                continue
            setattr(note, key, "\n".join(text_lines[first:]).strip("\n").rstrip())
            line_of[key] = line + first
            if key == "a" and note.a == EMPTY_ANSWER_MD:  # `A: ""` alone: a front-only card
                note.a, answer_given = "", True
        if "Q" in raw.fields and "A" not in raw.fields and not code:
            self.problem(raw.fields["Q"][0], "question without an answer (add an A: line)")
        if len(self.problems) > before:
            return
        if code:
            note.code = code_spec(code)
        self.finish_note(note, line_of, answer_given)

    def markdown_points(self, line: int, text_lines: list[str], line_of: dict[str, int]) -> list[str]:
        """`Points:` alone on its line, then one `- ` line per point (blank lines are ignored)."""
        if text_lines[0].strip():
            self.problem(line, "put each point on its own '- ' line below 'Points:'")
        points: list[str] = []
        for offset, text in enumerate(text_lines[1:], start=1):
            if not text.strip():
                continue
            match = POINT_LINE.match(text)
            if match is None:
                self.problem(line + offset, "each line under 'Points:' is one point starting with '- '")
                continue
            line_of[f"point{len(points)}"] = line + offset
            points.append(match.group(1).strip())
        return points

    def code_field(self, name: str, line: int, text_lines: list[str], code: dict[str, object],
                   line_of: dict[str, int]) -> None:
        """One `Stub:`/`Solution:`/`Tests:` (a fenced python block), `Hints:` (a list) or `Time:` field."""
        key = name.lower()
        line_of[key] = line
        if name == "Time":
            match = TIME_TEXT.match(" ".join(text_lines).strip())
            if match:
                code[key] = float(match.group(1))
            else:
                self.problem(line, "Time: is the target in minutes, e.g. 'Time: 10'")
            return
        if name == "Hints":
            hints: list[str] = []
            for text in text_lines:
                if text.lstrip().startswith(("- ", "* ")):
                    hints.append(text.lstrip()[2:].strip())
                elif text.strip() and hints:
                    hints[-1] += " " + text.strip()
                elif text.strip():
                    self.problem(line, "Hints: is a list, one '- ' line per hint")
                    return
            code[key] = tuple(hints)
            return
        filled = [i for i, text in enumerate(text_lines) if text.strip()]
        opening = FENCE_OPEN.match(text_lines[filled[0]]) if filled else None
        close = opening and closing_fence(opening.group(1))
        inside = text_lines[filled[0] + 1:filled[-1]] if filled else []
        if (not close or filled[0] == filled[-1] or not close.match(text_lines[filled[-1]])
                or any(close.match(text) for text in inside)):  # text, or a second block, after the first
            self.problem(line, f"{name}: holds one fenced python code block (```python ... ```)")
            return
        code[key] = "\n".join(inside) + "\n"
        line_of[key] = line + filled[0] + 1


def closing_fence(mark: str) -> re.Pattern[str]:
    """The line that closes a code fence opened with `mark` (the same character, at least as many)."""
    return re.compile(r"^ {0,3}" + re.escape(mark[0]) + "{" + str(len(mark)) + r",}\s*$")


def code_spec(fields: dict[str, object]) -> CodeSpec:
    """A CodeSpec from a card's code fields (missing ones empty, for the checks to report)."""
    return CodeSpec(str(fields.get("stub", "")), str(fields.get("solution", "")), str(fields.get("tests", "")),
                    tuple(fields.get("hints", ())), fields.get("time"))  # type: ignore[arg-type]

SIMPLE_META = re.compile(
    r"^id:\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\s*,\s*tags:\s*\[([\w\s,.+-]*)\])?(?:\s*,\s*reverse:\s*(true|false))?$")


def _simple_meta(text: str) -> yamlnodes.Value | None:
    """The common `id: x, tags: [a, b], reverse: true` without a YAML parse (it dominates load time)."""
    match = SIMPLE_META.match(text.strip())
    if not match:
        return None
    data: dict[str, tuple[int, yamlnodes.Value]] = {"id": (0, yamlnodes.Value(match.group(1), 0, 0, raw=match.group(1)))}
    if match.group(2) is not None:
        tags = [t.strip() for t in match.group(2).split(",") if t.strip()]
        data["tags"] = (0, yamlnodes.Value([yamlnodes.Value(t, 0, 0, raw=t) for t in tags], 0, 0, kind="seq"))
    if match.group(3):
        data["reverse"] = (0, yamlnodes.Value(match.group(3) == "true", 0, 0, raw=match.group(3)))
    return yamlnodes.Value(data, 0, 0, kind="map")

