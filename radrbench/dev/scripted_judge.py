"""A scripted RadRScore judge for the mock OpenAI server: reads the judge prompt, answers JSON.

Use it as the responder ``radrbench.dev.scripted_judge:respond``. It recognises the call by
its JSON-schema name (``extract_findings``, ``compare_findings``, ``label_steps``), reads the
tagged inputs of the templates in ``metrics/prompts/``, and judges with a small keyword list:
a sentence naming a finding asserts it, absent after a negation cue, uncertain after a hedge;
sentences that describe procedure ("look for", "if") assert nothing. Deterministic, so tests
know the right answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from radrbench.dev._mock_responders import last_user_text

TERMS = {
    "effusion": "pleural effusion",
    "pneumothorax": "pneumothorax",
    "cardiomegaly": "cardiomegaly",
    "enlarged heart": "cardiomegaly",
    "consolidation": "consolidation",
    "edema": "edema",
    "atelectasis": "atelectasis",
    "nodule": "nodule",
    "fracture": "fracture",
}
NEGATIONS = ("no ", "not ", "without", "negative for", "absence of", "free of")
HEDGES = ("possible", "may ", "might", "cannot exclude", "suggest", "questionable")
PROCEDURE = ("look for", "if ", "would ")
SIDES = ("bilateral", "left", "right")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_LINE = re.compile(r"^[RM](\d+)\. (.+?) \| (present|absent|uncertain) \| (.+)$", re.MULTILINE)

Findings = dict[str, tuple[str, str | None]]
"""observation → (status, location)."""


def _tagged(prompt: str, tag: str) -> str:
    match = re.search(rf"<{tag}>\n?(.*?)\n?</{tag}>", prompt, re.DOTALL)
    return match.group(1) if match else ""


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE.split(text) if part.strip()]


def findings_of(text: str) -> Findings:
    """The findings each sentence of ``text`` asserts (the last statement wins)."""
    found: Findings = {}
    for sentence in sentences(text):
        lower = f" {sentence.lower()}"
        if any(cue in lower for cue in PROCEDURE):
            continue
        for term, observation in TERMS.items():
            at = lower.find(term)
            if at < 0:
                continue
            before = lower[:at]
            status = "absent" if any(cue in before for cue in NEGATIONS) else "present"
            if status == "present" and any(cue in before for cue in HEDGES):
                status = "uncertain"
            side = next((word for word in SIDES if word in lower), None)
            found[observation] = (status, side)
    return found


def _compatible(a: str, b: str) -> bool:
    return a == b or {a, b} == {"present", "uncertain"}


def _extract(prompt: str) -> dict[str, Any]:
    items = [
        {"observation": observation, "status": status, "location": location}
        for observation, (status, location) in findings_of(_tagged(prompt, "text")).items()
    ]
    return {"findings": items}


def _compare(prompt: str) -> dict[str, Any]:
    def lines(tag: str) -> list[tuple[int, str, str]]:
        return [(int(n), obs, status) for n, obs, status, _ in _LINE.findall(_tagged(prompt, tag))]

    model = lines("model_findings")
    report = findings_of(_tagged(prompt, "report"))
    recall = [
        {
            "reference": number,
            "recalled": any(o == obs and _compatible(s, status) for _, o, s in model),
        }
        for number, obs, status in lines("reference_findings")
    ]
    consistency = []
    for number, obs, status in model:
        stated = report.get(obs)
        ok = status == "absent" if stated is None else _compatible(stated[0], status)
        consistency.append({"finding": number, "consistent": ok})
    return {"recall": recall, "consistency": consistency}


def _label(prompt: str) -> dict[str, Any]:
    chain_text = re.sub(r"^\d+\. ", "", _tagged(prompt, "reference_chain"), flags=re.MULTILINE)
    chain = findings_of(chain_text)
    steps = []
    for step in sentences(_tagged(prompt, "model_reasoning")):
        claims = findings_of(step)
        label = "unsupported"
        if any(
            obs in chain and not _compatible(chain[obs][0], s) for obs, (s, _) in claims.items()
        ):
            label = "contradicted"
        elif any(obs in chain for obs in claims):
            label = "supported"
        steps.append({"text": step, "label": label})
    return {"steps": steps}


TASKS = {"extract_findings": _extract, "compare_findings": _compare, "label_steps": _label}


def task_of(request: dict[str, Any]) -> str:
    """The judge call a request makes (its JSON-schema name)."""
    response_format = request.get("response_format") or {}
    return str(response_format.get("json_schema", {}).get("name", ""))


def judge_reply(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON object a careful judge would return for ``request``."""
    task = TASKS.get(task_of(request))
    if task is None:
        raise ValueError("not a RadRScore judge request")
    return task(last_user_text(request))


def respond(request: dict[str, Any]) -> str:
    """The mock server's responder hook."""
    return json.dumps(judge_reply(request))
