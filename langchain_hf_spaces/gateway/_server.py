"""``GatewayServer``: the gateway served on loopback in a background thread (tests, notebooks,
examples: an agent framework that needs a URL gets one)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from langchain_hf_spaces.testing._loopback import HOST, LoopbackServer, Served

__all__ = ["GatewayServer"]


class _App:
    """The ASGI app as :class:`LoopbackServer` runs it (nothing to end early on stop)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def bind_stop_event(self, event: asyncio.Event) -> None:
        del event

    def signal_stop(self) -> None:
        pass


class GatewayServer(Served):
    """Serve :func:`~langchain_hf_spaces.gateway.create_app` on ``127.0.0.1`` in a thread.

    ``GatewayServer(client, api_key=...)`` takes :func:`create_app`'s arguments, or an app
    already made (``app=``). ``base_url`` (``http://127.0.0.1:<port>/v1``) is what OpenAI
    clients take::

        with LocalSpace() as space, GatewayServer(SpacesClient(settings)) as gateway:
            openai.OpenAI(base_url=gateway.base_url, api_key="unused").models.list()
    """

    def __init__(self, client: Any = None, *, port: int = 0, app: Any = None, **options: Any):
        if app is None:
            from langchain_hf_spaces.gateway import create_app

            app = create_app(client, **options)
        elif client is not None or options:
            raise ValueError("GatewayServer: give an app, or create_app's arguments, not both")
        self.app = app
        self._server = LoopbackServer(
            _App(app), label="the gateway", thread_name="hf-spaces-gateway", port=port
        )

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        """The OpenAI base URL: ``http://127.0.0.1:<port>/v1``."""
        return f"http://{HOST}:{self.port}/v1"

    def start(self) -> GatewayServer:
        self._server.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._server.stop(timeout)
