"""Collections written by the webhook path and their indexes.

`notifications` contains one document per stored Intercom notification:

    app               key of the Intercom app the notification came in for
    notification_id   Intercom's `id` (`notif_...`); pings get `ping_<uuid hex>`
    workspace_id      the envelope's `app_id` (Intercom calls the workspace id `app_id`)
    topic             e.g. `ticket.created`
    body              the exact signed request body as text (it is always valid UTF-8, or the
                      parse would have rejected it). Handlers parse it. Documents stored by
                      earlier versions contain the same bytes as binary data
    created_at        Intercom's `created_at` as a datetime (None when missing)
    delivery_attempts Intercom's `delivery_attempts`
    received_at       when we stored it
    status            pending | processing | done | dead | ignored
    attempts          handler runs so far
    next_attempt_at   when it is due (pending) for the next run
    lease_owner       worker id holding it while `processing`
    lease_until       lease expiry; an expired lease makes it due again
    errors            list of {attempt, at, error} for failed runs
    last_error        the newest error text
    processed_at      when it reached done or dead
    expires_at        TTL field, set when done (retention)
    order_key         `ticket:<id>` / `conversation:<id>` / `contact:<id>` or None; two
                      notifications with one order key never run at the same time
    note              why a done notification ran no handlers (e.g. workspace uninstalled)
    parked_on         the order key a pending notification waits for; the lock holder's
                      release makes it due (see `webhooks/order_locks.py`)
    was_parked        set when a parked notification is woken, so its own lock records waiters

`order_locks` contains one document per order key being processed: `app`, `workspace_id`,
`order_key` (unique together), `owner` (worker id and notification `_id`), `until` (expiry,
renewed with the notification lease) and `waiters` (whether a notification is parked on it).

`retry_policies` holds retry overrides per `app` and `workspace_id` (None for the app-wide
override): `max_attempts`, `backoff_base_seconds`, `backoff_max_seconds`, each optional.

The projection collections (`tickets`, `conversations`, `contacts`, `activity`) are described
in `webhooks/readmodel.py`, which is also the read interface the canvas uses.
Besides the fields described there, the projections write bookkeeping fields the reader
ignores: `revision` (the compare-and-swap counter of `webhooks/project_documents.py`),
`version` (the sortable version of the object's state), `last_message_version` and
`rating_version` on conversations, and `tag_events` on contacts (per tag id: `name`,
`present` and `version`).
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["create_indexes"]


# Indexes of `notifications` that serve the dispatcher's queries and retention on MongoDB.
NOTIFICATION_QUERY_INDEXES = [
    IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
    IndexModel([("status", ASCENDING), ("lease_until", ASCENDING)], name="leases"),
    IndexModel([("app", ASCENDING), ("workspace_id", ASCENDING), ("status", ASCENDING)], name="workspace_status"),
    IndexModel("expires_at", expireAfterSeconds=0, name="retention_ttl"),
]


async def create_indexes(database: AsyncDatabase, *, embedded: bool = False) -> None:
    """Create the indexes of the notification inbox and the projections.

    With `embedded` (the database is the embedded nx-27017 server), `notifications` gets only
    its unique index (see the note in `_drop_query_indexes`).
    """
    notifications = database.notifications
    # NOTE: nx-27017 0.8.1 silently skips an index on a lone top-level `id` field, which is
    # one reason the Intercom id is stored as `notification_id` and indexed with `app`.
    await notifications.create_index(
        [("app", ASCENDING), ("notification_id", ASCENDING)], unique=True, name="app_notification_id"
    )
    if embedded:
        await _drop_query_indexes(notifications)
    else:
        await notifications.create_indexes(NOTIFICATION_QUERY_INDEXES)
    await database.order_locks.create_index(
        [("app", ASCENDING), ("workspace_id", ASCENDING), ("order_key", ASCENDING)], unique=True, name="one_lock_per_key"
    )
    await database.order_locks.create_index("owner", name="by_owner")
    await database.retry_policies.create_index(
        [("app", ASCENDING), ("workspace_id", ASCENDING)], unique=True, name="one_policy_per_scope"
    )

    for collection, id_field in (("tickets", "ticket_id"), ("conversations", "conversation_id")):
        await database[collection].create_index(
            [("app", ASCENDING), ("workspace_id", ASCENDING), (id_field, ASCENDING)],
            unique=True,
            name=f"app_workspace_{id_field}",
        )
        await database[collection].create_index(
            [("app", ASCENDING), ("workspace_id", ASCENDING), ("contact_ids", ASCENDING), ("updated_at", DESCENDING)],
            name="by_contact",
        )
    await database.contacts.create_index(
        [("app", ASCENDING), ("workspace_id", ASCENDING), ("contact_id", ASCENDING)],
        unique=True,
        name="app_workspace_contact_id",
    )
    await database.activity.create_index(
        [("app", ASCENDING), ("workspace_id", ASCENDING), ("notification_id", ASCENDING), ("contact_id", ASCENDING)],
        unique=True,
        name="one_entry_per_notification",
    )
    await database.activity.create_index(
        [("app", ASCENDING), ("workspace_id", ASCENDING), ("contact_id", ASCENDING), ("occurred_at", DESCENDING)],
        name="timeline",
    )


async def _drop_query_indexes(notifications: AsyncCollection) -> None:
    """Drop the query indexes of `notifications` from an embedded database created with them.

    NOTE: nx-27017 0.8.1 runs the dispatcher's queries on `notifications` by scanning the
    collection whether these indexes exist or not, so they only slow each insert (by about a
    fifth in a measurement with 10,000 documents). With a TTL index it also deletes expired
    documents before every find, distinct, count and aggregate, which made a lookup by
    `notification_id` more than ten times slower. Retention there relies on `sweep_expired`.
    """
    # Matched by key, because nx-27017 reports its own index names.
    names_by_key = {tuple(index["key"].items()): index["name"] async for index in await notifications.list_indexes()}
    for model in NOTIFICATION_QUERY_INDEXES:
        name = names_by_key.get(tuple(model.document["key"].items()))
        if name is not None:
            await notifications.drop_index(name)
