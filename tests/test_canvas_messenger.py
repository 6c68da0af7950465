"""The built-in Messenger card over real HTTP: configure, initialize, live, submit, submit-sheet."""

from __future__ import annotations

import json

import pytest

from canvas.client import post_canvas
from tests.conftest import INTERCOM_FIXTURES, TEST_CLIENT_SECRET
from tests.openapi import validate
from tests.test_canvas_inbox import CONTACT_ID, OTHER_CONTACT_ID, ago, list_items, seed_ticket, texts

SCHEMAS = {
    "messenger.configure": "configure_response",
    "messenger.initialize": "initialize_response",
    "messenger.submit": "submit_response",
    "messenger.submit-sheet": "submit_response",
    "messenger.live": "live_canvas_response",
}
FIXTURES = {
    "messenger.configure": "canvas.messenger.configure.submit.request.json",
    "messenger.initialize": "canvas.messenger.initialize.request.json",
    "messenger.submit": "canvas.messenger.submit.request.json",
    "messenger.submit-sheet": "canvas.messenger.submit-sheet.request.json",
    "messenger.live": "canvas.live.request.json",
}


async def post_messenger(server, kind: str, **replacements) -> dict:
    """Post the shared fixture for `kind` with fields replaced, signed; return the checked body."""
    body = json.loads((INTERCOM_FIXTURES / FIXTURES[kind]).read_bytes())
    body.update(replacements)
    response = await post_canvas(server.client, "default", kind, body, TEST_CLIENT_SECRET)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    validate(payload, SCHEMAS[kind], corrected=False)
    return payload


def components_of(payload: dict) -> list[dict]:
    return payload["canvas"]["content"]["components"] if "canvas" in payload else payload["content"]["components"]


def viewer(contact_id: str) -> dict:
    return {"type": "contact", "id": contact_id, "role": "user"}


async def test_configure_shows_form(live_server):
    payload = await post_messenger(live_server, "messenger.configure", component_id=None, input_values={}, current_canvas=None)

    components = components_of(payload)
    assert [component.get("id") for component in components] == [None, "show", "limit", "save"]
    assert components[1]["value"] == "open"
    assert components[2]["value"] == "5"


INVALID_SETTINGS = [
    ({"show": "open", "limit": "abc"}, "limit", "Enter a whole number from 1 to 20."),
    ({"show": "open", "limit": "0"}, "limit", "Enter a whole number from 1 to 20; 0 is out of range."),
    ({"show": "all", "limit": "50"}, "limit", "Enter a whole number from 1 to 20; 50 is out of range."),
    ({"show": "everything", "limit": "3"}, "show", "Choose which tickets the card shows."),
]


@pytest.mark.parametrize(("values", "field", "message"), INVALID_SETTINGS, ids=[case[2] for case in INVALID_SETTINGS])
async def test_configure_shows_error_beside_field(live_server, values, field, message):
    payload = await post_messenger(live_server, "messenger.configure", component_id="save", input_values=values)

    components = components_of(payload)
    position = next(n for n, component in enumerate(components) if component.get("id") == field)
    assert components[position + 1] == {"type": "text", "text": message, "style": "error"}
    if field == "limit":
        assert components[position]["save_state"] == "failed"
        assert components[position]["value"] == values["limit"]


async def test_configure_returns_results(live_server):
    payload = await post_messenger(live_server, "messenger.configure", component_id="save",
                                   input_values={"show": "all", "limit": " 3 "})

    assert payload == {"results": {"show": "all", "limit": 3}}


async def test_messenger_flow_end_to_end(live_server):
    await seed_ticket(live_server.database)
    await seed_ticket(live_server.database, ticket_id="632", number="39", title="Refund request",
                      state="resolved", internal="Closed by finance", external="Resolved", updated_at=ago(days=2))

    configured = await post_messenger(live_server, "messenger.configure", component_id="save",
                                      input_values={"show": "all", "limit": "5"})
    initialized = await post_messenger(live_server, "messenger.initialize",
                                       card_creation_options=configured["results"])
    card = initialized["canvas"]
    assert card["content_url"] == f"{live_server.url}/intercom/default/canvas/messenger/live"
    assert card["stored_data"] == {"show": "all", "limit": 5}

    live = await post_messenger(live_server, "messenger.live", canvas={"content_url": card["content_url"],
                                                                        "stored_data": card["stored_data"]},
                                contact=viewer(CONTACT_ID))
    items = list_items(components_of(live))
    assert items["ticket:631"]["title"] == "#38 Checkout button unresponsive"
    assert items["ticket:631"]["subtitle"] == "In progress"
    assert items["ticket:631"]["tertiary_text"] == "updated 2 hours ago"
    assert items["ticket:632"]["subtitle"] == "Resolved"

    current = {"content": live["content"], "stored_data": card["stored_data"]}
    detail = await post_messenger(live_server, "messenger.submit", component_id="ticket:631",
                                  current_canvas=current, input_values={}, user=viewer(CONTACT_ID))
    rows = {row["field"]: row["value"] for row in components_of(detail)[1]["items"]}
    assert components_of(detail)[0]["text"] == "#38 Checkout button unresponsive"
    assert rows == {"Status": "In progress", "Last update": "2 hours ago", "Opened": "1 day ago"}
    assert detail["canvas"]["stored_data"] == {"show": "all", "limit": 5}

    back = await post_messenger(live_server, "messenger.submit", component_id="back",
                                current_canvas=detail["canvas"], input_values={}, user=viewer(CONTACT_ID))
    assert set(list_items(components_of(back))) == {"ticket:631", "ticket:632"}


