#!/usr/bin/env python3
"""Tables for benches/RESULTS.md, written between marker comments so that each
generator replaces only its own section and the hand-written text stays.

    report.py RESULTS.md                 load section from $WORK (run.sh sets the
                                         environment), plus the criterion section
    report.py RESULTS.md criterion       criterion section only (after `cargo bench`)
    report.py RESULTS.md section NAME    section NAME from standard input

Sections: <!-- NAME:begin --> ... <!-- NAME:end -->. A missing section is appended.
"""

import datetime
import json
import os
import platform
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def replace_section(path, name, text):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    try:
        current = open(path).read()
    except FileNotFoundError:
        current = "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip() + "\n\n" + block + "\n"
    with open(path, "w") as out:
        out.write(updated)


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(open("/proc/meminfo").readline().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}"


def load(work, name):
    try:
        with open(os.path.join(work, name)) as source:
            return json.load(source)
    except (OSError, ValueError):
        return None


def oha_row(work, name):
    """p50, p99 (ms), throughput (rps), errors of one oha JSON result."""
    data = load(work, name + ".json")
    if data is None:
        return None
    summary = data.get("summary", {})
    latency = data.get("latencyPercentiles", {})
    codes = data.get("statusCodeDistribution", {}) or {}
    failures = data.get("errorDistribution", {}) or {}
    ok = sum(count for code, count in codes.items() if str(code).startswith("2"))
    errors = sum(count for code, count in codes.items() if not str(code).startswith("2"))
    # Requests still in flight when the run's time is up are not errors.
    unfinished = failures.pop("aborted due to deadline", 0)
    errors += sum(failures.values())
    seconds = summary.get("total") or 0
    return {
        "p50": (latency.get("p50") or float("nan")) * 1000,
        "p99": (latency.get("p99") or float("nan")) * 1000,
        "rps": ok / seconds if seconds else float("nan"),
        "errors": errors,
        "unfinished": unfinished,
    }


def read_number(work, name):
    """The number a measurement wrote alone into a file, or None."""
    try:
        with open(os.path.join(work, name)) as source:
            return float(source.read().strip())
    except (OSError, ValueError):
        return None


def fmt(value, digits=3):
    if value is None or value != value:
        return "–"
    return f"{value:.{digits}f}"


def verdict(ok):
    return "**holds**" if ok else "**misses**"


