"""LaTeX → terminal text: exact output for the forms the decks use, and nothing dropped anywhere in them."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import pytest

from prep import decks, mathtext, paths

EXAMPLES = {
    r"\det A": "det A",
    r"\|\nabla f\|": "‖∇f‖",
    r"\binom{5}{3}/2^5": "C(5, 3)/2⁵",
    r"x \ne 0": "x ≠ 0",
    r"x \neq 0": "x ≠ 0",
    r"\overline{x}": "x\u0305",
    r"\overline{xy}": "x\u0305y\u0305",
    r"\arg\max_x f(x)": "arg maxₓ f(x)",
    r"\sqrt[3]{x}": "∛x",
    r"\sqrt[5]{x}": "⁵√x",
    r"\sqrt{x}": "√x",
    r"\sqrt{x+1}": "√(x+1)",
    r"\log p": "log p",
    r"\ln t": "ln t",
    r"p\log p": "p log p",
    r"\log(x)": "log(x)",
    r"\mathrm{KL}(p\|q)": "KL(p‖q)",
    r"\operatorname{Var}X": "Var X",
    r"\mathrm{d}x": "dx",
    r"e^{-x^2/2}": "e^(-x²/2)",
    r"\mathbb R^{n\times d_k}": "ℝ^(n×dₖ)",  # d_k inside follows the same rule as everywhere: k has a subscript
    r"q_{j-1}": "q_(j-1)",  # no subscript j in most terminal fonts
    r"h_{t-1}": "hₜ₋₁",
    r"x^2": "x²",
    r"x_i": "xᵢ",
    r"\pi_\theta": "π_θ",
    r"\log \frac{p}{q}": "log(p/q)",
    r"\frac{a+b}{c+d}": "(a+b)/(c+d)",
    r"\frac{a}{b}": "a/b",
    r"\frac{1}{2n}": "1/(2n)",
    r"\tfrac12": "1/2",
    r"\tfrac12\|x\|^2": "1/2 ‖x‖²",
    r"\frac{a}{b}^2": "(a/b)²",
    r"n^{\log_b a}": "n^(log_b a)",
    r"\hat\beta = X": "β̂ = X",
    r"H_0\colon \mu = 0": "H₀: μ = 0",
    r"\sum_{i=1}^n x_i": "Σᵢ₌₁ⁿ xᵢ",
    r"\int_0^\infty e^{-t}\,dt": "∫₀^∞ e⁻ᵗ dt",
    r"\hat x": "x̂",
    r"\hat y": "ŷ",
    r"\bar x": "x̄",
    r"\tilde c": "c̃",
    r"\dot x": "ẋ",
    r"\vec v": "v⃗",
    r"A^\top A": "AᵀA",
    r"x^{\top}": "xᵀ",
    r"\mathcal N(0, 1)": "𝒩(0, 1)",
    r"\mathcal{L}": "ℒ",
    r"\text{if } x > 0": "if x > 0",
    r"\left( \frac{a}{b} \right)": "( a/b )",
    r"\left. f \right|_0": "f |₀",
    r"P(D \mid H)": "P(D | H)",
    r"a \le b \ge c \approx d \propto e \sim f \in g \to h": "a ≤ b ≥ c ≈ d ∝ e ∼ f ∈ g → h",
    r"A \cup B \cap C \setminus D": "A ∪ B ∩ C ∖ D",
    r"\alpha\beta\Gamma": "αβΓ",
    r"a \cdot b \times c": "a · b × c",
    r"\pm 1": "±1",
    r"\partial_x f": "∂ₓ f",
    r"\foo{x} + \bar{\baz}": "\\foo{x} + \\b̄āz̄",
    r"\begin{pmatrix} a & b \\ c & d \end{pmatrix}": "(a b; c d)",
    r"\begin{bmatrix} 1 & -x \\ 0 & 1 \end{bmatrix}": "[1, -x; 0, 1]",
    r"\begin{cases} 1 & x > 0 \\ 0 & \text{otherwise} \end{cases}": "{ 1 if x > 0; 0 otherwise }",
    r"\begin{aligned} a &= b \\ c &= d \end{aligned}": "a = b; c = d",
    r"\lim_{n\to\infty} a_n": "lim_(n→∞) aₙ",
    r"\Pr(A) \exp(x) \sup_x \min_y": "Pr(A) exp(x) supₓ min_y",
    r"\quad x\,y\!z": "x yz",
    r"\begin{foo} x \end{foo}": r"\begin{foo} x \end{foo}",
    r"\text{cost \$5 when $x_i > 1$}": "cost $5 when xᵢ > 1",
}


@pytest.mark.parametrize("latex", EXAMPLES)
def test_exact_output(latex: str) -> None:
    assert mathtext.convert(latex) == EXAMPLES[latex]


def test_display_math_lays_out_rows_and_matrices() -> None:
    aligned = mathtext.convert("\\begin{aligned}\nf_t &= \\sigma(x) && \\text{forget}\\\\\n\\tilde c_t &= \\tanh(y)\n"
                               "\\end{aligned}", display=True)
    assert aligned.split("\n") == ["fₜ = σ(x)       forget", "c̃ₜ = tanh(y)"]
    matrix = mathtext.convert(r"A = \begin{pmatrix} 2 & 10 \\ 1 & 2 \end{pmatrix}", display=True)
    assert matrix.split("\n") == ["A = ⎛ 2  10 ⎞", "    ⎝ 1  2  ⎠"]
    cases = mathtext.convert(r"|x| = \begin{cases} x & x \ge 0 \\ -x & x < 0 \end{cases}", display=True)
    assert cases.split("\n") == ["|x| = ⎧ x  if x ≥ 0", "      ⎩ -x if x < 0"]
    assert mathtext.convert(r"x = 1 \\ y = 2", display=True) == "x = 1\ny = 2"
    assert mathtext.convert(r"x = 1 \\ y = 2") == "x = 1; y = 2"


def test_unparsable_latex_falls_back_to_its_source() -> None:
    with pytest.raises(Exception):
        mathtext.convert(r"\frac{a")
    assert mathtext.latex_to_unicode(r"\frac{a") == r"\frac{a"


def test_every_known_macro_writes_something_or_is_a_declared_silent_one() -> None:
    for name in mathtext.known_macros():
        text = mathtext.macro_text(name)
        if name in mathtext.SILENT or name in mathtext.SPACES or name in ("begin", "end", "not"):
            continue
        latex = f"\\{name}{{x}}{{y}}" if text is None else f"\\{name}"
        assert mathtext.convert(latex).strip(), name


def _alphanumerics(text: str) -> Counter:
    """Letters and digits of `text` as their plain forms (ℝ → R, ² → 2, x̂ → x, ∛ → 3)."""
    text = unicodedata.normalize("NFKD", text.replace("∛", "3").replace("∜", "4"))
    return Counter(char for char in text if char.isascii() and char.isalnum())


def math_spans() -> list[str]:
    collection = decks.load(paths.bundled_decks())
    spans = []
    for note in collection.notes:
        for field in (note.q, note.a, note.cloze, note.extra):
            spans.extend((s.body, s.kind == "display") for s in mathtext.split(field) if s.kind in ("math", "display"))
    return spans


def test_every_math_span_of_the_shipped_decks_keeps_every_macro_and_letter() -> None:
    spans = math_spans()
    assert len(spans) > 3000
    known = mathtext.known_macros()
    problems = []
    for latex, display in spans:
        out = mathtext.convert(latex, display)  # raises on a span the parser rejects: no silent fallback
        decomposed = unicodedata.normalize("NFD", out)  # ᾱ holds α
        for name in re.findall(r"\\([A-Za-z]+|.)", latex):
            text = mathtext.macro_text(name)
            if name not in known and f"\\{name}" not in out:
                problems.append(f"{latex!r}: unknown \\{name} dropped from {out!r}")
            elif text and text.strip() and text not in decomposed and not any(
                    "".join(table.get(c, c) for c in text) in out for table in (mathtext.SUPERSCRIPT, mathtext.SUBSCRIPT)):
                problems.append(f"{latex!r}: \\{name} ({text}) missing from {out!r}")
        # every letter and digit of the source outside macro and environment names reaches the output
        plain = re.sub(r"\\(begin|end)\{[^}]*\}|\\[A-Za-z]+", "", latex)
        missing = _alphanumerics(plain) - _alphanumerics(out)
        if missing:
            problems.append(f"{latex!r}: {sorted(missing.elements())} missing from {out!r}")
    assert not problems, "\n".join(problems[:30])
