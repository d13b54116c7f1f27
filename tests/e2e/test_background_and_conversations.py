"""Background responses, cancel, resumable streams and the Conversations API,
driven end to end by the real openai-python SDK.

Background responses run in Portico's workers; the mock backend's `delay_ms`
(before answering) and `chunk_delay_ms` (between streamed pieces) keep them
running long enough to follow, resume or cancel them. The mock's
`/control/stats` counts the streams its client (Portico) walked away from,
which is how a cancel is seen to stop the backend request.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any, Callable, List, Optional

import openai
import pytest

MODEL = "e2e-model"

# How long a test waits for something a background worker does.
WAIT_S = 20.0
POLL_S = 0.05

UNFINISHED = ("queued", "in_progress")


# --- helpers -----------------------------------------------------------------


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Calls `condition` until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(POLL_S)


def poll_until_finished(client: openai.OpenAI, response_id: str) -> Any:
    """Polls `retrieve` (as OpenAI's background guide does) until the status is final."""
    seen: List[str] = []

    def finished() -> Any:
        response = client.responses.retrieve(response_id)
        seen.append(response.status)
        return response if response.status not in UNFINISHED else None

    final = wait_for(finished, f"{response_id} to finish")
    assert set(seen) <= {"queued", "in_progress", final.status}, seen
    return final


def mock_stats(mock: Any) -> dict:
    with urllib.request.urlopen(f"{mock.url}/control/stats", timeout=10) as answer:
        stats = json.loads(answer.read())
    assert set(stats) >= {"requests", "completed_streams", "disconnected_streams"}, stats
    return stats


def message_text(message: dict) -> Optional[str]:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def chat_history(request: dict) -> List[tuple]:
    """(role, text) for every message of a recorded chat completion request."""
    return [(m.get("role"), message_text(m)) for m in request["messages"]]


def item_text(item: Any) -> str:
    return "".join(getattr(part, "text", "") or "" for part in item.content)


def role_and_text(items: List[Any]) -> List[tuple]:
    return [(item.role, item_text(item)) for item in items]


def dumps(events: List[Any]) -> List[dict]:
    return [event.model_dump() for event in events]


def item_id_of(event: Any) -> Optional[str]:
    """The output item an event is about, if any."""
    item = getattr(event, "item", None)
    if item is not None:
        return item.id
    return getattr(event, "item_id", None)


def assert_sequence_numbers_dense(events: List[Any]) -> None:
    numbers = [event.sequence_number for event in events]
    assert numbers == list(range(len(events))), numbers


def assert_is_a_full_background_stream(events: List[Any], response_id: str, text: str) -> None:
    types = [event.type for event in events]
    assert types[:3] == ["response.created", "response.queued", "response.in_progress"], types
    assert types[-1] == "response.completed", types
    assert_sequence_numbers_dense(events)
    lifecycle = [e for e in events if e.type.startswith("response.") and hasattr(e, "response")]
    assert {e.response.id for e in lifecycle} == {response_id}
    assert events[0].response.id == response_id
    assert events[0].response.status == "queued", events[0].response.status
    assert events[0].response.background is True
    assert events[0].response.output == []
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == text
    assert events[-1].response.output_text == text


def cancel_quietly(client: openai.OpenAI, response_id: str) -> None:
    """Test clean-up: stop a background response a test left running."""
    try:
        client.responses.cancel(response_id)
    except openai.APIError:
        pass


# --- background create and poll ---------------------------------------------


def test_background_create_answers_queued_at_once_and_polling_retrieve_reaches_completed(client, mock):
    text = "The background worker wrote this."
    mock.script({"content": text, "usage": {"prompt_tokens": 7, "completion_tokens": 6}})

    created = client.responses.create(model=MODEL, input="Work on this later.", background=True)

    assert created.object == "response"
    assert created.id.startswith("resp_"), created.id
    assert created.status == "queued"
    assert created.background is True
    assert created.output == []
    assert created.usage is None
    assert created.completed_at is None

    final = poll_until_finished(client, created.id)

    assert final.id == created.id
    assert final.status == "completed"
    assert final.background is True
    assert final.output_text == text
    assert final.error is None
    assert final.usage is not None
    assert final.usage.input_tokens == 7
    assert final.usage.output_tokens == 6
    assert final.completed_at is not None
    assert chat_history(mock.last_request())[-1] == ("user", "Work on this later.")


def test_polling_a_slow_background_response_shows_in_progress_with_partial_output(client, mock):
    text = "one two three four five six seven eight nine ten"
    mock.script({"content": text, "chunk_chars": 4, "chunk_delay_ms": 60})

    created = client.responses.create(model=MODEL, input="slowly", background=True)

    def partial() -> Any:
        response = client.responses.retrieve(created.id)
        if response.status == "in_progress" and response.output and item_text(response.output[0]):
            return response
        assert response.status in UNFINISHED, response.status
        return None

    running = wait_for(partial, "partial output while in progress")
    assert running.output[0].type == "message"
    assert text.startswith(item_text(running.output[0]))
    assert item_text(running.output[0]) != text

    final = poll_until_finished(client, created.id)
    assert final.status == "completed"
    assert final.output_text == text
    assert final.output[0].id == running.output[0].id


# --- resumable streams -------------------------------------------------------


def test_background_stream_resumed_with_retrieve_starting_after_replays_the_same_events(client, mock):
    text = "Resumable streams replay the very same events."
    mock.script({"content": text, "chunk_chars": 5})

    live = list(client.responses.create(model=MODEL, input="stream me", background=True, stream=True))
    response_id = live[0].response.id
    assert_is_a_full_background_stream(live, response_id, text)

    message_events = [e for e in live if e.type == "response.output_text.delta"]
    offsets = [2, message_events[len(message_events) // 2].sequence_number]
    for after in offsets:
        resumed = list(client.responses.retrieve(response_id, stream=True, starting_after=after))

        assert [e.sequence_number for e in resumed] == list(range(after + 1, len(live))), after
        assert [e.type for e in resumed] == [e.type for e in live[after + 1:]], after
        assert [item_id_of(e) for e in resumed] == [item_id_of(e) for e in live[after + 1:]], after
        assert dumps(resumed) == dumps(live[after + 1:]), after

    # Without starting_after the replay starts at response.created.
    replay = list(client.responses.retrieve(response_id, stream=True))
    assert dumps(replay) == dumps(live)


def test_stream_helper_with_response_id_and_starting_after_filters_a_full_replay(client, mock):
    text = "The helper replays from zero and filters."
    mock.script({"content": text, "chunk_chars": 6})

    live = list(client.responses.create(model=MODEL, input="helper", background=True, stream=True))
    response_id = live[0].response.id
    assert_is_a_full_background_stream(live, response_id, text)
    after = 3

    with client.responses.stream(response_id=response_id, starting_after=after) as stream:
        resumed = list(stream)
        final = stream.get_final_response()

    assert [e.sequence_number for e in resumed] == list(range(after + 1, len(live)))
    assert [e.type for e in resumed] == [e.type for e in live[after + 1:]]
    assert [item_id_of(e) for e in resumed] == [item_id_of(e) for e in live[after + 1:]]
    deltas = "".join(e.delta for e in live[: after + 1] if e.type == "response.output_text.delta")
    deltas += "".join(e.delta for e in resumed if e.type == "response.output_text.delta")
    assert deltas == text
    assert final.id == response_id
    assert final.status == "completed"
    assert final.output_text == text


def test_stream_helper_with_response_id_follows_a_background_response_that_is_still_running(client, mock):
    text = "followed while it was still being written"
    mock.script({"content": text, "chunk_chars": 4, "chunk_delay_ms": 40})

    created = client.responses.create(model=MODEL, input="follow me", background=True)

    with client.responses.stream(response_id=created.id) as stream:
        events = list(stream)
        final = stream.get_final_response()

    assert_is_a_full_background_stream(events, created.id, text)
    assert final.output_text == text
    assert client.responses.retrieve(created.id).status == "completed"


def test_two_concurrent_readers_of_a_running_background_stream_get_identical_events(client, mock):
    text = "Two readers, one stream, the same events for both."
    mock.script({"content": text, "chunk_chars": 3, "chunk_delay_ms": 60})

    created = client.responses.create(model=MODEL, input="share me", background=True)
    start = threading.Barrier(2)
    results: List[Any] = [None, None]
    statuses_at_start: List[str] = []

    def read(slot: int) -> None:
        try:
            start.wait(timeout=WAIT_S)
            if slot == 0:
                statuses_at_start.append(client.responses.retrieve(created.id).status)
            results[slot] = list(client.responses.retrieve(created.id, stream=True))
        except BaseException as error:  # reported by the main thread
            results[slot] = error

    readers = [threading.Thread(target=read, args=(slot,), daemon=True) for slot in (0, 1)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=WAIT_S * 2)
        assert not reader.is_alive(), "a reader never finished"

    for result in results:
        if isinstance(result, BaseException):
            raise result
    first, second = results
    assert statuses_at_start and statuses_at_start[0] in UNFINISHED, (
        f"the readers started after the response had ended ({statuses_at_start}): "
        "the test did not exercise live following"
    )
    assert_is_a_full_background_stream(first, created.id, text)
    assert dumps(first) == dumps(second)
    # A reader arriving after the end gets the same events from the log.
    assert dumps(list(client.responses.retrieve(created.id, stream=True))) == dumps(first)


def test_streaming_retrieve_of_a_foreground_response_is_a_400_with_param_stream(client, mock):
    mock.script({"content": "not in the background"})
    response = client.responses.create(model=MODEL, input="foreground")

    with pytest.raises(openai.BadRequestError) as raised:
        list(client.responses.retrieve(response.id, stream=True))

    assert raised.value.status_code == 400
    assert raised.value.body["param"] == "stream"
    assert raised.value.body["type"] == "invalid_request_error"


# --- cancel --------------------------------------------------------------------


def test_cancelling_a_running_background_response_stops_the_backend_stream_and_is_idempotent(client, mock):
    text = "x" * 400
    mock.script({"content": text, "chunk_chars": 2, "chunk_delay_ms": 50})
    before = mock_stats(mock)

    created = client.responses.create(model=MODEL, input="take your time", background=True)

    def streaming() -> Any:
        response = client.responses.retrieve(created.id)
        assert response.status in UNFINISHED, response.status
        if response.status == "in_progress" and response.output and item_text(response.output[0]):
            return response
        return None

    wait_for(streaming, "the backend stream to be under way")

    cancelled = client.responses.cancel(created.id)

    assert cancelled.id == created.id
    assert cancelled.object == "response"
    assert cancelled.status == "cancelled"
    assert cancelled.background is True

    after = wait_for(
        lambda: (
            lambda stats: stats
            if stats["disconnected_streams"] > before["disconnected_streams"]
            else None
        )(mock_stats(mock)),
        "the mock to see Portico close the backend stream",
        timeout=10,
    )
    assert after["disconnected_streams"] == before["disconnected_streams"] + 1, (before, after)
    assert after["completed_streams"] == before["completed_streams"], (before, after)

    again = client.responses.cancel(created.id)
    assert again.id == created.id
    assert again.status == "cancelled"

    stored = client.responses.retrieve(created.id)
    assert stored.status == "cancelled"
    assert len(stored.output_text) < len(text)
    # A finished stream replays and ends; it does not hang.
    replay = list(client.responses.retrieve(created.id, stream=True))
    assert replay[0].type == "response.created"
    assert_sequence_numbers_dense(replay)


def test_cancelling_a_foreground_response_is_a_400_bad_request(retrying_client, mock):
    mock.script({"content": "done in the foreground"})
    response = retrying_client.responses.create(model=MODEL, input="foreground")

    with pytest.raises(openai.BadRequestError) as raised:
        retrying_client.responses.cancel(response.id)

    error = raised.value
    assert error.status_code == 400
    assert isinstance(error.body, dict), error.body
    assert set(error.body) >= {"message", "type", "param", "code"}, error.body
    assert error.body["type"] == "invalid_request_error"
    assert retrying_client.responses.retrieve(response.id).status == "completed"


def test_cancelling_a_finished_background_response_is_a_400_bad_request(client, mock):
    mock.script({"content": "already done"})
    created = client.responses.create(model=MODEL, input="quick", background=True)
    assert poll_until_finished(client, created.id).status == "completed"

    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.cancel(created.id)

    assert raised.value.status_code == 400
    assert raised.value.body["type"] == "invalid_request_error"
    assert client.responses.retrieve(created.id).status == "completed"


def test_cancelling_an_unknown_response_is_a_404(client, mock):
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_doesnotexist000000000000")


# --- previous_response_id onto an unfinished response -------------------------


def test_chaining_onto_an_unfinished_background_response_is_a_400_on_previous_response_id(client, mock):
    mock.script({"content": "slow first turn", "delay_ms": 3000})
    first = client.responses.create(model=MODEL, input="first turn", background=True)
    try:
        with pytest.raises(openai.BadRequestError) as raised:
            client.responses.create(model=MODEL, input="second turn", previous_response_id=first.id)

        error = raised.value
        assert error.status_code == 400
        assert error.body["param"] == "previous_response_id"
        assert error.body["type"] == "invalid_request_error"
        assert error.param == "previous_response_id"
        histories = [chat_history(r) for r in mock.requests()]
        assert ("user", "second turn") not in [turn for history in histories for turn in history], (
            "Portico must not call the backend for the rejected turn"
        )
    finally:
        cancel_quietly(client, first.id)


# --- Conversations -------------------------------------------------------------


INITIAL_ITEMS = [
    {"type": "message", "role": "user", "content": "My name is Ada."},
    {"type": "message", "role": "assistant", "content": "Hello Ada!"},
]


def new_conversation(client: openai.OpenAI, **metadata: str) -> Any:
    conversation = client.conversations.create(
        items=INITIAL_ITEMS, metadata=metadata or {"topic": "names"}
    )
    assert conversation.id.startswith("conv_"), conversation.id
    return conversation


def test_conversation_create_retrieve_and_update_metadata(client, mock):
    conversation = client.conversations.create(items=INITIAL_ITEMS, metadata={"topic": "names"})

    assert conversation.id.startswith("conv_"), conversation.id
    assert conversation.object == "conversation"
    assert isinstance(conversation.created_at, int)
    assert conversation.metadata == {"topic": "names"}

    retrieved = client.conversations.retrieve(conversation.id)
    assert retrieved.model_dump() == conversation.model_dump()

    updated = client.conversations.update(conversation.id, metadata={"topic": "math", "lang": "en"})
    assert updated.id == conversation.id
    assert updated.object == "conversation"
    assert updated.metadata == {"topic": "math", "lang": "en"}
    assert updated.created_at == conversation.created_at
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "math", "lang": "en"}

    initial = client.conversations.items.list(conversation.id, order="asc")
    assert role_and_text(initial.data) == [("user", "My name is Ada."), ("assistant", "Hello Ada!")]
    for item in initial.data:
        assert item.type == "message"
        assert item.id
        assert item.status == "completed"
    assert initial.data[0].content[0].type == "input_text"
    assert mock.requests() == [], "creating a conversation must not call the backend"


def test_conversation_turn_sends_items_as_history_and_appends_its_input_and_output_in_order(client, mock):
    conversation = new_conversation(client)
    mock.script({"content": "Your name is Ada."})

    response = client.responses.create(
        model=MODEL, conversation=conversation.id, input="What is my name?"
    )

    assert response.status == "completed"
    assert response.output_text == "Your name is Ada."
    assert response.conversation is not None
    assert response.conversation.id == conversation.id
    assert response.previous_response_id is None

    assert chat_history(mock.last_request()) == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada!"),
        ("user", "What is my name?"),
    ]

    expected = [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada!"),
        ("user", "What is my name?"),
        ("assistant", "Your name is Ada."),
    ]
    ascending = client.conversations.items.list(conversation.id, order="asc")
    assert role_and_text(ascending.data) == expected
    assert ascending.has_more is False
    ids = [item.id for item in ascending.data]
    assert len(set(ids)) == 4, ids
    assert ascending.first_id == ids[0]
    assert ascending.last_id == ids[-1]
    assert ids[-1] == response.output[0].id, "the output item keeps its id in the conversation"
    assert ascending.data[2].content[0].type == "input_text"
    assert ascending.data[3].content[0].type == "output_text"

    descending = client.conversations.items.list(conversation.id)
    assert role_and_text(descending.data) == list(reversed(expected))
    assert [item.id for item in descending.data] == list(reversed(ids))


def test_conversation_items_paginate_with_limit_and_after(client, mock):
    conversation = new_conversation(client)
    mock.script({"content": "Answer one."})
    client.responses.create(model=MODEL, conversation=conversation.id, input="Question one.")

    everything = [item.id for item in client.conversations.items.list(conversation.id, order="asc").data]
    assert len(everything) == 4

    pages: List[List[str]] = []
    page = client.conversations.items.list(conversation.id, order="asc", limit=3)
    while True:
        pages.append([item.id for item in page.data])
        if not page.has_more:
            break
        assert len(pages) < 10, "has_more never became false"
        assert page.last_id == page.data[-1].id
        page = client.conversations.items.list(
            conversation.id, order="asc", limit=3, after=page.last_id
        )
    assert [len(p) for p in pages] == [3, 1], pages
    assert [i for p in pages for i in p] == everything

    # The SDK's auto-pagination follows last_id, newest first by default.
    auto = [item.id for item in client.conversations.items.list(conversation.id, limit=1)]
    assert auto == list(reversed(everything))


def test_second_conversation_turn_sees_the_first_turn_as_history(client, mock):
    conversation = new_conversation(client)
    mock.script({"content": "Four."}, {"content": "You asked about 2+2."})

    client.responses.create(model=MODEL, conversation=conversation.id, input="What is 2+2?")
    second = client.responses.create(
        model=MODEL, conversation={"id": conversation.id}, input="What did I ask?"
    )

    assert second.output_text == "You asked about 2+2."
    assert chat_history(mock.requests()[1]) == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada!"),
        ("user", "What is 2+2?"),
        ("assistant", "Four."),
        ("user", "What did I ask?"),
    ]
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert len(items) == 6
    assert role_and_text(items[-2:]) == [("user", "What did I ask?"), ("assistant", "You asked about 2+2.")]


