"""Per-order-key locks, so two notifications about one ticket, conversation or contact never
run at the same time, in one worker or across many.

A lock is a document in `order_locks`, unique on (`app`, `workspace_id`, `order_key`), with an
owner and an expiry like a notification lease. A lock whose owner died expires and can be
taken over. A notification that finds its key locked is parked (see the dispatcher): the
owner's release wakes parked notifications when the lock document records waiters.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

__all__ = ["OrderLocks"]


class OrderLocks:
    """Acquire, renew and release order-key locks in the `order_locks` collection."""

    def __init__(self, database: AsyncDatabase, lease_seconds: float) -> None:
        self._collection = database.order_locks
        self._lease = timedelta(seconds=lease_seconds)

    async def acquire(
        self, app: str, workspace_id: str | None, order_key: str, owner: str, now: datetime, *, waiters: bool = False
    ) -> bool:
        """Take the lock for `owner`, or return False when another owner has a live lock.

        Pass `waiters=True` when notifications may be parked on the key, so the release wakes them.
        """
        key = _key(app, workspace_id, order_key)
        try:
            await self._collection.insert_one({**key, "owner": owner, "until": now + self._lease, "waiters": waiters})
            return True
        except DuplicateKeyError:
            pass

        # The lock exists: take it over only if its owner stopped renewing it.
        taken_over = await self._collection.find_one_and_update(
            {**key, "until": {"$lt": now}},
            {"$set": {"owner": owner, "until": now + self._lease, "waiters": True}},
        )
        return taken_over is not None

    async def mark_waiting(self, app: str, workspace_id: str | None, order_key: str) -> bool:
        """Record that a notification waits for the lock, or return False when the lock is gone."""
        result = await self._collection.update_one(_key(app, workspace_id, order_key), {"$set": {"waiters": True}})
        return result.matched_count > 0

    async def renew(self, owners: list[str], now: datetime) -> None:
        """Extend every lock held by one of `owners`."""
        if owners:
            await self._collection.update_many(
                {"owner": {"$in": owners}}, {"$set": {"until": now + self._lease}}
            )

    async def release(self, app: str, workspace_id: str | None, order_key: str, owner: str) -> bool:
        """Delete the lock if `owner` still has it, and return whether notifications wait for it."""
        document = await self._collection.find_one_and_delete({**_key(app, workspace_id, order_key), "owner": owner})
        return bool(document and document.get("waiters"))


def _key(app: str, workspace_id: str | None, order_key: str) -> dict[str, str | None]:
    return {"app": app, "workspace_id": workspace_id, "order_key": order_key}
