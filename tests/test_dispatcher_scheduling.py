"""Dispatcher scheduling: per-key ordering within and across workers, and workspace fairness."""

from __future__ import annotations

import pytest

from app.services import build_services
from tests.handlers.notifications import make_body, store_notifications
from tests.handlers.fixtures import FAST, open_dispatcher, wait_for  # noqa: F401  (fixture)
from webhooks.dispatcher import Dispatcher


def overlapping_runs(runs: list[dict]) -> list[tuple[str, str]]:
    """Return pairs of runs whose [started_at, finished_at] intervals overlap."""
    ordered = sorted(runs, key=lambda run: run["started_at"])
    return [
        (first["notification_id"], second["notification_id"])
        for index, first in enumerate(ordered)
        for second in ordered[index + 1:]
        if second["started_at"] < first["finished_at"]
    ]


async def _runs_equal(database, expected: int) -> bool:
    return await database.handler_runs.count_documents({}) == expected


async def _done_once(database, expected: int) -> bool:
    return await database.notifications.count_documents({"status": "done", "attempts": 1}) == expected


async def _no_order_locks(database) -> bool:
    return await database.order_locks.count_documents({}) == 0


async def test_same_order_key_never_overlaps(open_dispatcher):
    async with open_dispatcher(HANDLER_MODULES="tests.handlers.counting") as (services, _):
        database = services.database
        item = {"type": "conversation", "id": "c1", "sleep_seconds": 0.1}
        await store_notifications(database, [make_body("conversation.user.replied", item) for _ in range(4)])

        await wait_for(lambda: _runs_equal(database, 4))

        runs = await database.handler_runs.find().to_list()
        assert overlapping_runs(runs) == []
        # The last run is recorded inside its handler, before the dispatcher marks it done and
        # releases its lock, so wait for both.
        await wait_for(lambda: _done_once(database, 4))
        await wait_for(lambda: _no_order_locks(database))


async def test_different_order_keys_overlap(open_dispatcher):
    async with open_dispatcher(HANDLER_MODULES="tests.handlers.counting") as (services, _):
        database = services.database
        bodies = [
            make_body("conversation.user.replied", {"type": "conversation", "id": f"c{i}", "sleep_seconds": 0.6})
            for i in range(4)
        ]
        await store_notifications(database, bodies)

        await wait_for(lambda: _runs_equal(database, 4))

        runs = await database.handler_runs.find().to_list()
        assert len(overlapping_runs(runs)) == 6  # every pair of the four ran at the same time


async def test_order_key_held_across_workers(make_settings):
    settings = make_settings(**FAST, HANDLER_MODULES="tests.handlers.counting")
    first = await build_services(settings, settings.MONGODB_URI)
    second = await build_services(settings, settings.MONGODB_URI)
    dispatchers = [Dispatcher(first, worker_id="worker-1"), Dispatcher(second, worker_id="worker-2")]
    try:
        database = first.database
        bodies = [make_body("ticket.state.updated", {"type": "ticket", "id": "t1", "sleep_seconds": 0.05}) for _ in range(6)]
        bodies += [make_body("ticket.state.updated", {"type": "ticket", "id": "t2", "sleep_seconds": 0.05}) for _ in range(6)]
        await store_notifications(database, bodies)
        for dispatcher in dispatchers:
            await dispatcher.start()

        await wait_for(lambda: _runs_equal(database, 12))

        runs = await database.handler_runs.find().to_list()
        for key in ("t1", "t2"):
            ids = {d["notification_id"] async for d in database.notifications.find({"order_key": f"ticket:{key}"})}
            assert overlapping_runs([run for run in runs if run["notification_id"] in ids]) == []
        assert len({run["notification_id"] for run in runs}) == 12
    finally:
        for dispatcher in dispatchers:
            await dispatcher.stop(2.0)
        await first.close()
        await second.close()


@pytest.mark.parametrize("concurrency", [1, 8])
async def test_flood_does_not_starve_workspace(make_settings, concurrency):
    settings = make_settings(**FAST, HANDLER_MODULES="tests.handlers.counting", WORKER_CONCURRENCY=concurrency)
    services = await build_services(settings, settings.MONGODB_URI)
    dispatcher = Dispatcher(services)
    try:
        database = services.database
        flood = [make_body("test.flood", {"type": "thing", "id": str(i)}, workspace_id="ws-noisy") for i in range(500)]
        await store_notifications(database, flood)
        await dispatcher.start()
        await wait_for(lambda: _noisy_runs_at_least(database, 50))

        noisy_at_arrival = await database.handler_runs.count_documents({"workspace_id": "ws-noisy"})
        [quiet] = await store_notifications(database, [make_body("test.quiet", {"type": "thing"}, workspace_id="ws-quiet")])
        await wait_for(lambda: database.handler_runs.find_one({"notification_id": quiet["notification_id"]}))
        noisy_at_done = await database.handler_runs.count_documents({"workspace_id": "ws-noisy"})

        # The rotation is rebuilt at least every 32 leases, and each slot may hold one more.
        assert noisy_at_done - noisy_at_arrival <= 32 + 2 * concurrency
        assert await database.notifications.count_documents({"workspace_id": "ws-noisy", "status": "pending"}) > 0
    finally:
        await dispatcher.stop(2.0)
        await services.close()


async def _noisy_runs_at_least(database, expected: int) -> bool:
    return await database.handler_runs.count_documents({"workspace_id": "ws-noisy"}) >= expected


async def test_busy_object_does_not_block_workspace(open_dispatcher):
    async with open_dispatcher(HANDLER_MODULES="tests.handlers.counting") as (services, _):
        database = services.database
        item = {"type": "conversation", "id": "busy", "sleep_seconds": 0.05}
        backlog = [make_body("conversation.user.replied", item) for _ in range(300)]
        other = make_body("contact.user.created", {"type": "contact", "id": "someone-else"})
        [*_, contact] = await store_notifications(database, [*backlog, other])

        await wait_for(lambda: database.handler_runs.find_one({"notification_id": contact["notification_id"]}))
        parked = await database.notifications.count_documents({"parked_on": "conversation:busy"})

        # The worker leaves the busy conversation out of its leases instead of parking its whole
        # backlog, one notification at a time, before it reaches the contact.
        assert parked < 50
