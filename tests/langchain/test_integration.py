"""LangChain's standard integration tests for ChatHuggingFaceSpace, replayed from cassettes.

The cassettes (``cassettes/test_integration/``) were recorded from a real
:class:`~langchain_hf_spaces.testing.LocalSpace` whose responder is :func:`keyed_responder`: it
answers the suite's questions by their content (a greeting for "Hello", two haikus for
"haikus", a tool call with the arguments the question names, a JSON object shaped by the
requested schema). A scripted answer stands in for the model, so every capability that the
plumbing decides (tool calling and tool choice, structured output, JSON mode, usage metadata,
streaming, async, batch) is declared on; what only model intelligence or a modality decides
is declared off, each with the reason next to it.

Two classes run the suite: one on an ``openai``-protocol Space (messages, tools and
``response_format`` go natively) and one on a ``tgi`` text Space (messages rendered with the
ChatML template, tools through the prompt protocol of :mod:`langchain_hf_spaces._tools`).

Re-record: ``.venv/bin/python -m pytest tests/langchain/test_integration.py -m vcr
--record-mode=rewrite``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.conftest import base_vcr_config
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from tests.conftest import REPLAY_URL, is_recording

pytestmark = pytest.mark.vcr

# ------------------------------------------------------------------ the scripted "model"
GREETING = "Hello! How are you today? I am a model served by a Hugging Face Space."
HAIKUS = (
    "Morning dew on leaves\nthe garden wakes without sound\nsunlight finds the stones\n\n"
    "River carries light\npast the quiet mill at dusk\nherons hold their breath"
)
STORY = "Once upon a time a small grey cat found a warm window and stayed there all winter."
STRING_VALUES = {
    "setup": "Why did the cat sit on the computer?",
    "punchline": "To keep an eye on the mouse.",
    "location": "San Francisco, CA",
    "answer_style": "pirate",
}
_QUOTED = re.compile(r"'([^']+)'")
_INT = re.compile(r"-?\d+")
_TURN = re.compile(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>", re.DOTALL)


def _value(name: str, spec: Mapping[str, Any], text: str, numbers: list[int]) -> Any:
    kind = spec.get("type")
    if kind is None and isinstance(spec.get("anyOf"), list):  # Optional[...] in a JSON schema
        kind = next((o.get("type") for o in spec["anyOf"] if o.get("type") != "null"), None)
    if kind in ("integer", "number"):
        return numbers.pop(0) if numbers else 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if name in STRING_VALUES:
        return STRING_VALUES[name]
    quoted = _QUOTED.search(text)
    return quoted.group(1) if quoted else f"example {name}"


def _object_for(schema: Mapping[str, Any], text: str) -> dict[str, Any]:
    """An object matching ``schema``, with numbers and quoted names taken from ``text``."""
    numbers = [int(n) for n in _INT.findall(text)]
    props = schema.get("properties") or {}
    return {name: _value(name, spec, text, numbers) for name, spec in props.items()}


def _pick_tool(tools: list[dict[str, Any]], choice: Any, text: str) -> dict[str, Any] | None:
    if choice == "none" or not tools:
        return None
    if isinstance(choice, Mapping):
        choice = choice.get("function", {}).get("name")
    by_name = {t["name"]: t for t in tools}
    if isinstance(choice, str) and choice in by_name:
        return by_name[choice]
    lowered = text.lower()
    for tool in tools:  # a tool named in the question, or sharing a word with it
        if tool["name"].lower() in lowered:
            return tool
    for tool in tools:
        if any(len(w) > 3 and w in lowered for w in tool["name"].lower().split("_")):
            return tool
    return tools[0] if choice in ("required", "any") else None


def _answer(
    turns: list[tuple[str, str]],
    tools: list[dict[str, Any]],
    choice: Any,
    schema: Mapping[str, Any] | None,
    json_wanted: bool,
) -> str | dict[str, Any]:
    role, text = turns[-1] if turns else ("user", "")
    if role == "tool":
        return f"The tool answered: {text.strip().splitlines()[-1]}"
    tool = _pick_tool(tools, choice, text)
    if tool is not None:
        arguments = _object_for(tool.get("parameters") or {}, text)
        return {"tool_calls": [{"name": tool["name"], "arguments": arguments}]}
    if json_wanted:
        shape = schema or {"properties": {"setup": {}, "punchline": {}}}
        return json.dumps(_object_for(shape, text), ensure_ascii=False)
    lowered = text.lower()
    if "haiku" in lowered:
        return HAIKUS
    if "story" in lowered:
        return STORY
    return GREETING


def keyed_responder(prompt: str, parameters: dict[str, Any]) -> str | dict[str, Any]:
    """Answer the standard suite's questions by their content (openai and text Spaces alike)."""
    messages = parameters.get("messages")
    if isinstance(messages, list):  # openai protocol: everything arrives structured
        turns = [(m["role"], _content(m.get("content"))) for m in messages]
        tools = [t["function"] for t in parameters.get("tools") or []]
        choice = parameters.get("tool_choice")
        fmt = parameters.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
        return _answer(turns, tools, choice, schema, bool(fmt))
    # text protocol: read the ChatML prompt the chat model rendered
    turns = [(r, c) for r, c in _TURN.findall(prompt) if r != "system"]
    system = next((c for r, c in _TURN.findall(prompt) if r == "system"), "")
    tools, choice = [], "auto"
    section = re.search(r"<tools>\n(.*?)\n</tools>", system, re.DOTALL)
    if section:
        tools = [json.loads(line) for line in section.group(1).splitlines()]
        forced = re.search(r'You must call the tool "([^"]+)"', system)
        if forced:
            choice = forced.group(1)
        elif "You must call at least one tool" in system:
            choice = "required"
    fmt = re.search(r"conform to this JSON schema:\n(.*)", system)
    schema = json.loads(fmt.group(1)) if fmt else None
    answer = _answer(turns, tools, choice, schema, "# Output format" in system)
    if isinstance(answer, dict):
        return json.dumps(answer, ensure_ascii=False) + "<|im_end|>"
    return answer + "<|im_end|>"


