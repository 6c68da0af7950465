"""Dispatcher tests in one process: leases, outcomes, retries, dead letters, order keys, fairness."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

from bson import Binary

from app.services import build_services
from tests.handlers.fixtures import FAST, open_dispatcher, wait_for  # noqa: F401  (fixture)
from tests.handlers.notifications import make_body, notification_document, store_notifications
from webhooks.dispatcher import Dispatcher
from webhooks.retry import set_override

async def count_status(database, status: str) -> int:
    return await database.notifications.count_documents({"status": status})


def item(kind: str = "thing", identifier: str = "1", **fields) -> dict:
    return {"type": kind, "id": identifier, **fields}


async def test_dispatcher_processes_each_once(open_dispatcher):
    async with open_dispatcher(HANDLER_MODULES="tests.handlers.counting") as (services, _):
        database = services.database
        bodies = [make_body("test.event", item(identifier=str(i))) for i in range(20)]
        stored = await store_notifications(database, bodies)
        services.wakeup.notify()

        await wait_for(lambda: _all_done(database, 20))

        runs = await database.handler_runs.find().to_list()
        assert sorted(run["notification_id"] for run in runs) == sorted(d["notification_id"] for d in stored)
        document = await database.notifications.find_one({"notification_id": stored[0]["notification_id"]})
        assert document["attempts"] == 1
        assert document["errors"] == []
        assert "lease_owner" not in document
        unexpired = await database.notifications.find({"expires_at": {"$gt": datetime.now(timezone.utc)}}).to_list()
        assert len(unexpired) == 20


async def test_body_stored_as_binary_is_processed(open_dispatcher):
    # Earlier versions stored the body as binary data, and such documents must still run.
    async with open_dispatcher(HANDLER_MODULES="tests.handlers.counting") as (services, _):
        database = services.database
        document = notification_document(make_body("test.event", item(identifier="old")))
        document["body"] = Binary(document["body"].encode())
        await database.notifications.insert_one(document)
        services.wakeup.notify()

        await wait_for(lambda: _all_done(database, 1))

        runs = await database.handler_runs.find().to_list()
        assert [run["notification_id"] for run in runs] == [document["notification_id"]]


async def test_latest_accepted_created_at_is_processed(open_dispatcher):
    # The receiver accepts `created_at` up to the end of year 9999, so the expiry must not overflow.
    async with open_dispatcher(HANDLER_MODULES="tests.handlers.counting") as (services, _):
        database = services.database
        body = make_body("test.event", item(identifier="late"), created_at=253_402_300_799)
        await store_notifications(database, [body])
        services.wakeup.notify()

        await wait_for(lambda: _all_done(database, 1))

        document = await database.notifications.find_one({})
        assert document["attempts"] == 1
        assert document["errors"] == []


async def _all_done(database, expected: int) -> bool:
    return await count_status(database, "done") == expected


async def test_failing_handler_becomes_dead(open_dispatcher):
    async def always_fails(context):
        raise RuntimeError(f"cannot handle {context.topic}")

    async with open_dispatcher([("*", always_fails)], WORKER_MAX_ATTEMPTS=3) as (services, _):
        database = services.database
        [stored] = await store_notifications(database, [make_body("test.fails", item())])

        document = await wait_for(lambda: database.notifications.find_one({"status": "dead"}))

        assert document["notification_id"] == stored["notification_id"]
        assert document["attempts"] == 3
        assert [entry["attempt"] for entry in document["errors"]] == [1, 2, 3]
        assert "RuntimeError: cannot handle test.fails" in document["last_error"]
        assert "always_fails" in document["errors"][0]["error"]


async def test_retry_override_per_workspace(open_dispatcher):
    async def always_fails(context):
        raise ValueError("broken")

    async with open_dispatcher([("*", always_fails)], WORKER_MAX_ATTEMPTS=5) as (services, _):
        database = services.database
        await set_override(database, "default", None, max_attempts=2)
        await set_override(database, "default", "ws-patient", max_attempts=4, backoff_base_seconds=0.01)
        await store_notifications(database, [
            make_body("test.fails", item(identifier="a")),
            make_body("test.fails", item(identifier="b"), workspace_id="ws-patient"),
        ])

        await wait_for(lambda: _count_equals(database, {"status": "dead"}, 2))

        by_workspace = {d["workspace_id"]: d async for d in database.notifications.find()}
        assert by_workspace["ws7k2p9q"]["attempts"] == 2
        assert by_workspace["ws-patient"]["attempts"] == 4


async def _count_equals(database, query: dict, expected: int) -> bool:
    return await database.notifications.count_documents(query) == expected


async def test_handler_timeout_counts_as_failure(open_dispatcher):
    async def hangs(context):
        await asyncio.sleep(30)

    async with open_dispatcher([("*", hangs)], WORKER_MAX_ATTEMPTS=1, WORKER_HANDLER_TIMEOUT_SECONDS=0.2) as (services, _):
        await store_notifications(services.database, [make_body("test.hangs", item())])

        document = await wait_for(lambda: services.database.notifications.find_one({"status": "dead"}))

        assert document["last_error"] == "handlers timed out after 0.2 s"


async def test_uninstalled_workspace_is_skipped(open_dispatcher):
    async with open_dispatcher(HANDLER_MODULES="tests.handlers.counting") as (services, _):
        database = services.database
        await database.installations.insert_one({"app": "default", "workspace_id": "ws-gone", "status": "uninstalled"})
        await store_notifications(database, [make_body("test.event", item(), workspace_id="ws-gone")])

        document = await wait_for(lambda: database.notifications.find_one({"status": "done"}))

        assert document["note"] == "not processed: the installation of workspace ws-gone is uninstalled"
        assert await database.handler_runs.count_documents({}) == 0


async def test_expired_lease_is_taken_over(open_dispatcher):
    async with open_dispatcher(HANDLER_MODULES="tests.handlers.counting") as (services, _):
        database = services.database
        [stored] = await store_notifications(database, [make_body("test.event", item())])
        # A worker that died mid-handler: its lease expired a second ago.
        await database.notifications.update_one(
            {"_id": stored["_id"]},
            {"$set": {"status": "processing", "attempts": 1, "lease_owner": "dead-worker",
                      "lease_until": datetime.now(timezone.utc) - timedelta(seconds=1)}},
        )

        document = await wait_for(lambda: database.notifications.find_one({"status": "done"}))

        assert document["attempts"] == 2
        assert document["errors"][0]["attempt"] == 1
        assert "dead-worker" in document["errors"][0]["error"]
        assert await database.handler_runs.count_documents({}) == 1


async def test_stop_releases_held_notifications(make_settings):
    settings = make_settings(**FAST, HANDLER_MODULES="tests.handlers.blocking")
    services = await build_services(settings, settings.MONGODB_URI)
    try:
        database = services.database
        await store_notifications(database, [make_body("test.block", item(identifier=str(i))) for i in range(3)])
        dispatcher = Dispatcher(services)
        await dispatcher.start()
        await wait_for(lambda: _starts_equal(database, 3))

        started = time.monotonic()
        await dispatcher.stop(1.0)
        elapsed = time.monotonic() - started

        assert elapsed < 1.5
        documents = await database.notifications.find().to_list()
        assert [d["status"] for d in documents] == ["pending"] * 3
        assert [d["attempts"] for d in documents] == [0, 0, 0]
        assert all("lease_owner" not in d for d in documents)
        assert await database.order_locks.count_documents({}) == 0
    finally:
        await services.close()


async def _starts_equal(database, expected: int) -> bool:
    return await database.handler_starts.count_documents({}) == expected


async def test_repeated_crashes_end_dead(open_dispatcher):
    async with open_dispatcher(HANDLER_MODULES="tests.handlers.counting", WORKER_MAX_ATTEMPTS=3) as (services, _):
        database = services.database
        [stored] = await store_notifications(database, [make_body("test.poison", item())])
        # Three workers already died running it; the last lease has expired.
        await database.notifications.update_one(
            {"_id": stored["_id"]},
            {"$set": {"status": "processing", "attempts": 3, "lease_owner": "crashed-worker",
                      "lease_until": datetime.now(timezone.utc) - timedelta(seconds=1)}},
        )

        document = await wait_for(lambda: database.notifications.find_one({"status": "dead"}))

        assert document["attempts"] == 3
        assert "crashed-worker" in document["last_error"]
        assert await database.handler_runs.count_documents({}) == 0


async def test_wakeup_beats_slow_poll(open_dispatcher):
    async with open_dispatcher(HANDLER_MODULES="tests.handlers.counting", WORKER_POLL_SECONDS=30) as (services, _):
        database = services.database
        await asyncio.sleep(0.2)  # the dispatcher has found nothing and now waits up to 30 s
        started = time.monotonic()
        await store_notifications(database, [make_body("test.event", item())])
        services.wakeup.notify()

        await wait_for(lambda: database.notifications.find_one({"status": "done"}), timeout=5)

        assert time.monotonic() - started < 5
