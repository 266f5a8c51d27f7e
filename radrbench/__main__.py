"""``python -m radrbench`` is the ``radrbench`` command."""

from radrbench.cli import run

run()
