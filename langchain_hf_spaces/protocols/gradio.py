"""A Gradio app, any major version (3.x to 6.x), called as gradio_client calls it.

Setup reads ``GET /config`` once (``_gradio_app``): the version, the ``api_prefix``, the
endpoints with their inputs. The endpoint is ``api_name`` when set, else the one that takes a
message (a ChatInterface's chat endpoint, an Interface's only endpoint). The prompt goes into
its message input (``{"text", "files"}`` for a multimodal one), generation parameters into inputs
of the same name, hidden ``gr.State`` inputs get ``None``, the rest their defaults.

Calls:

- 4.x, 5.x, 6.x: the queue protocol. ``POST {api_prefix}/queue/join`` with the data, the
  ``fn_index`` and a fresh ``session_hash``, then the event stream
  ``GET {api_prefix}/queue/data?session_hash=...``: ``estimation`` (queue position, passed on as
  a wait), ``process_generating`` (the output so far, then diffs), ``process_completed`` (the
  output, or the app's error with its message: ``gr.Error`` texts arrive whole).
- 3.x: ``POST /run/{api_name}`` with the data, the ``fn_index`` and a session; a generator
  endpoint answers its outputs one call at a time (``is_generating``), so it is polled with the
  same body until it ends — streamed that way too (3.x's websocket queue is not used).

A fresh session per call keeps calls independent: a ChatInterface's own history lives in its
session, so earlier turns are passed as data where the endpoint takes a Chatbot input, and
otherwise as a marked transcript in the message (see ``build_chat_request``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from langchain_hf_spaces.protocols._base import (
    Continue,
    Generation,
    Protocol,
    ProtocolError,
    RequestSpec,
    StreamParser,
    loads_json,
    text_delta,
)
from langchain_hf_spaces.protocols._gradio_app import (
    Endpoint,
    GradioApp,
    Slot,
    parse_config,
    pick_endpoint,
)
from langchain_hf_spaces.protocols._gradio_output import apply_diff, output_text
from langchain_hf_spaces.protocols._sse import SSEEvent
from langchain_hf_spaces.protocols._zerogpu import parse_quota

__all__ = [
    "CONFIG_PATH",
    "GradioProtocol",
    "app_error",
    "events_request",
    "is_gradio_config",
    "submit_request",
    "transcript",
]

CONFIG_PATH = "/config"
_ALIASES: dict[str, tuple[str, ...]] = {
    "max_new_tokens": ("max_new_tokens", "max_tokens", "max_length", "max_new_token", "tokens"),
    "temperature": ("temperature", "temp"),
    "top_p": ("top_p",),
    "top_k": ("top_k",),
    "seed": ("seed",),
    "repetition_penalty": ("repetition_penalty",),
    "stop": ("stop", "stop_sequences"),
}
_SYSTEM_LABELS = ("system", "system_prompt", "system_message", "system_instruction")


def is_gradio_config(body: bytes) -> bool:
    """Whether ``body`` is a Gradio app's ``/config`` (what ``auto`` looks for first)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return (
        isinstance(data, dict)
        and isinstance(data.get("dependencies"), list)
        and isinstance(data.get("components"), list)
    )


def new_session() -> str:
    """A fresh ``session_hash`` for one call (tests replace it to replay recordings)."""
    return secrets.token_hex(6)


def transcript(turns: Sequence[tuple[str, str]], message: str, system: str | None = None) -> str:
    """Earlier turns carried in the message, for apps that cannot take history as data."""
    lines = []
    if system:
        lines += ["[System instructions]", system, ""]
    if turns:
        lines.append("[Conversation so far]")
        lines += [f"{'User' if role == 'user' else 'Assistant'}: {text}" for role, text in turns]
        lines.append("")
    if not lines:
        return message
    return "\n".join([*lines, "[Current message]", message])


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
        )
    return ""


def app_error(message: Any) -> ProtocolError:
    text = str(message).strip() if message else ""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]  # 4.x quotes the gr.Error text
    quota = parse_quota(text)
    if quota is not None:
        return ProtocolError(
            f"The Space's ZeroGPU quota is spent: {quota.message}",
            kind="quota",
            details={
                "retry_after": quota.retry_after,
                "seconds_left": quota.seconds_left,
                "seconds_requested": quota.seconds_requested,
            },
        )
    lowered = text.lower()
    if "queue" in lowered and "full" in lowered:
        return ProtocolError(f"The Gradio queue is full: {text}", kind="overloaded")
    if not text:
        text = "no details (the app runs with show_error=False)"
    return ProtocolError(f"The Gradio app raised an error: {text}", kind="app")


def submit_request(app: GradioApp, ep: Endpoint, data: list[Any]) -> RequestSpec:
    """The request that runs ``ep`` on ``data`` (the whole input list), in a fresh session."""
    session = new_session()
    if not app.queue:
        run = {"data": data, "fn_index": ep.fn_index, "session_hash": session}
        # 3.x answers a gr.Error with a 500 carrying its message: parsed, not retried.
        return RequestSpec("POST", f"/run{ep.api_name}", run, ok_statuses=(500,))
    body: dict[str, Any] = {
        "data": data,
        "fn_index": ep.fn_index,
        "session_hash": session,
        "event_data": None,
        "trigger_id": None,
    }
    return RequestSpec("POST", f"{app.api_prefix}/queue/join", body, state=session)


