"""The raw ASGI channel of one request: read the body, answer, stream, pause, hang up.

Connection-level misbehaviour (a closed or reset connection, a cut stream) happens here, on
the socket itself, so that a client sees exactly what a broken Space would send it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Sequence
from typing import NoReturn

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

__all__ = ["Channel", "ConnectionGone", "read_body"]

logger = logging.getLogger("langchain_hf_spaces.testing")


class ConnectionGone(Exception):
    """The connection was closed on purpose (or the server is stopping); answer nothing."""


class Channel:
    """``scope``/``receive``/``send`` of one request, plus the server's stop event."""

    __slots__ = ("receive", "scope", "send", "stopping", "stream_delay")

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        stopping: asyncio.Event | None,
        stream_delay: float,
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.stopping = stopping
        self.stream_delay = stream_delay

    async def respond(self, response: Response) -> None:
        """Send a complete starlette response."""
        await response(self.scope, self.receive, self.send)

    async def pause(self, seconds: float) -> None:
        """Sleep, unless the server stops first: then close the connection and give up."""
        if seconds <= 0:
            return
        if self.stopping is None:
            await asyncio.sleep(seconds)
            return
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return
        await self.close(rst=False)

    async def stream(self, events: Sequence[bytes], cut: int | None = None) -> None:
        """Send Server-Sent Events, ``stream_delay`` apart; with ``cut``, close the connection
        after that many events (always before the last one)."""
        await self.send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        limit = len(events) if cut is None else min(cut, len(events) - 1)
        transport = _transport_of(self.send)
        for index, event in enumerate(events):
            if index >= limit:
                await self.close(rst=False)
            if index and self.stream_delay > 0:
                await self.pause(self.stream_delay)
            await self.send({"type": "http.response.body", "body": event, "more_body": True})
            # Let the loop see a client that hung up (a client cutting a stream at a stop
            # sequence is normal): stop there, quietly, instead of writing on into a closed
            # socket (asyncio warns at every such write) until the events run out.
            await asyncio.sleep(0)
            if _gone(self.send, transport):
                logger.debug("the client closed the stream after %d event(s)", index + 1)
                raise ConnectionGone
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def close(self, *, rst: bool) -> NoReturn:
        """Close the client connection now, without completing any response.

        With ``rst``, the connection is reset (``SO_LINGER`` 0) instead of closed cleanly.
        Waits until the server has noticed the disconnect, so that uvicorn neither logs an
        error nor tries to send a 500 of its own; then raises :class:`ConnectionGone`.
        """
        transport = _transport_of(self.send)
        if transport is None:
            raise RuntimeError(
                "LocalSpace connection faults need uvicorn's h11 protocol (transport not found)"
            )
        if rst:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_until_disconnect(self.receive), timeout=1.0)
        raise ConnectionGone


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` if the client went away before sending it."""
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _gone(send: Send, transport: asyncio.Transport | None) -> bool:
    """True once the client's connection is closed (or closing)."""
    if getattr(getattr(send, "__self__", None), "disconnected", False):
        return True
    return transport is not None and transport.is_closing()


def _transport_of(send: Send) -> asyncio.Transport | None:
    """uvicorn's ``send`` is a bound method of its request/response cycle, which holds the
    connection's transport. This is the one place that relies on that detail."""
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
