"""Sentences that state nothing: word salad, repetition loops and token debris.

A model's reasoning can contain finding words without stating anything: the reference's
words shuffled, a decoding loop ("cent left cent left cent left"), broken sub-word debris
("leftLeLeLe cardiomeg"). Lexicon matching would read findings into such text, so the
offline judge skips these sentences (no findings, no supported step).

The tests are about English word order, not about radiology, so they do not depend on a
report style:

- salad: function words where English never puts them ("the of", "with and", "there
  size", a sentence ending in "the"), function words capitalised inside a sentence, a
  sentence starting with "is"/"are" that is no question, or a long run of words without a
  function word, number or punctuation mark between them;
- loop: a word sequence repeated back to back, or a long sentence made of few words;
- debris: most tokens are not words (mixed case inside a word, a syllable stuttered).

A sentence with one such sign is suspect, with two (one in a short sentence) it is noise.
Word salad cut into sentences leaves short pieces that look like report fragments
("Edema."), so context decides too: a suspect or very short sentence next to noise, or any
sentence between two noisy ones, is noise as well; and a text that breaks word order at
least once every twenty words, or half of whose words are noise, is noise as a whole.
On the 3,955 IU-Xray reports and the 2,090 released outputs and chains of the development
set, the whole-text rule fires on 2 reports (de-identification debris) and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from radrbench.metrics.judges._lexicon import Lexicon
from radrbench.metrics.judges._text import Sentence, Token, tokenize

_DETERMINER = frozenset({"the", "an", "a", "its", "their", "every"})
_PREPOSITION = frozenset(
    {"of", "in", "on", "at", "with", "without", "from", "by", "for", "within", "into"}
    | {"onto", "over", "under", "above", "below", "between", "along", "near", "behind"}
    | {"beneath", "throughout", "via", "towards", "toward", "across", "upon"}
)
_CONJUNCTION = frozenset({"and", "or", "nor", "but"})
_FINITE = frozenset({"is", "are", "was", "were", "am"})
_AUXILIARY = _FINITE | frozenset(
    {"be", "been", "being", "has", "have", "had", "doe", "does", "do", "did", "will", "would"}
    | {"shall", "should", "can", "could", "may", "might", "must"}
)
_NO = frozenset({"no"})
_FUNCTION = _DETERMINER | _PREPOSITION | _CONJUNCTION | _AUXILIARY | {"no", "not", "to"}
# Words that, like function words, break a run of content words, and cannot follow "the".
_PRONOUNS = frozenset(
    {"as", "than", "that", "which", "who", "there", "it", "this", "these", "those", "such"}
    | {"if", "so", "because", "while", "then", "also", "i", "we", "you", "they", "what"}
    | {"therefore", "thus", "hence", "however", "although", "whereas"}
)
# Function words that cannot be followed by these.
_CANNOT_PRECEDE: dict[frozenset[str], frozenset[str]] = {
    _DETERMINER: _DETERMINER | _PREPOSITION | _CONJUNCTION | _AUXILIARY | _PRONOUNS | _NO,
    _PREPOSITION: _PREPOSITION | _CONJUNCTION | _AUXILIARY,
    _CONJUNCTION: _CONJUNCTION - {"or"},
    _AUXILIARY: _FINITE | _CONJUNCTION,
    _NO: _DETERMINER | _PREPOSITION | _AUXILIARY | _CONJUNCTION | {"not"},
}
# Words that do not end a sentence ("... of the.", "... focal is.").
_END_NOT_ALLOWED = (
    _DETERMINER
    | _CONJUNCTION
    | {"of", "with", "without", "from", "by", "into", "onto", "for", "at", "between", "via"}
    | {"upon", "towards", "toward", "within", "no"}
)
# After these a sentence may end in "no" ("the answer is no", "yes or no").
_BEFORE_FINAL_NO = frozenset({"is", "answer", "or", "say", "says", "said", "was", "be"})
# What follows "there" when it starts a clause ("there is", "there appears", "there's").
_AFTER_THERE = (
    _AUXILIARY
    | {"appear", "appears", "seem", "seems", "remain", "remains", "exist", "exists"}
    | {"persist", "persists", "continue", "continues", "no", "not", "s"}
)
_ADJECTIVE_ENDINGS = ("ed", "ar", "al", "ous", "ic", "ive", "ary", "ory", "ing", "ent", "ant")
_BLANK = re.compile(r"^x{2,}$")
_UNDERSCORES = re.compile(r"_+")
# Words that start a new clause, so a second verb may follow.
_CONNECTORS = (
    _CONJUNCTION
    | _PRONOUNS
    | frozenset(
        {"when", "where", "whether", "since", "than", "though", "unless", "until", "how", "why"}
        | {"neither", "either"}
    )
)
# Words after which "no" may directly follow ("shows no effusion", "there is no").
_BEFORE_NO = (
    _FUNCTION
    | _PRONOUNS
    | frozenset(
        {"show", "shows", "showed", "shown", "reveal", "reveals", "revealed", "demonstrate"}
        | {"demonstrates", "demonstrated", "see", "seen", "saw", "find", "finds", "found", "note"}
        | {"noted", "identify", "identified", "indicate", "indicates", "suggest", "suggests"}
        | {"display", "displays", "exhibit", "exhibits", "contain", "contains", "yes", "answer"}
        | {"option", "also", "otherwise", "clearly", "definitely", "still", "again", "now", "s"}
        | {"confirm", "confirms", "observe", "observed", "visualize", "visualized", "evident"}
        | {"mean", "means", "meant", "leave", "leaves", "reveals", "implies", "imply"}
    )
)
_STRAY_LETTERS = frozenset("bcdfhjklmnopqruvwyz")
_LONG_WITHOUT_FUNCTION = 12
_SHORT = 8
_FRAGMENT = 5
_TEXT_SIGN_RATE = 0.05
_TEXT_NOISE_SHARE = 0.5
_LOOP_REPEATS = 3
_MAX_NGRAM = 6
_FEW_DISTINCT = 0.4
_MIXED_CASE = re.compile(r"[a-z][A-Z]")
_STUTTER = re.compile(r"(\w{2,3})\1{2,}", re.IGNORECASE)
_CLAUSE_START = re.compile(r"[:;.!?()\[\n\"]\s*$")


def noise(text: str, lexicon: Lexicon | None = None) -> str | None:
    """Why a sentence on its own states nothing (``"salad"``, ``"loop"``, ``"debris"``)."""
    text = _filled(text)
    reason, _ = _judge(text, tokenize(text), lexicon)
    return reason


def _filled(text: str) -> str:
    """De-identification blanks ("___", or "_" once markdown is cleaned) as a placeholder
    word, so "prior study of ___." is not a sentence ending in "of"."""
    return _UNDERSCORES.sub("XXXX", text)


def noise_sentences(listed: Sequence[Sentence], lexicon: Lexicon | None = None) -> frozenset[int]:
    """Indices of the sentences that state nothing, on their own, by their neighbours or
    because the whole text is noise. With ``lexicon``, two findings of different kinds
    side by side ("effusion pneumothorax") are a sign of salad too."""
    flags: list[bool] = []
    suspect: list[bool] = []
    sizes: list[int] = []
    signs = 0
    for sentence in listed:
        text = _filled(sentence.text)
        tokens = tokenize(text)
        reason, count = _judge(text, tokens, lexicon)
        flags.append(reason is not None)
        suspect.append(count > 0)
        sizes.append(len(tokens))
        signs += count
    words = sum(sizes)
    if signs >= 2 and signs >= _TEXT_SIGN_RATE * words:
        return frozenset(range(len(listed)))
    if not any(flags):
        return frozenset()
    changed = True
    while changed:
        changed = False
        for index, flagged in enumerate(flags):
            if flagged:
                continue
            before = index > 0 and flags[index - 1]
            after = index + 1 < len(flags) and flags[index + 1]
            weak = suspect[index] or sizes[index] <= _FRAGMENT
            if (before and after) or ((before or after) and weak):
                flags[index] = changed = True
    if sum(size for size, flag in zip(sizes, flags, strict=True) if flag) >= (
        _TEXT_NOISE_SHARE * words
    ):
        return frozenset(range(len(listed)))
    return frozenset(index for index, flagged in enumerate(flags) if flagged)


def _judge(
    text: str, tokens: Sequence[Token], lexicon: Lexicon | None = None
) -> tuple[str | None, int]:
    """The reason a sentence is noise (or ``None``) and its count of salad signs."""
    if not tokens:
        return None, 0
    words = [t.norm for t in tokens]
    if _debris(text, tokens):
        return "debris", 0
    if _loop([word for word in words if not _BLANK.match(word)]):
        return "loop", 0
    signs = _salad_signs(text, tokens, words)
    if lexicon is not None:
        signs += _stacked_findings(text, tokens, lexicon)
    if signs >= 2 or (signs and len(words) <= _SHORT):
        return "salad", signs
    if _content_run(text, tokens, words) >= _LONG_WITHOUT_FUNCTION:
        return "salad", signs
    return None, signs


def _debris(text: str, tokens: Sequence[Token]) -> bool:
    broken = sum(
        1
        for t in tokens
        if _MIXED_CASE.search(text[t.start : t.end]) or _STUTTER.search(text[t.start : t.end])
    )
    return broken >= 2 and broken * 3 >= len(tokens)


def _loop(words: Sequence[str]) -> bool:
    """A word sequence repeated back to back, or a long sentence of few distinct words."""
    if len(words) >= 10 and len(set(words)) < _FEW_DISTINCT * len(words):
        return True
    for size in range(1, _MAX_NGRAM + 1):
        for start in range(len(words) - size * _LOOP_REPEATS + 1):
            unit = words[start : start + size]
            if all(
                words[start + k * size : start + (k + 1) * size] == unit
                for k in range(1, _LOOP_REPEATS)
            ):
                return True
    return False


def _salad_signs(text: str, tokens: Sequence[Token], words: Sequence[str]) -> int:
    """How many times the sentence breaks English word order."""
    kinds = [_kind(text, token, word) for token, word in zip(tokens, words, strict=True)]
    colon_end = text.rstrip().endswith(":")
    signs = 0
    for index, (word, kind) in enumerate(zip(words, kinds, strict=True)):
        following = words[index + 1] if index + 1 < len(words) else None
        if word == "there" and following is not None and following not in _AFTER_THERE:
            signs += 1
        if kind is None:
            continue
        if following is None:
            previous = words[index - 1] if index else ""
            signs += not colon_end and (
                (word in _END_NOT_ALLOWED and not (word == "no" and previous in _BEFORE_FINAL_NO))
                or (word in _AUXILIARY and previous not in _PRONOUNS)
            )
        else:
            signs += following in _CANNOT_PRECEDE.get(kind, frozenset())
    for index in range(len(words) - 1):
        # a word twice in a row ("the the", "lobe lobe"), a number before "the" or "no",
        # "no" after a noun or adjective ("heart no size")
        word, following = words[index], words[index + 1]
        if text[tokens[index].end : tokens[index + 1].start].strip():
            continue
        signs += (
            following == "no"
            and word not in _BEFORE_NO
            and not word.isdigit()
            and not word.endswith("ing")  # "indicating no effusion"
        )
        # de-identification blanks ("XXXX XXXX" in Open-i) are holes, not repeated words
        signs += (word == following and not word.isdigit() and not _BLANK.match(word)) or (
            word.isdigit() and following in _DETERMINER | _NO
        )
    # a lower-case letter on its own ("the b pneumothorax"), not an abbreviation ("r/o")
    signs += sum(
        1
        for token in tokens
        if token.end - token.start == 1
        and text[token.start] in _STRAY_LETTERS
        and "/" not in text[max(0, token.start - 1) : token.end + 1]
    )
    if not _title_case(text, tokens):
        signs += sum(
            1 for index in range(1, len(tokens)) if _stray_capital(text, tokens, words, index)
        )
    signs += words[0] in _FINITE | {"or", "nor", "of"} and not text.rstrip().endswith("?")
    return signs + _verbs_without_connector(text, tokens, words)


def _verbs_without_connector(text: str, tokens: Sequence[Token], words: Sequence[str]) -> int:
    """Finite verbs that follow another one with no clause between them ("pleural is
    effusion are normal"): a second clause starts with a conjunction, a relative word or a
    punctuation mark."""
    signs = 0
    previous: int | None = None
    for index, word in enumerate(words):
        if word in _CONNECTORS or (
            index and re.search(r"[,;:()]", text[tokens[index - 1].end : tokens[index].start])
        ):
            previous = None
        if word in _FINITE:
            signs += previous is not None
            previous = index
    return signs


def _stray_capital(text: str, tokens: Sequence[Token], words: Sequence[str], index: int) -> bool:
    """A capitalised word inside a sentence: a function word ("effusion The"), or a word
    standing alone between lower-case words ("structures No effusion"), not a name."""
    token = tokens[index]
    raw = text[token.start : token.end]
    if not (raw[0].isupper() and raw[1:].islower()):
        return False
    if _CLAUSE_START.search(text[tokens[index - 1].end : token.start]):
        return False
    if words[index] in _FUNCTION | {"there"}:
        return True
    if len(raw) < 3 or text[token.end : token.end + 1] in ("'", "\u2019"):
        return False  # a name ("Caplan's syndrome")
    near = [*tokens[max(1, index - 2) : index], *tokens[index + 1 : index + 3]]
    return not any(text[t.start].isupper() for t in near)


def _stacked_findings(text: str, tokens: Sequence[Token], lexicon: Lexicon) -> int:
    """A finding followed directly by another finding of a different family or by a part of
    the body ("effusion pneumothorax", "effusion silhouette"), the first not an adjective
    ("calcified lesions", "tortuous aorta" are one phrase)."""
    findings = lexicon.finding_index.find(tokens)
    family = {m.start: lexicon.family(m.value) for m in findings}
    body = {m.start for m in lexicon.anatomy_index.find(tokens)}
    signs = 0
    for left in findings:
        end = left.end
        if end >= len(tokens) or tokens[end - 1].norm.endswith(_ADJECTIVE_ENDINGS):
            continue
        if text[tokens[end - 1].end : tokens[end].start].strip():
            continue
        other = family.get(end)
        signs += (other is not None and other != family[left.start]) or end in body
    return signs


def _title_case(text: str, tokens: Sequence[Token]) -> bool:
    """A title-cased line ("Cardiac And Mediastinal Contours"): capitals are no sign there."""
    return sum(text[t.start].isupper() for t in tokens) * 2 >= len(tokens)


def _content_run(text: str, tokens: Sequence[Token], words: Sequence[str]) -> int:
    """The longest run of content words with nothing between them but spaces."""
    run = longest = 0
    for index, (token, word) in enumerate(zip(tokens, words, strict=True)):
        gap = text[tokens[index - 1].end : token.start] if index else ""
        breaker = word in _FUNCTION or word in _PRONOUNS or word.isdigit()
        run = 0 if breaker else 1 if gap.strip() else run + 1
        longest = max(longest, run)
    return longest


def _kind(text: str, token: Token, word: str) -> frozenset[str] | None:
    """The function-word class of a token (an upper-case "A" is an option letter)."""
    if word in ("a", "an") and text[token.start].isupper() and token.start > 0:
        return None
    for kind in (_NO, _DETERMINER, _PREPOSITION, _CONJUNCTION, _AUXILIARY):
        if word in kind:
            return kind
    return None
