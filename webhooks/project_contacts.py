"""The `contacts` projection, from `contact.*` notifications (users, leads and their tags).

The profile fields follow the contact's `updated_at`. Tags come only from the tag topics
(`contact.user.tag.created`, `contact.lead.tag.deleted`, ...), because a contact payload
lists tag ids without names. Each tag keeps its own version in `tag_events`, so a removal
and an addition of one tag converge on the newer of the two in any order.
"""

from __future__ import annotations

from typing import Any

import structlog

from webhooks.project_documents import apply_group, merge_document
from webhooks.project_fields import as_datetime, as_dict, as_id, version_of
from webhooks.registry import NotificationContext

__all__ = ["contact_of", "project_contact"]

log = structlog.get_logger(__name__)


def contact_of(context: NotificationContext) -> dict[str, Any] | None:
    """Return the contact a notification is about: the item, or the tagged contact of a tag topic."""
    item = context.item
    contact = as_dict(item.get("contact")) if item.get("type") == "contact_tag" else item
    if contact.get("type") not in (None, "contact"):
        return None
    return contact if as_id(contact.get("id")) else None


async def project_contact(context: NotificationContext) -> None:
    """Store the contact's profile when newer than stored, and apply a tag change."""
    contact = contact_of(context)
    if contact is None:
        log.info("projection.skipped", **context.log_fields(), reason="the notification carries no contact with an id")
        return

    profile = {
        "role": _text(contact.get("role")),
        "name": _text(contact.get("name")),
        "email": _text(contact.get("email")),
        "external_id": as_id(contact.get("external_id")),
        "created_at": as_datetime(contact.get("created_at")),
        "updated_at": as_datetime(contact.get("updated_at")),
    }
    profile_version = version_of(contact.get("updated_at"), context)
    tag_change = _tag_change(context)

    def merge(document: dict[str, Any]) -> None:
        # A contact known only from a tag change has a profile from the tag payload's contact.
        apply_group(document, "version", profile_version, profile)
        if tag_change is not None:
            tag_id, event = tag_change
            events = dict(document.get("tag_events") or {})
            stored = events.get(tag_id)
            if stored is None or stored.get("version", "") <= event["version"]:
                events[tag_id] = event
            document["tag_events"] = events
        events = document.get("tag_events") or {}
        document["tags"] = sorted(event["name"] for event in events.values() if event.get("present") and event.get("name"))

    key = {"app": context.app, "workspace_id": context.workspace_id, "contact_id": as_id(contact["id"])}
    await merge_document(context.database.contacts, key, merge)


def _tag_change(context: NotificationContext) -> tuple[str, dict[str, Any]] | None:
    if not context.topic.endswith((".tag.created", ".tag.deleted")):
        return None
    item = context.item
    tag = as_dict(item.get("tag"))
    tag_id = as_id(tag.get("id"))
    if tag_id is None:
        return None
    event = {
        "name": _text(tag.get("name")),
        "present": context.topic.endswith(".tag.created"),
        "version": version_of(item.get("created_at"), context),
    }
    return tag_id, event


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
