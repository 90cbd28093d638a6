"""A Hugging Face Space that serves a text-generation model four ways.

The guide's ``POST /api/generate``, Text Generation Inference (``/generate``,
``/generate_stream``, ``/info``, ``/health``), OpenAI-compatible chat (``/v1/chat/completions``,
``/v1/models``) and a Gradio UI at ``/`` whose ``/predict`` API Gradio clients can call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from space_app.config import Settings
    from space_app.server import create_app, serve

__version__ = "1.0.0"

__all__ = ["Settings", "__version__", "create_app", "serve"]


def __getattr__(name: str) -> object:
    # Lazy, so that importing space_app.config does not import FastAPI and Gradio.
    if name in ("create_app", "serve"):
        from space_app import server

        return getattr(server, name)
    if name == "Settings":
        from space_app.config import Settings

        return Settings
    raise AttributeError(name)
