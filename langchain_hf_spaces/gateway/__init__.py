"""An OpenAI-compatible gateway over the configured tiers (``hf-spaces serve``).

Any framework that speaks the OpenAI API (the ``openai`` SDK, smolagents, pydantic-ai, CrewAI,
AutoGen, LiteLLM, DSPy ...) can use the tiers through it: ``model`` names a tier, and every call
goes through a :class:`~langchain_hf_spaces.SpacesClient`, so sleeping Spaces are woken and waited
for, retries and fallbacks apply, whatever protocol each Space speaks::

    from langchain_hf_spaces.gateway import create_app

    app = create_app()                 # SpacesSettings.load(): env + hf-spaces.toml
    # uvicorn.run(app, host="127.0.0.1", port=8000), or mount it in your own ASGI app

Routes: ``POST /v1/chat/completions`` (streaming, tools, ``response_format``),
``POST /v1/completions``, ``GET /v1/models``, ``GET /v1/models/{tier}``. Needs the ``server``
extra (Starlette), imported when :func:`create_app` is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from langchain_hf_spaces import _constants as C

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from langchain_hf_spaces._chat_templates import ChatTemplate
    from langchain_hf_spaces._spaces import SpacesClient
    from langchain_hf_spaces.config import SpacesSettings
    from langchain_hf_spaces.gateway._server import GatewayServer

__all__ = ["GatewayServer", "create_app"]


def create_app(
    client: SpacesClient | None = None,
    *,
    settings: SpacesSettings | None = None,
    api_key: str | None = None,
    chat_template: str | ChatTemplate | Mapping[str, str | ChatTemplate] = "chatml",
    fallback_to_base: bool = False,
    max_body_bytes: int = C.GATEWAY_MAX_BODY_BYTES,
) -> Starlette:
    """The gateway as an ASGI application.

    Args:
        client: the :class:`~langchain_hf_spaces.SpacesClient` every call goes through (bring
            yours to share its cache, observers, variants, ``on_wait``; you close it). Default:
            one made from ``settings`` and ``fallback_to_base``, closed when the app shuts down.
        settings: the tiers, when no ``client`` is given (default :meth:`SpacesSettings.load`).
        api_key: when set, every request must carry ``Authorization: Bearer <api_key>``
            (else 401 in OpenAI's error shape); compared in constant time.
        chat_template: how conversations are rendered for Spaces that take one prompt (not
            ``openai``-protocol Spaces or Gradio chat apps): a preset (``chatml``, ``llama3``,
            ``zephyr``), a Jinja2 string, a :class:`ChatTemplate`, or a mapping tier -> one of
            those (tiers not named use ``chatml``).
        fallback_to_base: with no ``client``: answer from the base tier when a tier is
            unavailable (an unknown ``model`` is still a 404).
        max_body_bytes: the largest request body read; more is a 413.
    """
    if client is not None and (settings is not None or fallback_to_base):
        raise ValueError(
            "create_app: pass settings and fallback_to_base to the SpacesClient you give, "
            "not beside it."
        )
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
        raise ValueError(f"max_body_bytes must be an int: {max_body_bytes!r}")
    if max_body_bytes <= 0:
        raise ValueError(f"max_body_bytes must be positive: {max_body_bytes}")
    try:
        from langchain_hf_spaces.gateway._app import Gateway
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the gateway needs starlette: pip install "langchain-hf-spaces[server]"'
        ) from exc
    from langchain_hf_spaces._spaces import SpacesClient

    owned = client is None
    if client is None:
        client = SpacesClient(settings, fallback_to_base=fallback_to_base)
    gateway = Gateway(
        client,
        api_key=api_key or None,
        chat_template=chat_template,
        max_body_bytes=max_body_bytes,
        close_client=owned,
    )
    return gateway.app()


def __getattr__(name: str) -> object:
    if name == "GatewayServer":  # needs uvicorn: imported on first use
        from langchain_hf_spaces.gateway._server import GatewayServer

        return GatewayServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
