"""The Assistants API v2 driven end to end by the real openai-python SDK:
`client.beta.assistants`, threads and messages, `runs.create_and_poll`, a run
that stops for tool outputs and continues with `submit_tool_outputs_and_poll`,
`runs.stream` with an `AssistantEventHandler`, and `submit_tool_outputs_stream`.

The SDK marks these methods deprecated; the warnings are silenced here.
"""

from __future__ import annotations

import json
import warnings
from typing import List

import openai
import pytest
from openai import AssistantEventHandler

MODEL = "e2e-model"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_assistants_threads_and_messages_crud(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model=MODEL, name="Helper", instructions="Be brief.")
    assert assistant.id.startswith("asst_")
    assert client.beta.assistants.retrieve(assistant.id).name == "Helper"
    updated = client.beta.assistants.update(assistant.id, metadata={"team": "a"})
    assert updated.metadata == {"team": "a"}
    assert assistant.id in [item.id for item in client.beta.assistants.list(limit=100)]

    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hello"}])
    message = client.beta.threads.messages.create(thread.id, role="user", content="Again")
    listed = client.beta.threads.messages.list(thread.id, order="asc")
    assert [m.content[0].text.value for m in listed.data] == ["Hello", "Again"]
    client.beta.threads.messages.update(message.id, thread_id=thread.id, metadata={"k": "v"})
    assert client.beta.threads.messages.retrieve(message.id, thread_id=thread.id).metadata == {"k": "v"}
    assert client.beta.threads.messages.delete(message.id, thread_id=thread.id).deleted
    assert client.beta.threads.update(thread.id, metadata={"x": "y"}).metadata == {"x": "y"}
    assert client.beta.threads.delete(thread.id).deleted
    assert client.beta.assistants.delete(assistant.id).deleted

    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.assistants.create(model=MODEL, tools=[{"type": "code_interpreter"}])
    assert refused.value.body["param"] == "tools[0].type"
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve("thread_missing")


def test_create_and_poll_completes_a_run(client: openai.OpenAI, mock) -> None:
    mock.script({"content": "Hi from the local model."})
    assistant = client.beta.assistants.create(model=MODEL, instructions="Be brief.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"
    assert run.usage is not None and run.usage.total_tokens > 0
    messages = client.beta.threads.messages.list(thread.id, run_id=run.id)
    assert messages.data[0].content[0].text.value == "Hi from the local model."
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert steps.data[0].type == "message_creation"
    assert mock.last_request()["messages"][0] == {"role": "system", "content": "Be brief."}


def test_tool_outputs_continue_the_polled_run(client: openai.OpenAI, mock) -> None:
    mock.script(
        {"tool_calls": [{"id": "call_paris", "name": "get_weather", "arguments": '{"city":"Paris"}'}]},
        {"content": "It is sunny in Paris."},
    )
    assistant = client.beta.assistants.create(model=MODEL, tools=[WEATHER_TOOL])
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Weather in Paris?"}]},
    )
    assert run.status == "requires_action"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert call.id == "call_paris" and json.loads(call.function.arguments) == {"city": "Paris"}
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=run.thread_id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}]
    )
    assert run.status == "completed"
    last = mock.last_request()["messages"]
    assert last[-1] == {"role": "tool", "tool_call_id": "call_paris", "content": "sunny"}


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: List[str] = []
        self.text = ""

    def on_event(self, event) -> None:  # type: ignore[override]
        self.events.append(event.event)

    def on_text_delta(self, delta, snapshot) -> None:  # type: ignore[override]
        self.text += delta.value or ""


def test_stream_with_an_event_handler_then_submit_tool_outputs_stream(client: openai.OpenAI, mock) -> None:
    mock.script(
        {"tool_calls": [{"id": "call_oslo", "name": "get_weather", "arguments": '{"city":"Oslo"}'}], "chunk_chars": 5},
        {"content": "Wear a warm coat."},
    )
    assistant = client.beta.assistants.create(model=MODEL, tools=[WEATHER_TOOL])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What should I wear in Oslo?"}])
    first = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=first) as stream:
        stream.until_done()
        run = stream.current_run
    assert first.events[0] == "thread.run.created"
    assert first.events[-1] == "thread.run.requires_action"
    assert run is not None and run.status == "requires_action"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert json.loads(call.function.arguments) == {"city": "Oslo"}

    second = Recorder()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "-5 C"}],
        event_handler=second,
    ) as stream:
        stream.until_done()
        final_messages = stream.get_final_messages()
        final_run = stream.get_final_run()
    assert second.events[0] == "thread.run.step.completed"
    assert second.events[-1] == "thread.run.completed"
    assert second.text == "Wear a warm coat."
    assert final_messages[0].content[0].text.value == "Wear a warm coat."
    assert final_run.status == "completed"
