"""``HuggingFaceSpaceLLM``: a LlamaIndex LLM over :class:`~langchain_hf_spaces.SpaceClient`.

All HTTP, retries, waking and error mapping happen in the core client; this module only
translates between LlamaIndex's types and the core's (prompts, chat messages, answers).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

import httpx
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    TextBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, field_serializer
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._chat_templates import (
    DEFAULT_CHAT_TEMPLATE,
    ChatTemplate,
    MarkerCutter,
    chat_template,
    cut_at_markers,
)
from langchain_hf_spaces.client import SpaceAnswer, SpaceClient, StreamChunk
from langchain_hf_spaces.config import SpaceConfig, SpacesSettings
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceConfigError,
    SpaceInputError,
    SpacesDisabledError,
)

__all__ = ["HuggingFaceSpaceLLM"]

_F = TypeVar("_F", bound=Callable[..., Any])

# ChatML role names for LlamaIndex's roles (text Spaces) and OpenAI's (chat-native Spaces).
_ROLES: dict[str, str] = {
    MessageRole.SYSTEM.value: "system",
    MessageRole.DEVELOPER.value: "system",
    MessageRole.USER.value: "user",
    MessageRole.ASSISTANT.value: "assistant",
    MessageRole.MODEL.value: "assistant",
    MessageRole.CHATBOT.value: "assistant",
    MessageRole.TOOL.value: "tool",
    MessageRole.FUNCTION.value: "tool",
}


def _completion_callback(f: _F) -> _F:
    return cast("_F", llm_completion_callback()(f))


def _chat_callback(f: _F) -> _F:
    return cast("_F", llm_chat_callback()(f))


class HuggingFaceSpaceLLM(FunctionCallingLLM):
    """An LLM deployed on a Hugging Face Space, for LlamaIndex.

    ``pip install "langchain-hf-spaces[llama-index]"``

    Build it from a tier (settings from ``HF_SPACES_*`` variables / ``hf-spaces.toml``), from
    settings and a tier, or from one :class:`~langchain_hf_spaces.SpaceConfig`:

    .. code-block:: python

        from llama_index.core import Settings
        from langchain_hf_spaces import SpaceConfig
        from langchain_hf_spaces.testing import LocalSpace
        from llama_index_hf_spaces import HuggingFaceSpaceLLM

        with LocalSpace(name="base") as space:              # a real Space server on loopback
            llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url), max_new_tokens=24)
            print(llm.complete("Write a haiku about tea").text)
            for part in llm.stream_complete("Write a haiku about tea"):
                print(part.delta, end="")
            Settings.llm = llm                               # query engines, agents, ...

    Chat goes natively to chat Spaces (``protocol="openai"``) and, on text Spaces, through the
    shared chat templates (``chat_template="chatml"`` by default; the template's end-of-turn
    markers are sent as ``stop`` and the reply is cut there) or your ``messages_to_prompt``. Every
    answer carries the Space's metadata (tier, url, revision, protocol, latency, attempts,
    token counts) in ``raw`` and ``additional_kwargs``. Errors are the core's typed
    :class:`~langchain_hf_spaces.HFSpacesError` subclasses, unchanged.
    """

    tier: str = Field(
        default=C.DEFAULT_TIER,
        description="The tier of the Space (base, company, abstraction, user, ...).",
        frozen=True,
    )
    space: SpaceConfig | None = Field(
        default=None,
        description=(
            "The Space's settings (URL, endpoint, revision, protocol, timeouts). Serialised "
            "without the token; a deserialised LLM reads it from token_env or HF_TOKEN."
        ),
        frozen=True,
    )
    enabled: bool = Field(
        default=True,
        description="The on/off switch; when false every call raises SpacesDisabledError.",
        frozen=True,
    )
    max_new_tokens: int | None = Field(
        default=None, description="Maximum number of tokens to generate.", gt=0
    )
    temperature: float | None = Field(
        default=None, description="Sampling temperature (None: the Space's default).", ge=0.0
    )
    top_p: float | None = Field(
        default=None, description="Nucleus sampling probability mass.", gt=0.0, le=1.0
    )
    top_k: int | None = Field(default=None, description="Top-k sampling.", gt=0)
    repetition_penalty: float | None = Field(
        default=None, description="Penalty for repeated tokens.", gt=0.0
    )
    stop: list[str] | None = Field(
        default=None, description="Sequences that end generation (the Space may cap how many)."
    )
    seed: int | None = Field(default=None, description="Random seed, for reproducible answers.")
    do_sample: bool | None = Field(default=None, description="Sample instead of greedy decoding.")
    chat_template: str = Field(
        default=DEFAULT_CHAT_TEMPLATE,
        description=(
            "How chat messages become one prompt on text Spaces: a preset (chatml, llama3, "
            "zephyr) or a Jinja2 template string. A messages_to_prompt callable overrides it."
        ),
        frozen=True,
    )
    end_of_turn: list[str] | None = Field(
        default=None,
        description=(
            "Markers that end the model's turn on text Spaces (sent as stop, and the reply is "
            "cut there); default: the chat template's own."
        ),
        frozen=True,
    )
    context_window: int | None = Field(
        default=None,
        description=(
            "Tokens the model can take in (prompt plus answer)."
            + f" None: the Space's /info where it reports it, else {DEFAULT_CONTEXT_WINDOW}."
        ),
        gt=0,
    )
    num_output: int | None = Field(
        default=None,
        description=(
            "Tokens reserved for the answer when LlamaIndex packs prompts."
            + " None: max_new_tokens, else the Space's /info, else "
            + f"{DEFAULT_NUM_OUTPUTS}."
        ),
        gt=0,
    )

    _client: SpaceClient | None = PrivateAttr(default=None)
    _space_limits: tuple[int | None, int | None] | None = PrivateAttr(default=None)
    _markers: tuple[str, ...] = PrivateAttr(default=())
    _metadata_cache: tuple[tuple[Any, ...], LLMMetadata] | None = PrivateAttr(default=None)

    def __init__(
        self,
        tier: str | None = None,
        *,
        settings: SpacesSettings | None = None,
        space: SpaceConfig | Mapping[str, Any] | None = None,
        client: SpaceClient | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        enabled = bool(kwargs.pop("enabled", True))
        sources = (("settings", settings), ("space", space), ("client", client))
        given = [name for name, value in sources if value is not None]
        if len(given) > 1:
            raise SpaceConfigError(
                f"pass one of settings, space or client, not {' and '.join(given)}.", tier=tier
            )
        if client is not None:
            config: SpaceConfig | None = client.config
            tier = client.tier if tier is None else tier
        elif space is not None:
            config = space if isinstance(space, SpaceConfig) else SpaceConfig(**dict(space))
            tier = C.DEFAULT_TIER if tier is None else tier
        else:
            settings = SpacesSettings.load() if settings is None else settings
            tier = settings.default_tier if tier is None else tier
            enabled = settings.enabled
            config = settings.space(tier) if enabled else settings.tiers.get(tier)
        custom_prompt = kwargs.get("messages_to_prompt") is not None
        super().__init__(tier=tier, space=config, enabled=enabled, **kwargs)
        if custom_prompt:
            self._markers = tuple(self.end_of_turn or ())
        else:
            template = chat_template(self.chat_template, end_of_turn=self.end_of_turn)
            self.messages_to_prompt = _TemplatePrompt(template)
            self._markers = template.end_of_turn
        if client is not None:
            self._client = client
        elif config is not None:
            self._client = SpaceClient(
                config,
                tier=self.tier,
                http_client=http_client,
                async_http_client=async_http_client,
            )

    @classmethod
    def class_name(cls) -> str:
        return "HuggingFaceSpaceLLM"

    @field_serializer("space")
    def _serialize_space(self, space: SpaceConfig | None) -> dict[str, Any] | None:
        # Never serialise the token: a restored LLM reads it from token_env / HF_TOKEN.
        return None if space is None else space.model_dump(mode="json", exclude={"token"})

    @property
    def metadata(self) -> LLMMetadata:
        # LlamaIndex reads this on every call (callback payloads): rebuild only on change.
        client = self._client
        key = (
            self.context_window,
            self.num_output,
            self.max_new_tokens,
            client is not None and client.is_chat_native,
        )
        cached = self._metadata_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        context_window, num_output = self.context_window, self.num_output or self.max_new_tokens
        if context_window is None or num_output is None:
            info_window, info_output = self._limits_from_space()
            context_window = context_window or info_window or DEFAULT_CONTEXT_WINDOW
            num_output = num_output or info_output or DEFAULT_NUM_OUTPUTS
        metadata = LLMMetadata(
            context_window=context_window,
            num_output=num_output,
            is_chat_model=key[3],
            is_function_calling_model=key[3],
            model_name=self._model_name(),
        )
        self._metadata_cache = (key, metadata)
        return metadata

    @property
    def client(self) -> SpaceClient:
        """The core :class:`~langchain_hf_spaces.SpaceClient` (raises when disabled)."""
        client = self._client
        if client is None or not self.enabled:
            raise SpacesDisabledError(
                "Hugging Face Spaces are disabled (enabled = false).",
                tier=self.tier,
                url=self.space.url if self.space is not None else None,
            )
        return client

    def close(self) -> None:
        """Close the pooled sync connections of this LLM's client."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Close every pooled connection of this LLM's client."""
        if self._client is not None:
            await self._client.aclose()

    # ------------------------------------------------------------------ sync

    @_completion_callback
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        client = self.client
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return _completion(client.complete(prompt, context=context, **params))

    @_completion_callback
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        client = self.client
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return _completion_stream(client.stream_chunks(prompt, context=context, **params))

    @_chat_callback
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self.client
        client.resolve_protocol()  # an `auto` Space may turn out to be chat-native
        tools = self._tool_args(client, kwargs)
        context, params = self._split(kwargs)
        if client.is_chat_native:
            native = self._native_messages(messages, context)
            return _chat(client.chat(native, **tools, **params), ())
        prompt, params, markers = self._chat_prompt(messages, params)
        return _chat(client.complete(prompt, context=context, **params), markers)

    @_chat_callback
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        client = self.client
        client.resolve_protocol()
        tools = self._tool_args(client, kwargs)
        context, params = self._split(kwargs)
        if client.is_chat_native:
            native = self._native_messages(messages, context)
            return _chat_stream(client.chat_stream_chunks(native, **tools, **params), ())
        prompt, params, markers = self._chat_prompt(messages, params)
        return _chat_stream(client.stream_chunks(prompt, context=context, **params), markers)

    # ----------------------------------------------------------------- async

    @_completion_callback
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        client = self.client
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return _completion(await client.acomplete(prompt, context=context, **params))

    @_completion_callback
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        client = self.client
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return _acompletion_stream(client.astream_chunks(prompt, context=context, **params))

    @_chat_callback
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self.client
        await client.aresolve_protocol()
        tools = self._tool_args(client, kwargs)
        context, params = self._split(kwargs)
        if client.is_chat_native:
            native = self._native_messages(messages, context)
            return _chat(await client.achat(native, **tools, **params), ())
        prompt, params, markers = self._chat_prompt(messages, params)
        return _chat(await client.acomplete(prompt, context=context, **params), markers)

    @_chat_callback
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        client = self.client
        await client.aresolve_protocol()
        tools = self._tool_args(client, kwargs)
        context, params = self._split(kwargs)
        if client.is_chat_native:
            native = self._native_messages(messages, context)
            return _achat_stream(client.achat_stream_chunks(native, **tools, **params), ())
        prompt, params, markers = self._chat_prompt(messages, params)
        chunks = client.astream_chunks(prompt, context=context, **params)
        return _achat_stream(chunks, markers)

    # ---------------------------------------------------------------- helpers (no I/O)

    def _split(self, kwargs: dict[str, Any]) -> tuple[Mapping[str, Any] | None, dict[str, Any]]:
        """The ``context`` kwarg, and this LLM's parameters with the call's on top."""
        params: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
            "stop": self.stop,
            "seed": self.seed,
            "do_sample": self.do_sample,
        }
        context = kwargs.pop("context", None)
        for key in _TOOL_KWARGS:
            kwargs.pop(key, None)  # taken by _tool_args; only native chat sends them
        if "max_tokens" in kwargs:  # LlamaIndex's (and OpenAI's) name for it
            params["max_new_tokens"] = kwargs.pop("max_tokens")
        params.update(kwargs)
        return context, params

    def _chat_prompt(
        self, messages: Sequence[ChatMessage], params: dict[str, Any]
    ) -> tuple[str, dict[str, Any], tuple[str, ...]]:
        """The prompt for a text Space, the parameters with the end-of-turn markers added to
        ``stop``, and the markers at which the reply is cut."""
        _check_text_only(messages, self.tier, self.space)
        render = self.messages_to_prompt or _TemplatePrompt(chat_template(DEFAULT_CHAT_TEMPLATE))
        prompt = render(messages)
        stop = params.get("stop")
        user_stops = [stop] if isinstance(stop, str) else list(stop or [])
        markers = tuple(dict.fromkeys([*self._markers, *user_stops]))
        if markers:
            params["stop"] = list(markers)
        return prompt, params, markers

    def _native_messages(
        self, messages: Sequence[ChatMessage], context: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        if context is not None:
            raise SpaceInputError(
                "context= is not supported for chat on a chat-native Space; put the data in a "
                "message instead.",
                tier=self.tier,
                url=self.space.url if self.space is not None else None,
            )
        _check_text_only(messages, self.tier, self.space)
        out: list[dict[str, Any]] = []
        for message in messages:
            role = message.role.value
            entry: dict[str, Any] = {
                "role": role if role in ("system", "user", "assistant", "tool") else _ROLES[role],
                "content": message.content or "",
            }
            for key in ("tool_call_id", "name"):
                if key in message.additional_kwargs:
                    entry[key] = message.additional_kwargs[key]
            calls = message.additional_kwargs.get("tool_calls")
            if calls:
                entry["tool_calls"] = [_openai_tool_call(c) for c in calls]
            out.append(entry)
        return out

    # ------------------------------------------------------------- function calling
    def _prepare_chat_with_tools(
        self,
        tools: Sequence[Any],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Messages plus OpenAI tool schemas, for native tool calling on ``openai`` Spaces."""
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        return {
            "messages": messages,
            "tools": [tool.metadata.to_openai_tool() for tool in tools] or None,
            "tool_choice": "required" if tool_required else "auto",
            **kwargs,
        }

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls of a chat answer from a native (``openai``) Space."""
        calls = response.message.additional_kwargs.get("tool_calls") or []
        if not calls and error_on_no_tool_call:
            raise ValueError(f"Expected at least one tool call, got: {response.message.content!r}")
        selections = []
        for call in calls:
            arguments = call.get("arguments")
            selections.append(
                ToolSelection(
                    tool_id=str(call.get("id", "")),
                    tool_name=str(call.get("name", "")),
                    tool_kwargs=arguments if isinstance(arguments, dict) else {},
                )
            )
        return selections

    def _tool_args(self, client: SpaceClient, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """``tools`` / ``tool_choice`` for a native chat call; refused on text Spaces."""
        tools = kwargs.get("tools")
        if not tools:
            return {}
        if not client.is_chat_native:
            raise SpaceInputError(
                "native tool calling needs an `openai`-protocol Space; on a text Space use "
                "ReActAgent, which asks for tools in the prompt.",
                tier=self.tier,
                url=self.space.url if self.space is not None else None,
            )
        return {"tools": tools, "tool_choice": kwargs.get("tool_choice")}

    def _model_name(self) -> str:
        if self.space is None:
            return f"hf-spaces:{self.tier}"
        if self.space.revision:
            return f"{self.space.url}@{self.space.revision}"
        return self.space.url

    def _limits_from_space(self) -> tuple[int | None, int | None]:
        """Context window and output budget from the Space's ``/info``, looked up once.

        Uses the core client's ``info()`` where it offers one; a failing lookup is not an
        error here (the defaults apply), since metadata must always be available.
        """
        if self._space_limits is None:
            limits: tuple[int | None, int | None] = (None, None)
            fetch = getattr(self._client, "info", None)
            if self.enabled and callable(fetch):
                with contextlib.suppress(HFSpacesError):
                    limits = limits_from_info(fetch())
            self._space_limits = limits
        return self._space_limits


def limits_from_info(info: Mapping[str, Any] | None) -> tuple[int | None, int | None]:
    """``(context_window, num_output)`` from a TGI-style ``/info`` body (None when absent)."""
    if not info:
        return None, None

    def positive(name: str) -> int | None:
        value = info.get(name)
        ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return cast(int, value) if ok else None

    total = positive("max_total_tokens")
    max_input = positive("max_input_tokens") or positive("max_input_length")
    output = total - max_input if total and max_input and total > max_input else None
    return total, output


class _TemplatePrompt:
    """``messages_to_prompt`` from a shared :class:`ChatTemplate` (ChatML by default)."""

    __slots__ = ("template",)

    def __init__(self, template: ChatTemplate) -> None:
        self.template = template

    def __call__(self, messages: Sequence[ChatMessage]) -> str:
        return self.template([_rendered(m) for m in messages])

    def __repr__(self) -> str:
        return f"<chat template {self.template.name}>"


def _rendered(message: ChatMessage) -> dict[str, str]:
    return {"role": _ROLES[message.role.value], "content": message.content or ""}


def _check_text_only(messages: Sequence[ChatMessage], tier: str, space: SpaceConfig | None) -> None:
    for message in messages:
        for block in message.blocks:
            if not isinstance(block, TextBlock):
                raise SpaceInputError(
                    f"a {message.role.value} message holds a {type(block).__name__}; this "
                    "Space takes text only.",
                    tier=tier,
                    url=space.url if space is not None else None,
                )


_METADATA_FIELDS = tuple(
    f.name for f in dataclasses.fields(SpaceAnswer) if f.name not in ("text", "tool_calls")
)


def _metadata(answer: SpaceAnswer) -> dict[str, Any]:
    """``answer.metadata`` without ``dataclasses.asdict``'s deep copies (the hot path)."""
    out: dict[str, Any] = {}
    for name in _METADATA_FIELDS:
        value = getattr(answer, name)
        if value is not None:
            out[name] = value
    return out


