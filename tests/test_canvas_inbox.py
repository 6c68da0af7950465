"""The built-in Inbox canvas over real HTTP, with projection documents seeded in the database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from canvas.client import post_canvas
from canvas.limits import MAX_JSON_BYTES, json_size
from tests.conftest import INTERCOM_FIXTURES, TEST_CLIENT_SECRET, TEST_WORKSPACE_ID
from tests.openapi import validate

CONTACT_ID = "66b0f1a2c3d4e5f601234567"
OTHER_CONTACT_ID = "66b0f1a2c3d4e5f6ffffffff"
CONVERSATION_ID = "215470011223344"
INITIALIZE = INTERCOM_FIXTURES / "canvas.inbox.initialize.request.json"
SUBMIT = INTERCOM_FIXTURES / "canvas.inbox.submit.request.json"


def ago(**delta: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(**delta)


async def seed_ticket(database, *, ticket_id="631", number="38", title="Checkout button unresponsive",
                      state="in_progress", internal="With engineering", external="In progress",
                      contact_ids=(CONTACT_ID,), workspace_id=TEST_WORKSPACE_ID, app="default",
                      category="Customer", updated_at=None, description=None) -> None:
    """Insert one `tickets` projection document."""
    await database.tickets.insert_one({
        "app": app, "workspace_id": workspace_id, "ticket_id": ticket_id, "ticket_number": number,
        "title": title, "description": description, "category": category, "ticket_type": "Bug report",
        "state": state, "state_internal_label": internal, "state_external_label": external,
        "open": state != "resolved", "contact_ids": list(contact_ids),
        "created_at": ago(days=1), "updated_at": updated_at or ago(hours=2),
    })


async def seed_conversation(database, *, rating=5, state="closed", contact_ids=(CONTACT_ID,),
                            workspace_id=TEST_WORKSPACE_ID) -> None:
    """Insert one `conversations` projection document."""
    await database.conversations.insert_one({
        "app": "default", "workspace_id": workspace_id, "conversation_id": CONVERSATION_ID,
        "title": None, "state": state, "open": state == "open", "contact_ids": list(contact_ids),
        "rating": rating, "rating_remark": "Quick and friendly, thank you!",
        "last_message": "Hi, my order has not arrived yet.", "created_at": ago(hours=3), "updated_at": ago(minutes=30),
    })


async def seed_activity(database, count: int, *, contact_id=CONTACT_ID, summary="Ticket #38 moved to In progress") -> None:
    """Insert `count` activity entries, one minute apart, newest five minutes ago."""
    await database.activity.insert_many([
        {
            "app": "default", "workspace_id": TEST_WORKSPACE_ID, "contact_id": contact_id,
            "notification_id": f"notif-{n}", "topic": "ticket.state.updated",
            "occurred_at": ago(minutes=5 + n), "summary": f"{summary} ({n})",
            "subject_type": "ticket", "subject_id": "631",
        }
        for n in range(count)
    ])


async def post_inbox(server, kind: str, **replacements):
    """Post the shared Inbox fixture for `kind` (fields replaced) and return its checked components."""
    path = INITIALIZE if kind == "inbox.initialize" else SUBMIT
    body = json.loads(path.read_bytes())
    body.update(replacements)
    response = await post_canvas(server.client, "default", kind, body, TEST_CLIENT_SECRET)

    assert response.status_code == 200, response.text
    payload = response.json()
    validate(payload["canvas"], "canvas_object", corrected=False)
    assert json_size(payload["canvas"]["content"]) <= MAX_JSON_BYTES
    return payload["canvas"]["content"]["components"]


def list_items(components) -> dict[str, dict]:
    return {item["id"]: item for component in components if component["type"] == "list" for item in component["items"]}


def texts(components) -> list[str]:
    return [component["text"] for component in components if component["type"] == "text"]


def button_ids(components) -> list[str]:
    return [component["id"] for component in components if component["type"] == "button"]


async def test_inbox_shows_ticket_in_progress(live_server):
    await seed_ticket(live_server.database)
    await seed_conversation(live_server.database)
    await seed_activity(live_server.database, 3)

    components = await post_inbox(live_server, "inbox.initialize")
    items = list_items(components)

    ticket = items["ticket:631"]
    assert ticket["title"] == "#38 Checkout button unresponsive"
    assert ticket["subtitle"] == "In progress (With engineering)"
    assert ticket["tertiary_text"] == "changed 2 hours ago"
    assert ticket["action"] == {"type": "submit"}
    assert "**Tickets**" in texts(components)
    assert button_ids(components) == ["refresh"]


async def test_inbox_shows_resolved_ticket(live_server):
    await seed_ticket(live_server.database, state="resolved", internal="Resolved", external="Resolved")

    components = await post_inbox(live_server, "inbox.initialize")

    assert list_items(components)["ticket:631"]["subtitle"] == "Resolved"
    assert list_items(components)["ticket:631"]["tertiary_text"] == "changed 2 hours ago"


async def test_inbox_shows_rated_conversation(live_server):
    await seed_conversation(live_server.database)

    components = await post_inbox(live_server, "inbox.initialize")
    conversation = list_items(components)[f"conversation:{CONVERSATION_ID}"]

    assert conversation["title"] == "Hi, my order has not arrived yet."
    assert conversation["subtitle"] == "Closed · Rated 5/5 ★★★★★"
    assert conversation["tertiary_text"] == "30 minutes ago"


async def test_inbox_shows_latest_activity(live_server):
    await seed_activity(live_server.database, 12)

    components = await post_inbox(live_server, "inbox.initialize")
    activity = [item for key, item in list_items(components).items() if key.startswith("activity:")]

    assert len(activity) == 10
    assert activity[0]["title"] == "Ticket #38 moved to In progress (0)"
    assert activity[0]["subtitle"] == "5 minutes ago"
    assert "Showing 10 of 12" in texts(components)


async def test_inbox_empty_state(live_server):
    components = await post_inbox(live_server, "inbox.initialize")

    assert components[0] == {"type": "text", "text": "Customer activity", "style": "header"}
    assert texts(components)[1].startswith("No recorded activity for this customer yet.")
    assert button_ids(components) == ["refresh"]


async def test_inbox_without_contact(live_server):
    body = json.loads(INITIALIZE.read_bytes())
    body.pop("contact")
    body["conversation"]["contacts"]["contacts"] = []

    response = await post_canvas(live_server.client, "default", "inbox.initialize", body, TEST_CLIENT_SECRET)

    assert response.status_code == 200
    assert "no contact yet" in response.text


async def test_inbox_falls_back_to_conversation_contact(live_server):
    await seed_ticket(live_server.database)
    body = json.loads(INITIALIZE.read_bytes())
    body.pop("contact")

    response = await post_canvas(live_server.client, "default", "inbox.initialize", body, TEST_CLIENT_SECRET)

    assert "#38 Checkout button unresponsive" in response.text


async def test_ticket_detail_and_back(live_server):
    await seed_ticket(live_server.database, description="The checkout button does nothing on Firefox.")

    detail = await post_inbox(live_server, "inbox.submit", component_id="ticket:631")

    assert detail[0] == {"type": "text", "text": "#38 Checkout button unresponsive", "style": "header"}
    rows = {row["field"]: row["value"] for row in detail[1]["items"]}
    assert rows["State"] == "In progress (With engineering)"
    assert rows["Customer sees"] == "In progress"
    assert rows["Last change"] == "2 hours ago"
    assert rows["Created"] == "1 day ago"
    assert "The checkout button does nothing on Firefox." in texts(detail)
    assert button_ids(detail) == ["back"]

    back = await post_inbox(live_server, "inbox.submit", component_id="back")

    assert "ticket:631" in list_items(back)


async def test_detail_of_other_customers_ticket(live_server):
    await seed_ticket(live_server.database, ticket_id="999", title="Someone else's refund", contact_ids=(OTHER_CONTACT_ID,))

    components = await post_inbox(live_server, "inbox.submit", component_id="ticket:999")

    assert texts(components) == ["This ticket is not among this customer's tickets."]
    assert "refund" not in json.dumps(components)


async def test_inbox_hides_other_workspace_data(live_server):
    await seed_ticket(live_server.database, workspace_id="wsOTHER1", ticket_id="700", title="Other workspace ticket")
    await seed_ticket(live_server.database, app="another-app", ticket_id="701", title="Other app ticket")
    await seed_conversation(live_server.database, workspace_id="wsOTHER1")

    initialize = await post_inbox(live_server, "inbox.initialize")
    detail = await post_inbox(live_server, "inbox.submit", component_id="ticket:700")

    assert texts(initialize)[1].startswith("No recorded activity")
    assert "Other workspace ticket" not in json.dumps(detail)
    assert texts(detail) == ["This ticket is not among this customer's tickets."]


async def test_inbox_shortens_oversized_data(live_server):
    for n in range(25):
        await seed_ticket(live_server.database, ticket_id=f"t{n}", number=str(n), title="Long title " * 2000,
                          description="Long description " * 5000)
    await seed_activity(live_server.database, 500, summary="Very long summary " * 500)

    components = await post_inbox(live_server, "inbox.initialize")
    detail = await post_inbox(live_server, "inbox.submit", component_id="ticket:t3")

    assert "Showing 10 of 25" in texts(components)
    assert "Showing 10 of 500" in texts(components)
    assert all(len(item["title"]) <= 120 for item in list_items(components).values())
    assert len(detail[2]["text"]) <= 1000


class RecordingApi:
    """Stands in for the oauth package's Intercom API client; records add_note calls."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple] = []
        self.error = error

    async def add_note(self, app, workspace_id, conversation_id, html):
        self.calls.append((app, workspace_id, conversation_id, html))
        if self.error is not None:
            raise self.error


