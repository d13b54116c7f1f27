#!/usr/bin/env bash
# Start llama-cpp-python's OpenAI-compatible server on the gemma-3-270m model
# prepared by setup.sh, and wait until GET /v1/models answers.
#
# Usage:
#   serve-llama.sh [PORT]               foreground: runs until interrupted
#                                       (the caller may background it with &;
#                                       SIGTERM/SIGINT to the script stop the server)
#   serve-llama.sh --background [PORT]  detach, write the pid file, return once ready
#   serve-llama.sh --stop [PORT]        stop a server started with --background
#
# PORT defaults to 8081. Background mode writes
#   target/real-backend/llama-server-PORT.pid and target/real-backend/llama-server-PORT.log
#
# Environment:
#   READY_TIMEOUT  seconds to wait for /v1/models (default 60)
#   N_THREADS      --n_threads (default 2)
#   N_CTX          --n_ctx (default 4096)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
WORK_DIR="$REPO_ROOT/target/real-backend"
PY="$WORK_DIR/venv/bin/python"
MODEL="$WORK_DIR/models/gemma-3-270m-q4_k_m.gguf"
HOST=127.0.0.1
ALIAS=gemma3-270m

mode=foreground
port=8081
for arg in "$@"; do
    case "$arg" in
        --background) mode=background ;;
        --stop) mode=stop ;;
        -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        ''|*[!0-9]*) echo "serve-llama: unknown argument: $arg" >&2; exit 2 ;;
        *) port="$arg" ;;
    esac
done

PID_FILE="$WORK_DIR/llama-server-$port.pid"
LOG_FILE="$WORK_DIR/llama-server-$port.log"
URL="http://$HOST:$port/v1"
log() { printf '[serve-llama] %s\n' "$*" >&2; }

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
models_answer() { curl -sf --max-time 2 "$URL/models" >/dev/null 2>&1; }

if [[ "$mode" == stop ]]; then
    if [[ -f "$PID_FILE" ]] && pid="$(cat "$PID_FILE")" && alive "$pid"; then
        kill "$pid"
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.2; done
        alive "$pid" && kill -9 "$pid"
        log "stopped pid $pid"
    else
        log "no running server recorded in $PID_FILE"
    fi
    rm -f "$PID_FILE"
    exit 0
fi

if [[ ! -x "$PY" || ! -f "$MODEL" ]]; then
    log "backend not prepared: run $SCRIPT_DIR/setup.sh first"
    exit 1
fi
if [[ "$mode" == background && -f "$PID_FILE" ]] && alive "$(cat "$PID_FILE")" && models_answer; then
    log "already running (pid $(cat "$PID_FILE"))"
    echo "$URL"
    exit 0
fi
if models_answer; then
    log "something already answers on $URL/models; refusing to start a second server"
    exit 1
fi

server_cmd=("$PY" -m llama_cpp.server
    --model "$MODEL" --model_alias "$ALIAS"
    --host "$HOST" --port "$port"
    --n_threads "${N_THREADS:-2}" --n_ctx "${N_CTX:-4096}"
    --chat_format gemma)

mkdir -p "$WORK_DIR"
if [[ "$mode" == background ]]; then
    setsid nohup "${server_cmd[@]}" >"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
else
    "${server_cmd[@]}" &
    pid=$!
    trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 143' TERM
    trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 130' INT
fi

deadline=$(( $(date +%s) + ${READY_TIMEOUT:-60} ))
until models_answer; do
    if ! alive "$pid"; then
        log "server exited before it was ready"
        [[ "$mode" == background ]] && { tail -n 30 "$LOG_FILE" >&2; rm -f "$PID_FILE"; }
        exit 1
    fi
    if (( $(date +%s) >= deadline )); then
        log "server not ready after ${READY_TIMEOUT:-60} s; stopping it"
        kill "$pid" 2>/dev/null || true
        [[ "$mode" == background ]] && { tail -n 30 "$LOG_FILE" >&2; rm -f "$PID_FILE"; }
        exit 1
    fi
    sleep 0.25
done

log "ready: $URL (model alias $ALIAS, pid $pid)"
echo "$URL"
if [[ "$mode" == background ]]; then
    log "log: $LOG_FILE; stop with: $0 --stop $port"
    exit 0
fi
wait "$pid"
