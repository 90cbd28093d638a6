"""Tiers as Runnables: the guide's "Switching Between Tiers" for LangChain.

:class:`HuggingFaceSpaces` builds a model per tier from one settings object (sharing one
connection pool); :class:`SpaceTierRouter` sends each input to the tier it names::

    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough
    from langchain_hf_spaces import HuggingFaceSpaces, SpaceConfig, SpacesSettings
    from langchain_hf_spaces.testing import LocalSpace

    with LocalSpace(name="base") as base, LocalSpace(name="company") as company:
        settings = SpacesSettings(tiers={"base": SpaceConfig(url=base.url),
                                         "company": SpaceConfig(url=company.url)})
        spaces = HuggingFaceSpaces(settings)
        prompt = ChatPromptTemplate.from_messages([("user", "{question}")])
        # keep "tier" next to the rendered messages, so the router sees both
        chain = RunnablePassthrough.assign(messages=prompt) | spaces.router() | StrOutputParser()
        print(chain.invoke({"question": "What do we sell?", "tier": "company"}))
        print(spaces.llm("base").invoke("Hello"))
        spaces.close()

The tier comes from the input dict's ``tier`` key (removed before the rest reaches the
model), else from ``route(input)``, else the default tier. With ``fallback_to_base=True`` a
tier that is unavailable (asleep, down, timing out, rate-limited) is retried on the base tier,
and the answer says so: ``response_metadata["fallback_from"]`` for chat models.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Literal

import httpx
from langchain_core.callbacks import (
    AsyncCallbackManagerForChainRun,
    CallbackManagerForChainRun,
)
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config, patch_config
from pydantic import BaseModel

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._chat_templates import cut_at_markers
from langchain_hf_spaces._structured import astructured_loop, structured_loop
from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from langchain_hf_spaces.client import SpaceClient, SpacesClient
from langchain_hf_spaces.config import SpacesSettings
from langchain_hf_spaces.errors import (
    SpaceConfigError,
    SpaceInputError,
    SpaceRateLimitError,
    SpaceTimeoutError,
    SpaceUnavailableError,
    StructuredOutputError,
)
from langchain_hf_spaces.llms import HuggingFaceSpaceLLM
from langchain_hf_spaces.schema import SchemaLike, is_guide_schema, schema_to_model

__all__ = [
    "AVAILABILITY_ERRORS",
    "HuggingFaceSpaces",
    "SpaceTierRouter",
    "SpaceVariationsRunnable",
    "StructuredSpaceRunnable",
]

logger = logging.getLogger("langchain_hf_spaces")

AVAILABILITY_ERRORS: tuple[type[Exception], ...] = (
    SpaceUnavailableError,  # includes SpaceConnectionError
    SpaceTimeoutError,
    SpaceRateLimitError,
)
"""Errors after which ``fallback_to_base`` retries on the base tier."""

_INPUT_KEYS = ("messages", "input", "prompt", "question")
Route = Callable[[Any], "str | None"]


class SpaceTierRouter(Runnable[Any, Any]):
    """Send each input to one tier's model.

    Args:
        models: tier name -> model (chat models or LLMs, not mixed).
        default_tier: used when neither the input nor ``route`` names a tier.
        route: optional ``(input) -> tier | None``, consulted when the input names no tier.
        fallback_to_base: retry on ``base_tier`` when the chosen tier fails with an
            availability error (:data:`AVAILABILITY_ERRORS`).
        base_tier: the fallback tier (default ``base``).

    Input: a string, a list of messages, a ``PromptValue``, or a dict with ``tier`` and one of
    ``messages``/``input``/``prompt``/``question`` (or any other single key), plus an optional
    ``context`` dict (the guide's context: rendered as a delimited JSON data block ahead of
    the instruction, for LLMs and chat models alike).

    Raises:
        SpaceConfigError: the input names a tier that is not configured.
    """

    def __init__(
        self,
        models: Mapping[str, BaseLanguageModel[Any]],
        *,
        default_tier: str = C.DEFAULT_TIER,
        route: Route | None = None,
        fallback_to_base: bool = False,
        base_tier: str = C.DEFAULT_TIER,
    ) -> None:
        if not models:
            raise SpaceConfigError("SpaceTierRouter needs at least one tier.")
        if default_tier not in models:
            raise SpaceConfigError(
                f"default_tier {default_tier!r} is not among the tiers ({', '.join(models)}).",
                tier=default_tier,
            )
        if fallback_to_base and base_tier not in models:
            raise SpaceConfigError(
                f"fallback_to_base needs the {base_tier!r} tier, which is not configured.",
                tier=base_tier,
            )
        self.models = dict(models)
        self.default_tier = default_tier
        self.route = route
        self.fallback_to_base = fallback_to_base
        self.base_tier = base_tier

    def __repr__(self) -> str:
        return (
            f"SpaceTierRouter(tiers={list(self.models)}, default_tier={self.default_tier!r}, "
            f"fallback_to_base={self.fallback_to_base})"
        )

    # ------------------------------------------------------------------ routing
    def _split(self, value: Any) -> tuple[str, Any]:
        tier: Any = None
        payload = value
        if isinstance(value, Mapping):
            rest = {k: v for k, v in value.items() if k not in ("tier", "context")}
            tier = value.get("tier")
            for key in _INPUT_KEYS:
                if key in rest:
                    payload = rest[key]
                    break
            else:
                if len(rest) != 1:
                    raise SpaceInputError(
                        "SpaceTierRouter got a dict without a prompt: give one of "
                        f"{', '.join(_INPUT_KEYS)} (plus an optional 'tier' and 'context'); "
                        f"got keys {sorted(value)}."
                    )
                payload = next(iter(rest.values()))
            if value.get("context") is not None:
                # Our models take {"input": ..., "context": {...}} and render the context block.
                payload = {"input": payload, "context": value["context"]}
        elif not isinstance(value, (str, list, tuple, PromptValue, BaseMessage)):
            raise SpaceInputError(
                f"SpaceTierRouter cannot route a {type(value).__name__}: pass a string, "
                "messages, a PromptValue or a dict with 'tier' and the prompt."
            )
        if tier is None and self.route is not None:
            tier = self.route(value)
        if tier is None:
            tier = self.default_tier
        if not isinstance(tier, str) or tier not in self.models:
            raise SpaceConfigError(
                f"tier {tier!r} is not configured (configured: {', '.join(self.models)}).",
                tier=tier if isinstance(tier, str) else None,
                hint="Use one of the configured tiers, or configure this one in settings.",
            )
        return tier, payload

    def _fallback(self, tier: str, exc: Exception) -> bool:
        if not self.fallback_to_base or tier == self.base_tier:
            return False
        if not isinstance(exc, AVAILABILITY_ERRORS):
            return False
        logger.warning(
            "Tier %r unavailable (%s); falling back to tier %r.",
            tier,
            type(exc).__name__,
            self.base_tier,
        )
        return True

    @staticmethod
    def _mark(output: Any, tier: str) -> Any:
        if isinstance(output, BaseMessage):
            output.response_metadata["fallback_from"] = tier
        return output

    @staticmethod
    def _config(config: RunnableConfig | None, tier: str) -> RunnableConfig:
        cfg = ensure_config(config)
        metadata = {**cfg.get("metadata", {}), "hf_spaces_tier": tier}
        return {**cfg, "metadata": metadata}

    # ------------------------------------------------------------------ Runnable
    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        tier, payload = self._split(input)
        try:
            return self.models[tier].invoke(payload, self._config(config, tier), **kwargs)
        except Exception as exc:
            if not self._fallback(tier, exc):
                raise
        base = self.models[self.base_tier]
        output = base.invoke(payload, self._config(config, self.base_tier), **kwargs)
        return self._mark(output, tier)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        tier, payload = self._split(input)
        try:
            return await self.models[tier].ainvoke(payload, self._config(config, tier), **kwargs)
        except Exception as exc:
            if not self._fallback(tier, exc):
                raise
        base = self.models[self.base_tier]
        output = await base.ainvoke(payload, self._config(config, self.base_tier), **kwargs)
        return self._mark(output, tier)

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        tier, payload = self._split(input)
        started = False
        try:
            for chunk in self.models[tier].stream(payload, self._config(config, tier), **kwargs):
                started = True
                yield chunk
            return
        except Exception as exc:
            if started or not self._fallback(tier, exc):
                raise
        base = self.models[self.base_tier]
        for chunk in base.stream(payload, self._config(config, self.base_tier), **kwargs):
            yield self._mark(chunk, tier)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        tier, payload = self._split(input)
        started = False
        try:
            model = self.models[tier]
            async for chunk in model.astream(payload, self._config(config, tier), **kwargs):
                started = True
                yield chunk
            return
        except Exception as exc:
            if started or not self._fallback(tier, exc):
                raise
        base = self.models[self.base_tier]
        async for chunk in base.astream(payload, self._config(config, self.base_tier), **kwargs):
            yield self._mark(chunk, tier)


class HuggingFaceSpaces:
    """Every configured tier as LangChain models, sharing one connection pool.

    Args:
        settings: the tiers; default :meth:`SpacesSettings.load` (env + ``hf-spaces.toml``).
        http_client / async_http_client: bring your own pooled ``httpx`` clients.

    ``.llm(tier)`` and ``.chat(tier)`` return :class:`HuggingFaceSpaceLLM` /
    :class:`ChatHuggingFaceSpace` for a tier (default tier when ``None``; extra keyword
    arguments become model fields), ``.router(...)`` a :class:`SpaceTierRouter` over all tiers.
    Close it (or use ``with``) to release the pool.
    """

    def __init__(
        self,
        settings: SpacesSettings | None = None,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.client = SpacesClient(
            settings, http_client=http_client, async_http_client=async_http_client
        )
        self.settings = self.client.settings

    def __repr__(self) -> str:
        return f"HuggingFaceSpaces(tiers={self.tiers}, default_tier={self.settings.default_tier!r})"

    @property
    def tiers(self) -> list[str]:
        return self.client.tiers

    def _source(self, tier: str | None) -> dict[str, Any]:
        if not self.settings.enabled:
            # The models raise SpacesDisabledError when called (so fallbacks can take over).
            return {"settings": self.settings, "tier": tier}
        return {"client": self.client.space(tier)}

    def llm(self, tier: str | None = None, **fields: Any) -> HuggingFaceSpaceLLM:
        """A :class:`HuggingFaceSpaceLLM` for ``tier`` on the shared pool."""
        return HuggingFaceSpaceLLM(**self._source(tier), **fields)

    def chat(self, tier: str | None = None, **fields: Any) -> ChatHuggingFaceSpace:
        """A :class:`ChatHuggingFaceSpace` for ``tier`` on the shared pool."""
        return ChatHuggingFaceSpace(**self._source(tier), **fields)

    def router(
        self,
        kind: Literal["chat", "llm"] = "chat",
        *,
        route: Route | None = None,
        fallback_to_base: bool = False,
        **fields: Any,
    ) -> SpaceTierRouter:
        """A :class:`SpaceTierRouter` over every configured tier."""
        make = self.chat if kind == "chat" else self.llm
        models: dict[str, BaseLanguageModel[Any]] = {t: make(t, **fields) for t in self.tiers}
        return SpaceTierRouter(
            models,
            default_tier=self.settings.default_tier,
            route=route,
            fallback_to_base=fallback_to_base,
        )

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        await self.client.aclose()

    def __enter__(self) -> HuggingFaceSpaces:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> HuggingFaceSpaces:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


# ---------------------------------------------------------------------- structured output
class StructuredSpaceRunnable(Runnable[Any, Any]):
    """Structured generation with re-asking, for an LLM or a chat model (the guide's
    ``generateStructure`` in LCEL). Build it with ``model.with_structured_output(schema)``.

    Each call puts the schema's format instructions after the prompt, parses and validates the
    answer, and when that fails asks the same Space again with the problem and its previous
    answer, up to ``max_retries`` times (:func:`langchain_hf_spaces._structured.structured_loop`,
    the one re-ask loop the client uses too); then :class:`StructuredOutputError` carries every
    attempt. Every request is a child run of this one, so traces show each attempt.

    Input: what the model takes (a string, messages, a ``PromptValue``) or a dict with one of
    ``prompt``/``input``/``question``/``messages`` and an optional ``context`` dict (rendered
    as a delimited JSON block ahead of the instruction).

    Output: a pydantic instance for the guide's schema dict or a pydantic class, a ``dict`` for
    a JSON schema; with ``include_raw=True`` ``{"raw", "parsed", "parsing_error"}`` (then a
    failure after the re-asks is returned in ``parsing_error``, not raised).
    """

    def __init__(
        self,
        model: HuggingFaceSpaceLLM | ChatHuggingFaceSpace,
        schema: SchemaLike,
        *,
        include_raw: bool = False,
        max_retries: int = 2,
    ) -> None:
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise SpaceInputError(f"max_retries={max_retries!r} must be an integer >= 0.")
        self.model = model
        self.schema = schema
        self.pydantic_object = schema_to_model(schema)
        self.as_dict = isinstance(schema, Mapping) and not is_guide_schema(schema)
        self.include_raw = include_raw
        self.max_retries = max_retries

    def __repr__(self) -> str:
        return (
            f"StructuredSpaceRunnable(model={type(self.model).__name__}(tier="
            f"{self.model.tier!r}), schema={self.pydantic_object.__name__}, "
            f"max_retries={self.max_retries}, include_raw={self.include_raw})"
        )

    @property
    def OutputType(self) -> Any:
        if self.include_raw:
            return dict
        return dict if self.as_dict else self.pydantic_object

    def _prompt(self, value: Any) -> tuple[str, Callable[[str], Any]]:
        """The instruction text the loop works on, and how to send a (re-)asked version."""
        prompt_value = self.model._convert_input(value)
        if isinstance(self.model, HuggingFaceSpaceLLM):
            return prompt_value.to_string(), lambda text: text
        messages = prompt_value.to_messages()
        last = messages[-1] if messages else None
        if not isinstance(last, HumanMessage):
            raise SpaceInputError(
                "structured output from a chat model needs the conversation to end with a "
                "user message (it carries the instruction the schema is appended to).",
                tier=self.model.tier,
                url=self.model.space_url,
            )
        head = messages[:-1]
        return last.text, lambda text: [*head, HumanMessage(content=text)]

    def _finish(self, obj: BaseModel | None, raws: list[Any], error: Exception | None) -> Any:
        parsed = None if obj is None else (obj.model_dump() if self.as_dict else obj)
        if not self.include_raw:
            return parsed
        return {"raw": raws[-1] if raws else None, "parsed": parsed, "parsing_error": error}

    def _invoke(
        self, value: Any, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> Any:
        child = patch_config(config, callbacks=run_manager.get_child())
        prompt, build = self._prompt(value)
        raws: list[Any] = []

        def ask(text: str) -> str:
            out = self.model.invoke(build(text), child)
            raws.append(out)
            return out if isinstance(out, str) else out.text

        try:
            obj = structured_loop(
                ask,
                prompt,
                self.pydantic_object,
                max_retries=self.max_retries,
                tier=self.model.tier,
                url=self.model.space_url,
            )
        except StructuredOutputError as exc:
            if not self.include_raw:
                raise
            return self._finish(None, raws, exc)
        return self._finish(obj, raws, None)

    async def _ainvoke(
        self, value: Any, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> Any:
        child = patch_config(config, callbacks=run_manager.get_child())
        prompt, build = self._prompt(value)
        raws: list[Any] = []

        async def ask(text: str) -> str:
            out = await self.model.ainvoke(build(text), child)
            raws.append(out)
            return out if isinstance(out, str) else out.text

        try:
            obj = await astructured_loop(
                ask,
                prompt,
                self.pydantic_object,
                max_retries=self.max_retries,
                tier=self.model.tier,
                url=self.model.space_url,
            )
        except StructuredOutputError as exc:
            if not self.include_raw:
                raise
            return self._finish(None, raws, exc)
        return self._finish(obj, raws, None)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._call_with_config(self._invoke, input, config, run_type="chain")

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return await self._acall_with_config(self._ainvoke, input, config, run_type="chain")


# ---------------------------------------------------------------------- variations
class SpaceVariationsRunnable(Runnable[Any, list[Any]]):
    """``n`` different answers to one prompt (the guide's ``generateVariations``) in LCEL.

    Build it with ``llm.with_variations(n, **options)`` or ``chat.with_variations(...)``; then
    ``prompt | llm.with_variations(3)`` gives a ``list[str]`` per input. The ``n`` requests go
    through :meth:`SpaceClient.generate_variations` / ``agenerate_variations``: concurrently
    (at most ``max_concurrency`` at a time: the option, else the run config's), each with its
    own seed (``seed + i``; the model's ``seed`` is the base when set) and sampling on, in
    request order, duplicates asked again when ``unique`` (a ``DuplicateVariationsWarning``
    when ``n`` distinct answers could not be had). A failing request fails the call with its
    typed error, unless ``return_exceptions=True``: then the error takes its place in the list.

    Input: as for the model, or a dict with ``prompt``/``input``/``question``/``messages`` and
    an optional ``context`` dict. Stop sequences (and a chat template's end-of-turn markers)
    are applied to every answer.
    """

    def __init__(
        self,
        model: HuggingFaceSpaceLLM | ChatHuggingFaceSpace,
        n: int,
        *,
        unique: bool = True,
        max_concurrency: int | None = None,
        return_exceptions: bool = False,
        max_n: int = C.DEFAULT_MAX_VARIATIONS,
        **parameters: Any,
    ) -> None:
        kw: dict[str, Any] = {"tier": model.tier, "url": model.space_url}
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise SpaceInputError(f"n={n!r} is invalid: ask for at least 1 variation.", **kw)
        if n > max_n:
            raise SpaceInputError(
                f"n={n} is more than max_n={max_n} variations.",
                hint="Ask for fewer, or pass a larger max_n.",
                **kw,
            )
        self.model = model
        self.n = n
        self.unique = unique
        self.max_concurrency = max_concurrency
        self.return_exceptions = return_exceptions
        self.max_n = max_n
        self.parameters = parameters

    def __repr__(self) -> str:
        return (
            f"SpaceVariationsRunnable(model={type(self.model).__name__}(tier="
            f"{self.model.tier!r}), n={self.n}, unique={self.unique})"
        )

    @property
    def OutputType(self) -> Any:
        return list[str]

    def _plan(self, value: Any) -> tuple[SpaceClient, str, dict[str, Any], tuple[str, ...]]:
        model = self.model
        prompt_value = model._convert_input(value)
        if isinstance(model, HuggingFaceSpaceLLM):
            params = model._call_params(None, self.parameters)
            return model._space(), prompt_value.to_string(), params, tuple(params.get("stop", ()))
        messages = prompt_value.to_messages()
        client, req = model._prepare(messages, None, dict(self.parameters))
        if not req.native:
            return client, req.prompt, req.params, req.cut_markers
        if len(messages) != 1 or not isinstance(messages[0], HumanMessage):
            raise SpaceInputError(
                "variations on an openai-protocol Space take one user message; this "
                f"conversation has {len(messages)} messages.",
                tier=model.tier,
                url=model.space_url,
                hint="Use HuggingFaceSpaceLLM.with_variations, or send a single prompt.",
            )
        return client, messages[0].text, req.params, req.cut_markers

    def _options(self, config: RunnableConfig) -> dict[str, Any]:
        return {
            "unique": self.unique,
            "max_concurrency": self.max_concurrency or config.get("max_concurrency"),
            "return_exceptions": self.return_exceptions,
            "max_n": self.max_n,
        }

    @staticmethod
    def _cut(results: list[Any], markers: tuple[str, ...]) -> list[Any]:
        if not markers:
            return results
        return [cut_at_markers(r, markers)[0] if isinstance(r, str) else r for r in results]

    def _invoke(
        self, value: Any, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> list[Any]:
        client, prompt, params, markers = self._plan(value)
        results = client.generate_variations(prompt, self.n, **self._options(config), **params)
        return self._cut(results, markers)

    async def _ainvoke(
        self, value: Any, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> list[Any]:
        client, prompt, params, markers = self._plan(value)
        results = await client.agenerate_variations(
            prompt, self.n, **self._options(config), **params
        )
        return self._cut(results, markers)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> list[Any]:
        return self._call_with_config(self._invoke, input, config, run_type="chain")

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Any]:
        return await self._acall_with_config(self._ainvoke, input, config, run_type="chain")
