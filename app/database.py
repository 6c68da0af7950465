"""The MongoDB connection: one AsyncMongoClient per process and the indexes each package needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

__all__ = ["connect", "create_indexes", "is_embedded_server"]

log = structlog.get_logger(__name__)

# The `process` that nx-27017, the embedded server, reports in `buildInfo`. MongoDB reports none there.
EMBEDDED_PROCESS = "nx_27017"

IndexCreator = Callable[[AsyncDatabase], Awaitable[None]]


def connect(uri: str, *, server_selection_timeout_ms: int = 3000) -> AsyncMongoClient:
    """Return a client for `uri`. Writes wait for a majority of the replica set."""
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        w="majority",
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        connectTimeoutMS=server_selection_timeout_ms,
        appname="intercom-app",
    )


async def is_embedded_server(database: AsyncDatabase) -> bool:
    """Return whether `database` is served by the embedded nx-27017 server rather than MongoDB."""
    try:
        info = await database.client.admin.command("buildInfo")
    except OperationFailure as error:
        # Only MongoDB has access control that could reject the command.
        log.warning("database.build_info_failed", error=str(error))
        return False
    return info.get("process") == EMBEDDED_PROCESS


async def create_indexes(database: AsyncDatabase) -> None:
    """Create every package's indexes; safe to run on each start."""
    from canvas.storage import create_indexes as canvas_indexes
    from oauth.storage import create_indexes as oauth_indexes
    from webhooks.storage import create_indexes as webhook_indexes

    embedded = await is_embedded_server(database)
    await webhook_indexes(database, embedded=embedded)
    creators: list[IndexCreator] = [oauth_indexes, canvas_indexes]
    for creator in creators:
        await creator(database)
    log.info("database.indexes_ready", database=database.name, embedded=embedded)