def events_request(
    app: GradioApp, answer: Mapping[str, Any], body: bytes, request: RequestSpec | None
) -> RequestSpec:
    """The event stream of a call the queue took (``answer`` is its ``queue/join`` answer)."""
    event_id = answer.get("event_id")
    if not isinstance(event_id, str) or not event_id or request is None:
        raise ProtocolError('The Gradio queue answer has no "event_id".', body)
    return RequestSpec(
        "GET", f"{app.api_prefix}/queue/data?session_hash={request.state}", stream=True
    )


class _QueueStream(StreamParser):
    """The events of one call on the queue protocol (``/queue/data``)."""

    def __init__(self, endpoint: Endpoint | None, diffs: bool) -> None:
        self.endpoint = endpoint
        self.diffs = diffs
        self.data: list[Any] | None = None
        self.text = ""
        self.reasoning: str | None = None
        self.done = False
        self._notices: list[str] = []

    def notices(self) -> list[str]:
        out, self._notices = self._notices, []
        return out

    def _take(self, data: Any) -> str:
        self.data = data
        text, self.reasoning = output_text(self.endpoint, data)
        delta = text_delta(self.text, text)
        self.text = text
        return delta

    def feed(self, event: SSEEvent) -> str:
        if not event.data.strip():
            return ""
        try:
            msg = json.loads(event.data)
        except (ValueError, RecursionError):
            raise ProtocolError("A Gradio queue event is not valid JSON.", event.data) from None
        if not isinstance(msg, Mapping):
            return ""
        kind = msg.get("msg")
        raw = msg.get("output")
        output: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        if kind == "estimation":
            rank, size = msg.get("rank"), msg.get("queue_size")
            if isinstance(rank, int) and rank > 0:
                eta = msg.get("rank_eta")
                when = f", about {eta:.0f}s" if isinstance(eta, (int, float)) else ""
                self._notices.append(f"position {rank + 1} of {size} in the Space's queue{when}")
            return ""
        if kind == "process_generating":
            data = output.get("data")
            if self.diffs and self.data is not None and isinstance(data, list):
                data = [apply_diff(old, d) for old, d in zip(self.data, data, strict=False)]
            return self._take(data)
        if kind == "process_completed":
            if not msg.get("success", True) or "error" in output:
                raise app_error(output.get("error"))
            self.done = True
            return self._take(output.get("data"))
        if kind == "unexpected_error":
            raise app_error(msg.get("message"))
        if kind == "close_stream" and not self.done:
            raise ProtocolError("The Gradio queue closed the stream before the answer.")
        return ""

    def result(self) -> Generation:
        return Generation(self.text, reasoning=self.reasoning)


