"""Tool round trips through Portico to a real llama-cpp-python (which refuses
`content: null` beside `tool_calls` and honours only a named tool choice):
the call comes back, its result reaches the server's next turn."""

from __future__ import annotations

import json

import openai

from conftest import MODEL

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
RESULT = "18 C and sunny"


def test_chat_tool_round_trip(client: openai.OpenAI, tapped) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], tool_choice="required",
        temperature=0, max_tokens=40,
    )
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] in ("Paris", "Oslo")
    # One tool and "required": sent as the named choice llama-cpp-python honours.
    assert tapped.chat_requests()[-1]["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    messages.append(first.choices[0].message.model_dump(exclude_none=False))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": RESULT})
    assert messages[1]["content"] is None, "the SDK sends the call back with content null"
    second = client.chat.completions.create(model=MODEL, messages=messages, temperature=0, max_tokens=12)
    assert second.choices[0].message.content is not None
    sent = tapped.chat_requests()[-1]["messages"]
    assert sent[1]["content"] == "" and sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": RESULT}


def test_responses_tool_round_trip(client: openai.OpenAI, tapped) -> None:
    tool = {"type": "function", "name": "get_weather", "description": "The weather in a city",
            "parameters": WEATHER["function"]["parameters"], "strict": True}
    first = client.responses.create(
        model=MODEL, input="What is the weather in Oslo?", tools=[tool],
        tool_choice={"type": "function", "name": "get_weather"}, temperature=0, max_output_tokens=40,
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1, first.output
    second = client.responses.create(
        model=MODEL, previous_response_id=first.id, tools=[tool], temperature=0, max_output_tokens=16,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": RESULT}],
    )
    assert second.status in ("completed", "incomplete"), second
    sent = tapped.chat_requests()[-1]["messages"]
    assistant = next(message for message in sent if message.get("tool_calls"))
    assert assistant["content"] == ""
    tool_message = next(message for message in sent if message["role"] == "tool")
    assert tool_message == {"role": "tool", "tool_call_id": calls[0].call_id, "content": RESULT}
