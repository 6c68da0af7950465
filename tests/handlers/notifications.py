"""Build notification bodies and store them the way the webhook receiver does."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any


DEFAULT_APP = "default"
DEFAULT_WORKSPACE = "ws7k2p9q"


def make_body(
    topic: str,
    item: dict[str, Any],
    *,
    notification_id: str | None = None,
    workspace_id: str = DEFAULT_WORKSPACE,
    created_at: int = 1781258400,
) -> bytes:
    """Return the bytes of a notification envelope as Intercom sends it."""
    envelope = {
        "type": "notification_event",
        "app_id": workspace_id,
        "data": {"type": "notification_event_data", "item": item},
        "links": {},
        "id": notification_id or f"notif_{uuid.uuid4()}",
        "topic": topic,
        "delivery_status": "pending",
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": created_at,
        "created_at": created_at,
        "self": None,
    }
    return json.dumps(envelope).encode()


def order_key_of(item: dict[str, Any]) -> str | None:
    """Return the order key the receiver derives from an item."""
    if isinstance(item.get("ticket"), dict) and item.get("type") != "ticket":
        return f"ticket:{item['ticket'].get('id')}"
    if item.get("type") in ("ticket", "conversation", "contact") and item.get("id"):
        return f"{item['type']}:{item['id']}"
    if item.get("type") == "contact_tag" and isinstance(item.get("contact"), dict):
        return f"contact:{item['contact'].get('id')}"
    return None


def notification_document(body: bytes, *, app: str = DEFAULT_APP, received_at: datetime | None = None) -> dict[str, Any]:
    """Return the `notifications` document the receiver stores for `body`."""
    envelope = json.loads(body)
    received_at = received_at or datetime.now(timezone.utc)
    created = envelope.get("created_at")
    item = (envelope.get("data") or {}).get("item") or {}
    return {
        "app": app,
        "notification_id": envelope.get("id") or f"ping_{uuid.uuid4().hex}",
        "workspace_id": envelope.get("app_id"),
        "topic": envelope.get("topic"),
        "body": body.decode(),
        "created_at": datetime.fromtimestamp(created, tz=timezone.utc) if created is not None else None,
        "delivery_attempts": envelope.get("delivery_attempts"),
        "received_at": received_at,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": received_at,
        "errors": [],
        "order_key": order_key_of(item) if isinstance(item, dict) else None,
    }


async def store_notifications(database, bodies: list[bytes], *, app: str = DEFAULT_APP) -> list[dict[str, Any]]:
    """Insert one pending notification per body, in order; return the documents."""
    documents = [notification_document(body, app=app) for body in bodies]
    if documents:
        await database.notifications.insert_many(documents)
    return documents
