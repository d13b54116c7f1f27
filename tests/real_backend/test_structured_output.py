"""Structured output in the four forms clients use, through Portico to a real
llama-cpp-python (which takes only `json_object` with a `schema`): the parsed
answer must validate against the schema that was asked for."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import jsonschema
import openai
from pydantic import BaseModel

from conftest import MODEL

SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "enum": ["yes", "no"]},
        "confidence": {"type": "integer", "enum": [1, 2, 3]},
    },
    "required": ["answer", "confidence"],
    "additionalProperties": False,
}


class Verdict(BaseModel):
    answer: Literal["yes", "no"]
    confidence: Literal[1, 2, 3]


def test_responses_text_format_json_schema(client: openai.OpenAI, tapped) -> None:
    response = client.responses.create(
        model=MODEL,
        input="Is the sky blue? Answer in JSON.",
        text={"format": {"type": "json_schema", "name": "verdict", "strict": True, "schema": SCHEMA}},
        temperature=0,
        max_output_tokens=60,
    )
    assert response.status == "completed", response
    jsonschema.validate(json.loads(response.output_text), SCHEMA)
    sent = tapped.chat_requests()[-1]
    assert sent["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_responses_parse_with_a_pydantic_model(client: openai.OpenAI) -> None:
    parsed = client.responses.parse(
        model=MODEL,
        input="Is water wet? Answer in JSON.",
        text_format=Verdict,
        temperature=0,
        max_output_tokens=60,
    )
    assert isinstance(parsed.output_parsed, Verdict), parsed
    jsonschema.validate(parsed.output_parsed.model_dump(), Verdict.model_json_schema())


def test_agents_sdk_output_type(async_client: openai.AsyncOpenAI) -> None:
    from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, set_tracing_disabled

    set_tracing_disabled(True)
    agent = Agent(
        name="judge",
        instructions="Answer the question as JSON.",
        model=OpenAIResponsesModel(model=MODEL, openai_client=async_client),
        model_settings=ModelSettings(temperature=0, max_tokens=60),
        output_type=Verdict,
    )
    result = asyncio.run(Runner.run(agent, "Is fire hot?", max_turns=2))
    assert isinstance(result.final_output, Verdict), result.final_output
    jsonschema.validate(result.final_output.model_dump(), Verdict.model_json_schema())


def test_chat_response_format_json_schema(client: openai.OpenAI, tapped) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Is snow cold? Answer in JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "verdict", "strict": True, "schema": SCHEMA}},
        temperature=0,
        max_tokens=60,
    )
    content = completion.choices[0].message.content
    jsonschema.validate(json.loads(content), SCHEMA)
    assert tapped.chat_requests()[-1]["response_format"]["type"] == "json_object"
    parsed = client.chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "Is snow cold? Answer in JSON."}],
        response_format=Verdict,
        temperature=0,
        max_tokens=60,
    )
    assert isinstance(parsed.choices[0].message.parsed, Verdict)
