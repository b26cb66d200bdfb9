"""The CLI door, as strict as the API: the real ``orderflow`` process, a real Temporal server.

Each test reproduces what a user met at the CLI (issue "Every door as strict as the API")
and checks what they now get: a clear line naming the field and the rule, a documented
exit code, no traceback, no hang, and nothing charged or reserved for bad input.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from orderflow.app.orders import workflow_id
from orderflow.cli.common import Exit
from orderflow.store import Store
from orderflow.store.audit import run_audit
from tests.e2e.cli import (
    CRASH_MARKS,
    Shop,
    an_order,
    assert_clean_failure,
    free_port,
    stocked,
)
from tests.property.conftest import Payload, balanced_bad_payloads
from tests.workflow.helpers import ledger, units_held

pytestmark = pytest.mark.e2e


async def assert_never_started(client: Client, order_id: str) -> None:
    with pytest.raises(RPCError) as err:
        await client.get_workflow_handle(workflow_id(order_id)).describe()
    assert err.value.status is RPCStatusCode.NOT_FOUND


def assert_untouched(store: Store, order_id: str) -> None:
    assert ledger(store, order_id) == []
    assert units_held(store, order_id) == 0
    assert run_audit(store.engine).ok


# -- bad input is refused before anything starts --------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"items": [{"sku": "TEE-BLACK-M", "quantity": 2, "unit_price": "0.01"}]}, "unit_price"),
        ({"discount_code": "FREE"}, "discount_code"),
        ({"total": "10.005"}, "total"),
    ],
    ids=["unit_price", "discount_code", "total"],
)
async def test_an_order_that_sets_a_price_or_an_unknown_field_is_refused_and_charges_nothing(
    shop: Shop, changes: dict[str, object], field: str
) -> None:
    order = an_order(**changes)
    path = shop.order_file(order)

    async with shop.worker() as store:
        proc = await shop.cli("submit", str(path))
        assert_untouched(store, order["order_id"])

    assert_clean_failure(proc, Exit.REFUSED)
    assert field in proc.stderr and "unknown fields are refused" in proc.stderr
    await assert_never_started(await shop.client(), order["order_id"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"items": [{"sku": "TEE-BLACK-M", "quantity": 1e9}]}, "items[0].quantity"),
        ({"items": [{"sku": "TEE-BLACK-M", "quantity": 1000000000}]}, "items[0].quantity"),
        ({"items": [{"sku": "TEE-BLACK-M", "quantity": -1}]}, "items[0].quantity"),
        ({"items": [{"sku": "NO-SUCH-SKU", "quantity": 1}]}, "items[0].sku"),
        ({"address": None}, "address"),
        ({"items": [{"sku": "MUG-LOGO", "quantity": 1}] * 51}, "items"),
        ({"items": [{"sku": "MUG-LOGO", "quantity": 1}] * 10_000}, "order"),  # over 64 KiB
        ({"order_id": "x" * 10_000}, "order_id"),
        (
            {
                "address": {
                    "name": "A",
                    "line1": "1",
                    "city": " ",
                    "postal_code": "1",
                    "country": "GB",
                }
            },
            "address.city",
        ),
    ],
    ids=[
        "1e9",
        "1000000000",
        "-1",
        "unknown-sku",
        "no-address",
        "51-lines",
        "10000-lines",
        "long-id",
        "blank-city",
    ],
)
async def test_an_order_the_rules_refuse_exits_2_naming_the_field_and_starts_nothing(
    shop: Shop, changes: dict[str, object], field: str
) -> None:
    order = an_order(**changes)
    proc = await shop.cli("submit", str(shop.order_file(order)))

    assert_clean_failure(proc, Exit.REFUSED)
    assert f"{field}:" in proc.stderr, proc.stderr
    if len(str(order["order_id"])) <= 64:
        await assert_never_started(await shop.client(), str(order["order_id"]))
    store = shop.store()
    assert run_audit(store.engine).orders_checked == 0
    store.engine.dispose()


@pytest.mark.parametrize(
    "kind", ["missing", "directory", "not-utf8", "ten-megabytes", "not-json", "a-list"]
)
async def test_an_unreadable_order_file_is_refused_in_one_line(shop: Shop, kind: str) -> None:
    path = shop.data_dir.parent / f"{kind}.json"
    if kind == "directory":
        path.mkdir()
    elif kind == "not-utf8":
        latin1 = json.dumps(an_order(), ensure_ascii=False).replace("Ada", "Adé")
        path.write_bytes(latin1.encode("latin-1"))
    elif kind == "ten-megabytes":
        path.write_bytes(json.dumps(an_order(customer_id="x" * 10_000_000)).encode())
    elif kind == "not-json":
        path.write_text("{ this is not json")
    elif kind == "a-list":
        path.write_text("[1, 2, 3]")

    proc = await shop.cli("submit", str(path))

    assert_clean_failure(proc, Exit.REFUSED)
    expected = {
        "missing": "no such file",
        "directory": "is a directory",
        "not-utf8": "not UTF-8",
        "ten-megabytes": "at most 65,536 bytes",
        "not-json": "not a valid JSON document",
        "a-list": "must be a JSON object",
    }[kind]
    assert expected in proc.stderr, proc.stderr


async def test_bad_orders_on_standard_input_are_refused_like_files(shop: Shop) -> None:
    proc = await shop.cli("submit", "-", stdin=json.dumps(an_order(coupon="X")).encode())

    assert_clean_failure(proc, Exit.REFUSED)
    assert "coupon" in proc.stderr


# -- outcomes and exit codes -------------------------------------------------------------------


async def test_a_completed_order_exits_0_and_a_declined_one_exits_3(shop: Shop) -> None:
    good, declined = an_order(), an_order(payment_token="tok_declined")
    async with shop.worker():
        ok = await shop.cli("submit", str(shop.order_file(good, "good.json")))
        bad = await shop.cli("submit", str(shop.order_file(declined, "bad.json")), "--json")

    assert ok.returncode == Exit.OK, ok.stderr[-2000:]
    assert "accepted" in ok.stdout and "COMPLETED" in ok.stdout
    assert bad.returncode == Exit.ORDER_FAILED, bad.stderr[-2000:]
    answer = json.loads(bad.stdout.strip().splitlines()[-1])
    assert answer["status"] == "FAILED" and answer["error_type"] == "PaymentDeclined"
    assert answer["new"] is True


async def test_no_wait_prints_the_priced_order_and_a_repeat_says_so(shop: Shop) -> None:
    order = an_order()
    path = shop.order_file(order)
    async with shop.worker():
        first = await shop.cli("submit", str(path), "--no-wait", "--json")
        again = await shop.cli("submit", str(path), "--no-wait")

    assert first.returncode == again.returncode == Exit.OK, first.stderr + again.stderr
    priced = json.loads(first.stdout)
    assert priced["order_id"] == order["order_id"] and priced["new"] is True
    assert priced["total"]["total"] == "64.67"
    assert "a repeat: nothing more is charged" in again.stdout


async def test_the_same_id_with_a_different_order_is_a_conflict(shop: Shop) -> None:
    order = an_order()
    async with shop.worker():
        await shop.cli("submit", str(shop.order_file(order, "a.json")))
        other = await shop.cli(
            "submit", str(shop.order_file({**order, "customer_id": "someone-else"}, "b.json"))
        )

    assert_clean_failure(other, Exit.CONFLICT)
    assert "already used by a different order" in other.stderr


# -- never a silent hang, never a crash --------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["status", "A-1"], ["list"], ["cancel", "A-1"], ["reconcile"], ["submit", "ORDER"]],
    ids=["status", "list", "cancel", "reconcile", "submit"],
)
async def test_client_commands_say_in_one_line_that_temporal_does_not_answer(
    shop: Shop, args: list[str]
) -> None:
    args = [str(shop.order_file(an_order())) if arg == "ORDER" else arg for arg in args]
    closed = f"127.0.0.1:{free_port()}"
    for _ in range(3):  # the SDK's exit crash showed about once in a dozen runs
        proc = await shop.cli(*args, TEMPORAL_ADDRESS=closed, timeout=60)
        assert_clean_failure(proc, Exit.TEMPORAL_DOWN)
        assert f"Temporal does not answer at {closed} (connection refused)" in proc.stderr
        assert "Os {" not in proc.stderr  # not the SDK's Rust debug text


async def test_submit_without_a_worker_says_nothing_processes_it_instead_of_waiting(
    shop: Shop,
) -> None:
    order = an_order()
    proc = await shop.cli("submit", str(shop.order_file(order)), timeout=60)

    assert_clean_failure(proc, Exit.NO_WORKER)
    assert f"no worker polls task queue {shop.task_queue!r}" in proc.stderr
    assert "orderflow worker --task-queue" in proc.stderr
    # It stays accepted and runs as soon as a worker does.
    async with shop.worker():
        waited = await shop.cli("submit", str(shop.order_file(order)))
    assert waited.returncode == Exit.OK, waited.stderr[-2000:]
    assert "a repeat" in waited.stdout and "COMPLETED" in waited.stdout


async def test_no_wait_without_a_worker_accepts_the_order_and_status_shows_what_is_known(
    shop: Shop,
) -> None:
    order = an_order()
    accepted = await shop.cli("submit", str(shop.order_file(order)), "--no-wait", timeout=60)
    status = await shop.cli("status", order["order_id"], timeout=60)

    assert accepted.returncode == Exit.OK, accepted.stderr
    # Priced at the door and durably accepted; it says nothing runs it yet.
    assert f"order {order['order_id']}: accepted; total" in accepted.stdout
    assert "no worker polls task queue" in accepted.stderr
    assert status.returncode == Exit.OK, status.stderr
    assert "RECEIVED" in status.stdout and "by the database" in status.stdout
    assert "no worker polls task queue" in status.stderr


async def test_a_finished_order_is_read_while_no_worker_runs(shop: Shop) -> None:
    order = an_order()
    async with shop.worker():
        submitted = await shop.cli("submit", str(shop.order_file(order)))
    assert submitted.returncode == Exit.OK, submitted.stderr[-2000:]

    proc = await shop.cli("status", order["order_id"], timeout=30)
    as_json = await shop.cli("status", order["order_id"], "--json", timeout=30)

    assert proc.returncode == Exit.OK, proc.stderr
    assert "COMPLETED" in proc.stdout and "tracking" in proc.stdout
    assert json.loads(as_json.stdout)["status"] == "COMPLETED"


async def test_a_worker_with_another_key_is_reported_by_the_key_s_name(shop: Shop) -> None:
    order = an_order()
    other = Shop(
        data_dir=shop.data_dir.parent / "other",
        temporal_address=shop.temporal_address,
        task_queue=shop.task_queue,
    )  # same queue and database, another data directory: another key
    store = shop.store()
    key_id = shop.settings.keys().split(":", 1)[0]
    async with other.worker(store):
        proc = await shop.cli("submit", str(shop.order_file(order)), timeout=60)

    assert_clean_failure(proc, Exit.NO_WORKER)
    assert key_id in proc.stderr, proc.stderr
    assert "same encryption keys" in proc.stderr


async def test_a_worker_on_another_database_refuses_the_order_and_says_which(shop: Shop) -> None:
    order = an_order()
    keys = shop.settings.keys()
    elsewhere = Shop(
        data_dir=shop.data_dir.parent / "elsewhere",
        temporal_address=shop.temporal_address,
        task_queue=shop.task_queue,
        extra_env={"ORDERFLOW_ENCRYPTION_KEYS": keys},
    )  # the same key, but its own database
    elsewhere_store = stocked(elsewhere.store())
    async with elsewhere.worker(elsewhere_store):
        proc = await shop.cli("submit", str(shop.order_file(order)), "--json", timeout=60)
        charged_elsewhere = ledger(elsewhere_store, order["order_id"])

    assert proc.returncode == Exit.ORDER_FAILED, proc.stderr[-2000:]
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["error_type"] == "StoreMismatch"
    assert str(shop.data_dir / "orderflow.db") in answer["reason"]
    assert str(elsewhere.data_dir / "orderflow.db") in answer["reason"]
    assert charged_elsewhere == []  # nothing charged anywhere


# -- private by default -------------------------------------------------------------------------


async def test_with_no_configuration_history_holds_no_personal_data_and_status_no_token(
    shop: Shop, temporal_env: WorkflowEnvironment
) -> None:
    order = an_order(payment_token="tok_visa_4242")
    async with shop.worker():
        submitted = await shop.cli("submit", str(shop.order_file(order)))
    status = await shop.cli("status", order["order_id"])
    as_json = await shop.cli("status", order["order_id"], "--json")
    personal = await shop.cli("status", order["order_id"], "--show-personal")

    raw = await temporal_env.client.get_workflow_handle(
        workflow_id(order["order_id"])
    ).fetch_history()
    stored = raw.to_json()
    for secret in ("Ada Lovelace", "Analytical", "tok_visa_4242", "N1 9GU"):
        assert secret not in stored
    assert (shop.data_dir / "encryption.key").stat().st_mode & 0o077 == 0  # owner only
    for proc in (submitted, status, as_json, personal):
        assert "tok_visa_4242" not in proc.stdout + proc.stderr
    assert "Ada Lovelace" not in status.stdout + as_json.stdout
    assert "Ada Lovelace" in personal.stdout  # asked for


# -- the other commands ------------------------------------------------------------------------


async def test_audit_where_nothing_ran_is_an_error_not_an_empty_audit(tmp_path: Path) -> None:
    empty = Shop(data_dir=tmp_path / "never", temporal_address="127.0.0.1:1", task_queue="q")

    proc = await empty.cli("audit")
    down = await empty.cli(
        "audit", DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    )

    assert_clean_failure(proc, Exit.DATABASE_DOWN)
    assert "there is no database at" in proc.stderr and str(tmp_path / "never") in proc.stderr
    assert not (tmp_path / "never" / "orderflow.db").exists()
    assert_clean_failure(down, Exit.DATABASE_DOWN)
    assert "postgresql+psycopg://nobody@127.0.0.1" in down.stderr


async def test_audit_names_the_database_it_read(shop: Shop) -> None:
    proc = await shop.cli("audit")

    assert proc.returncode == Exit.OK, proc.stderr
    assert f"audit of sqlite:///{shop.data_dir / 'orderflow.db'}" in proc.stdout


async def test_resolve_of_an_unknown_order_names_it(shop: Shop) -> None:
    proc = await shop.cli("resolve", "NOPE-1", "--retry")

    assert_clean_failure(proc, Exit.NOT_FOUND)
    assert "no order with id 'NOPE-1'" in proc.stderr


async def test_cancel_approve_and_reject_say_why_they_cannot(shop: Shop) -> None:
    order = an_order()
    async with shop.worker():
        await shop.cli("submit", str(shop.order_file(order)))
        cancel = await shop.cli("cancel", order["order_id"])
        approve = await shop.cli("approve", order["order_id"])
        reject = await shop.cli("reject", order["order_id"], "--note", "fraud")

    assert_clean_failure(cancel, Exit.CONFLICT)
    assert "COMPLETED" in cancel.stderr and "can no longer be cancelled" in cancel.stderr
    for proc in (approve, reject):
        assert_clean_failure(proc, Exit.CONFLICT)
        assert "is not awaiting review" in proc.stderr


async def test_an_order_awaiting_review_is_approved_or_rejected_from_the_cli(shop: Shop) -> None:
    approved, rejected = an_order(), an_order()
    review = {"ORDERFLOW_REVIEW_THRESHOLD": "10"}
    async with shop.worker():
        for order in (approved, rejected):
            waiting = await shop.cli("submit", str(shop.order_file(order)), **review)
            assert waiting.returncode == Exit.OK and "AWAITING_REVIEW" in waiting.stdout
        yes = await shop.cli("approve", approved["order_id"], "--reviewer", "sam")
        no = await shop.cli("reject", rejected["order_id"], "--reviewer", "sam", "--note", "fraud")
        done = await shop.cli("submit", str(shop.order_file(approved)))

    assert yes.returncode == Exit.OK and no.returncode == Exit.OK, yes.stderr + no.stderr
    assert "COMPLETED" in done.stdout
    assert "CANCELLED" in no.stdout or "CANCELLING" in no.stdout


async def test_inventory_restock_with_a_key_adds_once_and_set_counts_the_shelf(
    shop: Shop,
) -> None:
    first = await shop.cli("inventory", "restock", "CAP-NAVY", "5", "--key", "delivery-7")
    again = await shop.cli("inventory", "restock", "CAP-NAVY", "5", "--key", "delivery-7")
    counted = await shop.cli("inventory", "set", "CAP-NAVY", "12", "--json")
    unknown = await shop.cli("inventory", "restock", "NOPE", "5")
    shown = await shop.cli("inventory", "show")

    assert first.returncode == again.returncode == Exit.OK, first.stderr + again.stderr
    assert (
        "   55 " in again.stdout.replace("CAP-NAVY", "").replace("\n", " ") or "55" in again.stdout
    )
    assert json.loads(counted.stdout)[0]["available"] == 12
    assert_clean_failure(unknown, Exit.REFUSED)
    assert "sku" in unknown.stderr
    assert shown.stdout.splitlines()[0].split() == [
        "WAREHOUSE",
        "SKU",
        "AVAILABLE",
        "HELD",
        "SHIPPED",
    ]


async def test_list_has_headers_and_json(shop: Shop) -> None:
    order = an_order()
    async with shop.worker():
        await shop.cli("submit", str(shop.order_file(order)))
    listed = await shop.cli("list")
    as_json = await shop.cli("list", "--json")
    bad = await shop.cli("list", "--status", "SHIPPING_TO_MARS")

    assert listed.stdout.splitlines()[0].split() == ["ORDER", "ID", "STATUS", "WORKFLOW"]
    assert any(row["order_id"] == order["order_id"] for row in json.loads(as_json.stdout))
    assert_clean_failure(bad, Exit.REFUSED)
    assert "--status must be one of" in bad.stderr


async def test_reconcile_schedule_can_be_created_and_removed(shop: Shop) -> None:
    created = await shop.cli("reconcile", "--schedule", "--every", "600")
    removed = await shop.cli("reconcile", "--unschedule")
    again = await shop.cli("reconcile", "--unschedule")

    assert created.returncode == removed.returncode == again.returncode == Exit.OK
    assert "removed" in removed.stdout and "did not exist" in again.stdout


async def test_a_second_worker_on_a_taken_metrics_port_is_refused_in_one_line(shop: Shop) -> None:
    import socket

    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        proc = await shop.cli("worker", "--metrics-port", str(port), timeout=30)

    assert_clean_failure(proc, Exit.REFUSED)
    assert f"metrics port {port} on 127.0.0.1 is in use" in proc.stderr


async def test_the_api_on_a_taken_port_says_so(shop: Shop) -> None:
    import socket

    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        proc = await shop.cli("api", "--port", str(port), ORDERFLOW_API_KEYS="k" * 24, timeout=30)

    assert_clean_failure(proc, Exit.REFUSED)
    assert f"port {port} on 127.0.0.1 is in use" in proc.stderr


async def test_help_is_clean_at_80_columns_and_there_is_a_version(shop: Shop) -> None:
    commands = [
        [],
        ["server"],
        ["worker"],
        ["submit"],
        ["status"],
        ["list"],
        ["cancel"],
        ["approve"],
        ["reject"],
        ["resolve"],
        ["audit"],
        ["reconcile"],
        ["demo"],
        ["legacy"],
        ["api"],
        ["chaos"],
        ["bench"],
        ["keygen"],
        ["inventory"],
        ["inventory", "restock"],
        ["db"],
    ]
    for command in commands:
        proc = await shop.cli(*command, "--help")
        assert proc.returncode == 0, (command, proc.stderr)
        for line in proc.stdout.splitlines():
            assert len(line) <= 80, (command, line)
        assert "<bool>" not in proc.stdout and "%%" not in proc.stdout, command
    version = await shop.cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("orderflow ")


async def test_every_kind_of_bad_order_the_api_refuses_the_cli_refuses_too(shop: Shop) -> None:
    """The hostile-input suite of the API (tests/property), at the CLI door."""
    payloads = balanced_bad_payloads(1)
    gate = asyncio.Semaphore(4)

    async def submit(payload: Payload) -> tuple[Payload, subprocess.CompletedProcess[str]]:
        async with gate:
            return payload, await shop.cli("submit", "-", stdin=payload.raw(), timeout=60)

    answers = await asyncio.gather(*(submit(p) for p in payloads))

    wrong = []
    for payload, proc in answers:
        named = payload.api_field in proc.stderr or (
            payload.api_field == "body" and "order:" in proc.stderr
        )
        crashed = any(mark in proc.stdout + proc.stderr for mark in CRASH_MARKS)
        if proc.returncode != Exit.REFUSED or not named or crashed:
            wrong.append(f"{payload.kind}: exit {proc.returncode}: {proc.stderr.strip()[:200]}")
    assert not wrong, "\n".join(wrong)
    store = shop.store()
    assert run_audit(store.engine).orders_checked == 0  # nothing charged, held or shipped
    store.engine.dispose()
