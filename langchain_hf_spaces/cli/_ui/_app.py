"""The settings page's web application (Starlette), and its guard.

Every request passes the guard first:

* ``Host`` must name this server (``127.0.0.1:<port>``, ``localhost:<port>``, ``[::1]:<port>``,
  or the ``--unsafe-host`` address): a page on another site that rebinds its DNS name to
  127.0.0.1 is answered 400 (DNS rebinding).
* The page (``GET /``) needs ``?token=<session token>``, the random token printed at start; the
  API needs it in the ``X-HF-Spaces-Session`` header (403 otherwise). No cookie is set, so a
  request another site makes the browser send carries no credential.
* A state-changing request (``POST``) also needs ``Content-Type: application/json``, and an
  ``Origin`` (when sent) equal to this server's (403): the CSRF check. ``OPTIONS`` is refused
  and no ``Access-Control-*`` header is ever sent (no CORS), so another origin cannot send the
  custom header at all.
* Every answer has a strict ``Content-Security-Policy`` (scripts and styles from this server
  only), ``Referrer-Policy: no-referrer`` (the token in the URL is not leaked),
  ``X-Frame-Options: DENY`` and ``Cache-Control: no-store``.

Stored tokens never leave the server: the page gets only whether one is stored and where the
token sent comes from.

``GET /api/stats`` gives the page's "Stats": the calls its Test Connection jobs made (one
``SpacesStats`` per page server) and the batch runs recorded in the settings file's folder.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import secrets
import stat
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._stats import SpacesStats
from langchain_hf_spaces.cli._console import UsageError
from langchain_hf_spaces.cli._init import backup_settings, save_settings
from langchain_hf_spaces.cli._toml import read_raw
from langchain_hf_spaces.cli._ui._form import FormResult, apply_form, page_state
from langchain_hf_spaces.cli._ui._jobs import Jobs
from langchain_hf_spaces.cli._ui._stats import page_stats
from langchain_hf_spaces.errors import SpaceConfigError

__all__ = ["SESSION_HEADER", "SettingsPage"]

SESSION_HEADER = "X-HF-Spaces-Session"
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_STATIC = {"app.js": "text/javascript", "page.css": "text/css"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_MAX_BODY = 256 * 1024


def _static(name: str) -> str:
    folder = resources.files("langchain_hf_spaces.cli._ui") / "static"
    return (folder / name).read_text(encoding="utf-8")


class SettingsPage:
    """The ASGI application of ``hf-spaces ui`` for the settings file at ``path``.

    ``port`` is the port it is served on (set once the socket is bound, before serving);
    ``extra_host`` a non-loopback address it may also be reached at (``--unsafe-host``).
    """

    def __init__(
        self, path: Path, *, session: str | None = None, port: int = 0, extra_host: str = ""
    ) -> None:
        self.path = path
        self.session = session or secrets.token_urlsafe(32)
        self.port = port
        self.extra_host = extra_host
        self.stats = SpacesStats()
        """The calls made from this page (its Test Connection jobs)."""
        self.jobs = Jobs(self.stats)
        self._app = Starlette(
            routes=[
                Route("/", self.page, methods=["GET"]),
                Route("/static/{name}", self.static, methods=["GET"]),
                Route("/api/settings", self.get_settings, methods=["GET"]),
                Route("/api/validate", self.validate, methods=["POST"]),
                Route("/api/save", self.save, methods=["POST"]),
                Route("/api/test", self.test, methods=["POST"]),
                Route("/api/test/{job}", self.test_status, methods=["GET"]),
                Route("/api/stats", self.get_stats, methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------------ the guard
    def allowed_hosts(self) -> set[str]:
        names = list(_LOOPBACK_NAMES)
        if self.extra_host:
            names.append(f"[{self.extra_host}]" if ":" in self.extra_host else self.extra_host)
        return {f"{n}:{self.port}" for n in names}

    def _refusal(self, scope: Scope) -> Response | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if host.lower() not in self.allowed_hosts():
            return _error(400, "bad Host header: this page answers on its own address only")
        method = scope["method"]
        path = scope["path"]
        if method not in ("GET", "HEAD", "POST"):
            return _error(405, f"{method} is not allowed (no CORS)")
        if path.startswith("/api/"):
            given = headers.get(SESSION_HEADER.lower(), "")
            if not secrets.compare_digest(given.encode(), self.session.encode()):
                return _error(403, "missing or wrong session token")
        if method == "POST":
            origin = headers.get("origin")
            if origin is not None and origin != f"http://{host}":
                return _error(403, f"cross-origin request refused (Origin {origin})")
            site = headers.get("sec-fetch-site")
            if site is not None and site not in ("same-origin", "none"):
                return _error(403, f"cross-site request refused (Sec-Fetch-Site {site})")
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                return _error(415, "requests must be application/json")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        refusal = self._refusal(scope)

        async def send_secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if not k.lower().startswith(b"access-control-")
                ]
                headers += [(k.lower().encode(), v.encode()) for k, v in _SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return
        await self._app(scope, receive, send_secured)

    # What LoopbackServer (the tests' server) asks of an app.
    def bind_stop_event(self, event: asyncio.Event) -> None:
        pass

    def signal_stop(self) -> None:
        pass

    # ------------------------------------------------------------------ routes
    async def page(self, request: Request) -> Response:
        given = request.query_params.get("token", "")
        if not secrets.compare_digest(given.encode(), self.session.encode()):
            return HTMLResponse(
                "<!doctype html><title>hf-spaces ui</title><p>Open the address "
                "<code>hf-spaces ui</code> printed (it holds the session token).</p>",
                status_code=403,
            )
        text = _static("page.html").replace("{{SESSION}}", html.escape(self.session))
        return HTMLResponse(text)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return _error(404, "not found")
        return Response(_static(name), media_type=_STATIC[name])

    def _read(self) -> tuple[dict[str, Any] | None, str | None]:
        """The file's contents (``None`` when there is no file) and a reading error."""
        if not self.path.exists():
            return None, None
        try:
            return read_raw(self.path), None
        except UsageError as exc:
            return None, exc.message

    def _state(self) -> dict[str, Any]:
        raw, error = self._read()
        try:
            state = page_state(raw)
        except SpaceConfigError as exc:
            state, error = page_state(None), exc.message
        overrides = sorted(
            k for k in os.environ if k.startswith(C.ENV_PREFIX) and k != "HF_SPACES_CONFIG"
        )
        mode = ""
        if self.path.exists():
            mode = f"{stat.S_IMODE(self.path.stat().st_mode):04o}"
        state.update(
            path=str(self.path),
            exists=self.path.exists(),
            mode=mode,
            error=error,
            overrides=overrides,
        )
        return state

    def get_settings(self, request: Request) -> Response:
        return JSONResponse(self._state())

    async def _form(self, request: Request) -> dict[str, Any] | Response:
        body = await request.body()
        if len(body) > _MAX_BODY:
            return _error(413, "request too large")
        try:
            form = json.loads(body)
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(form, dict):
            return _error(400, "the body must be a JSON object")
        return form

    def _apply(self, form: dict[str, Any]) -> tuple[FormResult, dict[str, Any] | None]:
        raw, error = self._read()
        if error is not None:
            return FormResult(data=None, errors={"form": error}), raw
        try:
            return apply_form(raw, form), raw
        except SpaceConfigError as exc:  # the file itself is invalid (a bad version)
            return FormResult(data=None, errors={"form": exc.message}), raw

    async def validate(self, request: Request) -> Response:
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        result, _ = await asyncio.to_thread(self._apply, form)
        return JSONResponse(
            {
                "errors": result.errors,
                "normalised": result.normalised,
                "token_status": result.token_status,
            }
        )

    async def save(self, request: Request) -> Response:
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        return JSONResponse(await asyncio.to_thread(self._save, form))

    def _save(self, form: dict[str, Any]) -> dict[str, Any]:
        result, raw = self._apply(form)
        if result.data is None:
            return {"ok": False, "errors": result.errors, "normalised": result.normalised}
        notes = []
        try:
            if raw is not None and raw.get("version", 0) != result.data["version"]:
                backup = backup_settings(self.path, raw)
                notes.append(f"The previous file (an older format) was kept as {backup}.")
            secret = save_settings(self.path, result.data)
        except (UsageError, OSError) as exc:
            message = exc.message if isinstance(exc, UsageError) else str(exc)
            return {"ok": False, "errors": {"form": message}, "normalised": result.normalised}
        if secret:
            notes.append("The file holds tokens: its mode is 0600 (yours only). Never commit it.")
        message = f"Saved {self.path}." + "".join(f" {n}" for n in notes)
        return {"ok": True, "message": message, "state": self._state(), "errors": {}}

    async def test(self, request: Request) -> Response:
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        name = str(form.get("name", ""))
        check = {"enabled": True, "default_tier": name, "tiers": [form]}
        result, _ = await asyncio.to_thread(self._apply, check)
        if result.settings is None:
            errors = result.errors
            if not any(k.startswith(f"tiers.{name}.") for k in errors):
                errors = {f"tiers.{name}.url": "a Space URL is required"}  # an empty card
            return JSONResponse({"errors": errors, "normalised": result.normalised})
        job = self.jobs.start(name, result.settings.space(name))
        return JSONResponse({"job": job.id, "normalised": result.normalised, "errors": {}})

    def test_status(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["job"])
        if job is None:
            return _error(404, "no such test")
        return JSONResponse(job.snapshot())

    async def get_stats(self, request: Request) -> Response:
        folder = self.path.parent
        return JSONResponse(await asyncio.to_thread(page_stats, self.stats, folder))


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
