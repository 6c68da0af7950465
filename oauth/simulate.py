"""`intercom-app simulate install`: walk a running service through an install on a fake Intercom."""

from __future__ import annotations

import asyncio

import httpx

from oauth.apps import DEFAULT_APP_KEY
from oauth.fake_intercom import FakeIntercom, FakeWorkspace, serve_fake
from oauth.testing import run_install

__all__ = ["simulate_install"]


async def simulate_install(
    state, *, url: str | None, app_key: str, fake_port: int, workspace_id: str, region: str, wait_seconds: float
) -> list[str]:
    """Install `app_key` into a fake workspace through the service at `url`; return report lines.

    Raises RuntimeError naming the fix when the service does not use the fake's URL.
    """
    settings = state.settings
    service_url = (url or f"http://{settings.HOST}:{settings.PORT}").rstrip("/")
    client_id, client_secret = await _app_credentials(state, app_key)

    fake = FakeIntercom({client_id: client_secret})
    fake.add_workspace(FakeWorkspace(workspace_id, f"Demo workspace {workspace_id}", region=region))
    fake.seed(workspace_id, tickets=3, conversations=3)

    async with serve_fake(fake, ("US",), ports={"US": fake_port}) as urls:
        async with httpx.AsyncClient(timeout=10.0) as browser:
            started = await browser.get(f"{service_url}/intercom/{app_key}/install")
            location = started.headers.get("location", "")
            if started.status_code != 302 or not location.startswith(urls["US"]):
                raise RuntimeError(
                    f"the service at {service_url} did not redirect to the fake Intercom at {urls['US']} "
                    f"(status {started.status_code}); start it with INTERCOM_OAUTH_BASE_URL={urls['US']} "
                    f"and INTERCOM_API_BASE_URL={urls['US']}"
                )
            result = await run_install(service_url, app=app_key, client=browser)

        lines = [f"fake Intercom served on {urls['US']}"]
        if not result.success:
            lines.append(f"install failed: {result.message}")
            return lines
        lines.append(f"installed app {app_key} into workspace {workspace_id} ({region})")
        lines.append(await _wait_for_backfill(state, app_key, workspace_id, wait_seconds))
        lines.append(f"API calls the service made: {len(fake.calls)}")
    return lines


async def _app_credentials(state, app_key: str) -> tuple[str, str]:
    if app_key == DEFAULT_APP_KEY:
        return state.settings.INTERCOM_CLIENT_ID, state.settings.client_secrets()[0]
    async with state.services() as services:
        registered = await services.apps.get(app_key)
    if registered is None or not registered.client_secrets:
        raise RuntimeError(f"no app is registered under the key {app_key!r}; add it with `intercom-app apps add`")
    return registered.client_id, registered.client_secrets[0]


async def _wait_for_backfill(state, app_key: str, workspace_id: str, wait_seconds: float) -> str:
    status = "not started"
    async with state.services() as services:
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while asyncio.get_running_loop().time() < deadline:
            installation = await services.database.installations.find_one({"app": app_key, "workspace_id": workspace_id})
            backfill = (installation or {}).get("backfill") or {}
            status = backfill.get("status") or "not started"
            if status in ("done", "failed"):
                counts = backfill.get("counts") or {}
                detail = f" ({backfill.get('error')})" if status == "failed" else (
                    f": {counts.get('tickets', 0)} tickets, {counts.get('conversations', 0)} conversations, "
                    f"{counts.get('contacts', 0)} contacts"
                )
                return f"backfill {status}{detail}"
            await asyncio.sleep(0.2)
    return f"backfill still {status} after {wait_seconds:.0f} s; check `intercom-app installations list`"
