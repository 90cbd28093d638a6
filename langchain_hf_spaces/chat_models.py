"""``ChatHuggingFaceSpace``: a LangChain chat model backed by one Space (one tier).

Setup::

    pip install langchain-hf-spaces
    export HF_SPACES_BASE_URL=https://acme-base-llm.hf.space   # or hf-spaces.toml
    export HF_TOKEN=hf_...                                    # private Spaces only

Instantiate and invoke (offline, against a :class:`LocalSpace` with scripted answers)::

    from langchain_hf_spaces import ChatHuggingFaceSpace
    from langchain_hf_spaces.testing import LocalSpace, scripted_responder

    answers = ["Hello!", '{"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}']
    with LocalSpace(responder=scripted_responder(answers)) as space:
        chat = ChatHuggingFaceSpace(space_url=space.url)          # ChatML template by default
        print(chat.invoke("Hi there").content)                     # "Hello!"

        def add(a: int, b: int) -> int:
            "Add two integers."
            return a + b

        reply = chat.bind_tools([add]).invoke("What is 2 + 3?")
        print(reply.tool_calls)       # [{'name': 'add', 'args': {'a': 2, 'b': 3}, ...}]

Messages go natively to ``openai``-protocol Spaces (tools too); for text protocols they are
rendered with a chat template (``chat_template="chatml" | "llama3" | "zephyr"``, a Jinja2 string
or a callable) and the reply is cut at the template's end-of-turn marker. Tools on text Spaces
use the prompt protocol described in :mod:`langchain_hf_spaces._tools`.

Stream, async, structured output and token usage::

    for chunk in chat.stream("Tell me a story"):
        print(chunk.content, end="")
    await chat.ainvoke("Hi")
    chat.with_structured_output(MyPydanticModel).invoke("...")
    reply.usage_metadata    # when the Space reports token counts
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Literal, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel, LangSmithParams, ModelProfile
from langchain_core.language_models.base import LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    InvalidToolCall,
    ToolCall,
    convert_to_openai_messages,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompt_values import ChatPromptValue, PromptValue
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableLambda,
    RunnableMap,
    RunnablePassthrough,
)
from langchain_core.runnables.config import get_config_list
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, PrivateAttr, ValidationError, model_validator
from typing_extensions import Self

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._batch import Batch, agated, batch_scope, gated, model_batch
from langchain_hf_spaces._chat_templates import (
    DEFAULT_CHAT_TEMPLATE,
    ChatTemplate,
    MarkerCutter,
    chat_template,
    cut_at_markers,
)
from langchain_hf_spaces._lc_base import (
    LS_PROVIDER,
    VariationsRequest,
    _SpaceModelBase,
    aclose_stream,
    answer_info,
)
from langchain_hf_spaces._lc_messages import (
    native_tool_calls,
    parse_tool_reply,
    render_messages,
    usage_metadata,
)
from langchain_hf_spaces._limiter import DEFAULT_BATCH_MAX_CONCURRENCY
from langchain_hf_spaces._structured import StructuredParseError, extract_json
from langchain_hf_spaces._tools import (
    ToolCallDetector,
    ToolChoice,
    normalize_tool_choice,
    openai_tool_choice,
    tool_system_prompt,
)
from langchain_hf_spaces.client import SpaceAnswer, SpaceClient, StreamChunk
from langchain_hf_spaces.errors import SpaceInputError
from langchain_hf_spaces.runnables import SpaceVariationsRunnable, StructuredSpaceRunnable
from langchain_hf_spaces.schema import is_guide_schema, schema_to_model

__all__ = ["ChatHuggingFaceSpace"]

StructuredMethod = Literal["function_calling", "json_schema", "json_mode", "reask"]


@dataclass
class _Request:
    """One prepared chat call; built once, used by invoke, stream and their async twins."""

    native: bool
    params: dict[str, Any]
    cut_markers: tuple[str, ...]
    prompt: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    tool_names: list[str] = field(default_factory=list)
    parse_tools: bool = False
    """Text protocol with tools bound: the reply is parsed for tool calls."""
    chat_native: bool = False
    """The Space (the A/B variant chosen) takes OpenAI messages as they are."""


class _StreamAssembler:
    """Turns a Space's stream into LangChain chunks; shared by ``_stream`` and ``_astream``."""

    def __init__(self, model: ChatHuggingFaceSpace, req: _Request) -> None:
        self.model = model
        self.req = req
        self.cutter = MarkerCutter(req.cut_markers)
        self.answer: SpaceAnswer | None = None
        self.detector = ToolCallDetector()

    def feed(self, piece: StreamChunk) -> ChatGenerationChunk | None:
        if piece.answer is not None:
            self.answer = piece.answer
        text = self.cutter.feed(piece.text)
        if not text:
            return None
        if self.req.parse_tools:
            # Text streams until a tool call may be starting; from there it is held and parsed.
            text = self.detector.feed(text)
            if not text:
                return None
        return ChatGenerationChunk(message=AIMessageChunk(content=text))

    def last(self) -> ChatGenerationChunk:
        rest = self.cutter.flush()
        req = self.req
        content = rest
        chunks = []
        if req.parse_tools:
            shown = self.detector.feed(rest)
            held = self.detector.flush()
            content, calls, invalid = parse_tool_reply(held, req.tool_names)
            content = shown + content
            chunks = [
                tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
                for i, c in enumerate(calls)
            ]
            chunks += [
                tool_call_chunk(name=c["name"], args=c["args"], id=c["id"], index=len(calls) + i)
                for i, c in enumerate(invalid)
            ]
        elif req.native and self.answer is not None:
            calls, invalid = native_tool_calls(self.answer)
            chunks = [
                tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
                for i, c in enumerate(calls)
            ]
            # Malformed arguments go as raw chunks; aggregation makes them invalid_tool_calls,
            # as LangChain's OpenAI integration does.
            chunks += [
                tool_call_chunk(name=c["name"], args=c["args"], id=c["id"], index=len(calls) + i)
                for i, c in enumerate(invalid)
            ]
        metadata: dict[str, Any] = {}
        usage = None
        if self.answer is not None:
            metadata = self.model._response_metadata(
                self.answer, cut=self.cutter.done, native=self.req.chat_native
            )
            usage = usage_metadata(self.answer)
        message = AIMessageChunk(
            content=content,
            tool_call_chunks=chunks,
            usage_metadata=usage,
            response_metadata=metadata,
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)


