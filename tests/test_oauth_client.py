"""The per-installation API client: region hosts, version header, rate limits, retries, notes."""

from __future__ import annotations

import asyncio
import time

import pytest

from oauth.errors import IntercomApiError
from oauth.fake_intercom import FakeWorkspace
from oauth.ratelimit import RateLimiter
from oauth.testing import run_install, running_fake_intercom
from tests.conftest import TEST_CLIENT_SECRET

CLIENT_ID = "test-client-id"


@pytest.fixture
async def intercom():
    async with running_fake_intercom({CLIENT_ID: TEST_CLIENT_SECRET}) as servers:
        for workspace_id, region in (("wsus0001", "US"), ("wseu0001", "EU"), ("wsau0001", "AU")):
            servers.fake.add_workspace(FakeWorkspace(workspace_id, f"Shop {region}", region=region))
            servers.fake.seed(workspace_id, tickets=1, conversations=1)
        yield servers


@pytest.fixture
async def server(start_server, intercom):
    server = await start_server(**intercom.settings(), BACKFILL_ON_INSTALL=False, INTERCOM_API_VERSION="2.14")
    for workspace in intercom.fake.workspaces.values():
        assert (await run_install(server.url, workspace=workspace)).success
    intercom.fake.calls.clear()
    return server


@pytest.mark.parametrize("region", ["US", "EU", "AU"])
async def test_calls_go_to_region_host(server, intercom, region):
    workspace_id = f"ws{region.lower()}0001"

    await server.services.intercom_api.add_note("default", workspace_id, f"{workspace_id}-v0", "<p>Summary</p>")

    assert [(call.region, call.path) for call in intercom.fake.calls] == [(region, f"/conversations/{workspace_id}-v0/reply")]
    assert intercom.fake.calls[0].api_version == "2.14"
    note = intercom.fake.notes[0]
    assert note["message_type"] == "note"
    assert note["admin_id"] == intercom.fake.workspaces[workspace_id].admin_id
    assert note["body"] == "<p>Summary</p>"


async def test_add_note_unknown_conversation(server):
    with pytest.raises(IntercomApiError) as raised:
        await server.services.intercom_api.add_note("default", "wsus0001", "missing", "<p>x</p>")

    assert str(raised.value) == "Intercom's API returned 404: Conversation Not Found"
    assert raised.value.status == 404


async def test_add_note_not_installed(server):
    with pytest.raises(IntercomApiError, match="not installed in workspace wsnone01"):
        await server.services.intercom_api.add_note("default", "wsnone01", "1", "<p>x</p>")


async def test_429_waits_until_reset(server, intercom):
    intercom.fake.fail_next = [(429, 1.0)]
    client = await server.services.intercom_api.client_for("default", "wsus0001")

    started = time.monotonic()
    me = await client.me()
    waited = time.monotonic() - started

    assert me["app"]["id_code"] == "wsus0001"
    assert len(intercom.fake.calls_to("/me")) == 2
    # X-RateLimit-Reset is whole Unix seconds, so the wait ends at the next second boundary.
    assert 0.0 < waited < 2.5


async def test_429_beyond_wait_limit_fails(start_server, intercom):
    server = await start_server(**intercom.settings(), BACKFILL_ON_INSTALL=False,
                                INTERCOM_API_MAX_RATE_LIMIT_WAIT_SECONDS=1.0)
    assert (await run_install(server.url, workspace=intercom.fake.workspaces["wsus0001"])).success
    intercom.fake.fail_next = [(429, 30.0)]
    client = await server.services.intercom_api.client_for("default", "wsus0001")

    with pytest.raises(IntercomApiError, match="rate limit"):
        await client.me()


async def test_5xx_retried_with_backoff(server, intercom):
    intercom.fake.fail_next = [(500, 0), (503, 0)]
    client = await server.services.intercom_api.client_for("default", "wseu0001")

    me = await client.me()

    assert me["app"]["region"] == "EU"
    assert len(intercom.fake.calls_to("/me")) == 3


async def test_5xx_gives_up_after_retries(server, intercom):
    intercom.fake.fail_next = [(502, 0)] * 10
    client = await server.services.intercom_api.client_for("default", "wseu0001")

    with pytest.raises(IntercomApiError, match="returned 502"):
        await client.me()

    assert len(intercom.fake.calls_to("/me")) == server.settings.INTERCOM_API_MAX_RETRIES + 1


async def test_api_metrics_count_calls(server, intercom):
    intercom.fake.fail_next = [(429, 0)]
    client = await server.services.intercom_api.client_for("default", "wsau0001")
    await client.me()

    metrics = (await server.client.get("/metrics")).text

    assert 'intercom_api_calls_total{app="default",region="AU",status="200"}' in metrics
    assert 'intercom_api_rate_limited_total{app="default"}' in metrics


async def test_limiter_waits_for_workspace_window():
    now = [1000.0]
    limiter = RateLimiter(app_calls_per_minute=10_000, concurrency_per_workspace=2, max_wait_seconds=5, clock=lambda: now[0])
    limiter.observe("default", "ws1", {"x-ratelimit-limit": "3", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000.05"})

    assert limiter.seconds_until_reset("default", "ws1") == pytest.approx(0.05)
    assert limiter.seconds_until_reset("default", "ws2") == 0.0


async def test_limiter_rejects_too_long_wait():
    limiter = RateLimiter(app_calls_per_minute=10_000, concurrency_per_workspace=2, max_wait_seconds=1)
    limiter.exhaust("default", "ws1", time.time() + 60)

    with pytest.raises(Exception, match="longer than"):
        async with limiter.slot("default", "ws1"):
            pass


async def test_limiter_busy_workspace_not_blocking():
    limiter = RateLimiter(app_calls_per_minute=10_000, concurrency_per_workspace=1, max_wait_seconds=30)
    finished: list[str] = []

    async def call(workspace: str) -> None:
        async with limiter.slot("default", workspace):
            await asyncio.sleep(0.05)
        finished.append(workspace)

    noisy = [asyncio.create_task(call("noisy")) for _ in range(5)]
    await asyncio.sleep(0)
    quiet = asyncio.create_task(call("quiet"))
    await asyncio.gather(*noisy, quiet)

    assert finished.index("quiet") <= 1
    assert finished.count("noisy") == 5


async def test_note_not_resent_after_5xx(server, intercom):
    intercom.fake.fail_next = [(502, 0)]

    with pytest.raises(IntercomApiError, match="returned 502"):
        await server.services.intercom_api.add_note("default", "wsus0001", "wsus0001-v0", "<p>once</p>")

    assert len(intercom.fake.calls_to("/conversations/wsus0001-v0/reply")) == 1
    assert intercom.fake.notes == []


async def test_note_resent_after_429(server, intercom):
    intercom.fake.fail_next = [(429, 0)]

    await server.services.intercom_api.add_note("default", "wsus0001", "wsus0001-v0", "<p>after wait</p>")

    assert len(intercom.fake.calls_to("/conversations/wsus0001-v0/reply")) == 2
    assert len(intercom.fake.notes) == 1
