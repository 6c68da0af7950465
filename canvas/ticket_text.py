"""Titles and state labels of tickets and conversations in a canvas, for teammates and customers."""

from __future__ import annotations

from datetime import datetime

from webhooks.readmodel import ConversationView, TicketView

from canvas.actions import SubmitAction
from canvas.components import ListItem
from canvas.limits import clip
from canvas.relative_time import describe_age

__all__ = [
    "TICKET_PREFIX",
    "conversation_state",
    "conversation_title",
    "rating_text",
    "ticket_item",
    "ticket_state",
    "ticket_title",
]

# Component id prefix of a ticket's list row; the rest of the id is Intercom's ticket id.
TICKET_PREFIX = "ticket:"

MAX_TITLE_CHARS = 80

_STATE_NAMES = {
    "submitted": "Submitted",
    "in_progress": "In progress",
    "waiting_on_customer": "Waiting on customer",
    "resolved": "Resolved",
}


def ticket_title(ticket: TicketView) -> str:
    """Return "#38 Checkout button unresponsive", falling back to the ticket type or id."""
    number = f"#{ticket.ticket_number} " if ticket.ticket_number else ""
    title = ticket.title or ticket.ticket_type or f"Ticket {ticket.ticket_id}"
    return clip(number + title, MAX_TITLE_CHARS)


def ticket_state(ticket: TicketView, *, for_customer: bool) -> str:
    """Return the ticket's state label.

    Customers get Intercom's external label. Teammates get the state's name and, when the
    workspace renamed it, the internal label too: "In progress (With engineering)".
    """
    name = _STATE_NAMES.get(ticket.state or "") or (ticket.state or "").replace("_", " ").capitalize()
    if for_customer:
        return ticket.state_external_label or name or "Unknown state"
    internal = ticket.state_internal_label
    if internal and name and internal.casefold() != name.casefold():
        return f"{name} ({internal})"
    return internal or name or ticket.state_external_label or "Unknown state"


def conversation_title(conversation: ConversationView) -> str:
    """Return the conversation's title, else its newest message, else its id."""
    text = conversation.title or conversation.last_message or f"Conversation {conversation.conversation_id}"
    return clip(text, MAX_TITLE_CHARS)


def conversation_state(conversation: ConversationView) -> str:
    """Return "Open", "Closed" or "Snoozed"."""
    return (conversation.state or "unknown state").capitalize()


def rating_text(conversation: ConversationView) -> str | None:
    """Return "Rated 5/5 ★★★★★" for a rated conversation, None otherwise."""
    if conversation.rating is None:
        return None
    stars = "★" * max(0, min(conversation.rating, 5))
    return f"Rated {conversation.rating}/5 {stars}"


def ticket_item(ticket: TicketView, *, for_customer: bool, now: datetime, changed_word: str) -> ListItem:
    """Return the clickable list row of a ticket: title, state label and age of the last change."""
    return ListItem(
        id=TICKET_PREFIX + ticket.ticket_id,
        title=ticket_title(ticket),
        subtitle=ticket_state(ticket, for_customer=for_customer),
        tertiary_text=f"{changed_word} {describe_age(ticket.updated_at, now)}",
        action=SubmitAction(),
    )
