"""A minimal ChatML renderer for text Spaces (private; to be replaced by the shared
``langchain_hf_spaces._chat_templates`` module once it exists)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["END_OF_TURN", "render_chatml"]

START_OF_TURN = "<|im_start|>"
END_OF_TURN = "<|im_end|>"
_MARKERS = (START_OF_TURN, END_OF_TURN)


def render_chatml(turns: Sequence[tuple[str, str]]) -> str:
    """Render ``(role, content)`` turns as ChatML, ending with an open assistant turn.

    Raises:
        ValueError: a content holds a ChatML marker (it could pose as another turn).
    """
    parts: list[str] = []
    for role, content in turns:
        for marker in _MARKERS:
            if marker in content or marker in role:
                raise ValueError(
                    f"a {role} message contains the chat-template marker {marker!r}, which "
                    "would let it pose as another turn; remove it from the message."
                )
        parts.append(f"{START_OF_TURN}{role}\n{content}{END_OF_TURN}\n")
    parts.append(f"{START_OF_TURN}assistant\n")
    return "".join(parts)
