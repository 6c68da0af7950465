"""Liveness and readiness endpoints."""

from __future__ import annotations

import asyncio

from pymongo.errors import PyMongoError
from quart import Blueprint, current_app

from app.embedded_db import EmbeddedMongo

__all__ = ["blueprint"]

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz():
    """Return 200 while the process serves requests."""
    return {"status": "ok"}


@blueprint.get("/readyz")
async def readyz():
    """Return 200 when the database replies to a ping within a second, else 503 with the reason.

    With MONGODB_URI unset it also checks that the embedded server's process is alive.
    """
    services = current_app.extensions["intercom"]
    settings = services.settings
    if not settings.MONGODB_URI and EmbeddedMongo(settings.DATA_DIR / "mongo").running_pid() is None:
        return {
            "status": "unavailable",
            "database": f"the embedded MongoDB server under {settings.DATA_DIR / 'mongo'} is not running",
        }, 503
    try:
        await asyncio.wait_for(services.database.command("ping"), timeout=1.0)
    except (PyMongoError, TimeoutError) as error:
        return {"status": "unavailable", "database": f"not reachable: {type(error).__name__}"}, 503
    return {"status": "ok", "database": "ok"}
