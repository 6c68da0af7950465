"""Helpers for tests and the simulator: run the fake Intercom and walk an install through it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from oauth.fake_intercom import FakeIntercom, FakeWorkspace, serve_fake

__all__ = ["FakeIntercomServers", "InstallResult", "run_install", "running_fake_intercom"]


@dataclass
class FakeIntercomServers:
    """A running fake Intercom: its state and one base URL per region."""

    fake: FakeIntercom
    urls: dict[str, str]

    def settings(self) -> dict[str, object]:
        """Return the setting overrides that point a service at this fake, with fast retries."""
        return {
            "INTERCOM_OAUTH_BASE_URL": self.urls["US"],
            "INTERCOM_API_BASE_URL": self.urls["US"],
            "INTERCOM_API_BASE_URL_EU": self.urls.get("EU", ""),
            "INTERCOM_API_BASE_URL_AU": self.urls.get("AU", ""),
            "INTERCOM_API_BACKOFF_BASE_SECONDS": 0.01,
            "INTERCOM_API_BACKOFF_MAX_SECONDS": 0.05,
            "INTERCOM_API_TIMEOUT_SECONDS": 5.0,
        }


@contextlib.asynccontextmanager
async def running_fake_intercom(clients: dict[str, str]) -> AsyncIterator[FakeIntercomServers]:
    """Serve a fake Intercom for `clients` ({client_id: client_secret}) on US, EU and AU ports."""
    fake = FakeIntercom(clients)
    async with serve_fake(fake) as urls:
        yield FakeIntercomServers(fake, urls)


@dataclass
class InstallResult:
    """The outcome of an install walked through the fake, with the service's last reply."""

    callback: httpx.Response
    success: bool
    message: str


async def run_install(
    service_url: str, *, app: str = "default", workspace: FakeWorkspace | None = None, client: httpx.AsyncClient | None = None
) -> InstallResult:
    """Walk an admin's browser through the install: our install URL, Intercom, our callback."""
    own_client = client is None
    browser = client or httpx.AsyncClient(timeout=10.0)
    try:
        started = await browser.get(f"{service_url}/intercom/{app}/install")
        if started.status_code != 302:
            return InstallResult(started, False, f"install URL returned {started.status_code}")

        authorize_url = started.headers["location"]
        if workspace is not None:
            authorize_url += f"&workspace={workspace.workspace_id}"
        approved = await browser.get(authorize_url)
        if approved.status_code != 302:
            return InstallResult(approved, False, f"authorize page returned {approved.status_code}: {approved.text}")

        callback = await browser.get(approved.headers["location"])
        location = callback.headers.get("location", "")
        success = callback.status_code == 302 and "install_success=true" in location
        return InstallResult(callback, success, location or callback.text)
    finally:
        if own_client:
            await browser.aclose()
