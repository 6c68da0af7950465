"""The leaser on its own: candidates found in batches, claimed once each, across leasers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.handlers.fixtures import database  # noqa: F401  (fixture)
from tests.handlers.notifications import make_body, store_notifications
from webhooks.leasing import CANDIDATES_PER_QUERY, FairLeaser


async def test_two_leasers_claim_each_notification_once(database):
    total = 3 * CANDIDATES_PER_QUERY + 1
    stored = await store_notifications(
        database, [make_body("test.event", {"type": "conversation", "id": str(i)}) for i in range(total)]
    )
    first = FairLeaser(database, "worker-a", lease_seconds=30)
    second = FairLeaser(database, "worker-b", lease_seconds=30)

    leased = []
    while True:
        # Both leasers have candidates from the same query, so each also tries ones the other claimed.
        documents = [await leaser.lease(datetime.now(timezone.utc)) for leaser in (first, second)]
        if documents == [None, None]:
            break
        leased.extend(document for document in documents if document is not None)

    assert sorted(document["_id"] for document in leased) == sorted(document["_id"] for document in stored)
    assert {document["lease_owner"] for document in leased} == {"worker-a", "worker-b"}
    assert all(document["attempts"] == 1 for document in leased)


async def test_busy_candidate_is_skipped(database):
    [busy, free] = await store_notifications(database, [
        make_body("test.event", {"type": "conversation", "id": "busy"}),
        make_body("test.event", {"type": "conversation", "id": "free"}),
    ])
    leaser = FairLeaser(database, "worker-a", lease_seconds=30)
    leaser.hold_back(busy["app"], busy["workspace_id"], "conversation:busy", float("inf"))

    document = await leaser.lease(datetime.now(timezone.utc))
    assert document["_id"] == free["_id"]
    assert await leaser.lease(datetime.now(timezone.utc)) is None

    leaser.release(busy["app"], busy["workspace_id"], "conversation:busy")
    document = await leaser.lease(datetime.now(timezone.utc))
    assert document["_id"] == busy["_id"]


async def test_retried_notification_leased_beside_busy_key(database):
    [busy, retried] = await store_notifications(database, [
        make_body("test.event", {"type": "conversation", "id": "busy"}),
        make_body("test.event", {"type": "conversation", "id": "retried"}),
    ])
    # A retry writes `next_attempt_at` with `$set`, as the dispatcher does.
    due = datetime.now(timezone.utc) - timedelta(seconds=1)
    await database.notifications.update_one({"_id": retried["_id"]}, {"$set": {"next_attempt_at": due}})
    leaser = FairLeaser(database, "worker-a", lease_seconds=30)
    leaser.hold_back(busy["app"], busy["workspace_id"], "conversation:busy", float("inf"))

    document = await leaser.lease(datetime.now(timezone.utc))

    assert document is not None
    assert document["_id"] == retried["_id"]
