#!/usr/bin/env bash
# Create .venv at the repository root and install radrbench with everything the demo and the
# tests need. Idempotent: a second run with unchanged requirements returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv
STAMP=$VENV/.radrbench-setup
# torch and torchvision are pinned to the builds that pip finds on local disk (see DEVELOPERS.md).
TORCH_PINS=(torch==2.14.1 torchvision==0.29.1)
WANT=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)

if [[ -f $STAMP && $(cat "$STAMP") == "$WANT" ]] && "$VENV/bin/python" -c "import radrbench" 2>/dev/null; then
  echo "setup: .venv is up to date"
  exit 0
fi

if [[ ! -x $VENV/bin/python ]]; then
  echo "setup: creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
# This machine's pip configuration lists extra local indexes; hide their noise, keep real errors.
quiet() { "$@" 2> >(grep -v '^WARNING: Location' >&2); }
quiet "${PIP[@]}" install --upgrade pip
echo "setup: installing torch (from local disk when available)"
quiet "${PIP[@]}" install "${TORCH_PINS[@]}"
echo "setup: installing radrbench and its dependencies"
quiet "${PIP[@]}" install -e ".[all,dev]" "${TORCH_PINS[@]}"
# torchaudio/torchcodec crash imports next to these torch builds; make sure none slipped in.
"${PIP[@]}" uninstall -y torchaudio torchcodec >/dev/null 2>&1 || true
echo "$WANT" > "$STAMP"
echo "setup: done ($VENV)"
