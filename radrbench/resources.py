"""Locate the declarative top-level folders (tasks/, metrics/, baselines/, training/, leaderboard/).

From a source checkout they are the folders next to the package; from an installed wheel
they are shipped as package data under ``radrbench/_share/``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from radrbench.errors import ConfigError

Folder = Literal["tasks", "metrics", "baselines", "training", "leaderboard"]

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def resource_dir(name: Folder) -> Path:
    """Return the directory holding the named declarative folder."""
    for candidate in (_PACKAGE_DIR / "_share" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"cannot find the '{name}' folder next to the radrbench package",
        where=str(_PACKAGE_DIR),
        hint="reinstall radrbench (pip install radrbench) or run from a full checkout",
    )
