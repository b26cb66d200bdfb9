"""PII and secrets: order data is encrypted in Temporal's history; tokens never logged."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from orderflow.api.app import create_app
from orderflow.app.orders import start_order
from orderflow.app.watch import result_of
from orderflow.config import Settings
from orderflow.domain.status import OrderStatus
from orderflow.store import Store
from orderflow.temporal.client import converter_for
from orderflow.temporal.codec import ENCODING, new_key_entry
from orderflow.workflows.order import OrderWorkflow
from tests.workflow.conftest import FAST, make_activities, worker_for
from tests.workflow.helpers import an_order

SECRETS = ("Ada Lovelace", "Analytical Way", "tok_visa_4242")
API_KEY = "test-key-0123456789abcdef"


@pytest.fixture
def settings() -> Settings:
    return Settings(encryption_keys=new_key_entry("k1"), api_keys=API_KEY)  # type: ignore[arg-type]


async def test_no_plaintext_pii_reaches_temporal_history_and_no_token_reaches_logs(
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    order_prefix: str,
    store: Store,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    target = temporal_env.client.service_client.config.target_host
    client = await Client.connect(target, data_converter=converter_for(settings))
    order = an_order(f"{order_prefix}1", token="tok_visa_4242")
    async with worker_for(client, task_queue, make_activities(store)):
        handle = await start_order(client, order, task_queue, FAST)
        result = await result_of(handle)
        state = await handle.query(OrderWorkflow.status)  # through the codec: readable
    # Read the raw history with a client that holds no key: what the server stores.
    raw = await temporal_env.client.get_workflow_handle(handle.id).fetch_history()
    raw_json = raw.to_json()

    assert result.status is OrderStatus.COMPLETED  # the encrypted round trip works
    assert base64.b64decode(_first_input_encoding(raw_json)) == ENCODING
    for secret in SECRETS:
        assert secret not in raw_json
        assert base64.b64encode(secret.encode()).decode()[:12] not in raw_json
    assert state.order is not None and state.order.address.name == "Ada Lovelace"
    assert "tok_visa_4242" not in caplog.text


def _first_input_encoding(history_json: str) -> str:
    import json

    events = json.loads(history_json)["events"]
    payload = events[0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    return str(payload["metadata"]["encoding"])


async def test_the_codec_endpoint_decrypts_for_key_holders_only(settings: Settings) -> None:
    codec = converter_for(settings).payload_codec
    assert codec is not None
    plain = Payloads(
        payloads=[json_format.ParseDict({"data": "eyJhIjoxfQ=="}, Payloads().payloads.add())]
    )
    sealed = Payloads(payloads=await codec.encode(list(plain.payloads)))
    body = json_format.MessageToDict(sealed)
    app = create_app(settings, service=None, health_check=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        anonymous = await http.post("/codec/decode", json=body)
        decoded = await http.post(
            "/codec/decode", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
        )

    assert anonymous.status_code == 401
    assert decoded.status_code == 200
    assert json_format.ParseDict(decoded.json(), Payloads()) == plain
