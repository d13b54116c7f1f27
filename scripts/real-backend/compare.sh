#!/usr/bin/env bash
# Tokens per second on a real backend, direct vs through Portico.
#
# Uses the colleague's setup (setup.sh, serve-llama.sh): llama-cpp-python serving
# gemma3-270m on 127.0.0.1:8081. Starts that server when nothing answers there
# (and stops it at the end), starts a release `portico serve` in front of it on a
# free loopback port with a fresh database, and runs, each direct and through
# Portico, with a token limit on every request (llama-cpp-python generates until
# its context is full without one; see NOTES.md):
#   1. a 3-turn chain: direct, /v1/chat/completions with the growing history;
#      through Portico, /v1/responses with previous_response_id;
#   2. a stream: direct, a chat stream; through Portico, a Responses stream
#      (time to first token, tokens counted as content chunks / text deltas);
#   3. when the build has the Assistants API (POST /v1/assistants is not a
#      404): an assistant, a thread, a message and a run polled to its end,
#      against one direct chat call with the same messages.
# Prints a table and writes it into benches/RESULTS.md (section real-backend).
#
# Usage: scripts/real-backend/compare.sh            (MAX_TOKENS, default 48)
# On 2 cores the model's speed follows the machine's load: the run prints the
# load average; take numbers on a quiet machine.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
WORK="$ROOT/target/real-backend/compare"
PORT=8081
BACKEND="http://127.0.0.1:$PORT/v1"
log() { printf '[compare] %s\n' "$*" >&2; }

mkdir -p "$WORK"
rm -f "$WORK"/portico.db*

started_llama=0
portico_pid=""
cleanup() {
    [[ -n "$portico_pid" ]] && { kill "$portico_pid" 2>/dev/null || true; wait "$portico_pid" 2>/dev/null || true; }
    if [[ "$started_llama" == 1 ]]; then "$SCRIPT_DIR/serve-llama.sh" --stop "$PORT" || true; fi
}
trap cleanup EXIT

if ! curl -sf --max-time 2 "$BACKEND/models" >/dev/null; then
    "$SCRIPT_DIR/setup.sh" >&2
    "$SCRIPT_DIR/serve-llama.sh" --background "$PORT" >/dev/null
    started_llama=1
fi

cd "$ROOT"
cargo build --release --locked --bin portico >&2
./target/release/portico serve --backend "$BACKEND" --listen 127.0.0.1:0 --db "$WORK/portico.db" \
    >"$WORK/portico.out" 2>"$WORK/portico.log" &
portico_pid=$!
for _ in $(seq 200); do grep -q 'listening on' "$WORK/portico.out" 2>/dev/null && break; sleep 0.05; done
GATEWAY="$(grep -o 'http://[^ ]*' "$WORK/portico.out" | head -1)"
[[ -n "$GATEWAY" ]] || { log "portico did not start"; tail "$WORK/portico.log" >&2; exit 1; }
log "backend $BACKEND, portico $GATEWAY"

PY="$ROOT/target/real-backend/venv/bin/python"
[[ -x "$PY" ]] || PY=python3
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$BACKEND" "$GATEWAY/v1" "${MAX_TOKENS:-48}" "$LOAD_BEFORE" >"$WORK/table.md" <<'PYEOF'
import json, sys, time, urllib.error, urllib.request

backend, gateway, max_tokens, load_before = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
MODEL = "gemma3-270m"
HEADERS = {"content-type": "application/json", "OpenAI-Beta": "assistants=v2"}

def request(url, body=None, method=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=HEADERS, method=method)
    return urllib.request.urlopen(req, timeout=600)

def post(url, body):
    with request(url, body) as answer:
        return json.load(answer)

def get(url):
    with request(url) as answer:
        return json.load(answer)

rows = []
def row(what, path, tokens, seconds, extra=""):
    rate = tokens / seconds if seconds else 0
    rows.append(f"| {what} | {path} | {tokens} | {seconds:.2f} | {rate:.1f} | {extra} |")
    print(f"{what:<34} {path:<32} {tokens:>4} tokens {seconds:6.2f} s {rate:6.1f} tokens/s {extra}", file=sys.stderr)