class ChatHuggingFaceSpace(_SpaceModelBase, BaseChatModel):
    """A LangChain chat model served by a Hugging Face Space.

    Built like :class:`~langchain_hf_spaces.HuggingFaceSpaceLLM`: from a tier
    (``ChatHuggingFaceSpace(tier="company")`` reads ``SpacesSettings.load()``), from settings plus a
    tier, from a :class:`SpaceConfig` (``space=``) or a URL (``space_url=``).

    Args:
        chat_template: for text-protocol Spaces: ``"chatml"`` (default), ``"llama3"``,
            ``"zephyr"``, a Jinja2 template string (Hugging Face ``chat_template`` style) or a
            callable ``(messages) -> str``; ignored by ``openai``-protocol Spaces.
        end_of_turn: markers at which a reply is cut; default: the template's own.

    Tools: :meth:`bind_tools` with ``tool_choice`` ``"auto"``, ``"none"``, ``"any"``/
    ``"required"``, a tool name or a dict, and any number of tools. Structured output:
    :meth:`with_structured_output` for pydantic models, TypedDicts and JSON schema dicts, with
    ``method`` ``"function_calling"`` (default), ``"json_schema"`` or ``"json_mode"`` and
    ``include_raw``.
    """

    chat_template: Any = DEFAULT_CHAT_TEMPLATE
    """Preset name, Jinja2 string, callable or :class:`ChatTemplate` (text protocols only)."""
    end_of_turn: list[str] | None = None
    """Markers at which a reply is cut; default: the template's own."""
    bos_token: str = ""
    """The ``bos_token`` a Jinja2 chat template writes (e.g. ``"<|begin_of_text|>"``, ``"<s>"``)."""
    eos_token: str = ""
    """The ``eos_token`` a Jinja2 chat template writes (e.g. ``"</s>"``); also an end of turn."""

    _template: ChatTemplate = PrivateAttr()

    @model_validator(mode="after")
    def _resolve_template(self) -> Self:
        self._template = chat_template(
            self.chat_template,
            end_of_turn=self.end_of_turn,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )
        return self

    @property
    def _llm_type(self) -> str:
        return "huggingface_space_chat"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_hf_spaces", "chat_models"]

    @property
    def _identifying_params(self) -> dict[str, Any]:
        template = self._template
        return {
            **self._space_params(),
            **self._generation_params(),
            "stop": self.stop,
            "chat_template": template.name,
            "end_of_turn": list(template.end_of_turn),
        }

    def _resolve_model_profile(self) -> ModelProfile | None:
        native = self.protocol == "openai"
        return ModelProfile(
            text_inputs=True,
            text_outputs=True,
            image_inputs=False,
            tool_calling=True,
            tool_choice=True,
            tool_call_streaming=native,
            structured_output=False,
        )

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return self._ls_params("chat", stop, kwargs)

    # ------------------------------------------------------------------ request building
    @staticmethod
    def _is_native(client: SpaceClient) -> bool:
        return client.is_chat_native

    def _prepare(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        client: SpaceClient | None = None,
    ) -> tuple[SpaceClient, _Request]:
        if client is None:
            client = self._pick(kwargs)
        kwargs = dict(kwargs)
        kwargs.pop("ls_structured_output_format", None)
        tools: list[dict[str, Any]] | None = kwargs.pop("tools", None) or None
        raw_choice = kwargs.pop("tool_choice", None)
        response_format = kwargs.pop("response_format", None)
        kwargs.pop("parallel_tool_calls", None)
        choice: ToolChoice | None = None
        if tools:
            choice = normalize_tool_choice(raw_choice, tools)
        params = self._call_params(stop, kwargs)
        user_stops: list[str] = params.get("stop", [])
        names = [str(t.get("function", t).get("name", "")) for t in tools or []]
        if self._is_native(client):
            if response_format is not None:
                params["response_format"] = response_format
            return client, _Request(
                native=True,
                params=params,
                cut_markers=tuple(user_stops),
                messages=[dict(m) for m in convert_to_openai_messages(messages)],
                tools=tools,
                tool_choice=openai_tool_choice(choice) if choice is not None else None,
                tool_names=names,
                chat_native=True,
            )
        if client.takes_messages and not tools and response_format is None:
            # A Gradio chat app applies its own chat template: send it the conversation.
            return client, _Request(
                native=True,
                params=params,
                cut_markers=tuple(user_stops),
                messages=[dict(m) for m in convert_to_openai_messages(messages)],
                tool_names=names,
            )
        template = self._template
        extra = []
        if tools and choice is not None:
            extra.append(tool_system_prompt(tools, choice))
        if response_format is not None:
            extra.append(_json_instructions(response_format))
        rendered = render_messages(messages, "\n\n".join(e for e in extra if e))
        markers = tuple(dict.fromkeys([*template.end_of_turn, *user_stops]))
        if markers:
            params["stop"] = list(markers)
        return client, _Request(
            native=False,
            params=params,
            cut_markers=markers,
            prompt=template(rendered),
            tool_names=names,
            parse_tools=bool(tools) and choice is not None and choice.mode != "none",
        )

    def _response_metadata(self, answer: SpaceAnswer, *, cut: bool, native: bool) -> dict[str, Any]:
        info = answer_info(answer, cut=cut)
        info["model_provider"] = LS_PROVIDER
        info["model_name"] = self.revision or answer.url
        if not native:
            info["chat_template"] = self._template.name
        return info

    def _to_message(self, answer: SpaceAnswer, req: _Request) -> AIMessage:
        text, cut = cut_at_markers(answer.text, req.cut_markers)
        calls: list[ToolCall] = []
        invalid: list[InvalidToolCall] = []
        if req.native:
            calls, invalid = native_tool_calls(answer)
        elif req.parse_tools:
            text, calls, invalid = parse_tool_reply(text, req.tool_names)
        return AIMessage(
            content=text,
            tool_calls=calls,
            invalid_tool_calls=invalid,
            usage_metadata=usage_metadata(answer),
            response_metadata=self._response_metadata(answer, cut=cut, native=req.chat_native),
        )

    # ------------------------------------------------------------------ generation
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # Within batch(): through the Space's adaptive limit, overload answers retried.
        return gated(lambda: self._generate_now(messages, stop, run_manager, **kwargs))

    def _generate_now(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            merged: ChatGenerationChunk | None = None
            for chunk in self._stream(messages, stop, run_manager, **kwargs):
                merged = chunk if merged is None else merged + chunk
            assert merged is not None
            return ChatResult(generations=[_chunk_to_generation(merged)])
        client = self._pick(kwargs)
        client.resolve_protocol()  # an `auto` Space may turn out to be chat-native
        client, req = self._prepare(messages, stop, kwargs, client)
        if req.native:
            answer: SpaceAnswer = client.chat(
                req.messages, tools=req.tools, tool_choice=req.tool_choice, **req.params
            )
        else:
            answer = client.complete(req.prompt, **req.params)
        return ChatResult(generations=[ChatGeneration(message=self._to_message(answer, req))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await agated(lambda: self._agenerate_now(messages, stop, run_manager, **kwargs))

    async def _agenerate_now(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            merged: ChatGenerationChunk | None = None
            async for chunk in self._astream(messages, stop, run_manager, **kwargs):
                merged = chunk if merged is None else merged + chunk
            assert merged is not None
            return ChatResult(generations=[_chunk_to_generation(merged)])
        client = self._pick(kwargs)
        await client.aresolve_protocol()
        client, req = self._prepare(messages, stop, kwargs, client)
        if req.native:
            answer: SpaceAnswer = await client.achat(
                req.messages, tools=req.tools, tool_choice=req.tool_choice, **req.params
            )
        else:
            answer = await client.acomplete(req.prompt, **req.params)
        return ChatResult(generations=[ChatGeneration(message=self._to_message(answer, req))])

    def _batch_plan(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None,
    ) -> tuple[list[RunnableConfig], Batch | None]:
        """The configs of a :meth:`batch` (LangChain's own width: the Space's limit does the
        limiting) and the batch whose limit its calls go through (``max_concurrency`` its cap)."""
        configs = get_config_list(config, len(inputs))
        limit = configs[0].get("max_concurrency")
        width = min(len(inputs), limit or DEFAULT_BATCH_MAX_CONCURRENCY)
        wide: list[RunnableConfig] = [{**c, "max_concurrency": width} for c in configs]
        return wide, model_batch(self, limit, len(inputs))

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Send the inputs concurrently through the Space's adaptive concurrency limit
        (``max_concurrency``, when given, is its cap), order kept; overload answers (a full
        queue, 429) are retried, not failed."""
        if not inputs:
            return []
        wide, batch = self._batch_plan(inputs, config)
        with batch_scope(batch):
            return super().batch(inputs, wide, return_exceptions=return_exceptions, **kwargs)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Async :meth:`batch`."""
        if not inputs:
            return []
        wide, batch = self._batch_plan(inputs, config)
        with batch_scope(batch):
            return await super().abatch(inputs, wide, return_exceptions=return_exceptions, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        client = self._pick(kwargs)
        client.resolve_protocol()
        client, req = self._prepare(messages, stop, kwargs, client)
        source: Iterator[StreamChunk]
        if req.native:
            source = client.chat_stream_chunks(
                req.messages, tools=req.tools, tool_choice=req.tool_choice, **req.params
            )
        else:
            source = client.stream_chunks(req.prompt, **req.params)
        assembler = _StreamAssembler(self, req)
        for piece in source:
            chunk = assembler.feed(piece)
            if chunk is not None:
                if run_manager is not None:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk
            if assembler.cutter.done:
                break
        last = assembler.last()
        if run_manager is not None and last.text:
            run_manager.on_llm_new_token(last.text, chunk=last)
        yield last

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        client = self._pick(kwargs)
        await client.aresolve_protocol()
        client, req = self._prepare(messages, stop, kwargs, client)
        source: AsyncIterator[StreamChunk]
        if req.native:
            source = client.achat_stream_chunks(
                req.messages, tools=req.tools, tool_choice=req.tool_choice, **req.params
            )
        else:
            source = client.astream_chunks(req.prompt, **req.params)
        assembler = _StreamAssembler(self, req)
        try:
            async for piece in source:
                chunk = assembler.feed(piece)
                if chunk is not None:
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
                if assembler.cutter.done:
                    break
        finally:
            await aclose_stream(source)
        last = assembler.last()
        if run_manager is not None and last.text:
            await run_manager.on_llm_new_token(last.text, chunk=last)
        yield last

    # ------------------------------------------------------------------ tools
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any number) and an optional ``tool_choice``.

        ``tool_choice``: ``"auto"``, ``"none"``, ``"any"``/``"required"`` (or ``True``), a tool
        name, or ``{"type": "function", "function": {"name": ...}}``. An unknown tool name is a
        :class:`~langchain_hf_spaces.SpaceInputError` at once.
        """
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            choice = normalize_tool_choice(tool_choice, formatted)
            kwargs["tool_choice"] = openai_tool_choice(choice)
        elif tool_choice is False:
            kwargs["tool_choice"] = "none"
        return super().bind(tools=formatted, **kwargs)

    def _convert_input(self, model_input: LanguageModelInput | Mapping[str, Any]) -> PromptValue:
        """Also take ``{"input" | "messages" | "prompt" | "question": ..., "context": {...}}``:
        the context is rendered as a delimited JSON block ahead of the last user message."""
        if not isinstance(model_input, Mapping):
            return super()._convert_input(model_input)
        payload, context = self._split_context(model_input)
        messages = super()._convert_input(payload).to_messages()
        if context is None:
            return ChatPromptValue(messages=messages)
        last = messages[-1] if messages else None
        if not isinstance(last, HumanMessage):
            raise SpaceInputError(
                "a 'context' needs the conversation to end with a user message (the context "
                "block is put ahead of it).",
                tier=self.tier,
                url=self.space_url,
            )
        rendered = last.model_copy(update={"content": self._render_context(last.text, context)})
        return ChatPromptValue(messages=[*messages[:-1], rendered])

    def with_variations(self, n: int, **options: Any) -> Runnable[Any, list[Any]]:
        """A Runnable giving ``n`` different replies (strings) per input, run concurrently with
        per-request seeds; see :class:`~langchain_hf_spaces.runnables.SpaceVariationsRunnable`.

        On ``openai``-protocol Spaces the input must be a single user message.
        """
        return SpaceVariationsRunnable(self, n, **options)

    def _structured_prompt(self, value: Any) -> tuple[str, Callable[[str], Any]]:
        messages = self._convert_input(value).to_messages()
        last = messages[-1] if messages else None
        if not isinstance(last, HumanMessage):
            raise SpaceInputError(
                "structured output from a chat model needs the conversation to end with a "
                "user message (it carries the instruction the schema is appended to).",
                tier=self.tier,
                url=self.space_url,
            )
        head = messages[:-1]
        return last.text, lambda text: [*head, HumanMessage(content=text)]

    def _variations_request(self, value: Any, parameters: Mapping[str, Any]) -> VariationsRequest:
        messages = self._convert_input(value).to_messages()
        client, req = self._prepare(messages, None, dict(parameters))
        if not req.native:
            return VariationsRequest(client, req.prompt, req.params, req.cut_markers)
        if len(messages) != 1 or not isinstance(messages[0], HumanMessage):
            raise SpaceInputError(
                "variations on an openai-protocol Space take one user message; this "
                f"conversation has {len(messages)} messages.",
                tier=self.tier,
                url=self.space_url,
                hint="Use HuggingFaceSpaceLLM.with_variations, or send a single prompt.",
            )
        return VariationsRequest(client, messages[0].text, req.params, req.cut_markers)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: StructuredMethod | None = None,
        strict: bool | None = None,
        max_retries: int = C.DEFAULT_STRUCTURED_RETRIES,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Answers parsed into ``schema``: a pydantic model, a TypedDict, a JSON schema dict or
        the guide's schema dict (``{"title": "string", "pros": "string[]"}``).

        ``method="function_calling"`` (default, except for the guide's schema dict) forces a
        tool call with the schema as the only tool; ``"json_schema"`` and ``"json_mode"`` ask
        for a JSON reply (natively on ``openai`` Spaces via ``response_format``, else by
        instructions in the system prompt). ``"reask"`` (default for the guide's schema dict)
        appends format instructions to the last user message, validates the reply and asks
        again with the problem up to ``max_retries`` times, then raises
        :class:`~langchain_hf_spaces.StructuredOutputError`; the guide's schema dict gives a
        pydantic instance (``result.title``). With ``include_raw=True`` the result is
        ``{"raw", "parsed", "parsing_error"}``.
        """
        if kwargs:
            raise ValueError(f"Received unsupported arguments {sorted(kwargs)}")
        if method is None:
            method = "reask" if is_guide_schema(schema) else "function_calling"
        if method == "reask" or is_guide_schema(schema):
            if method != "reask":
                raise ValueError(
                    f"the guide's schema dict works with method='reask', not {method!r}; for "
                    "function calling pass schema_to_model(schema) instead."
                )
            return StructuredSpaceRunnable(
                self, cast("Any", schema), include_raw=include_raw, max_retries=max_retries
            )
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)  # v1 and v2
        llm: Runnable[LanguageModelInput, Any]
        parser: Runnable[Any, Any]
        if method == "function_calling":
            tool = convert_to_openai_tool(schema, strict=strict)
            name = tool["function"]["name"]
            llm = self.bind_tools(
                [schema],
                tool_choice=name,
                strict=strict,
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": tool,
                },
            )
            parser = RunnableLambda(
                functools.partial(_parse_structured_reply, schema=schema, name=name)
            )
        elif method in ("json_schema", "json_mode"):
            json_schema = convert_to_json_schema(schema)
            response_format: dict[str, Any]
            if method == "json_schema":
                response_format = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": json_schema.get("title", "output"),
                        "schema": json_schema,
                        "strict": bool(strict),
                    },
                }
            else:
                response_format = {"type": "json_object", "schema": json_schema}
            llm = self.bind(
                response_format=response_format,
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": json_schema,
                },
            )
            parser = (
                PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
            )
        else:
            raise ValueError(
                f"method={method!r} is not supported: use 'function_calling', 'json_schema', "
                "'json_mode' or 'reask'."
            )
        if not include_raw:
            return llm | parser
        parser_assign = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
        with_fallback = parser_assign.with_fallbacks([parser_none], exception_key="parsing_error")
        return RunnableMap(raw=llm) | with_fallback


