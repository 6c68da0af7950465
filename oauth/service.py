"""Assemble the `oauth` package's runtime objects and its periodic purge."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from oauth.backfill import Backfill
from oauth.client import IntercomApi
from oauth.crypto import TokenCipher
from oauth.health import HealthChecker

__all__ = ["build_intercom_api", "resume_backfills", "start_background_work", "start_purge_loop"]

log = structlog.get_logger(__name__)


def build_intercom_api(
    settings, database: AsyncDatabase, cipher: TokenCipher, *, on_stored: Callable[[], None] | None = None
) -> IntercomApi:
    """Build `services.intercom_api` with its health checker and backfill.

    `on_stored` is called after backfill stores a notification (the dispatcher's wake-up).
    """
    api = IntercomApi.from_settings(settings, database, cipher)
    api.health = HealthChecker(
        api,
        api.tasks,
        budget_seconds=settings.HEALTH_CHECK_BUDGET_SECONDS,
        cache_seconds=settings.HEALTH_CHECK_CACHE_SECONDS,
    )
    api.backfill = Backfill(
        api, database, days=settings.BACKFILL_DAYS, page_size=settings.BACKFILL_PAGE_SIZE, on_stored=on_stored
    )
    return api


def start_purge_loop(api: IntercomApi, interval_seconds: float) -> asyncio.Task:
    """Purge uninstalled workspaces whose retention ended, now and every `interval_seconds`."""

    async def loop() -> None:
        while True:
            try:
                purged = await api.installations.purge_due()
                if purged:
                    log.info("purge.finished", workspaces=len(purged))
            except PyMongoError as error:
                log.error("purge.failed", error=str(error), error_type=type(error).__name__)
            await asyncio.sleep(interval_seconds)

    return api.tasks.spawn(loop(), name="uninstall-purge")


async def resume_backfills(api: IntercomApi) -> int:
    """Restart the backfills a stopped process left `running`; return how many were started.

    Failed backfills are not restarted here: `intercom-app backfill` resumes them on request.
    """
    # NOTE: two processes that start at once both resume the same backfill. Neither loses
    # data, because stored notifications are unique, but the API calls are made twice.
    started = 0
    async for installation in api.installations.active_with_backfill("running"):
        app, workspace_id = installation["app"], installation["workspace_id"]
        api.tasks.spawn(api.backfill.run(app, workspace_id), name=f"backfill:{app}:{workspace_id}")
        log.info("backfill.resumed", app=app, workspace_id=workspace_id)
        started += 1
    return started


async def start_background_work(api: IntercomApi, settings) -> None:
    """Start the periodic purge and resume interrupted backfills; the service calls this on start."""
    start_purge_loop(api, settings.UNINSTALL_PURGE_INTERVAL_SECONDS)
    await resume_backfills(api)
