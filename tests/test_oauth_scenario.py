"""An EU workspace from install to uninstall, and a search of every log line for secrets."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from oauth.errors import InstallationInactive
from oauth.fake_intercom import FakeWorkspace
from oauth.signing import sign_body
from oauth.testing import run_install, running_fake_intercom
from tests.conftest import INTERCOM_FIXTURES, TEST_CLIENT_SECRET, TEST_ENCRYPTION_KEY, TEST_WORKSPACE_ID

CLIENT_ID = "test-client-id"
SIGNATURES = json.loads((INTERCOM_FIXTURES / "signatures.json").read_text())["files"]
TENANT_COLLECTIONS = ("tickets", "conversations", "contacts", "activity", "notifications")


@pytest.fixture
async def intercom():
    async with running_fake_intercom({CLIENT_ID: TEST_CLIENT_SECRET}) as servers:
        servers.fake.add_workspace(FakeWorkspace(TEST_WORKSPACE_ID, "Dublin shop", region="EU"))
        servers.fake.seed(TEST_WORKSPACE_ID, tickets=4, conversations=3)
        yield servers


async def database_text(database) -> str:
    """Return every document of every collection as one string, binary bodies decoded."""
    parts = []
    for name in await database.list_collection_names():
        async for document in database[name].find({}):
            parts.append(json.dumps(document, default=lambda value: bytes(value).decode("utf-8", "replace")
                                    if isinstance(value, (bytes, bytearray)) else str(value)))
    return "\n".join(parts)


async def wait_for_backfill(server, workspace_id: str) -> dict:
    for _ in range(250):
        installation = await server.database.installations.find_one({"workspace_id": workspace_id})
        if (installation.get("backfill") or {}).get("status") in ("done", "failed"):
            return installation
        await asyncio.sleep(0.02)
    raise AssertionError("backfill did not finish within 5 s")


async def test_eu_workspace_install_to_uninstall(start_server, intercom):
    server = await start_server(**intercom.settings())
    fake = intercom.fake

    result = await run_install(server.url)
    assert result.success, result.message

    # The token is stored encrypted: the raw value appears nowhere in the database.
    token = fake.tokens_of(TEST_WORKSPACE_ID)[0]
    installation = await wait_for_backfill(server, TEST_WORKSPACE_ID)
    assert installation["region"] == "EU"
    assert server.services.cipher.decrypt(installation["token_encrypted"]) == token
    assert token not in await database_text(server.database)

    # Backfill stored every ticket, conversation and contact for the dispatcher to project.
    assert installation["backfill"]["status"] == "done"
    assert installation["backfill"]["counts"] == {"tickets": 4, "conversations": 3, "contacts": 4}
    stored = server.database.notifications.find({"app": "default", "workspace_id": TEST_WORKSPACE_ID})
    topics = sorted([doc["topic"] async for doc in stored])
    assert topics == ["contact.user.created"] * 4 + ["conversation.user.created"] * 3 + ["ticket.created"] * 4
    if server.services.handlers.handlers_for("ticket.created"):
        contact_id = f"{TEST_WORKSPACE_ID}-c0"
        for _ in range(250):
            tickets, total = await server.services.reader.tickets("default", TEST_WORKSPACE_ID, contact_id)
            if total:
                break
            await asyncio.sleep(0.02)
        assert total == 1

    # Every call for the workspace after the install went to the EU host.
    await server.services.intercom_api.add_note("default", TEST_WORKSPACE_ID, f"{TEST_WORKSPACE_ID}-v0", "<p>Summary</p>")
    install_calls = {"/auth/eagle/token", "/me"}
    later = [call for call in fake.calls if call.path not in install_calls]
    assert later
    assert {call.region for call in later} == {"EU"}

    # After Intercom's uninstall notification the token is gone and no call is made.
    body = (INTERCOM_FIXTURES / "lifecycle.uninstall.json").read_bytes()
    response = await server.client.post(
        "/intercom/default/uninstall", content=body,
        headers={"X-Body-Signature": SIGNATURES["lifecycle.uninstall.json"]["value"], "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    installation = await server.database.installations.find_one({"workspace_id": TEST_WORKSPACE_ID})
    assert installation["status"] == "uninstalled"
    assert installation["token_encrypted"] is None
    calls_before = len(fake.calls)
    with pytest.raises(InstallationInactive):
        await server.services.intercom_api.add_note("default", TEST_WORKSPACE_ID, f"{TEST_WORKSPACE_ID}-v0", "<p>x</p>")
    health_body = json.dumps({"workspace_id": TEST_WORKSPACE_ID}).encode()
    health = await server.client.post("/intercom/default/health-check", content=health_body,
                                      headers={"X-Body-Signature": sign_body(health_body, TEST_CLIENT_SECRET)})
    assert health.json()["state"] == "UNHEALTHY"
    assert len(fake.calls) == calls_before


async def test_logs_hold_no_secrets(start_server, intercom, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    server = await start_server(**intercom.settings())
    fake = intercom.fake
    responses = []

    result = await run_install(server.url)
    responses.append(result.callback)
    await wait_for_backfill(server, TEST_WORKSPACE_ID)
    fake.token_reply_override = (401, {"type": "error.list", "errors": [{"code": "unauthorized", "message": "Unauthorized Code"}]})
    failed = await run_install(server.url)
    responses.append(failed.callback)
    fake.token_reply_override = None
    await server.services.intercom_api.add_note("default", TEST_WORKSPACE_ID, f"{TEST_WORKSPACE_ID}-v0", "<p>Summary</p>")
    tokens = fake.tokens_of(TEST_WORKSPACE_ID)
    fake.revoke_tokens(TEST_WORKSPACE_ID)
    with pytest.raises(Exception) as raised:
        await server.services.intercom_api.add_note("default", TEST_WORKSPACE_ID, f"{TEST_WORKSPACE_ID}-v0", "<p>x</p>")
    bad = await server.client.post("/intercom/default/uninstall", content=b"{}", headers={"X-Body-Signature": "a" * 64})
    responses.append(bad)
    await server.stop()

    captured = capsys.readouterr()
    text = "\n".join([captured.out, captured.err, caplog.text, str(raised.value)]
                     + [f"{r.status_code} {r.headers} {r.text}" for r in responses])
    codes = [result.callback.request.url.params["code"], failed.callback.request.url.params["code"]]
    secrets = [TEST_CLIENT_SECRET, TEST_ENCRYPTION_KEY, *codes, *tokens]
    assert tokens
    assert "install.finished" in text  # the logs were captured
    assert "intercom_api.unauthorized" in text
    for secret in secrets:
        assert secret not in text
    assert "fake_tok_" not in text
