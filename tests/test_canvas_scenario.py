"""Webhooks in, Inbox canvas out: the shared fixtures posted over HTTP, processed, then viewed."""

from __future__ import annotations

import asyncio
import json
import uuid

from canvas.client import post_canvas
from tests.conftest import INTERCOM_FIXTURES, TEST_CLIENT_SECRET
from tests.openapi import validate
from tests.test_canvas_inbox import CONTACT_ID, CONVERSATION_ID, list_items, texts

SIGNATURES = json.loads((INTERCOM_FIXTURES / "signatures.json").read_text())["files"]
WEBHOOKS = sorted(path.name for path in INTERCOM_FIXTURES.glob("webhook.*.json"))
# The fixtures are dated June 2026, so a ten-year replay window keeps them processed. The API
# base URL is a closed loopback port, so no Intercom API call can leave the machine.
SETTINGS = {"WEBHOOK_REPLAY_WINDOW_SECONDS": 10 * 365 * 24 * 3600, "INTERCOM_API_BASE_URL": "http://127.0.0.1:9"}


async def start(start_server):
    """Start a server on a database of its own."""
    return await start_server(MONGODB_DATABASE=f"test_{uuid.uuid4().hex[:12]}", **SETTINGS)


async def deliver(server, names: list[str]) -> None:
    """Post webhook fixtures byte for byte with their recorded signatures; wait until all are processed."""
    for name in names:
        body = (INTERCOM_FIXTURES / name).read_bytes()
        headers = {"X-Hub-Signature": SIGNATURES[name]["value"], "Content-Type": "application/json"}
        response = await server.client.post("/intercom/default/webhooks", content=body, headers=headers)
        assert response.status_code == 200, (name, response.text)

    for _ in range(400):
        left = await server.database.notifications.count_documents({"status": {"$in": ["pending", "processing"]}})
        if left == 0:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{left} notifications still unprocessed after 10 s")


async def inbox_canvas(server) -> list[dict]:
    """Return the components of the Inbox canvas for the fixtures' contact, checked against the schema."""
    body = (INTERCOM_FIXTURES / "canvas.inbox.initialize.request.json").read_bytes()
    response = await post_canvas(server.client, "default", "inbox.initialize", body, TEST_CLIENT_SECRET)

    assert response.status_code == 200
    validate(response.json()["canvas"], "canvas_object", corrected=False)
    return response.json()["canvas"]["content"]["components"]


async def test_state_update_alone_in_progress(start_server):
    server = await start(start_server)

    await deliver(server, ["webhook.ticket.state.updated.json"])
    ticket = list_items(await inbox_canvas(server))["ticket:631"]

    assert ticket["title"] == "#38 Checkout button unresponsive"
    assert ticket["subtitle"] == "In progress (With engineering)"


async def test_older_created_keeps_progress(start_server):
    server = await start(start_server)

    await deliver(server, ["webhook.ticket.state.updated.json"])
    await deliver(server, ["webhook.ticket.created.json"])
    ticket = list_items(await inbox_canvas(server))["ticket:631"]

    assert ticket["subtitle"] == "In progress (With engineering)"


async def test_all_fixtures_resolve_and_rate(start_server):
    server = await start(start_server)

    await deliver(server, WEBHOOKS)
    components = await inbox_canvas(server)
    items = list_items(components)

    assert items["ticket:631"]["subtitle"] == "Resolved"
    assert "Rated 5/5" in items[f"conversation:{CONVERSATION_ID}"]["subtitle"]
    assert "**Latest activity**" in texts(components)
    assert any(key.startswith("activity:") for key in items)


async def test_reverse_order_same_canvas(start_server):
    in_order = await start(start_server)
    reversed_order = await start(start_server)

    await deliver(in_order, WEBHOOKS)
    await deliver(reversed_order, list(reversed(WEBHOOKS)))

    assert await inbox_canvas(in_order) == await inbox_canvas(reversed_order)


async def test_messenger_after_webhooks(start_server):
    server = await start(start_server)
    await deliver(server, ["webhook.ticket.created.json", "webhook.ticket.state.updated.json"])
    body = json.loads((INTERCOM_FIXTURES / "canvas.live.request.json").read_bytes())
    body["contact"]["id"] = CONTACT_ID

    response = await post_canvas(server.client, "default", "messenger.live", body, TEST_CLIENT_SECRET)
    item = list_items(response.json()["content"]["components"])["ticket:631"]

    assert item["subtitle"] == "In progress"
    assert "With engineering" not in response.text
