#!/usr/bin/env bash
# Portico's load run: the gateway's added cost against a zero-latency backend.
#
#   bash benches/load/run.sh
#
# What it does (everything on 127.0.0.1, every process it starts is stopped at
# the end, about 5 minutes once built):
#   1. builds `portico` (release), the measurement client (the `loadclient`
#      bench target) and the floor proxy (`floorproxy`: Portico's HTTP stack,
#      axum serving and reqwest calling, with no gateway work); installs oha with `cargo install oha --locked` into
#      target/load-tools/ (once; falls back to Debian's wrk, which cannot hold
#      a fixed rate, only when oha cannot be installed);
#   2. starts `portico mock-backend` (no scripted delay: it answers at once),
#      `portico serve --backend <mock>` with a fresh SQLite file, and the
#      floor proxy in front of the mock;
#   3. measures at fixed rates with oha (latency corrected for coordinated
#      omission: measured from each request's scheduled start):
#        chat pass-through, direct to the mock vs through the floor vs through
#        Portico, 1k and 3k rps, with the CPU each server used per request at
#        3k; then the floor again with a busy loop adding the CPU Portico used
#        beyond it (Portico's cost, none of its code);
#        a stored Responses turn (store=true, previous_response_id → a stored
#        response) at 1k rps, and at 500 rps;
#      and with the client: streaming time to first token, direct vs the
#      floor vs Portico (Chat and Responses); peak RSS with 10,000 concurrent
#      open Responses streams (the mock holds them open), and with as many
#      Chat streams through the floor and through a fresh Portico; cold start (process start
#      → first 200 from /healthz) and idle RSS;
#   4. prints the table and writes it into benches/RESULTS.md between the
#      `load:begin` / `load:end` markers, with date, machine, load and commit.
#
# Environment: LOAD_SECONDS (per fixed-rate run, default 10), STREAMS (default
# 10000), TTFT_RATE (default 200), SKIP_BUILD=1 (use existing binaries),
# PORTICO_BIN (measure another build of portico, e.g. an older commit's, for a
# before/after) with RESULTS_SECTION (its section name in RESULTS.md, default
# `load`).
# The machine should be quiet: the run prints the load average before and after.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WORK="$ROOT/target/load"
TOOLS="$ROOT/target/load-tools"
SECONDS_PER_RUN="${LOAD_SECONDS:-10}"
STREAMS="${STREAMS:-10000}"
TTFT_RATE="${TTFT_RATE:-200}"
log() { printf '[load] %s\n' "$*" >&2; }

rm -rf "$WORK"
mkdir -p "$WORK" "$TOOLS"

# --- 1. build and tools ------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building portico (release) and the load client"
    cargo build --release --locked --bin portico
fi
# The measurement client and the floor proxy (benches/load/floor.rs: the same
# HTTP stack as Portico with no gateway work, to split what Portico adds into
# the cost of one more hop and Portico's own).
bench_executable() {
    cargo bench --locked --bench "$1" --no-run --message-format=json 2>/dev/null \
        | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1"
}
CLIENT="$(bench_executable loadclient)"
[[ -x "$CLIENT" ]] || { log "could not build the load client"; exit 1; }
FLOOR="$(bench_executable floorproxy)"
[[ -x "$FLOOR" ]] || { log "could not build the floor proxy"; exit 1; }
PORTICO="${PORTICO_BIN:-$ROOT/target/release/portico}"

TOOL=oha
OHA="$TOOLS/bin/oha"
if [[ ! -x "$OHA" ]]; then
    log "installing oha into $TOOLS (cargo install oha --locked; a few minutes, once)"
    if ! cargo install oha --locked --root "$TOOLS" >"$TOOLS/install.log" 2>&1; then
        log "oha could not be installed (see $TOOLS/install.log); using Debian's wrk"
        TOOL=wrk
        command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
    fi
fi

