"""Canvas Kit keeps no collections of its own: it reads the projections through `webhooks.readmodel`."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["create_indexes"]


async def create_indexes(database: AsyncDatabase) -> None:
    """Create canvas indexes (none yet)."""
