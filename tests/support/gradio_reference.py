"""What ``gradio_client`` of the same Gradio version answers, recorded as the reference.

Run inside a server venv (it imports ``gradio_client`` only, never our package)::

    python tests/support/gradio_reference.py servers.json reference-5.json

For each app in ``servers.json`` (see ``gradio_apps.py``) it calls the app's message endpoint
with :data:`PROMPT` through ``Client.predict`` and stores the raw result (or the error message),
so ``tests/gradio_versions/test_gradio_versions.py`` can check our client gives the same answer.
"""

from __future__ import annotations

import json
import sys
from typing import Any

PROMPT = "hello world"
# The endpoint gradio_client is pointed at, per app (6.x names endpoints after the function).
API_NAMES = {
    "interface": ("/predict", "/answer"),
    "stream": ("/predict", "/stream_answer"),
    "error": ("/predict", "/fail"),
    "chat": ("/chat", "/reply"),
    "chat_stream": ("/chat", "/chat_stream"),
    "chat_extra": ("/chat", "/chat_extra"),
    "chat_multimodal": ("/chat", "/reply"),
    "chat_thinking": ("/chat", "/thinking"),
    "blocks_two": ("/shout", "/shout"),
    "blocks_chat": ("/respond", "/respond"),
}


def _args(name: str) -> list[Any]:
    if name in ("interface", "stream"):
        return [PROMPT, 16]
    if name == "chat_extra":
        return [PROMPT, "Be brief.", 0.7]
    if name == "chat_multimodal":
        return [{"text": PROMPT, "files": []}]
    if name == "blocks_chat":
        return [PROMPT, None]
    return [PROMPT]


def main() -> None:
    from gradio_client import Client

    with open(sys.argv[1]) as f:
        servers = json.load(f)
    version = servers.pop("version")
    six = version.startswith("6.")
    out: dict[str, Any] = {"gradio": version, "prompt": PROMPT, "answers": {}}
    for name, url in servers.items():
        api_name = API_NAMES[name][1 if six else 0]
        try:
            result = Client(url, verbose=False).predict(*_args(name), api_name=api_name)
            out["answers"][name] = {"api_name": api_name, "result": _plain(result)}
        except Exception as exc:  # the reference for an app that raises
            out["answers"][name] = {"api_name": api_name, "error": str(exc)}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


if __name__ == "__main__":
    main()
