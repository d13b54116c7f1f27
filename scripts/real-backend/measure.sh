#!/usr/bin/env bash
# Measure a running llama-cpp-python backend (see serve-llama.sh):
#   - two 64-token non-stream generations (the first after a server start is cold)
#   - time to first streamed content token, three times
# Usage: measure.sh [BASE_URL]   (default http://127.0.0.1:8081/v1)
# Run it right after serve-llama.sh to see the cold request. Numbers on a
# 2-core machine move a lot with other load (cargo builds): check `uptime`.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$SCRIPT_DIR/../../target/real-backend/venv/bin/python"
[[ -x "$PY" ]] || PY=python3
exec "$PY" - "${1:-http://127.0.0.1:8081/v1}" <<'PYEOF'
import json, sys, time, urllib.request

base = sys.argv[1].rstrip("/")

def post(body):
    req = urllib.request.Request(base + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    return urllib.request.urlopen(req, timeout=600)

prompt = [{"role": "user", "content": "Write a long story about a lighthouse keeper and the sea."}]
for label in ("first (cold if the server just started)", "second (warm)"):
    t0 = time.monotonic()
    with post({"model": "gemma3-270m", "messages": prompt, "max_tokens": 64,
               "temperature": 0.7, "seed": 1}) as r:
        d = json.load(r)
    dt = time.monotonic() - t0
    n = d["usage"]["completion_tokens"]
    print(f"64-token generation, {label}: {n} tokens in {dt:.2f} s = {n / dt:.1f} tokens/s")

for i in range(3):
    t0 = time.monotonic()
    first = None
    chunks = 0
    with post({"model": "gemma3-270m", "messages": prompt, "max_tokens": 32,
               "temperature": 0.7, "stream": True}) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: {"):
                continue
            chunks += 1
            delta = json.loads(line[6:])["choices"][0]["delta"]
            if first is None and delta.get("content"):
                first = time.monotonic() - t0
    total = time.monotonic() - t0
    print(f"stream {i + 1}: first content token after {first * 1000:.0f} ms, "
          f"{chunks} chunks in {total:.2f} s")
PYEOF
