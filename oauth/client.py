"""Intercom REST API clients: one per installation, on the official `python-intercom` SDK.

`IntercomApi` is `services.intercom_api`. It builds an `InstallationClient` for an active
installation from its stored token and region, and keeps it until the token changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import structlog
from intercom import AsyncIntercom
from intercom.core.api_error import ApiError
from intercom.types.admin_reply_conversation_request import AdminReplyConversationRequest

from oauth.crypto import TokenCipher
from oauth.errors import InstallationInactive, IntercomApiError, Unauthorized
from oauth.installations import Installations
from oauth.ratelimit import RateLimiter, RateLimitWaitTooLong
from oauth.regions import IntercomHosts
from oauth.storage import ACTIVE, REVOKED
from oauth.tasks import BackgroundTasks
from oauth.transport import GuardedTransport, RetryPolicy, SharedTransport

__all__ = ["InstallationClient", "IntercomApi"]

log = structlog.get_logger(__name__)


class InstallationClient:
    """Call Intercom's API for one workspace with its token, region host and API version."""

    def __init__(
        self,
        *,
        app: str,
        workspace_id: str,
        region: str,
        base_url: str,
        token: str,
        api_version: str,
        limiter: RateLimiter,
        policy: RetryPolicy,
        timeout: float,
        transport: httpx.AsyncBaseTransport,
        admin_id: str | None = None,
        on_unauthorized: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.workspace_id = workspace_id
        self.region = region
        self.base_url = base_url
        self.admin_id = admin_id
        self.transport = GuardedTransport(
            transport,
            app=app,
            workspace_id=workspace_id,
            region=region,
            limiter=limiter,
            policy=policy,
            on_unauthorized=on_unauthorized,
        )
        self._http = httpx.AsyncClient(transport=self.transport, timeout=timeout)
        # NOTE: python-intercom 5.0.1 sends no Intercom-Version header and retries only when a
        # call passes `max_retries`, so the version goes in `headers` and limits, retries and
        # 401 handling live in GuardedTransport under the SDK's httpx client.
        self.sdk = AsyncIntercom(
            token=token,
            base_url=base_url,
            headers={"Intercom-Version": api_version},
            httpx_client=self._http,
            timeout=timeout,
        )

    async def request_json(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send a raw request through the SDK's HTTP wrapper and return the JSON reply.

        Raw requests keep Intercom's objects exactly as sent, which backfill stores as
        notification bodies; the SDK's typed models would drop fields they do not know.
        """
        try:
            response = await self.sdk._client_wrapper.httpx_client.request(
                path.lstrip("/"), method=method, json=json, params=params
            )
        except RateLimitWaitTooLong as error:
            raise IntercomApiError(str(error), status=429) from None
        except httpx.TransportError as error:
            raise IntercomApiError(
                f"Intercom's API at {self.base_url} could not be reached ({type(error).__name__})"
            ) from None
        return self._json_or_raise(response)

    async def me(self) -> dict[str, Any]:
        """Return `GET /me`: the admin who owns the token and the workspace as `app`."""
        return await self.request_json("GET", "me")

    async def add_note(self, conversation_id: str, html: str) -> None:
        """Post `html` as an internal note on the conversation, as the installing admin."""
        if not self.admin_id:
            raise IntercomApiError("No admin is known for this installation; install the app again")
        request = AdminReplyConversationRequest(message_type="note", admin_id=self.admin_id, body=html)
        try:
            await self.sdk.conversations.reply(conversation_id, request=request)
        except ApiError as error:
            raise self._error(error.status_code, error.body) from None
        except RateLimitWaitTooLong as error:
            raise IntercomApiError(str(error), status=429) from None
        except httpx.TransportError as error:
            raise IntercomApiError(
                f"Intercom's API at {self.base_url} could not be reached ({type(error).__name__})"
            ) from None

    async def uninstall(self) -> None:
        """Call `POST /auth/uninstall`: uninstall the app from the workspace and revoke the token."""
        await self.request_json("POST", "auth/uninstall")

    async def aclose(self) -> None:
        await self._http.aclose()

    def _json_or_raise(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise self._error(response.status_code, body)
        if not isinstance(body, dict):
            raise IntercomApiError(
                f"Intercom's API returned a reply that is not a JSON object (status {response.status_code})"
            )
        return body

    def _error(self, status: int | None, body: Any) -> IntercomApiError:
        code, message = _first_error(body)
        if status == 401:
            return Unauthorized(
                f"Intercom rejected the access token for workspace {self.workspace_id} ({message or 'unauthorized'}); "
                "an admin of the workspace must install the app again",
                status=status,
                code=code,
            )
        if status == 429:
            return IntercomApiError(
                "Intercom's rate limit is reached for this workspace; try again in a minute",
                status=status,
                code=code,
            )
        detail = message or "no error message"
        return IntercomApiError(f"Intercom's API returned {status}: {detail}", status=status, code=code)


class IntercomApi:
    """Give out one API client per active installation; `services.intercom_api`.

    `health` (a HealthChecker) and `backfill` (a Backfill) are set by `oauth.service`.
    """

    def __init__(
        self,
        *,
        installations: Installations,
        cipher: TokenCipher,
        hosts: IntercomHosts,
        api_version: str,
        limiter: RateLimiter,
        policy: RetryPolicy,
        timeout: float,
    ) -> None:
        self.installations = installations
        self.hosts = hosts
        self._cipher = cipher
        self._api_version = api_version
        self._limiter = limiter
        self._policy = policy
        self._timeout = timeout
        self._clients: dict[tuple[str, str], tuple[str, InstallationClient]] = {}
        self.tasks = BackgroundTasks()
        self.http_transport = SharedTransport()
        self.health: Any = None
        self.backfill: Any = None

    @classmethod
    def from_settings(cls, settings, database, cipher: TokenCipher) -> IntercomApi:
        """Build the API clients' factory from the INTERCOM_API_* settings."""
        return cls(
            installations=Installations(database, purge_days=settings.UNINSTALL_PURGE_DAYS),
            cipher=cipher,
            hosts=IntercomHosts.from_settings(settings),
            api_version=settings.INTERCOM_API_VERSION,
            limiter=RateLimiter(
                app_calls_per_minute=settings.INTERCOM_API_APP_CALLS_PER_MINUTE,
                concurrency_per_workspace=settings.INTERCOM_API_CONCURRENCY_PER_WORKSPACE,
                max_wait_seconds=settings.INTERCOM_API_MAX_RATE_LIMIT_WAIT_SECONDS,
            ),
            policy=RetryPolicy(
                max_retries=settings.INTERCOM_API_MAX_RETRIES,
                backoff_base_seconds=settings.INTERCOM_API_BACKOFF_BASE_SECONDS,
                backoff_max_seconds=settings.INTERCOM_API_BACKOFF_MAX_SECONDS,
                max_rate_limit_wait_seconds=settings.INTERCOM_API_MAX_RATE_LIMIT_WAIT_SECONDS,
            ),
            timeout=settings.INTERCOM_API_TIMEOUT_SECONDS,
        )

    async def client_for(self, app: str, workspace_id: str) -> InstallationClient:
        """Return the client of an active installation; raise InstallationInactive otherwise."""
        installation = await self.installations.get(app, workspace_id)
        if installation is None:
            raise InstallationInactive(
                f"The app {app!r} is not installed in workspace {workspace_id}; an admin must install it first"
            )
        encrypted = installation.get("token_encrypted")
        if installation.get("status") != ACTIVE or not encrypted:
            raise InstallationInactive(
                f"The app {app!r} was {installation.get('status')} in workspace {workspace_id}; "
                "an admin must install it again"
            )

        key = (app, workspace_id)
        cached = self._clients.get(key)
        if cached is not None and cached[0] == encrypted and not cached[1].transport.stopped:
            return cached[1]
        if cached is not None:
            await cached[1].aclose()

        client = self._build(installation, self._cipher.decrypt(encrypted))
        self._clients[key] = (encrypted, client)
        return client

    def client_for_token(self, app: str, token: str, *, base_url: str | None = None) -> InstallationClient:
        """Return a client for a token not stored yet (the install's `/me` call); close it after use."""
        return self._client(app, "(installing)", "US", base_url or self.hosts.api_base_url, token)

    async def add_note(self, app: str, workspace_id: str, conversation_id: str, html: str) -> None:
        """Post `html` as an internal note on the conversation; raise IntercomApiError on failure."""
        client = await self.client_for(app, workspace_id)
        await client.add_note(conversation_id, html)
        log.info("intercom_api.note_added", app=app, workspace_id=workspace_id, conversation_id=conversation_id)

    async def revoke(self, app: str, workspace_id: str) -> None:
        """Uninstall the app from the workspace at Intercom, then mark it revoked here."""
        client = await self.client_for(app, workspace_id)
        try:
            await client.uninstall()
        except Unauthorized:
            pass  # The token was already revoked; the transport marked the installation.
        await self.installations.deactivate(app, workspace_id, status=REVOKED, reason="revoked_by_operator")
        await self.forget(app, workspace_id)

    async def forget(self, app: str, workspace_id: str) -> None:
        """Close and drop the cached client of the workspace, after its token changed or went."""
        cached = self._clients.pop((app, workspace_id), None)
        if cached is not None:
            await cached[1].aclose()

    async def close(self) -> None:
        """Cancel background tasks and close every client."""
        await self.tasks.close()
        clients = [client for _, client in self._clients.values()]
        self._clients.clear()
        await asyncio.gather(*(client.aclose() for client in clients))
        await self.http_transport.close()

    def _build(self, installation: dict[str, Any], token: str) -> InstallationClient:
        app, workspace_id = installation["app"], installation["workspace_id"]
        region = installation.get("region") or "US"

        async def revoke_on_401() -> None:
            await self.installations.deactivate(app, workspace_id, status=REVOKED, reason="api_401")

        return self._client(
            app,
            workspace_id,
            region,
            self.hosts.api_for_region(region),
            token,
            admin_id=(installation.get("admin") or {}).get("id"),
            on_unauthorized=revoke_on_401,
        )

    def _client(
        self,
        app: str,
        workspace_id: str,
        region: str,
        base_url: str,
        token: str,
        *,
        admin_id: str | None = None,
        on_unauthorized: Callable[[], Awaitable[None]] | None = None,
    ) -> InstallationClient:
        return InstallationClient(
            app=app,
            workspace_id=workspace_id,
            region=region,
            base_url=base_url,
            token=token,
            api_version=self._api_version,
            limiter=self._limiter,
            policy=self._policy,
            timeout=self._timeout,
            transport=self.http_transport,
            admin_id=admin_id,
            on_unauthorized=on_unauthorized,
        )


def _first_error(body: Any) -> tuple[str | None, str | None]:
    """Return the code and message of the first entry of an `error.list` body."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return errors[0].get("code"), errors[0].get("message")
        if isinstance(body.get("message"), str):
            return body.get("code"), body["message"]
    return None, None
