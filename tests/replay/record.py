"""Record workflow histories for the replay tests.

Run after a *deliberate* change to the order workflow's shape (and keep the old files):
    PYTHONPATH=. .venv/bin/python -m tests.replay.record v1
    PYTHONPATH=. .venv/bin/python -m tests.replay.record v3 local   # in one activity mode
Every file under histories/ is replayed against the current code by test_replay.py.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from orderflow.adapters.faults import Fault, ScriptedFaults
from orderflow.app.aftersale import ReceiveCreate, RefundCreate, ReturnCreate
from orderflow.app.orders import OrderService, start_order, workflow_id
from orderflow.app.watch import result_of
from orderflow.domain.catalog import CATALOG
from orderflow.domain.models import LineItem
from orderflow.domain.pricing import order_digest
from orderflow.store import Store, make_engine
from orderflow.temporal.devserver import search_attribute_args, temporal_binary
from orderflow.workflows.aftersale import after_sale_workflow_id
from orderflow.workflows.messages import CancelRequest, OrderInput, PricedRequest, ReviewDecision
from orderflow.workflows.order import OrderWorkflow
from tests.workflow.conftest import FAST, make_activities, worker_for
from tests.workflow.helpers import an_order, ledger

HERE = Path(__file__).parent / "histories"


async def record(tag: str, mode: str | None = None) -> None:
    options = FAST if mode is None else FAST.model_copy(update={"activity_mode": mode})
    prefix = tag if mode is None else f"{tag}_{mode}"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        data_converter=pydantic_data_converter,
        dev_server_extra_args=search_attribute_args(),
    )
    store = Store(make_engine(f"sqlite:///{tempfile.mkdtemp()}/replay.db"))
    store.create_schema()
    store.seed_catalog(CATALOG)
    for product in CATALOG:
        store.restock(product.sku, 5)
    store.restock("CAP-NAVY", 10, "WH-WEST")  # 6 caps fit only in WH-WEST: a split order
    store.restock("MUG-LOGO", 5)  # the earlier orders take a mug; the split order needs 5
    lost = Fault.LOST_RESPONSE
    scenarios = {
        "completed_with_retries": (
            make_activities(store, payment=ScriptedFaults([lost])),
            an_order("replay-completed"),
        ),
        "failed_shipment_compensated": (
            make_activities(store, shipping=ScriptedFaults([None, lost, lost, lost])),
            an_order("replay-compensated"),
        ),
        "out_of_stock": (
            make_activities(store),
            an_order("replay-oos", items=[LineItem(sku="CAP-NAVY", quantity=60)]),
        ),
        "invalid": (make_activities(store), an_order("replay-invalid", payment_token="")),
        "split_across_warehouses": (
            make_activities(store),
            an_order(
                "replay-split",
                items=[LineItem(sku="MUG-LOGO", quantity=5), LineItem(sku="CAP-NAVY", quantity=6)],
            ),
        ),
    }
    HERE.mkdir(exist_ok=True)
    for name, (acts, order) in scenarios.items():
        queue = f"replay-{uuid.uuid4().hex[:8]}"
        async with worker_for(env.client, queue, acts):
            handle = await start_order(env.client, order, queue, options)
            await result_of(handle)
            history = await handle.fetch_history()
        (HERE / f"{prefix}_{name}.json").write_text(history.to_json())
        print(f"recorded {prefix}_{name}.json")
    # Orders the way the doors start them: update-with-start (the priced update), and a
    # cancel update while the order waits for review.
    for name, order, threshold in (
        ("submitted", an_order("replay-submitted"), None),
        ("cancelled_in_review", an_order("replay-review"), Decimal("1")),
    ):
        queue = f"replay-{uuid.uuid4().hex[:8]}"
        these = options.model_copy(update={"review_threshold": threshold})
        async with worker_for(env.client, queue, make_activities(store)):
            start = WithStartWorkflowOperation(
                OrderWorkflow.run,
                OrderInput(order=order, options=these, submission="s1"),
                id=workflow_id(order.order_id),
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            await env.client.execute_update_with_start_workflow(
                OrderWorkflow.priced,
                PricedRequest(submission="s1", digest=order_digest(order)),
                start_workflow_operation=start,
            )
            handle = await start.workflow_handle()
            if threshold is not None:
                await handle.execute_update(OrderWorkflow.cancel, CancelRequest(reason="no"))
            await result_of(handle)
            history = await handle.fetch_history()
        (HERE / f"{prefix}_{name}.json").write_text(history.to_json())
        print(f"recorded {prefix}_{name}.json")
    # A risky order whose card hold nears its (short) expiry while it waits for review:
    # the keeper re-authorizes on its durable timer, then the order is approved.
    for product in CATALOG:
        store.restock(product.sku, 5)
    order = an_order("replay-reauthorized")
    queue = f"replay-{uuid.uuid4().hex[:8]}"
    these = options.model_copy(
        update={"review_threshold": Decimal("1"), "authorization_ttl_s": 1.4}
    )
    async with worker_for(env.client, queue, make_activities(store)):
        handle = await start_order(env.client, order, queue, these)
        while [k for k, _ in ledger(store, order.order_id)].count("authorize") < 2:
            await handle.query(OrderWorkflow.status)  # a round trip between two looks
        await handle.execute_update(OrderWorkflow.review, ReviewDecision(approved=True))
        await result_of(handle)
        history = await handle.fetch_history()
    (HERE / f"{prefix}_reauthorized_in_review.json").write_text(history.to_json())
    print(f"recorded {prefix}_reauthorized_in_review.json")
    # v7: an order that waited for nobody but took long enough (a 2 s reservation) for its
    # 1.5 s hold to near its lapse renews the hold before the first capture.
    order = an_order("replay-renewed")
    queue = f"replay-{uuid.uuid4().hex[:8]}"
    slow = make_activities(store, inventory=ScriptedFaults([Fault.SLOW], slow_seconds=2.0))
    async with worker_for(env.client, queue, slow):
        handle = await start_order(
            env.client, order, queue, options.model_copy(update={"authorization_ttl_s": 1.5})
        )
        await result_of(handle)
        history = await handle.fetch_history()
    (HERE / f"{prefix}_renewed_before_capture.json").write_text(history.to_json())
    print(f"recorded {prefix}_renewed_before_capture.json")
    # After delivery: a refund by line, and a return whose items arrive.
    orders = OrderService(env.client, store, queue, these)
    async with worker_for(env.client, queue, make_activities(store)):
        done = an_order("replay-delivered")
        await result_of(await start_order(env.client, done, queue, options))
        refund, _ = await orders.refund(
            done.order_id,
            RefundCreate(reason="chipped", lines=[{"sku": "MUG-LOGO", "quantity": 1}]),
        )
        await orders.after_sales.wait(refund)
        opened, _ = await orders.open_return(
            done.order_id,
            ReturnCreate(reason="too small", lines=[{"sku": "TEE-BLACK-M", "quantity": 1}]),
        )
        await orders.receive_return(opened.return_id, ReceiveCreate(operator="sam"))
        for name, sale in (("refund_by_line", refund), ("return_received", opened)):
            handle = env.client.get_workflow_handle(
                after_sale_workflow_id(sale.kind, sale.return_id)
            )
            history = await handle.fetch_history()
            (HERE / f"{prefix}_{name}.json").write_text(history.to_json())
            print(f"recorded {prefix}_{name}.json")
    await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record(*(sys.argv[1:3] or ["v1"])))
