#!/usr/bin/env bash
# Build the wheel, install it (without dependencies) into a scratch folder that shadows the
# checkout, and run commands from it outside the repository: proves the declarative folders
# (tasks/, metrics/, baselines/, training/, leaderboard/) ship inside the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$PWD/.venv/bin/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" . 2> >(grep -v '^WARNING: Location' >&2)
"$PY" -m pip install -q --no-deps --target "$work/site" "$work"/dist/radrbench-*.whl 2> >(grep -v '^WARNING: Location' >&2)
cd "$work"
export PYTHONPATH=$work/site
"$PY" - <<'PY'
import radrbench, radrbench.resources as r
from pathlib import Path
assert Path(radrbench.__file__).is_relative_to(Path.cwd() / "site"), radrbench.__file__
for name in ("tasks", "metrics", "baselines", "training", "leaderboard"):
    folder = r.resource_dir(name)
    assert "_share" in folder.parts and any(folder.iterdir()), folder
print("wheel: declarative folders found inside the installed package")
PY
"$PY" -m radrbench data demo --out "$work/demo" --studies 3
"$PY" -m radrbench data validate "$work/demo"
"$PY" -m radrbench baselines list >/dev/null
echo "wheel: OK"
