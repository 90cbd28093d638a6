"""The Gradio UI at ``/``; its ``/predict`` API is what the ``gradio`` protocol calls."""

from __future__ import annotations

import os
from collections.abc import Iterator

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from space_app.errors import ApiError
from space_app.generation import Run
from space_app.routes import SpaceState

__all__ = ["build_ui"]


def _intro(state: SpaceState) -> str:
    settings, backend = state.settings, state.backend
    if backend.kind == "demo":
        what = (
            "**Demo mode**: answers are deterministic filler text, not a language model. "
            "Set `BACKEND=transformers` and `MODEL_ID` to serve a model."
        )
    else:
        what = f"Model: `{backend.model_id}` on `{backend.device}`."
    return (
        f"# {settings.space_name}\n{what}\n\n"
        "APIs: `POST /api/generate` (the guide's format), TGI `POST /generate` and "
        "`/generate_stream`, OpenAI-compatible `POST /v1/chat/completions`, and this page's "
        "Gradio API `/predict` (`POST /gradio_api/call/predict`)."
    )


def build_ui(state: SpaceState) -> gr.Blocks:
    settings, limits = state.settings, state.limits

    def predict(prompt: str, max_new_tokens: float, temperature: float) -> Iterator[str]:
        """Stream the answer to ``prompt`` (the whole text so far on every update)."""
        try:
            text, params = limits.ui(prompt, max_new_tokens, temperature)
            run = Run(
                state.backend,
                state.backend.prepare_text(text),
                params,
                route="/gradio_api/predict",
                log_prompts=settings.log_prompts,
            )
            answer = ""
            yielded = False
            for piece in run:
                answer += piece
                yielded = True
                yield answer
            if not yielded:
                yield answer
        except ApiError as exc:
            raise gr.Error(exc.message) from None

    ui = gr.Blocks(title=settings.space_name)
    with ui:
        gr.Markdown(_intro(state))
        with gr.Row():
            with gr.Column(scale=3):
                prompt = gr.Textbox(label="Prompt", lines=4, placeholder="Ask something...")
            with gr.Column(scale=1):
                max_new_tokens = gr.Slider(
                    1,
                    limits.cap,
                    value=limits.default,
                    step=1,
                    label="max_new_tokens",
                )
                temperature = gr.Slider(0.0, 2.0, value=0.7, step=0.05, label="temperature")
        button = gr.Button("Generate", variant="primary")
        answer = gr.Textbox(label="Answer", lines=8)
        gr.on(
            [button.click, prompt.submit],
            predict,
            inputs=[prompt, max_new_tokens, temperature],
            outputs=answer,
            api_name="predict",
        )
    return ui
