"""A Gradio Space's endpoints as tools, framework-free: what the LangChain ``SpaceTool`` and the
LlamaIndex tool factory are both thin layers over.

:class:`SpaceEndpoints` reads the app's API description once (``GET /config``, then
``GET {api_prefix}/info`` where the app has it) and calls an endpoint with a tool's arguments.
Both are flows (``_flow``'s generators of actions) run by the client's sync and async drivers,
so a tool call wakes a sleeping Space, waits, retries and reports waits exactly as a
``SpaceClient`` call does, and fails with the same typed errors. The description and result
logic is pure: ``protocols/_gradio_api``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from langchain_hf_spaces._flow import CallFlow, SpaceCore, _read_stream, _typed, call_timeout
from langchain_hf_spaces._policy import Deadline
from langchain_hf_spaces._space import SpaceClient
from langchain_hf_spaces._stream import StreamReader
from langchain_hf_spaces.config import SpaceConfig
from langchain_hf_spaces.errors import SpaceConfigError, SpaceNotFoundError, SpaceResponseError
from langchain_hf_spaces.protocols._base import ProtocolError, RequestSpec, loads_json
from langchain_hf_spaces.protocols._gradio_api import (
    SpaceToolResult,
    ToolSpec,
    call_data,
    describe_app,
    find_tool,
    info_path,
    parse_info,
    tool_result,
)
from langchain_hf_spaces.protocols._gradio_app import GradioApp, parse_config
from langchain_hf_spaces.protocols.gradio import (
    CONFIG_PATH,
    _QueueStream,
    app_error,
    events_request,
    submit_request,
)

__all__ = ["SpaceAPI", "SpaceEndpoints", "SpaceLike", "space_client", "spec_model"]

logger = logging.getLogger("langchain_hf_spaces")

TOOL_TIER = "tool"
"""The tier name a Space used as a tool reports in errors (unless its client has its own)."""

SpaceLike = str | SpaceConfig | SpaceClient
"""A Space: a URL or Space id, its settings, or a client of it."""


def space_client(space: SpaceLike, *, token: Any = None, **options: Any) -> SpaceClient:
    """A client of ``space`` on the ``gradio`` protocol. A ``SpaceClient`` is used as it is;
    ``token`` and ``options`` (``SpaceConfig`` fields) apply to a URL, an id or a config."""
    if isinstance(space, SpaceClient):
        if token is not None or options:
            raise SpaceConfigError(
                "token and SpaceConfig options cannot be given with a SpaceClient.",
                url=space.config.url,
                hint="Set them on the client's SpaceConfig instead.",
            )
        return space
    if isinstance(space, SpaceConfig):
        changes = {"protocol": "gradio", **options}
        if token is not None:
            changes["token"] = token
        return SpaceClient(space.updated(**changes), tier=TOOL_TIER)
    if isinstance(space, str):
        fields = {"protocol": "gradio", **options}
        if token is not None:
            fields["token"] = token
        return SpaceClient(SpaceConfig(url=space, **fields), tier=TOOL_TIER)
    raise SpaceConfigError(
        f"space must be a URL, a Space id, a SpaceConfig or a SpaceClient, not "
        f"{type(space).__name__}.",
        hint='e.g. "user/space", "https://user-space.hf.space" or SpaceConfig(url=...).',
    )


@dataclass(frozen=True, slots=True)
class SpaceAPI:
    """A Gradio app's API, as read once: the app and its public endpoints as tools."""

    app: GradioApp
    tools: tuple[ToolSpec, ...]

    def tool(self, api_name: str) -> ToolSpec:
        return find_tool(self.tools, api_name)


def _describe(core: SpaceCore, deadline: Deadline | None = None) -> CallFlow[SpaceAPI]:
    deadline = deadline or core.deadline()
    outcome = yield from core.exchange(RequestSpec("GET", CONFIG_PATH), deadline=deadline)
    app = parse_config(outcome.received.body)
    info = None
    try:
        answer = yield from core.exchange(RequestSpec("GET", info_path(app)), deadline=deadline)
    except (SpaceNotFoundError, SpaceResponseError):  # 3.x: no /info; the config is enough
        pass
    else:
        info = parse_info(answer.received.body)
    return SpaceAPI(app, describe_app(app, info, space=core.config.url))


def describe_flow(core: SpaceCore) -> CallFlow[SpaceAPI]:
    """Read the app's API description (``/config``, then ``/info`` where there is one)."""
    return _typed(core, _describe(core))


class _OutputStream(_QueueStream):
    """The queue's events of one call, keeping the outputs as data (a file output has no
    text: the chat protocol's reading of them as text would refuse it)."""

    def _take(self, data: Any) -> str:
        self.data = data
        return ""


