"""Per-order-key locks, so two notifications about one ticket, conversation or contact never
run at the same time, in one worker or across many.

A lock is a document in `order_locks`, unique on (`app`, `workspace_id`, `order_key`), with an
owner and an expiry like a notification lease. A lock whose owner died expires and can be
taken over. A notification that finds its key locked is parked, and the owner's release
wakes parked notifications when the lock document records waiters.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

__all__ = ["OrderKeyGate", "OrderLocks"]


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


class OrderKeyGate:
    """Let one leased notification per order key through, parking the others until it leaves."""

    def __init__(self, database: AsyncDatabase, worker_id: str, lease_seconds: float, wakeup: Any) -> None:
        self._notifications = database.notifications
        self._locks = OrderLocks(database, lease_seconds)
        self._worker_id = worker_id
        self._lease = timedelta(seconds=lease_seconds)
        self._wakeup = wakeup

    async def enter(self, document: dict[str, Any]) -> bool:
        """Take the order-key lock of a leased notification, or park it and return False.

        A notification without an order key always enters.
        """
        order_key = document.get("order_key")
        if not order_key:
            return True
        app, workspace_id = document["app"], document.get("workspace_id")
        owner = self._owner(document)
        if await self._locks.acquire(app, workspace_id, order_key, owner, _now(), waiters=bool(document.get("was_parked"))):
            return True

        # Park: pending again without counting the attempt, due only after a lease period in
        # case the holder dies without waking it. The holder's release wakes it earlier.
        await self._notifications.update_one(
            {"_id": document["_id"], "lease_owner": self._worker_id, "status": "processing"},
            {
                "$set": {"status": "pending", "parked_on": order_key, "next_attempt_at": _now() + self._lease},
                "$unset": {"lease_owner": "", "lease_until": ""},
                "$inc": {"attempts": -1},
            },
        )
        if not await self._locks.mark_waiting(app, workspace_id, order_key):
            # The holder released the lock between our attempt and the park, so no other worker wakes this one.
            await self._wake_parked(app, workspace_id, order_key)
        return False

    async def leave(self, document: dict[str, Any]) -> None:
        """Release the order-key lock of a notification that entered, waking the next parked one."""
        order_key = document.get("order_key")
        if not order_key:
            return
        app, workspace_id = document["app"], document.get("workspace_id")
        if await self._locks.release(app, workspace_id, order_key, self._owner(document)):
            await self._wake_parked(app, workspace_id, order_key)

    async def renew(self, notification_ids: list[Any], now: datetime) -> None:
        """Extend the locks of the given leased notifications."""
        await self._locks.renew([f"{self._worker_id}/{_id}" for _id in notification_ids], now)

    async def _wake_parked(self, app: str, workspace_id: str | None, order_key: str) -> None:
        """Make the first notification parked on `order_key` due now.

        It carries `was_parked`, so its own lock records waiters and its release wakes the
        next one. Parked notifications therefore run one after another instead of all at once.
        """
        woken = await self._notifications.find_one_and_update(
            {"app": app, "workspace_id": workspace_id, "status": "pending", "parked_on": order_key},
            {"$set": {"next_attempt_at": _now(), "was_parked": True}, "$unset": {"parked_on": ""}},
        )
        if woken is not None:
            self._wakeup.notify()

    def _owner(self, document: dict[str, Any]) -> str:
        return f"{self._worker_id}/{document['_id']}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _key(app: str, workspace_id: str | None, order_key: str) -> dict[str, str | None]:
    return {"app": app, "workspace_id": workspace_id, "order_key": order_key}