def _raw(answer: SpaceAnswer, metadata: dict[str, Any]) -> dict[str, Any]:
    raw = dict(metadata)
    if answer.prompt_tokens is not None or answer.completion_tokens is not None:
        usage = {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
        }
        raw["usage"] = {k: v for k, v in usage.items() if v is not None}
    return raw


def _completion(answer: SpaceAnswer) -> CompletionResponse:
    meta = _metadata(answer)
    return CompletionResponse(text=answer.text, raw=_raw(answer, meta), additional_kwargs=meta)


_TOOL_KWARGS = ("tools", "tool_choice")


def _openai_tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    """A tool call as the core reports it (``id``, ``name``, ``arguments``) in OpenAI's form."""
    if "function" in call:
        return dict(call)
    arguments = call.get("arguments", {})
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {
            "name": call.get("name"),
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        },
    }


def _chat(answer: SpaceAnswer, markers: tuple[str, ...]) -> ChatResponse:
    text = cut_at_markers(answer.text, markers)[0] if markers else answer.text
    extra: dict[str, Any] = {}
    if answer.tool_calls:
        extra["tool_calls"] = answer.tool_calls
    message = ChatMessage(role=MessageRole.ASSISTANT, content=text, additional_kwargs=extra)
    meta = _metadata(answer)
    return ChatResponse(message=message, raw=_raw(answer, meta), additional_kwargs=meta)


