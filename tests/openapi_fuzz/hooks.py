"""Schemathesis hooks for the OpenAPI fuzz run (tests/openapi_fuzz.rs).

A generated request that the document calls valid must be answered; a few
rules of the server depend on things no static document can state. For
requests generated as valid (never for those generated as invalid), these
hooks make the body meet those rules and change nothing else:

- `model`: a model the backends serve (`mock`, the mock backend's).
- A named `tool_choice` must name a tool declared in the same request.
- A function tool with `strict: true` needs strict `parameters` (every
  object closed, every property required) - a rule over the JSON Schema the
  tool carries.
- Responses input items: an `item_reference` (or an untyped item with an
  `id`) must name a stored item, a `compaction` item must carry what this
  server's `/v1/responses/compact` sealed, every `function_call` needs its
  `function_call_output` and the other way round, and `previous_response_id`
  must name a stored response (kept only when it looks like one a link gave).
- A run needs something to answer: a user message in the thread or
  instructions; tool outputs answer the calls the run waits for.

The run must also not cut off its own access: the fuzz key and its project
are never suspended (the kill switch works; it is tested elsewhere).

Random ids name nothing, and an operation may answer 2xx only for an object
in a given state (a run with steps, a run waiting for tool outputs, a
background response still running), which a short chain of links rarely
makes. Before the run, `after_load_schema` makes, through the API, an object
for every operation that takes an id (scripting the mock backend for the tool
call and the slow answer), and every other valid request to that operation
names it (a new run also names a seeded assistant). An operation that uses its object up (a delete, a tool-output
submission, a cancel) gets several, and names each once. The stateful phase
names only what its links give.
"""

import base64
import os
import time

import requests
import schemathesis

SERVED_MODEL = "mock"
FUZZ_KEY_PREFIX = "cfgkey_"
FUZZ_PROJECT = "fuzz"
SEALED = "pcmp1." + base64.urlsafe_b64encode(b"A summary.").decode().rstrip("=")
STRICT_PARAMETERS = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}


def _generated_valid(case):
    meta = case.meta
    if meta is None:
        return False
    return meta.generation.mode.is_positive


def _declared_names(tools, kind):
    names = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict) or tool.get("type") != kind:
            continue
        name = tool.get("name")
        if isinstance(tool.get(kind), dict):
            name = tool[kind].get("name", name)
        if isinstance(name, str):
            names.append(name)
    return names


def _named_choice(choice):
    """(kind, name, setter) of a named tool choice, or None."""
    if not isinstance(choice, dict):
        return None
    kind = choice.get("type")
    if kind not in ("function", "custom"):
        return None
    if isinstance(choice.get(kind), dict):
        inner = choice[kind]
        return kind, inner.get("name"), lambda name: inner.__setitem__("name", name)
    return kind, choice.get("name"), lambda name: choice.__setitem__("name", name)


def _declare_tool_choice(body):
    named = _named_choice(body.get("tool_choice"))
    if named is None:
        return
    kind, name, rename = named
    names = _declared_names(body.get("tools"), kind)
    if name in names:
        return
    if names:
        rename(names[0])
    else:
        body["tool_choice"] = "auto"


def _strict_parameters(body):
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        if function.get("strict") is True:
            function["parameters"] = dict(STRICT_PARAMETERS)


def _input_items(items):
    if not isinstance(items, list):
        return items
    kept = []
    for item in items:
        if not isinstance(item, dict):
            kept.append(item)
            continue
        kind = item.get("type")
        if kind == "item_reference" or (not isinstance(kind, str) and "role" not in item and "id" in item):
            kept.append({"role": "user", "content": "Hello."})
            continue
        if kind == "compaction":
            item["encrypted_content"] = SEALED
        kept.append(item)
    calls = {item.get("call_id") for item in kept if isinstance(item, dict) and item.get("type") == "function_call"}
    outputs = {item.get("call_id") for item in kept if isinstance(item, dict) and item.get("type") == "function_call_output"}
    paired = []
    for item in kept:
        if isinstance(item, dict) and item.get("type") == "function_call_output" and item.get("call_id") not in calls:
            paired.append({"type": "function_call", "call_id": item["call_id"], "name": "f", "arguments": "{}"})
            calls.add(item["call_id"])
        paired.append(item)
        if isinstance(item, dict) and item.get("type") == "function_call" and item.get("call_id") not in outputs:
            paired.append({"type": "function_call_output", "call_id": item["call_id"], "output": "done"})
            outputs.add(item["call_id"])
    return paired


