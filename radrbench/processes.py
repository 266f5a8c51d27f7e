"""Child processes radrbench starts (model servers, test and benchmark servers)."""

from __future__ import annotations

import subprocess
from typing import Any


def stop_process(process: subprocess.Popen[Any], timeout_s: float) -> int:
    """Ask a process to terminate, kill it if it has not exited within ``timeout_s``;
    return its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)
    return process.returncode