# The build leaves hundreds of MB of dirty pages; written back during the
# measurements they compete with SQLite's writes (a run started right after a
# build once showed a stored-turn p99 of 95 ms, 4.5 ms when repeated).
sync

# Each open stream holds two sockets in Portico (client and backend side), one
# in the mock and one in the client. Raise the limit as far as allowed; where
# the hard limit is lower than 2 × STREAMS (20,000 here, and no CAP_SYS_RESOURCE
# to raise it), measure as many streams as fit and report the per-stream cost.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
FD_LIMIT="$(ulimit -n)"
STREAMS_REQUESTED="$STREAMS"
if (( 2 * STREAMS + 200 > FD_LIMIT )); then
    STREAMS=$(( (FD_LIMIT - 200) / 2 ))
    log "open-file limit $FD_LIMIT: measuring $STREAMS streams instead of $STREAMS_REQUESTED"
fi

# --- 2. servers --------------------------------------------------------------
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# Starts a server in the background; sets STARTED_URL from its first stdout line.
start_server() {
    local name="$1"; shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 200); do
        if grep -q 'listening on http://' "$WORK/$name.out" 2>/dev/null; then
            STARTED_URL="$(grep -o 'http://[^ ]*' "$WORK/$name.out" | head -1)"
            STARTED_PID=$pid
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    log "$name did not start:"; tail -5 "$WORK/$name.log" >&2; exit 1
}

start_server mock "$PORTICO" mock-backend --listen 127.0.0.1:0
MOCK="$STARTED_URL"; MOCK_PID=$STARTED_PID
start_server portico "$PORTICO" serve --backend "$MOCK/v1" --listen 127.0.0.1:0 --db "$WORK/portico.db"
GATEWAY="$STARTED_URL"; GATEWAY_PID=$STARTED_PID
start_server floor "$FLOOR" "$MOCK/v1" 127.0.0.1:0
FLOOR_URL="$STARTED_URL"; FLOOR_PID=$STARTED_PID
log "mock $MOCK (pid $MOCK_PID), portico $GATEWAY (pid $GATEWAY_PID), floor $FLOOR_URL (pid $FLOOR_PID), tool $TOOL"

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 3. measurements ---------------------------------------------------------
CHAT_BODY="$WORK/chat.json"
echo '{"model":"mock","messages":[{"role":"user","content":"Hello there, how are you today?"}],"max_tokens":64}' >"$CHAT_BODY"
CHAT_STREAM_BODY="$WORK/chat-stream.json"
echo '{"model":"mock","messages":[{"role":"user","content":"Hello there, how are you today?"}],"max_tokens":64,"stream":true}' >"$CHAT_STREAM_BODY"
RESPONSES_STREAM_BODY="$WORK/responses-stream.json"
echo '{"model":"mock","input":"Hello there, how are you today?","max_output_tokens":64,"stream":true,"store":false}' >"$RESPONSES_STREAM_BODY"

# CPU time a process has used, in microseconds (all its threads, live or gone).
cpu_micros() {
    awk -v tick="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000000 / tick }' "/proc/$1/stat"
}

