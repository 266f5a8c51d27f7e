"""radrbench: benchmark and evaluation harness for reasoning in chest X-ray multimodal models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("radrbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
