"""Structured output and variations as Runnables (the guide's ``generateStructure`` and
``generateVariations`` in LCEL).

Build them from a model: ``model.with_structured_output(schema)`` gives a
:class:`StructuredSpaceRunnable` (for the guide's schema dict, or ``method="reask"``),
``model.with_variations(n)`` a :class:`SpaceVariationsRunnable`. They work for
:class:`~langchain_hf_spaces.HuggingFaceSpaceLLM` and
:class:`~langchain_hf_spaces.ChatHuggingFaceSpace` alike, through the two hooks of the models'
common base (:mod:`langchain_hf_spaces._lc_base`), and import neither model module.

Routing between tiers (:class:`~langchain_hf_spaces.SpaceTierRouter`) and the
:class:`~langchain_hf_spaces.HuggingFaceSpaces` facade live in :mod:`langchain_hf_spaces.tiers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForChainRun,
    CallbackManagerForChainRun,
)
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import patch_config
from pydantic import BaseModel

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._chat_templates import cut_at_markers
from langchain_hf_spaces._lc_base import VariationsRequest, _SpaceModelBase
from langchain_hf_spaces._structured import astructured_loop, structured_loop
from langchain_hf_spaces.errors import SpaceInputError, StructuredOutputError
from langchain_hf_spaces.schema import SchemaLike, is_guide_schema, schema_to_model

__all__ = ["SpaceVariationsRunnable", "StructuredSpaceRunnable"]


def _as_runnable(model: _SpaceModelBase) -> Runnable[Any, Any]:
    if not isinstance(model, Runnable):
        raise TypeError(f"{type(model).__name__} is not a LangChain model (not a Runnable).")
    return model


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
        model: _SpaceModelBase,
        schema: SchemaLike,
        *,
        include_raw: bool = False,
        max_retries: int = C.DEFAULT_STRUCTURED_RETRIES,
    ) -> None:
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise SpaceInputError(f"max_retries={max_retries!r} must be an integer >= 0.")
        self._runnable = _as_runnable(model)
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

    def _finish(self, obj: BaseModel | None, raws: list[Any], error: Exception | None) -> Any:
        parsed = None if obj is None else (obj.model_dump() if self.as_dict else obj)
        if not self.include_raw:
            return parsed
        return {"raw": raws[-1] if raws else None, "parsed": parsed, "parsing_error": error}

    def _invoke(
        self, value: Any, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> Any:
        child = patch_config(config, callbacks=run_manager.get_child())
        prompt, build = self.model._structured_prompt(value)
        raws: list[Any] = []

        def ask(text: str) -> str:
            out = self._runnable.invoke(build(text), child)
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
        prompt, build = self.model._structured_prompt(value)
        raws: list[Any] = []

        async def ask(text: str) -> str:
            out = await self._runnable.ainvoke(build(text), child)
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
        model: _SpaceModelBase,
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

    def _plan(self, value: Any) -> VariationsRequest:
        return self.model._variations_request(value, self.parameters)

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
        req = self._plan(value)
        results = req.client.generate_variations(
            req.prompt, self.n, **self._options(config), **req.params
        )
        return self._cut(results, req.cut_markers)

    async def _ainvoke(
        self, value: Any, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> list[Any]:
        req = self._plan(value)
        results = await req.client.agenerate_variations(
            req.prompt, self.n, **self._options(config), **req.params
        )
        return self._cut(results, req.cut_markers)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> list[Any]:
        return self._call_with_config(self._invoke, input, config, run_type="chain")

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Any]:
        return await self._acall_with_config(self._ainvoke, input, config, run_type="chain")
