"""Re-encrypt every stored token and client secret with the first TOKEN_ENCRYPTION_KEYS key."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from oauth.apps import secrets_update
from oauth.crypto import TokenCipher

__all__ = ["count_encrypted", "rotate_keys"]

log = structlog.get_logger(__name__)


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
        rotated = [cipher.rotate(value) for value in app.get("client_secrets_encrypted", [])]
        result = await database.apps.update_one(*secrets_update(app, rotated))
        if result.matched_count == 0:
            # `apps add` or `apps rotate-secret` changed the secrets meanwhile, so this copy is stale.
            log.warning("keys.app_changed_during_rotation", app=app["_id"], fix="run the key rotation again")
            continue
        counts["app_secrets"] += len(rotated)
        if progress:
            progress(1)

    return counts
