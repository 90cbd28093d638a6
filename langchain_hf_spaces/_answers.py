"""What a call gives back: :class:`SpaceAnswer`, :class:`StreamChunk`, :class:`ConnectionReport`.

Plain data, no I/O. ``SpaceAnswer.metadata`` is the one place an answer's metadata dict is built:
the LangChain and LlamaIndex layers put it into their own metadata fields as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ConnectionReport", "SpaceAnswer", "StreamChunk"]


@dataclass(frozen=True, slots=True)
class SpaceAnswer:
    """Generated text plus what is known about how it was made."""

    text: str
    tier: str
    url: str
    revision: str | None
    protocol: str
    latency: float
    """Seconds from the first byte sent to the last byte received, retries and waits included."""
    attempts: int
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    fallback_from: str | None = None
    """The tier originally asked for, when the answer came from a fallback tier."""
    tool_calls: list[dict[str, Any]] | None = None
    """Tool calls of a chat answer: ``{"id", "name", "arguments"}`` dicts."""
    reasoning: str | None = None
    """What the model showed of its thinking (a Gradio app's "Thought" messages), not in text."""
    profile: str | None = None
    """The settings profile the answer came from (``staging``, ``production``), when one is set."""
    variant: str | None = None
    """The A/B variant of the tier that answered, when the tier has variants."""
    cached: bool = False
    """True when the answer was replayed from the response cache (no request was sent)."""

    @property
    def metadata(self) -> dict[str, Any]:
        """Everything but the text, as a plain dict (what frameworks put in their metadata)."""
        # Built by hand: dataclasses.asdict deep-copies and costs more than the rest of a call.
        data: dict[str, Any] = {
            "tier": self.tier,
            "url": self.url,
            "protocol": self.protocol,
            "latency": self.latency,
            "attempts": self.attempts,
        }
        if self.cached:
            data["cached"] = True
        for key in _OPTIONAL_METADATA:
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    def __str__(self) -> str:
        return self.text


_OPTIONAL_METADATA = (
    "revision",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "fallback_from",
    "tool_calls",
    "reasoning",
    "profile",
    "variant",
)


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A piece of a streamed answer; the last chunk also carries the whole :class:`SpaceAnswer`."""

    text: str
    answer: SpaceAnswer | None = None


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """The guide's "Test Connection" result for one tier."""

    tier: str
    url: str
    ok: bool
    reachable: bool
    auth_ok: bool
    format_ok: bool
    protocol: str
    revision: str | None = None
    latency: float | None = None
    error: str | None = None
    error_type: str | None = None
    hint: str | None = None
    sample: str | None = None
    notes: list[str] = field(default_factory=list)
    stage: str | None = None
    """The Space's runtime stage as the Hub reported it (when its Space id is known)."""
    hardware: str | None = None
    variant: str | None = None
    """The tier's A/B variant this report is about (one report per variant)."""

    @property
    def label(self) -> str:
        """``tier``, or ``tier/variant`` for a variant of a tier's A/B split."""
        return self.tier if self.variant is None else f"{self.tier}/{self.variant}"

    def summary(self) -> str:
        """One line: ``base  OK  https://...  123 ms`` or the error."""
        if self.ok:
            ms = f"{(self.latency or 0) * 1000:.0f} ms"
            return f"{self.label:<12} OK    {self.url}  ({self.protocol}, {ms})"
        return f"{self.label:<12} FAIL  {self.url}  {self.error_type}: {self.error}"
