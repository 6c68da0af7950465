"""The webhook receiver: `HEAD, POST /intercom/<app>/webhooks`.

A POST gets 200 only after its notification is durably stored (or was stored before).
Every rejection is a JSON body `{"error": "<message>"}` with the status code Intercom should
see: 404 unknown app, 403 source not allowed, 413 body too large, 401 bad signature, 400 not
a notification or not storable, 503 database unavailable (Intercom retries). Never 410 or
429, which would disable or throttle delivery for every workspace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import structlog
from pymongo.errors import PyMongoError
from quart import Blueprint, Request, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from oauth.apps import UNREADABLE_SECRET_MESSAGE, AppSecretsUnreadable
from oauth.signing import HUB_SIGNATURE_HEADER, SignatureError, verify_hub_signature
from webhooks.allowlist import SourceAllowlist
from webhooks.envelope import Envelope, EnvelopeError, parse_envelope
from webhooks.inbox import Inbox, InboxUnavailable, StoreOutcome, UnstorableDocument
from webhooks.ingest_metrics import ACK_SECONDS, RECEIVED, ErrorStreaks, LabelledChildren
from webhooks.logs import RateLimitedLog, notification_fields
from webhooks.processing_metrics import topic_label
from webhooks.retention import expiry_for

__all__ = ["blueprint"]

log = structlog.get_logger(__name__)

blueprint = Blueprint("webhooks", __name__)

RECEIVER_KEY = "webhook_receiver"
UNKNOWN_APP_LABEL = "unknown"

received = LabelledChildren(RECEIVED)
ack_seconds = LabelledChildren(ACK_SECONDS)


class Rejection(Exception):
    """An error response to a webhook request; `outcome` is its metrics label.

    `app_label` is the app label for the metrics when the app exists but cannot be used.
    """

    def __init__(self, status: int, outcome: str, message: str, *, app_label: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.message = message
        self.app_label = app_label


@dataclass
class Receiver:
    """Per-process state of the webhook route: settings, allowlist, inbox, counters."""

    settings: Any
    allowlist: SourceAllowlist
    replay_protection: bool
    streaks: ErrorStreaks
    warnings: RateLimitedLog
    # Read once at start, because a disabled debug line still costs microseconds on every request.
    log_debug: bool = False
    inbox: Inbox | None = None
    inbox_database: Any = None

    def inbox_for(self, services: Any) -> Inbox:
        """Return the inbox writing to the `notifications` collection of this process's database."""
        # Compare databases: each attribute access builds a new collection object.
        if self.inbox is None or self.inbox_database is not services.database:
            self.inbox = Inbox(
                services.database.notifications, timeout_seconds=self.settings.WEBHOOK_INSERT_TIMEOUT_SECONDS
            )
            self.inbox_database = services.database
        return self.inbox


@blueprint.before_app_serving
async def create_receiver() -> None:
    """Build the receiver at start, so an invalid allowlist stops the start with its message."""
    settings = current_app.config["SETTINGS"]
    protection = settings.WEBHOOK_REPLAY_PROTECTION
    receiver = Receiver(
        settings=settings,
        allowlist=SourceAllowlist.from_settings(settings.WEBHOOK_IP_ALLOWLIST, settings.TRUSTED_PROXIES),
        replay_protection=protection == "on" or (protection == "auto" and settings.is_production),
        streaks=ErrorStreaks(),
        warnings=RateLimitedLog(log),
        log_debug=logging.getLogger(__name__).isEnabledFor(logging.DEBUG),
    )
    current_app.extensions[RECEIVER_KEY] = receiver
    log.info(
        "webhook.receiver_ready",
        allowlist="on" if receiver.allowlist.enabled else "off",
        replay_protection="on" if receiver.replay_protection else "off",
        replay_window_seconds=settings.WEBHOOK_REPLAY_WINDOW_SECONDS,
    )


async def receive_webhook(app_key: str) -> Response:
    """Store one signed Intercom notification durably, then return 200."""
    started = time.perf_counter()
    extensions = current_app.extensions
    receiver: Receiver = extensions[RECEIVER_KEY]
    services = extensions["intercom"]
    # Each attribute read through the `request` proxy looks up the context again.
    incoming = request._get_current_object()
    label, topic = UNKNOWN_APP_LABEL, ""

    try:
        registered = services.apps.peek(app_key)
        lookup_seconds = 0.0
        if registered is None:
            registered = await _registered_app(receiver, services, app_key)
            lookup_seconds = time.perf_counter() - started
        label = app_key
        if incoming.method == "HEAD":
            response = Response(status=200)
        else:
            body = await _read_allowed_body(receiver, incoming, app_key)
            envelope = _verified_envelope(receiver, incoming, registered, body)
            topic = topic_label(envelope.topic)
            outcome, notification_id = await _store(receiver, services, app_key, envelope, body, lookup_seconds)
            received(app_key, topic, outcome).inc()
            response = _json_response({"status": outcome, "notification_id": notification_id}, 200)
    except Rejection as rejection:
        label = rejection.app_label or label
        received(label, topic, rejection.outcome).inc()
        response = _json_response({"error": rejection.message}, rejection.status)

    if label != UNKNOWN_APP_LABEL:
        receiver.streaks.record(app_key, response.status_code)
    ack_seconds(label, str(response.status_code)).observe(time.perf_counter() - started)
    return response


