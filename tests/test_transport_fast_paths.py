"""The transport's fast paths (issue #18 profiling): the same answers as the slow ones.

* ``_wire._readable`` and ``_AsyncClippedStream.get_extra_info("is_readable")``: httpcore asks
  it of every idle pooled connection for every request; we poll the socket ourselves instead
  of going through anyio's attribute machinery. A connection the server closed while idle must
  still be seen as readable (so the pool drops it instead of sending on it).
* ``_transport._origin``: cached per URL; an invalid URL is still refused every time.
"""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest

from langchain_hf_spaces import SpaceClient, SpaceConfig, _transport, _wire


def test_readable_is_false_while_idle_and_true_with_data_or_at_the_end() -> None:
    a, b = socket.socketpair()
    try:
        assert _wire._readable(a) is False
        b.sendall(b"x")
        assert _wire._readable(a) is True
        a.recv(1)
        assert _wire._readable(a) is False
        b.close()
        assert _wire._readable(a) is True  # the peer's end: the next read returns b""
    finally:
        a.close()
    assert _wire._readable(a) is True  # closed here: fileno() is -1


class _KeepAliveServer:
    """Answers every request on a kept-alive connection; ``drop()`` closes them all, idle."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                body = json.dumps({"generated_text": "ok"}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def drop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()


def _pooled_streams(client: SpaceClient) -> list[object]:
    http = next(iter(client._pool._async.values()))
    pool = http._transport._pool  # type: ignore[attr-defined]
    return [c._connection._network_stream for c in pool.connections]


async def test_an_idle_connection_the_server_closed_is_dropped_not_reused() -> None:
    srv = _KeepAliveServer()
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = SpaceClient(SpaceConfig(url=f"http://127.0.0.1:{port}", max_retries=0))
    try:
        assert await client.agenerate("one") == "ok"
        (stream,) = _pooled_streams(client)
        assert isinstance(stream, _wire._AsyncClippedStream)
        assert stream.get_extra_info("is_readable") is False
        assert stream._sock.fileno() > 0  # the raw socket: looked up once, then kept
        assert await client.agenerate("two") == "ok"
        assert srv.connections == 1  # the idle connection was reused

        srv.drop()
        for _ in range(200):  # until the FIN has arrived (a hang guard, not a timing)
            if stream.get_extra_info("is_readable"):
                break
            await asyncio.sleep(0.01)
        assert stream.get_extra_info("is_readable") is True
        # With no retries, sending on the dead connection would fail the call.
        assert await client.agenerate("three") == "ok"
        assert srv.connections == 2
        # Other questions still go to httpcore's stream.
        (fresh,) = _pooled_streams(client)
        assert fresh.get_extra_info("server_addr")[1] == port
    finally:
        await client.aclose()
        srv.drop()
        server.close()
        await server.wait_closed()


def test_origin_is_cached_and_still_refuses_an_invalid_url() -> None:
    url = "https://User-Name.hf.space/api/generate"
    assert _transport._origin(url) == "https://user-name.hf.space:443"
    assert _transport._origin(url) is _transport._origin(url)
    assert _transport._origin("http://127.0.0.1:8/x") == "http://127.0.0.1:8"
    for _ in range(2):
        with pytest.raises((httpx.InvalidURL, ValueError)):
            _transport._origin("http://[::1")
