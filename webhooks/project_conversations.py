"""The `conversations` projection, from every `conversation.*` notification.

Three groups of fields have their own versions: the conversation's state (Intercom's
`updated_at`), the newest message (its part's `created_at`) and the rating (the rating's
`updated_at`). A webhook carries only the parts related to its event, and Intercom does not
promise that every payload repeats the rating, so a newer payload without a message or a
rating must not erase the one already stored.
"""

from __future__ import annotations

from typing import Any

import structlog

from webhooks.project_documents import apply_group, merge_document
from webhooks.project_fields import as_datetime, as_dict, as_id, contact_ids, plain_text, shorten, version_of
from webhooks.registry import NotificationContext

__all__ = ["conversation_parts", "latest_message", "project_conversation"]

log = structlog.get_logger(__name__)

# Part types shown to the customer as messages. Notes are internal and assignments have no text.
MESSAGE_PART_TYPES = ("comment", "close", "open", "snoozed", "quick_reply")
LAST_MESSAGE_CHARS = 280


def conversation_parts(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the parts the payload carries, skipping malformed entries."""
    parts = as_dict(item.get("conversation_parts")).get("conversation_parts")
    return [part for part in parts if isinstance(part, dict)] if isinstance(parts, list) else []


def latest_message(item: dict[str, Any]) -> tuple[str, str] | None:
    """Return (text, version) of the newest customer-visible message in the payload, or None.

    The conversation's `source` is its first message; any part carrying text is newer.
    """
    candidates: list[tuple[int, str, str]] = []
    source = as_dict(item.get("source"))
    source_text = plain_text(source.get("body"))
    if source_text:
        candidates.append((_seconds(item.get("created_at")), str(source.get("id") or ""), source_text))
    for part in conversation_parts(item):
        text = plain_text(part.get("body"))
        if text and part.get("part_type") in MESSAGE_PART_TYPES:
            candidates.append((_seconds(part.get("created_at")), str(part.get("id") or ""), text))
    if not candidates:
        return None
    seconds, part_id, text = max(candidates)
    return shorten(text, LAST_MESSAGE_CHARS), f"{seconds:012d}|{part_id}"


async def project_conversation(context: NotificationContext) -> None:
    """Store the conversation's state, newest message and rating, each when newer than stored."""
    item = context.item
    conversation_id = as_id(item.get("id"))
    if item.get("type") not in (None, "conversation") or conversation_id is None:
        log.info("projection.skipped", **context.log_fields(), reason="the notification carries no conversation with an id")
        return

    state = {
        "title": item.get("title") if isinstance(item.get("title"), str) and item.get("title") else None,
        "state": item.get("state") if isinstance(item.get("state"), str) else None,
        "open": item.get("open") if isinstance(item.get("open"), bool) else None,
        "contact_ids": contact_ids(item),
        "admin_assignee_id": as_id(item.get("admin_assignee_id")),
        "created_at": as_datetime(item.get("created_at")),
        "updated_at": as_datetime(item.get("updated_at")),
    }
    state_version = version_of(item.get("updated_at"), context)
    message = latest_message(item)
    rating = as_dict(item.get("conversation_rating"))
    stars = rating.get("rating")

    def merge(document: dict[str, Any]) -> None:
        apply_group(document, "version", state_version, state)
        if message is not None:
            apply_group(document, "last_message_version", message[1], {"last_message": message[0]})
        if isinstance(stars, int) and not isinstance(stars, bool):
            remark = rating.get("remark") if isinstance(rating.get("remark"), str) else None
            rating_version = version_of(rating.get("updated_at") or rating.get("created_at"), context)
            apply_group(document, "rating_version", rating_version, {"rating": stars, "rating_remark": remark})
        document.setdefault("rating", None)
        document.setdefault("rating_remark", None)
        document.setdefault("last_message", None)

    key = {"app": context.app, "workspace_id": context.workspace_id, "conversation_id": conversation_id}
    await merge_document(context.database.conversations, key, merge)


def _seconds(value: object) -> int:
    moment = as_datetime(value)
    return max(int(moment.timestamp()), 0) if moment else 0