@blueprint.record_once
def add_webhook_route(state: Any) -> None:
    # Registered on the app, not the blueprint: Quart looks up a blueprint route's hooks three
    # times per request, which cost about 3% of the receiver's instructions in a callgrind count.
    state.app.add_url_rule("/intercom/<app_key>/webhooks", view_func=receive_webhook, methods=["HEAD", "POST"])


def _json_response(payload: dict[str, Any], status: int) -> Response:
    # Built directly rather than with `jsonify`, which costs a few microseconds more on every webhook.
    return Response(json.dumps(payload), status=status, content_type="application/json")


async def _registered_app(receiver: Receiver, services: Any, app_key: str) -> Any:
    try:
        # A lookup that reaches the database gets the insert timeout, so while the database stalls,
        # a request for an app missing from the cache still ends within about that time.
        registered = await services.apps.get(app_key, timeout=receiver.settings.WEBHOOK_INSERT_TIMEOUT_SECONDS)
    except (PyMongoError, TimeoutError) as error:
        # Rate-limited across keys, because during an outage requests may name any number of keys.
        receiver.warnings.error("webhook.app_lookup_failed", app=app_key, error=f"{type(error).__name__}: {error}")
        # NOTE: counted under app="unknown": the key may name no app, and labelling unverified
        # keys would let requests for made-up keys add metric series during an outage. So the
        # error streak of an app not looked up since the service started is not counted.
        raise Rejection(503, "unavailable", "the database is unavailable; retry later") from None
    except AppSecretsUnreadable as error:
        receiver.warnings.error("webhook.app_secrets_unreadable", key=app_key, app=app_key, error=str(error))
        raise Rejection(503, "unavailable", UNREADABLE_SECRET_MESSAGE, app_label=app_key) from None
    if registered is None:
        raise Rejection(
            404,
            "unknown_app",
            f"no Intercom app is registered under the key {app_key!r}; "
            "check the app key in the webhook URL set in Intercom's Developer Hub",
        )
    return registered


async def _read_allowed_body(receiver: Receiver, incoming: Request, app_key: str) -> bytes:
    """Check the source address, then read the body up to WEBHOOK_MAX_BODY_BYTES."""
    if receiver.allowlist.enabled:
        _check_source(receiver, incoming, app_key)

    limit = receiver.settings.WEBHOOK_MAX_BODY_BYTES
    declared = incoming.content_length
    if declared is not None and declared > limit:
        raise _too_large(limit)
    try:
        if _body_received(incoming):
            body = await incoming.body
        else:
            async with asyncio.timeout(incoming.body_timeout):
                body = await incoming.body
    except RequestEntityTooLarge:
        raise _too_large(limit) from None
    except TimeoutError:
        address = receiver.allowlist.client_address(incoming.remote_addr, incoming.headers.get("X-Forwarded-For"))
        receiver.warnings.warning("webhook.body_timeout", key=app_key, app=app_key, source=address)
        raise Rejection(408, "timeout", f"timed out reading the request body after {incoming.body_timeout} s") from None

    # NOTE: a body sent without Content-Length is buffered by Quart up to MAX_CONTENT_LENGTH
    # (at least 1 MiB) before this check can see its size.
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _body_received(incoming: Request) -> bool:
    """Return whether Quart has received the whole body, so reading it cannot wait.

    A webhook body usually arrives with its headers, and skipping the timer then saves a few
    microseconds per request. NOTE: Quart offers no public check, so this reads the private
    `_complete` event of its `Body` and returns False when that is missing.
    """
    complete = getattr(incoming.body, "_complete", None)
    return isinstance(complete, asyncio.Event) and complete.is_set()


def _check_source(receiver: Receiver, incoming: Request, app_key: str) -> None:
    address = receiver.allowlist.client_address(incoming.remote_addr, incoming.headers.get("X-Forwarded-For"))
    if not receiver.allowlist.allows(address):
        receiver.warnings.warning("webhook.source_forbidden", key=app_key, app=app_key, source=address)
        raise Rejection(
            403, "forbidden", f"source address {address or 'unknown'} is not allowed by WEBHOOK_IP_ALLOWLIST"
        )