def _content(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


# ------------------------------------------------------------------ plumbing
_URLS: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _spaces(request: pytest.FixtureRequest) -> Iterator[None]:
    """While recording, one real LocalSpace per protocol; while replaying, none."""
    if not is_recording(request):
        _URLS.update(openai=REPLAY_URL, tgi=REPLAY_URL)
        yield
        return
    from langchain_hf_spaces.testing import LocalSpace

    with (
        LocalSpace(name="openai", responder=keyed_responder) as chat_space,
        LocalSpace(name="tgi", responder=keyed_responder) as text_space,
    ):
        _URLS.update(openai=chat_space.url, tgi=text_space.url)
        yield


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    """langchain-tests' VCR config without its ``record_mode`` (the command line decides) and
    its ``tests/cassettes`` folder, under ours (token filtering, stable host, readable YAML,
    match on method/path/body)."""
    config = base_vcr_config()
    for key in ("record_mode", "cassette_library_dir", "path_transformer"):
        config.pop(key, None)
    headers = {h if isinstance(h, str) else h[0] for h in config.get("filter_headers", [])}
    config.update(vcr_config)
    config["filter_headers"] = sorted(headers | set(vcr_config["filter_headers"]))
    scrub = vcr_config["before_record_request"]

    def before_record_request(request: Any) -> Any:
        # tool_example_to_messages gives its tool calls random uuid4 ids: make them stable so
        # the few-shot request matches its recording (vcrpy filters a copy, on record and replay).
        request = scrub(request)
        if isinstance(request.body, bytes):
            request.body = _UUID.sub(b"00000000-0000-4000-8000-000000000000", request.body)
        return request

    config["before_record_request"] = before_record_request
    return config


class _SpaceIntegrationTests(ChatModelIntegrationTests):
    protocol = "openai"

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatHuggingFaceSpace

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "space_url": _URLS[self.protocol],
            "protocol": self.protocol,
            "revision": "acme/standard-7b",
        }

    # -- decided by the plumbing: on
    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    # -- off: decided by the model or its modality, not by this package
    @property
    def supports_image_inputs(self) -> bool:
        # Text-only: our LocalSpace model reads no images, and a text Space has no way to take
        # them (image blocks are rejected with SpaceInputError rather than dropped).
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False  # as above

    @property
    def supports_pdf_inputs(self) -> bool:
        return False  # as above: the Spaces we target are text models

    @property
    def supports_audio_inputs(self) -> bool:
        return False  # as above

    @property
    def supports_image_tool_message(self) -> bool:
        return False  # as above

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False  # as above

    @property
    def supports_anthropic_inputs(self) -> bool:
        # Anthropic-format content blocks (images, documents, tool_use with "input") ask the
        # model to read modalities a text Space has not got.
        return False

    @property
    def supports_model_override(self) -> bool:
        # One Space serves one model: there is no per-call "model=" to switch to; the model is
        # chosen by picking a tier (SpaceTierRouter).
        return False


class TestChatOnOpenAISpace(_SpaceIntegrationTests):
    """Native messages, tools, response_format, token usage and SSE streaming."""

    protocol = "openai"


class TestChatOnTextSpace(_SpaceIntegrationTests):
    """A text (TGI) Space: ChatML template, tools via the prompt protocol, SSE streaming."""

    protocol = "tgi"

    @property
    def returns_usage_metadata(self) -> bool:
        # TGI counts the reply's tokens but not the prompt's (no prefill count while streaming),
        # and UsageMetadata cannot say "unknown": no usage_metadata rather than a made-up 0.
        return False
