"""Any Gradio Space as a LangChain tool: :class:`SpaceTool`.

The tool's name, description and argument schema come from the app's own API description
(``/config`` and ``/info``: parameter names, types, defaults, the choices of dropdowns and
radios), so a model sees what the Space takes. Calls go through the package's client: a sleeping
Space is woken and waited for, failures are retried, and errors are the package's typed errors.

.. code-block:: python

    from langchain_hf_spaces import SpaceTool

    tool = SpaceTool.from_space("user/translator", api_name="/translate")
    tool.args_schema      # {"type": "object", "properties": {"text": ..., "language": ...}}
    tool.invoke({"text": "Hello", "language": "French"})      # the Space's answer, as text
    tools = SpaceTool.list("user/translator")                  # every public endpoint

Results: ``response_format="content_and_artifact"``. The content (what the model reads) is the
text of the outputs, with one line per file output (``image/png: <url>``); the artifact (kept
on the ``ToolMessage``, not shown to the model) is a :class:`SpaceToolResult` with the files'
URLs, paths and MIME types and the raw output values. ``tool.invoke(args)`` returns the content;
``tool.invoke(tool_call)`` returns the ``ToolMessage`` with both.

Errors: without ``handle_tool_error`` (LangChain's default) a failed call raises the typed error
(``SpaceInputError`` for arguments the Space does not take, ``SpaceResponseError`` for the app's
own ``gr.Error``, ``SpaceUnavailableError`` ...). With ``handle_tool_error=True`` (or a string or
a callable, as LangChain defines it) the error is raised as a :class:`SpaceToolError` — a
``ToolException`` — so LangChain returns its message to the model as an error ``ToolMessage``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import PrivateAttr

from langchain_hf_spaces._space_tools import SpaceEndpoints, SpaceLike, space_client
from langchain_hf_spaces.errors import HFSpacesError, SpaceConfigError
from langchain_hf_spaces.protocols._gradio_api import SpaceFile, SpaceToolResult, ToolSpec

__all__ = ["SpaceFile", "SpaceTool", "SpaceToolError", "SpaceToolResult"]


class SpaceToolError(ToolException):
    """A Space tool's call failed (raised when the tool has ``handle_tool_error`` set).

    ``error`` is the typed error (also the ``__cause__``); the message is its text, hint
    included, so the model learns what to change (an argument outside a dropdown's choices)."""

    def __init__(self, error: HFSpacesError) -> None:
        self.error = error
        super().__init__(str(error))


class SpaceTool(BaseTool):
    """One endpoint (``api_name``) of a Gradio Space, as a LangChain tool.

    Make it with :meth:`from_space` (or every endpoint at once with :meth:`list`); the
    arguments of ``from_space`` beyond ``space`` and ``api_name`` are ``SpaceConfig`` fields
    (``token``, ``wake_timeout``, ``total_timeout`` ...). ``timeout=`` in a call's arguments is
    that call's total time limit (not passed to the Space).
    """

    api_name: str
    """The Gradio API this tool calls (``/predict``, ``/translate`` ...)."""
    space_url: str
    """The Space's URL."""
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    _endpoints: SpaceEndpoints | None = PrivateAttr(default=None)

    # ------------------------------------------------------------------ making
    @classmethod
    def _make(
        cls,
        endpoints: SpaceEndpoints,
        spec: ToolSpec,
        name: str | None,
        description: str | None,
        tool_options: Mapping[str, Any],
    ) -> SpaceTool:
        tool = cls(
            name=name or spec.name,
            description=description or spec.description,
            args_schema=spec.json_schema(),
            api_name=spec.api_name,
            space_url=endpoints.url,
            **tool_options,
        )
        tool._endpoints = endpoints
        return tool

    @classmethod
    def from_space(
        cls,
        space: SpaceLike,
        api_name: str,
        *,
        name: str | None = None,
        description: str | None = None,
        handle_tool_error: Any = False,
        token: Any = None,
        **options: Any,
    ) -> SpaceTool:
        """The tool of ``space``'s endpoint ``api_name``; reads the app's API description now.

        ``space``: a URL, a Space id (``user/space``), a ``SpaceConfig`` or a ``SpaceClient``.
        ``name`` / ``description`` replace what the app says. An ``api_name`` the app does not
        have raises :class:`~langchain_hf_spaces.SpaceInputError` naming the ones it has."""
        endpoints = SpaceEndpoints(space_client(space, token=token, **options))
        spec = endpoints.spec(endpoints.describe(), _api_name(api_name))
        return cls._make(
            endpoints, spec, name, description, {"handle_tool_error": handle_tool_error}
        )

    @classmethod
    async def afrom_space(
        cls,
        space: SpaceLike,
        api_name: str,
        *,
        name: str | None = None,
        description: str | None = None,
        handle_tool_error: Any = False,
        token: Any = None,
        **options: Any,
    ) -> SpaceTool:
        """Async :meth:`from_space`."""
        endpoints = SpaceEndpoints(space_client(space, token=token, **options))
        spec = endpoints.spec(await endpoints.adescribe(), _api_name(api_name))
        return cls._make(
            endpoints, spec, name, description, {"handle_tool_error": handle_tool_error}
        )

    @classmethod
    def list(
        cls,
        space: SpaceLike,
        *,
        handle_tool_error: Any = False,
        token: Any = None,
        **options: Any,
    ) -> builtins.list[SpaceTool]:
        """Every public, named endpoint of ``space`` as a tool (hidden and unnamed ones are
        left out), sharing one client and one read of the API description."""
        endpoints = SpaceEndpoints(space_client(space, token=token, **options))
        extra = {"handle_tool_error": handle_tool_error}
        return [cls._make(endpoints, s, None, None, extra) for s in endpoints.describe().tools]

    @classmethod
    async def alist(
        cls,
        space: SpaceLike,
        *,
        handle_tool_error: Any = False,
        token: Any = None,
        **options: Any,
    ) -> builtins.list[SpaceTool]:
        """Async :meth:`list`."""
        endpoints = SpaceEndpoints(space_client(space, token=token, **options))
        extra = {"handle_tool_error": handle_tool_error}
        api = await endpoints.adescribe()
        return [cls._make(endpoints, s, None, None, extra) for s in api.tools]

    # ----------------------------------------------------------------- calling
    def _ready(self) -> SpaceEndpoints:
        if self._endpoints is None:
            raise SpaceConfigError(
                "This SpaceTool was not made by SpaceTool.from_space or SpaceTool.list.",
                url=self.space_url,
                hint="Make it with SpaceTool.from_space(space, api_name=...).",
            )
        return self._endpoints

    def _fail(self, exc: HFSpacesError) -> BaseException:
        return SpaceToolError(exc) if self.handle_tool_error else exc

    @staticmethod
    def _content(result: SpaceToolResult) -> tuple[str, SpaceToolResult]:
        return result.text or "(the Space returned no output)", result

    def _run(
        self, run_manager: CallbackManagerForToolRun | None = None, **arguments: Any
    ) -> tuple[str, SpaceToolResult]:
        try:
            result = self._ready().call(self.api_name, arguments)
        except HFSpacesError as exc:
            raise self._fail(exc) from exc
        return self._content(result)

    async def _arun(
        self, run_manager: AsyncCallbackManagerForToolRun | None = None, **arguments: Any
    ) -> tuple[str, SpaceToolResult]:
        try:
            result = await self._ready().acall(self.api_name, arguments)
        except HFSpacesError as exc:
            raise self._fail(exc) from exc
        return self._content(result)


def _api_name(api_name: Any) -> str:
    if not isinstance(api_name, str) or not api_name.strip("/ "):
        raise SpaceConfigError(
            f"api_name must name one of the app's APIs (e.g. '/predict'), not {api_name!r}.",
            hint="SpaceTool.list(space) shows every API of a Space as a tool.",
        )
    return api_name.strip()
