"""Projections on sparse, null and reordered payloads."""

from __future__ import annotations

import itertools

import pytest
import structlog

from tests.handlers.fixtures import database, registry  # noqa: F401  (fixtures)
from tests.handlers.notifications import make_body
from tests.handlers.projection_runs import project, projected_state

TOPICS = [
    "ticket.created", "ticket.state.updated", "ticket.closed", "ticket.admin.assigned", "ticket.rating.provided",
    "conversation.user.created", "conversation.user.replied", "conversation.admin.replied",
    "conversation.admin.assigned", "conversation.admin.closed", "conversation.admin.snoozed",
    "conversation.admin.opened", "conversation.rating.added", "conversation.deleted",
    "contact.user.created", "contact.lead.created", "contact.user.updated", "contact.user.tag.created",
    "contact.lead.tag.deleted", "contact.deleted",
]

SPARSE_ITEMS = [
    {},
    {"type": None, "id": None},
    {"type": "ticket", "id": "t1", "ticket_state": None, "contacts": None, "ticket_attributes": None},
    {"ticket": {"id": "t1", "ticket_state": "resolved", "contacts": {"contacts": [None, {"id": None}]}}},
    {"type": "conversation", "id": "c1", "conversation_parts": {"conversation_parts": [None, {"author": None}]},
     "contacts": {"contacts": [{"id": "k1"}]}, "conversation_rating": {"rating": None}, "source": None},
    {"type": "conversation", "id": "c2", "updated_at": "not a time", "created_at": True, "title": 7},
    {"type": "contact", "id": "k1", "role": None, "tags": None, "updated_at": None},
    {"type": "contact_tag", "tag": None, "contact": None},
    {"type": "contact_tag", "tag": {"id": "9", "name": None}, "contact": {"id": "k1"}},
    {"type": "contact", "id": "k2", "deleted": True},
]


async def test_sparse_items_never_crash(database, registry):
    bodies = [make_body(topic, item) for topic, item in itertools.product(TOPICS, SPARSE_ITEMS)]

    await project(database, registry, bodies)

    tickets = await database.tickets.find().to_list()
    assert {ticket["ticket_id"] for ticket in tickets} == {"t1"}
    assert await database.conversations.count_documents({}) == 2


@pytest.mark.parametrize(("topic", "item", "kind"), [
    ("ticket.created", {"type": "ticket", "id": None}, "ticket"),
    ("conversation.user.created", {"type": "conversation"}, "conversation"),
    ("contact.user.created", {"type": "contact", "id": ""}, "contact"),
])
async def test_item_without_id_is_logged(database, registry, topic, item, kind):
    body = make_body(topic, item, notification_id="notif_no_id")

    with structlog.testing.capture_logs() as logs:
        await project(database, registry, [body])

    [skipped] = [entry for entry in logs if entry["event"] == "projection.skipped"]
    assert skipped["notification_id"] == "notif_no_id"
    assert skipped["topic"] == topic
    assert skipped["app"] == "default"
    assert skipped["reason"] == f"the notification carries no {kind} with an id"


async def test_missing_envelope_time_skips_activity(database, registry):
    body = make_body("conversation.user.replied", {"type": "conversation", "id": "c9", "contacts": {"contacts": [{"id": "k9"}]}})
    envelope_without_time = body.replace(b'"created_at": 1781258400', b'"created_at": null')

    await project(database, registry, [envelope_without_time])

    assert await database.conversations.count_documents({"conversation_id": "c9"}) == 1
    assert await database.activity.count_documents({}) == 0


def tag_body(topic: str, at: int, notification: str) -> bytes:
    item = {"type": "contact_tag", "created_at": at, "tag": {"id": "880123", "name": "beta-tester", "type": "tag"},
            "contact": {"type": "contact", "id": "k1", "role": "user", "updated_at": 100}}
    return make_body(topic, item, notification_id=notification, created_at=at)


@pytest.mark.parametrize("reverse", [False, True])
async def test_tag_removal_wins_when_newer(database, registry, reverse):
    bodies = [tag_body("contact.user.tag.created", 1000, "notif_add"), tag_body("contact.user.tag.deleted", 2000, "notif_del")]

    await project(database, registry, bodies[::-1] if reverse else bodies)

    contact = await database.contacts.find_one({"contact_id": "k1"})
    assert contact["tags"] == []
    assert contact["role"] == "user"


async def test_rating_survives_newer_payload(database, registry):
    rated = {"type": "conversation", "id": "c1", "updated_at": 200, "state": "closed",
             "conversation_rating": {"rating": 4, "remark": None, "updated_at": 200}}
    newer = {"type": "conversation", "id": "c1", "updated_at": 300, "state": "open", "conversation_rating": None,
             "conversation_parts": {"conversation_parts": [{"id": "p1", "part_type": "comment", "body": "<p>Hi &amp; bye</p>", "created_at": 300}]}}
    in_order = [make_body("conversation.rating.added", rated), make_body("conversation.user.replied", newer)]

    await project(database, registry, in_order)
    state = await projected_state(database)
    await database.conversations.delete_many({})
    await database.activity.delete_many({})
    await project(database, registry, in_order[::-1])

    conversation = await database.conversations.find_one({"conversation_id": "c1"})
    assert conversation["rating"] == 4
    assert conversation["state"] == "open"
    assert conversation["last_message"] == "Hi & bye"
    assert await projected_state(database) == state


async def test_other_app_stays_separate(database, registry):
    from tests.handlers.projection_runs import context_for

    body = make_body("ticket.created", {"type": "ticket", "id": "t1", "ticket_id": "1", "updated_at": 5,
                                        "contacts": {"contacts": [{"id": "k1"}]}})
    for app in ("first", "second"):
        context = context_for(database, body, app=app)
        for _, handler in registry.handlers_for(context.topic):
            await handler(context)

    assert sorted(d["app"] for d in await database.tickets.find().to_list()) == ["first", "second"]
    assert await database.activity.count_documents({"app": "first", "contact_id": "k1"}) == 1
