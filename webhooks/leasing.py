"""Leasing of due notifications, round-robin across workspaces.

A lease is taken with one `find_one_and_update` that sets `status: processing`, the owner
and the expiry, and counts the attempt. Fairness: the leaser keeps a rotation of the
(app, workspace) pairs that have due work and leases from each pair in turn. A flood from
one workspace therefore delays another workspace's notification by about
REFRESH_EVERY_LEASES plus the worker's concurrency other notifications at most.

Order keys known to be busy (held by a running notification, or just found locked) are left
out of the lease query for their workspace. A backlog about one conversation then does not
make the other notifications of that workspace wait behind it.

Due notifications are found a few at a time per workspace and then claimed one by one by
`_id`, with a filter that still requires them to be pending and due. One query that filters
the collection thus serves several leases, and a candidate another worker claimed first is
skipped.
"""

from __future__ import annotations

import random
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["FairLeaser"]

# The rotation is rebuilt after this many leases or seconds, so new workspaces join it soon.
REFRESH_EVERY_LEASES = 32
REFRESH_SECONDS = 0.5
# Expired leases are looked for at most this often.
EXPIRED_CHECK_SECONDS = 1.0
MAX_BUSY_KEYS_PER_QUERY = 100
# Due notifications fetched per query for one (app, workspace) pair, and how long they are kept.
CANDIDATES_PER_QUERY = 8
CANDIDATE_SECONDS = 2.0


