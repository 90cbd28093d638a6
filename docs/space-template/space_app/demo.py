"""The demo backend's answers: deterministic filler text, NOT the output of a language model.

A copy of ``langchain_hf_spaces.testing.demo_responder`` (the Space must run where that package
is not installed): the same prompt, seed and ``max_new_tokens`` give the same answer as the
package's ``LocalSpace``, so the Space can be tested without model weights.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_MAX_NEW_TOKENS", "demo_responder", "split_tokens"]

DEFAULT_MAX_NEW_TOKENS = 32

_VOCABULARY = (
    "bright", "careful", "clear", "compact", "curious", "draft", "early", "gentle",
    "garden", "idea", "insight", "kind", "light", "local", "model", "modest", "note",
    "open", "pattern", "plan", "quiet", "river", "sample", "signal", "simple", "small",
    "steady", "stone", "summary", "swift", "token", "useful", "valley", "value", "warm",
    "window", "answer", "bridge", "harbor", "lantern", "meadow", "orbit", "pebble", "thread",
)  # fmt: skip


def demo_responder(prompt: str, parameters: Mapping[str, Any], *, name: str = "local") -> str:
    """``"Demo answer from <name>: "`` and a few sentences picked by a PRNG seeded with the
    prompt and ``parameters["seed"]``; at most ``parameters["max_new_tokens"]`` words."""
    limit = parameters.get("max_new_tokens")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        limit = DEFAULT_MAX_NEW_TOKENS
    seed_text = json.dumps(parameters.get("seed"), sort_keys=True, default=str)
    digest = hashlib.sha256(f"{seed_text}\x00{prompt}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))

    words = f"Demo answer from {name}:".split()
    remaining = rng.randint(10, 20)
    while remaining > 0:
        length = min(remaining, rng.randint(4, 8))
        sentence = [rng.choice(_VOCABULARY) for _ in range(length)]
        sentence[0] = sentence[0].capitalize()
        sentence[-1] += "."
        words.extend(sentence)
        remaining -= length
    return " ".join(words[:limit])


def split_tokens(text: str) -> list[str]:
    """Whitespace "tokens", each with its trailing whitespace; ``"".join(...) == text``."""
    lead = text[: len(text) - len(text.lstrip())]
    tokens = re.findall(r"\S+\s*", text[len(lead) :])
    if lead:
        if tokens:
            tokens[0] = lead + tokens[0]
        else:
            tokens = [lead]
    return tokens
