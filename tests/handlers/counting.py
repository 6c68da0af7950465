"""A handler for every topic that records each run in the `handler_runs` collection.

An item field `sleep_seconds` makes the run last that long, so tests can observe overlap.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone

from webhooks.registry import HandlerRegistry, NotificationContext


async def record_run(context: NotificationContext) -> None:
    """Record the start and end of this run, with the process id."""
    started = datetime.now(timezone.utc)
    delay = context.item.get("sleep_seconds")
    if isinstance(delay, (int, float)):
        await asyncio.sleep(delay)
    await context.database.handler_runs.insert_one({
        "notification_id": context.notification_id,
        "workspace_id": context.workspace_id,
        "topic": context.topic,
        "order_key": context.item.get("order_key"),
        "pid": os.getpid(),
        "started_at": started,
        "finished_at": datetime.now(timezone.utc),
    })


def register(registry: HandlerRegistry) -> None:
    """Register the recording handler for every topic."""
    registry.add("*", record_run, name="counting.record_run")
