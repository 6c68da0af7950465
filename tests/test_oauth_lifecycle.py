"""Uninstall through each signal, the health check, and the purge after retention."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from oauth.errors import InstallationInactive
from oauth.fake_intercom import FakeWorkspace
from oauth.signing import sign_body
from oauth.testing import run_install, running_fake_intercom
from oauth.throttle import ThrottledLog
from tests.conftest import INTERCOM_FIXTURES, TEST_CLIENT_SECRET, TEST_WORKSPACE_ID

CLIENT_ID = "test-client-id"
UNINSTALL_BODY = (INTERCOM_FIXTURES / "lifecycle.uninstall.json").read_bytes()
SIGNATURES = json.loads((INTERCOM_FIXTURES / "signatures.json").read_text())["files"]


@pytest.fixture
async def intercom():
    async with running_fake_intercom({CLIENT_ID: TEST_CLIENT_SECRET}) as servers:
        servers.fake.add_workspace(FakeWorkspace(TEST_WORKSPACE_ID, "Fixture shop", region="EU"))
        servers.fake.seed(TEST_WORKSPACE_ID, tickets=2, conversations=2)
        yield servers


@pytest.fixture
async def server(start_server, intercom):
    server = await start_server(**intercom.settings(), BACKFILL_ON_INSTALL=False, HEALTH_CHECK_BUDGET_SECONDS=0.3)
    assert (await run_install(server.url)).success
    return server


async def installation(server):
    return await server.database.installations.find_one({"app": "default", "workspace_id": TEST_WORKSPACE_ID})


async def post_signed(server, path: str, body: bytes, secret: str = TEST_CLIENT_SECRET):
    return await server.client.post(
        path, content=body, headers={"X-Body-Signature": sign_body(body, secret), "Content-Type": "application/json"}
    )


async def test_uninstall_fixture_marks_uninstalled(server, intercom):
    signature = SIGNATURES["lifecycle.uninstall.json"]["value"]

    response = await server.client.post(
        "/intercom/default/uninstall", content=UNINSTALL_BODY,
        headers={"X-Body-Signature": signature, "Content-Type": "application/json"},
    )

    assert response.status_code == 200
    stored = await installation(server)
    assert stored["status"] == "uninstalled"
    assert stored["token_encrypted"] is None
    assert stored["purge_after"] > datetime.now(UTC) + timedelta(days=29)
    calls_before = len(intercom.fake.calls)
    with pytest.raises(InstallationInactive, match="install it again"):
        await server.services.intercom_api.add_note("default", TEST_WORKSPACE_ID, f"{TEST_WORKSPACE_ID}-v0", "<p>hi</p>")
    assert len(intercom.fake.calls) == calls_before


async def test_uninstall_rejects_bad_signature(server):
    response = await server.client.post(
        "/intercom/default/uninstall", content=UNINSTALL_BODY, headers={"X-Body-Signature": "0" * 64}
    )

    assert response.status_code == 401
    assert "X-Body-Signature" in response.json()["error"]
    assert (await installation(server))["status"] == "active"


async def test_uninstall_rejects_missing_signature(server):
    response = await server.client.post("/intercom/default/uninstall", content=UNINSTALL_BODY)

    assert response.status_code == 401
    assert response.json()["error"] == "X-Body-Signature header is missing"


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b"not json", "not valid JSON"), (b"[1]", "JSON object"), (b'{"app_id": 5}', "`app_id`")],
)
async def test_uninstall_rejects_bad_body(server, body, expected):
    response = await post_signed(server, "/intercom/default/uninstall", body)

    assert response.status_code == 400
    assert expected in response.json()["error"]
    assert (await installation(server))["status"] == "active"


async def test_uninstall_unknown_workspace_answers_ok(server):
    response = await post_signed(server, "/intercom/default/uninstall", b'{"app_id":"wsunknown"}')

    assert response.status_code == 200
    assert (await installation(server))["status"] == "active"


async def test_revoke_calls_intercom_uninstall(server, intercom):
    api = server.services.intercom_api

    await api.revoke("default", TEST_WORKSPACE_ID)

    assert [call.path for call in intercom.fake.calls_to("/auth/uninstall")] == ["/auth/uninstall"]
    assert intercom.fake.tokens_of(TEST_WORKSPACE_ID) == []
    stored = await installation(server)
    assert stored["status"] == "revoked"
    assert stored["token_encrypted"] is None


async def test_api_401_revokes_installation(server, intercom):
    intercom.fake.revoke_tokens(TEST_WORKSPACE_ID)
    api = server.services.intercom_api

    with pytest.raises(Exception, match="install the app again"):
        await api.add_note("default", TEST_WORKSPACE_ID, f"{TEST_WORKSPACE_ID}-v0", "<p>hi</p>")

    stored = await installation(server)
    assert stored["status"] == "revoked"
    assert stored["uninstall_reason"] == "api_401"
    assert stored["token_encrypted"] is None
    calls_before = len(intercom.fake.calls)
    with pytest.raises(InstallationInactive):
        await api.add_note("default", TEST_WORKSPACE_ID, f"{TEST_WORKSPACE_ID}-v0", "<p>again</p>")
    assert len(intercom.fake.calls) == calls_before


async def health(server, workspace_id: str = TEST_WORKSPACE_ID):
    body = json.dumps({"workspace_id": workspace_id}).encode()
    return await post_signed(server, "/intercom/default/health-check", body)


async def test_health_check_active_ok(server, intercom):
    response = await health(server)

    assert response.status_code == 200
    assert response.json() == {"state": "OK"}
    assert len(intercom.fake.calls_to("/me")) == 2  # the install's and the check's


async def test_health_check_uninstalled_unhealthy(server):
    await post_signed(server, "/intercom/default/uninstall", UNINSTALL_BODY)

    answer = (await health(server)).json()

    assert answer["state"] == "UNHEALTHY"
    assert "uninstalled" in answer["message"]
    assert answer["cta_type"] == "URL_CTA"
    assert answer["cta_url"] == f"{server.url}/intercom/default/install"


async def test_health_check_revoked_token_unhealthy(server, intercom):
    intercom.fake.revoke_tokens(TEST_WORKSPACE_ID)

    answer = (await health(server)).json()

    assert answer["state"] == "UNHEALTHY"
    assert "install the app again" in answer["message"]
    assert (await installation(server))["status"] == "revoked"
    assert (await health(server)).json()["state"] == "UNHEALTHY"


async def test_health_check_slow_api_unknown(server, intercom):
    intercom.fake.me_delay_seconds = 1.0

    started = time.monotonic()
    answer = (await health(server)).json()

    assert time.monotonic() - started < 1.0
    assert answer == {"state": "UNKNOWN"}


async def test_health_check_api_down_unknown(server, intercom):
    intercom.fake.fail_next = [(503, 0)] * 10

    answer = (await health(server)).json()

    assert answer == {"state": "UNKNOWN"}
    intercom.fake.fail_next = []
    assert (await health(server)).json() == {"state": "OK"}


async def test_health_check_caches_ok(server, intercom):
    assert (await health(server)).json() == {"state": "OK"}
    calls = len(intercom.fake.calls_to("/me"))

    assert (await health(server)).json() == {"state": "OK"}

    assert len(intercom.fake.calls_to("/me")) == calls


async def test_health_check_unknown_workspace(server):
    answer = (await health(server, "wsnever01")).json()

    assert answer["state"] == "UNHEALTHY"
    assert answer["cta_url"].endswith("/intercom/default/install")


async def test_health_check_bad_signature(server):
    response = await server.client.post(
        "/intercom/default/health-check", content=b'{"workspace_id":"x"}', headers={"X-Body-Signature": "zz"}
    )

    assert response.status_code == 401
    assert "64 hex characters" in response.json()["error"]


async def test_purge_deletes_workspace_data(server):
    database = server.database
    for name in ("tickets", "conversations", "contacts", "activity", "notifications"):
        await database[name].insert_one({"app": "default", "workspace_id": TEST_WORKSPACE_ID, "x": 1})
        await database[name].insert_one({"app": "default", "workspace_id": "wsother01", "x": 1})
    await post_signed(server, "/intercom/default/uninstall", UNINSTALL_BODY)
    installations = server.services.intercom_api.installations

    assert await installations.purge_due() == []
    purged = await installations.purge_due(now=datetime.now(UTC) + timedelta(days=31))

    assert purged == [("default", TEST_WORKSPACE_ID)]
    for name in ("tickets", "conversations", "contacts", "activity", "notifications"):
        assert await database[name].count_documents({"workspace_id": TEST_WORKSPACE_ID}) == 0
        assert await database[name].count_documents({"workspace_id": "wsother01"}) == 1
    assert (await installation(server))["purged_at"] is not None
    assert await installations.purge_due(now=datetime.now(UTC) + timedelta(days=31)) == []


def test_throttled_log_counts_dropped():
    now = [0.0]
    throttled = ThrottledLog("signature.rejected", interval_seconds=10, clock=lambda: now[0])

    with structlog.testing.capture_logs() as events:
        logged = [throttled.warning("key", reason="bad") for _ in range(5)]
        now[0] = 11.0
        logged.append(throttled.warning("key", reason="bad"))
        logged.append(throttled.warning("other", reason="bad"))

    assert logged == [True, False, False, False, False, True, True]
    assert [event["event"] for event in events] == ["signature.rejected"] * 3
    assert events[1]["suppressed_since_last"] == 4
    assert "suppressed_since_last" not in events[2]
