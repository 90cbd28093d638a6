"""The exchange with a Space as a generator of actions: send, sleep, done. No I/O here.

Retries, waking a sleeping Space, redirects and the translation of answers into typed errors
are written once in :func:`exchange`; the sync and async clients only carry out its actions.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from langchain_hf_spaces._constants import (
    DEFAULT_GPU_WAKE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_REDIRECTS,
    HUB_TIMEOUT,
    WAKE_LOG_INTERVAL,
    WAKE_MAX_ESTIMATE_WAIT,
    WAKE_MAX_POLL_INTERVAL,
)
from langchain_hf_spaces._hub import HubWatch, SpaceRuntime, stage_error
from langchain_hf_spaces.config import SpaceConfig, is_loopback_url
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceAuthError,
    SpaceConnectionError,
    SpaceNotFoundError,
    SpacePausedError,
    SpaceRateLimitError,
    SpaceResponseError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)
from langchain_hf_spaces.protocols import error_message, excerpt
from langchain_hf_spaces.protocols._base import json_or_none
from langchain_hf_spaces.protocols.openai import openai_error_kind
from langchain_hf_spaces.protocols.tgi import tgi_error_kind

logger = logging.getLogger("langchain_hf_spaces")

__all__ = [
    "Deadline",
    "Failed",
    "Flow",
    "Outcome",
    "Received",
    "Send",
    "Sleep",
    "WaitEvent",
    "exchange",
    "stream_failure",
]


@dataclass(frozen=True, slots=True)
class Send:
    method: str
    url: str
    json: Any
    headers: dict[str, str]
    stream: bool = False
    timeout: float | None = None
    """Connect and read timeout for this request alone (the Hub's); else the Space's."""
    budget: float | None = None
    """Seconds this request may take in all (sending, waiting for a connection, reading the
    whole body), from the call's deadline: the driver ends it there with ``Failed("deadline")``.
    A streamed answer's body is not included: each :class:`~langchain_hf_spaces._flow.Read`
    carries its own."""
    page_budget: float | None = None
    """Seconds (from the send) the body of a non-2xx answer may take to arrive: an error or
    sleeping page that trickles in counts against ``wake_timeout`` (``Failed("wake_deadline")``)."""


@dataclass(frozen=True, slots=True)
class WaitEvent:
    """Why a call is waiting, handed to the ``on_wait`` callback before each wait.

    ``reason`` is ``"waking"`` (the Space is asleep or building), ``"rate_limited"`` (a 429 or a
    full queue; ``retry_after`` honoured), ``"retrying"`` (a connect error or a 5xx, backing
    off) or ``"queued"`` (the Space's own queue reports a position). ``elapsed`` counts from the
    first answer of that kind in this call; ``budget`` is what the wait may take in all
    (``wake_timeout`` for waking), or ``None``; ``delay`` is the pause about to start.
    """

    reason: str
    tier: str | None
    url: str
    elapsed: float
    delay: float
    budget: float | None = None
    attempt: int = 0
    """The retry number for retrying / rate_limited, the poll number for waking."""
    max_attempts: int | None = None
    detail: str = ""
    """What the Space said, in a few words (``HTTP 503``, ``ConnectError``, a queue position)."""
    status_code: int | None = None
    stage: str | None = None
    """The Space's runtime stage as the Hub reports it, while waking (``SLEEPING``, ...)."""


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float
    event: WaitEvent | None = None


@dataclass(slots=True)
class Received:
    """An answer. For a 2xx answer to a streamed request, ``response`` is still open."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    response: Any = None
    oversize: bool = False
    release: Any = None
    """For an open stream: what gives its place in the pool back once it is closed."""


@dataclass(slots=True)
class Failed:
    """The transport failed: ``kind`` is connect, connect_timeout, read_timeout (a gap between
    bytes longer than ``read_timeout``), bad_encoding (a Content-Encoding we cannot decode, or
    a corrupt body), deadline (the budget a Send or Read carried ran out),
    pool_timeout (no free connection to the Space), oversize (the decoded answer grew past
    ``max_response_bytes``), broken or invalid_url (an answer whose redirect Location cannot be
    parsed)."""

    kind: str
    detail: str


@dataclass(slots=True)
class Outcome:
    received: Received
    attempts: int
    url: str
    notes: list[str] = field(default_factory=list)

    @property
    def response(self) -> Any:
        return self.received.response


@dataclass(frozen=True, slots=True)
class Deadline:
    """A call's total time limit: ``timeout`` seconds from when it started, on ``clock``.

    The flow asks it how much is left before each request, read and wait, and hands that
    budget to the driver, which only enforces it; the clock logic lives here."""

    timeout: float
    at: float
    clock: Callable[[], float]
    name: str = "total_timeout"
    """The setting it came from: ``timeout`` (the call's own) or ``total_timeout``."""

    @classmethod
    def start(
        cls, timeout: float, clock: Callable[[], float], name: str = "total_timeout"
    ) -> Deadline:
        return cls(timeout, clock() + timeout, clock, name)

    def left(self) -> float:
        return self.at - self.clock()

    def error(self, tier: str | None, url: str, what: str) -> SpaceTimeoutError:
        return SpaceTimeoutError(
            f"The call did not finish within {self.name}={self.timeout:g}s ({what}).",
            tier=tier,
            url=url,
            hint=(
                "Pass a longer timeout= to the call or raise the Space's total_timeout; a "
                "Space that trickles its answer or never ends its stream is stuck: check its logs."
            ),
        )


def transport_error(
    failed: Failed, config: SpaceConfig, deadline: Deadline, tier: str | None, where: str
) -> HFSpacesError | None:
    """The typed error for a failure that is never retried (timeouts, caps), else ``None``."""
    url = config.url
    if failed.kind == "deadline":
        return deadline.error(tier, url, where)
    if failed.kind == "read_timeout":
        return SpaceTimeoutError(
            f"No answer from {where} within read_timeout={config.read_timeout:g}s.",
            tier=tier,
            url=url,
        )
    if failed.kind == "pool_timeout":
        return SpaceTimeoutError(
            f"No free connection to the Space within pool_timeout={config.pool_timeout:g}s: "
            f"{DEFAULT_MAX_CONNECTIONS} calls to it are already open.",
            tier=tier,
            url=url,
            hint=(
                "Make fewer calls to this Space at once (max_concurrency), raise its "
                "pool_timeout setting, or find why its calls hang (timeout= ends them)."
            ),
        )
    if failed.kind == "bad_encoding":
        return SpaceResponseError(
            f"The answer's Content-Encoding cannot be decoded ({failed.detail}).",
            tier=tier,
            url=url,
            hint="The Space (or a proxy before it) sent a coding it was not asked for, or a "
            "corrupt body; check the Space's server.",
        )
    if failed.kind == "oversize":
        return SpaceResponseError(
            f"The answer is larger than max_response_bytes={config.max_response_bytes} "
            "(counted after decompression).",
            tier=tier,
            url=url,
            hint="Lower max_new_tokens or raise max_response_bytes.",
        )
    return None


def stream_failure(
    failed: Failed, config: SpaceConfig, deadline: Deadline, tier: str | None
) -> HFSpacesError | None:
    """The typed error for a failed read of an open stream (``None``: it broke)."""
    return transport_error(failed, config, deadline, tier, "the answer stream")


Action = Send | Sleep
Result = Received | Failed | None
Flow = Generator[Action, Result, Outcome]

_WAKE_WORDS = ("sleeping", "loading", "building", "starting", "waking", "restarting")


def is_waking(status: int, headers: Mapping[str, str], body: bytes) -> tuple[bool, float | None]:
    """Whether a 502/503 means "asleep or building, come back soon", and the estimated wait."""
    if status not in (502, 503):
        return False, None
    ctype = headers.get("content-type", "")
    if "html" in ctype or body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        return True, None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False, None
    if isinstance(data, Mapping):
        est = data.get("estimated_time")
        if isinstance(est, (int, float)) and not isinstance(est, bool):
            return True, max(0.0, float(est))
        err = data.get("error")
        if isinstance(err, str) and any(w in err.lower() for w in _WAKE_WORDS):
            return True, None
    return False, None


def is_paused(body: bytes) -> bool:
    head = body[:4096].lower()
    return b"paused" in head and b"space" in head


_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]+)?")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):  # RFC 9110: delta-seconds are digits (not "1_0", "inf")
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, float(when.timestamp()) - current)


