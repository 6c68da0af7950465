"""The projected customer state and the read interface the canvas uses.

Projections write these documents; nothing else does. Every document carries `app` and
`workspace_id`, and every query here filters on both, so one tenant never reads another's data.
Times are timezone-aware UTC datetimes. `updated_at` is Intercom's own `updated_at` for the
object: a projection only replaces a document with data whose `updated_at` is newer.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["ActivityEntry", "ActivityReader", "ContactView", "ConversationView", "TicketView"]

OPEN_TICKET_STATES = ("submitted", "in_progress", "waiting_on_customer")


class _Document(BaseModel):
    model_config = ConfigDict(extra="ignore")

    app: str
    workspace_id: str


class TicketView(_Document):
    """A ticket as projected from `ticket.*` notifications (collection `tickets`)."""

    ticket_id: str  # Intercom's API id
    ticket_number: str | None = None  # the number shown in the Inbox and Messenger
    title: str | None = None
    description: str | None = None
    category: str | None = None  # Customer, Back-office or Tracker
    ticket_type: str | None = None
    state: str | None = None  # submitted, in_progress, waiting_on_customer or resolved
    state_internal_label: str | None = None  # for teammates only
    state_external_label: str | None = None  # what customers see
    open: bool | None = None
    contact_ids: list[str] = []
    admin_assignee_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ConversationView(_Document):
    """A conversation as projected from `conversation.*` notifications (collection `conversations`)."""

    conversation_id: str
    title: str | None = None
    state: str | None = None  # open, closed or snoozed
    open: bool | None = None
    contact_ids: list[str] = []
    admin_assignee_id: str | None = None
    rating: int | None = None  # 1 to 5
    rating_remark: str | None = None
    last_message: str | None = None  # plain text of the newest part we saw, shortened
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ContactView(_Document):
    """A contact as projected from `contact.*` notifications (collection `contacts`)."""

    contact_id: str
    role: str | None = None  # user or lead
    name: str | None = None
    email: str | None = None
    external_id: str | None = None
    tags: list[str] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ActivityEntry(_Document):
    """One line of a contact's timeline, one per notification (collection `activity`)."""

    contact_id: str
    notification_id: str
    topic: str
    occurred_at: datetime  # Intercom's `created_at` of the notification
    summary: str  # short human text, e.g. "Ticket #38 moved to In progress"
    subject_type: str | None = None  # ticket, conversation or contact
    subject_id: str | None = None


class ActivityReader:
    """Read one contact's projected state, always scoped to one app and workspace."""

    def __init__(self, database: AsyncDatabase) -> None:
        self._database = database

    async def contact(self, app: str, workspace_id: str, contact_id: str) -> ContactView | None:
        document = await self._database.contacts.find_one(
            {"app": app, "workspace_id": workspace_id, "contact_id": contact_id}
        )
        return ContactView.model_validate(document) if document else None

    async def tickets(
        self, app: str, workspace_id: str, contact_id: str, *, open_only: bool = False, limit: int = 10
    ) -> tuple[list[TicketView], int]:
        """Return the contact's tickets, newest change first, and how many there are in all."""
        query: dict = {"app": app, "workspace_id": workspace_id, "contact_ids": contact_id}
        if open_only:
            query["state"] = {"$in": list(OPEN_TICKET_STATES)}
        total = await self._database.tickets.count_documents(query)
        cursor = self._database.tickets.find(query).sort([("updated_at", DESCENDING), ("ticket_id", DESCENDING)]).limit(limit)
        return [TicketView.model_validate(d) async for d in cursor], total

    async def ticket(self, app: str, workspace_id: str, ticket_id: str) -> TicketView | None:
        document = await self._database.tickets.find_one(
            {"app": app, "workspace_id": workspace_id, "ticket_id": ticket_id}
        )
        return TicketView.model_validate(document) if document else None

    async def conversations(
        self, app: str, workspace_id: str, contact_id: str, *, limit: int = 5
    ) -> tuple[list[ConversationView], int]:
        """Return the contact's conversations, newest change first, and how many there are."""
        query = {"app": app, "workspace_id": workspace_id, "contact_ids": contact_id}
        total = await self._database.conversations.count_documents(query)
        cursor = self._database.conversations.find(query).sort([("updated_at", DESCENDING), ("conversation_id", DESCENDING)]).limit(limit)
        return [ConversationView.model_validate(d) async for d in cursor], total

    async def activity(
        self, app: str, workspace_id: str, contact_id: str, *, limit: int = 10
    ) -> tuple[list[ActivityEntry], int]:
        """Return the contact's newest timeline entries and how many there are in all."""
        query = {"app": app, "workspace_id": workspace_id, "contact_id": contact_id}
        total = await self._database.activity.count_documents(query)
        cursor = self._database.activity.find(query).sort([("occurred_at", DESCENDING), ("notification_id", DESCENDING)]).limit(limit)
        return [ActivityEntry.model_validate(d) async for d in cursor], total
