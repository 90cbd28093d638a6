"""A whole call to a Space as one generator of actions. No I/O here.

A call is: find the protocol (``auto`` probes once), set it up (read the API description once),
send the request, follow up (Gradio's second request), and read the answer or its event stream.
:func:`call_flow` writes that once, as a generator that yields actions and receives outcomes:

====================  =============================================  ==========================
action                the driver does                                and sends back
====================  =============================================  ==========================
:class:`Send`         one HTTP request                               :class:`Received`/`Failed`
:class:`Sleep`        hands ``event`` to ``on_wait``, then sleeps     ``None``
:class:`Read`         reads the next bytes of an open stream          ``bytes``, ``None`` at the
                                                                     end, or :class:`Failed`
:class:`Close`        closes an open stream                          ``None``
:class:`Emit`         passes a piece of streamed text to the caller  ``None``
====================  =============================================  ==========================

The generator's return value is the call's result. ``client.py`` has the two drivers (sync and
async), which differ only in how they send, read and sleep; ``tests/test_flow.py`` steps these
generators with ``next()``/``send()``, with no socket and no sleeping.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from langchain_hf_spaces._answers import ConnectionReport, SpaceAnswer
from langchain_hf_spaces._chat_templates import MarkerCutter, cut_at_markers
from langchain_hf_spaces._constants import TEST_CONNECTION_MAX_NEW_TOKENS, VERSION
from langchain_hf_spaces._hub import HubWatch, SpaceRuntime, space_host, stage_error
from langchain_hf_spaces._inputs import (
    json_problem,
    printable,
    render_prompt,
    validate_parameters,
    validate_prompt,
)
from langchain_hf_spaces._limiter import current_attempt
from langchain_hf_spaces._params import SAMPLING_PARAMETERS
from langchain_hf_spaces._policy import (
    AUTH_HEADERS,
    Deadline,
    Failed,
    Outcome,
    Send,
    Sleep,
    WaitEvent,
    ask_hub,
    exchange,
    hub_get,
    redact,
    stream_failure,
)
from langchain_hf_spaces._stream import StreamCut, StreamReader
from langchain_hf_spaces.config import SpaceConfig
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceAuthError,
    SpaceConfigError,
    SpaceConnectionError,
    SpaceInputError,
    SpaceNotFoundError,
    SpaceQuotaError,
    SpaceRateLimitError,
    SpaceResponseError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)
from langchain_hf_spaces.protocols import (
    PROBES,
    PROTOCOLS,
    Continue,
    Generation,
    Protocol,
    ProtocolError,
    RequestSpec,
)
from langchain_hf_spaces.protocols._base import text_delta

__all__ = [
    "Action",
    "CallFlow",
    "ChatCall",
    "Close",
    "Emit",
    "Read",
    "SpaceCore",
    "TextCall",
    "call_flow",
    "host_flow",
    "info_flow",
    "protocol_flow",
    "runtime_flow",
]

logger = logging.getLogger("langchain_hf_spaces")

USER_AGENT = f"langchain-hf-spaces/{VERSION}"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Read:
    """Read the next bytes of the open stream ``stream`` (the handle a streamed Send gave).

    ``budget``: the seconds left of the call's deadline (the driver ends the read there with
    ``Failed("deadline")``); a gap longer than ``read_timeout`` is ``Failed("read_timeout")``."""

    stream: Any
    budget: float | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """Close the open stream ``stream`` (its connection goes back to the pool)."""

    stream: Any


@dataclass(frozen=True, slots=True)
class Emit:
    """A piece of the answer's text, for the caller of a streaming call."""

    text: str


Action = Send | Sleep | Read | Close | Emit
CallFlow = Generator[Action, Any, _T]