def backoff(config: SpaceConfig, retry: int) -> float:
    """Exponential backoff with jitter: initial * 2**retry, capped, times [0.5, 1)."""
    base: float = min(config.retry_max_delay, config.retry_initial_delay * 2.0**retry)
    return base * (0.5 + random.random() / 2)


def same_origin(a: str, b: str) -> bool:
    return _origin(a) == _origin(b)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, port


AUTH_HEADERS = ("authorization", "x-hf-authorization")
"""Headers that carry the token."""
CREDENTIAL_HEADERS = (*AUTH_HEADERS, "x-ip-token", "cookie")
"""Every header that names the caller: all are stripped on a redirect to another origin."""


def exchange(
    config: SpaceConfig,
    *,
    tier: str | None,
    method: str,
    url: str,
    body: Any,
    headers: dict[str, str],
    stream: bool = False,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    clock: Callable[[], float] = time.monotonic,
    ok_statuses: tuple[int, ...] = (),
    hub: HubWatch | None = None,
    deadline: Deadline | None = None,
    overload_retries: bool = True,
) -> Flow:
    """Send one request with retries, wake-up waits and redirects; return the 2xx answer.

    Yields :class:`Send` and :class:`Sleep` (with the :class:`WaitEvent` that explains it) and
    receives :class:`Received` / :class:`Failed` / ``None``. With ``hub`` (the Space's id is
    known), a 502/503 first asks the Hub for the Space's stage: paused or failed Spaces raise at
    once, a GPU Space gets the longer default wait. Raises the typed error for anything
    but a 2xx answer (or one of ``ok_statuses``, which the protocol parses itself). ``clock``
    is read to measure waits (tests pass a fake one). ``deadline`` is the call's total limit
    (default: ``config.total_timeout`` from now); every request carries what is left of it.
    ``overload_retries=False`` (a batch's attempt): an overload answer (429, a full queue, 503
    overloaded) is raised at once, for the batch's limiter to hear and retry.
    """
    space_url = config.url
    if deadline is None:
        deadline = Deadline.start(config.total_timeout, clock)
    attempts = 0
    retries = 0
    redirects = 0
    polls = 0
    started = clock()
    wake_started: float | None = None
    wake_until: float | None = None
    wake_budget = 0.0
    logged_at: float | None = None
    current_url = url
    current_headers = headers
    notes: list[str] = []

    def err(cls: type[HFSpacesError], message: str, **kw: Any) -> HFSpacesError:
        # A Location (or any text of the answer) may echo the credentials: never shown.
        message = redact(message, _secrets_in(headers)) or message
        return cls(message, tier=tier, url=space_url, **kw)

    def retry(
        reason: str, detail: str, status: int | None = None, retry_after: float | None = None
    ) -> Sleep | None:
        """The one retry decision: a Sleep before the next attempt, or None (give up)."""
        nonlocal retries
        if retries >= config.max_retries:
            return None
        if retry_after is not None and retry_after > config.max_retry_after:
            return None
        delay = retry_after if retry_after is not None else backoff(config, retries)
        if delay >= deadline.left():  # the call's timeout would end the wait: give up now
            return None
        retries += 1
        logger.info(
            "Space %s (tier %s): %s (%s); retry %d/%d in %.2fs",
            space_url,
            tier,
            reason.replace("_", " "),
            detail,
            retries,
            config.max_retries,
            delay,
        )
        event = WaitEvent(
            reason=reason,
            tier=tier,
            url=space_url,
            elapsed=clock() - started,
            delay=delay,
            attempt=retries,
            max_attempts=config.max_retries,
            detail=detail,
            status_code=status,
        )
        return Sleep(delay, event)

    while True:
        attempts += 1
        sent_at = clock()
        budget = deadline.left()
        if budget <= 0:
            raise deadline.error(tier, space_url, f"before a request to {current_url}")
        # A sleeping page must arrive within what is left of the wake wait (the first one, too;
        # the last look after the wait gets a second to answer).
        page = wake_until - sent_at if wake_until is not None else wake_limit(config, hub)
        result = yield Send(
            method,
            current_url,
            body,
            current_headers,
            stream,
            budget=budget,
            page_budget=max(page, 1.0),
        )
        if isinstance(result, Failed):
            if result.kind == "invalid_url":
                raise err(SpaceResponseError, f"Redirect to an invalid URL: {result.detail}.")
            if result.kind == "wake_deadline":
                raise err(
                    SpaceUnavailableError,
                    f"The Space's error or sleeping page did not arrive within the wake wait "
                    f"(wake_timeout={wake_budget or wake_limit(config, hub)}s): it is still "
                    "asleep, building or stuck.",
                    hint="Raise wake_timeout, or check the Space's logs on huggingface.co.",
                )
            fatal = transport_error(result, config, deadline, tier, current_url)
            if fatal is not None:
                raise fatal
            sleep = retry("retrying", f"{result.kind}: {result.detail}")
            if sleep is not None:
                yield sleep
                continue
            if result.kind == "connect_timeout":
                raise err(
                    SpaceTimeoutError,
                    f"Could not connect within connect_timeout={config.connect_timeout}s "
                    f"after {attempts} attempt(s).",
                )
            what = (
                "The connection broke before the answer was complete"
                if result.kind == "broken"
                else "Could not connect"
            )
            raise err(
                SpaceConnectionError, f"{what} ({result.detail}) after {attempts} attempt(s)."
            )

        if result is None:  # pragma: no cover - a driver bug, not a Space's answer
            raise TypeError("exchange() was resumed without an outcome for its Send")
        status = result.status
        if 200 <= status < 300 or status in ok_statuses:
            if result.oversize:
                raise err(
                    SpaceResponseError,
                    f"The answer is larger than max_response_bytes={config.max_response_bytes}.",
                    hint="Lower max_new_tokens or raise max_response_bytes.",
                )
            return Outcome(result, attempts, current_url, notes=notes)

        if status in (301, 302, 303, 307, 308):
            location = result.headers.get("location")
            if not location:
                raise err(SpaceResponseError, f"Redirect ({status}) without a Location header.")
            redirects += 1
            if redirects > max_redirects:
                raise err(SpaceResponseError, f"More than {max_redirects} redirects.")
            try:
                target = urljoin(current_url, location)
                target_origin = _origin(target)
            except ValueError:  # a port out of range, a malformed host
                raise err(
                    SpaceResponseError, f"Redirect ({status}) to an invalid URL {location[:200]!r}."
                ) from None
            if any(secret in target for secret in _secrets_in(headers)):
                raise err(
                    SpaceResponseError,
                    f"Refusing a redirect ({status}) to a URL that carries the token "
                    f"({target[:200]!r}).",
                    hint="The Space echoed the credentials into a Location; ask its owner.",
                )
            if target_origin[0] not in ("http", "https") or not target_origin[1]:
                raise err(SpaceResponseError, f"Redirect to a non-http URL {target[:200]!r}.")
            if current_url.startswith("https://") and target_origin[0] == "http":
                raise err(
                    SpaceResponseError,
                    f"Refusing a redirect from https to plain http ({target[:200]!r}): the "
                    "prompt would travel unencrypted.",
                    hint="Use the Space's https URL; ask its owner why it redirects to http.",
                )
            if target_origin != _origin(space_url) or (
                target.startswith("http://") and not is_loopback_url(target)
            ):
                current_headers = {
                    k: v for k, v in current_headers.items() if k.lower() not in CREDENTIAL_HEADERS
                }
                notes.append("redirected to another host; the token was not sent there")
            if status == 303:
                method, body = "GET", None  # RFC 9110: "See Other" is fetched with GET
            shown = redact(target, _secrets_in(headers))
            logger.debug("Space %s (tier %s): redirect %d to %s", space_url, tier, status, shown)
            current_url = target
            attempts -= 1
            continue

        waking, estimate = is_waking(status, result.headers, result.body)
        if waking:
            if is_paused(result.body):
                raise err(
                    SpacePausedError,
                    "The Space is paused by its owner and will not wake up on its own.",
                    status_code=status,
                )
            runtime = None
            if hub is not None:
                if hub.due(clock()):
                    left = deadline.left()
                    if left > 0:
                        yield from ask_hub(hub, current_headers, clock, left)
                runtime = hub.runtime
            down = stage_error(runtime, tier=tier, url=space_url, status_code=status)
            if down is not None:
                raise down
            budget = wake_limit(config, hub)
            now = clock()
            if wake_started is None:
                wake_started = sent_at  # a page that arrives slowly counts against the wait
            wake_until, wake_budget = wake_started + budget, budget
            elapsed = now - wake_started
            remaining = budget - elapsed
            if remaining <= 0:
                where = f", {runtime.waking_note}" if runtime is not None else ""
                raise err(
                    SpaceUnavailableError,
                    f"The Space is still asleep or building after waiting {elapsed:.1f}s "
                    f"(wake_timeout={budget}s); last answer {status}{where}.",
                    status_code=status,
                )
            left = deadline.left()
            if left <= 0:
                raise deadline.error(tier, space_url, "waiting for the Space to wake up")
            delay = wake_delay(config, polls, estimate)
            delay = min(delay, remaining, left)
            polls += 1
            if logged_at is None or now - logged_at >= WAKE_LOG_INTERVAL:
                logger.info(
                    "Space %s (tier %s) is waking up (HTTP %d%s): %.0fs elapsed of "
                    "wake_timeout=%.0fs, next look in %.1fs",
                    space_url,
                    tier,
                    status,
                    f", estimated {estimate:.0f}s" if estimate is not None else "",
                    elapsed,
                    budget,
                    delay,
                )
                logged_at = now
            attempts -= 1
            yield Sleep(
                delay,
                WaitEvent(
                    reason="waking",
                    tier=tier,
                    url=space_url,
                    elapsed=elapsed,
                    delay=delay,
                    budget=budget,
                    attempt=polls,
                    detail=f"HTTP {status}"
                    + (f", estimated {estimate:.0f}s" if estimate is not None else "")
                    + (f", {runtime.waking_note}" if runtime is not None else ""),
                    status_code=status,
                    stage=runtime.stage if runtime is not None else None,
                ),
            )
            continue

        hidden = _secrets_in(headers)
        message = redact(error_message(result.body), hidden)
        detail = f": {message}" if message else ""
        kind = server_error_kind(result.body)
        if status == 429 or (kind == "overloaded" and status < 500):
            retry_after = parse_retry_after(result.headers.get("retry-after"))
            sleep = (
                retry("rate_limited", f"HTTP {status}", status, retry_after)
                if overload_retries
                else None
            )
            if sleep is not None:
                yield sleep
                continue
            raise SpaceRateLimitError(
                f"Rate limited ({status}) after {attempts} attempt(s){detail}.",
                retry_after=retry_after,
                tier=tier,
                url=space_url,
                status_code=status,
            )
        if status >= 500 or kind in ("generation", "overloaded"):
            # TGI answers a failed generation with 424 (error_type "generation"): the model
            # failed, not the request, so it is retried like a 5xx.
            queue_full = kind == "overloaded" or (
                bool(message) and "queue is full" in (message or "").lower()
            )
            reason = "rate_limited" if queue_full else "retrying"
            sleep = (
                retry(reason, f"HTTP {status}", status)
                if overload_retries or not queue_full
                else None
            )
            if sleep is not None:
                yield sleep
                continue
            if queue_full:  # Gradio's queue or TGI's: the Space works, it is busy
                what = " is overloaded" if kind == "overloaded" else "'s queue is full"
                raise SpaceRateLimitError(
                    f"The Space{what} (HTTP {status}) after {attempts} attempt(s){detail}.",
                    hint="Retry later, raise max_retries, or raise the app's queue max_size.",
                    tier=tier,
                    url=space_url,
                    status_code=status,
                )
            if kind == "generation":
                raise err(
                    SpaceUnavailableError,
                    f"The Space's model failed while generating (HTTP {status}) after "
                    f"{attempts} attempt(s){detail}.",
                    hint="A server failure, not a problem with the request: retry later, "
                    "or check the Space's logs on huggingface.co (out of memory?).",
                    status_code=status,
                )
            raise err(
                SpaceUnavailableError,
                f"The Space failed with HTTP {status} after {attempts} attempt(s){detail}.",
                hint="Check the Space's logs on huggingface.co; it may be crashing or overloaded.",
                status_code=status,
            )
        raise client_error(
            status,
            detail=detail,
            body=redact(result.body.decode("utf-8", "replace"), hidden) or "",
            had_token=any(k.lower() in AUTH_HEADERS for k in current_headers),
            url=current_url,
            tier=tier,
            space_url=space_url,
            kind=kind,
        )


