"""``API_TOKEN``: every route but ``/health`` (and the login page) needs the token.

API clients send ``Authorization: Bearer <API_TOKEN>`` (or ``x-hf-authorization``, which
Gradio clients send as well). Browsers get a small login page that sets an HttpOnly cookie
holding a keyed hash of the token (never the token itself), so the Gradio UI works too.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from space_app.errors import error_response

__all__ = ["COOKIE_NAME", "AuthMiddleware", "login_router", "session_value"]

COOKIE_NAME = "space_session"
PUBLIC_PATHS = frozenset({"/health", "/login", "/logout"})
_TOKEN_HEADERS = (b"authorization", b"x-hf-authorization")


def session_value(token: str) -> str:
    """The cookie value for ``token``: a keyed hash, useless without the token."""
    return hmac.new(token.encode(), b"space-template-ui-session", hashlib.sha256).hexdigest()


class AuthMiddleware:
    """Answers 401 (JSON in the route's dialect) to requests without the right token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode()
        self._session = session_value(token).encode()

    def check(self, headers: list[tuple[bytes, bytes]]) -> str | None:
        """``None`` when authorised, else why not."""
        offered = False
        for name, value in headers:
            name = name.lower()
            if name in _TOKEN_HEADERS:
                scheme, _, credentials = value.partition(b" ")
                if scheme.lower() == b"bearer" and credentials.strip():
                    offered = True
                    if hmac.compare_digest(credentials.strip(), self._expected):
                        return None
            elif name == b"cookie":
                cookie: SimpleCookie = SimpleCookie()
                try:
                    cookie.load(value.decode("latin-1"))
                except Exception:  # noqa: S112 - a malformed cookie header is no credential
                    continue
                morsel = cookie.get(COOKIE_NAME)
                if morsel is not None:
                    offered = True
                    if hmac.compare_digest(morsel.value.encode(), self._session):
                        return None
        if offered:
            return "The token is not valid for this Space."
        return "This Space needs a token: send Authorization: Bearer <API_TOKEN>."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        problem = self.check(scope["headers"])
        if problem is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        path: str = scope["path"]
        accept = dict(scope["headers"]).get(b"accept", b"")
        response: Response
        if scope["method"] == "GET" and b"text/html" in accept and "/gradio_api/" not in path:
            response = RedirectResponse(scope.get("root_path", "") + "/login", status_code=303)
        else:
            response = error_response(path, 401, problem, "authentication")
            response.headers["www-authenticate"] = "Bearer"
        await response(scope, receive, send)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}}
input,button{{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.3rem 0}}
.error{{color:#b00020}}</style></head>
<body><h1>Sign in</h1>
<p>This Space is protected by a token (its <code>API_TOKEN</code> secret).</p>
{message}
<form method="post" action="login">
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Open the Space</button>
</form></body></html>
"""


def _page(message: str = "", status: int = 200) -> HTMLResponse:
    shown = f'<p class="error">{html.escape(message)}</p>' if message else ""
    return HTMLResponse(_PAGE.format(message=shown), status_code=status)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def login_router(token: str) -> APIRouter:
    """``GET/POST /login`` and ``GET /logout`` for browsers (only mounted with ``API_TOKEN``)."""
    router = APIRouter(include_in_schema=False)
    session = session_value(token)

    @router.get("/login")
    async def login_page() -> HTMLResponse:
        return _page()

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        offered = (form.get("token") or [""])[0].strip()
        if not hmac.compare_digest(offered.encode(), token.encode()):
            return _page("That token is not valid for this Space.", status=401)
        response = RedirectResponse(request.scope.get("root_path", "") + "/", status_code=303)
        secure = _secure(request)
        # Inside the huggingface.co page the Space is a cross-site iframe: SameSite=None.
        response.set_cookie(
            COOKIE_NAME,
            session,
            httponly=True,
            secure=secure,
            samesite="none" if secure else "lax",
            path="/",
        )
        return response

    @router.get("/logout")
    async def logout(request: Request) -> Response:
        response = RedirectResponse(request.scope.get("root_path", "") + "/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    return router