# Warm the model once (the first request after a start can be cold).
post(backend + "/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8})

prompts = ["Tell me about lighthouses.", "Why are they tall?", "Who keeps them?"]

# 1. A 3-turn chain.
# llama-cpp-python reports no usage in streams, which is how Portico calls it, so
# Portico's counts are estimates: at temperature 0 the same messages give the same
# text, and then the backend's own count from the direct call is used.
def output_text(response):
    return "".join(part.get("text", "") for item in response.get("output", [])
                   if item.get("type") == "message" for part in item.get("content", []))

messages, tokens, started, direct_turns = [], 0, time.monotonic(), []
for prompt in prompts:
    messages.append({"role": "user", "content": prompt})
    answer = post(backend + "/chat/completions", {"model": MODEL, "messages": messages, "max_tokens": max_tokens, "temperature": 0})
    text = answer["choices"][0]["message"]["content"] or ""
    messages.append({"role": "assistant", "content": text})
    tokens += answer["usage"]["completion_tokens"]
    direct_turns.append((text, answer["usage"]["completion_tokens"]))
row("3-turn chain", "direct: chat with history", tokens, time.monotonic() - started)

# Through Portico each turn is streamed, and its tokens counted as text deltas
# (llama-cpp-python sends one content chunk per token).
def responses_turn(body):
    previous, pieces, text = None, 0, ""
    with request(gateway + "/responses", dict(body, stream=True)) as answer:
        for raw in answer:
            line = raw.decode().strip()
            if not line.startswith("data: {"):
                continue
            event = json.loads(line[6:])
            if event.get("type") == "response.created":
                previous = event["response"]["id"]
            elif event.get("type") == "response.output_text.delta":
                pieces += 1
                text += event["delta"]
    return previous, pieces, text

previous, tokens, started, same = None, 0, time.monotonic(), True
for turn, prompt in enumerate(prompts):
    body = {"model": MODEL, "input": prompt, "max_output_tokens": max_tokens, "temperature": 0, "store": True}
    if previous:
        body["previous_response_id"] = previous
    previous, pieces, text = responses_turn(body)
    tokens += pieces
    same = same and text == direct_turns[turn][0]
row("3-turn chain", "Portico: responses + previous_response_id", tokens, time.monotonic() - started,
    "same text as direct" if same else "text differs from direct")

# 2. A stream: time to first token and content pieces per second.
def stream(url, body, is_token):
    started, first, pieces = time.monotonic(), None, 0
    with request(url, body) as answer:
        for raw in answer:
            line = raw.decode().strip()
            if not line.startswith("data: {"):
                continue
            if is_token(json.loads(line[6:])):
                pieces += 1
                first = first or time.monotonic() - started
    return pieces, time.monotonic() - started, first

# Twice, in both orders: the second request with the same prompt reuses the
# backend's prompt cache, which shortens its first token.
prompt = [{"role": "user", "content": "Write a story about the sea."}]
def direct_stream():
    pieces, seconds, first = stream(backend + "/chat/completions",
        {"model": MODEL, "messages": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True},
        lambda chunk: bool((chunk.get("choices") or [{}])[0].get("delta", {}).get("content")))
    row("stream", "direct: chat stream", pieces, seconds, f"first token {first * 1000:.0f} ms" if first else "")
def portico_stream():
    pieces, seconds, first = stream(gateway + "/responses",
        {"model": MODEL, "input": "Write a story about the sea.", "max_output_tokens": max_tokens, "temperature": 0, "stream": True},
        lambda event: event.get("type") == "response.output_text.delta")
    row("stream", "Portico: responses stream", pieces, seconds, f"first token {first * 1000:.0f} ms" if first else "")
direct_stream(); portico_stream(); portico_stream(); direct_stream()

# 3. An Assistants run, when the build has the API.
try:
    assistant = post(gateway + "/assistants", {"model": MODEL, "instructions": "You are brief."})
except urllib.error.HTTPError as error:
    assistant = None
    rows.append(f"| assistants run | Portico | – | – | – | POST /v1/assistants answered {error.code}: not in this build |")
if assistant:
    # Runs take no limit below 256 tokens (as on OpenAI).
    run_limit = max(max_tokens, 256)
    run_messages = [{"role": "system", "content": "You are brief."}, {"role": "user", "content": "Name three seas."}]
    started = time.monotonic()
    answer = post(backend + "/chat/completions", {"model": MODEL, "messages": run_messages, "max_tokens": run_limit, "temperature": 0})
    row("assistants run", "direct: one chat call", answer["usage"]["completion_tokens"], time.monotonic() - started)
    started = time.monotonic()
    thread = post(gateway + "/threads", {})
    post(f"{gateway}/threads/{thread['id']}/messages", {"role": "user", "content": "Name three seas."})
    run = post(f"{gateway}/threads/{thread['id']}/runs",
               {"assistant_id": assistant["id"], "max_completion_tokens": run_limit, "temperature": 0})
    while run["status"] in ("queued", "in_progress"):
        time.sleep(0.02)
        run = get(f"{gateway}/threads/{thread['id']}/runs/{run['id']}")
    seconds = time.monotonic() - started
    usage = run.get("usage") or {}
    listed = get(f"{gateway}/threads/{thread['id']}/messages?order=desc&limit=1")["data"]
    reply = "".join(part.get("text", {}).get("value", "") for part in (listed[0]["content"] if listed else []))
    direct_text = answer["choices"][0]["message"]["content"] or ""
    same = reply == direct_text
    row("assistants run", "Portico: thread + message + run, polled",
        answer["usage"]["completion_tokens"] if same else usage.get("completion_tokens", 0), seconds,
        f"status {run['status']}; " + ("same text as direct, so its token count" if same else "text differs: the run's own (estimated) count"))

load_after = " ".join(open("/proc/loadavg").read().split()[:3])
print("## Real backend (`scripts/real-backend/compare.sh`)")
print()
print(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; llama-cpp-python 0.3.36 serving gemma-3-270m q4_k_m "
      f"(`--n_threads 2 --n_ctx 4096`), temperature 0, max tokens {max_tokens} on every request")
print(f"- Load average before: {load_before}; after: {load_after}")
print("- Tokens: direct, the backend's `completion_tokens`; through Portico, the streamed text deltas (one per backend content chunk, i.e. per token), "
      "and for the run the direct call's count when the text is the same (this backend reports no usage in streams, so Portico's own counts are estimates). "
      "Time is wall time of the whole exchange (for the chain, all three turns; for the run, thread + message + run + polling every 20 ms).")
print()
print("| exchange | path | tokens | seconds | tokens/s | notes |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
PYEOF
cat "$WORK/table.md"
python3 "$ROOT/benches/load/report.py" "$ROOT/benches/RESULTS.md" section real-backend <"$WORK/table.md"
