"""A Gradio app's endpoints as tools: their parameters, their call data, their results. No I/O.

What a tool needs to know comes from two places, as gradio_client's ``view_api`` reads them:

- ``GET /config`` (every version, see ``_gradio_app``): the endpoints, their input and output
  components with their properties (``choices`` of a Dropdown or Radio, ``minimum`` and
  ``maximum`` of a Slider, ``precision`` of a Number, default ``value``s), and on 6.x the
  endpoint's ``api_description``;
- ``GET {api_prefix}/info`` (4.x and later): per named endpoint, each parameter's Python name
  (``parameter_name``, the function's argument), its JSON schema type, whether it has a default
  and which, and the endpoint's ``description`` (its docstring's first part, 5.x/6.x).

:func:`describe_app` merges them into one :class:`ToolSpec` per public endpoint: a name, a
description and a JSON schema of the arguments (``gr.State`` inputs are hidden: they are sent as
``None``). :func:`call_data` turns a tool's arguments into the endpoint's input list, refusing
what the schema does not allow; :func:`tool_result` turns the output list into text for a model,
plus the files (images, audio, any file component) with their URL and MIME type.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from langchain_hf_spaces._loading import closest
from langchain_hf_spaces.protocols._base import ProtocolError, json_or_none
from langchain_hf_spaces.protocols._gradio_app import Endpoint, GradioApp, Slot
from langchain_hf_spaces.protocols._gradio_output import output_text

__all__ = [
    "INFO_PATH",
    "SpaceFile",
    "SpaceToolResult",
    "ToolParam",
    "ToolSpec",
    "call_data",
    "describe_app",
    "find_tool",
    "info_path",
    "parse_info",
    "tool_name",
    "tool_result",
]

INFO_PATH = "/info"
FILE_COMPONENTS = frozenset(
    {"image", "audio", "video", "file", "model3d", "uploadbutton", "imageeditor", "simpleimage"}
)
_CHOICE_COMPONENTS = frozenset({"dropdown", "radio", "checkboxgroup"})
_HIDDEN = frozenset({"state"})
_NAME_RE = re.compile(r"[^A-Za-z0-9_-]+")
_SIMPLE_TYPES = frozenset({"string", "number", "integer", "boolean", "array"})
_FILE_DATA = {"_type": "gradio.FileData"}


# --------------------------------------------------------------------------------- the specs
@dataclass(frozen=True, slots=True)
class ToolParam:
    """One argument of a tool: an input component of the endpoint."""

    name: str
    """The argument's name: the function's parameter name (``/info``), else the label's."""
    component: str
    """The component type, lower case (``textbox``, ``dropdown``, ``image``, ``state`` ...)."""
    schema: Mapping[str, Any]
    """The argument's JSON schema (``type``, ``enum``, ``minimum``, ``description`` ...)."""
    required: bool
    default: Any = None
    label: str = ""

    @property
    def hidden(self) -> bool:
        """A ``gr.State`` input: not an argument, sent as ``None``."""
        return self.component in _HIDDEN

    @property
    def is_file(self) -> bool:
        return self.component in FILE_COMPONENTS


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One endpoint of a Gradio app, described as a tool."""

    api_name: str
    name: str
    description: str
    params: tuple[ToolParam, ...]
    endpoint: Endpoint = field(repr=False)

    @property
    def arguments(self) -> tuple[ToolParam, ...]:
        """The parameters a caller gives (hidden ``gr.State`` inputs left out)."""
        return tuple(p for p in self.params if not p.hidden)

    def json_schema(self) -> dict[str, Any]:
        """The arguments as a JSON schema object (what a model is shown)."""
        args = self.arguments
        return {
            "type": "object",
            "title": self.name,
            "description": self.description,
            "properties": {p.name: dict(p.schema) for p in args},
            "required": [p.name for p in args if p.required],
        }


@dataclass(frozen=True, slots=True)
class SpaceFile:
    """A file an endpoint returned (an Image, Audio, Video or File output)."""

    url: str | None
    """Where to download it: the app's ``/file=`` URL, or a ``data:`` URL (3.x images)."""
    mime_type: str | None
    path: str | None = None
    """Its path on the Space's machine (what ``gradio_client`` would download)."""
    name: str | None = None
    """Its original file name, when the app gave one."""
    size: int | None = None
    component: str = ""

    def describe(self) -> str:
        """One line for a model: what the file is and where it is."""
        kind = self.mime_type or "file"
        where = self.url or self.path or ""
        if where.startswith("data:"):
            where = f"inline data URL ({len(where)} characters, in the tool's artifact)"
        return f"{kind}: {where}"


