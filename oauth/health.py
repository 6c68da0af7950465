"""Replies to Intercom's daily installation health check, within a fixed time budget."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from oauth.client import IntercomApi
from oauth.errors import InstallationInactive, IntercomApiError, Unauthorized
from oauth.storage import ACTIVE
from oauth.tasks import BackgroundTasks

__all__ = ["HealthChecker"]

log = structlog.get_logger(__name__)

OK = "OK"
UNHEALTHY = "UNHEALTHY"
UNKNOWN = "UNKNOWN"


class HealthChecker:
    """Decide OK, UNHEALTHY or UNKNOWN for a workspace from what is stored and a quick token check.

    A stored OK younger than `cache_seconds` is returned as it is. Otherwise a `/me` call
    runs in the background, and the reply waits for it at most `budget_seconds`. After that it
    falls back to the older check or UNKNOWN, and the call's result is stored for the next request.
    """

    def __init__(self, api: IntercomApi, tasks: BackgroundTasks, *, budget_seconds: float, cache_seconds: float) -> None:
        self._api = api
        self._tasks = tasks
        self._budget = budget_seconds
        self._cache = timedelta(seconds=cache_seconds)
        self._running: dict[tuple[str, str], asyncio.Task] = {}

    async def check(self, app: str, workspace_id: str, install_url: str) -> dict[str, Any]:
        """Return the health-check reply body for the workspace."""
        installation = await self._api.installations.get(app, workspace_id)
        if installation is None:
            return _unhealthy("The app is not connected to this workspace. Install it again to connect it.", install_url)
        if installation.get("status") != ACTIVE:
            return _unhealthy(
                f"The app was {installation.get('status')} from this workspace. Install it again to reconnect it.",
                install_url,
            )

        stored = installation.get("token_check") or {}
        checked_at = stored.get("checked_at")
        if checked_at and datetime.now(UTC) - checked_at < self._cache and stored.get("state") == OK:
            return {"state": OK}

        task = self._start_check(app, workspace_id)
        try:
            state, message = await asyncio.wait_for(asyncio.shield(task), self._budget)
        except TimeoutError:
            log.info("health_check.answered_before_token_check", app=app, workspace_id=workspace_id)
            return {"state": stored.get("state") if stored.get("state") in (OK, UNKNOWN) else UNKNOWN}
        if state == UNHEALTHY:
            return _unhealthy(message, install_url)
        return {"state": state}

    def _start_check(self, app: str, workspace_id: str) -> asyncio.Task:
        key = (app, workspace_id)
        running = self._running.get(key)
        if running is not None and not running.done():
            return running
        task = self._tasks.spawn(self._check_token(app, workspace_id), name=f"token-check:{app}:{workspace_id}")
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))
        return task

    async def _check_token(self, app: str, workspace_id: str) -> tuple[str, str]:
        try:
            client = await self._api.client_for(app, workspace_id)
            await client.me()
            state, message = OK, ""
        except (Unauthorized, InstallationInactive) as error:
            state, message = UNHEALTHY, str(error)
        except IntercomApiError as error:
            state, message = UNKNOWN, str(error)
        await self._api.installations.set_fields(
            app, workspace_id, {"token_check": {"state": state, "message": message, "checked_at": datetime.now(UTC)}}
        )
        log.info("health_check.token_checked", app=app, workspace_id=workspace_id, state=state)
        return state, message


def _unhealthy(message: str, install_url: str) -> dict[str, Any]:
    return {
        "state": UNHEALTHY,
        "message": message[:2084],
        "cta_type": "URL_CTA",
        "cta_label": "Reconnect",
        "cta_url": install_url,
    }
