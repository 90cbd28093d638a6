"""A real Gradio app whose endpoints are tools: text, choices, an image, an error.

``/reverse`` (text + a Number with a default), ``/translate`` (a Dropdown with a default and a
Radio without one), ``/swatch`` (returns a PNG made with PIL), ``/fail`` (raises ``gr.Error``),
``/count`` (a hidden ``gr.State`` input), ``/auth`` (says which headers carried a token),
``/secret`` (private: not an API) and an unnamed event.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.gradio_app import _free_port

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

FAIL_MESSAGE = "the swatch printer is out of ink"
COLOURS = {"red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255)}


def build_tools_app() -> Any:
    import gradio as gr
    from PIL import Image

    def reverse(text: str, times: int = 1) -> str:
        """Reverse a text, and repeat it."""
        return text[::-1] * int(times)

    def translate(text: str, language: str, register: str) -> str:
        return f"[{language}, {register}] {text}"

    def swatch(colour: str, size: float) -> Any:
        return Image.new("RGB", (int(size), int(size)), COLOURS[colour])

    def fail(text: str) -> str:
        raise gr.Error(FAIL_MESSAGE)

    def count(text: str, seen: int) -> str:
        return f"{text} ({seen})"

    def auth(text: str, request: gr.Request) -> str:
        # Which headers carried a bearer token (its value is never echoed).
        names = ("authorization", "x-hf-authorization")
        return ",".join(n for n in names if request.headers.get(n, "").startswith("Bearer "))

    auth.__annotations__["request"] = gr.Request  # gradio finds it by the annotation object

    with gr.Blocks() as demo:
        text = gr.Textbox(label="Text")
        times = gr.Number(value=1, precision=0, label="Times")
        out = gr.Textbox(label="Result")
        gr.Button("Reverse").click(reverse, [text, times], out, api_name="reverse")
        language = gr.Dropdown(["French", "German", "Italian"], value="French", label="Language")
        register = gr.Radio(["formal", "casual"], label="Register")
        gr.Button("Translate").click(
            translate,
            [text, language, register],
            out,
            api_name="translate",
            api_description="Translate a text into another language.",
        )
        colour = gr.Radio(list(COLOURS), value="red", label="Colour")
        size = gr.Slider(1, 64, value=8, step=1, label="Size")
        image = gr.Image(type="pil", format="png", label="Swatch")
        gr.Button("Swatch").click(swatch, [colour, size], image, api_name="swatch")
        gr.Button("Fail").click(fail, [text], out, api_name="fail")
        seen = gr.State(7)
        gr.Button("Count").click(count, [text, seen], out, api_name="count")
        gr.Button("Auth").click(auth, [text], out, api_name="auth")
        gr.Button("Secret").click(reverse, [text], out, api_name="secret", api_visibility="private")
        gr.Button("Unnamed").click(lambda t: t, [text], out, api_name=False)
    return demo


@contextmanager
def running_tools_app() -> Iterator[str]:
    """Launch the app on a free loopback port; yield its URL."""
    demo = build_tools_app()
    port = _free_port()
    demo.queue().launch(
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
