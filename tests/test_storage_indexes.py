"""Indexes of the notification inbox on the embedded server and on MongoDB."""

from __future__ import annotations

from app.database import is_embedded_server
from tests.handlers.fixtures import database  # noqa: F401  (fixture)
from webhooks.storage import create_indexes

UNIQUE_ONLY = {(("_id", 1),), (("app", 1), ("notification_id", 1))}


async def index_keys(collection) -> set[tuple]:
    return {tuple(index["key"].items()) async for index in await collection.list_indexes()}


async def test_embedded_server_detected(database):
    assert await is_embedded_server(database)


async def test_embedded_inbox_has_unique_index_only(database):
    assert await index_keys(database.notifications) == UNIQUE_ONLY


async def test_query_indexes_dropped_on_embedded(database):
    await create_indexes(database, embedded=False)
    created = await index_keys(database.notifications)

    await create_indexes(database, embedded=True)

    assert (("expires_at", 1),) in created
    assert len(created) == 6
    assert await index_keys(database.notifications) == UNIQUE_ONLY
