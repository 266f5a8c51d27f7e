"""The command lines that made a run (``commands.jsonl`` in the run directory).

Every ``radrbench eval`` and ``radrbench score`` of a run appends one line, so a run resumed or
re-scored keeps the whole history; provenance records (``radrbench.hub.provenance``) quote it.
"""

from __future__ import annotations

import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

COMMANDS_FILE = "commands.jsonl"


def record_command(run_dir: Path, argv: list[str] | None = None) -> None:
    """Append this process's command line (``radrbench`` and its arguments) to the run."""
    from radrbench import __version__

    words = ["radrbench", *(sys.argv[1:] if argv is None else argv)]
    line = {
        "command": shlex.join(words),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "radrbench_version": __version__,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / COMMANDS_FILE).open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(line) + "\n")


def read_commands(run_dir: Path) -> list[str]:
    """The recorded command lines of a run, oldest first (unreadable lines are skipped)."""
    path = run_dir / COMMANDS_FILE
    if not path.is_file():
        return []
    commands = []
    for text in path.read_text("utf-8").splitlines():
        try:
            command = json.loads(text).get("command")
        except (json.JSONDecodeError, AttributeError):
            continue
        if isinstance(command, str):
            commands.append(command)
    return commands
