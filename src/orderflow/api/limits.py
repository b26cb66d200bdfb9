"""Refuse oversize request bodies with 413 before anything parses them."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderflow.api.problems import problem_response


class BodyTooLarge(HTTPException):
    """The body grew past the limit while it streamed in (answered as a 413 problem)."""

    problem_kind = "body-too-large"

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the request body exceeds {limit} bytes")


class BodySizeLimit:
    """ASGI middleware: a declared Content-Length over ``max_bytes`` is refused unread;
    a body without one (chunked) is counted as it streams and cut off at the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route while FastAPI reads the body: its exception
                    # handlers turn it into the 413 problem.
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            f"the request body exceeds {self.max_bytes} bytes",
            kind=BodyTooLarge.problem_kind,
            instance=str(scope.get("path", "")),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
