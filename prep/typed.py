"""Typed answers: a word-level comparison of what was typed with a short model answer."""

from __future__ import annotations

import difflib
import re

from prep import sanitize

# Longer answers are explanations, not wordings: a word diff of them is noise, so only these get one.
SHORT_ANSWER_WORDS = 40
MARKDOWN_AROUND = "_#>()[]{}|"  # emphasis and link marks stripped from a word's ends
MARKDOWN_WITHIN = re.compile(r"[*`]+")  # bold and code marks, wherever they are (`**noise**.`)
LEGEND = ("[dim]compared word by word: [green]+word[/] missing from your answer · "
          "[red strike]-word[/] not in the model answer[/]")


def words(text: str) -> list[str]:
    """The words of Markdown text, with the marks around them stripped."""
    return [word for word in (MARKDOWN_WITHIN.sub("", token).strip(MARKDOWN_AROUND)
                                  for token in text.split()) if word]


def _key(word: str) -> str:
    # case and punctuation do not make an answer wrong
    return re.sub(r"[^\w]", "", word.casefold()) or word


def word_diff(typed: str, model: str) -> str | None:
    """Rich markup: the model answer's words, those missing from `typed` marked `+word` (green) and the
    typed words it lacks struck `-word` (red); every word sanitised. None when the model answer has
    SHORT_ANSWER_WORDS words or more, or either side has none."""
    mine, theirs = words(typed), words(model)
    if not mine or not theirs or len(theirs) >= SHORT_ANSWER_WORDS:
        return None
    matcher = difflib.SequenceMatcher(a=[_key(w) for w in mine], b=[_key(w) for w in theirs], autojunk=False)
    parts: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.extend(sanitize.markup(word) for word in theirs[j1:j2])
            continue
        parts.extend(f"[red strike]-{sanitize.markup(word)}[/]" for word in mine[i1:i2])
        parts.extend(f"[green]+{sanitize.markup(word)}[/]" for word in theirs[j1:j2])
    return " ".join(parts)