@dataclass(frozen=True, slots=True)
class SpaceToolResult:
    """What one call of a Space's endpoint gave back."""

    text: str
    """The outputs as text for a model: text outputs as they are, other values as JSON, and
    one line per file with its MIME type and URL."""
    files: tuple[SpaceFile, ...] = ()
    data: tuple[Any, ...] = ()
    """The raw output values, one per output component."""
    api_name: str = ""
    url: str = ""
    """The Space's URL."""

    def __str__(self) -> str:
        return self.text


# ------------------------------------------------------------------------------ description
def info_path(app: GradioApp) -> str:
    """Where the app describes its API (4.x and later; 3.x apps may not answer)."""
    return f"{app.api_prefix}{INFO_PATH}"


def parse_info(body: bytes) -> Mapping[str, Any] | None:
    """``/info``'s named endpoints (``None`` when the answer is not an API description)."""
    data = json_or_none(body)
    if not isinstance(data, Mapping):
        return None
    named = data.get("named_endpoints")
    return named if isinstance(named, Mapping) else None


def tool_name(api_name: str) -> str:
    """A tool name every model API takes (``^[A-Za-z0-9_-]{1,64}$``) from an ``api_name``."""
    name = _NAME_RE.sub("_", api_name.strip("/")).strip("_")
    return (name or "predict")[:64]


def _choices(props: Mapping[str, Any]) -> list[Any] | None:
    """A Dropdown's / Radio's values: ``[[label, value], ...]`` on 4.x+, plain values on 3.x."""
    raw = props.get("choices")
    if not isinstance(raw, list) or not raw:
        return None
    values = []
    for c in raw:
        value = c[1] if isinstance(c, (list, tuple)) and len(c) == 2 else c
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            return None
        values.append(value)
    return values


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _component_schema(slot: Slot) -> dict[str, Any]:
    """The JSON schema of an input, from its component alone (all any version's config has)."""
    kind, props = slot.type, slot.props
    if slot.is_text:
        return {"type": "string"}
    if kind in FILE_COMPONENTS:
        return {
            "type": "string",
            "format": "uri",
            "description": f"URL of the {kind} (http or https)",
        }
    if kind == "checkbox":
        return {"type": "boolean"}
    if kind in ("number", "slider"):
        integer = kind == "number" and props.get("precision") == 0
        schema: dict[str, Any] = {"type": "integer" if integer else "number"}
        for key in ("minimum", "maximum"):
            if _number(props.get(key)):
                schema[key] = props[key]
        return schema
    if kind in _CHOICE_COMPONENTS:
        values = _choices(props)
        one: dict[str, Any] = {"enum": values} if values else {}
        if values and all(isinstance(v, str) for v in values):
            one["type"] = "string"
        if kind == "checkboxgroup" or props.get("multiselect"):
            return {"type": "array", "items": one}
        return one or {"type": "string"}
    if kind == "multimodaltextbox":
        return {"type": "string"}
    return {}


def _info_schema(raw: Any) -> dict[str, Any] | None:
    """``/info``'s type of a parameter, when it is a plain JSON type (not a file's object)."""
    if not isinstance(raw, Mapping) or raw.get("type") not in _SIMPLE_TYPES:
        return None
    return {k: v for k, v in raw.items() if k not in ("title", "additional_description")}


def _describe_param(text: str, slot: Slot, info: Mapping[str, Any] | None) -> str:
    parts = []
    if slot.label and slot.label.lower() != text.lower():
        parts.append(slot.label)
    python = info.get("python_type") if info else None
    # A file's says "a local filepath or URL": only URLs are sent here (see _file_value).
    if (
        isinstance(python, Mapping)
        and isinstance(python.get("description"), str)
        and slot.type not in FILE_COMPONENTS
    ):
        parts.append(python["description"].strip())
    hint = slot.props.get("info")
    if isinstance(hint, str):
        parts.append(hint.strip())
    return ". ".join(p.rstrip(".") for p in parts if p.rstrip("."))


