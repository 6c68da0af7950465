"""Client-side limits for Intercom's API: per app and per workspace, in 10-second windows.

Intercom spends each minute's budget in 10-second windows and reports the state of the
current one in `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (a Unix
time). A workspace's window follows those headers; the app's window is counted here, because
no header covers all of an app's workspaces at once.

Fairness: each workspace has at most `concurrency_per_workspace` calls in flight. The app
window hands out its slots in arrival order, because asyncio locks wake waiters first in,
first out. So a workspace with a thousand queued calls takes at most that many places in the
queue, and another workspace's call is served within a few turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["RateLimitWaitTooLong", "RateLimiter", "WINDOW_SECONDS"]

WINDOW_SECONDS = 10.0


class RateLimitWaitTooLong(Exception):
    """Raised when a window resets later than the caller is willing to wait."""


@dataclass
class _Window:
    """One 10-second budget: calls left and when the budget refills (Unix seconds)."""

    limit: int
    remaining: int
    reset_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class RateLimiter:
    """Hand out call slots for (app, workspace) pairs within the app and workspace windows."""

    def __init__(
        self,
        *,
        app_calls_per_minute: int,
        concurrency_per_workspace: int,
        max_wait_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app_limit = max(1, app_calls_per_minute // 6)
        self._concurrency = concurrency_per_workspace
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._app_windows: dict[str, _Window] = {}
        self._workspace_windows: dict[tuple[str, str], _Window] = {}
        self._in_flight: dict[tuple[str, str], asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def slot(self, app: str, workspace_id: str) -> AsyncIterator[None]:
        """Wait for a free call slot for the workspace, then hold it for one call."""
        key = (app, workspace_id)
        semaphore = self._in_flight.setdefault(key, asyncio.Semaphore(self._concurrency))
        async with semaphore:
            await self._take(self._workspace_window(key))
            await self._take(self._app_window(app))
            yield

    def observe(self, app: str, workspace_id: str, headers: Mapping[str, str]) -> None:
        """Update the workspace window from a response's `X-RateLimit-*` headers."""
        try:
            limit = int(headers["x-ratelimit-limit"])
            remaining = int(headers["x-ratelimit-remaining"])
            reset_at = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return

        window = self._workspace_window((app, workspace_id))
        window.limit = limit
        # Intercom's window replaces the local estimate. Within one window, keep the smaller
        # count, because replies to concurrent calls arrive out of order.
        if reset_at == window.reset_at:
            window.remaining = min(window.remaining, remaining)
        else:
            window.remaining = remaining
        window.reset_at = reset_at

    def exhaust(self, app: str, workspace_id: str, reset_at: float) -> None:
        """Mark the workspace window empty until `reset_at`, after a 429 reply."""
        window = self._workspace_window((app, workspace_id))
        window.remaining = 0
        window.reset_at = reset_at

    def seconds_until_reset(self, app: str, workspace_id: str) -> float:
        """Return how long until the workspace window refills (0 when it has calls left)."""
        window = self._workspace_window((app, workspace_id))
        if window.remaining > 0:
            return 0.0
        return max(0.0, window.reset_at - self._clock())

    async def _take(self, window: _Window) -> None:
        async with window.lock:
            now = self._clock()
            if now >= window.reset_at:
                window.remaining = window.limit
                window.reset_at = now + WINDOW_SECONDS
            if window.remaining <= 0:
                delay = window.reset_at - now
                if delay > self._max_wait:
                    raise RateLimitWaitTooLong(
                        f"Intercom's rate limit resets in {delay:.0f} s, longer than the "
                        f"{self._max_wait:.0f} s INTERCOM_API_MAX_RATE_LIMIT_WAIT_SECONDS allows"
                    )
                # Waiting while holding the lock keeps later callers queued in order.
                await asyncio.sleep(delay)
                window.remaining = window.limit
                window.reset_at = self._clock() + WINDOW_SECONDS
            window.remaining -= 1

    def _workspace_window(self, key: tuple[str, str]) -> _Window:
        window = self._workspace_windows.get(key)
        if window is None:
            # Until Intercom's headers report the window, assume the documented 25,000 calls per
            # minute for a workspace, which is 4,166 per 10-second window.
            window = _Window(limit=25_000 // 6, remaining=25_000 // 6, reset_at=0.0)
            self._workspace_windows[key] = window
        return window

    def _app_window(self, app: str) -> _Window:
        window = self._app_windows.get(app)
        if window is None:
            window = _Window(limit=self._app_limit, remaining=self._app_limit, reset_at=0.0)
            self._app_windows[app] = window
        return window
