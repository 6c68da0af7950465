"""The per-contact `activity` timeline: one entry per notification and contact it concerns.

Summaries are short sentences a teammate reads in the Inbox, built only from the payload, so
replaying a notification writes the same entry again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from webhooks.project_contacts import contact_of
from webhooks.project_conversations import conversation_parts
from webhooks.project_fields import as_datetime, as_dict, as_id, contact_ids, occurred_at, plain_text, shorten
from webhooks.project_tickets import ticket_fields, ticket_of
from webhooks.registry import NotificationContext

__all__ = ["activity_subject", "record_activity", "summarize"]

SNIPPET_CHARS = 80


def activity_subject(context: NotificationContext) -> tuple[str, str | None, list[str]] | None:
    """Return (subject type, subject id, contact ids) for a notification, or None when it has no contact."""
    topic = context.topic
    if topic.startswith("ticket."):
        ticket = ticket_of(context)
        return ("ticket", as_id(ticket.get("id")), contact_ids(ticket)) if ticket else None
    if topic.startswith("conversation."):
        item = context.item
        return "conversation", as_id(item.get("id")), contact_ids(item)
    if topic.startswith("contact."):
        contact = contact_of(context)
        return ("contact", as_id(contact.get("id")), [as_id(contact.get("id"))]) if contact else None
    return None


def summarize(context: NotificationContext) -> str | None:
    """Return the timeline sentence for a notification, or None for events not worth a line."""
    topic = context.topic
    if topic.startswith("ticket."):
        return _ticket_summary(context)
    if topic.startswith("conversation."):
        return _conversation_summary(context)
    if topic.startswith("contact."):
        return _contact_summary(context)
    return None


async def record_activity(context: NotificationContext) -> None:
    """Write one timeline entry per contact the notification concerns."""
    subject = activity_subject(context)
    summary = summarize(context)
    moment = occurred_at(context)
    if subject is None or summary is None or moment is None:
        return

    subject_type, subject_id, contacts = subject
    for contact_id in contacts:
        await _write_entry(context, contact_id, {
            "topic": context.topic,
            "occurred_at": moment,
            "summary": summary,
            "subject_type": subject_type,
            "subject_id": subject_id,
        })


async def _write_entry(context: NotificationContext, contact_id: str, fields: dict[str, Any]) -> None:
    key = {
        "app": context.app,
        "workspace_id": context.workspace_id,
        "notification_id": context.notification_id,
        "contact_id": contact_id,
    }
    collection = context.database.activity
    try:
        await collection.replace_one(key, {**key, **fields}, upsert=True)
    except DuplicateKeyError:
        # A concurrent run inserted the same entry first; the content is the same, so replace it.
        await collection.replace_one(key, {**key, **fields})


# Tickets ---------------------------------------------------------------------------------

TICKET_PHRASES = {
    "ticket.admin.assigned": "{ticket} assigned to a teammate",
    "ticket.team.assigned": "{ticket} assigned to a team",
    "ticket.note.created": "Internal note added to {ticket}",
    "ticket.admin.replied": "Teammate replied on {ticket}",
    "ticket.contact.replied": "Customer replied on {ticket}",
    "ticket.contact.attached": "Added to {ticket}",
    "ticket.contact.detached": "Removed from {ticket}",
    "ticket.attribute.updated": "{ticket} details updated",
    "ticket.resolved": "{ticket} resolved",
    "ticket.deleted": "{ticket} deleted",
}


def _ticket_summary(context: NotificationContext) -> str | None:
    ticket = ticket_of(context)
    if ticket is None:
        return None
    fields = ticket_fields(ticket)
    name = _ticket_name(fields)
    label = fields["state_external_label"] or fields["state_internal_label"] or _humanize(fields["state"])

    topic = context.topic
    if topic == "ticket.created":
        return _capitalize(f"{name} created" + (f" ({label})" if label else ""))
    if topic == "ticket.state.updated":
        return _capitalize(f"{name} moved to {label}" if label else f"{name} changed state")
    if topic == "ticket.closed":
        return _capitalize(f"{name} closed" + (f" ({label})" if label else ""))
    if topic == "ticket.rating.provided":
        stars = as_dict(ticket.get("ticket_rating") or context.item.get("rating")).get("rating")
        return f"Rated {name} {_stars(stars)}" if isinstance(stars, int) else f"Rated {name}"
    phrase = TICKET_PHRASES.get(topic, "{ticket} updated")
    return _capitalize(phrase.format(ticket=name))


def _ticket_name(fields: dict[str, Any]) -> str:
    """Return "ticket #38 'Title'" (lower case, for use inside a sentence)."""
    number = fields["ticket_number"]
    name = f"ticket #{number}" if number else "a ticket"
    if fields["title"]:
        name += f" '{shorten(fields['title'], SNIPPET_CHARS)}'"
    return name


# Conversations ---------------------------------------------------------------------------


def _conversation_summary(context: NotificationContext) -> str | None:
    item = context.item
    topic = context.topic
    title = item.get("title") if isinstance(item.get("title"), str) and item.get("title") else None
    conversation = f"the conversation '{shorten(title, SNIPPET_CHARS)}'" if title else "the conversation"
    part = _event_part(item, topic)
    author = as_dict(part.get("author")) if part else {}
    actor = author.get("name") if isinstance(author.get("name"), str) and author.get("name") else "A teammate"
    snippet = _snippet(part.get("body") if part else None)

    if topic == "conversation.user.created":
        first = _snippet(as_dict(item.get("source")).get("body"))
        return f"Started {_a(conversation)}" + (f": {first}" if first else "")
    if topic == "conversation.user.replied":
        return f"Replied in {conversation}" + (f": {snippet}" if snippet else "")
    if topic in ("conversation.admin.replied", "conversation.operator.replied"):
        return f"{actor} replied in {conversation}" + (f": {snippet}" if snippet else "")
    if topic == "conversation.admin.single.created":
        return f"{actor} started {_a(conversation)}" + (f": {snippet}" if snippet else "")
    if topic == "conversation.admin.noted":
        return f"{actor} added an internal note to {conversation}"
    if topic in ("conversation.admin.assigned", "conversation.admin.open.assigned"):
        return f"{actor} assigned {conversation} to {_assignee(item, part)}"
    if topic == "conversation.admin.closed":
        return f"{actor} closed {conversation}"
    if topic == "conversation.admin.opened":
        return f"{actor} reopened {conversation}"
    if topic == "conversation.admin.snoozed":
        until = _utc_text(item.get("snoozed_until"))
        return f"{actor} snoozed {conversation}" + (f" until {until}" if until else "")
    if topic == "conversation.admin.unsnoozed":
        return _capitalize(f"{conversation} was unsnoozed")
    if topic == "conversation.rating.added":
        rating = as_dict(item.get("conversation_rating"))
        stars = rating.get("rating")
        remark = _snippet(rating.get("remark"))
        text = f"Rated {conversation} {_stars(stars)}" if isinstance(stars, int) else f"Rated {conversation}"
        return text + (f": {remark}" if remark else "")
    if topic == "conversation.priority.updated":
        priority = item.get("priority")
        return _capitalize(f"{conversation} priority set to {str(priority).replace('_', ' ')}") if priority else None
    if topic in ("conversation.read", "conversation.deleted"):
        return None
    return _capitalize(f"{conversation} was updated")


def _event_part(item: dict[str, Any], topic: str) -> dict[str, Any] | None:
    """Return the newest part matching the event: the reply, the close, the assignment, ..."""
    expected_types = {
        "conversation.user.replied": ("comment",),
        "conversation.admin.replied": ("comment",),
        "conversation.operator.replied": ("comment",),
        "conversation.admin.single.created": ("comment",),
        "conversation.admin.noted": ("note",),
        "conversation.admin.assigned": ("assignment", "default_assignment"),
        "conversation.admin.open.assigned": ("assignment", "default_assignment"),
        "conversation.admin.closed": ("close",),
        "conversation.admin.opened": ("open",),
        "conversation.admin.snoozed": ("snoozed",),
    }.get(topic)
    parts = [part for part in conversation_parts(item) if expected_types is None or part.get("part_type") in expected_types]
    if not parts:
        return None
    return max(parts, key=lambda part: (part.get("created_at") if isinstance(part.get("created_at"), int) else 0))


def _assignee(item: dict[str, Any], part: dict[str, Any] | None) -> str:
    assigned = as_dict(part.get("assigned_to")) if part else {}
    assignee_id = as_id(assigned.get("id")) or as_id(item.get("admin_assignee_id"))
    if assignee_id is None:
        return "nobody"
    for candidate in conversation_parts(item):
        author = as_dict(candidate.get("author"))
        if as_id(author.get("id")) == assignee_id and isinstance(author.get("name"), str) and author.get("name"):
            return author["name"]
    return f"teammate {assignee_id}"


# Contacts --------------------------------------------------------------------------------

CONTACT_PHRASES = {
    "contact.user.created": "Signed up as a user",
    "contact.lead.created": "Started as a lead",
    "contact.lead.signed_up": "Signed up, turning from a lead into a user",
    "contact.user.updated": "Profile updated",
    "contact.lead.updated": "Profile updated",
    "contact.lead.added_email": "Added an email address",
    "contact.email.updated": "Email address changed",
    "contact.archived": "Contact archived",
    "contact.unarchive": "Contact unarchived",
    "contact.deleted": "Contact deleted",
    "contact.merged": "Merged with another contact",
    "contact.subscribed": "Subscribed to a message type",
    "contact.unsubscribed": "Unsubscribed from a message type",
}


def _contact_summary(context: NotificationContext) -> str | None:
    topic = context.topic
    if topic.endswith((".tag.created", ".tag.deleted")):
        name = as_dict(context.item.get("tag")).get("name")
        label = f"'{name}'" if isinstance(name, str) and name else "a tag"
        return f"Tagged {label}" if topic.endswith(".created") else f"Tag {label} removed"
    return CONTACT_PHRASES.get(topic, "Contact details changed")


# Wording helpers -------------------------------------------------------------------------


def _snippet(body: object) -> str | None:
    text = shorten(plain_text(body), SNIPPET_CHARS)
    return f"'{text}'" if text else None


def _stars(stars: object) -> str:
    return "1 star" if stars == 1 else f"{stars} stars"


def _humanize(value: str | None) -> str | None:
    return value.replace("_", " ").capitalize() if value else None


def _a(conversation: str) -> str:
    return conversation.replace("the conversation", "a conversation", 1)


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _utc_text(value: object) -> str | None:
    moment: datetime | None = as_datetime(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else None
