"""Projections of the built-in customer-activity app.

Each projection is a handler like any other: tickets, conversations and contacts keep the
newest state of each object, and the activity timeline keeps one entry per notification and
contact. All of them are order-insensitive and idempotent.
"""

from __future__ import annotations

from webhooks.project_activity import record_activity
from webhooks.project_contacts import project_contact
from webhooks.project_conversations import project_conversation
from webhooks.project_tickets import project_ticket
from webhooks.registry import HandlerRegistry

__all__ = ["register_projections"]


def register_projections(registry: HandlerRegistry) -> None:
    """Register the ticket, conversation, contact and activity projections on `registry`."""
    registry.add("ticket.*", project_ticket, name="projections.tickets")
    registry.add("conversation.*", project_conversation, name="projections.conversations")
    registry.add("contact.*", project_contact, name="projections.contacts")
    for pattern in ("ticket.*", "conversation.*", "contact.*"):
        registry.add(pattern, record_activity, name="projections.activity")
