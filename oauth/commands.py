"""`intercom-app` commands of the `oauth` package: apps, installations, keys, backfill, simulate.

`COMMANDS` are added to `intercom-app`; `SIMULATE_COMMANDS` to `intercom-app simulate`.
Each command gets a `CliState` as `ctx.obj`: `.settings`, and `.services()`, an async
context manager that opens the database and shared services. No command prints a token,
secret or code.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click

from oauth.apps import DEFAULT_APP_KEY, AppStore, AppStoreError
from oauth.crypto import DecryptionError
from oauth.errors import IntercomApiError

__all__ = ["COMMANDS", "SIMULATE_COMMANDS"]


def _run(state, work: Callable[[Any], Awaitable[None]]) -> None:
    """Open the services, run `work(services)` and turn known errors into CLI errors."""

    async def main() -> None:
        async with state.services() as services:
            await work(services)

    try:
        asyncio.run(main())
    except (AppStoreError, DecryptionError, IntercomApiError) as error:
        raise click.ClickException(str(error)) from None


@click.group()
def apps() -> None:
    """Register the Intercom apps this deployment serves (besides `default`)."""


@apps.command("add")
@click.argument("key")
@click.option("--client-id", required=True, help="The app's OAuth client id from Intercom's Developer Hub.")
@click.option("--secret", "client_secret", prompt="Client secret", hide_input=True,
              help="The app's client secret; prompted for without echo when omitted. Adding a "
                   "second secret to an existing app keeps the first for signatures during rotation.")
@click.pass_obj
def apps_add(state, key: str, client_id: str, client_secret: str) -> None:
    """Register app KEY (served at /intercom/KEY/...), or add a client secret to it."""

    async def work(services) -> None:
        store = AppStore(services.database, encrypt=services.cipher.encrypt, registry=services.apps)
        outcome = await store.add(key, client_id, client_secret)
        if outcome == "added":
            click.echo(f"added app {key} (client id {client_id}); its URLs start with "
                       f"{state.settings.public_url}/intercom/{key}/")
        else:
            click.echo(f"added a new current client secret to app {key}; the previous one still verifies signatures")

    _run(state, work)


@apps.command("rotate-secret")
@click.argument("key")
@click.option("--secret", "client_secret", prompt="New client secret", hide_input=True,
              help="The new client secret; prompted for without echo when omitted.")
@click.pass_obj
def apps_rotate_secret(state, key: str, client_secret: str) -> None:
    """Make a new client secret current for app KEY and keep the previous one for signatures."""

    async def work(services) -> None:
        store = AppStore(services.database, encrypt=services.cipher.encrypt, registry=services.apps)
        await store.rotate_secret(key, client_secret)
        click.echo(f"app {key} now signs with the new secret and accepts signatures from the previous one")

    _run(state, work)


@apps.command("list")
@click.pass_obj
def apps_list(state) -> None:
    """List the registered apps: key, client id and how many secrets each holds."""

    async def work(services) -> None:
        settings = services.settings
        click.echo(f"{DEFAULT_APP_KEY}\tclient_id={settings.INTERCOM_CLIENT_ID}\t"
                   f"secrets={len(settings.client_secrets())}\t(from the environment)")
        store = AppStore(services.database, encrypt=services.cipher.encrypt)
        for app in await store.list():
            click.echo(f"{app['key']}\tclient_id={app['client_id']}\tsecrets={app['secrets']}")

    _run(state, work)


@apps.command("remove")
@click.argument("key")
@click.pass_obj
def apps_remove(state, key: str) -> None:
    """Remove app KEY; its routes return 404 once a running service's 30-second cache expires. Installations are kept."""

    async def work(services) -> None:
        store = AppStore(services.database, encrypt=services.cipher.encrypt, registry=services.apps)
        if not await store.remove(key):
            raise AppStoreError(f"no app is registered under the key {key!r}")
        click.echo(f"removed app {key}")

    _run(state, work)


@click.group()
def installations() -> None:
    """List, revoke and purge workspace installations."""


@installations.command("list")
@click.option("--app", "app_key", default=None, help="Only list installations of this app key.")
@click.pass_obj
def installations_list(state, app_key: str | None) -> None:
    """List installations: app, workspace, name, region, status and backfill status."""

    async def work(services) -> None:
        query = {"app": app_key} if app_key else {}
        found = 0
        async for item in services.database.installations.find(query).sort([("app", 1), ("workspace_id", 1)]):
            backfill = (item.get("backfill") or {}).get("status") or "-"
            click.echo(f"{item['app']}\t{item['workspace_id']}\t{item.get('workspace_name') or '-'}\t"
                       f"{item.get('region')}\t{item.get('status')}\tbackfill={backfill}")
            found += 1
        if not found:
            click.echo("no installations")

    _run(state, work)


