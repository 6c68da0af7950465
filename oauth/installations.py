"""The installation store: upsert on install, deactivate on uninstall, purge after retention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from oauth.storage import ACTIVE, REVOKED, UNINSTALLED

__all__ = ["Installations", "WorkspaceIdentity", "PROJECTION_COLLECTIONS"]

log = structlog.get_logger(__name__)

# Collections holding a workspace's data, deleted by the purge after an uninstall.
PROJECTION_COLLECTIONS = ("tickets", "conversations", "contacts", "activity", "notifications")


@dataclass(frozen=True)
class WorkspaceIdentity:
    """The workspace and installing admin that `/me` returns after the code exchange."""

    workspace_id: str
    workspace_name: str | None
    region: str
    admin_id: str | None
    admin_name: str | None
    admin_email: str | None


class Installations:
    """Read and change `installations` documents, always by (`app`, `workspace_id`).

    NOTE: nx-27017 0.8.1 stores a top-level datetime written with `$set` as a string and
    ignores `$setOnInsert` on upserts. So top-level dates here are written by `insert_one` or
    `replace_one` only. Datetimes nested in a `$set` subdocument keep their type.
    """

    def __init__(self, database: AsyncDatabase, *, purge_days: int) -> None:
        self._collection = database.installations
        self._database = database
        self._purge_days = purge_days

    async def get(self, app: str, workspace_id: str) -> dict[str, Any] | None:
        return await self._collection.find_one({"app": app, "workspace_id": workspace_id})

    async def upsert(
        self, app: str, identity: WorkspaceIdentity, *, token_encrypted: str, api_base_url: str
    ) -> dict[str, Any]:
        """Store a fresh install or a reinstall: replace the token and keep the workspace's data."""
        now = datetime.now(UTC)
        document: dict[str, Any] = {
            "app": app,
            "workspace_id": identity.workspace_id,
            "workspace_name": identity.workspace_name,
            "region": identity.region,
            "api_base_url": api_base_url,
            "admin": {"id": identity.admin_id, "name": identity.admin_name, "email": identity.admin_email},
            "token_encrypted": token_encrypted,
            "status": ACTIVE,
            "first_installed_at": now,
            "installed_at": now,
            "updated_at": now,
            "uninstalled_at": None,
            "uninstall_reason": None,
            "purge_after": None,
            "purged_at": None,
            "backfill": None,
            "token_check": None,
        }
        existing = await self.get(app, identity.workspace_id)
        if existing is None:
            try:
                await self._collection.insert_one(document)
                return document
            except DuplicateKeyError:
                existing = await self.get(app, identity.workspace_id)

        document["_id"] = existing["_id"]
        document["first_installed_at"] = existing.get("first_installed_at") or now
        await self._collection.replace_one({"_id": existing["_id"]}, document)
        return document

    async def deactivate(self, app: str, workspace_id: str, *, status: str, reason: str) -> bool:
        """Mark the installation `uninstalled` or `revoked`, erase its token and schedule the purge.

        Returns False when there is no active installation to change.
        """
        if status not in (UNINSTALLED, REVOKED):
            raise ValueError(f"status {status!r} is not {UNINSTALLED!r} or {REVOKED!r}")
        existing = await self.get(app, workspace_id)
        if existing is None or existing.get("status") != ACTIVE:
            return False

        now = datetime.now(UTC)
        changed = {
            **existing,
            "status": status,
            "token_encrypted": None,
            "uninstalled_at": now,
            "uninstall_reason": reason,
            "updated_at": now,
            "purge_after": now + timedelta(days=self._purge_days),
            "purged_at": None,
        }
        # The status condition makes this a compare-and-set: of two concurrent signals, one wins.
        result = await self._collection.replace_one({"_id": existing["_id"], "status": ACTIVE}, changed)
        if result.modified_count:
            log.info("installation.deactivated", app=app, workspace_id=workspace_id, status=status, reason=reason)
        return bool(result.modified_count)

    async def purge_due(self, *, now: datetime | None = None) -> list[tuple[str, str]]:
        """Delete the data of every workspace whose purge time has passed; return their keys."""
        now = now or datetime.now(UTC)
        purged = []
        # NOTE: nx-27017 0.8.1 does not match `{"purged_at": None}` against a stored null, so
        # purged installations are skipped here rather than in the query.
        cursor = self._collection.find({"status": {"$in": [UNINSTALLED, REVOKED]}, "purge_after": {"$lte": now}})
        async for installation in cursor:
            if installation.get("purged_at"):
                continue
            app, workspace_id = installation["app"], installation["workspace_id"]
            await self.purge_workspace(app, workspace_id)
            purged.append((app, workspace_id))
        return purged

    async def purge_workspace(self, app: str, workspace_id: str) -> dict[str, int]:
        """Delete the workspace's projections and notifications; return the count per collection."""
        counts = {}
        for name in PROJECTION_COLLECTIONS:
            result = await self._database[name].delete_many({"app": app, "workspace_id": workspace_id})
            counts[name] = result.deleted_count
        installation = await self.get(app, workspace_id)
        if installation is not None and installation.get("status") != ACTIVE:
            await self._collection.replace_one(
                {"_id": installation["_id"], "status": installation["status"]},
                {**installation, "purged_at": datetime.now(UTC)},
            )
        log.info("installation.purged", app=app, workspace_id=workspace_id, **counts)
        return counts

    async def active_with_backfill(self, status: str) -> AsyncIterator[dict[str, Any]]:
        """Yield the active installations whose backfill has `status`."""
        async for installation in self._collection.find({"status": ACTIVE, "backfill.status": status}):
            yield installation

    async def set_fields(self, app: str, workspace_id: str, fields: dict[str, Any]) -> None:
        """Set `fields` on the installation (backfill progress, token check results).

        Each value must be a subdocument or a non-date scalar; see the NOTE in the class docstring.
        """
        await self._collection.update_one({"app": app, "workspace_id": workspace_id}, {"$set": fields})
