"""The objects one process shares: settings, database, app registry, read model, handlers.

Routes reach them as `current_app.extensions["intercom"]`; CLI commands get them from
`open_services()`. Packages never import `app`; they read the attributes they need.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from app.database import connect, create_indexes
from app.embedded_db import EmbeddedMongo
from app.settings import Settings
from oauth.apps import DEFAULT_APP_KEY, AppRegistry, RegisteredApp
from oauth.crypto import TokenCipher
from oauth.service import build_intercom_api
from webhooks.readmodel import ActivityReader
from webhooks.registry import HandlerRegistry, load_handler_modules
from webhooks.wakeup import Wakeup

__all__ = ["Services", "mongo_uri", "open_services"]


@dataclass
class Services:
    """Everything a route, worker or command needs, built once per process."""

    settings: Settings
    client: AsyncMongoClient
    database: AsyncDatabase
    cipher: TokenCipher
    apps: AppRegistry
    reader: ActivityReader
    handlers: HandlerRegistry
    wakeup: Wakeup = field(default_factory=Wakeup)
    dispatcher: object | None = None
    # Calls Intercom's REST API for an installation; set by the oauth package. Canvas views
    # use `await intercom_api.add_note(app, workspace_id, conversation_id, html)`.
    intercom_api: object | None = None
    _oauth_api: object | None = field(default=None, repr=False)

    async def close(self) -> None:
        # Tests may swap `intercom_api` for a stand-in; the oauth runtime built here is closed.
        if self._oauth_api is not None:
            await self._oauth_api.close()
        await self.client.close()


async def build_services(settings: Settings, uri: str) -> Services:
    """Connect to `uri`, create indexes and build the shared objects."""
    from webhooks.projections import register_projections

    client = connect(uri)
    database = client[settings.MONGODB_DATABASE]
    await create_indexes(database)

    cipher = TokenCipher(settings.TOKEN_ENCRYPTION_KEYS)
    default_app = RegisteredApp(
        key=DEFAULT_APP_KEY,
        client_id=settings.INTERCOM_CLIENT_ID,
        client_secrets=tuple(settings.client_secrets()),
    )
    handlers = HandlerRegistry()
    register_projections(handlers)
    load_handler_modules(handlers, settings.HANDLER_MODULES)
    services = Services(
        settings=settings,
        client=client,
        database=database,
        cipher=cipher,
        apps=AppRegistry(database, default_app, decrypt=cipher.decrypt),
        reader=ActivityReader(database),
        handlers=handlers,
    )
    services.intercom_api = build_intercom_api(settings, database, cipher, on_stored=services.wakeup.notify)
    services._oauth_api = services.intercom_api
    return services


@contextlib.contextmanager
def mongo_uri(settings: Settings, *, own: bool) -> Iterator[str]:
    """Yield the MongoDB URI to use, starting the embedded server when MONGODB_URI is unset.

    With `own=True` (the service) this process starts and later stops the embedded server,
    and fails if another process already runs it on DATA_DIR. With `own=False` (workers and
    commands) it attaches to a running one first and starts its own only when none runs.
    """
    if settings.MONGODB_URI:
        yield settings.MONGODB_URI
        return
    embedded = EmbeddedMongo(settings.DATA_DIR / "mongo")
    if not own:
        attached = embedded.attach()
        if attached:
            yield attached
            return
    with embedded:
        yield embedded.uri


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Open the services for a CLI command, attaching to a running embedded database if any."""
    with mongo_uri(settings, own=False) as uri:
        services = await build_services(settings, uri)
        try:
            yield services
        finally:
            await services.close()
