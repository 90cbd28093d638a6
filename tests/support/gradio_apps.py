"""Real Gradio apps of every common shape, for any Gradio version from 3.50 to 6.x.

Run inside a server venv of one Gradio version (it imports nothing of ours)::

    python tests/support/gradio_apps.py --out servers.json     # launches every app, then waits

``servers.json`` maps each app's name to its URL plus ``"version"``; the process serves until it
is killed or its standard input closes. The answers are deterministic, so what our client and
``gradio_client`` get from them can be compared and recorded.

Shapes: ``interface`` (text + a slider), ``stream`` (a generator), ``chat`` / ``chat_stream``
(``gr.ChatInterface``), ``chat_extra`` (ChatInterface with a system-prompt and a temperature
input, messages history where the version has it), ``chat_multimodal`` (4.x+), ``chat_thinking``
(``gr.ChatMessage`` thoughts, 5.x+), ``blocks_two`` (two named endpoints), ``blocks_chat`` (Blocks
with a Chatbot and a hidden ``gr.State``), ``error`` (raises ``gr.Error``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

MAJOR = int(gr.__version__.split(".")[0])
ERROR_MESSAGE = "the model ran out of memory"


def _turns(history: Any) -> list[str]:
    """The user messages of a history, tuples or messages format."""
    out: list[str] = []
    for item in history or []:
        if isinstance(item, dict):
            if item.get("role") == "user":
                content = item.get("content")
                if isinstance(content, list):  # 6.x: content parts
                    content = "".join(
                        str(p.get("text", "")) for p in content if isinstance(p, dict)
                    )
                out.append(content if isinstance(content, str) else str(content))
        elif isinstance(item, (list, tuple)) and item:
            out.append(str(item[0]))
    return out


def _text(message: Any) -> str:
    return str(message.get("text", "")) if isinstance(message, dict) else str(message)


def reply(message: Any, history: Any) -> str:
    turns = _turns(history)
    last = f" (last: {turns[-1]})" if turns else ""
    return f"[{len(turns)} earlier{last}] You said: {_text(message)}"


def answer(prompt: str, max_new_tokens: float = 16) -> str:
    words = f"Gradio answer to: {prompt}".split()
    return " ".join(words[: max(1, int(max_new_tokens))])


def stream_answer(prompt: str, max_new_tokens: float = 16) -> Iterator[str]:
    words = answer(prompt, max_new_tokens).split()
    for i in range(1, len(words) + 1):
        yield " ".join(words[:i])


def chat_stream(message: Any, history: Any) -> Iterator[str]:
    full = reply(message, history)
    for i in range(1, len(full.split()) + 1):
        yield " ".join(full.split()[:i])


def chat_extra(message: Any, history: Any, system_prompt: str, temperature: float) -> str:
    return f"<{system_prompt}|t={temperature}> " + reply(message, history)


def fail(prompt: str) -> str:
    raise gr.Error(ERROR_MESSAGE)


def build() -> dict[str, Any]:
    slider = {"minimum": 1, "maximum": 256, "value": 16, "step": 1, "label": "max_new_tokens"}
    apps: dict[str, Any] = {
        "interface": gr.Interface(
            answer, [gr.Textbox(label="prompt"), gr.Slider(**slider)], gr.Textbox(label="output")
        ),
        "stream": gr.Interface(
            stream_answer,
            [gr.Textbox(label="prompt"), gr.Slider(**slider)],
            gr.Textbox(label="output"),
        ),
        "error": gr.Interface(fail, gr.Textbox(label="prompt"), gr.Textbox()),
        "chat": gr.ChatInterface(reply),
        "chat_stream": gr.ChatInterface(chat_stream),
    }
    extra_inputs = [
        gr.Textbox("Be brief.", label="System prompt"),
        gr.Slider(0, 2, 0.7, label="Temperature"),
    ]
    if MAJOR in (4, 5):
        apps["chat_extra"] = gr.ChatInterface(
            chat_extra, type="messages", additional_inputs=extra_inputs
        )
    else:
        apps["chat_extra"] = gr.ChatInterface(chat_extra, additional_inputs=extra_inputs)
    if MAJOR >= 4:
        apps["chat_multimodal"] = gr.ChatInterface(reply, multimodal=True)
    if MAJOR >= 5:

        def thinking(message: Any, history: Any) -> list[Any]:
            return [
                gr.ChatMessage(
                    role="assistant",
                    content=f"Thinking about {_text(message)}",
                    metadata={"title": "Thought"},
                ),
                gr.ChatMessage(role="assistant", content=reply(message, history)),
            ]

        kw: dict[str, Any] = {"type": "messages"} if MAJOR == 5 else {}
        apps["chat_thinking"] = gr.ChatInterface(thinking, **kw)

    with gr.Blocks() as two:
        text = gr.Textbox(label="text")
        out = gr.Textbox(label="result")
        gr.Button("Summarize").click(
            lambda t: f"Summary: {t[:40]}", text, out, api_name="summarize"
        )
        gr.Button("Shout").click(lambda t: t.upper(), text, out, api_name="shout")
    apps["blocks_two"] = two

    with gr.Blocks() as blocks_chat:
        chatbot = gr.Chatbot(**({"type": "messages"} if MAJOR in (4, 5) else {}))
        state = gr.State(0)
        msg = gr.Textbox(label="message")

        def respond(message: str, history: Any, count: int) -> tuple[str, Any, int]:
            text = reply(message, history) + f" #{count + 1}"
            history = list(history or [])
            if MAJOR >= 6 or (history and isinstance(history[0], dict)) or MAJOR in (4, 5):
                history += [
                    {"role": "user", "content": message},
                    {"role": "assistant", "content": text},
                ]
            else:
                history.append([message, text])
            return "", history, count + 1

        msg.submit(respond, [msg, chatbot, state], [msg, chatbot, state], api_name="respond")
    apps["blocks_chat"] = blocks_chat
    return apps


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    urls: dict[str, Any] = {"version": gr.__version__}
    for name, demo in build().items():
        if args.only and name not in args.only:
            continue
        port = _free_port()
        demo.queue().launch(
            server_name="127.0.0.1",
            server_port=port,
            prevent_thread_lock=True,
            quiet=True,
            show_error=True,
        )
        urls[name] = f"http://127.0.0.1:{port}"
    with open(args.out + ".tmp", "w") as f:
        json.dump(urls, f, indent=2)
    os.replace(args.out + ".tmp", args.out)
    sys.stdin.read()  # serve until stdin closes (the recorder holds it open)
    os._exit(0)


if __name__ == "__main__":
    main()