def _param(slot: Slot, info: Mapping[str, Any] | None, position: int) -> ToolParam:
    name = info.get("parameter_name") if info else None
    if not isinstance(name, str) or not name.isidentifier():
        name = next((n for n in (slot.key, slot.type) if n.isidentifier()), f"input_{position}")
    schema = _component_schema(slot)
    from_info = None
    if info is not None and slot.type not in FILE_COMPONENTS:
        from_info = _info_schema(info.get("type"))
    if from_info is not None:
        if "enum" in schema and "enum" not in from_info:
            from_info["enum"] = schema["enum"]
        schema = {**schema, **from_info}
    if info is not None and "parameter_has_default" in info:
        has_default = bool(info.get("parameter_has_default"))
        default = info.get("parameter_default") if has_default else None
    else:  # 3.x: the component's value is the default; an empty text box is the input itself
        default = slot.default
        has_default = default is not None and not (slot.is_text and default == "")
    described = _describe_param(name, slot, info)
    if described and "description" not in schema:
        schema["description"] = described
    elif described and described not in str(schema["description"]):
        schema["description"] = f"{described}. {schema['description']}"
    if has_default and default is not None and json_or_none(_dumps(default)) is not None:
        schema["default"] = default
    return ToolParam(
        name=name,
        component=slot.type,
        schema=schema,
        required=not has_default and slot.type not in _HIDDEN,
        default=default,
        label=slot.label,
    )


def _dumps(value: Any) -> bytes:
    try:
        return json.dumps(value).encode()
    except (TypeError, ValueError):
        return b""


def _unique(params: list[ToolParam]) -> tuple[ToolParam, ...]:
    seen: set[str] = set()
    out = []
    for i, p in enumerate(params):
        name = p.name
        while name in seen:
            name = f"{p.name}_{i}"
        seen.add(name)
        out.append(p if name == p.name else _renamed(p, name))
    return tuple(out)


def _renamed(p: ToolParam, name: str) -> ToolParam:
    return ToolParam(name, p.component, p.schema, p.required, p.default, p.label)


def _summary(endpoint: Endpoint, params: Sequence[ToolParam]) -> str:
    takes = ", ".join(p.name for p in params if not p.hidden) or "nothing"
    gives = ", ".join(s.label or s.type for s in endpoint.outputs if s.type not in _HIDDEN)
    return f"Takes {takes}; returns {gives or 'nothing'}."


def describe_endpoint(
    endpoint: Endpoint, info: Mapping[str, Any] | None, *, space: str = ""
) -> ToolSpec:
    """One endpoint as a tool; ``info`` is its entry in ``/info``'s named endpoints."""
    raw = info.get("parameters") if info else None
    visible = [s for s in endpoint.inputs if s.type not in _HIDDEN]
    entries: list[Any] = list(raw) if isinstance(raw, list) else []
    if len(entries) != len(visible):  # /info does not list these inputs as config does
        entries = [None] * len(visible)
    by_slot = iter(entries)
    params = []
    for i, slot in enumerate(endpoint.inputs):
        entry = None if slot.type in _HIDDEN else next(by_slot)
        params.append(_param(slot, entry if isinstance(entry, Mapping) else None, i))
    unique = _unique(params)
    told = info.get("description") if info else None
    description = (told.strip() if isinstance(told, str) else "") or endpoint.description
    if not description:
        where = f" of the Gradio app at {space}" if space else " of a Gradio app"
        description = f"The {endpoint.api_name} API{where}."
    return ToolSpec(
        api_name=endpoint.api_name,
        name=tool_name(endpoint.api_name),
        description=f"{description} {_summary(endpoint, unique)}",
        params=unique,
        endpoint=endpoint,
    )


def describe_app(
    app: GradioApp, info: Mapping[str, Any] | None, *, space: str = ""
) -> tuple[ToolSpec, ...]:
    """Every public, named endpoint of the app as a tool, in the app's order."""
    named = info or {}
    out = []
    for ep in app.public:
        entry = named.get(ep.api_name)
        out.append(
            describe_endpoint(ep, entry if isinstance(entry, Mapping) else None, space=space)
        )
    return tuple(out)


