"""The standalone HTTP API server (`python -m faceswaplab serve`): the same /faceswaplab/v1
routes as the web-ui mounts, on a FastAPI app of its own, behind three pure ASGI layers.

Why ASGI layers and not FastAPI dependencies: a dependency runs after FastAPI has read and
parsed the whole body, which is exactly the cost a limit must prevent. Outermost first:

- `Auth`: HTTP Basic auth (when configured). A stranger gets 401 before any of their body
  is kept and never takes a queue slot.
- `Limiter`: at most `max_concurrent` work requests (the POST routes) run at once and at
  most `max_queue` wait; more are answered 503 with Retry-After at once, so a burst can
  neither exhaust memory nor queue for ever. A waiting request holds only its socket: its
  body is read after it gets its slot. When the last request of a burst finishes, the
  allocator is asked to return freed memory to the OS (glibc's malloc_trim), so the
  server's RSS goes back near its baseline.
- `Gate`: the body limit. Content-Length over the limit is 413 at once; otherwise the body
  is read here, counted as it arrives (chunked uploads have no Content-Length), and 413 as
  soon as the count passes the limit; only a body within the limit is handed on.

A refused body is read and dropped (up to a cap, never kept) before the answer, so a client
that sends its whole body before reading sees the 401/413/503 instead of a reset connection.
"""

from __future__ import annotations

import asyncio
import base64
import ctypes
import json
import logging
from typing import Any, Awaitable, Callable, Mapping, Optional

from . import auth

log = logging.getLogger("faceswaplab")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

RETRY_AFTER_S = 2


async def send_json(send: Send, status: int, detail: str, headers: Optional[Mapping[str, str]] = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    hdrs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> Optional[bytes]:
    for k, v in scope.get("headers") or []:
        if k.lower() == name:
            return v
    return None


def basic_ok(scope: Scope, credentials: Mapping[str, str]) -> bool:
    value = _header(scope, b"authorization")
    if not value or not value[:6].lower() == b"basic ":
        return False
    try:
        user, sep, password = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return bool(sep) and auth.check(credentials, user, password)


async def drain(receive: Receive, more: bool, cap: int) -> None:
    """Read and drop the rest of a refused body (up to `cap` bytes) before answering, so a
    client that sends the whole body before reading the answer gets the answer instead of a
    reset connection (the server stops reading once a response is complete). Nothing is
    kept: memory stays flat however much is sent."""
    left = cap
    while more and left > 0:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        left -= len(message.get("body", b""))
        more = message.get("more_body", False)


def _has_body(scope: Scope) -> bool:
    return scope.get("method") in ("POST", "PUT", "PATCH")


class Auth:
    """HTTP Basic auth before anything else: an unauthenticated request takes no queue slot
    and has no byte of its body kept."""

    def __init__(self, app: ASGIApp, credentials: Optional[Mapping[str, str]] = None) -> None:
        self.app = app
        self.credentials = dict(credentials or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.credentials and not basic_ok(scope, self.credentials):
            await drain(receive, _has_body(scope), 1 << 20)
            await send_json(send, 401, "Incorrect username or password", {"WWW-Authenticate": "Basic"})
            return
        await self.app(scope, receive, send)


class Gate:
    """The request body limit, before anything is decoded."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"request body larger than {self.max_bytes / 2**20:g} MB (the server's --max-request-mb)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = 2 * self.max_bytes + (16 << 20)
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await send_json(send, 400, "Content-Length is not a number")
                return
            if declared > self.max_bytes:
                await drain(receive, True, cap)
                await send_json(send, 413, self._too_large())
                return
        chunks: list[bytes] = []
        size = 0
        while True:  # read (and count) the body here; the app only ever sees one within the limit
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                chunks.clear()
                await drain(receive, message.get("more_body", False), cap)
                await send_json(send, 413, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        chunks.clear()
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the client's disconnect

        await self.app(scope, replay, send)


def malloc_trim() -> None:
    """Give freed heap memory back to the OS (glibc); a no-op elsewhere."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class Limiter:
    """At most `max_concurrent` work requests at a time, `max_queue` more waiting, 503 beyond."""

    def __init__(
        self, app: ASGIApp, max_concurrent: int, max_queue: int, paths: Callable[[Scope], bool], drain_cap: int = 1 << 20
    ) -> None:
        self.app = app
        self.drain_cap = drain_cap
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.paths = paths
        self.admitted = 0  # running + waiting
        self._sem: Optional[asyncio.Semaphore] = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.paths(scope):
            await self.app(scope, receive, send)
            return
        if self._sem is None:  # created on the server's own event loop
            self._sem = asyncio.Semaphore(self.max_concurrent)
        if self.admitted >= self.max_concurrent + self.max_queue:
            await drain(receive, _has_body(scope), self.drain_cap)
            await send_json(
                send, 503, f"server busy: {self.max_concurrent} running and {self.max_queue} waiting; retry shortly",
                {"Retry-After": str(RETRY_AFTER_S)},
            )  # fmt: skip
            return
        self.admitted += 1
        try:
            async with self._sem:
                await self.app(scope, receive, send)
        finally:
            self.admitted -= 1
            if self.admitted == 0:
                await asyncio.get_running_loop().run_in_executor(None, malloc_trim)


def is_work(prefix: str) -> Callable[[Scope], bool]:
    def work(scope: Scope) -> bool:
        return scope.get("method") == "POST" and str(scope.get("path", "")).startswith(prefix)

    return work


DESCRIPTION = """FaceSwapLab's HTTP API. Every route lives under `/faceswaplab/v1`.

Images travel as base64 (PNG, JPEG or WebP; a `data:` URL prefix is accepted). Model fields
(`restorer`, `parser`, `upscale`, `occluder`, `swapper`, `checkpoint`, the post-processing
`restorer` and `upscaler`) take a **name** from `GET /faceswaplab/v1/models`, never a path.
Errors answer `{"detail": "one line"}` with 400 (bad input), 401 (auth), 413 (body too large),
422 (no face / schema), 451 (content filter), 503 (model missing, or busy: see Retry-After).
"""


def _short_validation_errors(app: Any) -> None:
    """422s name the field and the problem but do not echo the client's input back (a
    60 MB base64 image would come back in full)."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    async def handler(request: Any, exc: RequestValidationError) -> Any:
        errors = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    app.add_exception_handler(RequestValidationError, handler)


def build_app(
    ctx: Any,
    *,
    credentials: Optional[Mapping[str, str]] = None,
    max_request_mb: float = 64,
    max_concurrent: int = 2,
    max_queue: int = 8,
) -> ASGIApp:
    """The FastAPI app with the routes, wrapped in the limiter and the gate."""
    from fastapi import FastAPI

    from .. import __version__
    from . import routes

    app = FastAPI(title="FaceSwapLab API", version=__version__, description=DESCRIPTION)
    routes.register(app, ctx, credentials=credentials or None)
    _short_validation_errors(app)
    max_bytes = int(max_request_mb * 2**20)
    # auth first (no slot, no body for strangers), then a slot (a waiting request holds only
    # its socket, not its body), then the body limit
    limited = Limiter(Gate(app, max_bytes), max_concurrent, max_queue, is_work(routes.PREFIX), drain_cap=max_bytes)
    return Auth(limited, credentials)


__all__ = ["Auth", "Gate", "Limiter", "drain", "build_app", "basic_ok", "malloc_trim", "RETRY_AFTER_S"]