def _completion_chunk(text: str, delta: str, chunk: StreamChunk) -> CompletionResponse:
    answer = chunk.answer
    if answer is None:
        return CompletionResponse(text=text, delta=delta)
    meta = _metadata(answer)
    return CompletionResponse(
        text=text, delta=delta, raw=_raw(answer, meta), additional_kwargs=meta
    )


class _ChatStream:
    """Turns stream chunks into :class:`ChatResponse` objects, cutting at end-of-turn markers
    (a marker split across chunks is held back until it is clear it is not one)."""

    __slots__ = ("cutter", "text")

    def __init__(self, markers: tuple[str, ...]) -> None:
        self.cutter = MarkerCutter(markers)
        self.text = ""

    def response(self, chunk: StreamChunk) -> ChatResponse:
        answer = chunk.answer
        delta = self.cutter.feed(chunk.text)
        if answer is not None:
            delta += self.cutter.flush()
        return self._response(delta, answer)

    def rest(self) -> ChatResponse | None:
        """What was held back, when the stream breaks: it arrived, so the caller gets it."""
        delta = self.cutter.flush()
        return self._response(delta, None) if delta else None

    def _response(self, delta: str, answer: SpaceAnswer | None) -> ChatResponse:
        self.text += delta
        message = ChatMessage(role=MessageRole.ASSISTANT, content=self.text)
        if answer is None:
            return ChatResponse(message=message, delta=delta)
        if answer.tool_calls:
            message.additional_kwargs["tool_calls"] = answer.tool_calls
        meta = _metadata(answer)
        return ChatResponse(
            message=message, delta=delta, raw=_raw(answer, meta), additional_kwargs=meta
        )


def _completion_stream(chunks: Iterator[StreamChunk]) -> CompletionResponseGen:
    text = ""
    for chunk in chunks:
        text += chunk.text
        yield _completion_chunk(text, chunk.text, chunk)


async def _acompletion_stream(chunks: AsyncIterator[StreamChunk]) -> CompletionResponseAsyncGen:
    text = ""
    async for chunk in chunks:
        text += chunk.text
        yield _completion_chunk(text, chunk.text, chunk)


def _chat_stream(chunks: Iterator[StreamChunk], markers: tuple[str, ...]) -> ChatResponseGen:
    stream = _ChatStream(markers)
    try:
        for chunk in chunks:
            yield stream.response(chunk)
    except HFSpacesError:
        rest = stream.rest()
        if rest is not None:
            yield rest
        raise


async def _achat_stream(
    chunks: AsyncIterator[StreamChunk], markers: tuple[str, ...]
) -> ChatResponseAsyncGen:
    stream = _ChatStream(markers)
    try:
        async for chunk in chunks:
            yield stream.response(chunk)
    except HFSpacesError:
        rest = stream.rest()
        if rest is not None:
            yield rest
        raise