def test_conversation_items_create_retrieve_and_delete(client, mock):
    conversation = new_conversation(client)

    added = client.conversations.items.create(
        conversation.id,
        items=[
            {"type": "message", "role": "user", "content": "Remember: blue."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And green."}]},
        ],
    )
    assert added.object == "list"
    assert role_and_text(added.data) == [("user", "Remember: blue."), ("user", "And green.")]
    assert all(item.id for item in added.data)

    listed = client.conversations.items.list(conversation.id, order="asc").data
    assert role_and_text(listed) == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada!"),
        ("user", "Remember: blue."),
        ("user", "And green."),
    ]

    target = listed[1]
    retrieved = client.conversations.items.retrieve(target.id, conversation_id=conversation.id)
    assert retrieved.model_dump() == target.model_dump()

    parent = client.conversations.items.delete(target.id, conversation_id=conversation.id)
    assert parent.object == "conversation"
    assert parent.id == conversation.id
    assert parent.metadata == conversation.metadata

    remaining = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.id for item in remaining] == [listed[0].id, listed[2].id, listed[3].id]
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(target.id, conversation_id=conversation.id)

    # The deleted item is no longer history for the next turn.
    mock.script({"content": "Blue and green."})
    client.responses.create(model=MODEL, conversation=conversation.id, input="Which colours?")
    assert chat_history(mock.last_request()) == [
        ("user", "My name is Ada."),
        ("user", "Remember: blue."),
        ("user", "And green."),
        ("user", "Which colours?"),
    ]


