"""Liveness and readiness endpoints."""

from __future__ import annotations

import asyncio

from pymongo.errors import PyMongoError
from quart import Blueprint, current_app

__all__ = ["blueprint"]

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz():
    """Answer 200 while the process serves requests."""
    return {"status": "ok"}


@blueprint.get("/readyz")
async def readyz():
    """Answer 200 when the database answers a ping within a second, else 503 with the reason."""
    services = current_app.extensions["intercom"]
    try:
        await asyncio.wait_for(services.database.command("ping"), timeout=1.0)
    except (PyMongoError, TimeoutError) as error:
        return {"status": "unavailable", "database": f"not reachable: {type(error).__name__}"}, 503
    return {"status": "ok", "database": "ok"}
