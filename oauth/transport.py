"""The httpx transport under every Intercom API client: rate limits, retries, 401 handling."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import structlog

from oauth.errors import InstallationInactive
from oauth.metrics import API_CALLS, API_RATE_LIMITED, API_RETRIES
from oauth.ratelimit import RateLimiter

__all__ = ["GuardedTransport", "RetryPolicy", "SharedTransport"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry after a 429, a 5xx or a transport error."""

    max_retries: int = 4
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    max_rate_limit_wait_seconds: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Return the delay before retry number `attempt` (0-based): exponential, with jitter."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2**attempt)
        return ceiling * (0.5 + random.random() / 2)


class SharedTransport(httpx.AsyncBaseTransport):
    """One connection pool for every client; closing a client leaves the pool open.

    Building an httpx transport loads the TLS certificates, which takes tens of milliseconds,
    so clients share one. `close()` closes the pool when the service stops.
    """

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Leave the pool open: other clients still use it."""

    async def close(self) -> None:
        """Close the pool."""
        await self._inner.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """Send requests for one installation within its rate limits, retrying what is safe to resend.

    A 401 reply calls `on_unauthorized` once and stops the transport: every later request
    raises InstallationInactive without reaching Intercom.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        app: str,
        workspace_id: str,
        region: str,
        limiter: RateLimiter,
        policy: RetryPolicy,
        on_unauthorized: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._inner = inner
        self._app = app
        self._workspace_id = workspace_id
        self._region = region
        self._limiter = limiter
        self._policy = policy
        self._on_unauthorized = on_unauthorized
        self.stopped = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            self._raise_if_stopped()
            try:
                async with self._limiter.slot(self._app, self._workspace_id):
                    response = await self._inner.handle_async_request(request)
            except httpx.TransportError as error:
                if attempt >= self._policy.max_retries or not _safe_to_resend(request, error):
                    raise
                await self._wait_before_retry(attempt, request, reason=type(error).__name__)
                attempt += 1
                continue

            status = response.status_code
            API_CALLS.labels(app=self._app, region=self._region, status=str(status)).inc()
            self._limiter.observe(self._app, self._workspace_id, response.headers)

            if status == 401 and self._on_unauthorized is not None:
                self.stopped = True
                log.warning("intercom_api.unauthorized", app=self._app, workspace_id=self._workspace_id,
                            path=request.url.path)
                await self._on_unauthorized()
                return response
            if status == 429:
                API_RATE_LIMITED.labels(app=self._app).inc()
                reset_at = _reset_time(response) or time.time() + self._policy.backoff(attempt)
                self._limiter.exhaust(self._app, self._workspace_id, reset_at)
                wait = reset_at - time.time()
                if attempt >= self._policy.max_retries or wait > self._policy.max_rate_limit_wait_seconds:
                    return response
                await response.aclose()
                API_RETRIES.labels(app=self._app).inc()
                log.info("intercom_api.rate_limited", app=self._app, workspace_id=self._workspace_id,
                         path=request.url.path, wait_seconds=round(max(wait, 0.0), 3))
                # The next slot() waits until the window resets.
                attempt += 1
                continue
            if status >= 500 and attempt < self._policy.max_retries and _safe_to_resend(request, None):
                await response.aclose()
                await self._wait_before_retry(attempt, request, reason=f"status {status}")
                attempt += 1
                continue
            return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _raise_if_stopped(self) -> None:
        if self.stopped:
            raise InstallationInactive(
                f"Intercom rejected this app's access token for workspace {self._workspace_id}; "
                "an admin of the workspace must install the app again",
                status=401,
            )

    async def _wait_before_retry(self, attempt: int, request: httpx.Request, *, reason: str) -> None:
        delay = self._policy.backoff(attempt)
        API_RETRIES.labels(app=self._app).inc()
        log.info("intercom_api.retry", app=self._app, workspace_id=self._workspace_id,
                 path=request.url.path, reason=reason, attempt=attempt + 1, delay_seconds=round(delay, 3))
        await asyncio.sleep(delay)


def _safe_to_resend(request: httpx.Request, error: httpx.TransportError | None) -> bool:
    """Return whether sending `request` again cannot repeat an action Intercom already took.

    Reads and searches are safe. Other POSTs, such as a note, are resent only when the
    connection failed before the request went out, because a 5xx or a timeout after sending
    may come after Intercom stored the note.
    """
    if request.method in ("GET", "HEAD", "PUT", "DELETE") or request.url.path.endswith("/search"):
        return True
    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def _reset_time(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return None
