"""Request bodies, their validation, and the limits this Space enforces.

Unknown fields are rejected (422) rather than ignored, so a client learns at once that a
parameter it relies on has no effect here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from space_app.config import Settings
from space_app.errors import ApiError

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "GenerateRequest",
    "GenerationParams",
    "Limits",
    "Parameters",
]

MAX_STOP_SEQUENCES = 4


@dataclass(frozen=True)
class GenerationParams:
    """What a backend is asked to do; ``None`` leaves the model's default."""

    max_new_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    do_sample: bool | None = None
    stop: tuple[str, ...] = ()

    @property
    def sampling(self) -> bool:
        """Sample (else greedy): as asked, or when a sampling parameter was given (TGI's rule)."""
        if self.do_sample is not None:
            return self.do_sample
        if self.temperature is not None:
            return self.temperature > 0
        return self.top_p is not None or self.top_k is not None


class Parameters(BaseModel):
    """The ``parameters`` of the guide's ``/api/generate`` and of TGI's ``/generate``."""

    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    repetition_penalty: float | None = Field(default=None, gt=0)
    seed: int | None = Field(default=None, ge=0)
    do_sample: bool | None = None
    stop: list[str] | None = Field(default=None, max_length=MAX_STOP_SEQUENCES)
    return_full_text: bool | None = None
    details: bool | None = None


class GenerateRequest(BaseModel):
    """``{"inputs": str, "parameters": {...}}``; TGI clients may add ``"stream"``."""

    model_config = ConfigDict(extra="forbid")

    inputs: str
    parameters: Parameters = Field(default_factory=Parameters)
    stream: bool | None = None


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """An OpenAI ``/v1/chat/completions`` request (the subset a text model can honour)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    repetition_penalty: float | None = Field(default=None, gt=0)
    seed: int | None = Field(default=None, ge=0)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1)
    user: str | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None

    def unsupported(self) -> str | None:
        """Why this request asks for something the Space cannot do, or ``None``."""
        if self.n not in (None, 1):
            return "n: this Space returns one choice per request."
        if self.tools:
            return "tools: this Space does not do tool calling (it serves a plain text model)."
        if self.tool_choice not in (None, "none", "auto"):
            return "tool_choice: this Space does not do tool calling."
        if self.logprobs or self.top_logprobs:
            return "logprobs: this Space does not report log-probabilities."
        if self.response_format not in (None, {"type": "text"}):
            return "response_format: only {'type': 'text'} is supported."
        if self.frequency_penalty or self.presence_penalty:
            return (
                "frequency_penalty/presence_penalty are not supported; "
                "use repetition_penalty instead."
            )
        stops = [self.stop] if isinstance(self.stop, str) else self.stop or []
        if len(stops) > MAX_STOP_SEQUENCES:
            return f"stop: at most {MAX_STOP_SEQUENCES} stop sequences."
        return None


class Limits:
    """The Space's input limits: ``MAX_PROMPT_CHARS``, ``MAX_NEW_TOKENS_CAP``."""

    def __init__(self, settings: Settings) -> None:
        self.max_prompt_chars = settings.max_prompt_chars
        self.cap = settings.max_new_tokens_cap
        self.default = settings.default_max_new_tokens

    def prompt(self, text: Any, what: str = "inputs") -> str:
        if not isinstance(text, str):
            raise ApiError(422, f"{what} must be a string.")
        if not text.strip():
            raise ApiError(422, f"{what} is empty.")
        if len(text) > self.max_prompt_chars:
            raise ApiError(
                413,
                f"{what} is {len(text)} characters; this Space accepts at most "
                f"{self.max_prompt_chars} (MAX_PROMPT_CHARS).",
            )
        return text

    def max_new_tokens(self, value: Any, what: str = "max_new_tokens") -> int:
        if value is None:
            return self.default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ApiError(422, f"{what} must be an integer >= 1, got {value!r}.")
        if value > self.cap:
            raise ApiError(
                422,
                f"{what}={value} is above this Space's cap of {self.cap} (MAX_NEW_TOKENS_CAP).",
            )
        return value

    def generate(self, body: GenerateRequest) -> tuple[str, GenerationParams]:
        prompt = self.prompt(body.inputs)
        p = body.parameters
        return prompt, GenerationParams(
            max_new_tokens=self.max_new_tokens(p.max_new_tokens),
            temperature=p.temperature,
            top_p=p.top_p,
            top_k=p.top_k,
            repetition_penalty=p.repetition_penalty,
            seed=p.seed,
            do_sample=p.do_sample,
            stop=tuple(s for s in p.stop or () if s),
        )

    def chat(self, body: ChatRequest) -> GenerationParams:
        why = body.unsupported()
        if why is not None:
            raise ApiError(422, why, "invalid_request_error")
        total = sum(len(m.text) for m in body.messages)
        if total > self.max_prompt_chars:
            raise ApiError(
                413,
                f"messages hold {total} characters; this Space accepts at most "
                f"{self.max_prompt_chars} (MAX_PROMPT_CHARS).",
                "invalid_request_error",
            )
        if not any(m.text.strip() for m in body.messages):
            raise ApiError(422, "messages have no text.", "invalid_request_error")
        limit = body.max_completion_tokens or body.max_tokens
        what = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
        try:
            max_new_tokens = self.max_new_tokens(limit, what)
        except ApiError as exc:
            raise ApiError(exc.status, exc.message, "invalid_request_error") from None
        stops = [body.stop] if isinstance(body.stop, str) else body.stop or []
        return GenerationParams(
            max_new_tokens=max_new_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
            top_k=body.top_k,
            repetition_penalty=body.repetition_penalty,
            seed=body.seed,
            stop=tuple(s for s in stops if s),
        )

    def ui(
        self, prompt: Any, max_new_tokens: Any, temperature: Any
    ) -> tuple[str, GenerationParams]:
        """The Gradio ``/predict`` inputs: ``(prompt, max_new_tokens, temperature)``."""
        prompt = self.prompt(prompt, "prompt")
        tokens = self.max_new_tokens(max_new_tokens)
        if temperature is not None and (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not 0 <= temperature <= 2
        ):
            raise ApiError(422, f"temperature must be a number in [0, 2], got {temperature!r}.")
        return prompt, GenerationParams(
            max_new_tokens=tokens,
            temperature=None if temperature is None else float(temperature),
        )