def find_tool(tools: Sequence[ToolSpec], api_name: str) -> ToolSpec:
    """The tool of ``api_name`` (with or without its slash); a typed complaint naming the ones
    there are, and the closest, when the app has none by that name."""
    wanted = "/" + api_name.strip("/")
    for spec in tools:
        if spec.api_name == wanted:
            return spec
    names = [t.api_name for t in tools]
    near = closest(wanted, names)
    maybe = f" Did you mean {near!r}?" if near else ""
    raise ProtocolError(
        f"The Gradio app has no public API named {wanted!r}.{maybe} "
        f"Its APIs: {', '.join(names) or 'none'}.",
        kind="input",
    )


# ------------------------------------------------------------------------------- arguments
def _type_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if kind == "string" and not isinstance(value, str):
        return "must be a string"
    if kind == "boolean" and not isinstance(value, bool):
        return "must be true or false"
    if kind == "number" and not _number(value):
        return "must be a number"
    if kind == "integer" and not (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer())
    ):
        return "must be an integer"
    if kind == "array":
        if not isinstance(value, list):
            return "must be a list"
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in value:
                problem = _type_problem(item, items)
                if problem is not None:
                    return f"holds {_shown(item)}, which {problem}"
    enum = schema.get("enum")
    if isinstance(enum, list) and kind != "array" and value not in enum:
        return "must be one of " + ", ".join(json.dumps(v) for v in enum)
    for key, sign in (("minimum", "at least"), ("maximum", "at most")):
        bound = schema.get(key)
        if (
            _number(bound)
            and _number(value)
            and (value < bound if key == "minimum" else value > bound)
        ):
            return f"must be {sign} {bound}"
    return None


def _file_value(param: ToolParam, value: Any, app: GradioApp) -> Any:
    """A file input's value: its URL as Gradio's ``FileData`` (the Space downloads it, as it
    does for ``gradio_client.handle_file(url)``). Local files would need an upload, and Gradio
    takes no ``data:`` URL there: both are refused."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ProtocolError(
            f"Argument {param.name!r} ({param.component}) must be the http(s) URL of the file; "
            "local files and data: URLs are not uploaded.",
            kind="input",
        )
    if not app.queue:
        raise ProtocolError(
            f"Argument {param.name!r}: file inputs of Gradio 3.x apps are not supported.",
            kind="input",
        )
    name = urlsplit(value).path.rsplit("/", 1)[-1]
    return {"path": value, "url": value, "orig_name": name or None, "meta": dict(_FILE_DATA)}


def call_data(spec: ToolSpec, arguments: Any, app: GradioApp) -> list[Any]:
    """The endpoint's input list for ``arguments`` (a dict of the tool's arguments).

    Unknown or missing arguments, values of the wrong type, outside an enum or a slider's
    range are refused with one :class:`ProtocolError` (``kind="input"``) naming them all."""
    if not isinstance(arguments, Mapping):
        raise ProtocolError(
            f"The arguments of {spec.name!r} must be a dict, not {type(arguments).__name__}.",
            kind="input",
        )
    known = {p.name: p for p in spec.arguments}
    problems = []
    for key in arguments:
        if key not in known:
            near = closest(str(key), known)
            maybe = f" (did you mean {near!r}?)" if near else ""
            problems.append(f"unknown argument {key!r}{maybe}")
    missing = [p.name for p in spec.arguments if p.required and arguments.get(p.name) is None]
    if missing:
        problems.append("missing required argument(s) " + ", ".join(map(repr, missing)))
    data: list[Any] = []
    for p in spec.params:
        if p.hidden:
            data.append(None)
            continue
        value = arguments.get(p.name)
        if value is None:
            data.append(p.default)
            continue
        if p.is_file:
            try:
                data.append(_file_value(p, value, app))
            except ProtocolError as exc:
                problems.append(exc.message)
            continue
        problem = _type_problem(value, p.schema)
        if problem is not None:
            problems.append(f"{p.name}={_shown(value)} {problem}")
            continue
        if p.schema.get("type") == "integer" and isinstance(value, float):
            value = int(value)
        data.append({"text": value, "files": []} if p.component == "multimodaltextbox" else value)
    if problems:
        takes = ", ".join(p.name for p in spec.arguments) or "no arguments"
        raise ProtocolError(
            f"The Gradio API {spec.api_name!r} cannot take these arguments: "
            f"{'; '.join(problems)} (it takes: {takes}).",
            kind="input",
        )
    return data


def _shown(value: Any) -> str:
    text = json.dumps(value) if _dumps(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------- results
def _mime(name: str | None, given: Any) -> str | None:
    if isinstance(given, str) and given:
        return given
    if name:
        guessed, _ = mimetypes.guess_type(name.split("?", 1)[0])
        return guessed
    return None


def _file(value: Any, kind: str, app: GradioApp, base: str) -> SpaceFile | None:
    """A file output in any version's shape, or ``None`` when ``value`` is not one."""
    if isinstance(value, str) and value.startswith("data:"):
        head = value[5:].split(",", 1)[0]
        return SpaceFile(url=value, mime_type=head.split(";", 1)[0] or None, component=kind)
    if not isinstance(value, Mapping):
        return None
    meta = value.get("meta")
    is_data = isinstance(meta, Mapping) and meta.get("_type") == "gradio.FileData"
    holds_files = kind in FILE_COMPONENTS or kind == "gallery"
    if is_data or (holds_files and isinstance(value.get("path"), str)):
        path = value.get("path") if isinstance(value.get("path"), str) else None
        url = value.get("url") if isinstance(value.get("url"), str) else None
        if url is None and path is not None:
            url = f"{base}{app.api_prefix}/file={quote(path)}"
        name = value.get("orig_name") if isinstance(value.get("orig_name"), str) else None
        size = value.get("size") if isinstance(value.get("size"), int) else None
        return SpaceFile(
            url=url,
            mime_type=_mime(name or path or url, value.get("mime_type")),
            path=path,
            name=name,
            size=size,
            component=kind,
        )
    if value.get("is_file") and isinstance(value.get("name"), str):  # 3.x
        path = str(value["name"])
        data = value.get("data")
        url = data if isinstance(data, str) and data.startswith("data:") else None
        name = value.get("orig_name") if isinstance(value.get("orig_name"), str) else None
        return SpaceFile(
            url=url or f"{base}/file={quote(path)}",
            mime_type=_mime(name or path, None),
            path=path,
            name=name,
            size=value.get("size") if isinstance(value.get("size"), int) else None,
            component=kind,
        )
    return None


