"""Backfill: fill a new workspace's projections from Intercom's API.

Backfill pages through the workspace's tickets and conversations updated in the last
BACKFILL_DAYS, then fetches the contacts they mention, and stores each object as a synthetic
notification in `notifications` (the schema of `webhooks/storage.py`) with the object as
`data.item`. The dispatcher projects them like webhooks, so a backfilled object and a live
webhook about it converge on the newer `updated_at`, in either order.

Progress and the resume point live in the installation's `backfill` field:
`{status, phase, cursor, contact_ids, counts, since, started_at, finished_at, error}`.
A crashed run resumes at the last stored page; a re-stored object is a duplicate
`notification_id` and is skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from oauth.client import InstallationClient, IntercomApi
from oauth.errors import IntercomApiError

__all__ = ["Backfill", "ProgressCallback", "build_notification"]

log = structlog.get_logger(__name__)

# Called with the phase, objects stored in it so far, and the total Intercom reported (or None).
ProgressCallback = Callable[[str, int, int | None], None]

PHASES = ("tickets", "conversations", "contacts", "done")
SEARCHES = {
    "tickets": ("tickets/search", "tickets", "ticket", "ticket.created"),
    "conversations": ("conversations/search", "conversations", "conversation", "conversation.user.created"),
}


class Backfill:
    """Run or resume the backfill of one workspace."""

    def __init__(
        self,
        api: IntercomApi,
        database: AsyncDatabase,
        *,
        days: int,
        page_size: int,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._api = api
        self._database = database
        self._days = days
        self._page_size = page_size
        self._on_stored = on_stored
        self._running: set[tuple[str, str]] = set()

    def is_running(self, app: str, workspace_id: str) -> bool:
        """Return whether this process is backfilling the workspace now."""
        return (app, workspace_id) in self._running

    async def run(self, app: str, workspace_id: str, *, progress: ProgressCallback | None = None) -> dict[str, int]:
        """Backfill the workspace, resuming an unfinished run; return the objects stored per kind."""
        client = await self._api.client_for(app, workspace_id)
        self._running.add((app, workspace_id))
        try:
            return await self._run(client, progress)
        finally:
            self._running.discard((app, workspace_id))

    async def _run(self, client: InstallationClient, progress: ProgressCallback | None) -> dict[str, int]:
        app, workspace_id = client.app, client.workspace_id
        installation = await self._api.installations.get(app, workspace_id) or {}
        state = _resume_state(installation.get("backfill"), days=self._days)
        state["status"] = "running"
        state["error"] = None
        await self._save(app, workspace_id, state)
        log.info("backfill.started", app=app, workspace_id=workspace_id, phase=state["phase"])

        try:
            while state["phase"] != "done":
                if state["phase"] == "contacts":
                    await self._contacts(client, state, progress)
                else:
                    await self._search_pages(client, state, progress)
        except Exception as error:
            state["status"] = "failed"
            state["error"] = str(error)
            await self._save(app, workspace_id, state)
            log.error("backfill.failed", app=app, workspace_id=workspace_id, phase=state["phase"],
                      error=str(error), error_type=type(error).__name__)
            raise

        state["status"] = "done"
        state["finished_at"] = datetime.now(UTC)
        await self._save(app, workspace_id, state)
        log.info("backfill.finished", app=app, workspace_id=workspace_id, **state["counts"])
        return dict(state["counts"])

    async def _search_pages(self, client: InstallationClient, state: dict, progress: ProgressCallback | None) -> None:
        phase = state["phase"]
        path, list_key, kind, topic = SEARCHES[phase]

        while True:
            pagination: dict[str, Any] = {"per_page": self._page_size}
            if state["cursor"]:
                pagination["starting_after"] = state["cursor"]
            page = await client.request_json(
                "POST",
                path,
                json={"query": {"field": "updated_at", "operator": ">", "value": state["since"]}, "pagination": pagination},
            )

            items = [item for item in page.get(list_key) or [] if isinstance(item, dict) and item.get("id")]
            for item in items:
                await self._store(client, kind, topic, item)
                state["contact_ids"] = _merge_ids(state["contact_ids"], _contact_ids(item))
            state["counts"][phase] += len(items)

            next_cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
            state["cursor"] = next_cursor
            if not next_cursor or not items:
                state["phase"] = PHASES[PHASES.index(phase) + 1]
                state["cursor"] = None
            await self._save(client.app, client.workspace_id, state)
            if progress:
                progress(phase, state["counts"][phase], page.get("total_count"))
            if state["phase"] != phase:
                return

    async def _contacts(self, client: InstallationClient, state: dict, progress: ProgressCallback | None) -> None:
        total = state["counts"]["contacts"] + len(state["contact_ids"])
        while state["contact_ids"]:
            contact_id = state["contact_ids"][0]
            try:
                contact = await client.request_json("GET", f"contacts/{contact_id}")
            except IntercomApiError as error:
                # Intercom returns 404 or 410 for a merged or deleted contact, which is skipped.
                if error.status not in (404, 410):
                    raise
                contact = None
            if contact and contact.get("id"):
                role = contact.get("role") if contact.get("role") in ("user", "lead") else "user"
                await self._store(client, "contact", f"contact.{role}.created", contact)
                state["counts"]["contacts"] += 1
            state["contact_ids"] = state["contact_ids"][1:]
            await self._save(client.app, client.workspace_id, state)
            if progress:
                progress("contacts", state["counts"]["contacts"], total)
        state["phase"] = "done"

    async def _store(self, client: InstallationClient, kind: str, topic: str, item: dict[str, Any]) -> None:
        document = build_notification(client.app, client.workspace_id, kind, topic, item)
        try:
            await self._database.notifications.insert_one(document)
        except DuplicateKeyError:
            return
        if self._on_stored:
            self._on_stored()

    async def _save(self, app: str, workspace_id: str, state: dict) -> None:
        await self._api.installations.set_fields(app, workspace_id, {"backfill": state})


def build_notification(app: str, workspace_id: str, kind: str, topic: str, item: dict[str, Any]) -> dict[str, Any]:
    """Return a `notifications` document carrying `item` as a webhook of `topic` would."""
    updated_at = _timestamp(item.get("updated_at")) or _timestamp(item.get("created_at")) or int(time.time())
    notification_id = f"backfill:{kind}:{item['id']}:{updated_at}"
    envelope = {
        "type": "notification_event",
        "app_id": workspace_id,
        "data": {"type": "notification_event_data", "item": item},
        "links": {},
        "id": notification_id,
        "topic": topic,
        "delivery_status": None,
        "delivery_attempts": 0,
        "delivered_at": 0,
        "first_sent_at": updated_at,
        "created_at": updated_at,
        "self": None,
    }
    now = datetime.now(UTC)
    return {
        "app": app,
        "notification_id": notification_id,
        "workspace_id": workspace_id,
        "topic": topic,
        "body": json.dumps(envelope, ensure_ascii=False),
        "created_at": datetime.fromtimestamp(updated_at, UTC),
        "delivery_attempts": 0,
        "received_at": now,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "lease_owner": None,
        "lease_until": None,
        "errors": [],
        "last_error": None,
        "processed_at": None,
        "expires_at": None,
        "order_key": f"{kind}:{item['id']}",
        "source": "backfill",
    }


def _resume_state(previous: dict | None, *, days: int) -> dict[str, Any]:
    if previous and previous.get("status") in ("running", "failed", "pending") and previous.get("phase") in PHASES:
        return previous
    return {
        "status": "pending",
        "phase": "tickets",
        "cursor": None,
        "contact_ids": [],
        "counts": {"tickets": 0, "conversations": 0, "contacts": 0},
        "since": int(time.time()) - days * 86400,
        "started_at": datetime.now(UTC),
        "finished_at": None,
        "error": None,
    }


def _contact_ids(item: dict[str, Any]) -> list[str]:
    contacts = item.get("contacts")
    if isinstance(contacts, dict):
        contacts = contacts.get("contacts")
    if not isinstance(contacts, list):
        return []
    return [str(contact["id"]) for contact in contacts if isinstance(contact, dict) and contact.get("id")]


def _merge_ids(existing: list[str], new: list[str]) -> list[str]:
    seen = set(existing)
    merged = list(existing)
    for value in new:
        if value not in seen:
            seen.add(value)
            merged.append(value)
    return merged


def _timestamp(value: object) -> int | None:
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    return None
