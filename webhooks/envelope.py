"""The Intercom notification envelope: the few fields of a webhook body the receiver reads.

Only those fields are typed. The parser skips everything else (the stored body keeps it),
which keeps the parse cheap on the hot path. `id` is null for `ping`, and the item's own
fields may be null, missing or of another type, because the item shape follows the API
version selected for the app and changes between versions.
"""

from __future__ import annotations

import hashlib

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

__all__ = ["Envelope", "EnvelopeError", "parse_envelope"]

PING_TOPIC = "ping"
UTF8_BOM = b"\xef\xbb\xbf"


class EnvelopeError(ValueError):
    """Raised when a body is not valid JSON or not a notification; the message names the field."""

    def __init__(self, message: str, *, invalid_json: bool = False) -> None:
        super().__init__(message)
        self.invalid_json = invalid_json


class ObjectRef(BaseModel):
    """An object nested in the item, of which only `id` is read."""

    id: Any = None


class Item(BaseModel):
    """The object the notification is about, as far as its order key needs it."""

    type: Any = None
    id: Any = None
    # `ticket.closed` (API 2.15) nests the ticket here, and contact tag topics carry the contact.
    # A value that is not an object is kept unchanged and ignored.
    ticket: ObjectRef | Any = Field(default=None, union_mode="left_to_right")
    contact: ObjectRef | Any = Field(default=None, union_mode="left_to_right")


class EnvelopeData(BaseModel):
    """The `data` container, whose `item` must be a JSON object."""

    item: Item


class Envelope(BaseModel):
    """One `notification_event` as Intercom sends it."""

    type: Literal["notification_event"]
    app_id: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    data: EnvelopeData
    id: str | None = Field(default=None, min_length=1)
    # Unix seconds; the upper bound (year 9999) keeps datetime conversion from overflowing.
    # Strict: `true` or "1733000000" would otherwise pass as a date.
    created_at: int | None = Field(default=None, ge=0, le=253_402_300_799, strict=True)
    # BSON integers have 64 bits, so a larger count could not be stored.
    delivery_attempts: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1, strict=True)

    @property
    def is_ping(self) -> bool:
        return self.topic == PING_TOPIC

    @property
    def created_datetime(self) -> datetime | None:
        """Return Intercom's `created_at` (Unix seconds) as an aware datetime, or None."""
        if self.created_at is None:
            return None
        return datetime.fromtimestamp(self.created_at, tz=timezone.utc)

    def order_key(self) -> str | None:
        """Return `ticket:<id>`, `conversation:<id>` or `contact:<id>` for the item, else None.

        The dispatcher uses it to keep notifications about one object from running at the same time.
        """
        item = self.data.item
        if isinstance(item.ticket, ObjectRef) and item.type != "ticket":
            return _key("ticket", item.ticket.id)

        if item.type in ("ticket", "conversation", "contact"):
            return _key(item.type, item.id)

        if item.type == "contact_tag" and isinstance(item.contact, ObjectRef):
            return _key("contact", item.contact.id)
        return None


def parse_envelope(body: bytes) -> Envelope:
    """Parse and validate a webhook body; raise EnvelopeError naming the invalid field."""
    if body.startswith(UTF8_BOM):
        raise EnvelopeError(
            "body is not valid JSON: it starts with a UTF-8 byte order mark (remove the mark before sending)",
            invalid_json=True,
        )
    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError as error:
        raise _envelope_error(error) from None

    # NOTE: nx-27017 0.8.1 cannot match a NUL character in a query, so a notification with one in
    # these fields could never release its order lock there. Such a body gets 400 instead.
    for name in ("app_id", "topic", "id"):
        value = getattr(envelope, name)
        if value is not None and "\x00" in value:
            raise EnvelopeError(f"body is not a notification: field '{name}' contains a NUL character")

    if envelope.id is None and not envelope.is_ping:
        raise EnvelopeError(
            f"field 'id' is null: only 'ping' notifications may omit it, this one has topic {envelope.topic!r}"
        )
    return envelope


def _envelope_error(error: ValidationError) -> EnvelopeError:
    first = error.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return EnvelopeError(f"body is not valid JSON: {first['msg']}", invalid_json=True)

    field = ".".join(str(part) for part in first["loc"])
    if first["type"] == "model_type":
        if not field:
            return EnvelopeError("body is not a notification: expected a JSON object")
        return EnvelopeError(f"body is not a notification: field '{field}' is invalid (expected a JSON object)")
    if first["type"] == "missing":
        return EnvelopeError(f"body is not a notification: field '{field}' is missing")
    return EnvelopeError(f"body is not a notification: field '{field}' is invalid ({first['msg']})")


def _key(kind: str, identifier: object) -> str | None:
    if identifier is None or identifier == "":
        return None
    text = str(identifier)
    if "\x00" in text:
        # NOTE: nx-27017 0.8.1 cannot match a string with a NUL character in a query, so the
        # order lock of such a key could never be released. A digest replaces the id.
        return f"{kind}:sha256:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()}"
    return f"{kind}:{text}"
