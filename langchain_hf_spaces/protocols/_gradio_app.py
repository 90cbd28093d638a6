"""What a Gradio app says about itself in ``GET /config``, as gradio_client reads it. No I/O.

``/config`` is served unprefixed by every Gradio version. It gives the version, the
``api_prefix`` (``/gradio_api`` on 5.x and 6.x, none before), the ``protocol`` (``ws`` — or no
key — on 3.x, ``sse_v*`` on 4.x and later), the components (type, label, default value) and the
dependencies: each an endpoint with its ``api_name``, its ``fn_index`` and its input and output
components. Which endpoints are public: a string ``api_name`` on 3.x, ``show_api`` on 4.x/5.x,
``api_visibility == "public"`` on 6.x.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_hf_spaces.protocols._base import ProtocolError, loads_json

__all__ = ["Endpoint", "GradioApp", "Slot", "parse_config", "pick_endpoint"]

TEXT_INPUTS = frozenset({"textbox", "textarea", "text", "multimodaltextbox"})
PROMPT_LABELS = (
    "prompt",
    "message",
    "inputs",
    "input",
    "text",
    "query",
    "question",
    "instruction",
)


@dataclass(frozen=True, slots=True)
class Slot:
    """One input or output of an endpoint: a component."""

    type: str
    """The component type, lower case (``textbox``, ``slider``, ``state``, ``chatbot`` ...)."""
    label: str
    default: Any = None
    messages: bool = False
    """For a chatbot: its history is in messages format (``{"role", "content"}`` dicts)."""
    props: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The component's other properties in ``/config`` (``choices``, ``minimum``, ...)."""

    @property
    def key(self) -> str:
        return self.label.strip().lower().replace(" ", "_").replace("-", "_")

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_INPUTS


@dataclass(frozen=True, slots=True)
class Endpoint:
    api_name: str
    """With its leading slash: ``/predict``, ``/chat``, ``/respond``."""
    fn_index: int
    public: bool
    inputs: tuple[Slot, ...]
    outputs: tuple[Slot, ...]
    description: str = ""
    """What the app says the endpoint does (``api_description`` on 6.x), if anything."""

    @property
    def takes_text(self) -> bool:
        return any(s.is_text for s in self.inputs)

    @property
    def message_index(self) -> int | None:
        """Where the prompt (the user's message) goes: a labelled text input, else the first."""
        texts = [i for i, s in enumerate(self.inputs) if s.is_text]
        for i in texts:
            if self.inputs[i].key in PROMPT_LABELS:
                return i
        return texts[0] if texts else None

    @property
    def history_index(self) -> int | None:
        """A Chatbot input: the app takes the conversation's history there, as data."""
        return next((i for i, s in enumerate(self.inputs) if s.type == "chatbot"), None)

    def describe(self) -> str:
        labels = ", ".join(f"{s.label or s.type}" for s in self.inputs if s.type != "state")
        return f"{self.api_name}({labels})"


@dataclass(frozen=True, slots=True)
class GradioApp:
    version: str
    major: int | None
    api_prefix: str
    queue: bool
    """True when calls go through the SSE queue (4.x and later); False: ``/run/`` (3.x)."""
    chat_interface: bool
    endpoints: tuple[Endpoint, ...]
    diffs: bool = False
    """Streamed outputs after the first come as diffs (``sse_v2`` and later)."""

    @property
    def public(self) -> list[Endpoint]:
        return [e for e in self.endpoints if e.public]

    def endpoint(self, api_name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.api_name == api_name), None)


def _major(version: str) -> int | None:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _slot(component: Mapping[str, Any] | None, major: int | None) -> Slot:
    if not isinstance(component, Mapping):
        return Slot("unknown", "")
    props = component.get("props")
    props = props if isinstance(props, Mapping) else {}
    kind = str(component.get("type") or "unknown").lower()
    label = props.get("label")
    label = label if isinstance(label, str) and not label.startswith("__i18n__") else ""
    messages = kind == "chatbot" and (props.get("type") == "messages" or (major or 0) >= 6)
    return Slot(kind, label, props.get("value"), messages, props)


def _slots(
    ids: Any, components: Mapping[int, Mapping[str, Any]], major: int | None
) -> tuple[Slot, ...]:
    if not isinstance(ids, list):
        return ()
    return tuple(_slot(components.get(j) if isinstance(j, int) else None, major) for j in ids)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _is_public(dep: Mapping[str, Any], major: int | None) -> bool:
    if not isinstance(dep.get("api_name"), str) or dep.get("backend_fn") is False:
        return False
    if "api_visibility" in dep:
        return dep.get("api_visibility") == "public"
    if "show_api" in dep:
        return bool(dep.get("show_api"))
    return True  # 3.x: a named endpoint is an API


def parse_config(body: bytes) -> GradioApp:
    """Parse ``GET /config``; raise :class:`ProtocolError` when it is not a Gradio app's."""
    data = loads_json(body)
    if not isinstance(data, Mapping) or not isinstance(data.get("dependencies"), list):
        raise ProtocolError(
            'The Gradio config has no "dependencies" (is this a Gradio app?).', body
        )
    version = str(data.get("version") or "")
    major = _major(version)
    raw_components = data.get("components")
    components = {
        c["id"]: c
        for c in (raw_components if isinstance(raw_components, list) else [])
        if isinstance(c, Mapping) and isinstance(c.get("id"), int)
    }
    endpoints = []
    for i, dep in enumerate(data["dependencies"]):
        if not isinstance(dep, Mapping) or not isinstance(dep.get("api_name"), str):
            continue
        fn_index = dep.get("id", i)
        endpoints.append(
            Endpoint(
                api_name="/" + str(dep["api_name"]).strip("/"),
                fn_index=fn_index if isinstance(fn_index, int) else i,
                public=_is_public(dep, major),
                inputs=_slots(dep.get("inputs"), components, major),
                outputs=_slots(dep.get("outputs"), components, major),
                description=_text(dep.get("api_description")),
            )
        )
    prefix = data.get("api_prefix")
    protocol = str(data.get("protocol") or "ws")
    return GradioApp(
        version=version,
        major=major,
        api_prefix="/" + prefix.strip("/") if isinstance(prefix, str) and prefix.strip("/") else "",
        queue=protocol.startswith("sse"),
        chat_interface=data.get("mode") == "chat_interface",
        endpoints=tuple(endpoints),
        diffs=protocol in ("sse_v2", "sse_v2.1", "sse_v3"),
    )


def pick_endpoint(app: GradioApp, api_name: str | None) -> Endpoint:
    """The endpoint to call: ``api_name`` when given, else the one that takes a message."""
    if api_name:
        name = "/" + api_name.strip("/")
        found = app.endpoint(name)
        if found is None:
            raise ProtocolError(
                f"The Gradio app has no API named {name!r} (it has: {_names(app)}); "
                "set api_name to one of them.",
                kind="input",
            )
        if not found.takes_text:
            raise ProtocolError(
                f"The Gradio API {name!r} has no text input to put the prompt in "
                f"({found.describe()}).",
                kind="input",
            )
        return found
    candidates = [e for e in app.public if e.takes_text]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ProtocolError(
            f"The Gradio app has no API that takes a text message (it has: {_names(app)}).",
            kind="input",
        )
    raise ProtocolError(
        "The Gradio app has several APIs that take a text message: "
        + ", ".join(e.describe() for e in candidates)
        + "; set api_name to the one to call.",
        kind="input",
    )


def _names(app: GradioApp) -> str:
    return ", ".join(e.api_name for e in app.public) or "none"
