"""Every Gradio major version (3.50, 4.44, 5.x, 6.x) by every common app shape, recorded.

The cassettes come from real Gradio servers of each version (``make cassettes-gradio``, see
``tests/support/record_gradio.py``), next to what that version's ``gradio_client`` answered
(``reference-<major>.json``). Each cell checks sync, async, stream and astream against the app's
known answer and against the reference; chat cells check history (as data where the app takes a
Chatbot input, else as a marked transcript) through the client, LangChain and LlamaIndex.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_hf_spaces import SpaceClient, SpaceConfig, SpaceInputError, SpaceResponseError
from tests.conftest import CASSETTES, REPLAY_URL, is_recording

pytestmark = [
    pytest.mark.vcr,
    pytest.mark.gradio_versions,
    pytest.mark.usefixtures("gradio_sessions"),
]

VERSIONS = {"3": "3.50.2", "4": "4.44.1", "5": "5.50.0", "6": "6.31.0"}
PROMPT = "hello world"
SHAPES: dict[str, str] = {
    # shape -> its answer to PROMPT (the apps are deterministic: tests/support/gradio_apps.py)
    "interface": "Gradio answer to: hello world",
    "stream": "Gradio answer to: hello world",
    "chat": "[0 earlier] You said: hello world",
    "chat_stream": "[0 earlier] You said: hello world",
    "chat_extra": "<Be brief.|t=0.7> [0 earlier] You said: hello world",
    "chat_multimodal": "[0 earlier] You said: hello world",
    "chat_thinking": "[0 earlier] You said: hello world",
    "blocks_two": "HELLO WORLD",
    "blocks_chat": "[0 earlier] You said: hello world #1",
}
SINCE = {"chat_multimodal": 4, "chat_thinking": 5}
STREAMING = {"stream", "chat_stream"}
API_NAMES = {"blocks_two": "/shout"}
ERROR = "the model ran out of memory"


MAJORS = [pytest.param(major, id=f"v{major}") for major in VERSIONS]


def cells(shapes: Any) -> list[Any]:
    return [
        pytest.param(major, shape, id=f"v{major}-{shape}")
        for major, shape in itertools.product(VERSIONS, shapes)
        if int(major) >= SINCE.get(shape, 3)
    ]


@pytest.fixture
def app(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``app(major, shape)`` -> the URL of that app: live while recording, else the replay URL."""

    def url(major: str, shape: str) -> str:
        if not is_recording(request):
            return REPLAY_URL
        servers = json.loads(Path(_servers_file()).read_text())
        assert servers["version"] == VERSIONS[major], "recording against the wrong version"
        return str(servers[shape])

    yield url


def _servers_file() -> str:
    import os

    path = os.environ.get("HF_SPACES_GRADIO_SERVERS")
    if not path:
        raise RuntimeError("record through `make cassettes-gradio` (it starts the servers)")
    return path


def reference(major: str, shape: str) -> dict[str, Any]:
    data = json.loads((CASSETTES / "test_gradio_versions" / f"reference-{major}.json").read_text())
    assert data["gradio"] == VERSIONS[major]
    answer: dict[str, Any] = data["answers"][shape]
    return answer


def reference_text(result: Any) -> str | None:
    """The answer text in what gradio_client returned (None where it gave a file path)."""
    if isinstance(result, str):
        return None if result.endswith(".json") else result
    if isinstance(result, list) and result and all(isinstance(m, dict) for m in result):
        texts = [m["content"] for m in result if not (m.get("metadata") or {}).get("title")]
        return "\n\n".join(texts)
    if isinstance(result, list) and len(result) == 2:  # ("", chatbot history) of blocks_chat
        history = result[1]
        if isinstance(history, list) and history:
            content = history[-1]["content"] if isinstance(history[-1], dict) else history[-1][1]
            if isinstance(content, list):
                return "".join(part["text"] for part in content)
            return str(content)
        return reference_text(history)
    return None


def client(url: str, shape: str, **cfg: Any) -> SpaceClient:
    options: dict[str, Any] = {"protocol": "gradio", "max_retries": 0, **cfg}
    if shape in API_NAMES:
        options["api_name"] = API_NAMES[shape]
    return SpaceClient(SpaceConfig(url=url, **options), tier="user")


@pytest.mark.parametrize(("major", "shape"), cells(SHAPES))
async def test_every_call_kind_gives_what_gradio_client_gives(
    app: Any, major: str, shape: str
) -> None:
    expected = SHAPES[shape]
    ref = reference_text(reference(major, shape).get("result"))
    if ref is not None:
        assert ref == expected, "gradio_client disagrees with the app's known answer"
    space = client(app(major, shape), shape)
    answer = space.complete(PROMPT)
    assert answer.text == expected and answer.protocol == "gradio"
    assert (await space.acomplete(PROMPT)).text == expected
    chunks = list(space.stream(PROMPT))
    assert "".join(chunks) == expected
    achunks = [c async for c in space.astream(PROMPT)]
    assert "".join(achunks) == expected
    if shape in STREAMING:
        assert len(chunks) > 1 and len(achunks) > 1, "a generator's answer arrives in pieces"
    if shape == "chat_thinking":
        assert answer.reasoning == "Thinking about hello world"
        assert answer.metadata["reasoning"] == "Thinking about hello world"
    await space.aclose()


