"""``generate_variations``: what the sync and async paths share (checks, seeds, duplicates)."""

from __future__ import annotations

import functools
import secrets
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces.errors import SpaceInputError

if TYPE_CHECKING:
    from langchain_hf_spaces._batch import Batch
    from langchain_hf_spaces.client import SpaceClient

__all__ = ["DuplicateVariationsWarning", "VariationPlan"]


class VariationPlan:
    """What the sync and async variation paths share: checks, seeds, duplicates."""

    def __init__(
        self,
        client: SpaceClient,
        prompt: str,
        n: Any,
        context: Mapping[str, Any] | None,
        parameters: Mapping[str, Any],
        max_n: int,
        max_concurrency: int | None,
    ) -> None:
        kw: dict[str, Any] = {"tier": client.tier, "url": client.config.url}
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise SpaceInputError(f"n={n!r} is invalid: ask for at least 1 variation.", **kw)
        if n > max_n:
            raise SpaceInputError(
                f"n={n} is more than max_n={max_n} variations.",
                hint="Ask for fewer, or pass a larger max_n.",
                **kw,
            )
        if max_concurrency is not None and (
            not isinstance(max_concurrency, int) or max_concurrency < 1
        ):
            raise SpaceInputError(f"max_concurrency={max_concurrency!r} must be >= 1.", **kw)
        params = dict(parameters)
        seed = params.pop("seed", None)
        client._core.validate(prompt, context, {**params, "seed": seed})
        self.client = client
        self.prompt = prompt
        self.n = n
        self.context = context
        self.params = params
        self.base_seed: int = seed if seed is not None else secrets.randbelow(2**31)
        self.next_seed = self.base_seed + n
        self.seeds = [self.base_seed + i for i in range(n)]
        self.max_concurrency = max_concurrency
        self.concurrency = min(n, max_concurrency or n)

    def hints(self, i: int) -> dict[str, Any]:
        return {"seed": self.seeds[i], "do_sample": True}

    def one(self, i: int) -> str:
        return self.client._complete_hinted(
            self.prompt, self.context, self.params, self.hints(i)
        ).text

    async def aone(self, i: int) -> str:
        answer = await self.client._acomplete_hinted(
            self.prompt, self.context, self.params, self.hints(i)
        )
        return answer.text

    def _batch(self) -> Batch:
        from langchain_hf_spaces._batch import Batch

        # What the Space publishes is used when already known: no extra request here.
        return Batch(
            self.client, max_concurrency=self.max_concurrency, size=self.n, read_hints=False
        )

    def _nth(self, todo: list[int], k: int) -> str:
        return self.one(todo[k])

    async def _anth(self, todo: list[int], k: int) -> str:
        return await self.aone(todo[k])

    def run(self, *, unique: bool, return_exceptions: bool) -> list[Any]:
        """All ``n`` answers, through the Space's adaptive limit (at most :attr:`concurrency`
        at a time); overload answers are retried, not failed."""
        results: list[Any] = [None] * self.n
        pending = list(range(self.n))
        batch = self._batch()
        for _ in range(C.VARIATION_REASK_ROUNDS + 1):
            todo = pending
            outcomes = batch.map(
                len(todo), functools.partial(self._nth, todo), return_exceptions=return_exceptions
            )
            for i, outcome in zip(todo, outcomes, strict=True):
                results[i] = outcome
            pending = self.duplicates(results) if unique else []
            if not pending:
                break
        self.warn_if_short(results, unique)
        return results

    async def arun(self, *, unique: bool, return_exceptions: bool) -> list[Any]:
        """Async :meth:`run`."""
        results: list[Any] = [None] * self.n
        pending = list(range(self.n))
        batch = self._batch()
        for _ in range(C.VARIATION_REASK_ROUNDS + 1):
            todo = pending
            outcomes = await batch.amap(
                len(todo), functools.partial(self._anth, todo), return_exceptions=return_exceptions
            )
            for i, outcome in zip(todo, outcomes, strict=True):
                results[i] = outcome
            pending = self.duplicates(results) if unique else []
            if not pending:
                break
        self.warn_if_short(results, unique)
        return results

    def duplicates(self, results: list[Any]) -> list[int]:
        """Positions repeating an earlier answer; they get fresh seeds for another try."""
        seen: set[str] = set()
        again = []
        for i, text in enumerate(results):
            if not isinstance(text, str):
                continue
            key = " ".join(text.split()).casefold()
            if key in seen:
                again.append(i)
                self.seeds[i] = self.next_seed
                self.next_seed += 1
            seen.add(key)
        return again

    def warn_if_short(self, results: list[Any], unique: bool) -> None:
        texts = [" ".join(t.split()).casefold() for t in results if isinstance(t, str)]
        if unique and len(set(texts)) < len(texts):
            warnings.warn(
                f"Space {self.client.config.url} (tier {self.client.tier!r}) gave "
                f"{len(set(texts))} distinct answers of {self.n} asked for, after "
                f"{C.VARIATION_REASK_ROUNDS} re-asks; duplicates are included.",
                DuplicateVariationsWarning,
                stacklevel=4,
            )


class DuplicateVariationsWarning(UserWarning):
    """``generate_variations`` could not get ``n`` distinct answers."""
