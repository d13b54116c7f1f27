#!/usr/bin/env bash
# Grades llama.cpp's OpenAI-compatible server (llama-cpp-python with the small
# real gemma-3-270m model) with Portico's conformance suite in --target mode and
# writes conformance/reports/llama-cpp-python.md; with --through-portico, grades
# Portico in front of that server instead and writes
# conformance/reports/portico-llama-cpp-python.md.
#
# Usage: scripts/real-backend/conformance-target.sh [--through-portico] [PORT] [CHAT_SAMPLE]
#   PORT         the llama server's port (default 8091; started and stopped here;
#                Portico, when graded, listens on PORT + 1)
#   CHAT_SAMPLE  how many chat cassettes to replay (default 60, every n-th one)
# Every non-chat cassette is replayed (a plain chat server answers most of them
# with 404 at once); chat cassettes are sampled, since each real generation
# takes seconds on 2 cores. Requests that set no token limit get max_tokens 16
# (--max-tokens): the model would otherwise write until its context is full.
# Needs scripts/real-backend/setup.sh once (about 6 minutes).
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
THROUGH_PORTICO=false
if [[ "${1:-}" == --through-portico ]]; then
    THROUGH_PORTICO=true
    shift
fi
PORT="${1:-8091}"
SAMPLE="${2:-60}"
SUBSET="$REPO_ROOT/target/real-backend/cassettes-target"
cd "$REPO_ROOT"
rm -rf "$SUBSET" && mkdir -p "$SUBSET/chat"
for dir in conformance/cassettes/*/; do
    name="$(basename "$dir")"
    [[ "$name" == chat ]] || ln -s "$REPO_ROOT/${dir%/}" "$SUBSET/$name"
done
python3 - "$REPO_ROOT/conformance/cassettes/chat" "$SUBSET/chat" "$SAMPLE" <<'PYEOF'
import os, sys
src, dst, sample = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = sorted(name for name in os.listdir(src) if name.endswith(".json"))
step = max(1, len(names) // sample)
for name in names[::step][:sample]:
    os.symlink(os.path.join(src, name), os.path.join(dst, name))
PYEOF
bash "$SCRIPT_DIR/setup.sh"
cargo build --release --quiet
bash "$SCRIPT_DIR/serve-llama.sh" --background "$PORT"
PORTICO_PID=""
cleanup() {
    [[ -n "$PORTICO_PID" ]] && kill "$PORTICO_PID" 2>/dev/null || true
    bash "$SCRIPT_DIR/serve-llama.sh" --stop "$PORT" || true
}
trap cleanup EXIT
TARGET="http://127.0.0.1:$PORT/v1"
REPORT=conformance/reports/llama-cpp-python.md
KEY_ARGS=()
if [[ "$THROUGH_PORTICO" == true ]]; then
    # With an API key, so the recorded 401s are checked too.
    DB_DIR="$(mktemp -d)"
    cat >"$DB_DIR/portico.toml" <<TOML
[[backends]]
name = "llama-cpp-python"
base_url = "$TARGET"

[[api_keys]]
key = "sk-portico-grading"
project = "grading"
TOML
    ./target/release/portico serve --no-autodetect --config "$DB_DIR/portico.toml" \
        --listen "127.0.0.1:$((PORT + 1))" --db "$DB_DIR/portico.db" >"$DB_DIR/portico.log" 2>&1 &
    PORTICO_PID=$!
    until curl -sf "http://127.0.0.1:$((PORT + 1))/readyz" >/dev/null; do sleep 0.2; done
    TARGET="http://127.0.0.1:$((PORT + 1))/v1"
    REPORT=conformance/reports/portico-llama-cpp-python.md
    KEY_ARGS=(--api-key sk-portico-grading)
fi
./target/release/portico conformance --cassettes "$SUBSET" "${KEY_ARGS[@]}" \
    --target "$TARGET" --model gemma3-270m --max-tokens 16 \
    --report "$REPORT"
