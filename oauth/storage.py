"""Collections written by the install flow and their indexes."""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["create_indexes"]


async def create_indexes(database: AsyncDatabase) -> None:
    """Create the indexes of `installations` and `oauth_states`."""
    await database.installations.create_index(
        [("app", ASCENDING), ("workspace_id", ASCENDING)], unique=True, name="app_workspace_id"
    )
    await database.oauth_states.create_index("state", unique=True, name="state")
    await database.oauth_states.create_index("created_at", expireAfterSeconds=600, name="state_ttl")
