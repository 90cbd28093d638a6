"""``SpacesClient``: every configured tier behind one object (see ``client`` for the tour)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces import _fallback
from langchain_hf_spaces._answers import ConnectionReport, SpaceAnswer, StreamChunk
from langchain_hf_spaces._space import OnWait, SpaceClient
from langchain_hf_spaces._transport import HTTPPool
from langchain_hf_spaces.config import SpacesSettings
from langchain_hf_spaces.errors import HFSpacesError, SpacesDisabledError
from langchain_hf_spaces.schema import SchemaLike

__all__ = ["SpacesClient"]

logger = logging.getLogger("langchain_hf_spaces")


class SpacesClient:
    """All configured tiers behind one object, sharing one connection pool.

    Args:
        settings: the tiers; default :meth:`SpacesSettings.load` (env + ``hf-spaces.toml``).
        fallback_to_base: when a call names a tier that is not configured, or that tier is
            unavailable (asleep past ``wake_timeout``, failing, rate limited, timing out), answer
            from the ``base`` tier instead. This holds for every kind of call (``generate``,
            ``complete``, ``stream``, ``generate_structure``, ``generate_variations``); a stream
            falls back only if nothing was yielded yet. An answer's ``fallback_from`` names the
            tier asked for. Off by default: then such calls raise.
        on_wait: called with a :class:`~langchain_hf_spaces.WaitEvent` before every wait.

    .. code-block:: python

        spaces = SpacesClient(settings)
        spaces.generate("Your prompt")                      # default tier
        spaces.generate("Your prompt", tier="company")
        await spaces.agenerate("Your prompt", context={"industry": "healthcare"})
        for report in spaces.test_connection():
            print(report.summary())
    """

    def __init__(
        self,
        settings: SpacesSettings | None = None,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        fallback_to_base: bool = False,
        on_wait: OnWait | None = None,
    ) -> None:
        self.settings = SpacesSettings.load() if settings is None else settings
        self.fallback_to_base = fallback_to_base
        self._on_wait = on_wait
        self._pool = HTTPPool(http_client, async_http_client)
        self._spaces: dict[str, SpaceClient] = {
            name: SpaceClient(cfg, tier=name, on_wait=on_wait, _pool=self._pool)
            for name, cfg in self.settings.tiers.items()
        }

    # Copies (deepcopy, pickle, cloudpickle) keep the settings and options; the copy opens its
    # own connections, lazily (clients of yours passed as http_client are not copied).
    def __getstate__(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "fallback_to_base": self.fallback_to_base,
            "on_wait": self._on_wait,
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["settings"], fallback_to_base=state["fallback_to_base"], on_wait=state["on_wait"]
        )

    def __repr__(self) -> str:
        return (
            f"SpacesClient(enabled={self.settings.enabled}, default_tier="
            f"{self.settings.default_tier!r}, tiers={sorted(self._spaces)})"
        )

    @property
    def tiers(self) -> list[str]:
        """Configured tier names."""
        return list(self._spaces)

    def space(self, tier: str | None = None) -> SpaceClient:
        """The :class:`SpaceClient` of ``tier`` (default tier when ``None``)."""
        if not self.settings.enabled:
            raise SpacesDisabledError(
                "Hugging Face Spaces are disabled (enabled = false).", tier=tier
            )
        name = self.settings.default_tier if tier is None else tier
        client = self._spaces.get(name)
        if client is None:
            cfg = self.settings.space(name)  # raises the SpaceConfigError naming the tier
            client = self._spaces.setdefault(
                name, SpaceClient(cfg, tier=name, on_wait=self._on_wait, _pool=self._pool)
            )
        return client

    # ------------------------------------------------------------ fallback
    def _route(self, tier: str | None) -> list[tuple[SpaceClient, str | None]]:
        """Whom to ask, in order, each with the ``fallback_from`` to report (no I/O).

        The one place the fallback rule lives; the drivers below only walk this list.
        """
        name = self.settings.default_tier if tier is None else tier
        may_fall_back = (
            self.fallback_to_base
            and self.settings.enabled
            and name != C.DEFAULT_TIER
            and C.DEFAULT_TIER in self._spaces
        )
        if not may_fall_back:
            return [(self.space(name), None)]
        base = (self._spaces[C.DEFAULT_TIER], name)
        if name not in self._spaces:
            logger.warning("tier %r: answering from the base tier: it is not configured", name)
            return [base]
        return [(self._spaces[name], None), base]

    # ------------------------------------------------------------------ sync
    def generate(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> str:
        """The guide's ``generate(prompt, tier, context)``."""
        return self.complete(prompt, tier, context, **parameters).text

    def complete(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> SpaceAnswer:
        """Like :meth:`generate`, returning the text with its metadata."""
        return _fallback.call(
            self._route(tier),
            tier,
            lambda s: s.complete(prompt, context=context, **parameters),
        )

    def stream(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> Iterator[str]:
        """Stream the answer of ``tier`` in text chunks (see :meth:`SpaceClient.stream`)."""
        for chunk in self.stream_chunks(prompt, tier, context, **parameters):
            if chunk.text:
                yield chunk.text

    def stream_chunks(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> Iterator[StreamChunk]:
        """Like :meth:`stream`, with the final :class:`SpaceAnswer` on the last chunk."""
        return _fallback.stream(
            self._route(tier),
            tier,
            lambda s: s.stream_chunks(prompt, context=context, **parameters),
        )

    def generate_structure(
        self,
        prompt: str,
        schema: SchemaLike,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """The guide's ``generateStructure(prompt, schema)``; see
        :meth:`SpaceClient.generate_structure`."""
        return _fallback.call(
            self._route(tier),
            tier,
            lambda s: s.generate_structure(prompt, schema, context=context, **kwargs),
        )

    def generate_variations(
        self,
        prompt: str,
        n: int,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """The guide's ``generateVariations(prompt, n, tier)``; see
        :meth:`SpaceClient.generate_variations`."""
        return _fallback.call(
            self._route(tier),
            tier,
            lambda s: s.generate_variations(prompt, n, context=context, **kwargs),
        )

    def test_connection(
        self, tier: str | None = None, *, wake_timeout: float | None = None
    ) -> list[ConnectionReport]:
        """Test Connection for ``tier``, or for every configured tier when ``None``."""
        names = [tier] if tier is not None else self.tiers
        return [self.space(n).test_connection(wake_timeout=wake_timeout) for n in names]

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> SpacesClient:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- async
    async def agenerate(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> str:
        """Async :meth:`generate`."""
        return (await self.acomplete(prompt, tier, context, **parameters)).text

    async def acomplete(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> SpaceAnswer:
        """Async :meth:`complete`."""
        answer: SpaceAnswer = await _fallback.acall(
            self._route(tier),
            tier,
            lambda s: s.acomplete(prompt, context=context, **parameters),
        )
        return answer

    async def astream(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> AsyncIterator[str]:
        """Async :meth:`stream`."""
        async for chunk in self.astream_chunks(prompt, tier, context, **parameters):
            if chunk.text:
                yield chunk.text

    def astream_chunks(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> AsyncIterator[StreamChunk]:
        """Async :meth:`stream_chunks`."""
        return _fallback.astream(
            self._route(tier),
            tier,
            lambda s: s.astream_chunks(prompt, context=context, **parameters),
        )

    async def agenerate_structure(
        self,
        prompt: str,
        schema: SchemaLike,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Async :meth:`generate_structure`."""
        return await _fallback.acall(
            self._route(tier),
            tier,
            lambda s: s.agenerate_structure(prompt, schema, context=context, **kwargs),
        )

    async def agenerate_variations(
        self,
        prompt: str,
        n: int,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """Async :meth:`generate_variations`."""
        results: list[Any] = await _fallback.acall(
            self._route(tier),
            tier,
            lambda s: s.agenerate_variations(prompt, n, context=context, **kwargs),
        )
        return results

    async def atest_connection(
        self, tier: str | None = None, *, wake_timeout: float | None = None
    ) -> list[ConnectionReport]:
        """Async :meth:`test_connection`; tiers are tested concurrently."""
        names = [tier] if tier is not None else self.tiers
        return list(
            await asyncio.gather(
                *(self.space(n).atest_connection(wake_timeout=wake_timeout) for n in names)
            )
        )

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def __aenter__(self) -> SpacesClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ batches
    def _batch_space(self, tier: str | None) -> SpaceClient:
        """The Space whose limit a batch goes through: the first one its calls ask."""
        return self._route(tier)[0][0]

    def batch(
        self,
        prompts: Sequence[str],
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        max_concurrency: int | None = None,
        adaptive: bool = True,
        return_exceptions: bool = False,
        timeout: float | None = None,
        **parameters: Any,
    ) -> list[SpaceAnswer | HFSpacesError]:
        """Answer many prompts on ``tier``; see :meth:`SpaceClient.batch` (each prompt falls
        back to the base tier as :meth:`complete` does)."""
        space = self._batch_space(tier)
        items, batch = space._batch(
            prompts, context, parameters, max_concurrency, adaptive, timeout
        )
        return batch.map(
            len(items),
            lambda i: self.complete(items[i], tier, context, **parameters),
            return_exceptions=return_exceptions,
        )

    async def abatch(
        self,
        prompts: Sequence[str],
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        max_concurrency: int | None = None,
        adaptive: bool = True,
        return_exceptions: bool = False,
        timeout: float | None = None,
        **parameters: Any,
    ) -> list[SpaceAnswer | HFSpacesError]:
        """Async :meth:`batch`."""
        space = self._batch_space(tier)
        items, batch = space._batch(
            prompts, context, parameters, max_concurrency, adaptive, timeout
        )
        return await batch.amap(
            len(items),
            lambda i: self.acomplete(items[i], tier, context, **parameters),
            return_exceptions=return_exceptions,
        )