class FairLeaser:
    """Lease due notifications for one worker, taking turns between (app, workspace) pairs."""

    def __init__(self, database: AsyncDatabase, owner: str, lease_seconds: float) -> None:
        self._notifications = database.notifications
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        self._rotation: deque[tuple[str, str | None]] = deque()
        self._leases_since_refresh = 0
        self._refreshed_at = float("-inf")
        self._expired_checked_at = float("-inf")
        # (app, workspace) -> {order key: monotonic time until which it is left out}
        self._busy_keys: dict[tuple[str, str | None], dict[str, float]] = {}
        # (app, workspace) -> (monotonic time fetched, [(_id, order key), ...] not yet tried)
        self._candidates: dict[tuple[str, str | None], tuple[float, deque[tuple[Any, str | None]]]] = {}

    async def lease(self, now: datetime) -> dict[str, Any] | None:
        """Lease one due notification and return it as leased, or None when nothing is due.

        A notification taken over from an expired lease carries `expired_lease_owner`, the
        worker that stopped renewing it.
        """
        if time.monotonic() - self._expired_checked_at >= EXPIRED_CHECK_SECONDS:
            self._expired_checked_at = time.monotonic()
            document = await self._lease_expired(now)
            if document is not None:
                return document

        if self._refresh_due():
            await self._refresh(now)
        document = await self._lease_from_rotation(now)
        if document is None and self._leases_since_refresh > 0:
            # The rotation ran dry; look once more for workspaces that joined since.
            await self._refresh(now)
            document = await self._lease_from_rotation(now)
        return document

    def hold_back(self, app: str, workspace_id: str | None, order_key: str, seconds: float) -> None:
        """Leave notifications with `order_key` out of this worker's leases for `seconds`."""
        self._busy_keys.setdefault((app, workspace_id), {})[order_key] = time.monotonic() + seconds

    def release(self, app: str, workspace_id: str | None, order_key: str) -> None:
        """Let notifications with `order_key` be leased again."""
        keys = self._busy_keys.get((app, workspace_id))
        if keys is not None:
            keys.pop(order_key, None)

    def _is_busy(self, pair: tuple[str, str | None], order_key: str | None) -> bool:
        if order_key is None:
            return False
        until = self._busy_keys.get(pair, {}).get(order_key)
        return until is not None and until > time.monotonic()

    def _busy_filter(self, pair: tuple[str, str | None]) -> dict[str, Any]:
        keys = self._busy_keys.get(pair)
        if not keys:
            return {}
        now = time.monotonic()
        for key in [key for key, until in keys.items() if until <= now]:
            del keys[key]
        # A bounded list keeps the query small; keys beyond it are only parked again, not lost.
        busy = sorted(keys, key=keys.__getitem__, reverse=True)[:MAX_BUSY_KEYS_PER_QUERY]
        if not busy:
            return {}
        # NOTE: this `$and` of `$ne` means `$nin`. nx-27017 0.8.1 stores a date written with `$set`
        # as a string, and a filter with `$nin` no longer matches such a date, so retried
        # notifications would wait until their workspace had no busy key.
        return {"$and": [{"order_key": {"$ne": key}} for key in busy]}

    def _refresh_due(self) -> bool:
        return (
            not self._rotation
            or self._leases_since_refresh >= REFRESH_EVERY_LEASES
            or time.monotonic() - self._refreshed_at >= REFRESH_SECONDS
        )

    async def _refresh(self, now: datetime) -> None:
        due = {"status": "pending", "next_attempt_at": {"$lte": now}}
        pairs: list[tuple[str, str | None]] = []
        for app in sorted(await self._notifications.distinct("app", due)):
            workspaces = await self._notifications.distinct("workspace_id", {**due, "app": app})
            pairs.extend((app, workspace) for workspace in sorted(workspaces, key=lambda w: w or ""))

        # Keep the turn order: pairs still waiting for their turn go first, new pairs after.
        # Sets keep this linear: a deployment may have thousands of workspaces with due work.
        due_pairs = set(pairs)
        waiting = [pair for pair in self._rotation if pair in due_pairs]
        already_waiting = set(waiting)
        self._rotation = deque(waiting + [pair for pair in pairs if pair not in already_waiting])
        self._candidates = {pair: kept for pair, kept in self._candidates.items() if pair in due_pairs}
        self._leases_since_refresh = 0
        self._refreshed_at = time.monotonic()

    async def _lease_from_rotation(self, now: datetime) -> dict[str, Any] | None:
        while self._rotation:
            pair = self._rotation.popleft()
            document = await self._lease_from_pair(pair, now)
            if document is not None:
                self._rotation.append(pair)
                self._leases_since_refresh += 1
                return document
        return None

    async def _lease_from_pair(self, pair: tuple[str, str | None], now: datetime) -> dict[str, Any] | None:
        """Claim one due notification of `pair`: kept candidates first, then freshly found ones."""
        fetched_at, candidates = self._candidates.get(pair, (0.0, deque()))
        fresh = not candidates or time.monotonic() - fetched_at >= CANDIDATE_SECONDS
        while True:
            if fresh:
                candidates = await self._find_candidates(pair, now)
                self._candidates[pair] = (time.monotonic(), candidates)
            document = await self._claim_first(pair, candidates, now)
            if document is not None or fresh:
                return document
            # Every kept candidate was taken or busy, so look once more before giving up the turn.
            fresh = True

    async def _find_candidates(self, pair: tuple[str, str | None], now: datetime) -> deque[tuple[Any, str | None]]:
        app, workspace_id = pair
        cursor = self._notifications.find(
            {
                "status": "pending",
                "app": app,
                "workspace_id": workspace_id,
                "next_attempt_at": {"$lte": now},
                **self._busy_filter(pair),
            },
            {"_id": 1, "order_key": 1},
        ).limit(CANDIDATES_PER_QUERY)
        found = [(document["_id"], document.get("order_key")) for document in await cursor.to_list()]
        # Workers that found the same candidates try them in different orders, so they rarely
        # race for one notification.
        random.shuffle(found)
        return deque(found)

    async def _claim_first(
        self, pair: tuple[str, str | None], candidates: deque[tuple[Any, str | None]], now: datetime
    ) -> dict[str, Any] | None:
        while candidates:
            identifier, order_key = candidates.popleft()
            if self._is_busy(pair, order_key):
                continue
            document = await self._notifications.find_one_and_update(
                {"_id": identifier, "status": "pending", "next_attempt_at": {"$lte": now}},
                self._lease_update(now),
                return_document=ReturnDocument.AFTER,
            )
            if document is not None:
                return document
        return None

    async def _lease_expired(self, now: datetime) -> dict[str, Any] | None:
        previous = await self._notifications.find_one_and_update(
            {"status": "processing", "lease_until": {"$lt": now}},
            self._lease_update(now),
            return_document=ReturnDocument.BEFORE,
        )
        if previous is None:
            return None
        return {
            **previous,
            "status": "processing",
            "attempts": previous.get("attempts", 0) + 1,
            "lease_owner": self._owner,
            "lease_until": now + self._lease,
            "expired_lease_owner": previous.get("lease_owner"),
        }

    def _lease_update(self, now: datetime) -> dict[str, Any]:
        return {
            "$set": {"status": "processing", "lease_owner": self._owner, "lease_until": now + self._lease},
            "$inc": {"attempts": 1},
        }
