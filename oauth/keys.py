"""Re-encrypt every stored token and client secret with the first TOKEN_ENCRYPTION_KEYS key."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from oauth.apps import AppStoreError, secrets_update
from oauth.crypto import TokenCipher

__all__ = ["count_encrypted", "rotate_keys"]

log = structlog.get_logger(__name__)

# How many times one app's secrets are read again when other changes keep coming in.
ROTATION_ATTEMPTS = 3


async def count_encrypted(database: AsyncDatabase) -> int:
    """Return how many documents hold an encrypted token or client secrets."""
    tokens = 0
    async for installation in database.installations.find({}, {"token_encrypted": 1}):
        if isinstance(installation.get("token_encrypted"), str):
            tokens += 1
    return tokens + await database.apps.count_documents({})


async def rotate_keys(
    database: AsyncDatabase, cipher: TokenCipher, *, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Re-encrypt installation tokens and app secrets; return how many of each were rewritten.

    Raises DecryptionError, which names no value, when a stored value was encrypted with a key
    that is no longer configured. The values rewritten before it stay valid under the new key.
    """
    counts = {"tokens": 0, "app_secrets": 0}

    # Uninstalled installations hold None; the filter runs here because nx-27017 0.8.1 does
    # not match null values in queries.
    async for installation in database.installations.find({}):
        if not isinstance(installation.get("token_encrypted"), str):
            continue
        rotated = cipher.rotate(installation["token_encrypted"])
        await database.installations.update_one(
            {"_id": installation["_id"], "token_encrypted": installation["token_encrypted"]},
            {"$set": {"token_encrypted": rotated}},
        )
        counts["tokens"] += 1
        if progress:
            progress(1)

    async for app in database.apps.find({}):
        counts["app_secrets"] += await _rotate_app_secrets(database, cipher, app)
        if progress:
            progress(1)

    return counts


async def _rotate_app_secrets(database: AsyncDatabase, cipher: TokenCipher, app: dict) -> int:
    """Re-encrypt one app's client secrets and return how many. Reads the app again if it changed meanwhile."""
    for _ in range(ROTATION_ATTEMPTS):
        rotated = [cipher.rotate(value) for value in app.get("client_secrets_encrypted", [])]
        result = await database.apps.update_one(*secrets_update(app, rotated))
        if result.matched_count:
            return len(rotated)

        # `apps add` or `apps rotate-secret` changed the secrets since the read.
        log.info("keys.app_changed_during_rotation", app=app["_id"])
        app = await database.apps.find_one({"_id": app["_id"]})
        if app is None:
            # `apps remove` removed it, so there is nothing left to re-encrypt.
            return 0
    raise AppStoreError(
        f"the client secrets of app {app['_id']!r} kept changing during the key rotation; run `keys rotate` again"
    )