def wake_limit(config: SpaceConfig, hub: HubWatch | None) -> float:
    """How long a wait for this Space to wake may take: ``wake_timeout``, or the longer GPU
    default when the Hub reports GPU hardware and ``wake_timeout`` was not set."""
    runtime = hub.runtime if hub is not None else None
    if runtime is not None and runtime.gpu and "wake_timeout" not in config.model_fields_set:
        return max(config.wake_timeout, DEFAULT_GPU_WAKE_TIMEOUT)
    return float(config.wake_timeout)


def wake_delay(config: SpaceConfig, polls: int, estimate: float | None) -> float:
    """The pause before the next look at a sleeping Space (before the budget bounds it).

    The Space's own ``estimated_time`` is honoured up to ``WAKE_MAX_ESTIMATE_WAIT``; without
    one, a ``wake_poll_interval`` that was set is kept as is, and the default one backs off
    (doubling) up to ``WAKE_MAX_POLL_INTERVAL``."""
    if estimate is not None:
        return min(max(estimate, 0.05), WAKE_MAX_ESTIMATE_WAIT)
    interval: float = config.wake_poll_interval
    if "wake_poll_interval" in config.model_fields_set:
        return interval
    return float(min(interval * 2.0 ** min(polls, 30), max(WAKE_MAX_POLL_INTERVAL, interval)))


