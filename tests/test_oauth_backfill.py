"""Backfill: paging, synthetic notifications, resume after an interrupted run, rate limits."""

from __future__ import annotations

import asyncio
import json

import pytest

from oauth.errors import IntercomApiError
from oauth.fake_intercom import FakeWorkspace
from oauth.testing import run_install, running_fake_intercom
from tests.conftest import TEST_CLIENT_SECRET

CLIENT_ID = "test-client-id"
WORKSPACE = "wsfill001"


@pytest.fixture
async def intercom():
    async with running_fake_intercom({CLIENT_ID: TEST_CLIENT_SECRET}) as servers:
        servers.fake.add_workspace(FakeWorkspace(WORKSPACE, "Fill shop", region="AU"))
        servers.fake.seed(WORKSPACE, tickets=5, conversations=3)
        yield servers


@pytest.fixture
async def server(start_server, intercom):
    server = await start_server(**intercom.settings(), BACKFILL_ON_INSTALL=False, BACKFILL_PAGE_SIZE=2)
    assert (await run_install(server.url)).success
    intercom.fake.calls.clear()
    return server


async def notifications(server) -> list[dict]:
    return [doc async for doc in server.database.notifications.find({"app": "default", "workspace_id": WORKSPACE})]


async def test_backfill_stores_synthetic_notifications(server, intercom):
    counts = await server.services.intercom_api.backfill.run("default", WORKSPACE)

    assert counts == {"tickets": 5, "conversations": 3, "contacts": 5}
    stored = await notifications(server)
    topics = sorted(doc["topic"] for doc in stored)
    assert topics == ["contact.user.created"] * 5 + ["conversation.user.created"] * 3 + ["ticket.created"] * 5
    ticket = next(doc for doc in stored if doc["topic"] == "ticket.created")
    envelope = json.loads(ticket["body"])
    item = envelope["data"]["item"]
    assert envelope["type"] == "notification_event"
    assert envelope["app_id"] == WORKSPACE
    assert envelope["id"] == ticket["notification_id"] == f"backfill:ticket:{item['id']}:{item['updated_at']}"
    assert envelope["created_at"] == item["updated_at"]
    assert ticket["status"] in ("pending", "processing", "done")
    assert ticket["order_key"] == f"ticket:{item['id']}"
    assert ticket["created_at"].timestamp() == item["updated_at"]
    assert {call.region for call in intercom.fake.calls} == {"AU"}


async def test_backfill_records_progress_status(server):
    seen: list[tuple[str, int, int | None]] = []

    await server.services.intercom_api.backfill.run("default", WORKSPACE, progress=lambda *step: seen.append(step))

    installation = await server.database.installations.find_one({"workspace_id": WORKSPACE})
    assert installation["backfill"]["status"] == "done"
    assert installation["backfill"]["phase"] == "done"
    assert installation["backfill"]["finished_at"] is not None
    assert seen[:3] == [("tickets", 2, 5), ("tickets", 4, 5), ("tickets", 5, 5)]
    assert seen[-1] == ("contacts", 5, 5)


async def test_backfill_resumes_after_api_failure(server, intercom):
    backfill = server.services.intercom_api.backfill
    original = intercom.fake.app.view_functions["search_tickets"]
    pages = 0

    async def fail_after_first_page():
        nonlocal pages
        pages += 1
        if pages >= 2:
            raise RuntimeError("simulated outage")
        return await original()

    intercom.fake.app.view_functions["search_tickets"] = fail_after_first_page
    with pytest.raises(IntercomApiError, match="returned 500"):
        await backfill.run("default", WORKSPACE)
    failed = (await server.database.installations.find_one({"workspace_id": WORKSPACE}))["backfill"]
    assert failed["status"] == "failed"
    assert failed["phase"] == "tickets"
    assert failed["cursor"] is not None
    assert "returned 500" in failed["error"]
    assert len(await notifications(server)) == 2

    intercom.fake.app.view_functions["search_tickets"] = original
    counts = await backfill.run("default", WORKSPACE)

    assert counts == {"tickets": 5, "conversations": 3, "contacts": 5}
    assert len(await notifications(server)) == 13
    # The failed attempts never reached the recording view. The resumed run starts at the
    # checkpoint, so the first page is fetched once and pages two and three once each.
    assert len(intercom.fake.calls_to("/tickets/search")) == 3


async def test_backfill_resumes_after_cancelled_run(server, intercom):
    backfill = server.services.intercom_api.backfill
    task: asyncio.Task | None = None

    def stop_after_first_page(phase: str, done: int, total: int | None) -> None:
        if phase == "conversations":
            task.cancel()

    task = asyncio.create_task(backfill.run("default", WORKSPACE, progress=stop_after_first_page))
    with pytest.raises(asyncio.CancelledError):
        await task
    interrupted = (await server.database.installations.find_one({"workspace_id": WORKSPACE}))["backfill"]
    assert interrupted["status"] == "running"
    assert interrupted["phase"] == "conversations"
    assert interrupted["counts"]["tickets"] == 5

    counts = await backfill.run("default", WORKSPACE)

    assert counts == {"tickets": 5, "conversations": 3, "contacts": 5}
    assert len(await notifications(server)) == 13
    assert len(intercom.fake.calls_to("/tickets/search")) == 3


async def test_backfill_waits_through_rate_limit(server, intercom):
    intercom.fake.fail_next = [(429, 0.2)]

    counts = await server.services.intercom_api.backfill.run("default", WORKSPACE)

    assert counts["tickets"] == 5
    assert len(await notifications(server)) == 13


async def test_backfill_rerun_adds_no_duplicates(server):
    backfill = server.services.intercom_api.backfill
    await backfill.run("default", WORKSPACE)

    await backfill.run("default", WORKSPACE)

    assert len(await notifications(server)) == 13


async def test_backfill_starts_on_install(start_server, intercom):
    server = await start_server(**intercom.settings(), BACKFILL_PAGE_SIZE=50)

    assert (await run_install(server.url)).success

    for _ in range(200):
        installation = await server.database.installations.find_one({"workspace_id": WORKSPACE})
        if (installation.get("backfill") or {}).get("status") == "done":
            break
        await asyncio.sleep(0.02)
    assert installation["backfill"]["status"] == "done"
    assert len(await notifications(server)) == 13


async def test_backfill_resumes_on_service_start(start_server, server, intercom):
    backfill = server.services.intercom_api.backfill
    task: asyncio.Task | None = None

    def stop_in_conversations(phase: str, done: int, total: int | None) -> None:
        if phase == "conversations":
            task.cancel()

    task = asyncio.create_task(backfill.run("default", WORKSPACE, progress=stop_in_conversations))
    with pytest.raises(asyncio.CancelledError):
        await task
    await server.stop()

    restarted = await start_server(**intercom.settings(), BACKFILL_ON_INSTALL=False, BACKFILL_PAGE_SIZE=2,
                                   MONGODB_DATABASE=server.settings.MONGODB_DATABASE)

    for _ in range(250):
        installation = await restarted.database.installations.find_one({"workspace_id": WORKSPACE})
        if installation["backfill"]["status"] == "done":
            break
        await asyncio.sleep(0.02)
    assert installation["backfill"]["status"] == "done"
    assert len(await notifications(restarted)) == 13
