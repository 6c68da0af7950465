"""Replay: put dead (and optionally done or ignored) notifications back in the queue.

Replay resets the attempt count, keeps the error history, and stamps `replayed_at`. It is
idempotent: a replayed notification is `pending`, so a second identical replay matches
nothing until the notification is dead or done again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["ReplayFilter", "replay_notifications"]


@dataclass(frozen=True)
class ReplayFilter:
    """Filter of the notifications to replay. A field left empty matches every notification."""

    app: str | None = None
    workspace_id: str | None = None
    topic: str | None = None
    since: datetime | None = None  # received at or after
    until: datetime | None = None  # received before
    notification_ids: tuple[str, ...] = field(default_factory=tuple)
    include_done: bool = False
    # Notifications that replay protection stored as `ignored` are replayed only on request, for
    # when the sender's clock was wrong.
    include_ignored: bool = False

    @property
    def statuses(self) -> list[str]:
        """Return the statuses this filter re-queues."""
        return ["dead", *(["done"] if self.include_done else []), *(["ignored"] if self.include_ignored else [])]

    def query(self) -> dict[str, Any]:
        """Return the `notifications` query for this filter."""
        query: dict[str, Any] = {"status": {"$in": self.statuses}}
        if self.app:
            query["app"] = self.app
        if self.workspace_id:
            query["workspace_id"] = self.workspace_id
        if self.topic:
            query["topic"] = self.topic
        if self.notification_ids:
            query["notification_id"] = {"$in": list(self.notification_ids)}
        received: dict[str, datetime] = {}
        if self.since:
            received["$gte"] = self.since
        if self.until:
            received["$lt"] = self.until
        if received:
            query["received_at"] = received
        return query


async def replay_notifications(database: AsyncDatabase, replay_filter: ReplayFilter, now: datetime) -> int:
    """Re-queue the matching notifications as due now; return how many were re-queued."""
    result = await database.notifications.update_many(
        replay_filter.query(),
        {
            "$set": {"status": "pending", "attempts": 0, "next_attempt_at": now, "replayed_at": now},
            "$unset": {"lease_owner": "", "lease_until": "", "processed_at": "", "expires_at": "",
                       "parked_on": "", "was_parked": "", "note": ""},
        },
    )
    return result.modified_count