class SpaceCore:
    """Everything about one Space that does no I/O: settings, protocol, headers, errors."""

    __slots__ = (
        "_token",
        "clock",
        "config",
        "hub",
        "insecure",
        "profile",
        "protocol",
        "tier",
        "variant",
    )

    def __init__(
        self,
        config: SpaceConfig,
        tier: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        profile: str | None = None,
        variant: str | None = None,
    ) -> None:
        self.config = config
        self.tier = tier
        self.profile = profile
        """The settings profile this Space belongs to (reported in answers), if any."""
        self.variant = variant
        """The tier's A/B variant this Space is (reported in answers), if any."""
        self.clock = clock
        self.protocol: Protocol | None = None
        if config.protocol != "auto":
            self.protocol = self._make(config.protocol)
        # Work done once per Space rather than per request: the config is frozen.
        self.insecure = config.sends_token_insecurely
        self._token = config.token_source()
        self.hub = HubWatch(config.space_id) if config.space_id else None
        """Asks the Hub for the Space's stage while it waits (when the Space's id is known)."""

    def _make(self, name: str) -> Protocol:
        try:
            return PROTOCOLS[name](self.config)
        except KeyError:
            raise SpaceConfigError(
                f"protocol {name!r} is not supported.", tier=self.tier, url=self.config.url
            ) from None

    def set_protocol(self, name: str) -> Protocol:
        self.protocol = self._make(name)
        logger.info("Space %s (tier %s): detected protocol %r", self.config.url, self.tier, name)
        return self.protocol

    @property
    def protocol_name(self) -> str:
        return self.protocol.name if self.protocol is not None else self.config.protocol

    def headers(self) -> dict[str, str]:
        headers = {"accept": "application/json", "user-agent": USER_AGENT}
        try:
            token = self._token()
        except SpaceConfigError as exc:  # e.g. huggingface_hub could not get a login token
            raise SpaceConfigError(
                exc.message, tier=self.tier, url=self.config.url, hint=exc.hint
            ) from None
        if token:
            if self.insecure:
                raise SpaceConfigError(
                    "Refusing to send the token over plain http to a non-loopback host.",
                    tier=self.tier,
                    url=self.config.url,
                    hint="Use an https URL for this Space.",
                )
            # Until `auto` knows the protocol, every header a protocol may read the token from.
            names = AUTH_HEADERS if self.protocol is None else self.protocol.auth_headers
            for name in names:
                headers[name] = f"Bearer {token}"
        return headers

    def deadline(self, timeout: Any = None) -> Deadline:
        """The call's total time limit: ``timeout`` (a call's own), else the Space's; within a
        batch, the prompt's (from its first attempt, over its overload retries)."""
        attempt = current_attempt()
        if attempt is not None and attempt.deadline is not None:
            return attempt.deadline
        if timeout is None:
            return Deadline.start(self.config.total_timeout, self.clock)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise SpaceInputError(
                f"timeout={timeout!r} must be a finite number of seconds above 0.",
                tier=self.tier,
                url=self.config.url,
            )
        return Deadline.start(float(timeout), self.clock, "timeout")

    def exchange(
        self,
        spec: RequestSpec,
        extra: tuple[tuple[str, str], ...] = (),
        deadline: Deadline | None = None,
    ) -> CallFlow[Outcome]:
        """One HTTP exchange of ``spec`` (retries, waking, redirects): see ``_policy``.

        ``extra`` are the call's own headers (a forwarded ``X-IP-Token``); ``deadline`` the
        call's total limit (default: the Space's ``total_timeout`` from now)."""
        headers = self.headers()
        headers.update(extra)
        if spec.stream:
            headers["accept"] = "text/event-stream"
        headers.update(spec.extra_headers)
        return exchange(
            self.config,
            tier=self.tier,
            method=spec.method,
            url=self.config.url + spec.path,
            body=spec.json,
            headers=headers,
            stream=spec.stream,
            clock=self.clock,
            ok_statuses=spec.ok_statuses,
            hub=self.hub,
            deadline=deadline,
            overload_retries=current_attempt() is None,
        )

    def validate(
        self, prompt: Any, context: Mapping[str, Any] | None, parameters: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        cfg = self.config
        prompt = validate_prompt(
            prompt, max_chars=cfg.max_prompt_chars, tier=self.tier, url=cfg.url
        )
        params = self._check_headers(validate_parameters(parameters, tier=self.tier, url=cfg.url))
        full = render_prompt(prompt, context, tier=self.tier, url=cfg.url)
        self._check_size(len(full), "the prompt with its context")
        return full, params

    def validate_messages(
        self, messages: Any, parameters: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        url = self.config.url
        if not isinstance(messages, (list, tuple)) or not messages:
            raise SpaceInputError("messages must be a non-empty list.", tier=self.tier, url=url)
        out = []
        for i, m in enumerate(messages):
            if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
                raise SpaceInputError(
                    f"messages[{i}] must be a dict with a 'role'.", tier=self.tier, url=url
                )
            problem = json_problem(m)
            if problem is not None:
                raise SpaceInputError(
                    f"messages[{i}] holds {problem}: messages must be JSON data (str, numbers, "
                    "lists and dicts of those).",
                    tier=self.tier,
                    url=url,
                    hint="Pass text content (or OpenAI content parts) in each message.",
                )
            out.append(dict(m))
        try:
            size = len(json.dumps(out, ensure_ascii=False))
        except (TypeError, ValueError, RecursionError):  # pragma: no cover - checked above
            raise SpaceInputError(
                "messages must be JSON data (str, numbers, lists and dicts of those).",
                tier=self.tier,
                url=url,
            ) from None
        self._check_size(size, "the messages")
        return out, self._check_headers(validate_parameters(parameters, tier=self.tier, url=url))

    def _check_size(self, chars: int, what: str) -> None:
        """``max_prompt_chars`` bounds what is sent, not only the prompt's own text."""
        limit = self.config.max_prompt_chars
        if chars > limit:
            raise SpaceInputError(
                f"{what} come to {chars} characters, more than max_prompt_chars={limit}.",
                tier=self.tier,
                url=self.config.url,
                hint="Send less context or fewer messages, or raise max_prompt_chars.",
            )

    def _check_headers(self, params: dict[str, Any]) -> dict[str, Any]:
        value = params.get(X_IP_TOKEN)
        if value is None:
            return params
        if not isinstance(value, str) or not value.strip() or not value.strip().isprintable():
            raise SpaceInputError(
                "x_ip_token must be the end user's X-IP-Token header, as text.",
                tier=self.tier,
                url=self.config.url,
            )
        if self.insecure:
            raise SpaceConfigError(
                "Refusing to send an X-IP-Token over plain http to a non-loopback host.",
                tier=self.tier,
                url=self.config.url,
                hint="Use an https URL for this Space.",
            )
        return params

    def error(self, exc: ProtocolError) -> HFSpacesError:
        """A protocol's complaint as the typed error users see (an echoed token redacted)."""
        kw: dict[str, Any] = {"tier": self.tier, "url": self.config.url}
        try:
            token = self._token()
        except SpaceConfigError:
            token = None
        hidden = (token,) if token else ()
        exc.message = redact(exc.message, hidden) or exc.message
        exc.excerpt = redact(exc.excerpt, hidden)
        if exc.kind == "input":
            return SpaceInputError(exc.message, **kw)
        if exc.kind == "quota":
            d = exc.details
            return SpaceQuotaError(
                exc.message,
                retry_after=d.get("retry_after"),
                seconds_left=d.get("seconds_left"),
                seconds_requested=d.get("seconds_requested"),
                **kw,
            )
        if exc.kind == "overloaded":
            return SpaceRateLimitError(exc.message, hint="The Space is busy; retry later.", **kw)
        if exc.kind == "validation":  # TGI's error_type inside a stream
            return SpaceResponseError(
                exc.message,
                excerpt=exc.excerpt,
                hint="Check your prompt and parameters against what the Space accepts.",
                **kw,
            )
        if exc.kind == "generation":
            return SpaceUnavailableError(
                exc.message,
                hint="The Space's model failed while generating (a server failure, not a "
                "problem with the request): retry later, or check the Space's logs.",
                **kw,
            )
        if exc.kind == "app":
            return SpaceResponseError(
                exc.message,
                excerpt=exc.excerpt,
                hint="The Space's app failed on this request; check the Space's logs.",
                **kw,
            )
        return SpaceResponseError(exc.message, excerpt=exc.excerpt, **kw)

    def auth_error(self, exc: SpaceAuthError) -> SpaceAuthError:
        """A 401/403 with a hint that says where the token goes; for an OpenAI-compatible
        server (vLLM ``--api-key``, llama.cpp ``--api-key``), that its own API key may be the
        one wanted, set the same way."""
        if self.protocol_name != "openai" or exc.status_code not in (401, 403):
            return exc
        hint = (
            "This Space serves the OpenAI-compatible API: the server may want its own API key "
            "(vLLM/llama.cpp --api-key) rather than a Hugging Face token. Pass it as api_key=... "
            "on ChatHuggingFaceSpace/HuggingFaceSpaceLLM, token=... on the tier (or "
            "token_env=, HF_SPACES_<TIER>_TOKEN); it is sent as 'Authorization: Bearer <key>'."
        )
        return SpaceAuthError(
            exc.message, tier=exc.tier, url=exc.url, hint=hint, status_code=exc.status_code
        )

    def probe_parameters(self) -> dict[str, Any]:
        """Test Connection's limit on the answer, where the Space takes one (a Gradio app may
        have no such input: then the app's own default is used rather than an error)."""
        proto = self.protocol
        if proto is not None and not proto.accepts("max_new_tokens"):
            return {}
        return {"max_new_tokens": TEST_CONNECTION_MAX_NEW_TOKENS}

    def check_stage(self, runtime: SpaceRuntime | None) -> None:
        """Raise the typed error for a Space the Hub reports paused or failed."""
        down = stage_error(runtime, tier=self.tier, url=self.config.url)
        if down is not None:
            raise down

    def hub_runtime(self, runtime: SpaceRuntime | None) -> SpaceRuntime | None:
        """The latest stage the Hub gave (a wait may have asked it again)."""
        latest = self.hub.runtime if self.hub is not None else None
        return latest or runtime

    def wait_event(self, reason: str, started: float, detail: str) -> WaitEvent:
        """A wait the Space itself reports (a queue position): no pause, only the news."""
        return WaitEvent(
            reason=reason,
            tier=self.tier,
            url=self.config.url,
            elapsed=self.clock() - started,
            delay=0.0,
            detail=detail,
        )

    def cut(self, chunks: int, reason: str) -> SpaceConnectionError:
        return SpaceConnectionError(
            f"The answer stream was cut after {chunks} chunk(s) ({reason}); the text received "
            "so far was passed on, but the answer is incomplete.",
            tier=self.tier,
            url=self.config.url,
            hint="Retry the request; if it keeps happening, check the Space's logs.",
        )

    def answer(self, gen: Generation, attempts: int, started: float) -> SpaceAnswer:
        return SpaceAnswer(
            text=gen.text,
            tier=self.tier,
            url=self.config.url,
            revision=self.config.revision,
            protocol=self.protocol_name,
            latency=time.perf_counter() - started,
            attempts=attempts,
            finish_reason=gen.finish_reason,
            prompt_tokens=gen.prompt_tokens,
            completion_tokens=gen.completion_tokens,
            tool_calls=[dict(c) for c in gen.tool_calls] if gen.tool_calls else None,
            reasoning=gen.reasoning,
            profile=self.profile,
            variant=self.variant,
        )

    def unexpected(self, exc: Exception) -> HFSpacesError:
        """A failure that is not one of ours (a bug), as Test Connection reports it: typed,
        with the token redacted, so the report never raises."""
        try:
            token = self._token()
        except SpaceConfigError:
            token = None
        detail = redact(f"{type(exc).__name__}: {exc}"[:300], (token,) if token else ()) or ""
        return SpaceResponseError(
            f"Test Connection failed unexpectedly ({detail}).",
            tier=self.tier,
            url=self.config.url,
            hint="This looks like a bug in langchain-hf-spaces: please report it with the "
            "Space's answer (`hf-spaces --debug doctor`).",
        )

    def report(
        self,
        answer: SpaceAnswer | None,
        exc: HFSpacesError | None,
        runtime: SpaceRuntime | None = None,
    ) -> ConnectionReport:
        base: dict[str, Any] = {
            "tier": self.tier,
            "url": self.config.url,
            "protocol": self.protocol_name,
            "revision": self.config.revision,
            "stage": runtime.stage if runtime is not None else None,
            "hardware": runtime.hardware if runtime is not None else None,
            "variant": self.variant,
        }
        notes = []
        if self.config.protocol == "auto" and self.protocol is not None:
            notes.append(f"auto-detected protocol: {self.protocol.name}")
        if answer is not None:
            return ConnectionReport(
                ok=True,
                reachable=True,
                auth_ok=True,
                format_ok=True,
                latency=answer.latency,
                sample=printable(answer.text[:80]),
                notes=notes,
                **base,
            )
        if exc is None:  # pragma: no cover - callers pass one or the other
            raise TypeError("report() needs an answer or an error")
        reachable = not isinstance(exc, (SpaceConnectionError, SpaceTimeoutError))
        return ConnectionReport(
            ok=False,
            reachable=reachable,
            auth_ok=reachable and not isinstance(exc, SpaceAuthError),
            format_ok=False,
            error=printable(exc.message),
            error_type=type(exc).__name__,
            hint=printable(exc.hint or _GENERIC_HINT),
            notes=notes,
            **base,
        )


_GENERIC_HINT = "Check the Space's URL, protocol and logs, then run `hf-spaces doctor`."


class TextCall:
    """A prompt to complete: builds the request for a protocol and parses its answer."""

    __slots__ = ("headers", "hints", "params", "prompt", "stops", "timeout")

    def __init__(
        self, prompt: str, params: dict[str, Any], hints: Mapping[str, Any] | None = None
    ) -> None:
        self.prompt = prompt
        params, self.timeout = call_timeout(params)
        self.params, self.headers = call_headers(params)
        self.hints = hints
        self.stops: tuple[str, ...] = ()

    def build(self, proto: Protocol, *, stream: bool) -> RequestSpec:
        params, self.stops = _client_side_stops(proto, self.params)
        if self.hints:
            # Hints (a variation's seed, sampling on) go only where the Space can take them.
            extra = {
                k: v
                for k, v in self.hints.items()
                if k in SAMPLING_PARAMETERS and k not in params and proto.accepts(k)
            }
            params = {**params, **extra}
        return proto.build_request(self.prompt, params, stream=stream)

    def parse(
        self, proto: Protocol, body: bytes, request: RequestSpec
    ) -> Generation | RequestSpec | Continue:
        return proto.parse_response(body, prompt=self.prompt, request=request)


class ChatCall:
    """OpenAI-format messages (and tools) for a chat-native protocol."""

    __slots__ = ("headers", "messages", "params", "stops", "timeout", "tool_choice", "tools")

    prompt = ""

    def __init__(
        self,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        tools: Sequence[Mapping[str, Any]] | None,
        tool_choice: str | Mapping[str, Any] | None,
    ) -> None:
        self.messages = messages
        params, self.timeout = call_timeout(params)
        self.params, self.headers = call_headers(params)
        self.tools = tools
        self.tool_choice = tool_choice
        self.stops: tuple[str, ...] = ()

    def build(self, proto: Protocol, *, stream: bool) -> RequestSpec:
        if not proto.takes_messages:
            raise ProtocolError(
                f"protocol {proto.name!r} takes no chat messages here: render the messages "
                "with a chat template and call complete(), or use ChatHuggingFaceSpace, which "
                "does.",
                kind="input",
            )
        params, self.stops = _client_side_stops(proto, self.params)
        return proto.build_chat_request(
            self.messages,
            params,
            tools=self.tools,
            tool_choice=self.tool_choice,
            stream=stream,
        )

    def parse(
        self, proto: Protocol, body: bytes, request: RequestSpec
    ) -> Generation | RequestSpec | Continue:
        return proto.parse_chat_response(body, request=request)


X_IP_TOKEN = "x_ip_token"  # noqa: S105 - a parameter name
"""The call parameter that forwards an end user's ``X-IP-Token`` (ZeroGPU quotas are theirs)."""


TIMEOUT = "timeout"
"""The call parameter that sets this call's total time limit (taken here, never sent)."""


def call_timeout(params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Split the call's own ``timeout`` (seconds, the whole call) from the parameters."""
    if TIMEOUT not in params:
        return params, None
    return {k: v for k, v in params.items() if k != TIMEOUT}, params[TIMEOUT]


def call_headers(params: dict[str, Any]) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    """Split per-call headers (``x_ip_token``) from the generation parameters."""
    if X_IP_TOKEN not in params:
        return params, ()
    rest = {k: v for k, v in params.items() if k != X_IP_TOKEN}
    return rest, (("x-ip-token", str(params[X_IP_TOKEN]).strip()),)


def _client_side_stops(
    proto: Protocol, params: dict[str, Any]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Stop sequences a protocol cannot take are applied here, to the answer, instead."""
    stops = params.get("stop")
    if not stops or proto.accepts("stop"):
        return params, ()
    return {k: v for k, v in params.items() if k != "stop"}, tuple(stops)


Call = TextCall | ChatCall


def _typed(core: SpaceCore, flow: CallFlow[_T]) -> CallFlow[_T]:
    """Run ``flow``, turning the protocol's and the stream reader's errors into typed ones."""
    try:
        return (yield from flow)
    except SpaceAuthError as exc:
        raise core.auth_error(exc) from None
    except ProtocolError as exc:
        raise core.error(exc) from None
    except StreamCut as exc:
        raise core.cut(exc.chunks, exc.reason) from None


def _detect(core: SpaceCore, deadline: Deadline) -> CallFlow[Protocol]:
    for name, spec, matches in PROBES:
        try:
            outcome = yield from core.exchange(spec, deadline=deadline)
        except (SpaceNotFoundError, SpaceResponseError):
            continue
        if matches(outcome.received.body):
            proto = core.set_protocol(name)
            setup = proto.setup_request()
            if setup is not None and setup.path == spec.path:
                proto.setup(outcome.received.body)  # the probe's answer is the setup's
            return proto
    return core.set_protocol("generate")


def _protocol(core: SpaceCore, deadline: Deadline) -> CallFlow[Protocol]:
    proto = core.protocol
    if proto is None:
        proto = yield from _detect(core, deadline)
    setup = proto.setup_request()
    if setup is not None:
        outcome = yield from core.exchange(setup, deadline=deadline)
        proto.setup(outcome.received.body)
    return proto


def protocol_flow(core: SpaceCore) -> CallFlow[str]:
    """Find (``auto``) and set up the Space's protocol; return its name."""
    proto = yield from _typed(core, _protocol(core, core.deadline()))
    return proto.name


def _read_stream(
    core: SpaceCore,
    reader: StreamReader,
    stream: Any,
    cutter: MarkerCutter | None,
    emit: bool,
    deadline: Deadline,
) -> CallFlow[Generation]:
    """Read ``stream`` to its final event, within the call's deadline. On an error the driver
    closes it (it tracks every open stream); on success it is closed here, before the answer
    is returned."""
    started = core.clock()
    while not reader.done:
        left = deadline.left()
        if left <= 0:
            raise deadline.error(core.tier, core.config.url, "reading the answer stream")
        data = yield Read(stream, left)
        if isinstance(data, Failed):
            fatal = stream_failure(data, core.config, deadline, core.tier)
            if fatal is not None:
                raise fatal
            raise reader.broken(data.detail)
        deltas = reader.end() if data is None else reader.feed(data)
        for notice in reader.notices():
            yield Sleep(0.0, core.wait_event("queued", started, notice))
        for delta in deltas:
            if cutter is not None:
                delta = cutter.feed(delta)
            if delta and emit:
                yield Emit(delta)
        if data is None or (cutter is not None and cutter.done):
            break
    yield Close(stream)
    return reader.result()


def _call(core: SpaceCore, call: Call, stream: bool) -> CallFlow[SpaceAnswer]:
    deadline = core.deadline(call.timeout)
    proto = yield from _protocol(core, deadline)
    spec = call.build(proto, stream=stream and proto.supports_streaming)
    cutter = MarkerCutter(call.stops) if call.stops else None
    started = time.perf_counter()
    attempts = 0
    partial = ""  # the answer so far, while a protocol answers in parts (Continue)
    first = True
    while True:
        try:
            outcome = yield from core.exchange(spec, call.headers, deadline)
        except SpaceNotFoundError:
            # The app changed under its cached description (a new deploy): read it again, once.
            if not (first and proto.forget()):
                raise
            logger.info(
                "Space %s (tier %s): 404 on a known path; re-reading its API",
                core.config.url,
                core.tier,
            )
            first = False
            proto = yield from _protocol(core, deadline)
            spec = call.build(proto, stream=stream and proto.supports_streaming)
            continue
        first = False
        attempts += outcome.attempts
        if spec.stream:
            parser = proto.stream_parser(prompt=call.prompt)
            reader = StreamReader(parser, max_bytes=core.config.max_response_bytes)
            gen = yield from _read_stream(core, reader, outcome.response, cutter, stream, deadline)
            if cutter is not None:
                tail = cutter.flush()
                if tail and stream:
                    yield Emit(tail)
            break
        nxt = call.parse(proto, outcome.received.body, spec)
        if isinstance(nxt, Continue):
            delta = text_delta(partial, nxt.text)
            partial = nxt.text
            if cutter is not None:
                delta = cutter.feed(delta)
            if stream and delta:
                yield Emit(delta)
            spec = nxt.request
            continue
        if isinstance(nxt, Generation):
            gen = nxt
            if cutter is not None:
                gen = replace(gen, text=cut_at_markers(gen.text, call.stops)[0])
            if partial:
                tail = text_delta(partial, gen.text)
                if cutter is not None:
                    tail = cutter.feed(tail) + cutter.flush()
                if stream and tail:
                    yield Emit(tail)
            elif stream and gen.text:
                yield Emit(gen.text)
            break
        spec = nxt
    if cutter is not None and spec.stream:
        gen = replace(gen, text=cut_at_markers(gen.text, call.stops)[0])
    return core.answer(gen, attempts, started)


def call_flow(core: SpaceCore, call: Call, *, stream: bool) -> CallFlow[SpaceAnswer]:
    """The whole call: protocol, setup, request, follow-ups, stream. Returns the answer.

    With ``stream``, the text is also emitted piece by piece as it arrives (a protocol that
    cannot stream emits the whole text once).
    """
    return _typed(core, _call(core, call, stream))


def _info(core: SpaceCore) -> CallFlow[dict[str, Any] | None]:
    deadline = core.deadline()
    proto = yield from _protocol(core, deadline)
    spec = proto.info_request()
    if spec is None:
        return None
    try:
        outcome = yield from core.exchange(spec, deadline=deadline)
    except (SpaceNotFoundError, SpaceResponseError):
        return None
    return proto.parse_info(outcome.received.body)


def runtime_flow(core: SpaceCore) -> CallFlow[SpaceRuntime | None]:
    """Ask the Hub for the Space's runtime (``None``: no Space id, or the Hub did not say)."""
    if core.hub is None:
        return None
    return (yield from ask_hub(core.hub, core.headers(), core.clock))


def host_flow(core: SpaceCore) -> CallFlow[str | None]:
    """The host the Hub serves the Space on (``None``: no Space id, or the Hub did not say)."""
    hub = core.hub
    if hub is None:
        return None
    answer = yield from hub_get(f"{hub.endpoint}/api/spaces/{hub.space_id}", core.headers())
    if answer is None or answer.status != 200:
        return None
    return space_host(answer.body)


def info_flow(core: SpaceCore) -> CallFlow[dict[str, Any] | None]:
    """What the Space says about its model (TGI ``/info``, an OpenAI Space's first model)."""
    return _typed(core, _info(core))
