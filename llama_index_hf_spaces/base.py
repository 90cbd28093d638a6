"""``HuggingFaceSpaceLLM``: a LlamaIndex LLM over :class:`~langchain_hf_spaces.SpaceClient`.

All HTTP, retries, waking and error mapping happen in the core client; this module only
translates between LlamaIndex's types and the core's (prompts, chat messages, answers).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from llama_index.core.types import PydanticProgramMode

from langchain_hf_spaces import _ab
from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._cache import ResponseCache
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
from langchain_hf_spaces._transport import HTTPPool
from langchain_hf_spaces.client import SpaceClient
from langchain_hf_spaces.config import SpaceConfig, SpacesSettings
from langchain_hf_spaces.errors import (
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
from llama_index_hf_spaces._fields import extra_arguments, limits_from_info
from llama_index_hf_spaces._tool_prompt import TextTools, native_tool_choice, text_tools

__all__ = ["HuggingFaceSpaceLLM", "limits_from_info"]

_F = TypeVar("_F", bound=Callable[..., Any])

_TOOL_KWARGS = ("tools", "tool_choice")

# Protocols whose Spaces complete text (chat goes through a chat template).
_TEXT_PROTOCOLS = frozenset({"generate", "tgi", "gradio"})

# Builds a copy's client once, when two threads first use the copy at the same time.
_CLIENT_LOCK = threading.Lock()
AB_KEY = "ab_key"


def _clients(
    config: SpaceConfig,
    tier: str,
    http_client: httpx.Client | None = None,
    async_http_client: httpx.AsyncClient | None = None,
    on_wait: Any = None,
    profile: str | None = None,
    cache: ResponseCache | None = None,
) -> tuple[SpaceClient, _ab.Split[SpaceClient] | None]:
    """The client of ``config``; for a tier with A/B variants, the first variant's and the
    split between all of them (on one connection pool)."""
    pool = HTTPPool(http_client, async_http_client)

    def make(cfg: SpaceConfig, variant: str | None = None) -> SpaceClient:
        return SpaceClient(
            cfg,
            tier=tier,
            on_wait=on_wait,
            profile=profile,
            variant=variant,
            cache=cache,
            _pool=pool,
        )

    split = _ab.Split.made(tier, config.variant_configs(), make)
    if split is None:
        return make(config), None
    return split.arms[0].item, split


@dataclass
class _Plan:
    """How one chat call goes out: natively (messages) or as a prompt on a text Space."""

    native: bool
    params: dict[str, Any]
    context: Mapping[str, Any] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    prompt: str = ""
    markers: tuple[str, ...] = ()
    tools: dict[str, Any] = field(default_factory=dict)
    text_tools: TextTools | None = None


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

    Tools work on every Space: natively on ``openai`` Spaces, and on text Spaces through the
    shared prompt protocol (:mod:`langchain_hf_spaces._tools`), so ``FunctionAgent`` runs on
    both. :attr:`metadata` never does I/O; :meth:`load_limits` / :meth:`aload_limits` ask the
    Space for its context window once. Copies (``copy.deepcopy``, ``pickle``, cloudpickle) work
    and build their own connections on first use. ``cache=MemoryCache()`` (or ``SQLiteCache``)
    answers repeated deterministic calls from the package's response cache.
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
            + " None: what load_limits() read from the Space's /info, else "
            + f"{DEFAULT_CONTEXT_WINDOW}."
        ),
        gt=0,
    )
    num_output: int | None = Field(
        default=None,
        description=(
            "Tokens reserved for the answer when LlamaIndex packs prompts."
            + " None: max_new_tokens, else what load_limits() read from the Space's /info, "
            + f"else {DEFAULT_NUM_OUTPUTS}."
        ),
        gt=0,
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Further generation parameters sent to the Space as they are (e.g. typical_p, "
            "watermark); a call's own keyword arguments go on top."
        ),
    )

    _client: SpaceClient | None = PrivateAttr(default=None)
    _ab_split: _ab.Split[SpaceClient] | None = PrivateAttr(default=None)
    _on_wait: Any = PrivateAttr(default=None)
    _profile: str | None = PrivateAttr(default=None)
    _cache: Any = PrivateAttr(default=None)
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
        cache: ResponseCache | None = None,
        **kwargs: Any,
    ) -> None:
        enabled = bool(kwargs.pop("enabled", True))
        model = kwargs.pop("model", None)
        profile: str | None = None
        if "max_tokens" in kwargs:  # LlamaIndex's (and OpenAI's) name for it
            kwargs.setdefault("max_new_tokens", kwargs.pop("max_tokens"))
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
            profile = settings.profile
        extra_arguments(
            kwargs, set(type(self).model_fields), tier=tier, url=config.url if config else None
        )
        if model is not None and config is not None:
            if client is not None and model != config.model:
                raise SpaceConfigError(
                    "model= cannot change the model of a given client; set it in the client's "
                    "SpaceConfig(model=...) instead.",
                    tier=tier,
                    url=config.url,
                )
            config = config.updated(model=model)  # the model name sent to an openai Space
        if (
            "pydantic_program_mode" not in kwargs
            and config is not None
            and config.protocol in _TEXT_PROTOCOLS
        ):
            # Small models on text Spaces follow "answer with this JSON" better than the tool
            # protocol: structured_predict asks for JSON in the prompt there.
            kwargs["pydantic_program_mode"] = PydanticProgramMode.LLM
        custom_prompt = kwargs.get("messages_to_prompt") is not None
        super().__init__(tier=tier, space=config, enabled=enabled, **kwargs)
        if custom_prompt:
            self._markers = tuple(self.end_of_turn or ())
        else:
            template = chat_template(self.chat_template, end_of_turn=self.end_of_turn)
            self.messages_to_prompt = TemplatePrompt(template)
            self._markers = template.end_of_turn
        self._profile = client.profile if client is not None else profile
        if client is not None and cache is not None:
            raise SpaceConfigError(
                "cache= cannot be added to a given client; build it with "
                "SpaceClient(config, cache=...) instead.",
                tier=self.tier,
            )
        self._cache = cache
        if client is not None:
            self._client = client
            self._on_wait = client.on_wait
        elif config is not None:
            self._client, self._ab_split = _clients(
                config,
                self.tier,
                http_client,
                async_http_client,
                profile=profile,
                cache=cache,
            )

    @classmethod
    def class_name(cls) -> str:
        return "HuggingFaceSpaceLLM"

    @field_serializer("space")
    def _serialize_space(self, space: SpaceConfig | None) -> dict[str, Any] | None:
        # Never serialise the token: a restored LLM reads it from token_env / HF_TOKEN.
        hidden: Any = {"token": True, "variants": {"__all__": {"token"}}}
        return None if space is None else space.model_dump(mode="json", exclude=hidden)

    # ------------------------------------------------------------------ copies

    def __getstate__(self) -> dict[str, Any]:
        """Fields and what was learnt (limits); never connections, which a copy builds anew
        on first use (``copy.deepcopy``, ``pickle``, cloudpickle, multiprocessing spawn)."""
        fields = dict(self.__dict__)
        if isinstance(fields.get("messages_to_prompt"), TemplatePrompt):
            fields["messages_to_prompt"] = None  # rebuilt from chat_template
        return {
            "__dict__": fields,
            "__pydantic_fields_set__": set(self.__pydantic_fields_set__),
            "__pydantic_extra__": self.__pydantic_extra__,
            "__pydantic_private__": {
                "_on_wait": self._on_wait,
                "_profile": self._profile,
                "_cache": self._cache,
                "_space_limits": self._space_limits,
                "_markers": self._markers,
            },
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        private = {
            "_client": None,
            "_ab_split": None,
            "_metadata_cache": None,
            "_cache": None,
            **state.get("__pydantic_private__", {}),
        }
        fields = dict(state["__dict__"])
        template = None
        if fields.get("messages_to_prompt") is None:
            template = chat_template(fields["chat_template"], end_of_turn=fields["end_of_turn"])
            fields["messages_to_prompt"] = TemplatePrompt(template)
        object.__setattr__(self, "__dict__", fields)
        object.__setattr__(self, "__pydantic_fields_set__", state["__pydantic_fields_set__"])
        object.__setattr__(self, "__pydantic_extra__", state.get("__pydantic_extra__"))
        object.__setattr__(self, "__pydantic_private__", private)

    def __copy__(self) -> HuggingFaceSpaceLLM:
        new = type(self).__new__(type(self))
        new.__setstate__(self.__getstate__())
        return new

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> HuggingFaceSpaceLLM:
        new = type(self).__new__(type(self))
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return new

    # ------------------------------------------------------------------ metadata

    @property
    def metadata(self) -> LLMMetadata:
        """What LlamaIndex needs to know, from fields only (no I/O, as ``OpenAILike``'s).

        Tools work on every Space (``is_function_calling_model``); ``is_chat_model`` is true for
        ``openai`` Spaces (and ``auto`` ones found to be). The limits are the fields, else
        what :meth:`load_limits` read, else LlamaIndex's defaults.
        """
        client = self._client
        chat = (client.is_chat_native if client is not None else False) or (
            self.space is not None and self.space.protocol == "openai"
        )
        limits = self._space_limits or (None, None)
        key = (self.context_window, self.num_output, self.max_new_tokens, chat, limits)
        cached = self._metadata_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        metadata = LLMMetadata(
            context_window=self.context_window or limits[0] or DEFAULT_CONTEXT_WINDOW,
            num_output=self.num_output or self.max_new_tokens or limits[1] or DEFAULT_NUM_OUTPUTS,
            is_chat_model=chat,
            is_function_calling_model=True,
            model_name=self._model_name(),
        )
        self._metadata_cache = (key, metadata)
        return metadata

    def load_limits(self) -> LLMMetadata:
        """Ask the Space for its context window and output budget (TGI's ``/info``), once;
        :attr:`metadata` uses them from then on. Returns the updated metadata.

        Raises the core's typed errors (a sleeping Space is waited for, as for any call).
        Spaces that do not describe their model leave LlamaIndex's defaults.
        """
        if self._space_limits is None:
            self._space_limits = limits_from_info(self.client.info())
        return self.metadata

    async def aload_limits(self) -> LLMMetadata:
        """Async :meth:`load_limits` (does not block the event loop)."""
        if self._space_limits is None:
            self._space_limits = limits_from_info(await self.client.ainfo())
        return self.metadata

    @property
    def client(self) -> SpaceClient:
        """The core :class:`~langchain_hf_spaces.SpaceClient` (raises when disabled).

        A copy builds its own on first use, from :attr:`space` and :attr:`tier`."""
        client = self._client
        if client is None and self.space is not None and self.enabled:
            with _CLIENT_LOCK:
                client = self._client
                if client is None:
                    client, self._ab_split = _clients(
                        self.space,
                        self.tier,
                        on_wait=self._on_wait,
                        profile=self._profile,
                        cache=self._cache,
                    )
                    self._client = client
        if client is None or not self.enabled:
            raise SpacesDisabledError(
                "Hugging Face Spaces are disabled (enabled = false).",
                tier=self.tier,
                url=self._url,
            )
        return client

    def _pick(self, kwargs: dict[str, Any]) -> SpaceClient:
        """The client that answers this call (``ab_key`` is taken out of ``kwargs``): for a
        tier with A/B variants, the one ``ab_key`` lands on, or one at random by weight."""
        client = self.client
        key = _ab.check_key(kwargs.pop(AB_KEY, None), tier=self.tier)
        split = self._ab_split
        return client if split is None else split.pick(key).item

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
        client = self._pick(kwargs)
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return completion_response(client.complete(prompt, context=context, **params))

    @_completion_callback
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        client = self._pick(kwargs)
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return completion_stream(client.stream_chunks(prompt, context=context, **params))

    @_chat_callback
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self._pick(kwargs)
        client.resolve_protocol()  # an `auto` Space may turn out to be chat-native
        plan = self._plan(client, messages, kwargs)
        if plan.native:
            answer = client.chat(plan.messages, **plan.tools, **plan.params)
        else:
            answer = client.complete(plan.prompt, context=plan.context, **plan.params)
        return chat_response(answer, plan.markers, plan.text_tools)

    @_chat_callback
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        client = self._pick(kwargs)
        client.resolve_protocol()
        plan = self._plan(client, messages, kwargs)
        if plan.native:
            chunks = client.chat_stream_chunks(plan.messages, **plan.tools, **plan.params)
        else:
            chunks = client.stream_chunks(plan.prompt, context=plan.context, **plan.params)
        return chat_stream(chunks, plan.markers, plan.text_tools)

    # ----------------------------------------------------------------- async

    @_completion_callback
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        client = self._pick(kwargs)
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return completion_response(await client.acomplete(prompt, context=context, **params))

    @_completion_callback
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        client = self._pick(kwargs)
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        context, params = self._split(kwargs)
        return acompletion_stream(client.astream_chunks(prompt, context=context, **params))

    @_chat_callback
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self._pick(kwargs)
        await client.aresolve_protocol()
        plan = self._plan(client, messages, kwargs)
        if plan.native:
            answer = await client.achat(plan.messages, **plan.tools, **plan.params)
        else:
            answer = await client.acomplete(plan.prompt, context=plan.context, **plan.params)
        return chat_response(answer, plan.markers, plan.text_tools)

    @_chat_callback
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        client = self._pick(kwargs)
        await client.aresolve_protocol()
        plan = self._plan(client, messages, kwargs)
        if plan.native:
            chunks = client.achat_stream_chunks(plan.messages, **plan.tools, **plan.params)
        else:
            chunks = client.astream_chunks(plan.prompt, context=plan.context, **plan.params)
        return achat_stream(chunks, plan.markers, plan.text_tools)

    # ---------------------------------------------------------------- helpers (no I/O)

    def _split(self, kwargs: dict[str, Any]) -> tuple[Mapping[str, Any] | None, dict[str, Any]]:
        """The ``context`` kwarg, and this LLM's parameters with the call's on top."""
        params: dict[str, Any] = {name: getattr(self, name) for name in GENERATION_PARAMETERS}
        params["stop"] = self.stop
        params.update(self.additional_kwargs)
        context = kwargs.pop("context", None)
        for key in _TOOL_KWARGS:
            kwargs.pop(key, None)  # taken by _plan
        if "max_tokens" in kwargs:  # LlamaIndex's (and OpenAI's) name for it
            params["max_new_tokens"] = kwargs.pop("max_tokens")
        params.update(kwargs)
        return context, params

    def _plan(
        self, client: SpaceClient, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> _Plan:
        """Native messages (openai Spaces; Gradio chat apps without tools) or a prompt from the
        chat template, with the tools in the prompt protocol on text Spaces."""
        tools = kwargs.get("tools") or None
        tool_choice = kwargs.get("tool_choice")
        context, params = self._split(kwargs)
        if client.is_chat_native or (client.takes_messages and not tools):
            native: dict[str, Any] = {}
            if tools:
                native = {"tools": tools, "tool_choice": native_tool_choice(tools, tool_choice)}
            return _Plan(
                native=True,
                params=params,
                messages=self._native_messages(messages, context),
                tools=native,
            )
        check_text_only(messages, tier=self.tier, url=self._url)
        with_tools = text_tools(tools, tool_choice)
        if with_tools is not None:
            messages = with_tools.messages(messages)
        prompt, params, markers = self._chat_prompt(messages, params)
        return _Plan(
            native=False,
            params=params,
            context=context,
            prompt=prompt,
            markers=markers,
            text_tools=with_tools,
        )

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
        """Messages plus OpenAI tool schemas: sent natively to ``openai`` Spaces, described in
        the prompt (the shared tool protocol) on text Spaces."""
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        # A tool_choice of None (FunctionCallingProgram passes one) leaves tool_required's.
        tool_choice = kwargs.pop("tool_choice", None)
        if tool_choice is None:
            tool_choice = "required" if tool_required else "auto"
        return {
            "messages": messages,
            "tools": [tool.metadata.to_openai_tool() for tool in tools] or None,
            "tool_choice": tool_choice,
            **kwargs,
        }

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls of a chat answer (native, or parsed from a text Space's reply)."""
        return tool_selections(response, error_on_no_tool_call=error_on_no_tool_call)

    @property
    def _url(self) -> str | None:
        return self.space.url if self.space is not None else None

    def _model_name(self) -> str:
        if self.space is None:
            return f"hf-spaces:{self.tier}"
        if self.space.revision:
            return f"{self.space.url}@{self.space.revision}"
        return self.space.url