def _outputs(
    core: SpaceCore, app: GradioApp, spec: ToolSpec, data: list[Any], deadline: Deadline
) -> CallFlow[Any]:
    """Run the endpoint on ``data``; return its output list (any version's protocol)."""
    request = submit_request(app, spec.endpoint, data)
    last: Any = None
    while True:
        outcome = yield from core.exchange(request, deadline=deadline)
        answer = loads_json(outcome.received.body)
        if not isinstance(answer, Mapping):
            raise ProtocolError("The Gradio answer is not a JSON object.", outcome.received.body)
        if app.queue:
            break
        if "error" in answer and "data" not in answer:  # 3.x: a gr.Error, as a 500
            raise app_error(answer.get("error"))
        outputs = answer.get("data")
        if answer.get("is_generating"):
            last = outputs  # a 3.x generator: asked again in its session until it ends
            continue
        if last is not None and (not isinstance(outputs, list) or all(v is None for v in outputs)):
            return last  # the generator ended: its last outputs are the answer
        return outputs
    events = events_request(app, answer, outcome.received.body, request)
    stream = yield from core.exchange(events, deadline=deadline)
    parser = _OutputStream(spec.endpoint, app.diffs)
    reader = StreamReader(parser, max_bytes=core.config.max_response_bytes)
    yield from _read_stream(core, reader, stream.response, None, False, deadline)
    return parser.data


def _call(
    core: SpaceCore, holder: SpaceEndpoints, api_name: str, arguments: Mapping[str, Any]
) -> CallFlow[SpaceToolResult]:
    args, timeout = call_timeout(dict(arguments))
    deadline = core.deadline(timeout)
    api = holder.api
    if api is None:
        api = holder.api = yield from _describe(core, deadline)
    spec = api.tool(api_name)
    data = call_data(spec, args, api.app)
    try:
        outputs = yield from _outputs(core, api.app, spec, data, deadline)
    except SpaceNotFoundError:
        # The app changed under its cached description (a new deploy): read it again, once.
        logger.info("Space %s: 404 on a known Gradio API; re-reading its API", core.config.url)
        api = holder.api = yield from _describe(core, deadline)
        spec = api.tool(api_name)
        data = call_data(spec, args, api.app)
        outputs = yield from _outputs(core, api.app, spec, data, deadline)
    return tool_result(spec, outputs, api.app, base=core.config.url)


class SpaceEndpoints:
    """One Gradio Space's endpoints, for tools: the API description (read once, on first use)
    and the calls. Sync and async; safe to share between the tools of one Space."""

    def __init__(self, client: SpaceClient) -> None:
        self.client = client
        self.api: SpaceAPI | None = None

    @property
    def url(self) -> str:
        return self.client.config.url

    def describe(self) -> SpaceAPI:
        """The API description (read from the Space the first time)."""
        if self.api is None:
            self.api = self.client._run(describe_flow(self.client._core))
        return self.api

    async def adescribe(self) -> SpaceAPI:
        """Async :meth:`describe`."""
        if self.api is None:
            self.api = await self.client._arun(describe_flow(self.client._core))
        return self.api

    def spec(self, api: SpaceAPI, api_name: str) -> ToolSpec:
        """The tool of ``api_name``; a typed error naming the app's APIs when it has none."""
        try:
            return api.tool(api_name)
        except ProtocolError as exc:
            raise self.client._core.error(exc) from None

    def call(self, api_name: str, arguments: Mapping[str, Any]) -> SpaceToolResult:
        """Call ``api_name`` with the tool's ``arguments`` (``timeout=`` is the call's limit)."""
        core = self.client._core
        return self.client._run(_typed(core, _call(core, self, api_name, arguments)))

    async def acall(self, api_name: str, arguments: Mapping[str, Any]) -> SpaceToolResult:
        """Async :meth:`call`."""
        core = self.client._core
        return await self.client._arun(_typed(core, _call(core, self, api_name, arguments)))


_JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}


def _annotation(schema: Mapping[str, Any]) -> Any:
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return Literal[tuple(enum)]
    if schema.get("type") == "array":
        items = schema.get("items")
        return list[_annotation(items) if isinstance(items, Mapping) else Any]  # type: ignore[misc]
    return _JSON_TYPES.get(str(schema.get("type")), Any)


def spec_model(spec: ToolSpec) -> type[BaseModel]:
    """The tool's arguments as a pydantic model made at runtime (for frameworks that want one,
    such as LlamaIndex's ``ToolMetadata.fn_schema``): types, enums as ``Literal``, defaults,
    bounds and descriptions, from the same description as :meth:`ToolSpec.json_schema`."""
    fields: dict[str, Any] = {}
    for i, p in enumerate(spec.arguments):
        extra = {k: v for k, v in p.schema.items() if k in ("minimum", "maximum", "format")}
        kind = _annotation(p.schema)
        if not p.required and p.default is None:
            kind = kind | None
        info = Field(
            ... if p.required else p.default,
            alias=p.name,
            description=p.schema.get("description"),
            json_schema_extra=extra or None,
        )
        # A name pydantic keeps for itself ("schema", "copy", "register") goes by its alias.
        attribute = p.name if not hasattr(BaseModel, p.name) else f"argument_{i}"
        fields[attribute] = (kind, info)
    model: type[BaseModel] = create_model(
        spec.name,
        __config__=ConfigDict(extra="forbid", populate_by_name=True),
        __doc__=spec.description,
        **fields,
    )
    return model
