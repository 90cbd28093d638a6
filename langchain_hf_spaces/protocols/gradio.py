"""A Gradio app: ``POST /gradio_api/call/{api_name}`` then the event stream of that call.

The parameter list is read once from ``GET /gradio_api/info``, so the prompt and generation
parameters land in the right positions by parameter name; parameters we have no value for get
the app's defaults. Stream events: ``generating`` (the output so far), ``complete`` (the final
output), ``error`` and ``heartbeat``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from langchain_hf_spaces.protocols._base import (
    Generation,
    Protocol,
    ProtocolError,
    RequestSpec,
    StreamParser,
    loads_json,
)
from langchain_hf_spaces.protocols._sse import SSEEvent
from langchain_hf_spaces.protocols.generate import strip_echo

__all__ = ["GradioProtocol"]

INFO_PATH = "/gradio_api/info"
_PROMPT_NAMES = ("prompt", "message", "inputs", "input", "text", "query", "question", "instruction")
_ALIASES: dict[str, tuple[str, ...]] = {
    "max_new_tokens": ("max_new_tokens", "max_tokens", "max_length", "max_new_token", "tokens"),
    "temperature": ("temperature", "temp"),
    "top_p": ("top_p",),
    "top_k": ("top_k",),
    "seed": ("seed",),
    "repetition_penalty": ("repetition_penalty",),
    "stop": ("stop", "stop_sequences"),
}


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    label: str
    component: str
    py_type: str
    has_default: bool
    default: Any


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


class _GradioStream(StreamParser):
    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        self.text = ""
        self.done = False

    def _output(self, event: SSEEvent) -> str:
        try:
            data = json.loads(event.data)
        except ValueError:
            raise ProtocolError(f"A {event.event!r} event is not valid JSON.", event.data) from None
        if isinstance(data, list):
            for item in data:
                if isinstance(item, str):
                    return item
                if isinstance(item, Mapping) and isinstance(item.get("generated_text"), str):
                    return str(item["generated_text"])
            if not data:
                return ""
        raise ProtocolError(
            "The Gradio app's output has no text (expected a Textbox-like output).", event.data
        )

    def feed(self, event: SSEEvent) -> str:
        kind = event.event
        if kind in ("heartbeat", "message") and event.data.strip() in ("", "null"):
            return ""
        if kind == "error":
            message = None
            try:
                data = json.loads(event.data) if event.data.strip() else None
            except ValueError:
                data = event.data
            if isinstance(data, Mapping):
                message = data.get("error") or data.get("message")
            elif isinstance(data, str):
                message = data
            if message and "queue" in str(message).lower() and "full" in str(message).lower():
                raise ProtocolError(f"The Gradio queue is full: {message}", kind="overloaded")
            raise ProtocolError(
                f"The Gradio app raised an error: {message or 'no details (the app hides them)'}",
                kind="app",
            )
        if kind not in ("generating", "complete"):
            return ""
        output = self._output(event)
        if kind == "complete":
            self.done = True
        # Gradio sends the whole output so far; the new text is what was added to it (when the
        # app rewrote its output, the whole output is passed on).
        delta = output[len(self.text) :] if output.startswith(self.text) else output
        self.text = output
        return delta

    def result(self) -> Generation:
        return Generation(strip_echo(self.text, self.prompt))


class GradioProtocol(Protocol):
    name: ClassVar[str] = "gradio"
    supports_streaming: ClassVar[bool] = True
    # Gradio apps on Spaces read the token from X-HF-Authorization too (gradio_client sends both).
    auth_headers: ClassVar[tuple[str, ...]] = ("authorization", "x-hf-authorization")

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        api_name = str(getattr(config, "api_name", None) or "/predict")
        self.api_name = "/" + api_name.strip("/")
        self.params: list[_Param] | None = None

    @property
    def call_path(self) -> str:
        return "/gradio_api/call" + self.api_name

    def setup_request(self) -> RequestSpec | None:
        return RequestSpec("GET", INFO_PATH) if self.params is None else None

    def setup(self, body: bytes) -> None:
        data = loads_json(body)
        endpoints = data.get("named_endpoints") if isinstance(data, Mapping) else None
        if not isinstance(endpoints, Mapping):
            raise ProtocolError(
                'The Gradio API description has no "named_endpoints" (is this a Gradio app?).',
                body,
            )
        endpoint = endpoints.get(self.api_name)
        if not isinstance(endpoint, Mapping):
            names = ", ".join(str(k) for k in endpoints) or "none"
            raise ProtocolError(
                f"The Gradio app has no API named {self.api_name!r} (it has: {names}); "
                "set api_name.",
                kind="input",
            )
        params = []
        for raw in endpoint.get("parameters") or []:
            if not isinstance(raw, Mapping):
                continue
            py = raw.get("python_type")
            params.append(
                _Param(
                    name=str(raw.get("parameter_name") or raw.get("label") or ""),
                    label=str(raw.get("label") or ""),
                    component=str(raw.get("component") or ""),
                    py_type=str(py.get("type") if isinstance(py, Mapping) else ""),
                    has_default=bool(raw.get("parameter_has_default")),
                    default=raw.get("parameter_default"),
                )
            )
        if not any(self._is_text(p) for p in params):
            raise ProtocolError(
                f"The Gradio API {self.api_name!r} has no text input to put the prompt in.",
                kind="input",
            )
        self.params = params

    def accepts(self, parameter: str) -> bool:
        aliases = _ALIASES.get(parameter)
        if not aliases or self.params is None:
            return False
        return any({_norm(p.name), _norm(p.label)} & set(aliases) for p in self.params)

    @staticmethod
    def _is_text(p: _Param) -> bool:
        return p.py_type == "str" or p.component.lower() in ("textbox", "textarea", "text")

    def _prompt_index(self, params: list[_Param]) -> int:
        for i, p in enumerate(params):
            if self._is_text(p) and (
                _norm(p.name) in _PROMPT_NAMES or _norm(p.label) in _PROMPT_NAMES
            ):
                return i
        return next(i for i, p in enumerate(params) if self._is_text(p))

    def build_request(
        self, prompt: str, parameters: Mapping[str, Any], *, stream: bool = False
    ) -> RequestSpec:
        if self.params is None:
            raise ProtocolError("The Gradio API description was not read yet.")
        params = self.params
        prompt_at = self._prompt_index(params)
        data: list[Any] = []
        used: set[str] = set()
        for i, p in enumerate(params):
            if i == prompt_at:
                data.append(prompt)
                continue
            names = {_norm(p.name), _norm(p.label)}
            for ours, aliases in _ALIASES.items():
                if ours in parameters and names.intersection(aliases):
                    value = parameters[ours]
                    if ours == "stop" and p.py_type == "str":
                        value = "\n".join(value)
                    data.append(value)
                    used.add(ours)
                    break
            else:
                if not p.has_default:
                    raise ProtocolError(
                        f"The Gradio API {self.api_name!r} needs parameter {p.name!r}, which "
                        "has no default and no matching generation parameter.",
                        kind="input",
                    )
                data.append(p.default)
        unknown = sorted(set(parameters) - used)
        if unknown:
            raise ProtocolError(
                f"The Gradio API {self.api_name!r} has no input for {', '.join(unknown)} "
                f"(its inputs: {', '.join(p.name for p in params)}).",
                kind="input",
            )
        return RequestSpec("POST", self.call_path, {"data": data})

    def parse_response(self, body: bytes, *, prompt: str) -> RequestSpec:
        data = loads_json(body)
        event_id = data.get("event_id") if isinstance(data, Mapping) else None
        if not isinstance(event_id, str) or not event_id:
            raise ProtocolError('The Gradio call answer has no "event_id".', body)
        return RequestSpec("GET", f"{self.call_path}/{event_id}", stream=True)

    def stream_parser(self, *, prompt: str) -> StreamParser:
        return _GradioStream(prompt)
