#!/usr/bin/env bash
# Grades llama.cpp's OpenAI-compatible server (llama-cpp-python, the small real
# gemma-3-270m model) with Portico's conformance suite in --target mode, and
# writes conformance/reports/llama-cpp-python.md.
#
# Usage: scripts/real-backend/conformance-target.sh [PORT]   (default 8091)
# Needs scripts/real-backend/setup.sh once (about 6 minutes). Requests that set no
# token limit get max_tokens 16 (--max-tokens): the model would otherwise write
# until its context is full. Takes roughly 10-20 minutes on 2 cores.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
PORT="${1:-8091}"
cd "$REPO_ROOT"
bash "$SCRIPT_DIR/setup.sh"
cargo build --release --quiet
bash "$SCRIPT_DIR/serve-llama.sh" --background "$PORT"
trap 'bash "$SCRIPT_DIR/serve-llama.sh" --stop "$PORT" || true' EXIT
./target/release/portico conformance \
    --target "http://127.0.0.1:$PORT/v1" --model gemma3-270m --max-tokens 16 \
    --report conformance/reports/llama-cpp-python.md
