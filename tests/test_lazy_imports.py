"""httpx (with httpcore and h11) is imported on a Space's first call, not by the import."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_importing_the_package_and_the_langchain_classes_does_not_import_httpx() -> None:
    code = """
        import sys
        import langchain_hf_spaces
        from langchain_hf_spaces import HuggingFaceSpaceLLM, ChatHuggingFaceSpace, SpacesClient
        print(sorted(m for m in ("httpx", "httpcore", "h11") if m in sys.modules))
    """
    assert _run(code) == "[]"


def test_the_first_call_imports_httpx_and_binds_it_in_the_transport() -> None:
    # A refused connection goes through the deferred module twice: the send and the error's
    # translation (``except httpx.HTTPError``), which must still yield our typed error.
    code = """
        import socket, sys
        from langchain_hf_spaces import SpaceClient, SpaceConfig, SpaceConnectionError
        from langchain_hf_spaces import _transport
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        client = SpaceClient(SpaceConfig(url=f"http://127.0.0.1:{port}", max_retries=0))
        try:
            client.generate("hi")
        except SpaceConnectionError as exc:
            print(type(exc).__name__, exc.tier)
        print("httpx" in sys.modules, _transport.httpx is sys.modules["httpx"])
        print(_transport._wire is sys.modules["langchain_hf_spaces._wire"])
    """
    assert _run(code).splitlines() == ["SpaceConnectionError base", "True True", "True"]


def test_the_async_path_works_through_the_deferred_module() -> None:
    code = """
        import asyncio, socket
        from langchain_hf_spaces import SpaceClient, SpaceConfig, SpaceConnectionError
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        client = SpaceClient(SpaceConfig(url=f"http://127.0.0.1:{port}", max_retries=0))
        try:
            asyncio.run(client.agenerate("hi"))
        except SpaceConnectionError as exc:
            print(type(exc).__name__)
    """
    assert _run(code) == "SpaceConnectionError"
