"""Run the registered projections on fixture bodies without a dispatcher, and read their state."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import INTERCOM_FIXTURES
from webhooks.registry import HandlerRegistry, NotificationContext

PROJECTION_COLLECTIONS = ("tickets", "conversations", "contacts", "activity")


def webhook_fixtures() -> list[bytes]:
    """Return the bytes of every shared webhook fixture, sorted by file name."""
    return [path.read_bytes() for path in sorted(INTERCOM_FIXTURES.glob("webhook.*.json"))]


def fixture(name: str) -> bytes:
    """Return the bytes of one shared fixture, e.g. `webhook.ticket.created.json`."""
    return (INTERCOM_FIXTURES / name).read_bytes()


def context_for(database, body: bytes, *, app: str = "default") -> NotificationContext:
    """Build the context the dispatcher gives handlers for a stored body."""
    envelope = json.loads(body)
    return NotificationContext(
        app=app,
        workspace_id=envelope.get("app_id"),
        notification_id=envelope.get("id") or "ping",
        topic=envelope.get("topic") or "",
        envelope=envelope,
        database=database,
    )


async def project(database, registry: HandlerRegistry, bodies: list[bytes]) -> None:
    """Run every handler registered for each body's topic, one body after another."""
    for body in bodies:
        context = context_for(database, body)
        for _, handler in registry.handlers_for(context.topic):
            await handler(context)


async def projected_state(database) -> dict[str, list[dict[str, Any]]]:
    """Return every projection document without `_id` and `revision`, in a stable order."""
    state: dict[str, list[dict[str, Any]]] = {}
    for name in PROJECTION_COLLECTIONS:
        documents = [
            {key: value for key, value in document.items() if key not in ("_id", "revision")}
            async for document in database[name].find()
        ]
        state[name] = sorted(documents, key=lambda d: json.dumps(d, sort_keys=True, default=str))
    return state
