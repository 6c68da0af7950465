"""A handler that records that it started and then never finishes, for crash and stop tests."""

from __future__ import annotations

import asyncio
import os

from webhooks.registry import HandlerRegistry, NotificationContext


async def block_forever(context: NotificationContext) -> None:
    """Record the start in `handler_starts`, then wait until cancelled."""
    await context.database.handler_starts.insert_one({"notification_id": context.notification_id, "pid": os.getpid()})
    await asyncio.Event().wait()


def register(registry: HandlerRegistry) -> None:
    """Register the blocking handler for every topic."""
    registry.add("*", block_forever, name="blocking.block_forever")
