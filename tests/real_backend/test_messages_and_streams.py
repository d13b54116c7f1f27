"""Messages llama-cpp-python refuses as sent (the `developer` role, text
parts), its token limit field, its one choice, and its streams (no `content`
in the first chunk, no usage chunk), through Portico."""

from __future__ import annotations

import openai
import pytest

from conftest import MODEL


def test_developer_role_and_text_parts(client: openai.OpenAI, tapped) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "developer", "content": "Answer in one word."},
            {"role": "system", "content": [{"type": "text", "text": "Be polite."}, {"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": [{"type": "text", "text": "Say hello."}]},
        ],
        temperature=0,
        max_tokens=8,
    )
    assert completion.choices[0].message.role == "assistant"
    sent = tapped.chat_requests()[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "Answer in one word."}
    assert sent[1] == {"role": "system", "content": "Be polite.\nBe brief."}
    response = client.responses.create(
        model=MODEL,
        input=[{"role": "developer", "content": "Answer in one word."},
               {"role": "user", "content": [{"type": "input_text", "text": "Say hello."}]}],
        max_output_tokens=16,
    )
    assert response.status in ("completed", "incomplete")


def test_max_completion_tokens_is_the_limit_the_server_reads(client: openai.OpenAI, tapped) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Tell me a long story."}],
        temperature=0, max_completion_tokens=5,
    )
    assert completion.usage.completion_tokens == 5
    assert completion.choices[0].finish_reason == "length"
    assert tapped.chat_requests()[-1]["max_tokens"] == 5


def test_several_choices_are_refused_naming_n(client: openai.OpenAI, tapped) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], n=2, max_tokens=4,
        )
    assert refused.value.status_code == 400
    assert refused.value.body["param"] == "n"
    assert tapped.chat_requests() == [], "not sent: the server would answer one choice"


def test_stream_opens_like_openais_and_ends_with_the_usage_asked_for(
    client: openai.OpenAI, direct: openai.OpenAI
) -> None:
    request = dict(model=MODEL, messages=[{"role": "user", "content": "Count to ten."}],
                   temperature=0, seed=42, max_tokens=8)
    chunks = list(client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True}))
    first = chunks[0].choices[0].delta
    assert first.role == "assistant" and first.content == "", chunks[0]
    pieces = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None, usage_chunk
    # llama-cpp-python streams a token a chunk and sent no usage: Portico counted them.
    assert usage_chunk.usage.completion_tokens == len(pieces) == 8
    # The server's own count of the same request, not streamed.
    whole = direct.chat.completions.create(**request)
    assert whole.usage.completion_tokens == usage_chunk.usage.completion_tokens
    assert abs(whole.usage.prompt_tokens - usage_chunk.usage.prompt_tokens) <= 4, (whole.usage, usage_chunk.usage)
    assert usage_chunk.usage.total_tokens == usage_chunk.usage.prompt_tokens + usage_chunk.usage.completion_tokens
    text = "".join(chunk.choices[0].delta.content for chunk in pieces)
    assert text == whole.choices[0].message.content