@installations.command("revoke")
@click.argument("workspace_id")
@click.option("--app", "app_key", default=DEFAULT_APP_KEY, show_default=True, help="The app key.")
@click.pass_obj
def installations_revoke(state, workspace_id: str, app_key: str) -> None:
    """Uninstall the app from WORKSPACE_ID at Intercom, erase its token and schedule the purge."""

    async def work(services) -> None:
        await services.intercom_api.revoke(app_key, workspace_id)
        click.echo(f"revoked app {app_key} in workspace {workspace_id}; its data is purged after "
                   f"{state.settings.UNINSTALL_PURGE_DAYS} days")

    _run(state, work)


@installations.command("purge")
@click.pass_obj
def installations_purge(state) -> None:
    """Delete the data of uninstalled workspaces whose retention (UNINSTALL_PURGE_DAYS) has ended."""

    async def work(services) -> None:
        purged = await services.intercom_api.installations.purge_due()
        for app_key, workspace_id in purged:
            click.echo(f"purged {app_key} {workspace_id}")
        click.echo(f"purged {len(purged)} workspace(s)")

    _run(state, work)


@click.group()
def keys() -> None:
    """Manage TOKEN_ENCRYPTION_KEYS."""


@keys.command("rotate")
@click.pass_obj
def keys_rotate(state) -> None:
    """Re-encrypt every token and client secret with the first key of TOKEN_ENCRYPTION_KEYS.

    Put the new key first and keep the old ones after it until this command has finished.
    """
    from oauth.keys import count_encrypted, rotate_keys

    async def work(services) -> None:
        total = await count_encrypted(services.database)
        with click.progressbar(length=total, label="re-encrypting", file=sys.stderr) as bar:
            counts = await rotate_keys(services.database, services.cipher, progress=bar.update)
        click.echo(f"re-encrypted {counts['tokens']} token(s) and {counts['app_secrets']} app client secret(s)")

    _run(state, work)


@click.command("backfill")
@click.argument("workspace_id")
@click.option("--app", "app_key", default=DEFAULT_APP_KEY, show_default=True, help="The app key.")
@click.pass_obj
def backfill(state, workspace_id: str, app_key: str) -> None:
    """Fetch WORKSPACE_ID's recent tickets, conversations and contacts from Intercom.

    Resumes an interrupted run from its checkpoint; objects already stored are skipped.
    """

    async def work(services) -> None:
        bars: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int | None) -> None:
            bar = bars.get(phase)
            if bar is None:
                for previous in bars.values():
                    previous.render_finish()
                bar = click.progressbar(length=max(total or done, 1), label=phase, file=sys.stderr)
                bar.render_progress()
                bars[phase] = bar
            bar.pos = min(done, bar.length)
            bar.render_progress()

        counts = await services.intercom_api.backfill.run(app_key, workspace_id, progress=progress)
        for bar in bars.values():
            bar.render_finish()
        click.echo(f"backfilled {counts['tickets']} ticket(s), {counts['conversations']} conversation(s) and "
                   f"{counts['contacts']} contact(s) for workspace {workspace_id}")

    _run(state, work)


@click.command("install")
@click.option("--url", default=None, help="Base URL of the running service (default: http://HOST:PORT).")
@click.option("--app", "app_key", default=DEFAULT_APP_KEY, show_default=True, help="The app key to install.")
@click.option("--fake-port", default=8765, show_default=True, type=int,
              help="Loopback port for the fake Intercom; start the service with INTERCOM_OAUTH_BASE_URL and "
                   "INTERCOM_API_BASE_URL set to http://127.0.0.1:PORT.")
@click.option("--workspace-id", default="wsdemo01", show_default=True, help="Workspace id the fake installs into.")
@click.option("--region", type=click.Choice(["US", "EU", "AU"]), default="US", show_default=True,
              help="Region the fake reports for the workspace.")
@click.option("--wait", "wait_seconds", default=10.0, show_default=True, type=float,
              help="Seconds to keep the fake running after the install so the service's backfill can finish.")
@click.pass_obj
def simulate_install(state, url: str | None, app_key: str, fake_port: int, workspace_id: str, region: str,
                     wait_seconds: float) -> None:
    """Install the app through a fake Intercom, with no Intercom account."""
    from oauth.simulate import simulate_install as run

    try:
        lines = asyncio.run(run(state, url=url, app_key=app_key, fake_port=fake_port, workspace_id=workspace_id,
                                region=region, wait_seconds=wait_seconds))
    except (RuntimeError, OSError) as error:
        raise click.ClickException(str(error)) from None
    for line in lines:
        click.echo(line)


COMMANDS: list[click.Command] = [apps, installations, keys, backfill]
SIMULATE_COMMANDS: list[click.Command] = [simulate_install]
