"""Responders: what a :class:`~langchain_hf_spaces.testing.LocalSpace` answers (stdlib only)."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "Responder",
    "ResponderError",
    "ScriptExhaustedError",
    "ScriptedResponder",
    "demo_responder",
    "scripted_responder",
]

Responder = Callable[[str, dict[str, Any]], str | dict[str, Any]]
"""``(prompt, parameters) -> answer``.

The answer is the generated text, or (only for ``/v1/chat/completions``) a dict
``{"tool_calls": [{"name": str, "arguments": dict | str}, ...], "content": str | None}``.
Responders run in a worker thread, so they may block (e.g. ``time.sleep`` to simulate latency).
Raise :class:`ResponderError` to answer with an HTTP error of your choice.
"""

ScriptEntry = str | dict[str, Any] | BaseException

DEFAULT_MAX_NEW_TOKENS = 32

_VOCABULARY = (
    "bright", "careful", "clear", "compact", "curious", "draft", "early", "gentle",
    "garden", "idea", "insight", "kind", "light", "local", "model", "modest", "note",
    "open", "pattern", "plan", "quiet", "river", "sample", "signal", "simple", "small",
    "steady", "stone", "summary", "swift", "token", "useful", "valley", "value", "warm",
    "window", "answer", "bridge", "harbor", "lantern", "meadow", "orbit", "pebble", "thread",
)  # fmt: skip


class ResponderError(Exception):
    """Raise from a responder to make the Space answer with an HTTP error.

    >>> def picky(prompt: str, parameters: dict[str, Any]) -> str:
    ...     if not prompt.strip():
    ...         raise ResponderError("empty prompt", status=422)
    ...     return "ok"
    """

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ScriptExhaustedError(ResponderError):
    """A :func:`scripted_responder` was asked for more answers than its script holds."""


def demo_responder(prompt: str, parameters: Mapping[str, Any], *, name: str = "local") -> str:
    """A deterministic stand-in for a language model. It is NOT a model.

    The answer reads ``"Demo answer from <name>: "`` followed by a few short sentences of words
    picked from a small vocabulary by a :class:`random.Random` seeded with the SHA-256 of the
    prompt and ``parameters["seed"]``. The same prompt and seed always give the same answer; a
    different seed almost always gives a different one. ``parameters["max_new_tokens"]``
    (default 32) caps the number of whitespace-separated words of the whole answer.

    :class:`LocalSpace` uses it by default, bound to the space's name::

        >>> demo_responder("Write a slogan", {"seed": 1, "max_new_tokens": 6}, name="base")
        'Demo answer from base: ...'  # doctest: +SKIP
    """
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


class ScriptedResponder:
    """Answers from a script. Build it with :func:`scripted_responder`.

    Thread-safe: concurrent requests each take a different entry, in arrival order.
    """

    def __init__(
        self,
        script: Sequence[ScriptEntry] | Mapping[str, ScriptEntry],
    ) -> None:
        if isinstance(script, (str, bytes)):
            raise TypeError("scripted_responder needs a list of answers, not a single string")
        self._lock = threading.Lock()
        self._mapping: dict[str, ScriptEntry] | None = None
        self._queue: list[ScriptEntry] = []
        if isinstance(script, Mapping):
            self._mapping = dict(script)
        else:
            self._queue = list(script)
        self._total = len(self._queue)
        self._next = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        """Every ``(prompt, parameters)`` this responder was called with, in order."""

    @property
    def remaining(self) -> int:
        """How many scripted answers are left (always 0 for the mapping form)."""
        with self._lock:
            return self._total - self._next

    def __call__(self, prompt: str, parameters: dict[str, Any]) -> str | dict[str, Any]:
        with self._lock:
            self.calls.append((prompt, dict(parameters)))
            if self._mapping is not None:
                entry = self._lookup(prompt)
            else:
                if self._next >= self._total:
                    raise ScriptExhaustedError(
                        f"scripted_responder: script exhausted after {self._total} answer(s)"
                    )
                entry = self._queue[self._next]
                self._next += 1
        if isinstance(entry, BaseException):
            raise entry
        if isinstance(entry, dict):
            return dict(entry)
        return entry

    def _lookup(self, prompt: str) -> ScriptEntry:
        assert self._mapping is not None
        for key, entry in self._mapping.items():
            if key in prompt:
                return entry
        raise ResponderError(
            f"scripted_responder: no scripted answer matches the prompt "
            f"(keys: {sorted(self._mapping)!r})"
        )


def scripted_responder(
    script: Sequence[ScriptEntry] | Mapping[str, ScriptEntry],
) -> ScriptedResponder:
    """A responder that answers from a script.

    With a list, answers are given in order, one per generation request; when the list is used
    up every further request gets a 500 JSON error (:class:`ScriptExhaustedError`)::

        space = LocalSpace(responder=scripted_responder(["first", "second"]))

    With a mapping, each key is a substring looked for in the prompt (first match in insertion
    order wins) and answers are reused; a prompt that matches no key gets a 500 JSON error::

        space = LocalSpace(responder=scripted_responder({"slogan": "Drink green.", "": "?"}))

    An entry may be a string, a tool-call dict (see :data:`Responder`), or an exception
    instance to raise (e.g. ``ResponderError("busy", status=429)``).
    """
    return ScriptedResponder(script)
