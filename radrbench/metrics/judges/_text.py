"""Text handling for the offline judge: word normalisation, sentences and reasoning steps."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z0-9]+")
_IRREGULAR = {
    "apices": "apex",
    "vertebrae": "vertebra",
    "hila": "hilum",
    "bronchi": "bronchus",
    "pneumothoraces": "pneumothorax",
    "atelectases": "atelectasis",
    "bullae": "bulla",
    "diagnoses": "diagnosis",
    "metastases": "metastasis",
    "calcinoses": "calcinosis",
    "sulci": "sulcus",
    "x": "x",
}
_KEEP_S = ("ss", "is", "us", "ous", "xs", "ys")


def normalize_word(word: str) -> str:
    """Lower-case a word and fold its plural ("opacities" -> "opacity")."""
    word = word.lower()
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


@dataclass(frozen=True, slots=True)
class Token:
    """A normalised word and its character span in the source text."""

    norm: str
    start: int
    end: int


_CONTRACTED = {"can": "can", "won": "will", "don": "do", "ain": "is"}


def tokenize(text: str) -> list[Token]:
    """Split text into normalised word tokens (hyphens and punctuation separate words).

    Contracted negations become two words: "doesn't" -> "does", "not".
    """
    tokens: list[Token] = []
    for match in _WORD.finditer(text):
        word = match.group()
        if word.lower() == "t" and tokens and _contracted(text, match.start(), tokens[-1]):
            previous = tokens[-1]
            stem = previous.norm[:-1]
            tokens[-1] = Token(_CONTRACTED.get(previous.norm, stem), previous.start, previous.end)
            tokens.append(Token("not", match.start(), match.end()))
            continue
        tokens.append(Token(normalize_word(word), match.start(), match.end()))
    return tokens


def _contracted(text: str, start: int, previous: Token) -> bool:
    return (
        previous.end == start - 1 and text[start - 1] in "'\u2019" and (previous.norm.endswith("n"))
    )


def normalize_phrase(phrase: str) -> tuple[str, ...]:
    """The normalised word sequence of a lexicon phrase."""
    return tuple(token.norm for token in tokenize(phrase))


_MARKDOWN = re.compile(r"(\*\*|__|`|#+\s|^\s*>\s?)", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)]|[A-Da-d][.)])\s+", re.MULTILINE)
# Sentence ends: . ! ? ; followed by space/end, but not inside "e.g." or decimals.
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bDr)(?<!\bvs)(?<=[.!?;])\s+|\n+")


def clean(text: str) -> str:
    """Drop markdown emphasis, headings and list markers, keeping line structure."""
    text = _MARKDOWN.sub("", text)
    return _BULLET.sub("", text)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a text and the reasoning step it belongs to."""

    text: str
    step: int


def sentences(text: str) -> list[Sentence]:
    """Split a text into sentences, numbering the reasoning steps they belong to.

    A step is a paragraph or list item; a heading line ending in ":" opens a step that the
    following lines continue. Texts written as one paragraph get one step per sentence.
    """
    blocks = _blocks(text)
    one_paragraph = len(blocks) == 1
    out: list[Sentence] = []
    step = -1
    for block in blocks:
        step += 1
        for index, part in enumerate(_SENTENCE_END.split(block)):
            part = part.strip()
            if not part or not _WORD.search(part):
                continue
            if one_paragraph and index > 0 and out:
                step += 1
            out.append(Sentence(part, step))
    return out


def _blocks(text: str) -> list[str]:
    """Paragraphs and list items; a line ending with ':' is merged with what follows it."""
    blocks: list[str] = []
    heading = ""
    for raw in re.split(r"\n", text):
        is_item = bool(_BULLET.match(raw))
        line = clean(raw).strip()
        if not line:
            continue
        if line.endswith(":") and len(line) < 120:
            heading = f"{heading} {line}".strip() if heading else line
            continue
        if heading:
            blocks.append(f"{heading} {line}")
            heading = ""
        elif is_item or not blocks:
            blocks.append(line)
        else:
            blocks.append(line)
    if heading:
        blocks.append(heading)
    return blocks
