"""``HuggingFaceSpaceLLM``: a LlamaIndex LLM over :class:`~langchain_hf_spaces.SpaceClient`.

All HTTP, retries, waking and error mapping happen in the core client; this module only
translates between LlamaIndex's types and the core's (prompts, chat messages, answers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
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
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, field_serializer
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._chat_templates import DEFAULT_CHAT_TEMPLATE, chat_template
from langchain_hf_spaces._params import (
    GENERATION_PARAMETERS,
    DoSample,
    MaxNewTokens,
    RepetitionPenalty,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopP,
)
from langchain_hf_spaces.client import SpaceClient
from langchain_hf_spaces.config import SpaceConfig, SpacesSettings
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceConfigError,
    SpaceInputError,
    SpacesDisabledError,
)
from llama_index_hf_spaces._convert import (
    TemplatePrompt,
    achat_stream,
    acompletion_stream,
    chat_response,
    chat_stream,
    check_text_only,
    completion_response,
    completion_stream,
    native_messages,
    tool_selections,
)

__all__ = ["HuggingFaceSpaceLLM"]

_F = TypeVar("_F", bound=Callable[..., Any])

_TOOL_KWARGS = ("tools", "tool_choice")


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
    # The generation parameters, with the bounds every entry point shares (_params).
    max_new_tokens: MaxNewTokens | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    top_k: TopK | None = None
    repetition_penalty: RepetitionPenalty | None = None
    stop: Stop | None = None
    seed: Seed | None = None
    do_sample: DoSample | None = None
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
            self.messages_to_prompt = TemplatePrompt(template)
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
                url=self._url,
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
        return completion_response(client.complete(prompt, context=context, **params))

    @_completion_callback
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        client = self.client
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return completion_stream(client.stream_chunks(prompt, context=context, **params))

    @_chat_callback
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self.client
        client.resolve_protocol()  # an `auto` Space may turn out to be chat-native
        tools = self._tool_args(client, kwargs)
        context, params = self._split(kwargs)
        if client.is_chat_native or client.takes_messages:
            # openai Spaces take messages natively; Gradio chat apps take the conversation
            native = self._native_messages(messages, context)
            return chat_response(client.chat(native, **tools, **params), ())
        prompt, params, markers = self._chat_prompt(messages, params)
        return chat_response(client.complete(prompt, context=context, **params), markers)

    @_chat_callback
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        client = self.client
        client.resolve_protocol()
        tools = self._tool_args(client, kwargs)
        context, params = self._split(kwargs)
        if client.is_chat_native or client.takes_messages:
            # openai Spaces take messages natively; Gradio chat apps take the conversation
            native = self._native_messages(messages, context)
            return chat_stream(client.chat_stream_chunks(native, **tools, **params), ())
        prompt, params, markers = self._chat_prompt(messages, params)
        return chat_stream(client.stream_chunks(prompt, context=context, **params), markers)

    # ----------------------------------------------------------------- async

    @_completion_callback
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        client = self.client
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return completion_response(await client.acomplete(prompt, context=context, **params))

    @_completion_callback
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        client = self.client
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return acompletion_stream(client.astream_chunks(prompt, context=context, **params))

    @_chat_callback
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self.client
        await client.aresolve_protocol()
        tools = self._tool_args(client, kwargs)
        context, params = self._split(kwargs)
        if client.is_chat_native or client.takes_messages:
            # openai Spaces take messages natively; Gradio chat apps take the conversation
            native = self._native_messages(messages, context)
            return chat_response(await client.achat(native, **tools, **params), ())
        prompt, params, markers = self._chat_prompt(messages, params)
        return chat_response(await client.acomplete(prompt, context=context, **params), markers)

    @_chat_callback
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        client = self.client
        await client.aresolve_protocol()
        tools = self._tool_args(client, kwargs)
        context, params = self._split(kwargs)
        if client.is_chat_native or client.takes_messages:
            # openai Spaces take messages natively; Gradio chat apps take the conversation
            native = self._native_messages(messages, context)
            return achat_stream(client.achat_stream_chunks(native, **tools, **params), ())
        prompt, params, markers = self._chat_prompt(messages, params)
        chunks = client.astream_chunks(prompt, context=context, **params)
        return achat_stream(chunks, markers)

    # ---------------------------------------------------------------- helpers (no I/O)

    def _split(self, kwargs: dict[str, Any]) -> tuple[Mapping[str, Any] | None, dict[str, Any]]:
        """The ``context`` kwarg, and this LLM's parameters with the call's on top."""
        params: dict[str, Any] = {name: getattr(self, name) for name in GENERATION_PARAMETERS}
        params["stop"] = self.stop
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
        check_text_only(messages, tier=self.tier, url=self._url)
        render = self.messages_to_prompt or TemplatePrompt(chat_template(DEFAULT_CHAT_TEMPLATE))
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
                url=self._url,
            )
        check_text_only(messages, tier=self.tier, url=self._url)
        return native_messages(messages)

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
        return tool_selections(response, error_on_no_tool_call=error_on_no_tool_call)

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
                url=self._url,
            )
        return {"tools": tools, "tool_choice": kwargs.get("tool_choice")}

    @property
    def _url(self) -> str | None:
        return self.space.url if self.space is not None else None

    def _model_name(self) -> str:
        if self.space is None:
            return f"hf-spaces:{self.tier}"
        if self.space.revision:
            return f"{self.space.url}@{self.space.revision}"
        return self.space.url

    def _limits_from_space(self) -> tuple[int | None, int | None]:
        """Context window and output budget from the Space's ``/info``, looked up once.

        A failing lookup is not an error here (the defaults apply), since metadata must always
        be available.
        """
        if self._space_limits is None:
            limits: tuple[int | None, int | None] = (None, None)
            if self.enabled and self._client is not None:
                with contextlib.suppress(HFSpacesError):
                    limits = limits_from_info(self._client.info())
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
