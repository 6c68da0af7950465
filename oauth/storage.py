"""Collections written by the install flow and their indexes.

`installations` has one document per (`app`, `workspace_id`):

    app, workspace_id   the Intercom app key and the workspace id (`/me` `app.id_code`)
    workspace_name      `/me` `app.name`
    region              US, EU or AU; `api_base_url` is that region's REST host
    admin               the installing admin: {id, name, email}
    token_encrypted     the access token, Fernet-encrypted; None once uninstalled
    status              active | uninstalled | revoked
    installed_at, updated_at, uninstalled_at, uninstall_reason
    purge_after         when the workspace's data is deleted (set on uninstall)
    purged_at           when it was deleted
    backfill            {status: pending|running|done|failed, phase, cursor, contact_ids,
                         counts, started_at, finished_at, error}
    token_check         {state: OK|UNHEALTHY|UNKNOWN, message, checked_at}

`oauth_states` has one document per started install: `state`, `app`, `created_at`.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["ACTIVE", "REVOKED", "UNINSTALLED", "create_indexes"]

ACTIVE = "active"
UNINSTALLED = "uninstalled"
REVOKED = "revoked"


async def create_indexes(database: AsyncDatabase) -> None:
    """Create the indexes of `installations` and `oauth_states`."""
    await database.installations.create_index(
        [("app", ASCENDING), ("workspace_id", ASCENDING)], unique=True, name="app_workspace_id"
    )
    await database.installations.create_index(
        [("status", ASCENDING), ("purge_after", ASCENDING)], name="purge_due"
    )
    await database.oauth_states.create_index("state", unique=True, name="state")
    await database.oauth_states.create_index("created_at", expireAfterSeconds=600, name="state_ttl")
