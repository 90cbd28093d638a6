"""Falling back to other variants of a tier and to the base tier, for every kind of call.

``SpacesClient._route`` decides whom to ask, in order (the tier's chosen variant, its other
variants when ``fallback_between_variants`` allows it, then the base tier when
``fallback_to_base`` does); these four walkers — plain, async, stream, async stream — only
try each in turn on an availability error (``errors.AVAILABILITY_ERRORS``). A stream falls back
only while nothing was yielded. The answer from a fallback says so in ``fallback_from``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from langchain_hf_spaces._answers import SpaceAnswer, StreamChunk
from langchain_hf_spaces.errors import AVAILABILITY_ERRORS, HFSpacesError

if TYPE_CHECKING:
    from langchain_hf_spaces.client import SpaceClient

__all__ = ["Route", "acall", "astream", "call", "marked", "stream"]

logger = logging.getLogger("langchain_hf_spaces")

_T = TypeVar("_T")
Route = Sequence[tuple["SpaceClient", "str | None"]]
"""Clients to ask in order, each with the ``fallback_from`` its answer reports."""


def _label(client: SpaceClient) -> str:
    return client.tier if client.variant is None else f"{client.tier}/{client.variant}"


def _falling_back(route: Route, failed: int, exc: HFSpacesError) -> None:
    here, there = route[failed][0], route[failed + 1][0]
    if here.tier != there.tier:
        logger.warning(
            "tier %r: answering from the base tier: %s failed: %s",
            here.tier,
            _label(here),
            exc.message,
        )
    else:
        logger.warning(
            "tier %r: answering from variant %r: %s failed: %s",
            here.tier,
            there.variant,
            _label(here),
            exc.message,
        )


def marked(value: _T, fallback_from: str | None) -> _T:
    """``value`` with ``fallback_from`` set, where it carries an answer."""
    if fallback_from is None:
        return value
    if isinstance(value, SpaceAnswer):
        return replace(value, fallback_from=fallback_from)
    if isinstance(value, StreamChunk) and value.answer is not None:
        answer = replace(value.answer, fallback_from=fallback_from)
        return replace(value, answer=answer)
    return value


def call(route: Route, asked: str | None, fn: Callable[[SpaceClient], _T]) -> _T:
    for i, (client, fallback_from) in enumerate(route[:-1]):
        try:
            return marked(fn(client), fallback_from)
        except AVAILABILITY_ERRORS as exc:
            _falling_back(route, i, exc)
    client, fallback_from = route[-1]
    return marked(fn(client), fallback_from)


async def acall(route: Route, asked: str | None, fn: Callable[[SpaceClient], Awaitable[_T]]) -> _T:
    for i, (client, fallback_from) in enumerate(route[:-1]):
        try:
            return marked(await fn(client), fallback_from)
        except AVAILABILITY_ERRORS as exc:
            _falling_back(route, i, exc)
    client, fallback_from = route[-1]
    return marked(await fn(client), fallback_from)


def stream(
    route: Route, asked: str | None, fn: Callable[[SpaceClient], Iterator[StreamChunk]]
) -> Iterator[StreamChunk]:
    for i, (client, fallback_from) in enumerate(route[:-1]):
        started = False
        try:
            for chunk in fn(client):
                started = True
                yield marked(chunk, fallback_from)
            return
        except AVAILABILITY_ERRORS as exc:
            if started:
                raise
            _falling_back(route, i, exc)
    client, fallback_from = route[-1]
    for chunk in fn(client):
        yield marked(chunk, fallback_from)


async def astream(
    route: Route, asked: str | None, fn: Callable[[SpaceClient], AsyncIterator[StreamChunk]]
) -> AsyncIterator[StreamChunk]:
    for i, (client, fallback_from) in enumerate(route[:-1]):
        started = False
        try:
            async for chunk in fn(client):
                started = True
                yield marked(chunk, fallback_from)
            return
        except AVAILABILITY_ERRORS as exc:
            if started:
                raise
            _falling_back(route, i, exc)
    client, fallback_from = route[-1]
    async for chunk in fn(client):
        yield marked(chunk, fallback_from)
