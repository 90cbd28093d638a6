"""``HuggingFaceSpaceLLM``: a LangChain text-completion model backed by one Space (one tier).

Setup::

    pip install langchain-hf-spaces
    export HF_SPACES_BASE_URL=https://acme-base-llm.hf.space   # or hf-spaces.toml
    export HF_TOKEN=hf_...                                    # private Spaces only

Instantiate, invoke, stream, batch (runnable offline against a :class:`LocalSpace`)::

    from langchain_hf_spaces import HuggingFaceSpaceLLM
    from langchain_hf_spaces.testing import LocalSpace

    with LocalSpace(name="base") as space:
        llm = HuggingFaceSpaceLLM(space_url=space.url, max_new_tokens=20, temperature=0.2)
        print(llm.invoke("Write a haiku about tea"))
        for piece in llm.stream("Write a haiku about tea"):
            print(piece, end="")
        print(llm.batch(["one", "two", "three"], config={"max_concurrency": 2}))

    llm = HuggingFaceSpaceLLM(tier="company")  # from SpacesSettings.load(): env + hf-spaces.toml

Answer metadata (tier, url, revision, protocol, latency, attempts, finish_reason, token counts
when the Space reports them) is in ``llm.generate([...]).generations[0][0].generation_info``.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM, LangSmithParams
from langchain_core.language_models.base import LanguageModelInput
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from langchain_core.prompt_values import PromptValue, StringPromptValue
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import get_config_list
from langchain_core.utils import secret_from_env
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)
from typing_extensions import Self

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._chat_templates import MarkerCutter, cut_at_markers
from langchain_hf_spaces._inputs import render_prompt
from langchain_hf_spaces.client import SpaceAnswer, SpaceClient
from langchain_hf_spaces.config import SpaceConfig, SpacesSettings
from langchain_hf_spaces.errors import HFSpacesError, SpaceInputError, SpacesDisabledError
from langchain_hf_spaces.schema import SchemaLike

__all__ = ["HuggingFaceSpaceLLM"]

LS_PROVIDER = "huggingface_spaces"
DEFAULT_BATCH_CONCURRENCY = 64
"""Prompts of one sync batch sent at once when the caller sets no ``max_concurrency``."""

_BATCH_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "hf_spaces_batch_limit", default=None
)

PROMPT_KEYS = ("prompt", "input", "question", "messages")
"""Keys an input dict may carry its prompt under (one of them), next to ``context``."""

_GENERATION_FIELDS = (
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "seed",
    "do_sample",
)


class _SpaceModelBase(BaseModel):
    """Fields and plumbing shared by the LLM and the chat model (no LangChain base class here)."""

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Serialisation writes the environment variable's name, never the token."""
        return {"hf_token": "HF_TOKEN"}

    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=()
    )

    tier: str | None = None
    """Tier to use; default: the settings' ``default_tier`` (``base``)."""
    space_url: str | None = None
    """Space URL, when not taken from settings (``https://huggingface.co/spaces/u/n`` works)."""
    endpoint: str | None = None
    """Generate path, default ``/api/generate``."""
    protocol: str | None = None
    """Wire protocol: ``generate``, ``tgi``, ``gradio``, ``openai`` or ``auto``."""
    revision: str | None = None
    """Model revision, reported in metadata and traces."""
    hf_token: SecretStr | None = Field(
        alias="api_key", default_factory=secret_from_env("HF_TOKEN", default=None)
    )
    """Hugging Face token. Env: ``HF_TOKEN``. A token set on the tier in settings wins over
    ``HF_TOKEN`` read from the environment; a token passed here explicitly wins over both."""
    settings: SpacesSettings | None = Field(default=None, exclude=True)
    """Settings to take the tier from; default ``SpacesSettings.load()``."""
    space: SpaceConfig | None = Field(default=None, exclude=True)
    """A ready :class:`SpaceConfig` (instead of ``space_url`` or ``settings``)."""
    client: SpaceClient | None = Field(default=None, exclude=True)
    """A ready :class:`SpaceClient` (shares its connection pool)."""

    max_new_tokens: int | None = Field(default=None, alias="max_tokens", ge=1)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    repetition_penalty: float | None = Field(default=None, gt=0)
    seed: int | None = Field(default=None, ge=0)
    do_sample: bool | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Stop sequences; applied to the answer even when the Space ignores them."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further parameters sent to the Space as they are."""
    timeout: float | None = Field(default=None, gt=0)
    """Read timeout in seconds (overrides the Space's ``read_timeout``)."""
    max_retries: int | None = Field(default=None, ge=0, le=20)
    """Retries on connect errors, 429 and 5xx (overrides the Space's ``max_retries``)."""
    streaming: bool = False
    """Stream under the hood of ``invoke`` (tokens reach ``on_llm_new_token`` callbacks)."""

    _client: SpaceClient | None = PrivateAttr(default=None)
    _disabled_tier: str | None = PrivateAttr(default=None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except ValidationError as exc:
            # Our own errors (unknown tier, bad URL) surface as themselves, not wrapped.
            for err in exc.errors():
                cause = (err.get("ctx") or {}).get("error")
                if isinstance(cause, HFSpacesError):
                    raise cause from None
            raise

    @model_validator(mode="after")
    def _resolve_space(self) -> Self:
        client = self.client
        tier = self.tier
        cfg: SpaceConfig
        if client is not None:
            cfg, tier = client.config, client.tier
        elif self.space is not None:
            cfg = self.space
        elif self.space_url is not None:
            data: dict[str, Any] = {"url": self.space_url, "revision": self.revision}
            if self.endpoint is not None:
                data["endpoint"] = self.endpoint
            if self.protocol is not None:
                data["protocol"] = self.protocol
            cfg = SpaceConfig(**data)
        else:
            settings = self.settings if self.settings is not None else SpacesSettings.load()
            if not settings.enabled:
                # Raised at call time, so `.with_fallbacks([...])` can take over.
                self._disabled_tier = tier or settings.default_tier
                self.tier = self._disabled_tier
                return self
            tier = tier or settings.default_tier
            cfg = settings.space(tier)
        tier = tier or C.DEFAULT_TIER
        overrides: dict[str, Any] = {}
        explicit = self.model_fields_set
        if client is None and self.space_url is None:
            for name in ("endpoint", "protocol", "revision"):
                if name in explicit and getattr(self, name) is not None:
                    overrides[name] = getattr(self, name)
        if self.timeout is not None:
            overrides["read_timeout"] = self.timeout
        if self.max_retries is not None:
            overrides["max_retries"] = self.max_retries
        if self.hf_token is not None and (
            "hf_token" in explicit or (self.space_url is not None and client is None)
        ):
            overrides["token"] = self.hf_token
        if overrides:
            provider = cfg._token_provider if "token" not in overrides else None
            cfg = SpaceConfig(**{**cfg.model_dump(), **overrides})
            if provider is not None:
                cfg = cfg.with_token_provider(provider)
            client = SpaceClient(cfg, tier=tier, _pool=client._pool if client else None)
        elif client is None:
            client = SpaceClient(cfg, tier=tier)
        self._client = client
        # Public fields describe the Space in use (identifying params, traces, serialisation).
        self.tier = tier
        self.space_url = cfg.url
        self.endpoint = cfg.endpoint
        self.protocol = cfg.protocol
        self.revision = cfg.revision
        return self

    # ------------------------------------------------------------------ shared helpers
    def _space(self) -> SpaceClient:
        client = self._client
        if client is None:
            raise SpacesDisabledError(
                "Hugging Face Spaces are disabled (enabled = false).", tier=self._disabled_tier
            )
        return client

    def _generation_params(self) -> dict[str, Any]:
        params = {name: getattr(self, name) for name in _GENERATION_FIELDS}
        params = {k: v for k, v in params.items() if v is not None}
        if self.model_kwargs:
            params.update(self.model_kwargs)
        return params

    def _call_params(self, stop: list[str] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        params = self._generation_params()
        if kwargs:
            if "max_tokens" in kwargs:
                kwargs = dict(kwargs)
                params["max_new_tokens"] = kwargs.pop("max_tokens")
            params.update(kwargs)
        stops = stop if stop is not None else self.stop
        if stops:
            params["stop"] = list(stops)
        else:
            params.pop("stop", None)
        return params

    def _space_params(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "space_url": self.space_url,
            "endpoint": self.endpoint,
            "revision": self.revision,
            "protocol": self.protocol,
        }

    def _split_context(self, value: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any] | None]:
        """``{"prompt" | "input" | "question" | "messages": ..., "context": {...}}`` -> parts."""
        keys = [k for k in PROMPT_KEYS if k in value]
        unknown = sorted(set(value) - {*PROMPT_KEYS, "context"})
        if len(keys) != 1 or unknown:
            raise SpaceInputError(
                "an input dict needs exactly one of "
                f"{', '.join(PROMPT_KEYS)} and optionally 'context'; got keys {sorted(value)}.",
                tier=self.tier,
                url=self.space_url,
            )
        return value[keys[0]], value.get("context")

    def _render_context(self, text: str, context: Mapping[str, Any] | None) -> str:
        return render_prompt(text, context, tier=self.tier, url=self.space_url)

    def _ls_model_name(self, kwargs: Mapping[str, Any]) -> str:
        model = kwargs.get("model")
        if isinstance(model, str) and model:
            return model
        return self.revision or self.space_url or (self.tier or C.DEFAULT_TIER)

    def _ls_params(
        self, model_type: Literal["llm", "chat"], stop: list[str] | None, kwargs: Mapping[str, Any]
    ) -> LangSmithParams:
        """Tracing parameters (LangSmith), shared by the LLM and the chat model."""
        params = LangSmithParams(
            ls_provider=LS_PROVIDER,
            ls_model_name=self._ls_model_name(kwargs),
            ls_model_type=model_type,
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_new_tokens", kwargs.get("max_tokens", self.max_new_tokens))
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        stops = stop if stop is not None else self.stop
        if stops:
            params["ls_stop"] = list(stops)
        return params


def answer_info(answer: SpaceAnswer, *, cut: bool = False) -> dict[str, Any]:
    """``generation_info`` / ``response_metadata`` of an answer."""
    info = answer.metadata
    if cut:
        info["finish_reason"] = "stop"
    return info


class HuggingFaceSpaceLLM(_SpaceModelBase, BaseLLM):
    """A LangChain LLM (text in, text out) served by a Hugging Face Space.

    Build it from a tier (settings are read from ``HF_SPACES_*`` and ``hf-spaces.toml``), from
    settings plus a tier, from a :class:`SpaceConfig`, or from a URL::

        HuggingFaceSpaceLLM(tier="company")
        HuggingFaceSpaceLLM(settings=my_settings, tier="abstraction")
        HuggingFaceSpaceLLM(space=SpaceConfig(url="https://acme-base.hf.space"))
        HuggingFaceSpaceLLM(space_url="https://huggingface.co/spaces/acme/base", api_key="hf_...")

    ``invoke``/``ainvoke`` (real async), ``stream``/``astream``, ``batch``/``abatch`` (prompts
    sent concurrently, bounded by ``max_concurrency``; ``return_exceptions=True`` puts the typed
    error of each failed prompt in its place). Stop sequences are applied to the answer even if
    the Space ignores them. With ``set_llm_cache(...)`` each Space (tier, URL, endpoint,
    revision, protocol, parameters) is cached separately.

    Errors are the package's typed errors (:class:`~langchain_hf_spaces.HFSpacesError` and its
    subclasses), naming tier and Space URL, never the token.
    """

    @property
    def _llm_type(self) -> str:
        return "huggingface_space"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_hf_spaces", "llms"]

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            **self._space_params(),
            **self._generation_params(),
            "stop": self.stop,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return self._ls_params("llm", stop, kwargs)

    # ------------------------------------------------------------------ input, Runnables
    def _convert_input(self, model_input: LanguageModelInput | Mapping[str, Any]) -> PromptValue:
        """Also take ``{"prompt": ..., "context": {...}}`` (or ``input``/``question``)."""
        if isinstance(model_input, Mapping):
            payload, context = self._split_context(model_input)
            text = payload.to_string() if isinstance(payload, PromptValue) else payload
            if not isinstance(text, str):
                raise SpaceInputError(
                    f"the prompt in an input dict must be a string, not {type(text).__name__}.",
                    tier=self.tier,
                    url=self.space_url,
                )
            return StringPromptValue(text=self._render_context(text, context))
        return super()._convert_input(model_input)

    def with_structured_output(
        self,
        schema: SchemaLike,
        *,
        include_raw: bool = False,
        max_retries: int = 2,
        **kwargs: Any,
    ) -> Runnable[Any, Any]:
        """A Runnable returning the object ``schema`` describes (the guide's
        ``generateStructure``): the guide's schema dict or a pydantic class give a pydantic
        instance, a JSON schema gives a ``dict``.

        The schema's format instructions follow the prompt; an answer that does not parse or
        validate is asked again with the problem, up to ``max_retries`` times, then
        :class:`~langchain_hf_spaces.StructuredOutputError` (with every attempt). With
        ``include_raw=True``: ``{"raw", "parsed", "parsing_error"}``. Input: a prompt, or
        ``{"prompt": ..., "context": {...}}``. See
        :class:`~langchain_hf_spaces.runnables.StructuredSpaceRunnable`.
        """
        if kwargs:
            raise ValueError(f"Received unsupported arguments {sorted(kwargs)}")
        from langchain_hf_spaces.runnables import StructuredSpaceRunnable

        return StructuredSpaceRunnable(
            self, schema, include_raw=include_raw, max_retries=max_retries
        )

    def with_variations(self, n: int, **options: Any) -> Runnable[Any, list[Any]]:
        """A Runnable giving ``n`` different answers per input (the guide's
        ``generateVariations``), run concurrently with per-request seeds.

        Options: ``unique`` (default True), ``max_concurrency``, ``return_exceptions``,
        ``max_n``, and generation parameters. See
        :class:`~langchain_hf_spaces.runnables.SpaceVariationsRunnable`.
        """
        from langchain_hf_spaces.runnables import SpaceVariationsRunnable

        return SpaceVariationsRunnable(self, n, **options)

    # ------------------------------------------------------------------ one prompt
    def _complete_one(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> Generation:
        if self.streaming:
            return self._merge(self._stream(prompt, stop, run_manager, **kwargs))
        params = self._call_params(stop, kwargs)
        answer = self._space().complete(prompt, **params)
        return self._to_generation(answer, params.get("stop"))

    async def _acomplete_one(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> Generation:
        if self.streaming:
            chunks = [c async for c in self._astream(prompt, stop, run_manager, **kwargs)]
            return self._merge(iter(chunks))
        params = self._call_params(stop, kwargs)
        answer = await self._space().acomplete(prompt, **params)
        return self._to_generation(answer, params.get("stop"))

    @staticmethod
    def _to_generation(answer: SpaceAnswer, stops: list[str] | None) -> Generation:
        text = answer.text
        cut = False
        if stops:
            text, cut = cut_at_markers(text, stops)
        return Generation(text=text, generation_info=answer_info(answer, cut=cut))

    @staticmethod
    def _merge(chunks: Iterator[GenerationChunk]) -> Generation:
        final: GenerationChunk | None = None
        for chunk in chunks:
            final = chunk if final is None else final + chunk
        if final is None:  # pragma: no cover - _stream always yields a last chunk
            return Generation(text="")
        return Generation(text=final.text, generation_info=final.generation_info)

    # ------------------------------------------------------------------ many prompts
    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if len(prompts) == 1:
            generations = [[self._complete_one(prompts[0], stop, run_manager, kwargs)]]
        else:
            limit = _BATCH_LIMIT.get() or DEFAULT_BATCH_CONCURRENCY
            workers = min(len(prompts), limit)
            ctx = contextvars.copy_context

            def one(prompt: str) -> list[Generation]:
                return [self._complete_one(prompt, stop, run_manager, kwargs)]

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hf-spaces") as pool:
                futures = [pool.submit(ctx().run, one, p) for p in prompts]
                generations = [f.result() for f in futures]
        return LLMResult(generations=generations, llm_output=_llm_output(generations))

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if len(prompts) == 1:
            generations = [[await self._acomplete_one(prompts[0], stop, run_manager, kwargs)]]
        else:
            limit = _BATCH_LIMIT.get()
            semaphore = asyncio.Semaphore(limit) if limit else None

            async def one(prompt: str) -> list[Generation]:
                if semaphore is None:
                    return [await self._acomplete_one(prompt, stop, run_manager, kwargs)]
                async with semaphore:
                    return [await self._acomplete_one(prompt, stop, run_manager, kwargs)]

            generations = list(await asyncio.gather(*(one(p) for p in prompts)))
        return LLMResult(generations=generations, llm_output=_llm_output(generations))

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[str]:
        """Send the prompts concurrently (at most ``max_concurrency`` at once), order kept.

        With ``return_exceptions=True`` each failed prompt gets its own typed error in place.
        """
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        limit = configs[0].get("max_concurrency")
        if return_exceptions:
            width = limit or min(len(inputs), DEFAULT_BATCH_CONCURRENCY)
            per_item: list[RunnableConfig] = [{**c, "max_concurrency": width} for c in configs]
            return Runnable.batch(self, inputs, per_item, return_exceptions=True, **kwargs)
        token = _BATCH_LIMIT.set(limit)
        try:
            unlimited: list[RunnableConfig] = [{**c, "max_concurrency": None} for c in configs]
            return super().batch(inputs, unlimited, **kwargs)
        finally:
            _BATCH_LIMIT.reset(token)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`batch`: one task per prompt under a semaphore of ``max_concurrency``."""
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        limit = configs[0].get("max_concurrency")
        if return_exceptions:
            return await Runnable.abatch(self, inputs, configs, return_exceptions=True, **kwargs)
        token = _BATCH_LIMIT.set(limit)
        try:
            unlimited: list[RunnableConfig] = [{**c, "max_concurrency": None} for c in configs]
            return await super().abatch(inputs, unlimited, **kwargs)
        finally:
            _BATCH_LIMIT.reset(token)

    # ------------------------------------------------------------------ streaming
    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        params = self._call_params(stop, kwargs)
        cutter = MarkerCutter(params.get("stop") or ())
        answer: SpaceAnswer | None = None
        for piece in self._space().stream_chunks(prompt, **params):
            if piece.answer is not None:
                answer = piece.answer
            text = cutter.feed(piece.text)
            if text:
                chunk = GenerationChunk(text=text)
                if run_manager is not None:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
            if cutter.done:
                break
        yield self._last_chunk(cutter, answer)

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        params = self._call_params(stop, kwargs)
        cutter = MarkerCutter(params.get("stop") or ())
        answer: SpaceAnswer | None = None
        stream = self._space().astream_chunks(prompt, **params)
        try:
            async for piece in stream:
                if piece.answer is not None:
                    answer = piece.answer
                text = cutter.feed(piece.text)
                if text:
                    chunk = GenerationChunk(text=text)
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                if cutter.done:
                    break
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        yield self._last_chunk(cutter, answer)

    @staticmethod
    def _last_chunk(cutter: MarkerCutter, answer: SpaceAnswer | None) -> GenerationChunk:
        info = answer_info(answer, cut=cutter.done) if answer is not None else {}
        if answer is None and cutter.done:
            info["finish_reason"] = "stop"
        return GenerationChunk(text=cutter.flush(), generation_info=info)


def _llm_output(generations: list[list[Generation]]) -> dict[str, Any]:
    prompt_tokens = completion_tokens = 0
    known = False
    for gens in generations:
        for gen in gens:
            info = gen.generation_info or {}
            if "prompt_tokens" in info or "completion_tokens" in info:
                known = True
                prompt_tokens += int(info.get("prompt_tokens", 0))
                completion_tokens += int(info.get("completion_tokens", 0))
    if not known:
        return {}
    return {
        "token_usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    }