def _structured_value(message: BaseMessage, name: str) -> Any:
    """The arguments of the forced tool call, or what a text Space answered instead of one:
    bare or fenced JSON, or Llama 3.1's ``{"name", "parameters"}``.

    Raises:
        OutputParserException: the reply holds neither (``llm_output`` is the reply).
    """
    calls = getattr(message, "tool_calls", None) or []
    for call in calls:
        if call["name"] == name:
            return call["args"]
    if calls:
        return calls[0]["args"]
    invalid = getattr(message, "invalid_tool_calls", None) or []
    text = message.text
    try:
        value = extract_json(text)
    except StructuredParseError:
        reason = invalid[0].get("error") if invalid else "the reply holds no JSON object"
        raise OutputParserException(
            f"Structured output for {name!r}: no tool call and no JSON in the reply ({reason}).",
            llm_output=text,
        ) from None
    if isinstance(value, dict):
        inner = value.get("parameters", value.get("arguments"))
        if value.get("name") == name and isinstance(inner, dict):
            return inner
        return value
    raise OutputParserException(
        f"Structured output for {name!r}: the reply's JSON is a {type(value).__name__}, "
        "not an object.",
        llm_output=text,
    )


def _parse_structured_reply(message: BaseMessage, *, schema: Any, name: str) -> Any:
    """The forced tool call's arguments as ``schema`` (pydantic instance, else a dict)."""
    value = _structured_value(message, name)
    if isinstance(schema, type) and is_basemodel_subclass(schema):
        try:
            model: Any = schema
            if hasattr(model, "model_validate"):
                return model.model_validate(value)
            return model.parse_obj(value)  # pydantic v1 classes
        except (ValidationError, ValueError, TypeError) as exc:
            raise OutputParserException(
                f"Structured output for {name!r} does not match the schema: {exc}",
                llm_output=message.text,
            ) from None
    if isinstance(schema, Mapping) and not is_guide_schema(schema):
        model = schema_to_model(schema)  # validates with jsonschema against the schema as given
        try:
            model.model_validate(value)
        except ValidationError as exc:
            raise OutputParserException(
                f"Structured output for {name!r} does not match the schema: {exc}",
                llm_output=message.text,
            ) from None
    return value


def _chunk_to_generation(chunk: ChatGenerationChunk) -> ChatGeneration:
    message = chunk.message
    assert isinstance(message, AIMessageChunk)
    return ChatGeneration(
        message=AIMessage(
            content=message.content,
            tool_calls=message.tool_calls,
            invalid_tool_calls=message.invalid_tool_calls,
            usage_metadata=message.usage_metadata,
            response_metadata=message.response_metadata,
            id=message.id,
        ),
        generation_info=chunk.generation_info,
    )


def _json_instructions(response_format: Mapping[str, Any]) -> str:
    schema: Any = None
    if response_format.get("type") == "json_schema":
        inner = response_format.get("json_schema") or {}
        schema = inner.get("schema")
    else:
        schema = response_format.get("schema")
    text = "Reply with one JSON object and nothing else (no prose, no code fence)."
    if schema:
        text += " It must conform to this JSON schema:\n" + json.dumps(
            schema, ensure_ascii=False, sort_keys=True
        )
    return "# Output format\n" + text
