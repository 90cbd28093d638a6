"""``hf-spaces serve``: the OpenAI-compatible gateway over the tiers, until Ctrl-C.

Loopback by default. Another address is refused unless an API key is set (``--api-key`` or
``HF_SPACES_GATEWAY_API_KEY``): a gateway open to the network without one lets anyone spend the
Spaces' tokens and quotas; ``--allow-public`` serves it anyway (behind your own proxy's auth).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces.cli._console import EXIT_OK, PROG, Console, UsageError
from langchain_hf_spaces.cli._options import load_settings
from langchain_hf_spaces.config import is_loopback_url

__all__ = ["add_serve_parser", "check_public_host", "cmd_serve"]


def _literal(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def check_public_host(host: str, *, api_key: str | None, allow_public: bool) -> bool:
    """Whether ``host`` is loopback; a non-loopback one without a key is refused unless
    ``allow_public``."""
    loopback = is_loopback_url(f"http://{_literal(host)}/")
    if not loopback and not api_key and not allow_public:
        raise UsageError(
            f"refusing to serve the gateway on {host}, which is not a loopback address, "
            "without an API key: anyone who can reach it could use your Spaces (and their "
            "tokens and quotas).",
            hint=f"Set {C.GATEWAY_API_KEY_ENV} (or --api-key KEY), keep the default "
            f"--host {C.GATEWAY_HOST}, or pass --allow-public if another layer checks callers.",
        )
    return loopback


def add_serve_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "serve",
        parents=[common],
        help="an OpenAI-compatible API over the tiers (model = tier)",
        description="Serve /v1/chat/completions, /v1/completions and /v1/models for every "
        "OpenAI-compatible client or agent framework; `model` names a tier. Calls go through "
        "the package's client: sleeping Spaces are woken, retries and fallbacks apply. Needs "
        "the `server` extra.",
    )
    p.add_argument("--host", default=C.GATEWAY_HOST, help=f"address (default {C.GATEWAY_HOST})")
    p.add_argument(
        "--port", type=int, default=C.GATEWAY_PORT, help=f"port (default {C.GATEWAY_PORT}; 0: any)"
    )
    p.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"require 'Authorization: Bearer KEY' on every request (default "
        f"${C.GATEWAY_API_KEY_ENV}; prefer the variable: arguments show in `ps`)",
    )
    p.add_argument(
        "--allow-public",
        action="store_true",
        help="allow a non-loopback --host without an API key",
    )
    p.add_argument(
        "--fallback-to-base",
        action="store_true",
        help="answer from the base tier when a tier is unavailable",
    )
    p.add_argument(
        "--chat-template",
        default="chatml",
        metavar="NAME",
        help="chat template for Spaces that take one prompt: chatml (default), llama3, zephyr",
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    """Serve the gateway (see ``hf-spaces serve --help``)."""
    host = C.GATEWAY_HOST if args.host == "localhost" else args.host
    api_key = args.api_key or os.environ.get(C.GATEWAY_API_KEY_ENV) or None
    loopback = check_public_host(host, api_key=api_key, allow_public=args.allow_public)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port number (0-65535).")
    try:
        import uvicorn

        from langchain_hf_spaces.cli._ui._serve import bind_socket
        from langchain_hf_spaces.gateway import create_app
    except ImportError:
        raise UsageError(
            f"`{PROG} serve` needs starlette and uvicorn.",
            hint='pip install "langchain-hf-spaces[server]"',
        ) from None
    settings = load_settings(args)
    if not settings.tiers:
        raise UsageError(
            "no tier is configured: the gateway would have no model to serve.",
            hint=f"Run `{PROG} init`, or set HF_SPACES_BASE_URL.",
        )
    app = create_app(
        settings=settings,
        api_key=api_key,
        chat_template=args.chat_template,
        fallback_to_base=args.fallback_to_base,
    )
    sock = bind_socket(host, args.port)
    port = sock.getsockname()[1]
    shown = C.GATEWAY_HOST if loopback else _literal(host)
    models = ", ".join(
        f"{name} (default)" if name == settings.default_tier else name for name in settings.tiers
    )
    console.print("OpenAI-compatible gateway over your Spaces. Base URL:")
    console.print(f"    http://{shown}:{port}/v1")
    console.print(f"Models (tiers): {models}.")
    if api_key:
        console.print("Callers must send 'Authorization: Bearer <your API key>'.")
    else:
        console.print("No API key is required (any key an SDK insists on is accepted).")
    console.print("Ctrl-C stops.")
    console.out.flush()
    requests = logging.getLogger("langchain_hf_spaces.gateway")
    handler = logging.StreamHandler(console.err)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    requests.addHandler(handler)
    requests.setLevel(logging.INFO)
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        http="h11",
        ws="none",
        interface="asgi3",
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    try:
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops, then raises Ctrl-C again
            server.run(sockets=[sock])
    finally:
        requests.removeHandler(handler)
    console.print("Stopped.")
    return EXIT_OK
