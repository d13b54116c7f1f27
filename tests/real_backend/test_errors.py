"""Errors of a real llama-cpp-python, through Portico: a client's mistake is
OpenAI's 4xx naming the parameter, never a 502, and the server's Python
validation dump, traceback and file paths never reach the client."""

from __future__ import annotations

import openai
import pytest

from conftest import MODEL

LEAKS = ("Traceback", "File \"", "site-packages", ".py", "validation error", "'loc'")


def assert_clean(error: openai.APIStatusError) -> None:
    text = str(error.body) + error.message
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} reached the client: {text}"


def test_embeddings_of_a_chat_model_are_a_400_naming_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model=MODEL, input="hello")
    assert refused.value.body["param"] == "model"
    assert_clean(refused.value)


def test_a_parameter_the_server_refuses_is_a_400_naming_it(client: openai.OpenAI, direct: openai.OpenAI) -> None:
    # llama-cpp-python's own answer: a 500 with its validation dump and a file path.
    with pytest.raises(openai.InternalServerError) as raw:
        direct.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                       max_tokens=4, extra_body={"top_k": -1})
    assert "validation error" in str(raw.value.body)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                       max_tokens=4, extra_body={"top_k": -1})
    assert refused.value.body["param"] == "top_k"
    assert refused.value.body["type"] == "invalid_request_error"
    assert_clean(refused.value)


def test_a_prompt_over_the_context_is_openais_context_length_exceeded(client: openai.OpenAI) -> None:
    long_text = "word " * 6000
    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": long_text}], max_tokens=4)
    assert chat.value.body["code"] == "context_length_exceeded"
    assert chat.value.body["param"] == "messages"
    assert "maximum context length is 4096 tokens" in chat.value.message
    assert_clean(chat.value)
    with pytest.raises(openai.BadRequestError) as responses:
        client.responses.create(model=MODEL, input=long_text, max_output_tokens=16)
    assert responses.value.body["code"] == "context_length_exceeded"
    assert responses.value.body["param"] == "input"
    assert_clean(responses.value)
