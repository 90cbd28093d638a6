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
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from langchain_hf_spaces.client import SpacesClient
from langchain_hf_spaces.config import SpacesSettings
from langchain_hf_spaces.errors import (
    SpaceConfigError,
    SpaceInputError,
    SpaceRateLimitError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)
from langchain_hf_spaces.llms import HuggingFaceSpaceLLM

__all__ = ["AVAILABILITY_ERRORS", "HuggingFaceSpaces", "SpaceTierRouter"]

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
    ``messages``/``input``/``prompt``/``question`` (or any other single key).

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
            rest = {k: v for k, v in value.items() if k != "tier"}
            tier = value.get("tier")
            for key in _INPUT_KEYS:
                if key in rest:
                    payload = rest[key]
                    break
            else:
                if len(rest) != 1:
                    raise SpaceInputError(
                        "SpaceTierRouter got a dict without a prompt: give one of "
                        f"{', '.join(_INPUT_KEYS)} (plus an optional 'tier'); got keys "
                        f"{sorted(value)}."
                    )
                payload = next(iter(rest.values()))
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
