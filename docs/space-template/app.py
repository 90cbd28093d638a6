"""Entry point of the Space: ``python app.py`` (what the Dockerfile runs).

Settings come from environment variables (Space variables and secrets); see README.md.
Also runnable as ``uvicorn --factory app:create_app --port 7860``.
"""

from __future__ import annotations

from space_app.server import create_app, serve

__all__ = ["create_app"]

if __name__ == "__main__":
    serve()