class GradioProtocol(Protocol):
    name: ClassVar[str] = "gradio"
    supports_streaming: ClassVar[bool] = True
    # Gradio apps on Spaces read the token from X-HF-Authorization too (gradio_client sends both).
    auth_headers: ClassVar[tuple[str, ...]] = ("authorization", "x-hf-authorization")

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        api_name = getattr(config, "api_name", None)
        self.api_name: str | None = "/" + str(api_name).strip("/") if api_name else None
        self.app: GradioApp | None = None
        self.endpoint: Endpoint | None = None

    # ------------------------------------------------------------------ setup
    def setup_request(self) -> RequestSpec | None:
        return RequestSpec("GET", CONFIG_PATH) if self.app is None else None

    def setup(self, body: bytes) -> None:
        app = parse_config(body)
        self.endpoint = pick_endpoint(app, self.api_name)
        self.app = app

    def forget(self) -> bool:
        had, self.app, self.endpoint = self.app is not None, None, None
        return had

    @property
    def takes_messages(self) -> bool:
        """A chat endpoint: a ChatInterface's, or one with a Chatbot input."""
        ep = self.endpoint
        return ep is not None and (
            ep.history_index is not None or bool(self.app and self.app.chat_interface)
        )

    def _ready(self) -> tuple[GradioApp, Endpoint]:
        if self.app is None or self.endpoint is None:
            raise ProtocolError("The Gradio app's config was not read yet.")
        return self.app, self.endpoint

    def _param_slot(self, slot: Slot) -> str | None:
        """Which generation parameter an input takes, by its label."""
        if slot.type in ("state", "chatbot") or (slot.is_text and slot.key not in _ALIASES["stop"]):
            return None
        return next((ours for ours, names in _ALIASES.items() if slot.key in names), None)

    def accepts(self, parameter: str) -> bool:
        if self.endpoint is None:
            return False
        return any(self._param_slot(s) == parameter for s in self.endpoint.inputs)

    # --------------------------------------------------------------- requests
    def _data(
        self,
        message: str,
        parameters: Mapping[str, Any],
        *,
        history: list[tuple[str, str]] | None = None,
        system: str | None = None,
    ) -> tuple[list[Any], str | None]:
        """The endpoint's input list; also the system prompt when no input took it."""
        _, ep = self._ready()
        at = ep.message_index
        data: list[Any] = []
        used: set[str] = set()
        for i, slot in enumerate(ep.inputs):
            if i == at:
                data.append(
                    {"text": message, "files": []} if slot.type == "multimodaltextbox" else message
                )
            elif slot.type == "state":
                data.append(None)
            elif slot.type == "chatbot":
                data.append(self._history(slot, history or []))
            elif system is not None and slot.is_text and slot.key in _SYSTEM_LABELS:
                data.append(system)
                system = None
            else:
                ours = self._param_slot(slot)
                if ours is not None and ours in parameters:
                    value = parameters[ours]
                    data.append("\n".join(value) if ours == "stop" else value)
                    used.add(ours)
                else:
                    data.append(slot.default)
        unknown = sorted(set(parameters) - used)
        if unknown:
            raise ProtocolError(
                f"The Gradio API {ep.api_name!r} has no input for {', '.join(unknown)} "
                f"(it takes: {ep.describe()}).",
                kind="input",
            )
        return data, system

    def _history(self, slot: Slot, turns: list[tuple[str, str]]) -> list[Any]:
        if slot.messages:
            if self.app is not None and (self.app.major or 0) >= 6:  # 6.x: content parts
                return [
                    {"role": role, "content": [{"type": "text", "text": text}]}
                    for role, text in turns
                ]
            return [{"role": role, "content": text} for role, text in turns]
        pairs: list[list[str | None]] = []
        for role, text in turns:
            if role == "user" or not pairs or pairs[-1][1] is not None:
                pairs.append([text, None] if role == "user" else [None, text])
            else:
                pairs[-1][1] = text
        return pairs

    def _submit(self, data: list[Any]) -> RequestSpec:
        app, ep = self._ready()
        return submit_request(app, ep, data)

    def build_request(
        self, prompt: str, parameters: Mapping[str, Any], *, stream: bool = False
    ) -> RequestSpec:
        data, _ = self._data(prompt, parameters)
        return self._submit(data)

    def build_chat_request(
        self,
        messages: Sequence[Mapping[str, Any]],
        parameters: Mapping[str, Any],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> RequestSpec:
        """The last user message as the message; earlier turns as history or a transcript."""
        _, ep = self._ready()
        if tools:
            raise ProtocolError(
                "A Gradio app takes no tool definitions; use a chat model with a chat template "
                "(ChatHuggingFaceSpace does this) or an OpenAI-compatible Space.",
                kind="input",
            )
        system_parts = [
            _message_text(m.get("content")) for m in messages if m.get("role") == "system"
        ]
        turns = [
            (str(m["role"]), _message_text(m.get("content")))
            for m in messages
            if m.get("role") in ("user", "assistant")
        ]
        if not turns or turns[-1][0] != "user":
            raise ProtocolError(
                "A chat with a Gradio app must end with a user message.", kind="input"
            )
        message = turns.pop()[1]
        system = "\n\n".join(p for p in system_parts if p) or None
        native = ep.history_index is not None
        data, system_left = self._data(
            message, parameters, history=turns if native else [], system=system
        )
        if (turns and not native) or system_left:
            at = ep.message_index
            assert at is not None
            text = transcript([] if native else turns, message, system_left)
            slot = ep.inputs[at]
            data[at] = {"text": text, "files": []} if slot.type == "multimodaltextbox" else text
        return self._submit(data)

    # ---------------------------------------------------------------- answers
    def parse_response(
        self, body: bytes, *, prompt: str, request: RequestSpec | None = None
    ) -> Generation | RequestSpec | Continue:
        app, ep = self._ready()
        data = loads_json(body)
        if not isinstance(data, Mapping):
            raise ProtocolError("The Gradio answer is not a JSON object.", body)
        if not app.queue:
            if "error" in data and "data" not in data:
                raise app_error(data.get("error"))
            outputs = data.get("data")
            so_far = request.state if request is not None else None
            if data.get("is_generating") and request is not None:
                # A 3.x generator: each call with the same session and fn_index gives its next
                # output, until is_generating is false.
                text, _ = output_text(ep, outputs)
                return Continue(replace(request, state=text), text)
            if isinstance(so_far, str) and (
                not isinstance(outputs, list) or all(v is None for v in outputs)
            ):
                return Generation(so_far)  # the generator ended: its last output is the answer
            text, reasoning = output_text(ep, outputs)
            return Generation(text, reasoning=reasoning)
        return events_request(app, data, body, request)

    def parse_chat_response(self, body: bytes, *, request: RequestSpec | None = None) -> Any:
        return self.parse_response(body, prompt="", request=request)

    def stream_parser(self, *, prompt: str) -> StreamParser:
        app, ep = self._ready()
        return _QueueStream(ep, diffs=app.diffs)