def test_deleted_conversation_cannot_be_retrieved(client, mock):
    conversation = new_conversation(client)

    deleted = client.conversations.delete(conversation.id)

    assert deleted.id == conversation.id
    assert deleted.object == "conversation.deleted"
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError) as raised:
        client.conversations.retrieve(conversation.id)
    assert raised.value.status_code == 404
    assert raised.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        client.conversations.delete(conversation.id)


def test_conversation_together_with_previous_response_id_is_a_400(client, mock):
    conversation = new_conversation(client)
    mock.script({"content": "earlier"})
    earlier = client.responses.create(model=MODEL, input="earlier turn")
    requests_before = len(mock.requests())

    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(
            model=MODEL,
            conversation=conversation.id,
            previous_response_id=earlier.id,
            input="both",
        )

    error = raised.value
    assert error.status_code == 400
    assert error.body["type"] == "invalid_request_error"
    assert error.body["param"] in ("conversation", "previous_response_id"), error.body
    assert len(mock.requests()) == requests_before, "Portico must not call the backend"
    assert len(client.conversations.items.list(conversation.id).data) == 2


def test_background_conversation_turn_appends_its_items_when_it_completes(client, mock):
    conversation = new_conversation(client)
    mock.script({"content": "Background reply.", "chunk_chars": 4, "chunk_delay_ms": 30})

    created = client.responses.create(
        model=MODEL, conversation=conversation.id, input="Reply in the background.", background=True
    )
    assert created.status == "queued"
    assert created.conversation is not None and created.conversation.id == conversation.id

    final = poll_until_finished(client, created.id)

    assert final.status == "completed"
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert role_and_text(items) == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada!"),
        ("user", "Reply in the background."),
        ("assistant", "Background reply."),
    ]
    assert items[-1].id == final.output[0].id