async def test_add_note_button_posts_summary(live_server):
    api = RecordingApi()
    live_server.services.intercom_api = api
    await seed_ticket(live_server.database)
    await seed_conversation(live_server.database)

    overview = await post_inbox(live_server, "inbox.initialize")
    result = await post_inbox(live_server, "inbox.submit", component_id="add_note")

    assert button_ids(overview) == ["refresh", "add_note"]
    assert "Summary added as a note." in texts(result)
    [(app, workspace_id, conversation_id, html)] = api.calls
    assert (app, workspace_id, conversation_id) == ("default", TEST_WORKSPACE_ID, CONVERSATION_ID)
    assert "#38 Checkout button unresponsive: In progress (With engineering)" in html
    assert "Rated 5/5" in html


async def test_add_note_failure_shows_error(live_server):
    live_server.services.intercom_api = RecordingApi(RuntimeError("Intercom answered 401: token revoked"))
    await seed_ticket(live_server.database)

    result = await post_inbox(live_server, "inbox.submit", component_id="add_note")

    assert {"type": "text", "text": "Adding the note failed: Intercom answered 401: token revoked", "style": "error"} in result
    assert "ticket:631" in list_items(result)


async def test_add_note_hidden_without_api(live_server):
    await seed_ticket(live_server.database)

    overview = await post_inbox(live_server, "inbox.initialize")
    result = await post_inbox(live_server, "inbox.submit", component_id="add_note")

    assert "add_note" not in button_ids(overview)
    assert texts(result)[1].startswith("Notes cannot be added here")