# One fixed-rate run: NAME URL BODY RATE [SERVER_PID]. Results go to
# $WORK/NAME.json; with SERVER_PID (oha only), the CPU that server used per
# answered request during the measured part goes to $WORK/NAME.cpu (µs).
fixed_rate() {
    local name="$1" url="$2" body="$3" rate="$4" pid="${5:-}" before
    log "$name: $rate rps for ${SECONDS_PER_RUN}s → $url"
    if [[ "$TOOL" == oha ]]; then
        # Warm-up (connections, caches), not recorded.
        "$OHA" --no-tui -z 2s -q "$rate" -c 64 -m POST -H 'content-type: application/json' \
            -D "$body" "$url" >/dev/null 2>&1 || true
        [[ -n "$pid" ]] && before="$(cpu_micros "$pid")"
        "$OHA" --no-tui --output-format json -z "${SECONDS_PER_RUN}s" -q "$rate" -c 64 \
            --latency-correction -m POST -H 'content-type: application/json' -D "$body" "$url" \
            >"$WORK/$name.json" 2>"$WORK/$name.err"
        if [[ -n "$pid" ]]; then
            python3 -c 'import json, sys
codes = json.load(open(sys.argv[1])).get("statusCodeDistribution") or {}
print(round((float(sys.argv[3]) - float(sys.argv[2])) / max(sum(codes.values()), 1), 1))' \
                "$WORK/$name.json" "$before" "$(cpu_micros "$pid")" >"$WORK/$name.cpu" || true
        fi
    else
        local lua="$WORK/post.lua"
        printf 'wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = io.open("%s"):read("*a")\n' "$body" >"$lua"
        # wrk is closed-loop: -c 16 approximates the offered load; its rate is reported.
        wrk -t 1 -c 16 -d "${SECONDS_PER_RUN}s" --latency -s "$lua" "$url" >"$WORK/$name.txt" 2>&1
    fi
}

fixed_rate chat_direct_1k "$MOCK/v1/chat/completions" "$CHAT_BODY" 1000
fixed_rate chat_floor_1k "$FLOOR_URL/v1/chat/completions" "$CHAT_BODY" 1000
fixed_rate chat_portico_1k "$GATEWAY/v1/chat/completions" "$CHAT_BODY" 1000
fixed_rate chat_direct_3k "$MOCK/v1/chat/completions" "$CHAT_BODY" 3000
fixed_rate chat_floor_3k "$FLOOR_URL/v1/chat/completions" "$CHAT_BODY" 3000 "$FLOOR_PID"
fixed_rate chat_portico_3k "$GATEWAY/v1/chat/completions" "$CHAT_BODY" 3000 "$GATEWAY_PID"
# The floor again, made to burn the CPU Portico used per request beyond it (a
# calibrated busy loop, see floor.rs): how a proxy with Portico's CPU cost and
# none of its code fares at 3k rps on these cores.
SPIN="$(python3 -c 'import sys
try: print(max(0, round(float(open(sys.argv[2]).read()) - float(open(sys.argv[1]).read()))))
except (OSError, ValueError): print(0)' "$WORK/chat_floor_3k.cpu" "$WORK/chat_portico_3k.cpu")"
echo "$SPIN" >"$WORK/spin_micros"
start_server floor_cpu "$FLOOR" "$MOCK/v1" 127.0.0.1:0 "$SPIN"
FLOOR_CPU_URL="$STARTED_URL"; FLOOR_CPU_PID=$STARTED_PID
fixed_rate chat_floor_cpu_3k "$FLOOR_CPU_URL/v1/chat/completions" "$CHAT_BODY" 3000 "$FLOOR_CPU_PID"
kill "$FLOOR_CPU_PID" 2>/dev/null || true

# The stored turn: every request continues one stored response.
FIRST_ID="$(curl -sf "$GATEWAY/v1/responses" -H 'content-type: application/json' \
    -d '{"model":"mock","input":"Remember the number 7.","store":true,"max_output_tokens":64}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
STORED_BODY="$WORK/stored-turn.json"
echo "{\"model\":\"mock\",\"input\":\"Which number?\",\"store\":true,\"max_output_tokens\":64,\"previous_response_id\":\"$FIRST_ID\"}" >"$STORED_BODY"
fixed_rate responses_stored_1k "$GATEWAY/v1/responses" "$STORED_BODY" 1000
# The same below saturation (1k is at the limit of these 2 cores; see RESULTS.md).
fixed_rate responses_stored_500 "$GATEWAY/v1/responses" "$STORED_BODY" 500
STORED_ROWS="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from responses").fetchone()[0])' "$WORK/portico.db" 2>/dev/null || echo '?')"