def _too_large(limit: int) -> Rejection:
    return Rejection(413, "too_large", f"the request body is larger than WEBHOOK_MAX_BODY_BYTES ({limit} bytes)")


def _verified_envelope(receiver: Receiver, incoming: Request, registered: Any, body: bytes) -> Envelope:
    """Check X-Hub-Signature over the raw bytes, then parse the envelope."""
    try:
        verify_hub_signature(body, incoming.headers.get(HUB_SIGNATURE_HEADER), registered.client_secrets)
    except SignatureError as error:
        receiver.warnings.warning(
            "webhook.bad_signature", key=registered.key, app=registered.key, reason=str(error),
            source=incoming.remote_addr,
        )
        raise Rejection(401, "bad_signature", str(error)) from None

    try:
        return parse_envelope(body)
    except EnvelopeError as error:
        receiver.warnings.warning("webhook.bad_body", key=registered.key, app=registered.key, reason=str(error))
        raise Rejection(400, "bad_body", str(error)) from None


async def _store(
    receiver: Receiver, services: Any, app_key: str, envelope: Envelope, body: bytes, lookup_seconds: float
) -> tuple[str, str]:
    """Insert the notification; return the outcome label and the stored notification id.

    The insert gets what the app lookup (`lookup_seconds`) left of WEBHOOK_INSERT_TIMEOUT_SECONDS.
    """
    settings = receiver.settings
    now = datetime.now(timezone.utc)
    notification_id = envelope.id if envelope.id is not None else f"ping_{uuid.uuid4().hex}"

    created = envelope.created_datetime
    too_old = receiver.replay_protection and _older_than_window(created, now, settings.WEBHOOK_REPLAY_WINDOW_SECONDS)
    document = _notification_document(app_key, notification_id, envelope, created, body, now)
    if too_old:
        # Stored as `ignored`, never processed: the record shows the operator what arrived, and
        # `replay --include-ignored` runs it if the sender's clock was wrong.
        document["status"] = "ignored"
        document["processed_at"] = now
        document["expires_at"] = expiry_for(
            now,
            created,
            retention_days=settings.NOTIFICATION_RETENTION_DAYS,
            replay_window_seconds=settings.WEBHOOK_REPLAY_WINDOW_SECONDS,
        )

    try:
        timeout = settings.WEBHOOK_INSERT_TIMEOUT_SECONDS - lookup_seconds
        outcome = await receiver.inbox_for(services).store(document, timeout_seconds=timeout)
    except UnstorableDocument as error:
        receiver.warnings.warning("webhook.unstorable", key=app_key, error=str(error), **notification_fields(document))
        raise Rejection(400, "unstorable", f"the notification cannot be stored: {error}") from None
    except InboxUnavailable as error:
        receiver.warnings.error("webhook.store_failed", key=app_key, error=str(error), **notification_fields(document))
        raise Rejection(503, "unavailable", "the notification could not be stored; retry later") from None

    if outcome is StoreOutcome.DUPLICATE:
        if receiver.log_debug:
            log.debug("webhook.duplicate", **notification_fields(document))
        return "duplicate", notification_id
    if too_old:
        log.info("webhook.ignored_old", created_at=envelope.created_at, **notification_fields(document))
        return "ignored_old", notification_id

    if receiver.log_debug:
        log.debug("webhook.stored", **notification_fields(document))
    services.wakeup.notify()
    return "stored", notification_id


def _older_than_window(created: datetime | None, now: datetime, window_seconds: int) -> bool:
    # NOTE: a notification without `created_at` cannot be dated, so it is accepted; Intercom
    # sends `created_at` on every documented notification.
    if created is None:
        return False
    return now - created > timedelta(seconds=window_seconds)


def _notification_document(
    app_key: str, notification_id: str, envelope: Envelope, created: datetime | None, body: bytes, now: datetime
) -> dict[str, Any]:
    return {
        "app": app_key,
        "notification_id": notification_id,
        "workspace_id": envelope.app_id,
        "topic": envelope.topic,
        # Text, not binary: the parse accepted only valid UTF-8. In a measurement on nx-27017 0.8.1,
        # inserting a string cost about a third less CPU than the same bytes as binary data.
        "body": body.decode("utf-8"),
        "created_at": created,
        "delivery_attempts": envelope.delivery_attempts,
        "received_at": now,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "lease_owner": None,
        "lease_until": None,
        "errors": [],
        "last_error": None,
        "processed_at": None,
        "expires_at": None,
        "order_key": envelope.order_key(),
    }
