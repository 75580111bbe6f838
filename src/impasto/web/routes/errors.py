"""Refusals: errors as JSON, the security headers, the cross-site check, and a 404 for any
other ``/api`` path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from impasto.errors import ConfigError
from impasto.web.jobs import QueueFull
from impasto.web.routes.state import error

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

# The catch-all below must be the last route: it answers every /api path no other route has.
fallback = APIRouter()


@fallback.api_route(
    "/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False
)
async def unknown(rest: str) -> Response:
    return error(404, f"no such endpoint: /api/{rest}")


async def http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        msg = "unknown field" if e.get("type") == "extra_forbidden" else e.get("msg")
        parts.append(f"{where}: {msg}" if where else str(msg))
    return error(422, "; ".join(parts) or "invalid request")


async def config_error(_: Request, exc: Exception) -> Response:
    """A bad setting, model, clip or photo a job route found before anything ran: 422."""
    return error(422, str(exc))


async def queue_full(_: Request, exc: Exception) -> Response:
    """The queue holds ``queue_size`` jobs already (or the server is stopping): 429."""
    return error(429, str(exc), {"Retry-After": "10"})


def add_error_handlers(app: FastAPI) -> None:
    """Every refusal as ``{"error", "status"}``: the routes raise, these answer."""
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(ConfigError, config_error)
    app.add_exception_handler(QueueFull, queue_full)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def host_name(host: str) -> str:
    """The name in a Host header, without its port: ``[::1]:8000`` -> ``[::1]``."""
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostCheck:
    """Refuse (400, JSON) a Host header not in ``allowed_hosts``, which stops DNS-rebinding
    pages from reaching a studio bound to this computer."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = host_name(_headers(scope).get("host", ""))
            if name.lower() not in self.allowed:
                await error(400, f"host {name!r} is not served here")(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Guard:
    """Security headers on every response, and a refusal of state-changing requests sent by
    another site's page (a browser names that page in ``Origin``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        origin = headers.get("origin")
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and origin:
            if urlsplit(origin).netloc != headers.get("host", ""):
                await error(403, "cross-site request refused")(scope, receive, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """A request body past :class:`BodyCap`'s limit (an HTTPException, so that FastAPI passes
    it on from its body reading and the JSON handler answers it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


class BodyCap:
    """Refuse request bodies over ``max_bytes`` with 413, except on ``exempt`` paths (uploads
    have their own, larger limit): at once when the declared length is too large, else as soon
    as the bytes read pass the limit, so that a large body is never read in full."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        refusal = BodyTooLarge(self.max_bytes)
        declared = _headers(scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await error(413, refusal.detail)(scope, receive, send)
            return
        seen = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise refusal
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await error(413, refusal.detail)(scope, receive, send)