log "time to first token at $TTFT_RATE rps: direct, floor, through Portico (chat, responses)"
# The four targets interleaved in one run (each at TTFT_RATE): they meet the
# same moments of the machine's noise.
"$CLIENT" ttft "$TTFT_RATE" "$SECONDS_PER_RUN" \
    "$MOCK/v1/chat/completions" "$CHAT_STREAM_BODY" 'Hello' \
    "$FLOOR_URL/v1/chat/completions" "$CHAT_STREAM_BODY" 'Hello' \
    "$GATEWAY/v1/chat/completions" "$CHAT_STREAM_BODY" 'Hello' \
    "$GATEWAY/v1/responses" "$RESPONSES_STREAM_BODY" 'output_text.delta' >"$WORK/ttft.json"
python3 - "$WORK" <<'PYEOF'
import json, sys
work = sys.argv[1]
results = json.load(open(f"{work}/ttft.json"))
for name, result in zip(["ttft_direct", "ttft_floor", "ttft_portico_chat", "ttft_portico_responses"], results):
    json.dump(result, open(f"{work}/{name}.json", "w"))
PYEOF

# Every stream gets a script that sends its first word at once, then waits 20 s
# per word: the streams stay open while the client counts and measures.
hold_streams() {
    python3 - "$STREAMS" >"$WORK/scripts.json" <<'PYEOF'
import json, sys
print(json.dumps([{"content": "first second third", "chunk_delay_ms": 20000}] * int(sys.argv[1])))
PYEOF
    curl -sf "$MOCK/control/scripts" -H 'content-type: application/json' --data-binary "@$WORK/scripts.json" >/dev/null
}
log "$STREAMS concurrent open Responses streams through Portico"
hold_streams
"$CLIENT" streams "$GATEWAY/v1/responses" "$RESPONSES_STREAM_BODY" "$STREAMS" "$GATEWAY_PID" "$MOCK_PID" >"$WORK/streams.json"
curl -sf -X DELETE "$MOCK/control/scripts" >/dev/null
# The same count of Chat streams through the floor, and through a second,
# fresh Portico (the first one's freed memory would be reused and hide the cost).
log "$STREAMS concurrent open Chat streams through the floor, then through a fresh Portico"
hold_streams
"$CLIENT" streams "$FLOOR_URL/v1/chat/completions" "$CHAT_STREAM_BODY" "$STREAMS" "$FLOOR_PID" >"$WORK/streams_floor.json"
curl -sf -X DELETE "$MOCK/control/scripts" >/dev/null
kill "$FLOOR_PID" 2>/dev/null || true
start_server portico_chat "$PORTICO" serve --backend "$MOCK/v1" --listen 127.0.0.1:0 --db "$WORK/portico-chat.db"
CHAT_GATEWAY="$STARTED_URL"; CHAT_GATEWAY_PID=$STARTED_PID
hold_streams
"$CLIENT" streams "$CHAT_GATEWAY/v1/chat/completions" "$CHAT_STREAM_BODY" "$STREAMS" "$CHAT_GATEWAY_PID" >"$WORK/streams_chat.json"
curl -sf -X DELETE "$MOCK/control/scripts" >/dev/null
kill "$CHAT_GATEWAY_PID" 2>/dev/null || true

log "cold start and idle RSS"
"$CLIENT" coldstart "$PORTICO" "$MOCK/v1" "$WORK/cold.db" 10 >"$WORK/coldstart.json"

LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 4. report ---------------------------------------------------------------
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- src migrations Cargo.toml 2>/dev/null || COMMIT="$COMMIT + uncommitted changes"
[[ -n "${PORTICO_BIN:-}" ]] && COMMIT="portico binary $PORTICO_BIN (load client from $COMMIT)"
RESULTS_SECTION="${RESULTS_SECTION:-load}"
export RESULTS_SECTION WORK TOOL COMMIT LOAD_BEFORE LOAD_AFTER SECONDS_PER_RUN STREAMS STREAMS_REQUESTED FD_LIMIT TTFT_RATE STORED_ROWS
python3 "$ROOT/benches/load/report.py" "$ROOT/benches/RESULTS.md"
