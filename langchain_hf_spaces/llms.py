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
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM, LangSmithParams
from langchain_core.language_models.base import LanguageModelInput
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from langchain_core.prompt_values import PromptValue, StringPromptValue
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import get_config_list

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._batch import agated, batch_scope, gated, model_batch
from langchain_hf_spaces._chat_templates import MarkerCutter, cut_at_markers
from langchain_hf_spaces._lc_base import (
    VariationsRequest,
    _SpaceModelBase,
    aclose_stream,
    answer_info,
    has_ab_keys,
)
from langchain_hf_spaces.client import SpaceAnswer
from langchain_hf_spaces.errors import SpaceInputError
from langchain_hf_spaces.runnables import SpaceVariationsRunnable, StructuredSpaceRunnable
from langchain_hf_spaces.schema import SchemaLike

__all__ = ["HuggingFaceSpaceLLM"]

_M = TypeVar("_M")

DEFAULT_BATCH_CONCURRENCY = 64
"""Prompts of one sync batch sent at once when the caller sets no ``max_concurrency``."""

_BATCH_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "hf_spaces_batch_limit", default=None
)
_RUN_MANAGERS: contextvars.ContextVar[Sequence[Any] | None] = contextvars.ContextVar(
    "hf_spaces_run_managers", default=None
)
"""The run manager of each prompt of a ``generate`` call: LangChain makes one run per prompt
but hands ``_generate`` only the first, so streamed tokens would all land in that run."""


def _per_prompt(prompts: Sequence[str], run_manager: _M | None) -> list[_M | None]:
    """Each prompt's own run manager (``run_manager`` for all when they are not known)."""
    managers = _RUN_MANAGERS.get()
    if (
        managers is not None
        and len(managers) == len(prompts)
        and (run_manager is None or managers[0] is run_manager)
    ):
        return list(managers)
    return [run_manager] * len(prompts)


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
        max_retries: int = C.DEFAULT_STRUCTURED_RETRIES,
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
        return SpaceVariationsRunnable(self, n, **options)

    def _structured_prompt(self, value: Any) -> tuple[str, Callable[[str], Any]]:
        return self._convert_input(value).to_string(), lambda text: text

    def _variations_request(self, value: Any, parameters: Mapping[str, Any]) -> VariationsRequest:
        prompt = self._convert_input(value).to_string()
        params = self._call_params(None, parameters)
        client = self._pick(parameters)
        return VariationsRequest(client, prompt, params, tuple(params.get("stop", ())))

    # ------------------------------------------------------------------ one prompt
    def _complete_one(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> Generation:
        # Within batch(): through the Space's adaptive limit, overload answers retried.
        return gated(lambda: self._complete_now(prompt, stop, run_manager, kwargs))

    def _complete_now(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> Generation:
        if self.streaming:
            return self._merge(self._stream(prompt, stop, run_manager, **kwargs))
        params = self._call_params(stop, kwargs)
        answer = self._pick(kwargs).complete(prompt, **params)
        return self._to_generation(answer, params.get("stop"))

    async def _acomplete_one(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> Generation:
        return await agated(lambda: self._acomplete_now(prompt, stop, run_manager, kwargs))

    async def _acomplete_now(
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
        answer = await self._pick(kwargs).acomplete(prompt, **params)
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
        managers = _per_prompt(prompts, run_manager)
        if len(prompts) == 1:
            generations = [[self._complete_one(prompts[0], stop, managers[0], kwargs)]]
        else:
            limit = _BATCH_LIMIT.get() or DEFAULT_BATCH_CONCURRENCY
            workers = min(len(prompts), limit)
            ctx = contextvars.copy_context

            def one(prompt: str, manager: CallbackManagerForLLMRun | None) -> list[Generation]:
                return [self._complete_one(prompt, stop, manager, kwargs)]

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hf-spaces") as pool:
                futures = [
                    pool.submit(ctx().run, one, p, m)
                    for p, m in zip(prompts, managers, strict=True)
                ]
                generations = [f.result() for f in futures]
        return LLMResult(generations=generations, llm_output=_llm_output(generations))

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        managers = _per_prompt(prompts, run_manager)
        if len(prompts) == 1:
            generations = [[await self._acomplete_one(prompts[0], stop, managers[0], kwargs)]]
        else:
            limit = _BATCH_LIMIT.get()
            semaphore = asyncio.Semaphore(limit) if limit else None

            async def one(
                prompt: str, manager: AsyncCallbackManagerForLLMRun | None
            ) -> list[Generation]:
                if semaphore is None:
                    return [await self._acomplete_one(prompt, stop, manager, kwargs)]
                async with semaphore:
                    return [await self._acomplete_one(prompt, stop, manager, kwargs)]

            pairs = zip(prompts, managers, strict=True)
            generations = list(await asyncio.gather(*(one(p, m) for p, m in pairs)))
        return LLMResult(generations=generations, llm_output=_llm_output(generations))

    def _generate_helper(
        self,
        prompts: list[str],
        stop: list[str] | None,
        run_managers: list[CallbackManagerForLLMRun],
        *,
        new_arg_supported: bool,
        **kwargs: Any,
    ) -> LLMResult:
        token = _RUN_MANAGERS.set(run_managers)
        try:
            return super()._generate_helper(
                prompts, stop, run_managers, new_arg_supported=new_arg_supported, **kwargs
            )
        finally:
            _RUN_MANAGERS.reset(token)

    async def _agenerate_helper(
        self,
        prompts: list[str],
        stop: list[str] | None,
        run_managers: list[AsyncCallbackManagerForLLMRun],
        *,
        new_arg_supported: bool,
        **kwargs: Any,
    ) -> LLMResult:
        token = _RUN_MANAGERS.set(run_managers)
        try:
            return await super()._agenerate_helper(
                prompts, stop, run_managers, new_arg_supported=new_arg_supported, **kwargs
            )
        finally:
            _RUN_MANAGERS.reset(token)

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[str]:
        """Send the prompts concurrently through the Space's adaptive concurrency limit
        (``max_concurrency``, when given, is its cap), order kept; overload answers (a full
        queue, 429) are retried, not failed.

        With ``return_exceptions=True`` each failed prompt gets its own typed error in place.
        """
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        limit = configs[0].get("max_concurrency")
        with batch_scope(model_batch(self, limit, len(inputs))):
            if return_exceptions or has_ab_keys(configs):  # per-input configs: one invoke each
                width = limit or min(len(inputs), DEFAULT_BATCH_CONCURRENCY)
                per_item: list[RunnableConfig] = [{**c, "max_concurrency": width} for c in configs]
                return Runnable.batch(
                    self, inputs, per_item, return_exceptions=return_exceptions, **kwargs
                )
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
        """Async :meth:`batch`: one task per prompt, through the Space's adaptive limit."""
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        limit = configs[0].get("max_concurrency")
        with batch_scope(model_batch(self, limit, len(inputs))):
            if return_exceptions or has_ab_keys(configs):  # per-input configs: one invoke each
                return await Runnable.abatch(
                    self, inputs, configs, return_exceptions=return_exceptions, **kwargs
                )
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
        for piece in self._pick(kwargs).stream_chunks(prompt, **params):
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
        stream = self._pick(kwargs).astream_chunks(prompt, **params)
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
            await aclose_stream(stream)
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