async def test_customer_never_sees_internal_labels(live_server):
    await seed_ticket(live_server.database, description="Internal: customer is on the legacy plan")

    live = await post_messenger(live_server, "messenger.live", contact=viewer(CONTACT_ID))
    detail = await post_messenger(live_server, "messenger.submit", component_id="ticket:631", user=viewer(CONTACT_ID))

    for payload in (live, detail):
        text = json.dumps(payload)
        assert "With engineering" not in text
        assert "legacy plan" not in text
        assert "In progress" in text


async def test_open_only_hides_resolved(live_server):
    await seed_ticket(live_server.database)
    await seed_ticket(live_server.database, ticket_id="632", state="resolved", internal="Resolved", external="Resolved")

    live = await post_messenger(live_server, "messenger.live", canvas={"content_url": "https://example.com/live",
                                                                        "stored_data": {"show": "open", "limit": 5}},
                                contact=viewer(CONTACT_ID))

    assert set(list_items(components_of(live))) == {"ticket:631"}


async def test_card_limit_shortens_list(live_server):
    for n in range(8):
        await seed_ticket(live_server.database, ticket_id=f"t{n}", number=str(n), updated_at=ago(minutes=n + 1))

    live = await post_messenger(live_server, "messenger.live", canvas={"content_url": "https://example.com/live",
                                                                        "stored_data": {"show": "all", "limit": 3}},
                                contact=viewer(CONTACT_ID))

    assert list(list_items(components_of(live))) == ["ticket:t0", "ticket:t1", "ticket:t2"]
    assert "Showing 3 of 8" in texts(components_of(live))


async def test_back_office_tickets_hidden(live_server):
    await seed_ticket(live_server.database, ticket_id="800", title="Chargeback review", category="Back-office")
    await seed_ticket(live_server.database, ticket_id="801", title="Fix payment bug", category="Tracker")

    live = await post_messenger(live_server, "messenger.live", contact=viewer(CONTACT_ID))
    detail = await post_messenger(live_server, "messenger.submit", component_id="ticket:800", user=viewer(CONTACT_ID))

    assert list_items(components_of(live)) == {}
    assert "Chargeback" not in json.dumps(detail)
    assert texts(components_of(detail)) == ["We could not find that ticket."]


async def test_customer_cannot_open_others_ticket(live_server):
    await seed_ticket(live_server.database, ticket_id="999", title="Someone else's refund", contact_ids=(OTHER_CONTACT_ID,))

    detail = await post_messenger(live_server, "messenger.submit", component_id="ticket:999", user=viewer(CONTACT_ID))
    live = await post_messenger(live_server, "messenger.live", contact=viewer(CONTACT_ID))

    assert "refund" not in json.dumps(detail)
    assert texts(components_of(detail)) == ["We could not find that ticket."]
    assert "ticket:999" not in list_items(components_of(live))


async def test_customer_cannot_reach_other_workspace(live_server):
    await seed_ticket(live_server.database, ticket_id="700", title="Other workspace ticket", workspace_id="wsOTHER1")
    await seed_ticket(live_server.database, ticket_id="701", title="Other app ticket", app="another-app")

    live = await post_messenger(live_server, "messenger.live", contact=viewer(CONTACT_ID))
    detail_700 = await post_messenger(live_server, "messenger.submit", component_id="ticket:700", user=viewer(CONTACT_ID))
    detail_701 = await post_messenger(live_server, "messenger.submit", component_id="ticket:701", user=viewer(CONTACT_ID))

    assert list_items(components_of(live)) == {}
    assert "Other workspace ticket" not in json.dumps(detail_700)
    assert "Other app ticket" not in json.dumps(detail_701)


async def test_submit_prefers_user_over_contact(live_server):
    await seed_ticket(live_server.database, ticket_id="999", title="Someone else's refund", contact_ids=(OTHER_CONTACT_ID,))

    detail = await post_messenger(live_server, "messenger.submit", component_id="ticket:999",
                                  user=viewer(CONTACT_ID), contact=viewer(OTHER_CONTACT_ID))

    assert "refund" not in json.dumps(detail)


async def test_submit_sheet_shows_tickets(live_server):
    await seed_ticket(live_server.database)

    payload = await post_messenger(live_server, "messenger.submit-sheet")

    components = components_of(payload)
    assert texts(components)[0] == "Thanks, we received your answers."
    assert "ticket:631" in list_items(components)


async def test_live_without_viewer(live_server):
    body = json.loads((INTERCOM_FIXTURES / "canvas.live.request.json").read_bytes())
    body.pop("contact")

    response = await post_canvas(live_server.client, "default", "messenger.live", body, TEST_CLIENT_SECRET)

    assert response.status_code == 200
    assert texts(response.json()["content"]["components"]) == ["Your tickets", "Start a conversation to see your tickets here."]


async def test_initialize_with_viewer_lists_tickets(live_server):
    await seed_ticket(live_server.database)

    payload = await post_messenger(live_server, "messenger.initialize", user=viewer(CONTACT_ID))

    assert "ticket:631" in list_items(components_of(payload))
