"""Install flow over real HTTP against the fake Intercom: state checks, token errors, regions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from oauth.fake_intercom import FakeWorkspace
from oauth.testing import run_install, running_fake_intercom
from tests.conftest import TEST_CLIENT_SECRET

CLIENT_ID = "test-client-id"


@pytest.fixture
async def intercom():
    async with running_fake_intercom({CLIENT_ID: TEST_CLIENT_SECRET}) as servers:
        yield servers


@pytest.fixture
async def server(start_server, intercom):
    return await start_server(**intercom.settings(), BACKFILL_ON_INSTALL=False)


def add_workspace(intercom, workspace_id: str, region: str) -> FakeWorkspace:
    return intercom.fake.add_workspace(FakeWorkspace(workspace_id, f"Shop {workspace_id}", region=region))


@pytest.mark.parametrize("region", ["US", "EU", "AU"])
async def test_install_stores_region_workspace(server, intercom, region):
    workspace = add_workspace(intercom, f"ws{region.lower()}0001", region)

    result = await run_install(server.url, workspace=workspace)

    assert result.success, result.message
    assert result.callback.headers["location"].startswith(f"{intercom.urls['US']}/appstore/redirect")
    stored = await server.database.installations.find_one({"app": "default", "workspace_id": workspace.workspace_id})
    assert stored["status"] == "active"
    assert stored["region"] == region
    assert stored["workspace_name"] == workspace.name
    assert stored["admin"] == {"id": workspace.admin_id, "name": workspace.admin_name, "email": workspace.admin_email}
    assert stored["api_base_url"] == intercom.urls[region]
    token = intercom.fake.tokens_of(workspace.workspace_id)[0]
    assert server.services.cipher.decrypt(stored["token_encrypted"]) == token
    assert token not in str(stored)


async def test_install_sets_strict_state_cookie(server, intercom):
    add_workspace(intercom, "wscookie1", "US")

    response = await server.client.get("/intercom/default/install")

    assert response.status_code == 302
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{server.url}/intercom/default/oauth/callback"]
    assert await server.database.oauth_states.count_documents({"state": query["state"][0]}) == 1


async def test_install_cookie_secure_over_https(start_server, intercom):
    server = await start_server(**intercom.settings(), PUBLIC_URL="https://apps.example.com")

    response = await server.client.get("/intercom/default/install")

    assert "Secure" in response.headers["set-cookie"]


async def test_install_unknown_app_page(server):
    response = await server.client.get("/intercom/nope/install")

    assert response.status_code == 404
    assert "nope" in response.text


async def _authorized_callback(server, intercom) -> str:
    """Start an install in the server's client and return the callback URL Intercom sends back."""
    started = await server.client.get("/intercom/default/install")
    async with httpx.AsyncClient() as browser:
        approved = await browser.get(started.headers["location"])
    return approved.headers["location"]


async def test_callback_rejects_reused_state(server, intercom):
    add_workspace(intercom, "wsreuse01", "US")
    callback_url = await _authorized_callback(server, intercom)
    first = await server.client.get(callback_url)
    assert first.status_code == 302
    server.client.cookies.set("intercom_oauth_state", parse_qs(urlparse(callback_url).query)["state"][0])
    before = await server.database.installations.find_one({"workspace_id": "wsreuse01"})

    again = await server.client.get(callback_url)

    assert again.status_code == 400
    assert "already used or has expired" in again.text
    assert await server.database.installations.find_one({"workspace_id": "wsreuse01"}) == before


async def test_callback_rejects_forged_state(server, intercom):
    add_workspace(intercom, "wsforge01", "US")
    callback_url = await _authorized_callback(server, intercom)
    forged = callback_url.replace("state=", "state=forged")

    response = await server.client.get(forged)

    assert response.status_code == 400
    assert "does not match" in response.text
    assert await server.database.installations.count_documents({}) == 0
    assert await server.database.oauth_states.count_documents({}) == 1


