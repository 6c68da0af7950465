"""Reading Intercom item fields for the projections: times, ids, text and version strings.

Every function accepts null, missing or wrongly typed fields and returns None (or an empty
list) for them, so a handler never fails on a sparse payload.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

from webhooks.registry import NotificationContext

__all__ = [
    "as_datetime",
    "as_dict",
    "as_id",
    "contact_ids",
    "occurred_at",
    "plain_text",
    "shorten",
    "version_of",
]


def as_dict(value: object) -> dict[str, Any]:
    """Return `value` when it is a dict, else an empty dict."""
    return value if isinstance(value, dict) else {}


def as_id(value: object) -> str | None:
    """Return an Intercom id as a string; None for null, empty, and the 0 Intercom uses for 'nobody'."""
    if value is None or isinstance(value, bool) or value in ("", 0, "0"):
        return None
    return str(value)


def as_datetime(value: object) -> datetime | None:
    """Return Unix seconds (number or digit string) or an ISO 8601 string as an aware UTC datetime."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            value = int(text)
        else:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def contact_ids(item: dict[str, Any]) -> list[str]:
    """Return the ids in the item's `contacts.contacts` list, without duplicates, in order."""
    contacts = as_dict(item.get("contacts")).get("contacts")
    ids: list[str] = []
    for contact in contacts if isinstance(contacts, list) else []:
        contact_id = as_id(as_dict(contact).get("id"))
        if contact_id and contact_id not in ids:
            ids.append(contact_id)
    return ids


def occurred_at(context: NotificationContext) -> datetime | None:
    """Return when Intercom created the notification, else the item's `updated_at` or `created_at`."""
    item = context.item
    for value in (context.envelope.get("created_at"), item.get("updated_at"), item.get("created_at")):
        moment = as_datetime(value)
        if moment is not None:
            return moment
    return None


def version_of(updated_at: object, context: NotificationContext) -> str:
    """Return a string that sorts like (Intercom `updated_at`, notification `created_at`, notification id).

    A stored group of fields is replaced only by data whose version sorts at least as high,
    so any order of arrival converges on the same state. Ties between notifications with one
    `updated_at` are broken the same way every time, and a missing time sorts lowest.
    """
    return f"{_millis(updated_at):015d}|{_millis(context.envelope.get('created_at')):015d}|{context.notification_id}"


def _millis(value: object) -> int:
    moment = as_datetime(value)
    return max(int(moment.timestamp() * 1000), 0) if moment else 0


class _TextExtractor(HTMLParser):
    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(body: object) -> str | None:
    """Return the text of an HTML message body with whitespace collapsed, or None when empty."""
    if not isinstance(body, str) or not body.strip():
        return None
    extractor = _TextExtractor()
    extractor.feed(body)
    extractor.close()
    text = re.sub(r"\s+", " ", html.unescape("".join(extractor.parts))).strip()
    return text or None


def shorten(text: str | None, limit: int) -> str | None:
    """Cut `text` to at most `limit` characters, ending with an ellipsis when cut."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"
