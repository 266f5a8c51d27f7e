"""A scripted mining model for the mock server: it paraphrases the report it is given.

``python -m radrbench.dev.mock_openai --responder radrbench.dev.scripted_miner:reply`` plays
the LLM of ``radrbench mine``: the plan names what the question asks about; the reasoning
restates each sentence of the report's findings (and of the prior report) as read from the
image, as a radiologist would: a finding the report states becomes the radiographic sign that
shows it (a generic table, :data:`SIGNS`, not the phantom's own phrases), other sentences are
restated; a finding the question offers that the answer rules out and the report does not
name is stated absent by its sign; the chain ends with the answer. The refine step drops
repeated steps.
"""

from __future__ import annotations

import json
import re
from typing import Any

from radrbench.dev._mock_responders import last_user_text
from radrbench.metrics.judges._extract import extract_mentions
from radrbench.mining.checks import lexicon

# Lexicon family → (sign when present, sign when absent).
SIGNS: dict[str, tuple[str, str]] = {
    "pleural_effusion": (
        "The costophrenic angle is blunted with a meniscus",
        "The costophrenic angles are sharp and clear",
    ),
    "pneumothorax": (
        "A visceral pleural line is seen without lung markings beyond it",
        "Lung markings extend to the chest wall and no pleural line is seen",
    ),
    "cardiac": (
        "The cardiac silhouette is enlarged, wider than half the thoracic width",
        "The cardiac silhouette is normal in size",
    ),
    "edema": (
        "The pulmonary vessels are indistinct",
        "The pulmonary vessels are sharply defined",
    ),
    "atelectasis": (
        "There is linear collapse with volume loss",
        "The lung volumes are preserved with no collapse",
    ),
    "lung_opacity": (
        "There is an area of increased lung density",
        "No area of increased lung density is seen",
    ),
    "nodule": ("A rounded opacity is seen", "No discrete nodule or mass is seen"),
}

_TASK = re.compile(r"^Task:\s*(\w+)", re.M)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_HEADING = re.compile(r"\b[A-Z][A-Z ]{2,}:\s*")
_OPTION = re.compile(r"^([A-J])\) (.+)$", re.M)
_ASKED = re.compile(r"show (.+?)\?")


def _tag(text: str, name: str) -> str:
    match = re.search(rf"<{name}>\s*(.*?)\s*</{name}>", text, re.S)
    return match[1] if match else ""


def _sentences(report: str) -> list[str]:
    findings, _, impression = report.partition("IMPRESSION:")
    body = _HEADING.sub("", findings or impression)
    return [s.strip() for s in _SENTENCE.split(body) if s.strip()]


def _lower(text: str) -> str:
    return text[0].lower() + text[1:]


def _restated(sentence: str, where: str) -> list[str]:
    """Steps for one report sentence: the sign of each finding it states, else the sentence."""
    lex = lexicon()
    steps: list[str] = []
    said: set[tuple[str, str]] = set()
    for mention in extract_mentions(sentence, lex):
        family = lex.findings[mention.code].family
        sign = SIGNS.get(family)
        if sign is None or mention.status not in ("present", "absent"):
            continue
        if (family, mention.status) in said:
            continue
        said.add((family, mention.status))
        term = lex.findings[mention.code].terms[0]
        place = f" ({mention.location.text})" if mention.location.text else ""
        if mention.status == "present":
            steps.append(f"{where}, {_lower(sign[0])}{place}, which indicates {term}.")
        else:
            steps.append(f"{where}, {_lower(sign[1])}, so there is no {term}.")
    return steps or [f"{where}, {_lower(sentence)}"]


def _family(text: str) -> str | None:
    lex = lexicon()
    mentions = extract_mentions(text, lex)
    return lex.findings[mentions[0].code].family if mentions else None


def _ruled_out(question: str, answer: str) -> list[str]:
    """Findings the question offers and the answer rules out."""
    options = dict(_OPTION.findall(question))
    letter = answer.partition(")")[0].strip()
    if set(options.values()) == {"Yes", "No"}:
        asked = _ASKED.search(question)
        return [asked[1]] if asked and options.get(letter) == "No" else []
    chosen = set(options.get(letter, "").split(", "))
    offered = {label for text in options.values() for label in text.split(", ")}
    return sorted(offered - chosen - {"No Finding", "stable", "worsening", "improving"})


def _absent_signs(question: str, answer: str, steps: list[str]) -> list[str]:
    stated = {_family(step) for step in steps} - {None}
    added = []
    for label in _ruled_out(question, answer):
        family = _family(label.lower())
        if family in SIGNS and family not in stated:
            stated.add(family)
            added.append(
                f"On the image, {_lower(SIGNS[family][1])}, so there is no {label.lower()}."
            )
    return added


def reply(request: dict[str, Any]) -> str:
    """The JSON reply to one mining call (plan, reason or refine)."""
    text = last_user_text(request)
    task = (_TASK.search(text) or ["", ""])[1]
    answer = _tag(text, "answer")
    if task == "plan":
        topic = _tag(text, "question").partition("\n")[0].rstrip("?.")
        plan = ["Check the image quality and positioning.", f"Look for what is asked: {topic}."]
        return json.dumps({"plan": [*plan, "Decide on the answer from what is seen."]})
    if task == "reason":
        prior = [_restated(s, "On the prior image") for s in _sentences(_tag(text, "prior_report"))]
        now = [_restated(s, "On the image") for s in _sentences(_tag(text, "report"))]
        steps = list(dict.fromkeys(step for group in [*prior, *now] for step in group))
        steps += _absent_signs(_tag(text, "question"), answer, steps)
        return json.dumps({"steps": [*steps, f"Therefore, the answer is {answer}."]})
    steps = json.loads(_tag(text, "steps") or "[]")
    return json.dumps({"steps": list(dict.fromkeys(steps))})
