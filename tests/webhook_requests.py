"""Helpers for webhook tests: the shared fixture bodies and requests signed as Intercom signs them."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx

from oauth.signing import sign_hub
from tests.conftest import INTERCOM_FIXTURES, TEST_CLIENT_SECRET, TEST_WORKSPACE_ID

WEBHOOK_PATH = "/intercom/default/webhooks"


def fixture_files() -> list[Path]:
    """Return every shared webhook fixture, sorted by name."""
    return sorted(INTERCOM_FIXTURES.glob("webhook.*.json"))


def fixture_signature(path: Path) -> str:
    """Return the X-Hub-Signature value recorded for `path` in signatures.json."""
    manifest = json.loads((INTERCOM_FIXTURES / "signatures.json").read_text())
    return manifest["files"][path.name]["value"]


def make_body(topic: str = "ticket.created", *, created_at: int | None = None, notification_id: str | None = None,
              item: dict | None = None) -> bytes:
    """Return a compact notification body with a fresh id (or the given one)."""
    envelope = {
        "type": "notification_event",
        "app_id": TEST_WORKSPACE_ID,
        "data": {"type": "notification_event_data", "item": item or {"type": "ticket", "id": "631"}},
        "links": {},
        "id": notification_id or f"notif_{uuid.uuid4()}",
        "topic": topic,
        "delivery_status": "pending",
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": created_at or int(time.time()),
        "created_at": created_at or int(time.time()),
        "self": None,
    }
    return json.dumps(envelope).encode()


async def post_signed(client: httpx.AsyncClient, body: bytes, *, secret: str = TEST_CLIENT_SECRET,
                      path: str = WEBHOOK_PATH, headers: dict | None = None) -> httpx.Response:
    """POST `body` with the X-Hub-Signature Intercom would send."""
    all_headers = {"Content-Type": "application/json", "X-Hub-Signature": sign_hub(body, secret)}
    all_headers.update(headers or {})
    return await client.post(path, content=body, headers=all_headers)
