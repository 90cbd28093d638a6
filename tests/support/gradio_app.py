"""A real Gradio app on loopback, for recording and testing the ``gradio`` protocol.

The app streams a deterministic answer word by word (a generator function, as chat demos do),
optionally requires a token, and has a second API that always raises ``gr.Error``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


QUOTA_MESSAGES = (
    "You have exceeded your GPU quota (46s left vs. 60s requested). Sign-up on Hugging Face to "
    "get more quotas or retry in 0:09:48.",
    "You have exceeded your GPU quota (60s requested vs. 56s left). "
    '<a href="https://huggingface.co/join" target="_blank">Create a free account</a> to get '
    "more usage quota.",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_app(*, slow: float = 0.0) -> Any:
    import gradio as gr

    def generate(
        prompt: str, max_new_tokens: float = 16, temperature: float = 0.7
    ) -> Iterator[str]:
        if slow:
            time.sleep(slow)
        words = f"Gradio answer to: {prompt}".split()[: max(1, int(max_new_tokens))]
        out: list[str] = []
        for word in words:
            out.append(word)
            yield " ".join(out)

    def fail(prompt: str) -> str:
        raise gr.Error("the model ran out of memory")

    # What ZeroGPU Spaces answer when the caller's GPU quota is spent, in both known forms.
    def quota_signed_out(prompt: str) -> str:
        raise gr.Error(QUOTA_MESSAGES[0])

    def quota_anonymous(prompt: str) -> str:
        raise gr.Error(QUOTA_MESSAGES[1])

    def whoami(prompt: str, request: gr.Request) -> str:
        # ZeroGPU charges the user named by X-IP-Token: echo what arrived.
        return f"x-ip-token={request.headers.get('x-ip-token', '')}"

    # Gradio finds the request parameter by its annotation object (not a string).
    whoami.__annotations__["request"] = gr.Request

    with gr.Blocks() as demo:
        prompt = gr.Textbox(label="prompt")
        tokens = gr.Slider(1, 256, value=16, step=1, label="max_new_tokens")
        temperature = gr.Slider(0, 2, value=0.7, label="temperature")
        out = gr.Textbox(label="output")
        gr.Button("Generate").click(
            generate,
            [prompt, tokens, temperature],
            out,
            api_name="predict",
            concurrency_limit=1 if slow else "default",
        )
        gr.Button("Fail").click(fail, [prompt], out, api_name="fail")
        gr.Button("Quota").click(quota_signed_out, [prompt], out, api_name="quota")
        gr.Button("Quota 2").click(quota_anonymous, [prompt], out, api_name="quota_anonymous")
        gr.Button("Who").click(whoami, [prompt], out, api_name="whoami")
    return demo


@contextmanager
def running_gradio_app(*, slow: float = 0.0, queue_size: int | None = None) -> Iterator[str]:
    """Launch the app on a free loopback port; yield its URL."""
    demo = build_app(slow=slow)
    port = _free_port()
    demo.queue(max_size=queue_size).launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()
