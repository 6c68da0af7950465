"""Canvas Kit request bodies shaped like Intercom's, for `intercom-app simulate canvas`.

They follow Intercom's documented request fields (the same shape as the Canvas Kit request
fixtures the tests post), trimmed to what the built-in views read plus the identifying fields.
"""

from __future__ import annotations

from typing import Any

__all__ = ["inbox_initialize", "messenger_live", "messenger_submit"]


def _contact(contact_id: str, workspace_id: str) -> dict[str, Any]:
    return {"type": "contact", "id": contact_id, "workspace_id": workspace_id, "role": "user"}


def inbox_initialize(workspace_id: str, contact_id: str, conversation_id: str = "215470011223344") -> dict[str, Any]:
    """Return an Inbox initialize body for a teammate viewing `contact_id` in a conversation."""
    return {
        "workspace_id": workspace_id,
        "workspace_region": "us",
        "admin": {"type": "admin", "id": "5800123", "name": "Dana Agent", "email": "dana.agent@example.com"},
        "conversation": {
            "type": "conversation",
            "id": conversation_id,
            "state": "open",
            "open": True,
            "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": contact_id}]},
        },
        "contact": _contact(contact_id, workspace_id),
    }


def messenger_live(workspace_id: str, contact_id: str, stored_data: dict[str, Any]) -> dict[str, Any]:
    """Return a live canvas body: `contact_id` views a card whose settings are `stored_data`."""
    return {
        "workspace_id": workspace_id,
        "workspace_region": "us",
        "canvas": {"content_url": "", "stored_data": stored_data},
        "context": {"location": "home", "locale": "en"},
        "contact": _contact(contact_id, workspace_id),
    }


def messenger_submit(workspace_id: str, contact_id: str, component_id: str, stored_data: dict[str, Any]) -> dict[str, Any]:
    """Return a Messenger submit body: `contact_id` used component `component_id` on the card."""
    return {
        "workspace_id": workspace_id,
        "workspace_region": "us",
        "component_id": component_id,
        "context": {"location": "home", "locale": "en"},
        "current_canvas": {"content": {"components": []}, "stored_data": stored_data},
        "input_values": {},
        "user": _contact(contact_id, workspace_id),
    }
