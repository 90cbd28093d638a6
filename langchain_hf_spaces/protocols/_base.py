"""Types shared by every wire protocol. Protocol modules build requests and parse bytes: no I/O.

A protocol turns a prompt (or chat messages) into a :class:`RequestSpec`, and an answer body
into a :class:`Generation` — or into the next :class:`RequestSpec` when the protocol takes
several steps (Gradio: submit, then read the event stream). Streamed answers are parsed event by
event by a :class:`StreamParser`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from langchain_hf_spaces._constants import EXCERPT_CHARS
from langchain_hf_spaces.protocols._sse import SSEEvent

if TYPE_CHECKING:
    from langchain_hf_spaces.config import SpaceConfig

__all__ = [
    "Continue",
    "Generation",
    "Protocol",
    "ProtocolError",
    "RequestSpec",
    "StreamParser",
    "error_message",
    "excerpt",
    "json_or_none",
    "loads_json",
]


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """What to send: ``method`` to ``path`` (appended to the Space URL) with a JSON body.

    ``stream`` marks an answer that is an event stream (``text/event-stream``).
    """

    method: str
    path: str
    json: Any = None
    stream: bool = False
    extra_headers: tuple[tuple[str, str], ...] = ()
    ok_statuses: tuple[int, ...] = ()
    """Non-2xx statuses whose body the protocol parses itself (not retried, not mapped)."""
    state: Any = field(default=None, compare=False)
    """The protocol's own note for the follow-up (e.g. Gradio's session hash)."""


@dataclass(frozen=True, slots=True)
class Generation:
    """A parsed answer: the text and what the Space said about it."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: tuple[dict[str, Any], ...] | None = None
    reasoning: str | None = None
    """What the model showed of its thinking, kept apart from the text (Gradio "Thought"s)."""


@dataclass(frozen=True, slots=True)
class Continue:
    """A partial answer and the request that continues it (a Gradio 3.x generator, polled)."""

    request: RequestSpec
    text: str


def text_delta(old: str, new: str) -> str:
    """The new text of an output that is re-sent whole: what was added (all of it when the
    output was rewritten rather than extended)."""
    return new[len(old) :] if new.startswith(old) else new


