"""Projection scenarios on the shared fixtures: ticket 38, the rated conversation, any order."""

from __future__ import annotations

import asyncio

import pytest

from app.services import build_services
from tests.handlers.notifications import store_notifications
from tests.handlers.projection_runs import fixture, project, projected_state, webhook_fixtures
from tests.handlers.fixtures import FAST, registry, wait_for  # noqa: F401  (fixture)
from webhooks.dispatcher import Dispatcher

CONTACT = "66b0f1a2c3d4e5f601234567"
WORKSPACE = "ws7k2p9q"
CONVERSATION = "215470011223344"


@pytest.fixture
async def services(make_settings):
    settings = make_settings(**FAST)
    built = await build_services(settings, settings.MONGODB_URI)
    yield built
    await built.close()


async def dispatch(services, bodies: list[bytes]) -> None:
    """Store the bodies as pending notifications and run a dispatcher until all are done."""
    await store_notifications(services.database, bodies)
    dispatcher = Dispatcher(services)
    await dispatcher.start()
    try:
        await wait_for(lambda: _none_left(services.database))
    finally:
        await dispatcher.stop(2.0)
    assert await services.database.notifications.count_documents({"status": {"$ne": "done"}}) == 0


async def _none_left(database) -> bool:
    return await database.notifications.count_documents({"status": {"$in": ["pending", "processing"]}}) == 0


async def test_state_update_alone_shows_progress(services):
    await dispatch(services, [fixture("webhook.ticket.state.updated.json")])

    tickets, total = await services.reader.tickets("default", WORKSPACE, CONTACT)

    assert total == 1
    assert tickets[0].ticket_number == "38"
    assert tickets[0].title == "Checkout button unresponsive"
    assert tickets[0].state == "in_progress"
    assert tickets[0].state_external_label == "In progress"
    assert tickets[0].state_internal_label == "With engineering"


async def test_older_created_keeps_progress(services):
    await dispatch(services, [fixture("webhook.ticket.state.updated.json")])
    await dispatch(services, [fixture("webhook.ticket.created.json")])

    tickets, _ = await services.reader.tickets("default", WORKSPACE, CONTACT, open_only=True)

    assert [ticket.ticket_number for ticket in tickets] == ["38"]
    assert tickets[0].state == "in_progress"
    activity, total = await services.reader.activity("default", WORKSPACE, CONTACT)
    assert total == 2
    assert [entry.summary for entry in activity] == [
        "Ticket #38 'Checkout button unresponsive' moved to In progress",
        "Ticket #38 'Checkout button unresponsive' created (Submitted)",
    ]


async def test_all_fixtures_resolve_and_rate(services):
    await dispatch(services, webhook_fixtures())
    reader = services.reader

    ticket = await reader.ticket("default", WORKSPACE, "631")
    assert ticket.state == "resolved"
    assert ticket.open is False
    assert ticket.ticket_type == "Bug report"
    assert ticket.contact_ids == [CONTACT]
    open_tickets, _ = await reader.tickets("default", WORKSPACE, CONTACT, open_only=True)
    assert open_tickets == []

    conversations, total = await reader.conversations("default", WORKSPACE, CONTACT)
    assert total == 3
    rated = next(c for c in conversations if c.conversation_id == CONVERSATION)
    assert rated.rating == 5
    assert rated.rating_remark == "Quick and friendly, thank you!"
    assert rated.state == "closed"
    assert rated.last_message.startswith("Closing this for now")

    contact = await reader.contact("default", WORKSPACE, CONTACT)
    assert contact.name == "Riley Example"
    assert contact.email == "riley@example.com"
    assert contact.role == "user"
    assert contact.tags == ["beta-tester"]


async def test_activity_summaries_read_well(services):
    await dispatch(services, webhook_fixtures())

    activity, total = await services.reader.activity("default", WORKSPACE, CONTACT, limit=50)
    summaries = [entry.summary for entry in activity]

    assert total == 12
    assert summaries[0] == "Ticket #38 'Checkout button unresponsive' closed (Resolved)"
    assert "Rated the conversation 5 stars: 'Quick and friendly, thank you!'" in summaries
    assert "Dana Agent closed the conversation" in summaries
    assert "Started a conversation: 'Hi, my order has not arrived yet.'" in summaries
    assert "Replied in the conversation: 'It was order #4821, placed last Tuesday.'" in summaries
    assert "Sam Operator assigned the conversation 'Escalation: bulk order delay' to teammate 5800123" in summaries
    assert "Tagged 'beta-tester'" in summaries
    assert "Signed up as a user" in summaries
    lead_activity, _ = await services.reader.activity("default", WORKSPACE, "66b0f1a2c3d4e5f60123abcd")
    assert [entry.summary for entry in lead_activity] == [
        "Started as a lead",
        "Sam Operator assigned the conversation 'Escalation: bulk order delay' to teammate 5800123",
    ]


async def test_any_order_gives_same_state(make_settings, registry):
    bodies = webhook_fixtures()
    orders = {
        "in_order": bodies,
        "reversed": bodies[::-1],
        "twice": bodies + bodies,
        "reversed_twice": bodies[::-1] + bodies,
    }
    states = {}
    for name, ordered in orders.items():
        settings = make_settings(MONGODB_DATABASE=f"projection_order_{name}_{id(orders)}")
        built = await build_services(settings, settings.MONGODB_URI)
        try:
            await project(built.database, registry, ordered)
            states[name] = await projected_state(built.database)
        finally:
            await built.client.drop_database(settings.MONGODB_DATABASE)
            await built.close()

    assert states["in_order"]["tickets"], "the fixtures produced no tickets"
    for name in ("reversed", "twice", "reversed_twice"):
        assert states[name] == states["in_order"], name


async def test_concurrent_projection_converges(services, registry):
    bodies = webhook_fixtures()
    await project(services.database, registry, bodies)
    expected = await projected_state(services.database)
    for name in ("tickets", "conversations", "contacts", "activity"):
        await services.database[name].delete_many({})

    # Every fixture three times, all at once: concurrent upserts of the same documents.
    await asyncio.gather(*(project(services.database, registry, [body]) for body in bodies * 3))

    assert await projected_state(services.database) == expected
