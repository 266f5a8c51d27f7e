"""The lm-eval tasks judge with :mod:`radrbench.metrics.judging`: ``radrbench.tasks`` never
depends on radrbench's own runner (``radrbench.eval``)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

TASKS_PACKAGE = REPO_ROOT / "radrbench" / "tasks"
FORBIDDEN = "radrbench.eval"


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the source of ``module`` (a dotted
    name; a package's ``__init__`` is ``package.__init__``), nested imports included."""
    package = module.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            # ``from radrbench import eval`` names the package among the imported names
            found += [(node.lineno, base)]
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def is_forbidden(module: str) -> bool:
    return module == FORBIDDEN or module.startswith(FORBIDDEN + ".")


def test_the_import_scan_sees_every_form_of_import() -> None:
    module = "radrbench.tasks.hooks"
    for source in (
        "import radrbench.eval.scoring",
        "import radrbench.eval as e",
        "from radrbench import eval",
        "from radrbench.eval.scoring import score_run",
        "from ..eval import runner",
        "from .. import eval",
        "def f():\n    from radrbench.eval.scoring import score_run",
    ):
        assert any(is_forbidden(name) for _, name in imported_modules(source, module)), source
    for source in (
        "from radrbench.metrics import judging",
        "from ..metrics.judging import judge_cached",
        "import radrbench.evaluation",
        "from .data import load_task_dataset",
    ):
        assert not any(is_forbidden(name) for _, name in imported_modules(source, module)), source


def test_no_module_of_radrbench_tasks_imports_radrbench_eval() -> None:
    paths = sorted(TASKS_PACKAGE.rglob("*.py"))
    assert paths, TASKS_PACKAGE
    offenders = []
    for path in paths:
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        source = path.read_text(encoding="utf-8")
        offenders += [
            f"{path.relative_to(REPO_ROOT)}:{line}: {name}"
            for line, name in imported_modules(source, module)
            if is_forbidden(name)
        ]
    assert offenders == []


JUDGE_THROUGH_HOOKS = """
import json, sys
from pathlib import Path
from radrbench.data.schema import Sample
from radrbench.tasks import hooks
from radrbench.tasks.data import task_row

sample = Sample.model_validate({
    "id": "s0", "source": "phantom", "task": "binary", "split": "test",
    "images": [{"path": "img0.png"}],
    "question": "Does this chest X-ray show pleural effusion?", "options": {"A": "Yes", "B": "No"},
    "answer": "A", "answer_text": "Yes", "findings": ["Pleural Effusion"],
    "reasoning": ["The left costophrenic angle is blunted.", "This is a pleural effusion."],
    "report": "FINDINGS: Small left pleural effusion. IMPRESSION: Left effusion.",
})
doc = task_row(sample, Path(sys.argv[1]), "radrbench", "offline", "paths")
output = "<think>The left costophrenic angle is blunted: a pleural effusion.</think><answer>A"
items = hooks.process_results(doc, [output])
scores = {name: hooks.__dict__[name]([items[name]]) for name in
          ("radrscore", "factuality", "completeness", "effectiveness")}
loaded = sorted(m for m in sys.modules if m == "radrbench.eval" or m.startswith("radrbench.eval."))
print(json.dumps({"scores": scores, "eval_modules": loaded}))
"""


def test_judging_through_the_task_hooks_loads_no_eval_module(tmp_path: Path) -> None:
    env = {**os.environ, "RADRBENCH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", JUDGE_THROUGH_HOOKS, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["eval_modules"] == []
    # the judging path really ran: the offline judge scored the reasoning
    assert all(0.0 <= value <= 1.0 for value in result["scores"].values()), result
    assert (tmp_path / "cache" / "judge_cache.sqlite").is_file()
