"""/codec: a Temporal codec server, so the Web UI and CLI can show decrypted payloads.

Speaks Temporal's codec-server protocol (POST a JSON ``Payloads`` message, get one back)
and needs an API key like every other endpoint: only key holders see decrypted data.
Point the CLI at it with
``temporal workflow show --codec-endpoint http://127.0.0.1:8000/codec --codec-auth "Bearer KEY"``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from orderflow.api.deps import ContextDep, require_api_key
from orderflow.api.routes.common import COMMON, problems
from orderflow.temporal.client import converter_for

router = APIRouter(
    prefix="/codec",
    tags=["codec"],
    dependencies=[Depends(require_api_key)],
    responses={**COMMON, **problems(404, overrides={404: "Payload encryption not configured"})},
)

PayloadsBody = Body(
    ...,
    examples=[{"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": ""}]}],
    description="A JSON-encoded temporal.api.common.v1.Payloads message.",
)


def _codec(context: ContextDep) -> PayloadCodec:
    codec = converter_for(context.settings).payload_codec
    if codec is None:
        raise HTTPException(404, "payload encryption is not configured (ORDERFLOW_ENCRYPTION_KEYS)")
    return codec


def _parse(body: dict[str, Any]) -> Payloads:
    try:
        return json_format.ParseDict(body, Payloads())
    except json_format.ParseError as err:
        raise HTTPException(422, f"payloads: not a Payloads message ({err})") from err


@router.post("/encode")
async def encode(context: ContextDep, body: dict[str, Any] = PayloadsBody) -> dict[str, Any]:
    """Encrypt payloads with the current key."""
    encoded = await _codec(context).encode(list(_parse(body).payloads))
    return json_format.MessageToDict(Payloads(payloads=encoded))


@router.post("/decode")
async def decode(context: ContextDep, body: dict[str, Any] = PayloadsBody) -> dict[str, Any]:
    """Decrypt payloads (those not encrypted by orderflow pass through unchanged)."""
    try:
        decoded = await _codec(context).decode(list(_parse(body).payloads))
    except ValueError as err:  # unknown key id, or tampered ciphertext
        raise HTTPException(422, f"payloads: cannot decrypt ({err})") from err
    return json_format.MessageToDict(Payloads(payloads=decoded))
