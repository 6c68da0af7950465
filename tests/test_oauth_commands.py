"""The oauth CLI: apps, installations, keys, backfill and `simulate install`, run as a user would."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

import oauth.keys
from app.cli import cli
from oauth.apps import AppStore, AppStoreError, secrets_update
from oauth.crypto import TokenCipher
from oauth.keys import _rotate_app_secrets
from oauth.fake_intercom import FakeWorkspace
from oauth.signing import sign_body
from oauth.testing import run_install, running_fake_intercom
from tests.conftest import TEST_CLIENT_SECRET, TEST_ENCRYPTION_KEY, free_port

CLIENT_ID = "test-client-id"
SECOND_ID = "second-client-id"
SECOND_SECRET = "second_secret_not_real"
WORKSPACE = "wscli0001"


@pytest.fixture
async def intercom():
    async with running_fake_intercom({CLIENT_ID: TEST_CLIENT_SECRET, SECOND_ID: SECOND_SECRET}) as servers:
        servers.fake.add_workspace(FakeWorkspace(WORKSPACE, "CLI shop", region="EU"))
        servers.fake.seed(WORKSPACE, tickets=3, conversations=2)
        yield servers


@pytest.fixture(autouse=True)
def keep_logging_config(monkeypatch):
    """Stop the CLI from reconfiguring structlog for the whole test process.

    The CLI configures structlog to cache loggers on first use, which would stop later
    tests' `capture_logs()` from seeing events of loggers first used during these tests.
    """
    monkeypatch.setattr("app.cli.configure_logging", lambda *args, **kwargs: None)


@pytest.fixture
async def server(start_server, intercom):
    return await start_server(**intercom.settings(), BACKFILL_ON_INSTALL=False)


def cli_env(settings, **overrides: str) -> dict[str, str]:
    env = {
        "APP_ENV": "development",
        "MONGODB_URI": settings.MONGODB_URI,
        "MONGODB_DATABASE": settings.MONGODB_DATABASE,
        "DATA_DIR": str(settings.DATA_DIR),
        "INTERCOM_CLIENT_ID": settings.INTERCOM_CLIENT_ID,
        "INTERCOM_CLIENT_SECRET": settings.INTERCOM_CLIENT_SECRET,
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
        "INTERCOM_OAUTH_BASE_URL": settings.INTERCOM_OAUTH_BASE_URL,
        "INTERCOM_API_BASE_URL": settings.INTERCOM_API_BASE_URL,
        "INTERCOM_API_BASE_URL_EU": settings.INTERCOM_API_BASE_URL_EU,
        "INTERCOM_API_BASE_URL_AU": settings.INTERCOM_API_BASE_URL_AU,
        "HOST": settings.HOST,
        "PORT": str(settings.PORT),
        "LOG_LEVEL": "WARNING",
    }
    env.update(overrides)
    return env


async def invoke(settings, *args: str, input: str | None = None, **env: str):
    """Run `intercom-app ARGS` in a thread, because the CLI runs its own event loop."""
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli, list(args), input=input, env=cli_env(settings, **env),
                                   catch_exceptions=False)


async def test_apps_add_list_remove(server):
    added = await invoke(server.settings, "apps", "add", "second", "--client-id", SECOND_ID, input=f"{SECOND_SECRET}\n")
    listed = await invoke(server.settings, "apps", "list")
    removed = await invoke(server.settings, "apps", "remove", "second")
    missing = await invoke(server.settings, "apps", "remove", "second")

    assert added.exit_code == 0, added.output
    assert "added app second" in added.output
    assert "second\tclient_id=second-client-id\tsecrets=1" in listed.output
    assert "default\tclient_id=test-client-id" in listed.output
    assert removed.exit_code == 0
    assert missing.exit_code == 1
    assert "no app is registered under the key 'second'" in missing.output
    for result in (added, listed, removed):
        assert SECOND_SECRET not in result.output
    stored = await server.database.apps.find_one({"_id": "second"})
    assert stored is None


async def test_apps_add_rejects_default_key(server):
    result = await invoke(server.settings, "apps", "add", "default", "--client-id", "x", "--secret", "y")

    assert result.exit_code == 1
    assert "configured by INTERCOM_CLIENT_ID" in result.output


async def test_two_apps_side_by_side(server, intercom):
    await invoke(server.settings, "apps", "add", "second", "--client-id", SECOND_ID, "--secret", SECOND_SECRET)
    stored = await server.database.apps.find_one({"_id": "second"})
    assert SECOND_SECRET not in json.dumps(stored, default=str)

    first = await run_install(server.url, app="default")
    second = await run_install(server.url, app="second")

    assert first.success, first.message
    assert second.success, second.message
    assert await server.database.installations.count_documents({"workspace_id": WORKSPACE}) == 2
    body = json.dumps({"app_id": WORKSPACE}).encode()
    wrong = await server.client.post("/intercom/second/uninstall", content=body,
                                     headers={"X-Body-Signature": sign_body(body, TEST_CLIENT_SECRET)})
    right = await server.client.post("/intercom/second/uninstall", content=body,
                                     headers={"X-Body-Signature": sign_body(body, SECOND_SECRET)})
    assert wrong.status_code == 401
    assert right.status_code == 200
    statuses = {doc["app"]: doc["status"] async for doc in server.database.installations.find({})}
    assert statuses == {"default": "active", "second": "uninstalled"}


async def test_app_secret_rotation_accepts_both(server):
    await invoke(server.settings, "apps", "add", "second", "--client-id", SECOND_ID, "--secret", "old_secret")
    rotated = await invoke(server.settings, "apps", "rotate-secret", "second", "--secret", "new_secret")
    assert rotated.exit_code == 0, rotated.output
    body = b'{"workspace_id":"wsnone001"}'

    for secret in ("old_secret", "new_secret"):
        response = await server.client.post("/intercom/second/health-check", content=body,
                                            headers={"X-Body-Signature": sign_body(body, secret)})
        assert response.status_code == 200, secret
    third = await server.client.post("/intercom/second/health-check", content=body,
                                     headers={"X-Body-Signature": sign_body(body, "other")})
    assert third.status_code == 401
    registered = await server.services.apps.get("second")
    assert registered.client_secrets == ("new_secret", "old_secret")


async def test_concurrent_secret_changes_lose_none(server):
    store = AppStore(server.database, encrypt=server.services.cipher.encrypt, registry=server.services.apps)
    await store.add("second", SECOND_ID, "old_secret")

    outcomes = await asyncio.gather(
        store.rotate_secret("second", "new_secret_a"),
        store.rotate_secret("second", "new_secret_b"),
        return_exceptions=True,
    )
    registered = await server.services.apps.get("second")

    failed = [outcome for outcome in outcomes if isinstance(outcome, AppStoreError)]
    assert len(failed) == 1
    assert str(failed[0]) == "the secrets of app 'second' changed while this command ran; run it again"
    assert registered.client_secrets in (("new_secret_a", "old_secret"), ("new_secret_b", "old_secret"))


async def test_readded_app_ignores_stale_change(server):
    store = AppStore(server.database, encrypt=server.services.cipher.encrypt, registry=server.services.apps)
    await store.add("second", SECOND_ID, "old_secret")
    stale = await server.database.apps.find_one({"_id": "second"})
    await store.remove("second")
    await store.add("second", SECOND_ID, "readded_secret")

    with pytest.raises(AppStoreError) as error:
        await store._push_secret(stale, "stale_secret")

    assert str(error.value) == "the secrets of app 'second' changed while this command ran; run it again"

    assert (await server.services.apps.get("second")).client_secrets == ("readded_secret",)


async def test_keys_rotate_rereads_changed_app(server):
    store = AppStore(server.database, encrypt=server.services.cipher.encrypt, registry=server.services.apps)
    await store.add("second", SECOND_ID, "old_secret")
    # Read by the rotation, then changed by `apps rotate-secret` before the rotation writes.
    stale = await server.database.apps.find_one({"_id": "second"})
    await store.rotate_secret("second", "new_secret")

    new_key = Fernet.generate_key().decode()
    rotated = await _rotate_app_secrets(server.database, TokenCipher([new_key, TEST_ENCRYPTION_KEY]), stale)

    stored = await server.database.apps.find_one({"_id": "second"})
    assert rotated == 2
    assert [TokenCipher([new_key]).decrypt(value) for value in stored["client_secrets_encrypted"]] == [
        "new_secret", "old_secret",
    ]


async def test_keys_rotate_fails_on_changes(server, monkeypatch):
    store = AppStore(server.database, encrypt=server.services.cipher.encrypt, registry=server.services.apps)
    await store.add("second", SECOND_ID, "old_secret")
    app = await server.database.apps.find_one({"_id": "second"})

    # As if another change landed between every read and write of the rotation.
    def always_stale(existing, secrets):
        query, update = secrets_update(existing, secrets)
        return {**query, "secrets_version": "changed meanwhile"}, update

    monkeypatch.setattr(oauth.keys, "secrets_update", always_stale)
    with pytest.raises(AppStoreError) as error:
        await _rotate_app_secrets(server.database, server.services.cipher, app)

    assert str(error.value) == (
        "the client secrets of app 'second' kept changing during the key rotation; run `keys rotate` again"
    )


async def test_default_previous_secret_verifies(start_server, intercom):
    server = await start_server(**intercom.settings(), INTERCOM_CLIENT_SECRET="new_default_secret",
                                INTERCOM_CLIENT_SECRET_PREVIOUS=TEST_CLIENT_SECRET)
    body = b'{"workspace_id":"wsnone001"}'

    for secret in ("new_default_secret", TEST_CLIENT_SECRET):
        response = await server.client.post("/intercom/default/health-check", content=body,
                                            headers={"X-Body-Signature": sign_body(body, secret)})
        assert response.status_code == 200, secret


async def test_keys_rotate_reencrypts_everything(server, intercom):
    assert (await run_install(server.url)).success
    await invoke(server.settings, "apps", "add", "second", "--client-id", SECOND_ID, "--secret", SECOND_SECRET)
    token = intercom.fake.tokens_of(WORKSPACE)[0]
    new_key = Fernet.generate_key().decode()

    result = await invoke(server.settings, "keys", "rotate", TOKEN_ENCRYPTION_KEYS=f"{new_key},{TEST_ENCRYPTION_KEY}")

    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 token(s) and 1 app client secret(s)" in result.output
    new_only = TokenCipher([new_key])
    installation = await server.database.installations.find_one({"workspace_id": WORKSPACE})
    assert new_only.decrypt(installation["token_encrypted"]) == token
    app = await server.database.apps.find_one({"_id": "second"})
    assert new_only.decrypt(app["client_secrets_encrypted"][0]) == SECOND_SECRET
    assert token not in result.output


async def test_keys_rotate_without_old_key(server):
    assert (await run_install(server.url)).success

    result = await invoke(server.settings, "keys", "rotate", TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode())

    assert result.exit_code == 1
    assert "cannot be decrypted with any key in TOKEN_ENCRYPTION_KEYS" in result.output


async def test_installations_list_revoke_purge(server, intercom):
    assert (await run_install(server.url)).success

    listed = await invoke(server.settings, "installations", "list")
    revoked = await invoke(server.settings, "installations", "revoke", WORKSPACE)
    again = await invoke(server.settings, "installations", "revoke", WORKSPACE)
    purged = await invoke(server.settings, "installations", "purge", UNINSTALL_PURGE_DAYS="0")

    assert f"default\t{WORKSPACE}\tCLI shop\tEU\tactive" in listed.output
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked app default in workspace {WORKSPACE}" in revoked.output
    assert intercom.fake.calls_to("/auth/uninstall")[0].region == "EU"
    assert again.exit_code == 1
    assert "was revoked" in again.output
    # The purge time was fixed at revoke time (30 days), so nothing is due yet.
    assert "purged 0 workspace(s)" in purged.output


async def test_installations_purge_due_workspace(server):
    assert (await run_install(server.url)).success
    await invoke(server.settings, "installations", "revoke", WORKSPACE, UNINSTALL_PURGE_DAYS="0")
    await server.database.tickets.insert_one({"app": "default", "workspace_id": WORKSPACE, "ticket_id": "1"})

    purged = await invoke(server.settings, "installations", "purge")

    assert f"purged default {WORKSPACE}" in purged.output
    assert await server.database.tickets.count_documents({"workspace_id": WORKSPACE}) == 0


async def test_backfill_command_shows_progress(server):
    assert (await run_install(server.url)).success

    result = await invoke(server.settings, "backfill", WORKSPACE)

    assert result.exit_code == 0, result.output
    assert f"backfilled 3 ticket(s), 2 conversation(s) and 3 contact(s) for workspace {WORKSPACE}" in result.output
    assert await server.database.notifications.count_documents({"workspace_id": WORKSPACE}) == 8


async def test_backfill_command_not_installed(server):
    result = await invoke(server.settings, "backfill", "wsnone001")

    assert result.exit_code == 1
    assert "not installed in workspace wsnone001" in result.output


async def test_simulate_install_end_to_end(start_server):
    port = free_port()
    fake_url = f"http://127.0.0.1:{port}"
    server = await start_server(INTERCOM_OAUTH_BASE_URL=fake_url, INTERCOM_API_BASE_URL=fake_url)

    result = await invoke(server.settings, "simulate", "install", "--url", server.url, "--fake-port", str(port),
                          "--region", "EU", "--wait", "10")

    assert result.exit_code == 0, result.output
    assert "installed app default into workspace wsdemo01 (EU)" in result.output
    assert "backfill done: 3 tickets, 3 conversations" in result.output
    installation = await server.database.installations.find_one({"workspace_id": "wsdemo01"})
    assert installation["status"] == "active"


async def test_simulate_install_wrong_service_settings(server):
    result = await invoke(server.settings, "simulate", "install", "--url", server.url, "--fake-port", str(free_port()))

    assert result.exit_code == 1
    assert "start it with INTERCOM_OAUTH_BASE_URL=" in result.output
