"""Any Gradio Space as LlamaIndex tools: :func:`space_tool` and :func:`space_tools`.

Each tool is a ``FunctionTool`` with a sync and an async function, and ``ToolMetadata`` whose
name, description and ``fn_schema`` (a pydantic model made at runtime) come from the app's own
API description (``/config`` and ``/info``), as for LangChain's
:class:`~langchain_hf_spaces.tools.SpaceTool`::

    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index_hf_spaces.tools import space_tool, space_tools

    translate = space_tool("user/translator", api_name="/translate")
    agent = FunctionAgent(tools=[translate, *space_tools("user/ocr")], llm=llm)

A call returns the Space's outputs as a :class:`~langchain_hf_spaces.tools.SpaceToolResult`:
``ToolOutput.content`` is its text (one line per file output, with its MIME type and URL) and
``ToolOutput.raw_output`` the result itself, with the files. A failed call raises the package's
typed error (an agent hands its message to the model).
"""

from __future__ import annotations

from typing import Any

from llama_index.core.tools import FunctionTool, ToolMetadata

from langchain_hf_spaces._space_tools import SpaceEndpoints, SpaceLike, space_client, spec_model
from langchain_hf_spaces.protocols._gradio_api import SpaceToolResult, ToolSpec

__all__ = ["space_tool", "space_tools"]


def _tool(
    endpoints: SpaceEndpoints, spec: ToolSpec, name: str | None, description: str | None
) -> FunctionTool:
    api_name = spec.api_name

    def call(**arguments: Any) -> SpaceToolResult:
        return endpoints.call(api_name, arguments)

    async def acall(**arguments: Any) -> SpaceToolResult:
        return await endpoints.acall(api_name, arguments)

    call.__name__ = acall.__name__ = name or spec.name
    metadata = ToolMetadata(
        name=name or spec.name,
        description=description or spec.description,
        fn_schema=spec_model(spec),
    )
    return FunctionTool.from_defaults(fn=call, async_fn=acall, tool_metadata=metadata)


def space_tool(
    space: SpaceLike,
    api_name: str,
    *,
    name: str | None = None,
    description: str | None = None,
    token: Any = None,
    **options: Any,
) -> FunctionTool:
    """The ``FunctionTool`` of ``space``'s endpoint ``api_name`` (reads the API description now).

    ``space``: a URL, a Space id, a ``SpaceConfig`` or a ``SpaceClient``; ``options`` are
    ``SpaceConfig`` fields (``wake_timeout``, ``total_timeout`` ...). An ``api_name`` the app
    does not have raises :class:`~langchain_hf_spaces.SpaceInputError` naming the ones it has.
    """
    endpoints = SpaceEndpoints(space_client(space, token=token, **options))
    spec = endpoints.spec(endpoints.describe(), api_name)
    return _tool(endpoints, spec, name, description)


def space_tools(space: SpaceLike, *, token: Any = None, **options: Any) -> list[FunctionTool]:
    """Every public, named endpoint of ``space`` as a ``FunctionTool`` (one client, one read)."""
    endpoints = SpaceEndpoints(space_client(space, token=token, **options))
    return [_tool(endpoints, s, None, None) for s in endpoints.describe().tools]
