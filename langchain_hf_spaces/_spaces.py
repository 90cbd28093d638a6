"""``SpacesClient``: every configured tier behind one object (see ``client`` for the tour)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from langchain_hf_spaces import _ab, _fallback
from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._answers import ConnectionReport, SpaceAnswer, StreamChunk
from langchain_hf_spaces._cache import ResponseCache
from langchain_hf_spaces._observe import CallObserver, default_observers
from langchain_hf_spaces._space import OnWait, SpaceClient
from langchain_hf_spaces._stats import SpacesStats, StatsSnapshot
from langchain_hf_spaces._transport import HTTPPool
from langchain_hf_spaces.config import SpaceConfig, SpacesSettings
from langchain_hf_spaces.errors import HFSpacesError, SpaceConfigError, SpacesDisabledError
from langchain_hf_spaces.schema import SchemaLike

if TYPE_CHECKING:
    import httpx  # annotations only: the transport imports it on first use

    from langchain_hf_spaces._batch import Batch

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
        observers: what watches every call (``None``: the default observers, the request log;
            ``[]``: none); the client's own :class:`SpacesStats` (:meth:`stats`) always watches.
        cache: a response cache shared by every tier (:class:`~langchain_hf_spaces.MemoryCache`,
            :class:`~langchain_hf_spaces.SQLiteCache`); off by default.
        fallback_between_variants: for a tier with A/B ``variants``, when the chosen variant
            is unavailable, ask the tier's other variants (heaviest first) before giving up or
            falling back to the base tier. Off by default. The answer's ``variant`` names the
            variant that answered and ``fallback_from`` the one chosen (``"tier/variant"``).

    A tier with ``variants`` sends each call to one of them by weight; pass ``ab_key=`` (a user
    or session id) to any call to make the choice sticky: one key, one variant, in every process
    (see :mod:`langchain_hf_spaces._ab`). Without a key the choice is random by weight.

    .. code-block:: python

        spaces = SpacesClient(settings)
        spaces.generate("Your prompt")                      # default tier
        spaces.generate("Your prompt", tier="company")
        spaces.generate("Your prompt", ab_key="user-42")   # sticky A/B variant
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
        observers: Sequence[CallObserver] | None = None,
        cache: ResponseCache | None = None,
        fallback_between_variants: bool = False,
    ) -> None:
        self.settings = SpacesSettings.load() if settings is None else settings
        self.fallback_to_base = fallback_to_base
        self.fallback_between_variants = fallback_between_variants
        self._on_wait = on_wait
        self._pool = HTTPPool(http_client, async_http_client)
        self._given_observers = observers
        self._stats = SpacesStats()
        chosen = default_observers() if observers is None else list(observers)
        self._observers: list[CallObserver] = [*chosen, self._stats]
        self._cache = cache
        self._spaces: dict[str, SpaceClient] = {}
        self._splits: dict[str, _ab.Split[SpaceClient]] = {}
        """Tiers with variants: their variants' clients (``_spaces`` holds the first)."""
        for name, cfg in self.settings.tiers.items():
            self._add_tier(name, cfg)

    def _client_for(self, cfg: SpaceConfig, tier: str, variant: str | None = None) -> SpaceClient:
        """The one place this client makes a :class:`SpaceClient`."""
        return SpaceClient(
            cfg,
            tier=tier,
            on_wait=self._on_wait,
            profile=self.settings.profile,
            variant=variant,
            observers=self._observers,
            cache=self._cache,
            _pool=self._pool,
        )

    def _add_tier(self, name: str, cfg: SpaceConfig) -> SpaceClient:
        made = _ab.Split.made(
            name, cfg.variant_configs(), lambda c, v: self._client_for(c, name, v)
        )
        if made is None:
            return self._spaces.setdefault(name, self._client_for(cfg, name))
        split = self._splits.setdefault(name, made)
        return self._spaces.setdefault(name, split.arms[0].item)

    # Copies (deepcopy, pickle, cloudpickle) keep the settings and options; the copy opens its
    # own connections, lazily (clients of yours passed as http_client are not copied).
    def __getstate__(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "fallback_to_base": self.fallback_to_base,
            "on_wait": self._on_wait,
            "observers": self._given_observers,
            "cache": self._cache,
            "fallback_between_variants": self.fallback_between_variants,
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["settings"],
            fallback_to_base=state["fallback_to_base"],
            on_wait=state["on_wait"],
            observers=state.get("observers"),
            cache=state.get("cache"),
            fallback_between_variants=state.get("fallback_between_variants", False),
        )

    def __repr__(self) -> str:
        return (
            f"SpacesClient(enabled={self.settings.enabled}, default_tier="
            f"{self.settings.default_tier!r}, tiers={sorted(self._spaces)})"
        )

    @property
    def cache(self) -> ResponseCache | None:
        """The response cache, if any."""
        return self._cache

    def stats(self) -> StatsSnapshot:
        """What this client's calls came to so far, per tier and variant: calls, errors by
        kind, latency percentiles, time waiting for Spaces to wake, retries, tokens, cache hits
        (see :class:`~langchain_hf_spaces.SpacesStats`). ``.as_dict()`` is JSON data; ``str()``
        is a table."""
        return self._stats.snapshot()

    @property
    def tiers(self) -> list[str]:
        """Configured tier names."""
        return list(self._spaces)

    def space(self, tier: str | None = None, *, variant: str | None = None) -> SpaceClient:
        """The :class:`SpaceClient` of ``tier`` (default tier when ``None``).

        For a tier with A/B variants: the client of ``variant`` (default: the first variant);
        :meth:`variant_for` says which one a call with a given ``ab_key`` goes to."""
        if not self.settings.enabled:
            raise SpacesDisabledError(
                "Hugging Face Spaces are disabled (enabled = false).", tier=tier
            )
        name = self.settings.default_tier if tier is None else tier
        client = self._spaces.get(name)
        if client is None:
            cfg = self.settings.space(name)  # raises the SpaceConfigError naming the tier
            client = self._add_tier(name, cfg)
        if variant is None:
            return client
        split = self._splits.get(name)
        for arm in split.arms if split is not None else ():
            if arm.name == variant:
                return arm.item
        raise SpaceConfigError(
            f"tier {name!r} has no variant {variant!r} "
            f"(its variants: {', '.join(split.names) if split else 'none'}).",
            tier=name,
            url=client.config.url,
            hint="Name one of the tier's variants, or add it to [tiers.<tier>] variants.",
        )

    def variants(self, tier: str | None = None) -> dict[str, SpaceClient]:
        """The A/B variants of ``tier`` by name (empty for a tier without variants)."""
        name = self.settings.default_tier if tier is None else tier
        self.space(name)  # an unknown tier fails here
        split = self._splits.get(name)
        return {arm.name: arm.item for arm in split.arms} if split is not None else {}

    def variant_for(self, ab_key: str, tier: str | None = None) -> str | None:
        """The variant of ``tier`` that answers calls made with ``ab_key`` (no request is
        sent); ``None`` for a tier without variants. The same on every run and machine."""
        name = self.settings.default_tier if tier is None else tier
        self.space(name)
        split = self._splits.get(name)
        if split is None:
            return None
        return split.pick(_ab.check_key(ab_key, tier=name)).name

    # ------------------------------------------------------------ fallback
    def _tier_route(self, name: str, key: str | None) -> list[SpaceClient]:
        """The clients of a configured tier to ask in turn: its chosen variant, then its other
        variants when ``fallback_between_variants`` (just the tier's client without variants)."""
        split = self._splits.get(name)
        if split is None:
            return [self._spaces[name]]
        order = [arm.item for arm in split.order(key)]
        return order if self.fallback_between_variants else order[:1]

    def _route(
        self, tier: str | None, ab_key: str | None = None
    ) -> list[tuple[SpaceClient, str | None]]:
        """Whom to ask, in order, each with the ``fallback_from`` to report (no I/O).

        The one place the fallback rule lives; the drivers below only walk this list:
        the chosen variant, the tier's other variants (``fallback_between_variants``), the base
        tier (``fallback_to_base``; its own variant chosen by the same key). ``fallback_from``
        names what was asked: the tier, or ``"tier/variant"`` when the tier has variants.
        """
        name = self.settings.default_tier if tier is None else tier
        key = _ab.check_key(ab_key, tier=name)
        may_fall_back = (
            self.fallback_to_base
            and self.settings.enabled
            and name != C.DEFAULT_TIER
            and C.DEFAULT_TIER in self._spaces
        )
        if not may_fall_back:
            self.space(name)  # disabled, or not configured: the typed error
            own = self._tier_route(name, key)
            asked = name if own[0].variant is None else f"{name}/{own[0].variant}"
            return [(c, None if i == 0 else asked) for i, c in enumerate(own)]
        base = self._tier_route(C.DEFAULT_TIER, key)
        if name not in self._spaces:
            logger.warning("tier %r: answering from the base tier: it is not configured", name)
            return [(c, name) for c in base]
        own = self._tier_route(name, key)
        asked = name if own[0].variant is None else f"{name}/{own[0].variant}"
        return [
            *((c, None if i == 0 else asked) for i, c in enumerate(own)),
            *((c, asked) for c in base),
        ]

    # ------------------------------------------------------------------ sync
    def generate(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **parameters: Any,
    ) -> str:
        """The guide's ``generate(prompt, tier, context)``.

        ``ab_key`` (every call method takes it): a user or session id that makes a tier's A/B
        variant choice sticky; without it the variant is chosen at random by weight."""
        return self.complete(prompt, tier, context, ab_key=ab_key, **parameters).text

    def complete(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **parameters: Any,
    ) -> SpaceAnswer:
        """Like :meth:`generate`, returning the text with its metadata."""
        return _fallback.call(
            self._route(tier, ab_key),
            tier,
            lambda s: s.complete(prompt, context=context, **parameters),
        )

    def stream(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **parameters: Any,
    ) -> Iterator[str]:
        """Stream the answer of ``tier`` in text chunks (see :meth:`SpaceClient.stream`)."""
        for chunk in self.stream_chunks(prompt, tier, context, ab_key=ab_key, **parameters):
            if chunk.text:
                yield chunk.text

    def stream_chunks(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **parameters: Any,
    ) -> Iterator[StreamChunk]:
        """Like :meth:`stream`, with the final :class:`SpaceAnswer` on the last chunk."""
        return _fallback.stream(
            self._route(tier, ab_key),
            tier,
            lambda s: s.stream_chunks(prompt, context=context, **parameters),
        )

    def generate_structure(
        self,
        prompt: str,
        schema: SchemaLike,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """The guide's ``generateStructure(prompt, schema)``; see
        :meth:`SpaceClient.generate_structure`."""
        return _fallback.call(
            self._route(tier, ab_key),
            tier,
            lambda s: s.generate_structure(prompt, schema, context=context, **kwargs),
        )

    def generate_variations(
        self,
        prompt: str,
        n: int,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """The guide's ``generateVariations(prompt, n, tier)``; see
        :meth:`SpaceClient.generate_variations`."""
        return _fallback.call(
            self._route(tier, ab_key),
            tier,
            lambda s: s.generate_variations(prompt, n, context=context, **kwargs),
        )

    def test_connection(
        self, tier: str | None = None, *, wake_timeout: float | None = None
    ) -> list[ConnectionReport]:
        """Test Connection for ``tier``, or for every configured tier when ``None``; a tier with
        A/B variants gets one report per variant (``report.variant`` names it)."""
        return [c.test_connection(wake_timeout=wake_timeout) for c in self._tested(tier)]

    def _tested(self, tier: str | None) -> list[SpaceClient]:
        names = [tier] if tier is not None else self.tiers
        clients = []
        for name in names:
            first = self.space(name)
            split = self._splits.get(name)
            clients.extend([arm.item for arm in split.arms] if split is not None else [first])
        return clients

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
        *,
        ab_key: str | None = None,
        **parameters: Any,
    ) -> str:
        """Async :meth:`generate`."""
        return (await self.acomplete(prompt, tier, context, ab_key=ab_key, **parameters)).text

    async def acomplete(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **parameters: Any,
    ) -> SpaceAnswer:
        """Async :meth:`complete`."""
        answer: SpaceAnswer = await _fallback.acall(
            self._route(tier, ab_key),
            tier,
            lambda s: s.acomplete(prompt, context=context, **parameters),
        )
        return answer

    async def astream(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **parameters: Any,
    ) -> AsyncIterator[str]:
        """Async :meth:`stream`."""
        async for chunk in self.astream_chunks(prompt, tier, context, ab_key=ab_key, **parameters):
            if chunk.text:
                yield chunk.text

    def astream_chunks(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **parameters: Any,
    ) -> AsyncIterator[StreamChunk]:
        """Async :meth:`stream_chunks`."""
        return _fallback.astream(
            self._route(tier, ab_key),
            tier,
            lambda s: s.astream_chunks(prompt, context=context, **parameters),
        )

    async def agenerate_structure(
        self,
        prompt: str,
        schema: SchemaLike,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Async :meth:`generate_structure`."""
        return await _fallback.acall(
            self._route(tier, ab_key),
            tier,
            lambda s: s.agenerate_structure(prompt, schema, context=context, **kwargs),
        )

    async def agenerate_variations(
        self,
        prompt: str,
        n: int,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ab_key: str | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """Async :meth:`generate_variations`."""
        results: list[Any] = await _fallback.acall(
            self._route(tier, ab_key),
            tier,
            lambda s: s.agenerate_variations(prompt, n, context=context, **kwargs),
        )
        return results

    async def atest_connection(
        self, tier: str | None = None, *, wake_timeout: float | None = None
    ) -> list[ConnectionReport]:
        """Async :meth:`test_connection`; tiers are tested concurrently."""
        return list(
            await asyncio.gather(
                *(c.atest_connection(wake_timeout=wake_timeout) for c in self._tested(tier))
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

    def _batch(
        self,
        prompts: Any,
        tier: str | None,
        context: Mapping[str, Any] | None,
        parameters: Mapping[str, Any],
        max_concurrency: int | None,
        adaptive: bool,
        timeout: float | None,
    ) -> tuple[list[str], Batch]:
        """The prompts checked and the batch they go through (for :meth:`batch`, :meth:`abatch`)."""
        space = self._batch_space(tier)
        return space._batch(prompts, context, parameters, max_concurrency, adaptive, timeout)

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
        items, batch = self._batch(
            prompts, tier, context, parameters, max_concurrency, adaptive, timeout
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
        items, batch = self._batch(
            prompts, tier, context, parameters, max_concurrency, adaptive, timeout
        )
        return await batch.amap(
            len(items),
            lambda i: self.acomplete(items[i], tier, context, **parameters),
            return_exceptions=return_exceptions,
        )
