"""Names of the keys an input dict may use (no imports: the core and every framework share them)."""

from __future__ import annotations

__all__ = ["PROMPT_KEYS"]

PROMPT_KEYS: tuple[str, ...] = ("prompt", "input", "question", "messages")
"""Keys an input dict may carry its prompt under (one of them), next to ``context``."""