SEEDED = {}
PENDING = {}
SEED_TURNS = {}
# How many objects an operation that uses its object up gets.
SPARE = 3


def _api(method, path, body=None):
    url = os.environ["PORTICO_FUZZ_URL"] + path
    headers = {"Authorization": "Bearer sk-portico-fuzz"}
    answer = requests.request(method, url, json=body, headers=headers, timeout=30)
    answer.raise_for_status()
    return answer.json()


def _script(script):
    requests.post(os.environ["PORTICO_FUZZ_MOCK_URL"] + "/control/scripts", json=script, timeout=30).raise_for_status()


def _run_until(assistant, status):
    run = _api("POST", "/v1/threads/runs", {"assistant_id": assistant, "thread": {"messages": [{"role": "user", "content": "Look it up."}]}})
    for _ in range(200):
        if run["status"] == status:
            return run
        time.sleep(0.05)
        run = _api("GET", f"/v1/threads/{run['thread_id']}/runs/{run['id']}")
    raise RuntimeError(f"the seeded run stayed {run['status']}, not {status}")


@schemathesis.hook
def after_load_schema(ctx, schema):
    if "PORTICO_FUZZ_URL" not in os.environ:
        return
    def seed(label, parameters):
        SEEDED.setdefault(label, []).append(parameters)

    message = [{"role": "user", "content": "Hello."}]
    for verb, label in (("GET", "get"), ("POST", "update")) + (("DELETE", "delete"),) * SPARE:
        kept = _api("POST", "/v1/chat/completions", {"model": SERVED_MODEL, "messages": message, "store": True})
        seed(f"{verb} /v1/chat/completions/{{completion_id}}", {"completion_id": kept["id"]})
        if label == "get":
            seed("GET /v1/chat/completions/{completion_id}/messages", {"completion_id": kept["id"]})
    for verb in ("GET",) + ("DELETE",) * SPARE:
        conversation = _api("POST", "/v1/conversations", {"items": message})["id"]
        item = _api("GET", f"/v1/conversations/{conversation}/items")["data"][0]["id"]
        seed(f"{verb} /v1/conversations/{{conversation_id}}/items/{{item_id}}", {"conversation_id": conversation, "item_id": item})
    for verb in ("GET",) + ("DELETE",) * SPARE:
        response = _api("POST", "/v1/responses", {"model": SERVED_MODEL, "input": "Hello."})["id"]
        seed(f"{verb} /v1/responses/{{response_id}}", {"response_id": response})
    seed("GET /v1/responses/{response_id}/input_items", SEEDED["GET /v1/responses/{response_id}"][0])
    for verb in ("GET", "POST") + ("DELETE",) * SPARE:
        assistant = _api("POST", "/v1/assistants", {"model": SERVED_MODEL})["id"]
        seed(f"{verb} /v1/assistants/{{assistant_id}}", {"assistant_id": assistant})
    for verb in ("GET", "POST") + ("DELETE",) * SPARE:
        thread = _api("POST", "/v1/threads", {})["id"]
        seed(f"{verb} /v1/threads/{{thread_id}}", {"thread_id": thread})
    kept_thread = SEEDED["GET /v1/threads/{thread_id}"][0]["thread_id"]
    for label in ("GET /v1/threads/{thread_id}/messages", "POST /v1/threads/{thread_id}/messages", "GET /v1/threads/{thread_id}/runs", "POST /v1/threads/{thread_id}/runs"):
        seed(label, {"thread_id": kept_thread})
    kept_conversation = SEEDED["GET /v1/conversations/{conversation_id}/items/{item_id}"][0]["conversation_id"]
    for label in ("GET /v1/conversations/{conversation_id}", "POST /v1/conversations/{conversation_id}", "GET /v1/conversations/{conversation_id}/items", "POST /v1/conversations/{conversation_id}/items"):
        seed(label, {"conversation_id": kept_conversation})
    for verb in ("GET", "POST") + ("DELETE",) * SPARE:
        made = _api("POST", f"/v1/threads/{kept_thread}/messages", message[0])["id"]
        seed(f"{verb} /v1/threads/{{thread_id}}/messages/{{message_id}}", {"thread_id": kept_thread, "message_id": made})
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    assistant = _api("POST", "/v1/assistants", {"model": SERVED_MODEL, "tools": [tool]})["id"]
    done = _run_until(assistant, "completed")
    finished = {"thread_id": done["thread_id"], "run_id": done["id"]}
    for label in ("GET /v1/threads/{thread_id}/runs/{run_id}", "POST /v1/threads/{thread_id}/runs/{run_id}", "GET /v1/threads/{thread_id}/runs/{run_id}/steps"):
        seed(label, finished)
    step = _api("GET", f"/v1/threads/{done['thread_id']}/runs/{done['id']}/steps")["data"][0]["id"]
    seed("GET /v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}", {**finished, "step_id": step})
    call = {"tool_calls": [{"name": "lookup", "arguments": "{}"}]}
    for label in ("POST /v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", "POST /v1/threads/{thread_id}/runs/{run_id}/cancel") * SPARE:
        _script(call)
        waiting = _run_until(assistant, "requires_action")
        seed(label, {"thread_id": waiting["thread_id"], "run_id": waiting["id"]})
        PENDING[waiting["id"]] = [call["id"] for call in waiting["required_action"]["submit_tool_outputs"]["tool_calls"]]
    for _ in range(SPARE):
        _script({"delay_ms": 600000})
        slow = _api("POST", "/v1/responses", {"model": SERVED_MODEL, "input": "Take your time.", "background": True})
        seed("POST /v1/responses/{response_id}/cancel", {"response_id": slow["id"]})
    admin = {"Authorization": "Bearer sk-portico-fuzz-admin"}
    for verb, action in (("POST", "suspend"), ("POST", "resume")) + (("DELETE", ""),) * SPARE:
        key = requests.post(os.environ["PORTICO_FUZZ_URL"] + "/admin/keys", json={"project": "seeded"}, headers=admin, timeout=30).json()["id"]
        seed(f"{verb} /admin/keys/{{key_id}}" + (f"/{action}" if action else ""), {"key_id": key})
    for label in ("GET /admin/projects/{project}", "POST /admin/projects/{project}/suspend", "POST /admin/projects/{project}/resume"):
        seed(label, {"project": "seeded"})
    seed("GET /v1/models/{model}", {"model": SERVED_MODEL})


