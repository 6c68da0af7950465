"""The `tickets` projection, from every `ticket.*` notification."""

from __future__ import annotations

from typing import Any

import structlog

from webhooks.project_documents import apply_group, merge_document
from webhooks.project_fields import as_datetime, as_dict, as_id, contact_ids, version_of
from webhooks.registry import NotificationContext

__all__ = ["project_ticket", "ticket_fields", "ticket_of"]

log = structlog.get_logger(__name__)


def ticket_of(context: NotificationContext) -> dict[str, Any] | None:
    """Return the ticket of a notification, or None when it carries none.

    From API 2.15 `ticket.closed` nests the ticket under `data.item.ticket`; every other ticket
    topic has the ticket as `data.item`.
    """
    item = context.item
    nested = item.get("ticket")
    if isinstance(nested, dict) and item.get("type") != "ticket":
        item = nested
    if item.get("type") not in (None, "ticket"):
        return None
    return item if as_id(item.get("id")) else None


def ticket_fields(ticket: dict[str, Any]) -> dict[str, Any]:
    """Return the `tickets` document fields that a ticket object sets (see `TicketView`)."""
    attributes = as_dict(ticket.get("ticket_attributes"))
    state = ticket.get("ticket_state")
    ticket_type = ticket.get("ticket_type")
    if isinstance(state, dict):
        # API 2.14 and later: the state is an object with a category and two labels.
        state_category = state.get("category")
        internal_label, external_label = state.get("internal_label"), state.get("external_label")
    else:
        # API 2.11: the state is a plain string and the labels are fields of the ticket.
        state_category = state if isinstance(state, str) else None
        internal_label = ticket.get("ticket_state_internal_label")
        external_label = ticket.get("ticket_state_external_label")

    return {
        "ticket_number": as_id(ticket.get("ticket_id")),
        "title": _text(attributes.get("_default_title_")),
        "description": _text(attributes.get("_default_description_")),
        "category": _text(ticket.get("category")),
        "ticket_type": _text(as_dict(ticket_type).get("name")) if isinstance(ticket_type, dict) else _text(ticket_type),
        "state": _text(state_category),
        "state_internal_label": _text(internal_label),
        "state_external_label": _text(external_label),
        "open": ticket.get("open") if isinstance(ticket.get("open"), bool) else None,
        "contact_ids": contact_ids(ticket),
        "admin_assignee_id": as_id(ticket.get("admin_assignee_id")),
        "created_at": as_datetime(ticket.get("created_at")),
        "updated_at": as_datetime(ticket.get("updated_at")),
    }


async def project_ticket(context: NotificationContext) -> None:
    """Store the ticket's state when it is at least as new as the stored one."""
    ticket = ticket_of(context)
    if ticket is None:
        log.info("projection.skipped", **context.log_fields(), reason="the notification carries no ticket with an id")
        return

    key = {"app": context.app, "workspace_id": context.workspace_id, "ticket_id": as_id(ticket["id"])}
    fields = ticket_fields(ticket)
    version = version_of(ticket.get("updated_at"), context)
    await merge_document(context.database.tickets, key, lambda document: apply_group(document, "version", version, fields))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
