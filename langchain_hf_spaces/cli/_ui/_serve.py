"""``hf-spaces ui``: serve the settings page on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import webbrowser

from langchain_hf_spaces.cli._console import EXIT_OK, PROG, Console, UsageError
from langchain_hf_spaces.cli._options import config_path
from langchain_hf_spaces.config import is_loopback_url

__all__ = ["bind_socket", "check_bind_host", "cmd_ui"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def check_bind_host(host: str, *, unsafe_host: bool) -> None:
    """Refuse an address other than this machine's unless ``--unsafe-host`` is given."""
    literal = f"[{host}]" if ":" in host else host
    if not is_loopback_url(f"http://{literal}/") and not unsafe_host:
        raise UsageError(
            f"refusing to serve the settings page on {host}, which is not a loopback address: "
            "anyone who can reach it could read and change your settings.",
            hint=f"Use the default ({DEFAULT_HOST}), or pass --unsafe-host if you really mean it.",
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``port`` 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"cannot serve on {host}:{port}: {exc.strerror or exc}.",
            hint="Pick another port with --port N (0 picks a free one).",
        ) from None
    return sock


def cmd_ui(args: argparse.Namespace, console: Console) -> int:
    """Serve the settings page (see ``hf-spaces ui --help``)."""
    host = "127.0.0.1" if args.host == "localhost" else args.host
    check_bind_host(host, unsafe_host=args.unsafe_host)
    try:
        import uvicorn

        from langchain_hf_spaces.cli._ui._app import SettingsPage
    except ImportError:
        raise UsageError(
            f"`{PROG} ui` needs starlette and uvicorn.",
            hint='pip install "langchain-hf-spaces[server]"',
        ) from None
    path = config_path(args)
    if args.port is None:  # the usual port, else any free one
        try:
            sock = bind_socket(host, DEFAULT_PORT)
        except UsageError:
            sock = bind_socket(host, 0)
    else:
        sock = bind_socket(host, args.port)
    port = sock.getsockname()[1]
    loopback = is_loopback_url(f"http://{'[' + host + ']' if ':' in host else host}/")
    app = SettingsPage(path.resolve(), port=port, extra_host="" if loopback else host)
    shown = "127.0.0.1" if loopback else (f"[{host}]" if ":" in host else host)
    url = f"http://{shown}:{port}/?token={app.session}"
    console.print(f"The settings page for {path.resolve()}:")
    console.print(f"    {url}")
    console.print("Open it in your browser (the token in it is this session's key). Ctrl-C stops.")
    console.out.flush()
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        http="h11",
        ws="none",
        interface="asgi3",
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    if not args.no_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops, then raises Ctrl-C again
        server.run(sockets=[sock])
    console.print("Stopped.")
    return EXIT_OK