async def test_callback_rejects_missing_cookie(server, intercom):
    add_workspace(intercom, "wsnocook1", "US")
    callback_url = await _authorized_callback(server, intercom)
    server.client.cookies.clear()

    response = await server.client.get(callback_url)

    assert response.status_code == 400
    assert "cookie is missing" in response.text
    assert await server.database.installations.count_documents({}) == 0


async def test_callback_rejects_expired_state(server, intercom):
    add_workspace(intercom, "wsexpire1", "US")
    callback_url = await _authorized_callback(server, intercom)
    state = await server.database.oauth_states.find_one_and_delete({})
    state["created_at"] = datetime.now(UTC) - timedelta(minutes=11)
    await server.database.oauth_states.insert_one(state)

    response = await server.client.get(callback_url)

    assert response.status_code == 400
    assert "expired after 10 minutes" in response.text
    assert await server.database.installations.count_documents({}) == 0


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"type": "error.list", "errors": [{"code": "unauthorized", "message": "Unauthorized Code"}]}, "Unauthorized Code"),
        (200, {"type": "error.list", "errors": [{"code": "parameter_invalid", "message": "Bad client"}]}, "Bad client"),
        (500, {}, "status 500"),
        (200, {"token_type": "Bearer"}, "neither `token` nor `access_token`"),
    ],
)
async def test_token_error_fails_install(server, intercom, status, body, expected):
    add_workspace(intercom, "wstokerr1", "US")
    intercom.fake.token_reply_override = (status, body)

    result = await run_install(server.url)

    assert not result.success
    location = result.callback.headers["location"]
    query = parse_qs(urlparse(location).query)
    assert query["install_success"] == ["false"]
    assert expected in query["error_message"][0]
    assert await server.database.installations.count_documents({}) == 0


async def test_token_reply_without_access_token(server, intercom):
    workspace = add_workspace(intercom, "wsshape01", "US")
    token = intercom.fake.issue_token(workspace.workspace_id)
    intercom.fake.token_reply_override = (200, {"token_type": "Bearer", "token": token})

    result = await run_install(server.url)

    assert result.success, result.message
    stored = await server.database.installations.find_one({"workspace_id": "wsshape01"})
    assert server.services.cipher.decrypt(stored["token_encrypted"]) == token


async def test_expired_code_fails_install(server, intercom):
    add_workspace(intercom, "wscode001", "US")
    callback_url = await _authorized_callback(server, intercom)
    intercom.fake.expire_codes()

    response = await server.client.get(callback_url)

    assert "install_success=false" in response.headers["location"]
    assert "expired" in parse_qs(urlparse(response.headers["location"]).query)["error_message"][0]


async def test_reinstall_replaces_token_keeps_data(server, intercom):
    workspace = add_workspace(intercom, "wsagain01", "EU")
    assert (await run_install(server.url, workspace=workspace)).success
    first = await server.database.installations.find_one({"workspace_id": "wsagain01"})
    await server.database.tickets.insert_one({"app": "default", "workspace_id": "wsagain01", "ticket_id": "1"})

    assert (await run_install(server.url, workspace=workspace)).success

    second = await server.database.installations.find_one({"workspace_id": "wsagain01"})
    assert second["_id"] == first["_id"]
    assert second["token_encrypted"] != first["token_encrypted"]
    tokens = intercom.fake.tokens_of("wsagain01")
    assert server.services.cipher.decrypt(second["token_encrypted"]) == tokens[-1]
    assert await server.database.installations.count_documents({}) == 1
    assert await server.database.tickets.count_documents({"workspace_id": "wsagain01"}) == 1


async def test_install_database_down_503(server, intercom):
    add_workspace(intercom, "wsdbdown1", "US")
    await server.services.client.close()

    response = await server.client.get("/intercom/default/install")

    assert response.status_code == 503
    assert "database is unavailable" in response.text
