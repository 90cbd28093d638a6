"""Fault values for :class:`~langchain_hf_spaces.testing.LocalSpace` (stdlib only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

__all__ = ["Fault", "FaultKind", "SleepForm"]

FaultKind = Literal[
    "status",
    "rate_limited",
    "server_error",
    "sleeping",
    "slow",
    "malformed_json",
    "html",
    "wrong_shape",
    "empty",
    "oversize",
    "reset_mid_body",
    "drop",
    "redirect",
    "stream_cut",
]
"""The kinds of fault a :class:`Fault` can describe."""

SleepForm = Literal["html", "json"]
"""How a sleeping Space answers: Hugging Face's HTML page, or the JSON ``estimated_time`` body."""


@dataclass(frozen=True, repr=False)
class Fault:
    """One misbehaviour of a Space, injected with :meth:`LocalSpace.inject`.

    Build faults with the classmethods, never with the constructor::

        space.inject(Fault.rate_limited(retry_after="2"), times=2)
        space.inject(Fault.server_error(502))
        space.inject(Fault.reset_mid_body())

    Every fault produces real behaviour on the socket: a status line and headers, a truncated
    body, a connection closed without an answer, and so on. Faults are plain immutable values,
    so the same one may be injected many times or into several spaces.
    """

    kind: FaultKind
    status_code: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    form: SleepForm = "html"
    estimated_time: float = 0.0
    location: str = ""
    after_events: int = 0
    size: int = 0
    rst: bool = False

    # ------------------------------------------------------------------ constructors

    @classmethod
    def status(
        cls,
        code: int,
        body: bytes | str | Mapping[str, Any] | list[Any] = b"",
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer with any status, body and headers.

        ``body`` may be bytes, text, or a JSON-serialisable dict / list (sent as JSON).

        >>> Fault.status(418, {"error": "I'm a teapot"}, headers={"x-why": "demo"}).status_code
        418
        """
        _check_status(code)
        if isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode("utf-8")
        else:
            raw = json.dumps(body).encode("utf-8")
        return cls(
            kind="status",
            status_code=code,
            body=raw,
            content_type=content_type,
            headers=tuple((str(k), str(v)) for k, v in (headers or {}).items()),
        )

    @classmethod
    def rate_limited(cls, retry_after: str | float | None = "1") -> Fault:
        """429 ``{"error": "Rate limit reached"}`` with a ``Retry-After`` header.

        ``retry_after`` is sent verbatim when it is a string (seconds, or an HTTP-date such as
        ``"Wed, 21 Oct 2015 07:28:00 GMT"``); a number is formatted as seconds; ``None`` sends
        no ``Retry-After`` header at all.
        """
        headers: tuple[tuple[str, str], ...] = ()
        if retry_after is not None:
            value = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
            headers = (("retry-after", value),)
        return cls(kind="rate_limited", status_code=429, headers=headers)

    @classmethod
    def server_error(cls, code: int = 500) -> Fault:
        """A 5xx answer (500, 502, 503, 504, ...) with a JSON error body."""
        _check_status(code)
        if not 500 <= code <= 599:
            raise ValueError(f"server_error needs a 5xx status code, got {code}")
        return cls(kind="server_error", status_code=code)

    @classmethod
    def sleeping(
        cls, form: SleepForm = "html", estimated_time: float = 2.0, status: int = 503
    ) -> Fault:
        """A sleeping / building Space: 503 (or ``status``, e.g. 502).

        ``form="html"`` sends an HTML page like Hugging Face's "This Space is sleeping" page
        (``text/html``); ``form="json"`` sends
        ``{"error": "Model is currently loading", "estimated_time": <estimated_time>}``.
        For a Space that stays asleep for a while, see :meth:`LocalSpace.sleep_for`.
        """
        if form not in ("html", "json"):
            raise ValueError(f"form must be 'html' or 'json', got {form!r}")
        _check_status(status)
        return cls(
            kind="sleeping", status_code=status, form=form, estimated_time=float(estimated_time)
        )

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` (without blocking other requests), then answer normally."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        return cls(kind="slow", seconds=float(seconds))

    @classmethod
    def malformed_json(cls) -> Fault:
        """200, ``application/json``, body ``{"generated_text": "abc`` (cut off)."""
        return cls(kind="malformed_json", body=b'{"generated_text": "abc')

    @classmethod
    def html(cls) -> Fault:
        """200 with an HTML page instead of JSON (a login wall, a Gradio UI, a proxy page)."""
        return cls(kind="html", content_type="text/html; charset=utf-8")

    @classmethod
    def wrong_shape(cls) -> Fault:
        """200 with valid JSON of the wrong shape: ``{"text": "..."}``."""
        return cls(kind="wrong_shape", body=b'{"text": "this is not the expected shape"}')

    @classmethod
    def empty(cls) -> Fault:
        """200, ``application/json``, ``Content-Length: 0``."""
        return cls(kind="empty")

    @classmethod
    def oversize(cls, n_bytes: int) -> Fault:
        """200 with valid JSON whose ``generated_text`` is ``n_bytes`` long (ASCII)."""
        if n_bytes < 0:
            raise ValueError("n_bytes must be >= 0")
        return cls(kind="oversize", size=n_bytes)

    @classmethod
    def reset_mid_body(cls, rst: bool = False) -> Fault:
        """Send the status line and headers (with a ``Content-Length`` larger than what follows),
        half of the body, then close the connection.

        httpx raises ``httpx.RemoteProtocolError`` ("peer closed connection without sending
        complete message body"). With ``rst=True`` the socket is closed with a TCP RST
        (``SO_LINGER`` 0) instead of a FIN, which a client may see as ``httpx.ReadError``.
        """
        return cls(kind="reset_mid_body", rst=rst)

    @classmethod
    def drop(cls, rst: bool = False) -> Fault:
        """Close the connection without sending a single byte of response.

        With the default FIN close httpx raises ``httpx.RemoteProtocolError`` ("Server
        disconnected without sending a response."). With ``rst=True`` the connection is reset
        (TCP RST) and httpx raises ``httpx.ReadError`` (connection reset by peer).
        """
        return cls(kind="drop", rst=rst)

    @classmethod
    def redirect(cls, location: str, status: int = 307) -> Fault:
        """Redirect to ``location``: a path on the same server, or an absolute URL.

        Use :meth:`LocalSpace.url_for_host` to build a URL that reaches the same server under
        another host name (cross-host redirect tests).
        """
        if not 300 <= status <= 399:
            raise ValueError(f"redirect needs a 3xx status code, got {status}")
        return cls(kind="redirect", status_code=status, location=location)

    @classmethod
    def stream_cut(cls, after_events: int = 2) -> Fault:
        """On a streaming (Server-Sent Events) request: send ``after_events`` events, then close
        the connection abruptly (no final event, no ``data: [DONE]``).

        Only streaming requests (``POST /generate_stream``, ``/v1/chat/completions`` with
        ``"stream": true``) take this fault from the queue; other requests pass it by.
        httpx raises ``httpx.RemoteProtocolError`` (incomplete chunked read) while iterating.
        """
        if after_events < 0:
            raise ValueError("after_events must be >= 0")
        return cls(kind="stream_cut", after_events=after_events)

    # ------------------------------------------------------------------ helpers

    @property
    def streaming_only(self) -> bool:
        """True for faults that only streaming requests take from the queue."""
        return self.kind == "stream_cut"

    def __repr__(self) -> str:
        parts = [f"kind={self.kind!r}"]
        for f in fields(self):
            if f.name == "kind":
                continue
            value = getattr(self, f.name)
            if value != f.default:
                if f.name == "body" and len(value) > 40:
                    value = value[:40] + b"..."
                parts.append(f"{f.name}={value!r}")
        return f"Fault({', '.join(parts)})"


def _check_status(code: int) -> None:
    if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
        raise ValueError(f"not an HTTP status code: {code!r}")