def hub_get(
    url: str, headers: Mapping[str, str], budget: float | None = None
) -> Generator[Send, Any, Received | None]:
    """One GET to the Hub, with the request's token only (private Spaces need it), on the
    Hub's short timeout; ``None`` when the Hub could not be reached."""
    token = {k: v for k, v in headers.items() if k.lower() == "authorization"}
    answer = yield Send("GET", url, None, token, timeout=HUB_TIMEOUT, budget=budget)
    return answer if isinstance(answer, Received) else None


def ask_hub(
    hub: HubWatch,
    headers: Mapping[str, str],
    clock: Callable[[], float],
    budget: float | None = None,
) -> Generator[Send, Any, SpaceRuntime | None]:
    """Ask the Hub for the Space's runtime and note the answer on ``hub``."""
    answer = yield from hub_get(hub.url, headers, budget)
    if answer is None:
        hub.take(None, {}, b"", clock())
    else:
        hub.take(answer.status, answer.headers, answer.body, clock())
    return hub.runtime


def _secrets_in(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The credential values a request carried (what no error text may show)."""
    out = []
    for name, value in headers.items():
        if name.lower() in CREDENTIAL_HEADERS and value:
            out.append(value.split(" ", 1)[-1] if value.lower().startswith("bearer ") else value)
    return tuple(v for v in out if len(v) >= 4)


def redact(text: str | None, hidden: Sequence[str]) -> str | None:
    """``text`` with every value of ``hidden`` replaced by ``***`` (tokens echoed back)."""
    if not text:
        return text
    for value in hidden:
        text = text.replace(value, "***")
    return text


def client_error(
    status: int,
    *,
    detail: str,
    body: bytes | str,
    had_token: bool,
    url: str,
    tier: str | None,
    space_url: str,
    kind: str | None = None,
) -> HFSpacesError:
    """The typed error for a 4xx answer that is not retried (401, 403, 404, others).

    ``kind`` is what the error body says of itself (:func:`server_error_kind`)."""
    kw: dict[str, Any] = {"tier": tier, "url": space_url, "status_code": status}
    if status in (401, 403):
        if not had_token:
            return SpaceAuthError(
                f"The Space refused the request ({status}): it is private and no token was sent.",
                hint=(
                    "Set the Space's token (api_key=... on the LangChain and LlamaIndex models, "
                    "token=... on the tier, HF_SPACES_<TIER>_TOKEN, HF_TOKEN, or log in with "
                    "`hf auth login`) to a Hugging Face token with read access."
                ),
                **kw,
            )
        what = "rejected the token" if status == 401 else "denied access with this token"
        return SpaceAuthError(f"The Space {what} ({status}){detail}.", **kw)
    if status == 404:
        return SpaceNotFoundError(f"Nothing at {url} (404){detail}.", **kw)
    if kind == "validation":
        return SpaceResponseError(
            f"The Space refused the request as invalid (HTTP {status}){detail}.",
            excerpt=None if detail else excerpt(body),
            hint="Check your prompt and parameters against what the Space accepts "
            "(the message above names the one it refused).",
            **kw,
        )
    return SpaceResponseError(
        f"The Space rejected the request with HTTP {status}{detail}.",
        excerpt=None if detail else excerpt(body),
        hint="Check the prompt and parameters against what the Space accepts.",
        **kw,
    )


def server_error_kind(body: bytes) -> str | None:
    """What an error body says it is: ``"validation"`` (fix the request), ``"generation"``
    (the model failed) or ``"overloaded"`` (busy), from TGI's ``error_type`` or an
    OpenAI-style ``error.type``; ``None`` when it says neither."""
    data = json_or_none(body)
    return tgi_error_kind(data) or openai_error_kind(data)