@pytest.mark.parametrize("major", MAJORS)
async def test_a_gr_error_keeps_its_message(app: Any, major: str) -> None:
    assert ERROR in reference(major, "error")["error"]
    space = client(app(major, "error"), "error")
    with pytest.raises(SpaceResponseError, match=f"The Gradio app raised an error: {ERROR} Hint:"):
        space.complete(PROMPT)
    with pytest.raises(SpaceResponseError, match=ERROR):
        await space.acomplete(PROMPT)
    with pytest.raises(SpaceResponseError, match=ERROR):
        list(space.stream(PROMPT))
    await space.aclose()


@pytest.mark.parametrize("major", MAJORS)
def test_auto_recognises_the_app(app: Any, major: str) -> None:
    space = client(app(major, "interface"), "interface", protocol="auto")
    assert space.complete(PROMPT).text == SHAPES["interface"]
    assert space.protocol == "gradio"


@pytest.mark.parametrize("major", MAJORS)
def test_several_message_endpoints_need_an_api_name(app: Any, major: str) -> None:
    space = SpaceClient(SpaceConfig(url=app(major, "blocks_two"), protocol="gradio"))
    with pytest.raises(SpaceInputError, match=r"several APIs .*/summarize\(text\), /shout\(text\)"):
        space.complete(PROMPT)


CONVERSATION = [
    {"role": "system", "content": "Sys!"},
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "yo"},
    {"role": "user", "content": "again"},
]
TRANSCRIPT = "[Conversation so far]\nUser: hi\nAssistant: yo\n\n[Current message]\nagain"
CHATS = {
    # No history input: the earlier turns and the system prompt travel as a marked transcript.
    "chat": f"[0 earlier] You said: [System instructions]\nSys!\n\n{TRANSCRIPT}",
    # A "System prompt" input takes the system message.
    "chat_extra": f"<Sys!|t=0.7> [0 earlier] You said: {TRANSCRIPT}",
    # A Chatbot input takes the history as data: the app sees one earlier turn.
    "blocks_chat": (
        "[1 earlier (last: hi)] You said: [System instructions]\nSys!\n\n[Current message]\n"
        "again #1"
    ),
}


@pytest.mark.parametrize(("major", "shape"), cells(CHATS))
async def test_chat_passes_the_conversation(app: Any, major: str, shape: str) -> None:
    space = client(app(major, shape), shape)
    space.resolve_protocol()
    assert space.takes_messages and not space.is_chat_native
    assert space.chat(CONVERSATION).text == CHATS[shape]
    assert (await space.achat(CONVERSATION)).text == CHATS[shape]
    pieces = [c.text for c in space.chat_stream_chunks(CONVERSATION)]
    assert "".join(pieces) == CHATS[shape]
    await space.aclose()


@pytest.mark.parametrize("major", MAJORS)
async def test_langchain_chat_on_a_chat_interface(app: Any, major: str) -> None:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    from langchain_hf_spaces import ChatHuggingFaceSpace

    cfg = SpaceConfig(url=app(major, "chat"), protocol="gradio", max_retries=0)
    chat = ChatHuggingFaceSpace(space=cfg, tier="user")
    messages = [SystemMessage("Sys!"), HumanMessage("hi"), AIMessage("yo"), HumanMessage("again")]
    assert chat.invoke(messages).content == CHATS["chat"]
    streamed = "".join(str(c.content) for c in chat.stream(messages))
    assert streamed == CHATS["chat"]
    assert (await chat.ainvoke(messages)).content == CHATS["chat"]


@pytest.mark.parametrize("major", MAJORS)
async def test_llama_index_chat_on_a_chat_interface(app: Any, major: str) -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_hf_spaces import HuggingFaceSpaceLLM

    cfg = SpaceConfig(url=app(major, "chat"), protocol="gradio", max_retries=0)
    llm = HuggingFaceSpaceLLM(space=cfg, tier="user")
    messages = [
        ChatMessage(role="system", content="Sys!"),
        ChatMessage(role="user", content="hi"),
        ChatMessage(role="assistant", content="yo"),
        ChatMessage(role="user", content="again"),
    ]
    assert llm.chat(messages).message.content == CHATS["chat"]
    last = None
    for last in llm.stream_chat(messages):  # noqa: B007
        pass
    assert last is not None and last.message.content == CHATS["chat"]
    assert (await llm.achat(messages)).message.content == CHATS["chat"]
