"""One exception hierarchy for every error a user can fix.

The CLI prints ``str(error)`` on one line (where, what, and a hint) and exits with code 2;
anything that is not a ``RadrbenchError`` is a bug and keeps its traceback.
"""

from __future__ import annotations


class RadrbenchError(Exception):
    """A problem the user can fix: bad input, missing file, unreachable server."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text = f"{text} (hint: {self.hint})"
        return " ".join(text.split())


class DataError(RadrbenchError):
    """A benchmark directory, sample, image or source file is missing or malformed."""


class ConfigError(RadrbenchError):
    """An option, task name, judge spec or YAML file is invalid."""


class ServerError(RadrbenchError):
    """A model or judge server cannot be reached, started, or keeps failing."""


class JudgeError(RadrbenchError):
    """A judge cannot run (bad spec, missing model files)."""


class RunError(RadrbenchError):
    """A run directory is missing, incomplete or inconsistent with the requested run."""