def load_section(work):
    rows = []
    table = [
        ("chat_direct_1k", "Chat, direct to the mock", 1000),
        ("chat_floor_1k", "Chat through the floor proxy", 1000),
        ("chat_portico_1k", "Chat through Portico", 1000),
        ("chat_direct_3k", "Chat, direct to the mock", 3000),
        ("chat_floor_3k", "Chat through the floor proxy", 3000),
        ("chat_portico_3k", "Chat through Portico", 3000),
        ("chat_floor_cpu_3k", "Chat through the floor proxy burning Portico's extra CPU per request", 3000),
        ("responses_stored_1k", "Responses, stored turn with previous_response_id", 1000),
        ("responses_stored_500", "Responses, stored turn with previous_response_id", 500),
    ]
    results = {}
    for key, label, rate in table:
        row = oha_row(work, key)
        results[key] = row
        if row:
            rows.append(f"| {label} | {rate} | {fmt(row['p50'])} | {fmt(row['p99'])} | {fmt(row['rps'], 0)} | {row['errors']} | {row['unfinished']} |")
    ttft = {key: load(work, f"ttft_{key}.json") for key in ("direct", "floor", "portico_chat", "portico_responses")}
    ttft_labels = {
        "direct": "Chat stream, direct to the mock",
        "floor": "Chat stream through the floor proxy",
        "portico_chat": "Chat stream through Portico",
        "portico_responses": "Responses stream through Portico",
    }
    rate = os.environ.get("TTFT_RATE", "?")
    for key, data in ttft.items():
        if data:
            rows.append(f"| TTFT: {ttft_labels[key]} | {rate} | {fmt(data['p50'])} | {fmt(data['p99'])} | {fmt(data['rps'], 0)} | {data['errors']} | 0 |")

    def added(a, b, field):
        if results.get(a) and results.get(b):
            return results[b][field] - results[a][field]
        return None

    def ttft_added(key, field):
        if ttft.get("direct") and ttft.get(key):
            return ttft[key][field] - ttft["direct"][field]
        return None

    streams = load(work, "streams.json") or {}
    during = streams.get("during") or [{}]
    before = streams.get("before") or [{}]
    stream_rss = during[0].get("peak_rss_mb") if during else None
    stream_rss_now = during[0].get("rss_mb") if during else None
    mock_rss = during[1].get("rss_mb") if len(during) > 1 else None
    requested = int(os.environ.get("STREAMS_REQUESTED") or streams.get("requested") or 0)
    opened = streams.get("open") or 0
    per_stream_kb = None
    at_requested = stream_rss
    if opened and stream_rss is not None and before[0].get("rss_mb") is not None:
        per_stream_kb = (stream_rss - before[0]["rss_mb"]) * 1024 / opened
        at_requested = before[0]["rss_mb"] + per_stream_kb * requested / 1024
    def per_stream(name):
        """(KB per open stream, open, MB at the requested count) of one streams run."""
        data = load(work, name) or {}
        now = (data.get("during") or [{}])[0].get("peak_rss_mb")
        then = (data.get("before") or [{}])[0].get("rss_mb")
        count = data.get("open") or 0
        if not count or now is None or then is None:
            return None, count, None
        kb = (now - then) * 1024 / count
        return kb, count, then + kb * requested / 1024

    floor_kb, floor_open, floor_at_requested = per_stream("streams_floor.json")
    chat_kb, chat_open, chat_at_requested = per_stream("streams_chat.json")
    cold = load(work, "coldstart.json") or {}
    fresh = cold.get("fresh_database") or {}
    idle = (cold.get("idle") or {}).get("rss_mb")
    # The chain is a criterion number of the working tree: only for its own run.
    own_build = (os.environ.get("RESULTS_SECTION") or "load") == "load"
    chain = criterion_estimate("store/chain_rebuild_1000_turns") if own_build else None

    d3 = results.get("chat_direct_3k")
    p3 = results.get("chat_portico_3k")
    ratio = (p3["rps"] / d3["rps"]) if d3 and p3 and d3["rps"] else None
    p50_added = added("chat_direct_3k", "chat_portico_3k", "p50")
    p99_added = added("chat_direct_3k", "chat_portico_3k", "p99")
    stored_added = added("chat_direct_1k", "responses_stored_1k", "p99")
    stored_added_500 = added("chat_direct_1k", "responses_stored_500", "p99")
    ttft_chat = ttft_added("portico_chat", "p99")
    ttft_responses = ttft_added("portico_responses", "p99")
    ttft_floor = ttft_added("floor", "p99")
    floor_p50 = added("chat_direct_3k", "chat_floor_3k", "p50")
    floor_p99 = added("chat_direct_3k", "chat_floor_3k", "p99")
    floor_cpu_p99 = added("chat_direct_3k", "chat_floor_cpu_3k", "p99")
    cpu = {key: read_number(work, f"chat_{key}_3k.cpu") for key in ("floor", "portico", "floor_cpu")}
    spin = read_number(work, "spin_micros")
    f3 = results.get("chat_floor_3k")
    floor_ratio = (f3["rps"] / d3["rps"]) if d3 and f3 and d3["rps"] else None
    # What the floor proxy (same stack, no gateway work) measured for the same
    # target: a target below it cannot be met by any code on this stack.
    floors = {
        "Chat pass-through, 3k rps: added p50 ≤ 0.15 ms": fmt(floor_p50) + " ms",
        "Chat pass-through, 3k rps: added p99 ≤ 0.5 ms": (
            f"{fmt(floor_p99)} ms; {fmt(floor_cpu_p99)} ms burning Portico's CPU per request"),
        "Chat pass-through, 3k rps: no errors": str(f3["errors"]) if f3 else "–",
        "Chat pass-through, 3k rps: throughput ≥ 0.8× direct": fmt(floor_ratio, 2) + "×",
        "Streaming TTFT added p99 ≤ 0.5 ms (Chat)": fmt(ttft_floor) + " ms",
        "Streaming TTFT added p99 ≤ 0.5 ms (Responses)": fmt(ttft_floor) + " ms (a Chat stream)",
    }
    targets = [
        ("Chat pass-through, 3k rps: added p50 ≤ 0.15 ms", fmt(p50_added) + " ms",
         p50_added is not None and p50_added <= 0.15),
        ("Chat pass-through, 3k rps: added p99 ≤ 0.5 ms", fmt(p99_added) + " ms",
         p99_added is not None and p99_added <= 0.5),
        ("Chat pass-through, 3k rps: no errors", str(p3["errors"]) if p3 else "–", bool(p3) and p3["errors"] == 0),
        ("Chat pass-through, 3k rps: throughput ≥ 0.8× direct", fmt(ratio, 2) + "×",
         ratio is not None and ratio >= 0.8),
        ("Stored Responses turn, 1k rps: added p99 ≤ 2 ms (vs direct chat)", fmt(stored_added) + " ms",
         stored_added is not None and stored_added <= 2 and (results.get("responses_stored_1k") or {}).get("errors") == 0),
        ("(Same at 500 rps, below saturation: added p99 vs direct chat at 1k)", fmt(stored_added_500) + " ms",
         stored_added_500 is not None and stored_added_500 <= 2),
        ("Streaming TTFT added p99 ≤ 0.5 ms (Chat)", fmt(ttft_chat) + " ms", ttft_chat is not None and ttft_chat <= 0.5),
        ("Streaming TTFT added p99 ≤ 0.5 ms (Responses)", fmt(ttft_responses) + " ms",
         ttft_responses is not None and ttft_responses <= 0.5),
        (f"{requested:,} open streams ≤ 300 MB RSS (peak)",
         f"{fmt(stream_rss, 1)} MB with {opened:,} open" + ("" if opened == requested else f"; {fmt(at_requested, 0)} MB at {requested:,} ({fmt(per_stream_kb, 1)} KB a stream)"),
         at_requested is not None and at_requested <= 300 and streams.get("failed") == 0),
        ("1,000-turn chain rebuilt ≤ 5 ms (criterion)", fmt(chain / 1e6 if chain else None) + " ms",
         chain is not None and chain / 1e6 <= 5),
        ("Idle RSS ≤ 30 MB", fmt(idle, 1) + " MB", idle is not None and idle <= 30),
        ("Ready ≤ 100 ms after start (p99 of fresh starts)", fmt(fresh.get("p99"), 1) + " ms",
         fresh.get("p99") is not None and fresh.get("p99") <= 100),
    ]

    floors[f"{requested:,} open streams ≤ 300 MB RSS (peak)"] = (
        f"{fmt(floor_at_requested, 0)} MB ({fmt(floor_kb, 1)} KB a Chat stream)")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Load run (`bash benches/load/run.sh`)",
        "",
        f"- Date: {now}; commit {os.environ.get('COMMIT', '?')}",
        f"- Machine: {machine()}",
        f"- Load average (1, 5, 15 min) before: {os.environ.get('LOAD_BEFORE', '?')}; after: {os.environ.get('LOAD_AFTER', '?')}",
        f"- Tool: {os.environ.get('TOOL', '?')} at fixed rates, {os.environ.get('SECONDS_PER_RUN', '?')} s per run after a 2 s warm-up, 64 connections, "
        "latency measured from each request's scheduled start (coordinated omission corrected); "
        "TTFT by benches/load/client.rs, the direct, floor and two Portico targets interleaved in one run. Client, mock and Portico share the 2 cores.",
        "",
        "| scenario | rate (rps) | p50 (ms) | p99 (ms) | throughput (rps) | errors | unfinished at the deadline |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "| other measurement | value |",
        "|---|---|",
        f"| Open Responses streams (store=false) | {streams.get('open', '–')} of {streams.get('requested', '–')} open, {streams.get('failed', '–')} failed, opened in {fmt(streams.get('opened_in_s'), 1)} s (open-file limit {os.environ.get('FD_LIMIT', '?')}; Portico holds 2 sockets a stream) |",
        f"| Portico RSS before them / per open stream | {fmt(before[0].get('rss_mb'), 1)} MB / {fmt(per_stream_kb, 1)} KB |",
        f"| Portico RSS with them open: now / peak | {fmt(stream_rss_now, 1)} MB / {fmt(stream_rss, 1)} MB |",
        f"| mock-backend RSS with them open | {fmt(mock_rss, 1)} MB |",
        f"| Open Chat streams through the floor proxy: per stream / at {requested:,} | {fmt(floor_kb, 1)} KB / {fmt(floor_at_requested, 0)} MB ({floor_open:,} open) |",
        f"| Open Chat streams through a fresh Portico: per stream / at {requested:,} | {fmt(chat_kb, 1)} KB / {fmt(chat_at_requested, 0)} MB ({chat_open:,} open) |",
        f"| CPU per request at 3k rps: floor proxy / Portico / floor proxy with a {fmt(spin, 0)} µs busy loop | "
        f"{fmt(cpu['floor'], 1)} / {fmt(cpu['portico'], 1)} / {fmt(cpu['floor_cpu'], 1)} µs |",
        f"| Cold start → first /healthz 200, fresh database ({fresh.get('count', '–')} starts): p50 / max | {fmt(fresh.get('p50'), 1)} ms / {fmt(fresh.get('max'), 1)} ms |",
        f"| Same, existing database | {fmt(cold.get('existing_database_ms'), 1)} ms |",
        f"| Idle RSS, 3 s after start | {fmt(idle, 1)} MB |",
        f"| Stored responses after the run | {os.environ.get('STORED_ROWS', '?')} |",
        "",
        "The floor column is what the floor proxy (benches/load/floor.rs: axum and reqwest, Portico's own HTTP stack, "
        "forwarding bytes with no gateway work) measured for the same target in the same run: the cost of one more HTTP hop "
        "on this machine with this stack, which no gateway code on it can go below. For the chat p99 it also shows what the "
        "floor measured when made to burn, in a busy loop, the CPU Portico used per request beyond it: a proxy with Portico's "
        "CPU cost and none of its code.",
        "",
        "| target | measured | | floor proxy |",
        "|---|---|---|---|",
        *[f"| {name} | {value} | {verdict(ok)} | {floors.get(name, '–')} |" for name, value, ok in targets],
    ]
    return "\n".join(lines)