def _gallery(value: Any, kind: str, app: GradioApp, base: str) -> list[SpaceFile] | None:
    """A Gallery's images: ``[{"image": file, "caption"}, ...]`` or ``[[file, caption], ...]``."""
    if not isinstance(value, list):
        return None
    files = []
    for item in value:
        inner = item.get("image") or item.get("video") if isinstance(item, Mapping) else None
        if inner is None and isinstance(item, (list, tuple)) and item:
            inner = item[0]
        found = _file(inner if inner is not None else item, kind, app, base)
        if found is None:
            return None
        files.append(found)
    return files


def _value_text(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if kind == "chatbot":
        try:
            return output_text(None, [value])[0]
        except ProtocolError:
            pass
    text = _dumps(value)
    return text.decode() if text else str(value)


def tool_result(spec: ToolSpec, data: Any, app: GradioApp, *, base: str) -> SpaceToolResult:
    """An endpoint's output list as a :class:`SpaceToolResult`; ``base`` is the Space's URL."""
    if not isinstance(data, list):
        raise ProtocolError("The Gradio output is not a list of values.", str(data)[:200])
    kinds = [s.type for s in spec.endpoint.outputs]
    kinds += ["unknown"] * (len(data) - len(kinds))
    texts: list[str] = []
    files: list[SpaceFile] = []
    for kind, value in zip(kinds, data, strict=False):
        if kind in _HIDDEN:
            continue
        one = _file(value, kind, app, base)
        if one is not None:
            files.append(one)
            texts.append(one.describe())
            continue
        many = _gallery(value, kind, app, base) if kind == "gallery" else None
        if many:
            files += many
            texts += [f.describe() for f in many]
            continue
        text = _value_text(kind, value)
        if text is not None:
            texts.append(text)
    return SpaceToolResult(
        text="\n".join(texts),
        files=tuple(files),
        data=tuple(data),
        api_name=spec.api_name,
        url=base,
    )
