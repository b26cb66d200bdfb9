"""The codec endpoint the embedded Temporal Web UI decodes payloads with.

Temporal's codec-server protocol: ``POST /decode`` (and ``/encode``) with a JSON
``Payloads`` message, answered with one. Served by ``orderflow server`` on 127.0.0.1 only,
and callable from a browser only by the Web UI's own origins (CORS), so the UI shows
orders in clear on this machine out of the box while nothing off the machine can reach
it. The REST API's ``/codec`` (API key required) is the one for other tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec


def codec_app(codec: PayloadCodec, origins: Sequence[str]) -> Starlette:
    """An ASGI app serving ``codec`` at ``/encode`` and ``/decode`` to ``origins``."""

    async def parse(request: Request) -> Payloads | Response:
        try:
            body: Any = await request.json()
            return json_format.ParseDict(body, Payloads())
        except (ValueError, json_format.ParseError):
            return JSONResponse({"detail": "the body must be a JSON Payloads message"}, 422)

    async def encode(request: Request) -> Response:
        payloads = await parse(request)
        if isinstance(payloads, Response):
            return payloads
        encoded = await codec.encode(list(payloads.payloads))
        return JSONResponse(json_format.MessageToDict(Payloads(payloads=encoded)))

    async def decode(request: Request) -> Response:
        payloads = await parse(request)
        if isinstance(payloads, Response):
            return payloads
        try:
            decoded = await codec.decode(list(payloads.payloads))
        except ValueError as err:  # an unknown key id, or tampered ciphertext
            return JSONResponse({"detail": f"cannot decrypt: {err}"}, 422)
        return JSONResponse(json_format.MessageToDict(Payloads(payloads=decoded)))

    return Starlette(
        routes=[
            Route("/encode", encode, methods=["POST"]),
            Route("/decode", decode, methods=["POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(origins),
                allow_methods=["POST"],
                allow_headers=["Content-Type", "X-Namespace", "Authorization"],
                allow_credentials=True,
            )
        ],
    )
