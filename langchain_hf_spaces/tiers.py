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

The router is LangChain's own pieces: a ``RouterRunnable`` keyed by tier, each tier's model
``.with_fallbacks([base], exceptions_to_handle=AVAILABILITY_ERRORS)`` when falling back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Literal

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator
from langchain_core.runnables.router import RouterInput, RouterRunnable

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._keys import PROMPT_KEYS
from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from langchain_hf_spaces.client import SpacesClient
from langchain_hf_spaces.config import SpacesSettings
from langchain_hf_spaces.errors import AVAILABILITY_ERRORS, SpaceConfigError, SpaceInputError
from langchain_hf_spaces.llms import HuggingFaceSpaceLLM

__all__ = ["HuggingFaceSpaces", "SpaceTierRouter"]

logger = logging.getLogger("langchain_hf_spaces")

Route = Callable[[Any], "str | None"]
ModelKind = Literal["chat", "llm"]

_ROUTER_KEYS = ("messages", *(key for key in PROMPT_KEYS if key != "messages"))
"""The prompt keys in the order the router takes them: rendered messages first, so
``RunnablePassthrough.assign(messages=prompt)`` wins over the raw ``question`` next to it."""


def _fallback_marker(asked: str, base: str) -> RunnableGenerator[Any, Any]:
    """Passes the base tier's output through, marking the first message (or chunk) with
    ``response_metadata["fallback_from"]`` (once, so merged chunks carry it once)."""

    def mark(value: Any, first: bool) -> Any:
        if first and isinstance(value, BaseMessage):
            value.response_metadata["fallback_from"] = asked
        return value

    def note() -> None:
        logger.warning("Tier %r unavailable; falling back to tier %r.", asked, base)

    def transform(chunks: Iterator[Any]) -> Iterator[Any]:
        note()
        for index, chunk in enumerate(chunks):
            yield mark(chunk, index == 0)

    async def atransform(chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
        note()
        first = True
        async for chunk in chunks:
            yield mark(chunk, first)
            first = False

    return RunnableGenerator(transform, atransform, name=f"fallback_from_{asked}")


class SpaceTierRouter(Runnable[Any, Any]):
    """Send each input to one tier's model.

    Args:
        models: tier name -> model (chat models or LLMs, not mixed). Default: a model per tier
            of ``settings`` (:meth:`SpacesSettings.load` when not given: ``HF_SPACES_*`` and
            ``hf-spaces.toml``, as ``HuggingFaceSpaceLLM(tier=...)`` reads them).
        default_tier: used when neither the input nor ``route`` names a tier; default: the
            settings' ``default_tier`` when the models come from settings, else ``base``.
        route: optional ``(input) -> tier | None``, consulted when the input names no tier.
        fallback_to_base: retry on ``base_tier`` when the chosen tier fails with an
            availability error (:data:`~langchain_hf_spaces.errors.AVAILABILITY_ERRORS`); if the
            base tier is unavailable too, the chosen tier's error is raised.
        base_tier: the fallback tier (default ``base``).
        settings: the settings to build the models from (only without ``models``).
        kind: ``"chat"`` (:class:`ChatHuggingFaceSpace`, default) or ``"llm"``
            (:class:`HuggingFaceSpaceLLM`), for models built from settings.

    Input: a string, a list of messages, a ``PromptValue``, or a dict with ``tier`` and one of
    ``messages``/``input``/``prompt``/``question`` (or any other single key), plus an optional
    ``context`` dict (the guide's context: rendered as a delimited JSON data block ahead of
    the instruction, for LLMs and chat models alike).

    Raises:
        SpaceConfigError: no tier is configured, or the input names a tier that is not.
    """

    def __init__(
        self,
        models: Mapping[str, BaseLanguageModel[Any]] | None = None,
        *,
        default_tier: str | None = None,
        route: Route | None = None,
        fallback_to_base: bool = False,
        base_tier: str = C.DEFAULT_TIER,
        settings: SpacesSettings | None = None,
        kind: ModelKind = "chat",
    ) -> None:
        self._spaces: HuggingFaceSpaces | None = None
        if models is None:
            # Keeps the shared pool alive as long as the router.
            self._spaces = HuggingFaceSpaces(settings)
            models = self._spaces._models(kind)
            default_tier = default_tier or self._spaces.settings.default_tier
        elif settings is not None:
            raise SpaceConfigError(
                "SpaceTierRouter takes models or settings, not both.",
                hint="Build the models from the settings (HuggingFaceSpaces(settings).router()).",
            )
        default_tier = default_tier or C.DEFAULT_TIER
        if not models:
            raise SpaceConfigError(
                "SpaceTierRouter needs at least one tier.",
                hint="Set HF_SPACES_BASE_URL, or add [tiers.base] to hf-spaces.toml.",
            )
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
        self._routes: dict[str, Runnable[Any, Any]] = {
            tier: self._route_to(tier) for tier in self.models
        }
        self._router: RouterRunnable[Any] = RouterRunnable(self._routes)

    def __repr__(self) -> str:
        return (
            f"SpaceTierRouter(tiers={list(self.models)}, default_tier={self.default_tier!r}, "
            f"fallback_to_base={self.fallback_to_base})"
        )

    # ------------------------------------------------------------------ building
    def _tagged(self, tier: str) -> Runnable[Any, Any]:
        return self.models[tier].with_config(metadata={"hf_spaces_tier": tier})

    def _route_to(self, tier: str) -> Runnable[Any, Any]:
        runnable = self._tagged(tier)
        if not self.fallback_to_base or tier == self.base_tier:
            return runnable
        base = self._tagged(self.base_tier) | _fallback_marker(tier, self.base_tier)
        return runnable.with_fallbacks([base], exceptions_to_handle=AVAILABILITY_ERRORS)

    def _router_for(self, kwargs: Mapping[str, Any]) -> RouterRunnable[Any]:
        """``RouterRunnable`` passes no call keywords on: bind them to every route."""
        if not kwargs:
            return self._router
        return RouterRunnable({t: r.bind(**kwargs) for t, r in self._routes.items()})

    # ------------------------------------------------------------------ routing
    def _split(self, value: Any) -> RouterInput:
        tier: Any = None
        payload = value
        if isinstance(value, Mapping):
            rest = {k: v for k, v in value.items() if k not in ("tier", "context")}
            tier = value.get("tier")
            for key in _ROUTER_KEYS:
                if key in rest:
                    payload = rest[key]
                    break
            else:
                if len(rest) != 1:
                    raise SpaceInputError(
                        "SpaceTierRouter got a dict without a prompt: give one of "
                        f"{', '.join(_ROUTER_KEYS)} (plus an optional 'tier' and 'context'); "
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
        return {"key": tier, "input": payload}

    # ------------------------------------------------------------------ Runnable
    # Each call is a run of its own (named ``SpaceTierRouter``) in callbacks, traces and
    # ``astream_events``, with the chosen tier's model as its child.
    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._call_with_config(self._invoke, input, config, **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return await self._acall_with_config(self._ainvoke, input, config, **kwargs)

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        yield from self._transform_stream_with_config(
            iter([input]), self._transform, config, **kwargs
        )

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        async def one() -> AsyncIterator[Any]:
            yield input

        async for chunk in self._atransform_stream_with_config(
            one(), self._atransform, config, **kwargs
        ):
            yield chunk

    def _invoke(
        self,
        value: Any,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Any:
        return self._router_for(kwargs).invoke(self._split(value), config)

    async def _ainvoke(
        self,
        value: Any,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Any:
        return await self._router_for(kwargs).ainvoke(self._split(value), config)

    def _transform(
        self,
        values: Iterator[Any],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Iterator[Any]:
        for value in values:
            yield from self._router_for(kwargs).stream(self._split(value), config)

    async def _atransform(
        self,
        values: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        async for value in values:
            async for chunk in self._router_for(kwargs).astream(self._split(value), config):
                yield chunk

    # Copies (deepcopy, pickle, cloudpickle): the models and options; the routes are rebuilt.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "default_tier": self.default_tier,
            "route": self.route,
            "fallback_to_base": self.fallback_to_base,
            "base_tier": self.base_tier,
            "spaces": self._spaces,
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["models"],
            default_tier=state["default_tier"],
            route=state["route"],
            fallback_to_base=state["fallback_to_base"],
            base_tier=state["base_tier"],
        )
        self._spaces = state["spaces"]


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
        # The tier's client comes from the shared SpacesClient: a copy of the model whose tier
        # changes (configurable_fields, model_copy) takes that tier's client, on the same pool.
        self.client.space(tier)  # an unknown tier fails here
        return {"spaces": self.client, "tier": tier}

    def llm(self, tier: str | None = None, **fields: Any) -> HuggingFaceSpaceLLM:
        """A :class:`HuggingFaceSpaceLLM` for ``tier`` on the shared pool."""
        return HuggingFaceSpaceLLM(**self._source(tier), **fields)

    def chat(self, tier: str | None = None, **fields: Any) -> ChatHuggingFaceSpace:
        """A :class:`ChatHuggingFaceSpace` for ``tier`` on the shared pool."""
        return ChatHuggingFaceSpace(**self._source(tier), **fields)

    def _models(self, kind: ModelKind = "chat", **fields: Any) -> dict[str, BaseLanguageModel[Any]]:
        """A model of ``kind`` for every configured tier, by tier name."""
        make = self.chat if kind == "chat" else self.llm
        return {tier: make(tier, **fields) for tier in self.tiers}

    def router(
        self,
        kind: ModelKind = "chat",
        *,
        route: Route | None = None,
        fallback_to_base: bool = False,
        **fields: Any,
    ) -> SpaceTierRouter:
        """A :class:`SpaceTierRouter` over every configured tier."""
        return SpaceTierRouter(
            self._models(kind, **fields),
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