def _uses_up(label):
    return label.startswith("DELETE ") or label.endswith(("/submit_tool_outputs", "/cancel"))


def _name_seeded(ctx, case):
    label = ctx.operation.label if ctx.operation else ""
    seeds = SEEDED.get(label)
    # A stateful step names what the links gave it.
    if not seeds or "stateful" in str(case.meta.phase.name).lower():
        return
    SEED_TURNS[label] = SEED_TURNS.get(label, 0) + 1
    if SEED_TURNS[label] % 2 == 0:
        return
    seeded = seeds.pop(0) if _uses_up(label) else seeds[0]
    case.path_parameters = {**(case.path_parameters or {}), **seeded}
    if label == "POST /v1/threads/{thread_id}/runs" and isinstance(case.body, dict):
        case.body["assistant_id"] = SEEDED["GET /v1/assistants/{assistant_id}"][0]["assistant_id"]
    pending = PENDING.get(seeded.get("run_id"))
    if pending and isinstance(case.body, dict) and "tool_outputs" in case.body:
        case.body["tool_outputs"] = [{"tool_call_id": call_id, "output": "42"} for call_id in pending]


@schemathesis.hook
def map_case(ctx, case):
    body = case.body
    if not _generated_valid(case):
        return case
    _name_seeded(ctx, case)
    if not isinstance(body, dict):
        return case
    if isinstance(body.get("model"), str):
        body["model"] = SERVED_MODEL
    _declare_tool_choice(body)
    _strict_parameters(body)
    for field in ("input", "items"):
        if field in body:
            body[field] = _input_items(body[field])
    previous = body.get("previous_response_id")
    if isinstance(previous, str) and not previous.startswith("resp_"):
        del body["previous_response_id"]
        if body.get("input") is None:
            body["input"] = "Hello."
    if "assistant_id" in body and not (body.get("instructions") or "").strip():
        body["instructions"] = "Answer briefly."
    return case


@schemathesis.hook
def filter_path_parameters(ctx, path_parameters):
    key = path_parameters.get("key_id") if path_parameters else None
    project = path_parameters.get("project") if path_parameters else None
    return not (isinstance(key, str) and key.startswith(FUZZ_KEY_PREFIX)) and project != FUZZ_PROJECT