class ProtocolError(Exception):
    """An answer does not follow the protocol, or reports an error. The client adds tier and URL.

    ``kind`` is ``"format"`` (not what the protocol promises), ``"app"`` (the Space's app
    reported an error), ``"overloaded"`` (the Space is busy: queue full), ``"quota"`` (a ZeroGPU
    quota is spent; ``details`` has the seconds), ``"input"`` (the Space rejected the input, or
    cannot take this kind of input), ``"validation"`` (a server's own validation refused the
    request: TGI's ``error_type``) or ``"generation"`` (the model failed while generating).
    """

    def __init__(
        self,
        message: str,
        body: bytes | str | None = None,
        kind: str = "format",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.kind = kind
        self.excerpt = excerpt(body) if body is not None else None
        self.details = dict(details or {})
        """What the client needs to build the typed error (e.g. a quota's ``retry_after``)."""
        super().__init__(message)


def excerpt(body: bytes | str, limit: int = EXCERPT_CHARS) -> str:
    """The start of an answer body, decoded leniently, for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def loads_json(body: bytes | str) -> Any:
    """Parse a JSON answer body or raise :class:`ProtocolError` saying why."""
    if not body.strip():
        raise ProtocolError("The Space sent an empty answer where JSON was expected.", body)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
            raise ProtocolError(
                "The Space sent a number too long to read (Python reads at most 4300 digits).",
                body,
            ) from None
        head = body.lstrip()[:15].lower()
        if isinstance(head, str):
            head = head.encode()
        if head.startswith((b"<!doctype", b"<html")):
            raise ProtocolError(
                "The Space sent an HTML page where JSON was expected (is the endpoint right?).",
                body,
            ) from None
        raise ProtocolError("The Space sent an answer that is not valid JSON.", body) from None


def json_or_none(body: bytes) -> Any:
    """The JSON in ``body``, or ``None`` when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def error_message(body: bytes) -> str | None:
    """The ``error`` text of a JSON error body (HF, TGI, FastAPI ``detail``), if any."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(data, Mapping):
        for key in ("error", "detail", "message"):
            value = data.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, Mapping) and isinstance(value.get("message"), str):
                return str(value["message"])
            if value is not None:
                return excerpt(json.dumps(value))
    return None


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class StreamParser(ABC):
    """Parses one event stream; ``feed`` returns the new text, ``result`` the whole answer."""

    done: bool = False

    @abstractmethod
    def feed(self, event: SSEEvent) -> str:
        """Take one event; return the text it adds (may be ``""``)."""

    @abstractmethod
    def result(self) -> Generation:
        """The whole answer, once :attr:`done`."""

    def complete_at_eof(self) -> bool:
        """Whether the end of the stream, without a final event, still means a whole answer."""
        return self.done

    def notices(self) -> list[str]:
        """Progress the stream reported since last asked (a queue position), in words."""
        return []


class Protocol(ABC):
    """One way of talking to a Space. One instance per Space (it may cache what it learns)."""

    name: ClassVar[str]
    supports_streaming: ClassVar[bool] = False
    chat_native: ClassVar[bool] = False
    auth_headers: ClassVar[tuple[str, ...]] = ("authorization",)
    """Headers that carry ``Bearer <token>`` to this kind of Space."""

    def __init__(self, config: SpaceConfig) -> None:
        self.config = config

    def accepts(self, parameter: str) -> bool:
        """Whether the Space can take ``parameter`` (used for optional hints such as seeds)."""
        return True

    @property
    def takes_messages(self) -> bool:
        """Whether chat messages can go to the Space as a conversation (see ``chat``)."""
        return self.chat_native

    def setup_request(self) -> RequestSpec | None:
        """A request to make once before the first call (e.g. read the API description)."""
        return None

    def setup(self, body: bytes) -> None:  # noqa: B027 - optional hook
        """Take the answer to :meth:`setup_request`."""

    def forget(self) -> bool:
        """Drop what setup learnt (the app changed: a 404 on a cached path); True if anything
        was dropped, so the setup is worth doing again."""
        return False

    def info_request(self) -> RequestSpec | None:
        """The request for what the Space says about its model, or ``None`` if it has none."""
        return None

    def parse_info(self, body: bytes) -> dict[str, Any] | None:
        """The answer to :meth:`info_request` as a dict (``None`` when it is not one)."""
        data = json_or_none(body)
        return data if isinstance(data, dict) else None

    @abstractmethod
    def build_request(
        self, prompt: str, parameters: Mapping[str, Any], *, stream: bool = False
    ) -> RequestSpec:
        """The request that asks for a completion of ``prompt``."""

    @abstractmethod
    def parse_response(
        self, body: bytes, *, prompt: str, request: RequestSpec | None = None
    ) -> Generation | RequestSpec | Continue:
        """Parse a 2xx answer body: the answer, or the next request of a multi-step protocol
        (a :class:`Continue` when it also carries the answer so far).

        ``request`` is the request it answers (its ``state`` is the protocol's own note)."""

    def stream_parser(self, *, prompt: str) -> StreamParser:
        raise NotImplementedError(f"protocol {self.name!r} has no event stream")

    # chat-native protocols only
    def build_chat_request(
        self,
        messages: Sequence[Mapping[str, Any]],
        parameters: Mapping[str, Any],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> RequestSpec:
        raise NotImplementedError(f"protocol {self.name!r} is not chat-native")

    def parse_chat_response(
        self, body: bytes, *, request: RequestSpec | None = None
    ) -> Generation | RequestSpec | Continue:
        raise NotImplementedError(f"protocol {self.name!r} is not chat-native")
