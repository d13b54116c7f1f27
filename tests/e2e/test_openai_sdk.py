"""Portico driven end to end by the real openai-python SDK.

Every test talks to a real `portico serve` over HTTP with `openai.OpenAI`, and
Portico talks to a real `portico mock-backend`. The mock's scripts decide what
the "model" answers; its recorded requests show what Portico sent upstream.
OpenAI's wire contract is the spec: where the SDK accepts something, the test
also checks what OpenAI itself would have answered.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional

import openai
import pytest

MODEL = "e2e-model"

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


# --- helpers -----------------------------------------------------------------


def message_text(message: dict) -> Optional[str]:
    """The text of a chat message whose content is a string or a list of parts."""
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def conversation(request: dict) -> List[tuple]:
    """(role, text) for every message of a recorded chat completion request."""
    return [(m.get("role"), message_text(m)) for m in request["messages"]]


def event_types(events: List[Any]) -> List[str]:
    return [event.type for event in events]


def assert_sequence_numbers_dense(events: List[Any]) -> None:
    numbers = [event.sequence_number for event in events]
    assert numbers == list(range(len(events))), numbers


def item_text(item: Any) -> str:
    return "".join(part.text for part in item.content)


# --- Responses: create --------------------------------------------------------


def test_create_returns_a_completed_response_with_the_scripted_text_ids_and_usage(client, mock):
    mock.script(
        {
            "content": "Hello from the mock backend.",
            "usage": {"prompt_tokens": 12, "completion_tokens": 5},
        }
    )

    response = client.responses.create(model=MODEL, input="Say hello.")

    assert response.object == "response"
    assert response.id.startswith("resp_"), response.id
    assert response.status == "completed"
    assert response.output_text == "Hello from the mock backend."
    assert response.model == MODEL
    assert response.error is None
    assert response.incomplete_details is None
    assert len(response.output) == 1
    message = response.output[0]
    assert message.type == "message"
    assert message.id.startswith("msg_"), message.id
    assert message.role == "assistant"
    assert message.status == "completed"
    assert message.content[0].type == "output_text"
    assert message.content[0].annotations == []
    assert response.usage is not None
    assert response.usage.input_tokens == 12
    assert response.usage.output_tokens == 5
    assert response.usage.total_tokens == 17
    assert response.usage.input_tokens_details is not None
    assert response.usage.output_tokens_details is not None


def test_create_without_a_script_echoes_the_user_message_through_the_backend(client, mock):
    response = client.responses.create(model=MODEL, input="echo me please")

    assert response.status == "completed"
    assert response.output_text == "echo me please"
    request = mock.last_request()
    assert request["model"] == MODEL
    assert conversation(request)[-1] == ("user", "echo me please")


def test_create_sends_instructions_as_the_first_system_or_developer_message(client, mock):
    mock.script({"content": "ok"})

    response = client.responses.create(
        model=MODEL, instructions="Answer in French.", input="Hello"
    )

    assert response.instructions == "Answer in French."
    messages = conversation(mock.last_request())
    assert messages[0][0] in ("system", "developer"), messages
    assert messages[0][1] == "Answer in French."
    assert messages[-1] == ("user", "Hello")


# --- Responses: streaming -----------------------------------------------------


def test_stream_helper_yields_openai_event_grammar_and_final_response(client, mock):
    text = "Streaming works across several chunks."
    mock.script({"content": text, "chunk_chars": 5})

    with client.responses.stream(model=MODEL, input="stream please") as stream:
        events = list(stream)
        final = stream.get_final_response()

    types = event_types(events)
    assert types[0] == "response.created", types
    assert types[1] == "response.in_progress", types
    assert types[-1] == "response.completed", types
    assert_sequence_numbers_dense(events)

    created = events[0].response
    assert created.output == []
    assert created.status == "in_progress"
    assert created.id.startswith("resp_")
    lifecycle = [e for e in events if e.type in ("response.created", "response.in_progress", "response.completed")]
    assert {e.response.id for e in lifecycle} == {created.id}

    added = [e for e in events if e.type == "response.output_item.added"]
    assert len(added) == 1
    assert added[0].output_index == 0
    assert added[0].item.type == "message"
    assert added[0].item.content == []
    message_id = added[0].item.id
    assert message_id.startswith("msg_"), message_id

    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1, "a 38-character text in 5-character chunks should stream in pieces"
    assert "".join(d.delta for d in deltas) == text
    assert {d.item_id for d in deltas} == {message_id}

    expected_order = [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * len(deltas),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert types == expected_order

    text_done = next(e for e in events if e.type == "response.output_text.done")
    assert text_done.text == text
    item_done = next(e for e in events if e.type == "response.output_item.done")
    assert item_done.item.id == message_id
    assert item_done.item.status == "completed"

    assert final.id == created.id
    assert final.status == "completed"
    assert final.output_text == text
    assert final.usage is not None


def test_raw_streaming_create_yields_events_and_the_response_is_stored(client, mock):
    text = "raw stream text"
    mock.script({"content": text, "chunk_chars": 4})

    stream = client.responses.create(model=MODEL, input="raw", stream=True)
    events = list(stream)

    types = event_types(events)
    assert types[0] == "response.created", types
    assert types[-1] == "response.completed", types
    assert_sequence_numbers_dense(events)
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == text

    completed = events[-1].response
    assert completed.status == "completed"
    assert completed.output_text == text
    assert completed.usage is not None

    stored = client.responses.retrieve(completed.id)
    assert stored.status == "completed"
    assert stored.output_text == text


def test_streamed_function_call_emits_argument_deltas_and_a_final_function_call_item(client, mock):
    arguments = '{"city":"Paris","unit":"celsius"}'
    mock.script(
        {
            "tool_calls": [{"id": "call_stream_1", "name": "get_weather", "arguments": arguments}],
            "finish_reason": "tool_calls",
            "chunk_chars": 6,
        }
    )

    with client.responses.stream(
        model=MODEL, input="Weather in Paris?", tools=[WEATHER_TOOL]
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()

    types = event_types(events)
    assert types[0] == "response.created", types
    assert types[-1] == "response.completed", types
    assert_sequence_numbers_dense(events)

    added = [e for e in events if e.type == "response.output_item.added" and e.item.type == "function_call"]
    assert len(added) == 1, types
    assert added[0].item.arguments == ""
    assert added[0].item.name == "get_weather"
    item_id = added[0].item.id

    deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    assert deltas, types
    assert "".join(d.delta for d in deltas) == arguments
    assert {d.item_id for d in deltas} == {item_id}

    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(done) == 1
    assert done[0].arguments == arguments
    assert done[0].name == "get_weather"

    calls = [item for item in final.output if item.type == "function_call"]
    assert len(calls) == 1
    assert calls[0].id == item_id
    assert calls[0].call_id == "call_stream_1"
    assert calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris", "unit": "celsius"}
    assert calls[0].status == "completed"


def test_streamed_length_cutoff_ends_with_response_incomplete_not_completed(client, mock):
    mock.script({"content": "cut short", "finish_reason": "length"})

    stream = client.responses.create(
        model=MODEL, input="long answer", max_output_tokens=16, stream=True
    )
    events = list(stream)

    types = event_types(events)
    assert types[0] == "response.created", types
    assert types[-1] == "response.incomplete", types
    assert "response.completed" not in types
    assert_sequence_numbers_dense(events)
    last = events[-1].response
    assert last.status == "incomplete"
    assert last.incomplete_details is not None
    assert last.incomplete_details.reason == "max_output_tokens"


def test_backend_stream_breaking_midway_ends_with_response_failed_and_is_stored_failed(client, mock):
    mock.script({"content": "one two three four five six", "chunk_chars": 4, "fail_after_events": 3})

    stream = client.responses.create(model=MODEL, input="fail midway", stream=True)
    events = list(stream)

    types = event_types(events)
    assert types[0] == "response.created", types
    assert types[-1] == "response.failed", types
    assert "response.completed" not in types
    assert_sequence_numbers_dense(events)
    failed = events[-1].response
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code and failed.error.message

    stored = client.responses.retrieve(failed.id)
    assert stored.status == "failed"
    assert stored.error is not None


def test_reasoning_is_streamed_as_a_reasoning_item_before_the_message(client, mock):
    mock.script({"reasoning": "The user wants a greeting.", "content": "Hi there!"})

    with client.responses.stream(model=MODEL, input="greet me") as stream:
        events = list(stream)
        final = stream.get_final_response()

    assert_sequence_numbers_dense(events)
    added = [e.item.type for e in events if e.type == "response.output_item.added"]
    assert added == ["reasoning", "message"], added
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output[0].id
    assert final.output_text == "Hi there!"


# --- Responses: retrieve, delete, input items ---------------------------------


def test_retrieve_returns_the_same_response_object_as_create(client, mock):
    mock.script({"content": "stored answer", "usage": {"prompt_tokens": 3, "completion_tokens": 2}})

    created = client.responses.create(model=MODEL, input="store this", metadata={"k": "v"})
    retrieved = client.responses.retrieve(created.id)

    assert retrieved.model_dump() == created.model_dump()
    assert retrieved.output_text == "stored answer"


def test_deleted_response_cannot_be_retrieved(client, mock):
    mock.script({"content": "short-lived"})
    response = client.responses.create(model=MODEL, input="delete me")

    assert client.responses.delete(response.id) is None

    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.retrieve(response.id)
    assert raised.value.status_code == 404
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)


def test_retrieving_an_unknown_response_is_a_404_with_an_openai_error_body(client, mock):
    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.retrieve("resp_doesnotexist000000000000")
    body = raised.value.body
    assert isinstance(body, dict), body
    assert set(body) >= {"message", "type", "param", "code"}, body
    assert body["type"] == "invalid_request_error"


def test_input_items_list_newest_first_by_default_and_oldest_first_with_order_asc(client, mock):
    mock.script({"content": "noted"})
    response = client.responses.create(
        model=MODEL,
        input=[
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "user", "content": "third"},
        ],
    )

    default_page = client.responses.input_items.list(response.id)
    assert [item_text(item) for item in default_page.data] == ["third", "second", "first"]
    assert default_page.has_more is False
    for item in default_page.data:
        assert item.type == "message"
        assert item.role == "user"
        assert item.id
        assert item.content[0].type == "input_text"

    asc_page = client.responses.input_items.list(response.id, order="asc")
    assert [item_text(item) for item in asc_page.data] == ["first", "second", "third"]
    assert [item.id for item in asc_page.data] == [item.id for item in reversed(default_page.data)]


def test_input_items_paginate_one_at_a_time_following_after_until_has_more_is_false(client, mock):
    mock.script({"content": "noted"})
    response = client.responses.create(
        model=MODEL,
        input=[
            {"role": "user", "content": "alpha"},
            {"role": "user", "content": "beta"},
            {"role": "user", "content": "gamma"},
        ],
    )

    texts: List[str] = []
    page = client.responses.input_items.list(response.id, limit=1, order="asc")
    pages = 1
    while True:
        assert len(page.data) == 1, page
        texts.append(item_text(page.data[0]))
        if not page.has_more:
            break
        assert pages < 10, "has_more never became false"
        page = client.responses.input_items.list(
            response.id, limit=1, order="asc", after=page.data[-1].id
        )
        pages += 1

    assert texts == ["alpha", "beta", "gamma"]
    assert pages == 3

    # The SDK's own auto-pagination walks the same cursor.
    auto = [item_text(item) for item in client.responses.input_items.list(response.id, limit=1)]
    assert auto == ["gamma", "beta", "alpha"]


# --- Responses: previous_response_id chains -----------------------------------


def test_three_turn_previous_response_id_chain_sends_full_history_without_old_instructions(client, mock):
    mock.script({"content": "Hello Ada."}, {"content": "Four."}, {"content": "Your name is Ada."})

    first = client.responses.create(
        model=MODEL, instructions="Be terse.", input="My name is Ada."
    )
    second = client.responses.create(
        model=MODEL, previous_response_id=first.id, input="What is 2+2?"
    )
    third = client.responses.create(
        model=MODEL, previous_response_id=second.id, input="What is my name?"
    )

    assert second.previous_response_id == first.id
    assert third.previous_response_id == second.id
    assert second.instructions is None
    assert third.output_text == "Your name is Ada."

    requests = mock.requests()
    assert len(requests) == 3
    turn1, turn2, turn3 = (conversation(r) for r in requests)

    assert turn1[0] in (("system", "Be terse."), ("developer", "Be terse."))
    assert turn1[1:] == [("user", "My name is Ada.")]

    assert turn2 == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada."),
        ("user", "What is 2+2?"),
    ], "turn 2 must not inherit turn 1's instructions"

    assert turn3 == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada."),
        ("user", "What is 2+2?"),
        ("assistant", "Four."),
        ("user", "What is my name?"),
    ]


def test_new_instructions_on_a_chained_turn_replace_the_old_ones(client, mock):
    mock.script({"content": "A."}, {"content": "B."})
    first = client.responses.create(model=MODEL, instructions="Old rules.", input="q1")
    client.responses.create(
        model=MODEL, instructions="New rules.", previous_response_id=first.id, input="q2"
    )

    turn2 = conversation(mock.requests()[1])
    texts = [text for _, text in turn2]
    assert "Old rules." not in texts
    assert turn2[0] in (("system", "New rules."), ("developer", "New rules."))
    assert turn2[1:] == [("user", "q1"), ("assistant", "A."), ("user", "q2")]


def test_unknown_previous_response_id_is_a_400_previous_response_not_found(client, mock):
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(
            model=MODEL, input="hi", previous_response_id="resp_doesnotexist000000000000"
        )

    error = raised.value
    assert error.status_code == 400
    assert error.body["code"] == "previous_response_not_found"
    assert error.body["param"] == "previous_response_id"
    assert error.body["type"] == "invalid_request_error"
    assert error.code == "previous_response_not_found"
    assert mock.requests() == [], "Portico must not call the backend for an invalid request"


def test_compact_returns_the_user_messages_and_a_compaction_item_that_continues_the_conversation(client, mock):
    mock.script({"content": "The user likes the number 7."}, {"content": "7, as you said."})

    compacted = client.responses.compact(
        model=MODEL,
        input=[
            {"role": "user", "content": "My favourite number is 7."},
            {"role": "assistant", "content": "Noted."},
        ],
    )

    assert compacted.object == "response.compaction"
    assert compacted.id.startswith("resp_")
    assert [item.type for item in compacted.output] == ["message", "compaction"]
    assert compacted.output[0].role == "user"
    assert compacted.output[1].id.startswith("cmp_")
    assert compacted.usage.total_tokens > 0
    follow_up = client.responses.create(
        model=MODEL,
        # As OpenAI's docs say: the compacted output, as it is, is the next input.
        input=[*compacted.output, {"role": "user", "content": "What is my favourite number?"}],
    )
    assert follow_up.output_text == "7, as you said."
    sent = conversation(mock.last_request())
    assert sent[-2] == ("assistant", "Summary of the conversation so far:\nThe user likes the number 7."), sent


def test_store_false_responses_are_not_retrievable(client, mock):
    mock.script({"content": "ephemeral"})

    response = client.responses.create(model=MODEL, input="don't keep this", store=False)

    assert response.status == "completed"
    assert response.output_text == "ephemeral"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


# --- Responses: function calling ------------------------------------------------


def test_function_call_round_trip_replays_the_call_and_its_output_to_the_backend(client, mock):
    mock.script(
        {
            "tool_calls": [
                {"id": "call_weather_1", "name": "get_weather", "arguments": '{"city":"Paris"}'}
            ],
            "finish_reason": "tool_calls",
        },
        {"content": "It is 21 degrees in Paris."},
    )

    first = client.responses.create(
        model=MODEL, input="What's the weather in Paris?", tools=[WEATHER_TOOL]
    )

    assert first.status == "completed"
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1, first.output
    call = calls[0]
    assert call.call_id == "call_weather_1"
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.id and call.id.startswith("fc_"), call.id
    assert call.status == "completed"

    # Responses' flat tool definition reaches the backend in Chat's nested shape.
    tools = mock.requests()[0]["tools"]
    assert len(tools) == 1, tools
    assert tools[0]["type"] == "function", tools
    assert tools[0]["function"]["name"] == "get_weather", tools
    assert tools[0]["function"]["description"] == WEATHER_TOOL["description"], tools
    assert tools[0]["function"]["parameters"] == WEATHER_TOOL["parameters"], tools

    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[
            {"type": "function_call_output", "call_id": call.call_id, "output": '{"temp_c":21}'}
        ],
        tools=[WEATHER_TOOL],
    )

    assert second.status == "completed"
    assert second.output_text == "It is 21 degrees in Paris."

    messages = mock.requests()[1]["messages"]
    roles = [m["role"] for m in messages]
    assert roles == ["user", "assistant", "tool"], messages
    assert message_text(messages[0]) == "What's the weather in Paris?"
    assistant = messages[1]
    assert assistant["tool_calls"][0]["id"] == call.call_id
    assert assistant["tool_calls"][0]["type"] == "function"
    assert assistant["tool_calls"][0]["function"]["name"] == "get_weather"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    tool = messages[2]
    assert tool["tool_call_id"] == call.call_id
    assert message_text(tool) == '{"temp_c":21}'


# --- Responses: errors and limits -------------------------------------------------


def test_backend_failure_before_first_token_is_a_503_that_the_sdk_does_not_retry(retrying_client, mock):
    # Three failing scripts: if Portico let the SDK retry, each retry would fail
    # too and the request count below would show it.
    failure = {"error_status": 503, "error_message": "backend overloaded"}
    mock.script(failure, failure, failure)
    assert retrying_client.max_retries == 2

    with pytest.raises(openai.APIStatusError) as raised:
        retrying_client.responses.create(model=MODEL, input="will fail")

    error = raised.value
    assert error.status_code == 503
    assert error.response.headers.get("x-should-retry") == "false"
    assert isinstance(error.body, dict), error.body
    assert set(error.body) >= {"message", "type", "param", "code"}, error.body
    assert len(mock.requests()) == 1, "the SDK retried: Portico must answer x-should-retry: false"


def test_max_output_tokens_with_length_finish_is_incomplete_max_output_tokens(client, mock):
    mock.script({"content": "This answer was cut", "finish_reason": "length"})

    response = client.responses.create(model=MODEL, input="Write an essay.", max_output_tokens=16)

    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.max_output_tokens == 16
    assert response.output_text == "This answer was cut"
    assert response.output[0].status == "incomplete"
    request = mock.last_request()
    assert request.get("max_completion_tokens", request.get("max_tokens")) == 16, request


def test_hosted_web_search_tool_is_rejected_with_param_tools_0_type(client, mock):
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model=MODEL, input="search", tools=[{"type": "web_search"}])

    assert raised.value.body["param"] == "tools[0].type"
    assert raised.value.body["type"] == "invalid_request_error"
    assert mock.requests() == []


def test_unknown_body_parameter_is_rejected_with_code_unknown_parameter(client, mock):
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model=MODEL, input="hi", extra_body={"foo": 1})

    assert raised.value.body["code"] == "unknown_parameter"
    assert raised.value.body["param"] == "foo"
    assert mock.requests() == []


# --- Chat Completions ----------------------------------------------------------


def test_chat_completion_non_stream_passes_through(client, mock):
    mock.script({"content": "Bonjour !", "usage": {"prompt_tokens": 4, "completion_tokens": 3}})

    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hi in French."}]
    )

    assert completion.object == "chat.completion"
    assert completion.id
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == "Bonjour !"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 4
    assert completion.usage.completion_tokens == 3
    assert completion.usage.total_tokens == 7
    assert conversation(mock.last_request()) == [("user", "Say hi in French.")]


def test_chat_completion_stream_passes_through_with_role_once_and_usage_chunk(client, mock):
    text = "Streaming chat completion text."
    mock.script(
        {"content": text, "chunk_chars": 6, "usage": {"prompt_tokens": 5, "completion_tokens": 6}}
    )

    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "stream it"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert chunks, "no chunks"
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    with_choices = [c for c in chunks if c.choices]
    content = "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert content == text
    roles = [c.choices[0].delta.role for c in with_choices if c.choices[0].delta.role]
    assert roles == ["assistant"]
    finishes = [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason]
    assert finishes == ["stop"]
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1
    assert usage_chunks[0].choices == []
    assert usage_chunks[0].usage.prompt_tokens == 5
    assert usage_chunks[0].usage.completion_tokens == 6


def test_chat_completion_stream_helper_accumulates_the_final_message(client, mock):
    mock.script({"content": "helper text", "chunk_chars": 3})

    with client.chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()

    assert final.choices[0].message.role == "assistant"
    assert final.choices[0].message.content == "helper text"
    assert final.choices[0].finish_reason == "stop"


# --- Models ---------------------------------------------------------------------


def test_models_list_is_not_empty(client, mock):
    models = client.models.list()

    assert models.data, "no models listed"
    for model in models.data:
        assert model.object == "model"
        assert isinstance(model.id, str) and model.id
        assert isinstance(model.created, int)
        assert isinstance(model.owned_by, str)
