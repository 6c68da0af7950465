"""Intercom REST objects (API 2.14 shapes) for the fake Intercom's sample workspaces."""

from __future__ import annotations

from typing import Any

__all__ = ["admin_with_app", "contact", "conversation", "ticket"]


def admin_with_app(workspace: Any) -> dict[str, Any]:
    """Return the `GET /me` reply for the workspace's installing admin."""
    return {
        "type": "admin",
        "id": workspace.admin_id,
        "name": workspace.admin_name,
        "email": workspace.admin_email,
        "email_verified": True,
        "app": {
            "type": "app",
            "id_code": workspace.workspace_id,
            "name": workspace.name,
            "created_at": 1717000000,
            "secure": True,
            "identity_verification": False,
            "timezone": "Europe/Dublin" if workspace.region == "EU" else "UTC",
            "region": workspace.region,
        },
        "avatar": {"type": "avatar", "image_url": "https://example.com/avatar.png"},
        "has_inbox_seat": True,
    }


def contact(workspace_id: str, contact_id: str, *, updated_at: int, role: str = "user") -> dict[str, Any]:
    """Return a contact with a name and e-mail address derived from its id."""
    return {
        "type": "contact",
        "id": contact_id,
        "workspace_id": workspace_id,
        "external_id": f"ext-{contact_id}",
        "role": role,
        "email": f"{contact_id}@example.com",
        "phone": None,
        "name": f"Customer {contact_id}",
        "avatar": None,
        "owner_id": None,
        "social_profiles": {"type": "list", "data": []},
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": False,
        "created_at": updated_at - 86400,
        "updated_at": updated_at,
        "signed_up_at": updated_at - 86400,
        "last_seen_at": updated_at,
        "custom_attributes": {},
        "tags": {"type": "list", "data": [], "url": f"/contacts/{contact_id}/tags", "total_count": 0, "has_more": False},
        "notes": {"type": "list", "data": [], "url": f"/contacts/{contact_id}/notes", "total_count": 0, "has_more": False},
        "companies": {"type": "list", "data": [], "url": f"/contacts/{contact_id}/companies", "total_count": 0, "has_more": False},
        "location": {"type": "location", "country": "Ireland", "region": "Dublin", "city": "Dublin"},
    }


def conversation(conversation_id: str, contact_id: str, *, updated_at: int, title: str) -> dict[str, Any]:
    """Return an open conversation started by the contact."""
    return {
        "type": "conversation",
        "id": conversation_id,
        "title": title,
        "created_at": updated_at - 3600,
        "updated_at": updated_at,
        "waiting_since": updated_at,
        "snoozed_until": None,
        "open": True,
        "state": "open",
        "read": False,
        "priority": "not_priority",
        "admin_assignee_id": None,
        "team_assignee_id": None,
        "tags": {"type": "tag.list", "tags": []},
        "source": {
            "type": "conversation",
            "id": f"src-{conversation_id}",
            "delivered_as": "customer_initiated",
            "subject": "",
            "body": f"<p>{title}</p>",
            "author": {"type": "user", "id": contact_id, "name": f"Customer {contact_id}", "email": f"{contact_id}@example.com"},
            "attachments": [],
            "url": None,
            "redacted": False,
        },
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": contact_id, "external_id": f"ext-{contact_id}"}]},
        "teammates": {"type": "admin.list", "teammates": []},
        "custom_attributes": {},
    }


def ticket(ticket_id: str, number: str, contact_id: str, *, updated_at: int, title: str, state: str = "submitted") -> dict[str, Any]:
    """Return a customer ticket opened by the contact, in `state`."""
    label = state.replace("_", " ").capitalize()
    return {
        "type": "ticket",
        "id": ticket_id,
        "ticket_id": number,
        "category": "Customer",
        "ticket_attributes": {"_default_title_": title, "_default_description_": f"{title} (details)"},
        "ticket_state": {"type": "ticket_state", "id": "8537", "category": state, "internal_label": label, "external_label": label},
        "ticket_type": {
            "type": "ticket_type",
            "id": "95",
            "category": "Customer",
            "name": "Bug report",
            "description": "Customer-facing bug reports",
            "icon": "🐞",
            "archived": False,
            "created_at": 1717000000,
            "updated_at": 1717000000,
            "is_internal": False,
            "ticket_type_attributes": {"type": "list", "data": []},
        },
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": contact_id, "external_id": f"ext-{contact_id}"}]},
        "admin_assignee_id": "0",
        "team_assignee_id": "0",
        "created_at": updated_at - 7200,
        "updated_at": updated_at,
        "open": state != "resolved",
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        "ticket_parts": {"type": "ticket_part.list", "ticket_parts": [], "total_count": 0},
        "is_shared": True,
    }
