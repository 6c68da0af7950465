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


async def post_inbox_canvas(server, kind: str, **fields) -> list[dict]:
    """Post a signed Inbox canvas request about contact c0 in conversation v0; return its components."""
    body = json.loads((INTERCOM_FIXTURES / f"canvas.inbox.{kind}.request.json").read_bytes())
    contact_id = f"{TEST_WORKSPACE_ID}-c0"
    body["contact"]["id"] = contact_id
    body["conversation"]["id"] = f"{TEST_WORKSPACE_ID}-v0"
    body["conversation"]["contacts"]["contacts"] = [{"type": "contact", "id": contact_id}]
    body.update(fields)
    raw = json.dumps(body).encode()

    response = await server.client.post(
        f"/intercom/default/canvas/inbox/{kind}", content=raw,
        headers={"X-Body-Signature": sign_body(raw, TEST_CLIENT_SECRET), "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    return response.json()["canvas"]["content"]["components"]


async def wait_for_processed(server, workspace_id: str) -> None:
    for _ in range(250):
        if not await server.database.notifications.count_documents(
            {"workspace_id": workspace_id, "status": {"$in": ["pending", "processing"]}}
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the dispatcher did not process the backfilled notifications within 5 s")


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

    # The dispatcher projects them, so the Inbox canvas shows the contact's backfilled ticket.
    await wait_for_processed(server, TEST_WORKSPACE_ID)
    components = await post_inbox_canvas(server, "initialize")
    items = [item["id"] for component in components if component["type"] == "list" for item in component["items"]]
    assert f"ticket:{TEST_WORKSPACE_ID}-t0" in items
    assert f"conversation:{TEST_WORKSPACE_ID}-v0" in items

    # "Add summary as note" posts through the EU host, like every call after the install.
    result = await post_inbox_canvas(server, "submit", component_id="add_note")
    assert "Summary added as a note." in [c.get("text") for c in result]
    assert fake.notes[0]["conversation_id"] == f"{TEST_WORKSPACE_ID}-v0"
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
    rejected = await post_inbox_canvas(server, "submit", component_id="add_note")
    assert any("install it again" in (c.get("text") or "") for c in rejected)
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