def criterion_estimate(bench):
    path = os.path.join(ROOT, "target", "criterion", *bench.split("/"), "new", "estimates.json")
    try:
        with open(path) as source:
            return json.load(source)["median"]["point_estimate"]
    except (OSError, ValueError, KeyError):
        return None


def criterion_section():
    benches = [
        ("sse_grammar/long_text_1000_deltas", "SSE grammar: text answer, 1,000 deltas (with obfuscation), framed", None),
        ("sse_grammar/long_text_1000_deltas_no_obfuscation", "SSE grammar: same, `include_obfuscation: false`", None),
        ("sse_grammar/tool_call_200_fragments", "SSE grammar: tool call, 200 argument fragments, framed", None),
        ("translate/chat_text_stream_1000_tokens", "Chat chunks → Responses events: 1,002 llama-cpp-python chunks", None),
        ("translate/chat_tool_call_stream_200_fragments", "Chat chunks → Responses events: tool call, 204 chunks", None),
        ("store/stored_turn", "Store: insert + finish + get of one turn (temp file, WAL)", None),
        ("store/chain_query_only_1000_turns", "Store: the chain query alone, 1,000 turns", None),
        ("store/chain_items_as_values_1000_turns", "Store: chain_items as JSON values, 1,000 turns", None),
        ("store/chain_rebuild_1000_turns", "Store: chain_items + chat_messages, 1,000 turns", None),
        ("store/chain_rebuild_1000_turns_recent", "Store: the same chain from the recently finished responses in memory", None),
    ]
    rows = []
    for bench, label, _ in benches:
        median = criterion_estimate(bench)
        if median is None:
            continue
        elements = None
        try:
            with open(os.path.join(ROOT, "target", "criterion", *bench.split("/"), "new", "benchmark.json")) as source:
                throughput = json.load(source).get("throughput") or {}
                elements = throughput.get("Elements")
        except (OSError, ValueError):
            pass
        rate = f"{elements / (median / 1e9):,.0f} /s" if elements else "–"
        rows.append(f"| {label} | {median / 1000:,.1f} µs | {elements or '–'} | {rate} |")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_now = " ".join(open("/proc/loadavg").read().split()[:3])
    return "\n".join([
        "## Micro-benchmarks (`cargo bench --bench grammar --bench store`)",
        "",
        f"Criterion medians from target/criterion, table written {now} (load average then: {load_now}); machine: {machine()}.",
        "",
        "| benchmark | median time | elements | elements/s |",
        "|---|---|---|---|",
        *rows,
    ])


def main():
    path = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else "load"
    if mode == "section":
        replace_section(path, sys.argv[3], sys.stdin.read())
        return
    if mode == "load":
        text = load_section(os.environ["WORK"])
        section = os.environ.get("RESULTS_SECTION") or "load"
        if section != "load":
            text = text.replace("## Load run", f"## Load run ({section})", 1)
        replace_section(path, section, text)
        print(text)
        if section != "load":
            return
    text = criterion_section()
    replace_section(path, "criterion", text)
    if mode == "criterion":
        print(text)


if __name__ == "__main__":
    main()
