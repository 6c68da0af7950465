"""Retention of processed notifications.

A `done` notification gets `expires_at` when it finishes (the receiver sets it on `ignored`
ones), and the TTL index on that field deletes it on MongoDB. The sweep here deletes the same
documents where no TTL index does (the embedded server has none, see `webhooks/storage.py`),
and the dispatcher runs it every RETENTION_SWEEP_SECONDS. `dead` notifications get
no `expires_at`, so they stay until an operator replays or deletes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["expiry_for", "sweep_expired"]

log = structlog.get_logger(__name__)


def expiry_for(
    finished_at: datetime, created_at: datetime | None, *, retention_days: int, replay_window_seconds: int
) -> datetime:
    """Return when a done notification may be deleted.

    That is `retention_days` after it finished, but never earlier than the replay window after
    Intercom created it, so the deduplication record outlives any accepted replay.
    """
    retained = _later(finished_at, timedelta(days=retention_days))
    replay_guard = _later(created_at or finished_at, timedelta(seconds=replay_window_seconds))
    return max(retained, replay_guard)


def _later(moment: datetime, delay: timedelta) -> datetime:
    # The receiver accepts a `created_at` up to the end of year 9999, where adding the window
    # overflows. Such a record then expires at the largest date, so in practice never.
    try:
        return moment + delay
    except OverflowError:
        return datetime.max.replace(tzinfo=moment.tzinfo)


async def sweep_expired(database: AsyncDatabase, now: datetime) -> int:
    """Delete done and ignored notifications whose `expires_at` has passed, and return how many."""
    deleted = 0
    # NOTE: nx-27017 0.8.1 stores a date written with `$set` as a string, and a filter with `$in`
    # no longer matches such a date, so each status gets its own delete.
    for status in ("done", "ignored"):
        result = await database.notifications.delete_many({"status": status, "expires_at": {"$lte": now}})
        deleted += result.deleted_count
    if deleted:
        log.info("notifications.expired_deleted", count=deleted)
    return deleted
